"""Tuning jobs seen from the app: create one (checked first), start, follow, cancel and resume it.

A job is a folder `<data dir>/tuning/<name>/` whose pipeline runs in its own process
(`python -m kbdesk.core.tune.pipeline`), so a crash in training never takes the window or the
answer model down; its progress is the job's `progress.jsonl`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.generate.cpu_floor import cpu_features
from kbdesk.core.paths import AppPaths
from kbdesk.core.store.fileio import atomic_write_text
from kbdesk.core.tune.export import check_architecture
from kbdesk.core.tune.pairs import read_pairs
from kbdesk.core.tune.pipeline import PAIRS_EVAL, PAIRS_TRAIN, auto_steps, read_jsonl
from kbdesk.core.tune.registry import validate_adapter_name
from kbdesk.core.tune.settings import TuneSettings
from kbdesk.core.tune.trainer import JOB_FILE, PID_FILE, PROGRESS_FILE

LOG_FILE = "pipeline.log"
# The optional training package (packaging/kbdesk-train.spec) installs its program here,
# beside the installed kbdesk.
TRAINING_PACKAGE = "kbdesk-training"
TRAINING_DIR = "training"
TRAINING_PROGRAM = "kbdesk-train"
DEFAULT_PASSAGES = 200
# Peak memory of training ~ this many times the GGUF's size plus a fixed part: the weights are
# dequantised to bfloat16 where the processor computes it natively (AVX-512), float32 elsewhere
# (twice the memory), plus the adapter's gradients and one example's recomputed activations
# (bench/bench_tune.py; RESULTS: "Adapters").
MEMORY_PER_MODEL_BYTE = {"bfloat16": 8.0, "float32": 18.0}
MEMORY_FIXED = 3 << 29  # 1.5 GB: the encoder, the collection, Python
# Seconds per GB of GGUF file on 2 cores, for the duration shown before training starts:
# loading the model for training, writing one example (with its checks), one training
# conversation forward and backward. From bench/bench_tune.py with the 0.5B model on a shared
# machine (RESULTS: "Adapters": 25.8 s per example, 44 s per step of 4); the 1.5B is assumed
# to scale with its file size until it is measured.
LOAD_SECONDS_PER_GB = 120.0
EXAMPLE_SECONDS_PER_GB = 50.0
EXAMPLE_STEP_SECONDS_PER_GB = 22.0


@dataclass(frozen=True)
class TuneRequest:
    name: str  # the adapter's name
    collection: str
    model: Path  # the base GGUF (the answer model the adapter will serve with)
    model_name: str
    model_sha256: str
    settings: TuneSettings = field(default_factory=TuneSettings)
    auto_steps: bool = True
    passages: int = DEFAULT_PASSAGES
    held_out_share: float = 0.2
    seed: int = 0
    train_pairs: Path | None = None
    eval_pairs: Path | None = None
    replace: bool = False


@dataclass(frozen=True)
class JobStatus:
    """What the latest progress lines say about a job."""

    name: str
    folder: Path
    state: str  # "new", "running", "done", "failed", "cancelled", "interrupted"
    stage: str = ""
    done: int = 0
    total: int = 0
    loss: float | None = None
    eta_s: float | None = None
    message: str = ""

    def describe(self) -> str:
        if self.state == "failed":
            return f"Training '{self.name}' failed: {self.message}"
        if self.state in ("done", "cancelled", "interrupted"):
            return {
                "done": f"Adapter '{self.name}' is ready.",
                "cancelled": f"Training '{self.name}' was stopped; it can be resumed.",
                "interrupted": f"Training '{self.name}' was interrupted; it can be resumed.",
            }[self.state]
        if self.stage == "examples":
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


def gguf_architecture(path: Path) -> str:
    """general.architecture from the GGUF header (the first key in files llama.cpp writes)."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise InvalidSetting(f"{path.name} is not a GGUF model file.")
        fh.read(4 + 8)  # version, tensor count
        (n_kv,) = struct.unpack("<Q", fh.read(8))
        for _ in range(min(n_kv, 8)):
            (length,) = struct.unpack("<Q", fh.read(8))
            key = fh.read(length).decode("utf-8", "replace")
            (kind,) = struct.unpack("<I", fh.read(4))
            if kind != 8:  # only strings come before the architecture in practice
                break
            (length,) = struct.unpack("<Q", fh.read(8))
            value = fh.read(length).decode("utf-8", "replace")
            if key == "general.architecture":
                return value
    return "unknown"


def training_precision() -> str:
    """What trainer.base_dtype() will choose, from the processor's features as the CPU-floor
    check reads them (no torch import: this runs in the window's thread)."""
    return "bfloat16" if cpu_features().get("AVX512BW") else "float32"


def memory_needed(model: Path) -> int:
    factor = MEMORY_PER_MODEL_BYTE[training_precision()]
    return int(factor * model.stat().st_size + MEMORY_FIXED)


def check_memory(model: Path, available: int | None = None) -> None:
    import psutil

    need = memory_needed(model)
    free = psutil.virtual_memory().available if available is None else available
    if free < need:
        raise InvalidSetting(
            f"Training an adapter for {model.name} needs about {need / 2**30:.1f} GB of free "
            f"memory; this computer has {free / 2**30:.1f} GB free now.",
            hint="Close other programs, or train for the smaller built-in model.",
        )


def jobs_dir(paths: AppPaths) -> Path:
    return paths.data_dir / "tuning"


def create_job(paths: AppPaths, request: TuneRequest) -> Path:
    """Checks everything that can be checked before hours of work, then writes the job folder."""
    name = validate_adapter_name(request.name)
    if (paths.adapters_dir / name).exists() and not request.replace:
        raise InvalidSetting(
            f"An adapter named '{name}' already exists.", hint="Choose another name."
        )
    if not 1 <= request.passages <= 100_000:
        raise InvalidSetting(f"Passages to learn from must be 1-100000 (got {request.passages}).")
    if not 0.0 < request.held_out_share < 0.9:
        raise InvalidSetting("The held-out share must be between 0 and 0.9.")
    pipeline_command()  # training installed at all
    check_architecture(gguf_architecture(request.model), request.model_name)
    check_memory(request.model)
    train_pairs = read_pairs(request.train_pairs) if request.train_pairs else []
    eval_pairs = read_pairs(request.eval_pairs) if request.eval_pairs else []
    folder = jobs_dir(paths) / name
    if folder.exists():
        shutil.rmtree(folder)  # an older, unfinished job of the same name is started over
    folder.mkdir(parents=True)
    for target, pairs in ((PAIRS_TRAIN, train_pairs), (PAIRS_EVAL, eval_pairs)):
        lines = [json.dumps(p.__dict__, ensure_ascii=False) for p in pairs]
        atomic_write_text(folder / target, "".join(line + "\n" for line in lines))
    job = {
        "name": name,
        "collection": request.collection,
        "data_dir": str(paths.data_dir),
        "adapters_dir": str(paths.adapters_dir),
        "base_model": str(request.model),
        "base": {
            "name": request.model_name,
            "file": request.model.name,
            "size": request.model.stat().st_size,
            "sha256": request.model_sha256,
        },
        "settings": request.settings.to_json(),
        "auto_steps": request.auto_steps,
        "passages": request.passages,
        "held_out_share": request.held_out_share,
        "seed": request.seed,
        "replace": request.replace,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(folder / JOB_FILE, json.dumps(job, ensure_ascii=False, indent=1))
    return folder


def pipeline_command() -> list[str]:
    """How to start a training pipeline: this Python with the pipeline module from a checkout;
    the training package's own program in an installation (the program itself has no PyTorch)."""
    if not getattr(sys, "frozen", False):
        return [sys.executable, "-m", "kbdesk.core.tune.pipeline"]
    trainer_program = Path(sys.executable).resolve().parent / TRAINING_DIR / TRAINING_PROGRAM
    if not trainer_program.is_file():
        raise InvalidSetting(
            "Adapter training is an optional part of kbdesk that is not installed on this "
            f"computer ({trainer_program} is missing).",
            hint=f"Install the {TRAINING_PACKAGE} package (it holds PyTorch, about 1 GB), "
            "then click Train again. Using and evaluating adapters works without it.",
        )
    return [str(trainer_program)]


def start(job_dir: Path) -> subprocess.Popen:
    """The job's pipeline in a new process (its own session: a Ctrl+C meant for the terminal
    reaches the caller, which cancels it properly)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [*pipeline_command(), str(job_dir)]
    with open(job_dir / LOG_FILE, "ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def running_pid(job_dir: Path) -> int | None:
    """The pid of the job's pipeline process while it runs (a window opened later finds it)."""
    try:
        pid = int((job_dir / PID_FILE).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # a reused pid belongs to another program
        try:
            if b"kbdesk.core.tune.pipeline" not in cmdline.read_bytes():
                return None
        except OSError:
            return None
    return pid


def request_stop(job_dir: Path) -> bool:
    """Asks the job's pipeline to stop at its next safe point, without waiting."""
    pid = running_pid(job_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    return True


def estimate_seconds(model: Path, passages: int, steps: int | None, batch: int) -> float:
    """A rough duration: writing examples, then training (automatic steps: two passes over
    about 1.3 conversations per passage). Rates per GB of model file, measured on 2 cores
    (bench/bench_tune.py)."""
    gigabytes = model.stat().st_size / 1e9
    if steps is None:
        steps = auto_steps(round(1.3 * passages), batch)
    return (
        LOAD_SECONDS_PER_GB * gigabytes
        + passages * EXAMPLE_SECONDS_PER_GB * gigabytes
        + steps * batch * EXAMPLE_STEP_SECONDS_PER_GB * gigabytes
    )


def cancel(process: subprocess.Popen, wait: float = 120.0) -> int:
    """Asks the pipeline to stop at its next safe point (a checkpoint is written), then waits."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def events(job_dir: Path) -> list[dict]:
    return read_jsonl(job_dir / PROGRESS_FILE)


# The events that end a run, and the state each leaves; any other event means it ran.
ENDED_BY = {"installed": "done", "error": "failed", "cancelled": "cancelled"}


def status(job_dir: Path, running: bool | None = None) -> JobStatus:
    """The job's state from its progress lines; `running` None: ask the process table."""
    if running is None:
        running = running_pid(job_dir) is not None
    name = job_dir.name
    state, stage, done, total, loss, eta, message = "new", "", 0, 0, None, None, ""
    for e in events(job_dir):
        kind = e.get("event")
        if kind == "examples":
            stage, done, total = "examples", e["done"], e["total"]
        elif kind in ("started", "resumed", "step"):
            stage, done, total = "train", e.get("step", 0), e.get("steps", 0)
            loss, eta = e.get("loss", loss), e.get("eta_s", eta)
        elif kind == "error":
            message = e.get("message", "")
        if kind:
            state = ENDED_BY.get(kind, "running")
    if state == "running" and not running:
        state = "interrupted"
    return JobStatus(name, job_dir, state, stage, done, total, loss, eta, message)


def unfinished_jobs(paths: AppPaths) -> list[JobStatus]:
    folder = jobs_dir(paths)
    if not folder.is_dir():
        return []
    found = [status(sub) for sub in sorted(folder.iterdir()) if (sub / JOB_FILE).is_file()]
    return [s for s in found if s.state in ("cancelled", "interrupted", "failed", "new")]


def running_jobs(paths: AppPaths) -> list[Path]:
    folder = jobs_dir(paths)
    if not folder.is_dir():
        return []
    return [sub for sub in sorted(folder.iterdir()) if running_pid(sub) is not None]
