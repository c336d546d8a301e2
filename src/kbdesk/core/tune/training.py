"""Training seen from the app (window and CLI alike): the request built once, checks before hours
of work, and starting, following, stopping and resuming a job's pipeline process.

The pipeline runs in its own process (`python -m kbdesk.core.tune.pipeline` from a checkout, the
training package's `kbdesk-train` in an installation), so a crash in training never takes the
window or the answer model down. This module never imports the process side.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kbdesk.core.adapters import (
    BaseModelRef,
    created_now,
    model_sha256,
    validate_adapter_name,
)
from kbdesk.core.encryption import collection_key
from kbdesk.core.errors import CollectionLocked, InvalidSetting
from kbdesk.core.generate.cpu_floor import cpu_features
from kbdesk.core.generate.models import ModelRegistry
from kbdesk.core.paths import AppPaths
from kbdesk.core.store.fileio import discard_folder
from kbdesk.core.tune.export import check_architecture
from kbdesk.core.tune.jobdir import (
    LOG_FILE,
    PAIRS_EVAL,
    PAIRS_TRAIN,
    JobFolder,
    JobSpec,
    JobStatus,
)
from kbdesk.core.tune.pairs import read_pairs
from kbdesk.core.tune.settings import TuneSettings, auto_steps

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
STOP_WAIT_SECONDS = 120.0  # a step of the 1.5B model takes ~100 s


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


def training_request(
    paths: AppPaths,
    collection: str,
    *,
    model: str | None,
    name: str | None = None,
    settings: TuneSettings | None = None,
    steps: int | None = None,
    passages: int | None = None,
    train_pairs: Path | None = None,
    eval_pairs: Path | None = None,
    replace: bool = False,
) -> TuneRequest:
    """What the window's Train button and `kbdesk tune` ask for, assembled in one place: the
    chosen answer model (verified), the adapter's name (collection and time by default), and
    the number of steps, where none (None or 0) means "two passes over the data"."""
    info = ModelRegistry(paths.model_dirs).chosen(model)
    settings = settings or TuneSettings()
    if steps:
        settings = dataclasses.replace(settings, steps=steps)
    return TuneRequest(
        name=name or f"{collection}-{time.strftime('%Y%m%d-%H%M')}",
        collection=collection,
        model=info.path,
        model_name=info.name,
        model_sha256=info.sha256 or model_sha256(info.path),
        settings=settings,
        auto_steps=not steps,
        passages=passages or DEFAULT_PASSAGES,
        train_pairs=train_pairs,
        eval_pairs=eval_pairs,
        replace=replace,
    )


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


def job_folder(paths: AppPaths, name: str, key: bytes | None = None) -> JobFolder:
    return JobFolder(jobs_dir(paths) / validate_adapter_name(name), key)


def create_job(paths: AppPaths, request: TuneRequest, key: bytes | None = None) -> JobFolder:
    """Checks everything that can be checked before hours of work, then writes the job folder.
    An encrypted collection's job needs its `key`: what the job writes of its text is sealed.

    :raises CollectionLocked: an encrypted collection, and no key.
    :raises WrongKey: `key` is not the collection's.
    """
    name = validate_adapter_name(request.name)
    folder = paths.collection_dir(request.collection)
    key = collection_key(folder, request.collection, key=key)  # None: a plain collection
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
    job = job_folder(paths, name, key)
    if job.running_pid() is not None:
        raise InvalidSetting(
            f"A training called '{name}' is running.",
            hint="Stop it first, or choose another name.",
        )
    if job.path.exists():
        discard_folder(job.path)  # an older, unfinished job of the same name is started over
    job.path.mkdir(parents=True)
    for target, pairs in ((PAIRS_TRAIN, train_pairs), (PAIRS_EVAL, eval_pairs)):
        job.write_rows(target, [p.__dict__ for p in pairs])
    job.save_spec(
        JobSpec(
            name=name,
            collection=request.collection,
            data_dir=paths.data_dir,
            adapters_dir=paths.adapters_dir,
            base_model=request.model,
            base=BaseModelRef(
                name=request.model_name,
                file=request.model.name,
                size=request.model.stat().st_size,
                sha256=request.model_sha256,
            ),
            settings=request.settings,
            auto_steps=request.auto_steps,
            passages=request.passages,
            held_out_share=request.held_out_share,
            seed=request.seed,
            replace=request.replace,
            created=created_now(),
            encrypted=key is not None,
        )
    )
    return job


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


def start(job: JobFolder, key: bytes | None = None) -> subprocess.Popen:
    """The job's pipeline in a new process (its own session: a Ctrl+C meant for the terminal
    reaches the caller, which stops it properly). Refused while one already runs it. A job of
    an encrypted collection gets the collection's `key` on its stdin (never an argument, an
    environment variable or a file).

    :raises InvalidSetting: the job is already running.
    :raises CollectionLocked: the job's collection is encrypted, and no key.
    """
    pid = job.running_pid()
    if pid is not None:
        raise InvalidSetting(
            f"The training '{job.name}' is already running.",
            hint="Wait for it, or stop it first.",
        )
    spec = job.spec()
    if spec.encrypted and key is None:
        raise CollectionLocked(
            f"The training '{job.name}' reads the encrypted collection '{spec.collection}'.",
            hint="Unlock that collection, then start it again.",
        )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [*pipeline_command(), str(job.path)]
    with open(job / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if spec.encrypted else subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    if spec.encrypted and process.stdin is not None and key is not None:
        with process.stdin:
            process.stdin.write(key.hex().encode() + b"\n")
    job.record_process(process.pid)  # seen as running from now on, not once it has started
    return process


def resume(
    paths: AppPaths, name: str, key: bytes | None = None
) -> tuple[JobFolder, subprocess.Popen]:
    """Starts an unfinished job again; it goes on from what its folder holds (`key`: its
    encrypted collection's).

    :raises InvalidSetting: no such unfinished job, or it is running.
    :raises CollectionLocked: its collection is encrypted, and no key.
    """
    job = job_folder(paths, name)
    if not job.exists():
        waiting = ", ".join(s.name for s in unfinished_jobs(paths)) or "none"
        raise InvalidSetting(
            f"There is no training called '{name}' to resume (unfinished: {waiting})."
        )
    return job, start(job, key)


def stop(process: subprocess.Popen, wait: float = STOP_WAIT_SECONDS) -> int:
    """Asks the pipeline this program started to stop at its next safe point, then waits
    (killing it only when it does not end in `wait` seconds: its checkpoint stands)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


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


def _jobs(paths: AppPaths) -> list[JobFolder]:
    folder = jobs_dir(paths)
    if not folder.is_dir():
        return []
    found = (JobFolder(sub) for sub in sorted(folder.iterdir()) if not sub.name.startswith("."))
    return [job for job in found if job.exists()]


def jobs_of(paths: AppPaths, collection: str) -> list[JobFolder]:
    """The training jobs (finished or not) that read `collection`."""
    return [job for job in _jobs(paths) if job.spec().collection == collection]


def unfinished_jobs(paths: AppPaths) -> list[JobStatus]:
    """Stopped, interrupted, failed or never started trainings: each can be resumed."""
    return [s for s in (job.status() for job in _jobs(paths)) if s.resumable]


def running_jobs(paths: AppPaths) -> list[JobFolder]:
    return [job for job in _jobs(paths) if job.running_pid() is not None]
