"""Stopping a training keeps what was done at every stage: the job folder's process check (by pid and
start time, whichever program launched it), one pipeline per job, a stop in the middle of the
unanswerable-question stage (the real 0.5B model writes them) that saves no truncated split and
never loads the model for training, and the resume that goes on from there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.tune import pipeline, training
from kbdesk.core.tune.jobdir import (
    EXIT_STOPPED,
    PID_FILE,
    SPLIT_FILE,
    UNANSWERABLE_FILE,
    WRITTEN_FILE,
    Event,
    JobFolder,
    JobState,
    StopRequest,
    read_jsonl,
)
from kbdesk.core.tune.settings import TuneSettings
from tests.helpers import GUIDE_PAGES, LEASE_PAGES, make_pdf

pytestmark = pytest.mark.timeout(900)


def sleeper(seconds: int = 60) -> subprocess.Popen:
    """A process whose command line is nothing like kbdesk's (as the installed trainer's is not)."""
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_running_pipeline_is_recognised_by_pid_and_start_time_whatever_launched_it(tmp_path):
    job = JobFolder(tmp_path / "night-run")
    job.path.mkdir()
    process = sleeper()
    try:
        job.record_process(process.pid)
        assert job.running_pid() == process.pid
        assert job.status().state is JobState.RUNNING
        recorded = json.loads((job / PID_FILE).read_text())
        recorded["started"] -= 3600  # the same pid, another process: one that started earlier
        (job / PID_FILE).write_text(json.dumps(recorded))
        assert job.running_pid() is None
        job.record_process(process.pid)
        assert job.request_stop()  # SIGTERM: what the Stop button sends
        process.wait(10)
    finally:
        process.kill()
        process.wait()
    assert job.running_pid() is None and not job.request_stop()
    (job / PID_FILE).write_text("12345")  # a pid file of an older kbdesk: not trusted
    assert job.running_pid() is None


def test_a_running_job_is_not_started_twice(tmp_path, monkeypatch):
    job = JobFolder(tmp_path / "night-run")
    job.path.mkdir()
    (job / "job.json").write_text("{}")
    process = sleeper()
    try:
        job.record_process(process.pid)
        monkeypatch.setattr(training, "pipeline_command", lambda: pytest.fail("started twice"))
        with pytest.raises(InvalidSetting, match="'night-run' is already running"):
            training.start(job)
        assert [j.name for j in training.running_jobs(AppPaths.resolve(tmp_path / "x"))] == []
    finally:
        process.kill()
        process.wait()
    # the pipeline itself refuses too, when something else started it meanwhile
    other = sleeper()
    try:
        job.record_process(other.pid)
        assert pipeline.main([str(job.path)]) == 1
    finally:
        other.kill()
        other.wait()


def run_pipeline(job: JobFolder) -> pipeline.Pipeline:
    """The pipeline in this process (its stages' stand-ins patched in); `.code` is its exit."""
    run = pipeline.Pipeline(job)
    try:
        run.code = run.run()  # type: ignore[attr-defined]
    finally:
        run.close()
    return run


@pytest.fixture
def job_with_examples(tmp_path, small_model):
    """A job whose examples are written (one per passage, from the collection's own sentences),
    so the run starts at the split; the real model writes the unanswerable questions."""
    docs = tmp_path / "docs"
    make_pdf(docs / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(docs / "hypertension.pdf", GUIDE_PAGES, title="Hypertension Guideline")
    data = tmp_path / "data"
    kb = KnowledgeBase.open(data, "practice", embedder="use-multilingual")
    assert kb.import_paths([docs]).ok
    chunks = kb.catalog.chunks(kb.catalog.chunk_ids_of_documents([d.id for d in kb.documents()]))
    kb.close()
    paths = AppPaths.resolve(data)
    request = training.TuneRequest(
        name="practice-lora",
        collection="practice",
        model=small_model,
        model_name="qwen2.5-coder-0.5b-instruct",
        model_sha256="0" * 64,
        settings=TuneSettings(rank=4, alpha=8, steps=1, batch=1),
        auto_steps=False,
        passages=len(chunks),
        held_out_share=0.6,
    )
    job = training.create_job(paths, request)
    rows = []
    for chunk in sorted(chunks.values(), key=lambda c: c.id):
        sentence = chunk.text.split(". ")[0].strip()
        example = {
            "question": f"What does {chunk.document} say on page {chunk.page}?",
            "answer": sentence,
            "quote": sentence,
            "chunk_id": chunk.id,
            "document": chunk.document,
            "page": chunk.page,
            "language": "en",
        }
        rows.append(json.dumps({"chunk_id": chunk.id, "example": example}))
    (job / WRITTEN_FILE).write_text("\n".join(rows) + "\n")
    return job


def test_a_stop_in_the_split_keeps_what_was_written_and_never_trains(
    job_with_examples, monkeypatch
):
    job = job_with_examples
    tried: list[int] = []
    real_write = pipeline.write_unanswerable

    def write_then_stop(host, chunk, closest_match, seen):
        tried.append(chunk.id)
        found = real_write(host, chunk, closest_match, seen)
        StopRequest.requested = True  # Stop clicked while the model wrote this one
        return found

    def no_training(_job):
        pytest.fail("the model was loaded for training after a stop")

    monkeypatch.setattr(pipeline, "write_unanswerable", write_then_stop)
    monkeypatch.setattr(pipeline.trainer, "train", no_training)
    monkeypatch.setattr(StopRequest, "requested", False)
    assert run_pipeline(job).code == EXIT_STOPPED
    assert len(tried) == 1
    assert not (job / SPLIT_FILE).exists()  # no truncated split saved for good
    assert [r["chunk_id"] for r in read_jsonl(job / UNANSWERABLE_FILE)] == tried
    last = job.events()[-1]
    assert (last["event"], last["stage"]) == (Event.STOPPED, "split")
    assert job.status(running=False).state is JobState.STOPPED
    assert "was stopped; it can be resumed" in job.status(running=False).describe()

    # resumed: the passage already tried is not asked again, and the split is whole
    monkeypatch.setattr(StopRequest, "requested", False)
    more: list[int] = []

    def write(host, chunk, closest_match, seen):
        more.append(chunk.id)
        return real_write(host, chunk, closest_match, seen)

    trained: list[str] = []
    monkeypatch.setattr(pipeline, "write_unanswerable", write)
    monkeypatch.setattr(pipeline.trainer, "train", lambda j: trained.append(j.name) or 1)
    assert run_pipeline(job).code == 1  # the stand-in trainer's failure code ends the run
    assert trained == ["practice-lora"] and more and tried[0] not in more
    split = json.loads((job / SPLIT_FILE).read_text())
    held = sorted({e["chunk_id"] for e in split["held_out"]})
    assert sorted(tried + more) == held[::2]
    assert len(split["unanswerable"]) == sum(
        1 for r in read_jsonl(job / UNANSWERABLE_FILE) if r["question"]
    )


def test_a_stop_before_training_does_not_load_the_model(job_with_examples, monkeypatch):
    job = job_with_examples
    (job / SPLIT_FILE).write_text(
        json.dumps(
            {
                "train": [row["example"] for row in read_jsonl(job / WRITTEN_FILE)],
                "held_out": [],
                "seed": 0,
                "unanswerable": [],
                "user_questions": [],
                "filter": {"written": 1, "kept": 1, "dropped": {}},
            }
        )
    )
    monkeypatch.setattr(pipeline.trainer, "train", lambda _j: pytest.fail("trained after a stop"))
    real_data = pipeline.Pipeline.data

    def data_then_stop(self, split):
        count = real_data(self, split)
        StopRequest.requested = True
        return count

    monkeypatch.setattr(pipeline.Pipeline, "data", data_then_stop)
    monkeypatch.setattr(StopRequest, "requested", False)
    run = run_pipeline(job)
    assert run.code == EXIT_STOPPED
    assert run._host is None  # the answer model was never loaded either
    assert job.events()[-1]["stage"] == "data"
