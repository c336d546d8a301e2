"""Whole-document tasks: recognise "summarise <document>" and run map-reduce over its chunks."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kbdesk.core.generate.citation_quotes import claims_by_source, with_quotes
from kbdesk.core.generate.citations import WORDS_ONLY_THRESHOLD
from kbdesk.core.jobs import CancelToken, ProgressFn, no_progress
from kbdesk.core.messages import language_of, say
from kbdesk.core.search.text import has_cjk
from kbdesk.core.types import Answer, AnswerOutcome, Citation, DocStatus, Document, Progress, Stage

if TYPE_CHECKING:
    from kbdesk.core.store.catalog import ChunkRow

_EN = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:summari[sz]e|give (?:me )?(?:a |an )?(?:summary|overview) of|"
    r"(?:a |an )?(?:summary|overview) of)\s+(?P<doc>.+?)\s*[.?!]*\s*$",
    re.IGNORECASE,
)
_ZH = re.compile(
    r"^\s*(?:请)?(?:帮我)?(?:总结|概括|归纳|摘要)(?:一下)?(?P<doc>.+?)(?:的(?:内容|要点|主要内容))?\s*[。？?！!]*\s*$"
)
_ZH_TAIL = re.compile(r"^\s*(?:请)?(?P<doc>.+?)的?(?:摘要|总结|要点)\s*[。？?]*\s*$")
_PAGE_REF = re.compile(r"[(（]\s*(?:p\.?|page|第)\s*(\d+)\s*页?\s*[)）]", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
_FILLER = {
    "the",
    "a",
    "an",
    "this",
    "that",
    "document",
    "file",
    "pdf",
    "whole",
    "entire",
    "文档",
    "文件",
    "这份",
    "整个",
}

MAP_TOKENS = 300  # each part's summary
REDUCE_TOKENS = 600  # the final summary


def find_document_task(question: str, documents: Sequence[Document]) -> Document | None:
    """The ready document a "summarise X" question names, or None for an ordinary question."""
    match = _EN.match(question) or _ZH.match(question) or _ZH_TAIL.match(question)
    if not match:
        return None
    wanted = match.group("doc").strip().strip("\"'“”《》「」")
    ready = [d for d in documents if d.status == DocStatus.READY]
    for doc in ready:  # exact file name, with or without its extension
        if wanted.lower() in (doc.name.lower(), Path(doc.name).stem.lower()):
            return doc
    words = {w.lower() for w in _WORD.findall(wanted)} - _FILLER
    if not words and has_cjk(wanted):
        words = {wanted}
    best, best_score = None, 0
    for doc in ready:
        name = Path(doc.name).stem.lower().replace("_", " ")
        score = sum(1 for w in words if w in name)
        if score > best_score:
            best, best_score = doc, score
    return best


class Summariser:
    def __init__(self, kb, host):
        self.kb = kb
        self.host = host

    def summarise(
        self,
        doc: Document,
        question: str,
        *,
        temperature: float = 0.1,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        zh = has_cjk(question)
        rows = self.kb.catalog.chunks(self.kb.catalog.chunk_ids_of_documents([doc.id]))
        chunks = sorted(rows.values(), key=lambda r: r.ordinal)
        parts = self._pack([self._label(r.page) + r.text for r in chunks], MAP_TOKENS, zh)
        partials: list[str] = []
        for i, part in enumerate(parts):
            progress(Progress(Stage.SUMMARISING, i, len(parts) + 1, item=doc.path))
            if len(parts) == 1:
                break
            partials.append(
                self._run(self._map_prompt(doc.name, part, zh), MAP_TOKENS, temperature, cancel)
            )
        progress(Progress(Stage.SUMMARISING, len(parts), len(parts) + 1, item=doc.path))
        material = parts[0] if len(parts) == 1 else "\n\n".join(partials)
        while len(parts) > 1 and self._too_long(
            material, REDUCE_TOKENS
        ):  # reduce in rounds if needed
            groups = self._pack(partials, MAP_TOKENS, zh)
            partials = [
                self._run(self._map_prompt(doc.name, g, zh), MAP_TOKENS, temperature, cancel)
                for g in groups
            ]
            material = "\n\n".join(partials)
        final = self._run(
            self._reduce_prompt(doc.name, material, zh),
            REDUCE_TOKENS,
            temperature,
            cancel,
            on_token,
        )
        progress(Progress(Stage.SUMMARISING, len(parts) + 1, len(parts) + 1, item=doc.path))
        text, citations = self._cite_pages(final, doc, chunks)
        return Answer(
            question=question,
            answer=text.strip(),
            # page citations come from the summary's own page labels, which the map step keeps
            outcome=AnswerOutcome.ANSWERED if text.strip() else AnswerOutcome.UNVERIFIED,
            citations=citations,
            model=self.host.model_name,
            notice=say("summary_of", language_of(question), chunks=len(chunks), document=doc.name),
        )

    # -- pieces --------------------------------------------------------------------------------

    @staticmethod
    def _label(page: int | None) -> str:
        return f"(p. {page}) " if page else ""

    def _budget(self, answer_tokens: int) -> int:
        return self.host.n_ctx - answer_tokens - 300  # instructions and template markup

    def _too_long(self, text: str, answer_tokens: int) -> bool:
        return self.host.count_tokens(text) > self._budget(answer_tokens)

    def _pack(self, texts: list[str], answer_tokens: int, zh: bool) -> list[str]:
        budget = self._budget(answer_tokens)
        parts: list[str] = []
        current: list[str] = []
        used = 0
        for text in texts:
            n = self.host.count_tokens(text)
            if current and used + n > budget:
                parts.append("\n".join(current))
                current, used = [], 0
            current.append(text[: budget * 3] if n > budget else text)
            used += min(n, budget)
        if current:
            parts.append("\n".join(current))
        return parts or [""]

    @staticmethod
    def _messages(name: str, text: str, ask: str) -> list[dict]:
        return [
            {
                "role": "system",
                "content": "You summarise documents faithfully, without adding facts.",
            },
            {"role": "user", "content": f"Document: {name}\n\n{text}\n\n{ask}"},
        ]

    def _map_prompt(self, name: str, text: str, zh: bool) -> list[dict]:
        ask = (
            "用中文列出这部分内容的要点，每条要点后注明页码，如（第3页）。只依据下面的文字。"
            if zh
            else "List the key points of this part as short bullet points, each ending with its page like (p. 3). "
            "Use only the text below."
        )
        return self._messages(name, text, ask)

    def _reduce_prompt(self, name: str, text: str, zh: bool) -> list[dict]:
        ask = (
            "请用中文写出这份文档的摘要：先用一两句话概括，再列出最重要的要点，每条注明页码，如（第3页）。只依据下面的内容。"
            if zh
            else "Write a summary of this document: one or two sentences on what it is, then the most important "
            "points as bullets, each ending with its page like (p. 3). Use only the material below."
        )
        return self._messages(name, text, ask)

    def _run(self, messages, max_tokens, temperature, cancel, on_token=None) -> str:
        pieces = []
        for piece in self.host.stream(
            self.host.format_chat(messages),
            max_tokens=max_tokens,
            temperature=temperature,
            cancel=cancel,
        ):
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)
        return "".join(pieces)

    @staticmethod
    def _cite_pages(
        text: str, doc: Document, chunks: Sequence[ChunkRow]
    ) -> tuple[str, tuple[Citation, ...]]:
        """Turn "(p. 3)" references into [n] citations of that page's first passage."""
        first_on_page: dict[int | None, ChunkRow] = {}
        for row in chunks:
            first_on_page.setdefault(row.page, row)
        numbers: dict[int, int] = {}

        def replace(match: re.Match) -> str:
            page = int(match.group(1))
            if page not in first_on_page:
                return ""  # a page the document does not have is dropped, not cited
            n = numbers.setdefault(page, len(numbers) + 1)
            return f"[{n}]"

        cited = _PAGE_REF.sub(replace, text)
        citations = tuple(
            Citation(
                n=n,
                chunk_id=first_on_page[p].id,
                doc_id=doc.id,
                document=doc.name,
                path=doc.path,
                page=p,
                text=first_on_page[p].text,
                boxes=first_on_page[p].boxes,
            )
            for p, n in sorted(numbers.items(), key=lambda kv: kv[1])
        )
        # words only: a summary is checked by no embedder, and its quotes need none either
        return cited, with_quotes(citations, claims_by_source(cited), None, WORDS_ONLY_THRESHOLD)
