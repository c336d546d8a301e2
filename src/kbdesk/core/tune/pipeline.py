"""One tuning job from collection to installed adapter, run as its own process and resumable.

`python -m kbdesk.core.tune.pipeline JOB_DIR` runs the stages that are not done yet, each
leaving its result in the job folder before the next starts:
1. examples   the local model writes a question, answer and quote for passages of the
              collection (`written.jsonl`, one line per passage: a resumed run skips them);
2. split      held-out passages are chosen before any training (`split.json`, with the
              user's own evaluation questions and written unanswerable ones);
3. data       RAFT-style training conversations (`train.jsonl`);
4. train      LoRA training with checkpoints (trainer.py), exported to `adapter.gguf`;
5. install    the adapter and its meta.json move into the adapters folder.
Progress goes to `progress.jsonl` (trainer.emit); SIGTERM stops at the next safe point.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import traceback
from pathlib import Path

from kbdesk.core.store.fileio import atomic_write_text
from kbdesk.core.tune import trainer
from kbdesk.core.tune.dataset import (
    Split,
    closed_book_conversation,
    grounded_conversation,
    raft_conversations,
    source_hit,
    split_by_passage,
)
from kbdesk.core.tune.examples import (
    Example,
    FilterReport,
    candidate_passages,
    squash,
    supporting_sentence,
    write_examples,
    write_unanswerable,
)
from kbdesk.core.tune.pairs import Pair
from kbdesk.core.types import DocStatus

WRITTEN_FILE = "written.jsonl"
SPLIT_FILE = "split.json"
PAIRS_TRAIN = "pairs_train.jsonl"  # the user's own training pairs, copied in at creation
PAIRS_EVAL = "pairs_eval.jsonl"  # the user's own evaluation questions
EPOCHS = 2  # when the number of steps is left to kbdesk
# A replacement quote must restate the answer, not share its topic: the citation checker's
# threshold (0.45) let "On Debian this is reserved for the administrator" stand for "The FHS
# is a set of guidelines"; 0.6 is the answerer's quotation threshold.
REPAIR_THRESHOLD = 0.6


def auto_steps(conversations: int, batch: int) -> int:
    """Training steps when the user leaves them to kbdesk: EPOCHS passes, 10-2000 steps."""
    return max(10, min(2000, math.ceil(EPOCHS * conversations / batch)))


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a file appended one JSON line at a time, up to a line a kill cut short."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break  # a line cut by a kill: everything after it is redone
    return rows


def read_pairs_file(path: Path) -> list[Pair]:
    return [Pair(**row) for row in read_jsonl(path)]


def _stopping() -> bool:
    return trainer._Stop.requested


def spread(items: list, count: int, seed: int) -> list:
    """`count` items spread evenly over the list (documents and pages alike), in random order."""
    if count >= len(items):
        chosen = list(items)
    else:
        chosen = [items[i * len(items) // count] for i in range(count)]
    random.Random(seed).shuffle(chosen)
    return chosen


class Pipeline:
    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.job = json.loads((job_dir / trainer.JOB_FILE).read_text(encoding="utf-8"))
        self._kb = None
        self._host = None
        self._repair = None

    # -- shared resources ------------------------------------------------------------------
    @property
    def kb(self):
        if self._kb is None:
            from kbdesk.core.kb import KnowledgeBase

            self._kb = KnowledgeBase.open(
                self.job["data_dir"], self.job["collection"], create=False
            )
        return self._kb

    @property
    def host(self):
        if self._host is None:
            from kbdesk.core.generate.host import LlamaHost

            self._host = LlamaHost(self.job["base_model"])
            self._host.load()
        return self._host

    @property
    def repair(self):
        """Replaces a paraphrased quote with the passage's sentence that supports the answer,
        scored like a citation (the citation checker's encoder and score)."""
        if self._repair is None:
            from kbdesk.core.embed import create_embedder

            self._repair = supporting_sentence(
                create_embedder("use-multilingual"), REPAIR_THRESHOLD
            )
        return self._repair

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
        if self._kb is not None:
            self._kb.close()

    def emit(self, **event) -> None:
        trainer.emit(self.job_dir, **event)

    # -- stages ----------------------------------------------------------------------------
    def examples(self) -> list[Example]:
        path = self.job_dir / WRITTEN_FILE
        rows = read_jsonl(path)
        done = {int(r["chunk_id"]) for r in rows}
        report = FilterReport()
        seen: set[str] = set()
        for r in rows:
            report.written += 1
            if r.get("example"):
                report.kept += 1
                report.repaired += bool(r.get("repaired"))
                seen.add(squash(r["example"]["question"]))
            else:
                report.dropped[r["reason"]] += 1
        catalog = self.kb.catalog
        ready = [d.id for d in self.kb.documents() if d.status == DocStatus.READY]
        chunks = catalog.chunks(catalog.chunk_ids_of_documents(ready)) if ready else {}
        ordered = sorted(chunks.values(), key=lambda c: (c.doc_id, c.ordinal))
        chosen = spread(candidate_passages(ordered), self.job["passages"], self.job["seed"])
        todo = [c for c in chosen if c.id not in done]
        total = len(chosen)
        self.emit(event="examples", done=total - len(todo), total=total, kept=report.kept)
        if todo:
            with open(path, "a", encoding="utf-8") as sink:
                # one passage at a time, so a kill loses at most the passage being written
                for chunk in todo:
                    if _stopping():
                        break
                    repaired_before = report.repaired
                    written = list(
                        write_examples(self.host, [chunk], report, seen=seen, repair=self.repair)
                    )
                    row: dict = {"chunk_id": chunk.id}
                    if written:
                        row["example"] = written[0].to_json()
                        row["repaired"] = report.repaired > repaired_before
                    else:
                        row["reason"] = report.last_reason
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sink.flush()
                    done.add(chunk.id)
                    self.emit(event="examples", done=len(done), total=total, kept=report.kept)
        rows = read_jsonl(path)
        self.report = report
        return [Example.from_json(r["example"]) for r in rows if r.get("example")]

    def split(self, examples: list[Example]) -> dict:
        path = self.job_dir / SPLIT_FILE
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        split = split_by_passage(examples, share=self.job["held_out_share"], seed=self.job["seed"])
        data = split.to_json()
        data["unanswerable"] = self._unanswerable(split, {squash(e.question) for e in examples})
        data["user_questions"] = [p.__dict__ for p in read_pairs_file(self.job_dir / PAIRS_EVAL)]
        data["filter"] = self.report.to_json()
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
        self.emit(event="split", train=len(split.train), held_out=len(split.held_out))
        return data

    def _unanswerable(self, split: Split, seen: set[str]) -> list[dict]:
        """On-topic questions the collection does not answer, written about held-out passages
        (one per two of them): the evaluation checks that each way of answering declines them."""
        from kbdesk.core.embed import create_embedder
        from kbdesk.core.generate.support import closest_sentence

        passages = sorted({e.chunk_id for e in split.held_out})[::2]
        if not passages:
            return []
        checker = create_embedder("use-multilingual")  # the citation checker's encoder

        def closest_match(question: str) -> float:
            hits = self.kb.search(question, k=3)
            found = closest_sentence([h.text for h in hits], question, checker)
            return found[3] if found else 0.0

        chunks = self.kb.catalog.chunks(passages)
        written = []
        for chunk_id in passages:
            if _stopping():
                break
            chunk = chunks.get(chunk_id)
            if chunk is not None:
                found = write_unanswerable(self.host, chunk, closest_match, seen)
                if found is not None:
                    written.append(found)
        self.emit(event="unanswerable", written=len(written), of=len(passages))
        return written

    def data(self, split: Split) -> int:
        path = self.job_dir / trainer.TRAIN_FILE
        if path.is_file():
            return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)
        kb = self.kb

        def passage_of(example: Example):
            chunk = kb.catalog.chunks([example.chunk_id]).get(example.chunk_id)
            return source_hit(example, chunk.text if chunk else example.quote)

        def distractors_of(example: Example):
            return kb.search(example.question, k=6)

        conversations = raft_conversations(
            split.train, passage_of, distractors_of, seed=self.job["seed"]
        )
        for pair in read_pairs_file(self.job_dir / PAIRS_TRAIN):
            conversations.extend(self._pair_conversations(pair))
        if not conversations:
            raise ValueError("no training examples: the collection gave no usable passages")
        lines = [json.dumps(c, ensure_ascii=False) for c in conversations]
        atomic_write_text(path, "\n".join(lines) + "\n")
        self.emit(event="data", conversations=len(conversations))
        return len(conversations)

    def _pair_conversations(self, pair: Pair) -> list[list[dict]]:
        """A user's pair: closed-book, and with the passages our search finds for it (cited
        where one of them supports the answer, declined when the user says it is unanswerable)."""
        from kbdesk.core.generate.citations import SUPPORT_THRESHOLD
        from kbdesk.core.generate.prompt import DECLINE_SENTENCE
        from kbdesk.core.generate.support import SupportScorer
        from kbdesk.core.tune.dataset import cite_sentences

        hits = self.kb.search(pair.question, k=4)
        if not pair.answerable:
            lang = pair.language if pair.language in DECLINE_SENTENCE else "en"
            return [grounded_conversation(pair.question, hits, DECLINE_SENTENCE[lang])]
        out = [closed_book_conversation(pair.question, pair.answer)]
        if hits:
            scores = SupportScorer([h.text for h in hits], self.kb.embedder).score([pair.answer])[0]
            best = int(scores.argmax())
            if float(scores[best]) >= SUPPORT_THRESHOLD:
                out.append(
                    grounded_conversation(
                        pair.question, hits, cite_sentences(pair.answer, best + 1)
                    )
                )
        return out

    def steps(self, conversations: int) -> None:
        """Fills in the number of steps when the user left it to kbdesk."""
        if not self.job.get("auto_steps"):
            return
        self.job["settings"]["steps"] = auto_steps(conversations, self.job["settings"]["batch"])
        self.job["auto_steps"] = False
        atomic_write_text(self.job_dir / trainer.JOB_FILE, json.dumps(self.job, indent=1))

    def run(self) -> int:
        self.emit(event="started_stage", stage="examples")
        examples = self.examples()
        if _stopping():
            self.emit(event="cancelled", stage="examples")
            return trainer.EXIT_CANCELLED
        split = Split.from_json(self.split(examples))
        conversations = self.data(split)
        self.steps(conversations)
        if self._host is not None:  # training needs the memory the answer model holds
            self._host.close()
            self._host = None
        code = trainer.train(self.job_dir)
        if code != 0:
            return code
        from kbdesk.core.tune.registry import install

        install(self.job_dir)
        self.emit(event="installed", adapter=self.job["name"])
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kbdesk.core.tune.pipeline JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(args[0])
    signal.signal(signal.SIGTERM, trainer.on_term)
    (job_dir / trainer.PID_FILE).write_text(str(os.getpid()))
    pipeline = Pipeline(job_dir)
    try:
        return pipeline.run()
    except MemoryError:
        trainer.emit(job_dir, event="error", message="The computer ran out of memory.")
        return trainer.EXIT_FAILED
    except Exception as exc:  # shown by the parent; the traceback goes to the job's log
        traceback.print_exc()
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        trainer.emit(job_dir, event="error", message=message)
        return trainer.EXIT_FAILED
    finally:
        pipeline.close()


if __name__ == "__main__":
    raise SystemExit(main())
