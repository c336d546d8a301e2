"""A training job's folder `<data>/tuning/<name>/`: its file names, typed spec, progress events, state,
the process that runs it, and the stop request it obeys. Everyone else asks this module."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from kbdesk.core.adapters import AdapterMeta, BaseModelRef
from kbdesk.core.crypt.sealed import read_file, write_file
from kbdesk.core.store.fileio import atomic_write_text
from kbdesk.core.tune.settings import TuneSettings

JOB_FILE = "job.json"  # the JobSpec
PAIRS_TRAIN = "pairs_train.jsonl"  # the user's own training pairs, copied in at creation
PAIRS_EVAL = "pairs_eval.jsonl"  # the user's own evaluation questions
WRITTEN_FILE = "written.jsonl"  # stage 1: one line per passage the model wrote about
UNANSWERABLE_FILE = "unanswerable.jsonl"  # stage 2: one line per held-out passage tried
SPLIT_FILE = "split.json"  # stage 2, complete: train / held-out / unanswerable questions
TRAIN_FILE = "train.jsonl"  # stage 3: the training conversations
CHECKPOINT = "checkpoint"  # stage 4: LoRA weights, optimizer and step
CHECKPOINT_WEIGHTS = "adapter.safetensors"  # in CHECKPOINT
CHECKPOINT_OPTIMIZER = "optimizer.pt"  # in CHECKPOINT
CHECKPOINT_PURPOSE = "training checkpoint"  # what sealed checkpoint files are sealed for
TOKENIZER_CACHE = "tokenizer"
ADAPTER_OUT = "adapter.gguf"
LOSSES_FILE = "losses.json"
PROGRESS_FILE = "progress.jsonl"  # one event per line
PID_FILE = "pid"  # the running pipeline's process id and start time
LOG_FILE = "pipeline.log"  # the pipeline's own output (tracebacks)

# The files that hold the collection's text (questions, answers, quotes, passages): sealed in a
# job of an encrypted collection. The others hold names, numbers and states only.
TEXT_FILES = (PAIRS_TRAIN, PAIRS_EVAL, WRITTEN_FILE, UNANSWERABLE_FILE, SPLIT_FILE, TRAIN_FILE)
SEALED_PURPOSE = "training job"

EXIT_FAILED = 1
EXIT_STOPPED = 3


class Event(StrEnum):
    """What a pipeline writes to progress.jsonl, in the order it happens."""

    STAGE = "started_stage"
    EXAMPLES = "examples"  # done, total, kept
    UNANSWERABLE = "unanswerable"  # written, of
    SPLIT = "split"  # train, held_out
    DATA = "data"  # conversations
    LOADING = "loading"
    RESUMED = "resumed"  # step, steps
    STARTED = "started"  # step, steps, examples
    STEP = "step"  # step, steps, loss, eta_s
    CHECKPOINT = "checkpoint"  # step
    TRAINED = "done"
    INSTALLED = "installed"  # adapter
    ERROR = "error"  # message
    STOPPED = "cancelled"  # stage (the value older job folders hold)


class JobState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"  # asked to stop; resumable
    INTERRUPTED = "interrupted"  # its process died (a kill, a crash, a power cut); resumable


# The events that end a run, and the state each leaves; any other event means it ran.
ENDED_BY = {
    Event.INSTALLED: JobState.DONE,
    Event.ERROR: JobState.FAILED,
    Event.STOPPED: JobState.STOPPED,
}
RESUMABLE = (JobState.STOPPED, JobState.INTERRUPTED, JobState.FAILED, JobState.NEW)


@dataclass(frozen=True)
class JobSpec:
    """job.json: everything the pipeline process needs, fixed when the job is created (only the
    number of steps is filled in once the data is known, when it was left to kbdesk)."""

    name: str  # the adapter's name
    collection: str
    data_dir: Path
    adapters_dir: Path
    base_model: Path  # the GGUF file
    base: BaseModelRef
    settings: TuneSettings = field(default_factory=TuneSettings)
    auto_steps: bool = True
    passages: int = 200
    held_out_share: float = 0.2
    seed: int = 0
    replace: bool = False
    created: str = ""
    # From an encrypted collection: the files that hold its text, the checkpoint and the
    # adapter are sealed under its key, which the pipeline process reads from its stdin.
    encrypted: bool = False

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "collection": self.collection,
            "data_dir": str(self.data_dir),
            "adapters_dir": str(self.adapters_dir),
            "base_model": str(self.base_model),
            "base": dataclasses.asdict(self.base),
            "settings": self.settings.to_json(),
            "auto_steps": self.auto_steps,
            "passages": self.passages,
            "held_out_share": self.held_out_share,
            "seed": self.seed,
            "replace": self.replace,
            "created": self.created,
            "encrypted": self.encrypted,
        }

    @classmethod
    def from_json(cls, data: dict) -> JobSpec:
        base = BaseModelRef.from_json(data["base"])
        if base is None:
            raise ValueError("job.json names no base model")
        return cls(
            name=data["name"],
            collection=data["collection"],
            data_dir=Path(data["data_dir"]),
            adapters_dir=Path(data["adapters_dir"]),
            base_model=Path(data["base_model"]),
            base=base,
            settings=TuneSettings.from_json(data["settings"]),
            auto_steps=bool(data.get("auto_steps")),
            passages=int(data["passages"]),
            held_out_share=float(data["held_out_share"]),
            seed=int(data.get("seed", 0)),
            replace=bool(data.get("replace")),
            created=data.get("created", ""),
            encrypted=bool(data.get("encrypted")),
        )


@dataclass(frozen=True)
class JobStatus:
    """What the latest progress lines say about a job."""

    name: str
    folder: Path
    state: JobState
    stage: str = ""  # "examples", "train" or a stage's name
    done: int = 0
    total: int = 0
    loss: float | None = None
    eta_s: float | None = None
    message: str = ""

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE

    def describe(self) -> str:
        ended = {
            JobState.DONE: f"Adapter '{self.name}' is ready.",
            JobState.FAILED: f"Training '{self.name}' failed: {self.message}",
            JobState.STOPPED: f"Training '{self.name}' was stopped; it can be resumed.",
            JobState.INTERRUPTED: f"Training '{self.name}' was interrupted; it can be resumed.",
        }
        if self.state in ended:
            return ended[self.state]
        if self.stage == Event.EXAMPLES:
            return f"Writing practice questions: {self.done} of {self.total} passages"
        if self.stage == "train" and self.total:
            eta = f", about {format_duration(self.eta_s)} left" if self.eta_s else ""
            loss = f", loss {self.loss:.3f}" if self.loss is not None else ""
            return f"Training: step {self.done} of {self.total}{loss}{eta}"
        return f"Training '{self.name}': {self.stage or 'starting'}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"


def read_jsonl(path: Path) -> list[Any]:
    """The rows of a file appended one JSON line at a time, up to a line a kill cut short."""
    if not path.is_file():
        return []
    return _rows(path.read_text(encoding="utf-8"))


def _rows(text: str) -> list[Any]:
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break  # a line cut by a kill: everything after it is redone
    return rows


def append_jsonl(path: Path, row: dict) -> None:
    """One line, flushed to disk before the next step starts: a kill loses at most this row."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _process(pid: int, started: float | None = None):
    """The live process `pid` (a psutil.Process), None when there is none, when it has ended
    and waits to be reaped, or when it started at another time than `started` (the pid was
    reused by another program)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if started is not None and abs(process.create_time() - started) > 0.5:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.Error, OSError):
        return None
    return process


class JobFolder:
    """One job's folder; `path.name` is the adapter's name. With the collection's `key` (a job
    of an encrypted collection), the files that hold its text are read and written sealed."""

    def __init__(self, path: str | os.PathLike, key: bytes | None = None):
        self.path = Path(path)
        self.key = key

    # -- the files that hold text ------------------------------------------------------------------
    def rows(self, name: str) -> list[Any]:
        """The rows of a JSON-lines file (a line a kill cut short, and what follows, dropped)."""
        return _rows(self.read_text(name))

    def append_row(self, name: str, row: dict) -> None:
        """One more row, on disk before the next step starts (sealed: the file written anew)."""
        if self.key is None:
            append_jsonl(self.path / name, row)
        else:
            self.write_rows(name, [*self.rows(name), row])

    def write_rows(self, name: str, rows: list) -> None:
        self.write_text(name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def read_text(self, name: str) -> str:
        """The file's text ('' when it is not there)."""
        path = self.path / name
        if not path.is_file():
            return ""
        return read_file(path, self.key, SEALED_PURPOSE).decode("utf-8")

    def write_text(self, name: str, text: str) -> None:
        write_file(self.path / name, text.encode("utf-8"), self.key, SEALED_PURPOSE)

    def write_bytes(self, path: Path, data: bytes, purpose: str) -> None:
        """A binary result (checkpoint weights, the adapter): sealed with the key, else plain."""
        write_file(path, data, self.key, purpose)

    def read_bytes(self, path: Path, purpose: str) -> bytes:
        return read_file(path, self.key, purpose)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return (self.path / JOB_FILE).is_file()

    # -- the spec --------------------------------------------------------------------------------
    def spec(self) -> JobSpec:
        return JobSpec.from_json(json.loads((self.path / JOB_FILE).read_text(encoding="utf-8")))

    def save_spec(self, spec: JobSpec) -> None:
        atomic_write_text(
            self.path / JOB_FILE, json.dumps(spec.to_json(), ensure_ascii=False, indent=1)
        )

    # -- progress --------------------------------------------------------------------------------
    def emit(self, event: Event, **fields) -> None:
        append_jsonl(
            self.path / PROGRESS_FILE,
            {"event": str(event), **fields, "time": round(time.time(), 3)},
        )

    def events(self) -> list[dict]:
        return read_jsonl(self.path / PROGRESS_FILE)

    def status(self, running: bool | None = None) -> JobStatus:
        """The job's state from its progress lines; `running` None: ask the process table."""
        if running is None:
            running = self.running_pid() is not None
        state, stage, done, total, loss, eta, message = JobState.NEW, "", 0, 0, None, None, ""
        for e in self.events():
            kind = e.get("event")
            if kind == Event.EXAMPLES:
                stage, done, total = Event.EXAMPLES.value, e["done"], e["total"]
            elif kind in (Event.STARTED, Event.RESUMED, Event.STEP):
                stage, done, total = "train", e.get("step", 0), e.get("steps", 0)
                loss, eta = e.get("loss", loss), e.get("eta_s", eta)
            elif kind == Event.STAGE:
                stage, done, total = e.get("stage", ""), 0, 0
            elif kind == Event.ERROR:
                message = e.get("message", "")
            if kind:
                state = ENDED_BY.get(kind, JobState.RUNNING)
        if running and state != JobState.DONE:
            state = JobState.RUNNING  # a resumed run after a stop or a failure
        elif state == JobState.RUNNING:
            state = JobState.INTERRUPTED
        return JobStatus(self.name, self.path, state, stage, done, total, loss, eta, message)

    # -- the process -----------------------------------------------------------------------------
    def record_process(self, pid: int) -> None:
        """Written by the launcher (and again by the process itself) so that a window opened
        later, or the installed program's own launcher, recognises the pipeline by pid and start
        time alike: its command line differs between a checkout and an installation."""
        process = _process(pid)
        started = process.create_time() if process is not None else None
        atomic_write_text(self.path / PID_FILE, json.dumps({"pid": pid, "started": started}))

    def running_pid(self) -> int | None:
        """The pid of the job's pipeline process while it runs, None otherwise (also when the
        recorded pid now belongs to another process)."""
        try:
            data = json.loads((self.path / PID_FILE).read_text(encoding="utf-8"))
            pid, started = int(data["pid"]), data["started"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if started is None or _process(pid, float(started)) is None:
            return None
        return pid

    def request_stop(self) -> bool:
        """Asks the job's pipeline to stop at its next safe point, without waiting."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        return True

    # -- the result ------------------------------------------------------------------------------
    def adapter_meta(self, spec: JobSpec, created: str) -> AdapterMeta:
        """meta.json of the adapter this job trained: base model, data counts, settings, losses,
        and the held-out split the evaluation asks."""
        split = json.loads(self.read_text(SPLIT_FILE))
        losses = json.loads((self.path / LOSSES_FILE).read_text(encoding="utf-8"))["losses"]
        conversations = self.rows(TRAIN_FILE)
        report = split.get("filter") or {}
        return AdapterMeta(
            name=spec.name,
            base=spec.base,
            collection=spec.collection,
            created=created,
            counts={
                "examples_written": report.get("written", 0),
                "examples_kept": report.get("kept", 0),
                "quote_repaired": report.get("quote_repaired", 0),
                "dropped": report.get("dropped", {}),
                "train_questions": len(split["train"]),
                "held_out_questions": len(split["held_out"]),
                "unanswerable_questions": len(split.get("unanswerable", [])),
                "user_questions": len(split.get("user_questions", [])),
                "training_conversations": len(conversations),
            },
            settings=spec.settings.to_json(),
            training={
                "steps": len(losses),
                "first_loss": losses[0] if losses else None,
                "final_loss": losses[-1] if losses else None,
                "losses": losses,
            },
            split=split,
        )

    def with_steps(self, spec: JobSpec, steps: int) -> JobSpec:
        """Fixes the number of steps left to kbdesk, once the data is known."""
        fixed = replace(spec, settings=replace(spec.settings, steps=steps), auto_steps=False)
        self.save_spec(fixed)
        return fixed


class StopRequest:
    """In the pipeline process: SIGTERM (Stop in the window, Ctrl+C in `kbdesk tune`) asks for a
    stop at the next safe point; every stage checks `requested` between its units of work."""

    requested = False

    @classmethod
    def listen(cls) -> None:
        signal.signal(signal.SIGTERM, cls._on_term)

    @classmethod
    def _on_term(cls, signum, frame) -> None:
        cls.requested = True
