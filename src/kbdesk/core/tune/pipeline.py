"""One tuning job from collection to installed adapter, run as its own process and resumable.

`python -m kbdesk.core.tune.pipeline JOB_DIR` (in the installed program: the training package's
`kbdesk-train JOB_DIR`) runs the stages that are not done yet, each leaving its result in the
job folder (names: jobdir.py) before the next starts:
1. examples   the local model writes a question, answer and quote for passages of the
              collection (one line per passage: a resumed run skips them);
2. split      held-out passages are chosen before any training, with the user's own
              evaluation questions and on-topic unanswerable ones written for held-out passages
              (one line per passage tried, so a stop here keeps them); saved once complete;
3. data       RAFT-style training conversations;
4. train      LoRA training with checkpoints (trainer.py), exported as a GGUF adapter;
5. install    the adapter and its meta.json move into the adapters folder.
A stop request (SIGTERM) is obeyed between any two units of work: what was done is kept, and a
stop before training never loads the model for training.
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback

from kbdesk.core.adapters import created_now, install_adapter
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
from kbdesk.core.tune.jobdir import (
    ADAPTER_OUT,
    EXIT_FAILED,
    EXIT_STOPPED,
    PAIRS_EVAL,
    PAIRS_TRAIN,
    SPLIT_FILE,
    TRAIN_FILE,
    UNANSWERABLE_FILE,
    WRITTEN_FILE,
    Event,
    JobFolder,
    StopRequest,
)
from kbdesk.core.tune.pairs import Pair
from kbdesk.core.tune.settings import auto_steps
from kbdesk.core.types import DocStatus

# A replacement quote must restate the answer, not share its topic: the citation checker's
# threshold (0.45) let "On Debian this is reserved for the administrator" stand for "The FHS
# is a set of guidelines"; 0.6 is the answerer's quotation threshold.
REPAIR_THRESHOLD = 0.6


def read_pairs_file(job: JobFolder, name: str) -> list[Pair]:
    return [Pair(**row) for row in job.rows(name)]


def _stopping() -> bool:
    return StopRequest.requested


def spread(items: list, count: int, seed: int) -> list:
    """`count` items spread evenly over the list (documents and pages alike), in random order."""
    if count >= len(items):
        chosen = list(items)
    else:
        chosen = [items[i * len(items) // count] for i in range(count)]
    random.Random(seed).shuffle(chosen)
    return chosen


class Pipeline:
    def __init__(self, job: JobFolder):
        self.job = job
        self.spec = job.spec()
        self._kb = None
        self._host = None
        self._repair = None

    # -- shared resources ------------------------------------------------------------------
    @property
    def kb(self):
        if self._kb is None:
            from kbdesk.core.kb import KnowledgeBase

            self._kb = KnowledgeBase.open(
                self.spec.data_dir, self.spec.collection, create=False, key=self.job.key
            )
        return self._kb

    @property
    def host(self):
        if self._host is None:
            from kbdesk.core.generate.host import LlamaHost

            self._host = LlamaHost(self.spec.base_model)
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

    # -- stages ----------------------------------------------------------------------------
    def examples(self) -> list[Example]:
        rows = self.job.rows(WRITTEN_FILE)
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
        chosen = spread(candidate_passages(ordered), self.spec.passages, self.spec.seed)
        todo = [c for c in chosen if c.id not in done]
        total = len(chosen)
        self.job.emit(Event.EXAMPLES, done=total - len(todo), total=total, kept=report.kept)
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
            self.job.append_row(WRITTEN_FILE, row)
            done.add(chunk.id)
            self.job.emit(Event.EXAMPLES, done=len(done), total=total, kept=report.kept)
        rows = self.job.rows(WRITTEN_FILE)
        self.report = report
        return [Example.from_json(r["example"]) for r in rows if r.get("example")]

    def split(self, examples: list[Example]) -> dict | None:
        """The split, saved once complete; None when a stop came before it was."""
        if (self.job / SPLIT_FILE).is_file():
            return json.loads(self.job.read_text(SPLIT_FILE))
        split = split_by_passage(examples, share=self.spec.held_out_share, seed=self.spec.seed)
        unanswerable = self._unanswerable(split, {squash(e.question) for e in examples})
        if _stopping():
            return None
        data = split.to_json()
        data["unanswerable"] = unanswerable
        data["user_questions"] = [p.__dict__ for p in read_pairs_file(self.job, PAIRS_EVAL)]
        data["filter"] = self.report.to_json()
        self.job.write_text(SPLIT_FILE, json.dumps(data, ensure_ascii=False, indent=1))
        self.job.emit(Event.SPLIT, train=len(split.train), held_out=len(split.held_out))
        return data

    def _unanswerable(self, split: Split, seen: set[str]) -> list[dict]:
        """On-topic questions the collection does not answer, written about held-out passages
        (one per two of them): the evaluation checks that each way of answering declines them.
        One line per passage tried: a stopped or killed run goes on where it was."""
        passages = sorted({e.chunk_id for e in split.held_out})[::2]
        tried = {int(r["chunk_id"]): r.get("question") for r in self.job.rows(UNANSWERABLE_FILE)}
        todo = [p for p in passages if p not in tried]
        if todo:
            self._write_unanswerable(todo, seen)
        tried = {int(r["chunk_id"]): r.get("question") for r in self.job.rows(UNANSWERABLE_FILE)}
        written = [q for p in passages if (q := tried.get(p))]
        self.job.emit(Event.UNANSWERABLE, written=len(written), of=len(passages))
        return written

    def _write_unanswerable(self, passages: list[int], seen: set[str]) -> None:
        from kbdesk.core.embed import create_embedder
        from kbdesk.core.generate.support import closest_sentence

        checker = create_embedder("use-multilingual")  # the citation checker's encoder

        def closest_match(question: str) -> float:
            hits = self.kb.search(question, k=3)
            found = closest_sentence([h.text for h in hits], question, checker)
            return found[3] if found else 0.0

        chunks = self.kb.catalog.chunks(passages)
        self.job.emit(Event.STAGE, stage="unanswerable questions")
        for chunk_id in passages:
            if _stopping():
                break
            chunk = chunks.get(chunk_id)
            found = write_unanswerable(self.host, chunk, closest_match, seen) if chunk else None
            self.job.append_row(UNANSWERABLE_FILE, {"chunk_id": chunk_id, "question": found})

    def data(self, split: Split) -> int:
        if (self.job / TRAIN_FILE).is_file():
            return len(self.job.rows(TRAIN_FILE))
        kb = self.kb

        def passage_of(example: Example):
            chunk = kb.catalog.chunks([example.chunk_id]).get(example.chunk_id)
            return source_hit(example, chunk.text if chunk else example.quote)

        def distractors_of(example: Example):
            return kb.search(example.question, k=6)

        conversations = raft_conversations(
            split.train, passage_of, distractors_of, seed=self.spec.seed
        )
        for pair in read_pairs_file(self.job, PAIRS_TRAIN):
            conversations.extend(self._pair_conversations(pair))
        if not conversations:
            raise ValueError("no training examples: the collection gave no usable passages")
        self.job.write_rows(TRAIN_FILE, conversations)
        self.job.emit(Event.DATA, conversations=len(conversations))
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
        if self.spec.auto_steps:
            steps = auto_steps(conversations, self.spec.settings.batch)
            self.spec = self.job.with_steps(self.spec, steps)

    def _stopped(self, stage: str) -> int:
        self.job.emit(Event.STOPPED, stage=stage)
        return EXIT_STOPPED

    def run(self) -> int:
        self.job.emit(Event.STAGE, stage="examples")
        examples = self.examples()
        if _stopping():
            return self._stopped("examples")
        saved = self.split(examples)
        if saved is None or _stopping():
            return self._stopped("split")
        split = Split.from_json(saved)
        conversations = self.data(split)
        self.steps(conversations)
        if self._host is not None:  # training needs the memory the answer model holds
            self._host.close()
            self._host = None
        if _stopping():  # before minutes of loading the model for training
            return self._stopped("data")
        code = trainer.train(self.job)
        if code != 0:
            return code
        install_adapter(
            self.spec.adapters_dir,
            self.spec.name,
            self.job / ADAPTER_OUT,
            self.job.adapter_meta(self.spec, created_now()),
            replace_existing=self.spec.replace,
            key=self.job.key,
        )
        self.job.emit(Event.INSTALLED, adapter=self.spec.name)
        return 0


def read_key(spec) -> bytes:
    """The encrypted collection's key, one hex line on stdin (never an argument or a file).

    :raises WrongKey: it does not open the collection.
    """
    from kbdesk.core.encryption import collection_key
    from kbdesk.core.paths import AppPaths

    key = bytes.fromhex(sys.stdin.readline().strip())
    folder = AppPaths.resolve(spec.data_dir).collection_dir(spec.collection)
    return collection_key(folder, spec.collection, key=key) or key


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kbdesk.core.tune.pipeline JOB_DIR", file=sys.stderr)
        return 2
    job = JobFolder(args[0])
    StopRequest.listen()
    other = job.running_pid()
    if other is not None and other != os.getpid():  # exactly one pipeline per job folder
        print(f"the training {job.name} is already running (process {other})", file=sys.stderr)
        return EXIT_FAILED
    job.record_process(os.getpid())
    pipeline = None
    try:
        if job.spec().encrypted:  # the collection's key, from the process that started this one
            job.key = read_key(job.spec())
        pipeline = Pipeline(job)
        return pipeline.run()
    except MemoryError:
        job.emit(Event.ERROR, message="The computer ran out of memory.")
        return EXIT_FAILED
    except Exception as exc:  # shown by the parent; the traceback goes to the job's log
        traceback.print_exc()
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        job.emit(Event.ERROR, message=message)
        return EXIT_FAILED
    finally:
        if pipeline is not None:
            pipeline.close()


if __name__ == "__main__":
    raise SystemExit(main())
