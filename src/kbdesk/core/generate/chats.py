"""Saved conversations of a collection: one JSON file per chat under collections/<name>/chats/,
sealed under the collection's key in an encrypted collection (questions and answers quote it)."""

from __future__ import annotations

import builtins
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.crypt.sealed import read_file, write_file
from kbdesk.core.errors import KbdeskError, SealBroken
from kbdesk.core.types import Answer, AnswerOutcome, Citation, Hit

# Written into each chat file. A file without one is version 1; fields added later are read with
# defaults (chats saved before quotes existed load without them).
CHAT_VERSION = 1


@dataclass(frozen=True)
class ChatSummary:
    id: str
    title: str
    updated_at: float
    turns: int


SEALED_PURPOSE = "chat"


class ChatStore:
    def __init__(self, collection_dir: Path, key: bytes | None = None):
        self.folder = Path(collection_dir) / "chats"
        self.key = key  # an encrypted collection's data key: chat files are sealed

    def _read(self, path: Path) -> dict:
        return json.loads(read_file(path, self.key, SEALED_PURPOSE).decode("utf-8"))

    def _write(self, path: Path, data: dict) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=1)
        write_file(path, text.encode("utf-8"), self.key, SEALED_PURPOSE)

    def new(self) -> str:
        return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]

    def _path(self, chat_id: str) -> Path:
        if not chat_id.replace("-", "").isalnum():
            raise KbdeskError(f"'{chat_id}' is not a chat id.")
        return self.folder / f"{chat_id}.json"

    def load(self, chat_id: str) -> list[dict]:
        path = self._path(chat_id)
        if not path.is_file():
            return []
        try:
            return self._read(path)["turns"]
        except (ValueError, KeyError) as exc:
            raise KbdeskError(f"The saved chat {path.name} is damaged ({exc}).") from exc

    def history(self, chat_id: str) -> list[dict]:
        """The chat as role/content messages, the form the prompt builder takes.

        Refused turns (an empty or over-long question) never reached the model; they are left
        out so they do not crowd the context of the next question.
        """
        messages: list[dict] = []
        for turn in self.load(chat_id):
            if _outcome(turn["answer"]) is AnswerOutcome.REFUSED:
                continue
            messages += [
                {"role": "user", "content": turn["question"]},
                {"role": "assistant", "content": turn["answer"]["answer"]},
            ]
        return messages

    def append(self, chat_id: str, answer: Answer) -> None:
        turns = self.load(chat_id)
        turns.append(
            {
                "question": answer.question,
                "answer": answer.to_json(),
                # what a viewer needs to reopen a citation later: its passage, boxes and quote
                "sources": [
                    {
                        "n": c.n,
                        "chunk_id": c.chunk_id,
                        "doc_id": c.doc_id,
                        "boxes": c.boxes,
                        "quote_spans": c.quote_spans,
                    }
                    for c in answer.citations
                ],
                "nearest": [h.to_json() | {"boxes": h.boxes} for h in answer.nearest],
                "notice": answer.notice,
                "at": time.time(),
                "model": answer.model,
                "adapter": answer.adapter,
            }
        )
        title = turns[0]["question"][:80]
        self._write(self._path(chat_id), {"version": CHAT_VERSION, "title": title, "turns": turns})

    def list(self) -> list[ChatSummary]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = self._read(path)
                out.append(
                    ChatSummary(path.stem, data["title"], path.stat().st_mtime, len(data["turns"]))
                )
            except (ValueError, KeyError, OSError, SealBroken):
                continue  # a damaged chat never hides the others
        return sorted(out, key=lambda c: -c.updated_at)

    # `builtins.list`: inside the class, `list` is the method above.
    def answers(self, chat_id: str) -> builtins.list[Answer]:
        """The chat's turns as Answer records again, citations with their boxes."""
        out = []
        for turn in self.load(chat_id):
            data = turn["answer"]
            extra = {s["n"]: s for s in turn.get("sources", [])}
            citations = tuple(
                Citation(
                    n=c["n"],
                    chunk_id=extra.get(c["n"], {}).get("chunk_id", 0),
                    doc_id=extra.get(c["n"], {}).get("doc_id", 0),
                    document=c["document"],
                    path=c["path"],
                    page=c["page"],
                    text=c["text"],
                    boxes=tuple(tuple(b) for b in extra.get(c["n"], {}).get("boxes", ())),
                    # chats saved before quotes existed have neither
                    quote=c.get("quote", ""),
                    section=c.get("section", ""),
                    quote_spans=tuple(
                        (int(a), int(b)) for a, b in extra.get(c["n"], {}).get("quote_spans", ())
                    ),
                )
                for c in data.get("citations", [])
            )
            nearest = tuple(
                Hit(
                    rank=h["rank"],
                    score=h["score"],
                    chunk_id=h["chunk_id"],
                    doc_id=0,
                    document=h["document"],
                    path=h["path"],
                    page=h["page"],
                    text=h["text"],
                    boxes=tuple(tuple(b) for b in h.get("boxes", ())),
                )
                for h in turn.get("nearest", [])
            )
            out.append(
                Answer(
                    question=turn["question"],
                    answer=data["answer"],
                    outcome=_outcome(data),
                    citations=citations,
                    nearest=nearest,
                    model=turn.get("model", ""),
                    adapter=turn.get("adapter"),
                    notice=turn.get("notice"),
                )
            )
        return out

    def delete(self, chat_id: str) -> None:
        self._path(chat_id).unlink(missing_ok=True)


def _outcome(answer: dict) -> AnswerOutcome:
    """A saved answer's outcome; chats saved before outcomes existed only say `supported`."""
    try:
        return AnswerOutcome(answer["outcome"])
    except (KeyError, ValueError):
        return AnswerOutcome.ANSWERED if answer.get("supported") else AnswerOutcome.NOT_IN_DOCUMENTS
