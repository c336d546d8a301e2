"""A real, tiny tuning run on the 0.5B model: written examples, LoRA steps in a separate process
killed mid-way and resumed from its checkpoint, export, llama.cpp attaching the adapter, the
base-model check, and the four-way evaluation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

from kbdesk.core.adapters import read_meta
from kbdesk.core.errors import ModelMissing
from kbdesk.core.generate.answerer import Answerer, AskOptions
from kbdesk.core.generate.host import LlamaHost
from kbdesk.core.generate.models import BUILTIN_MODELS
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.tune import training
from kbdesk.core.tune.jobdir import LOG_FILE, WRITTEN_FILE, JobFolder, JobState
from kbdesk.core.tune.settings import TuneSettings
from tests.helpers import GUIDE_PAGES, LEASE_PAGES, ZH_PAGES, make_pdf

# The first test also pays for the module's tuning run (minutes on 2 cores).
pytestmark = pytest.mark.timeout(2400)
SMALL = BUILTIN_MODELS["small"]
PAIRS = [
    {
        "question": "When does the commercial lease for Suite 400 begin?",
        "answer": "It begins on 1 March 2025.",
    },
    {
        "question": "Who is the landlord of Suite 400 at 12 Wharf Street?",
        "answer": "Harbor Point Properties LLC.",
    },
    {"question": "May the tenant keep a boat at the marina?", "answer": ""},
]


def small_request(
    root, data, collection: str, *, steps: int, passages: int
) -> training.TuneRequest:
    """A tiny training of the small model on `collection`, with PAIRS as the user's own
    training and evaluation questions (written to `root`)."""
    pairs = root / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS), encoding="utf-8")
    return training.TuneRequest(
        name=f"{collection}-lora",
        collection=collection,
        model=data / "models" / SMALL.file,
        model_name=SMALL.name,
        model_sha256=SMALL.sha256,
        # a high learning rate: two steps must visibly change the answers
        settings=TuneSettings(
            rank=4,
            alpha=8,
            steps=steps,
            batch=1,
            save_every=1,
            max_tokens=1024,
            learning_rate=5e-3,
        ),
        auto_steps=False,
        passages=passages,
        train_pairs=pairs,
        eval_pairs=pairs,
    )


def wait_for(job: JobFolder, event: str, process, timeout: float = 900.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in job.events():
            if e.get("event") == event:
                return e
            if e.get("event") == "error":
                log = (job / LOG_FILE).read_text(errors="replace")[-3000:]
                pytest.fail(f"the job failed: {e['message']}\n{log}")
        if process.poll() is not None and event not in {e.get("event") for e in job.events()}:
            log = (job / LOG_FILE).read_text(errors="replace")[-3000:]
            pytest.fail(f"the job ended ({process.returncode}) before '{event}':\n{log}")
        time.sleep(0.5)
    pytest.fail(f"no '{event}' within {timeout} s")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, small_model):
    """One tuning job, SIGKILLed after its first checkpoint and started again."""
    root = tmp_path_factory.mktemp("tune")
    docs = root / "docs"
    make_pdf(docs / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(docs / "hypertension.pdf", GUIDE_PAGES, title="Hypertension Guideline")
    make_pdf(docs / "术后护理须知.pdf", ZH_PAGES, cjk=True)
    data = root / "data"
    (data / "models").mkdir(parents=True)
    os.symlink(small_model, data / "models" / SMALL.file)
    kb = KnowledgeBase.open(data, "practice", embedder="use-multilingual")
    assert kb.import_paths([docs]).ok
    kb.close()
    paths = AppPaths.resolve(data)
    request = small_request(root, data, "practice", steps=3, passages=3)
    job = training.create_job(paths, request)
    first = training.start(job)
    try:
        wait_for(job, "checkpoint", first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # a crash, not a stop: no chance to save more
        first.wait()
    assert job.status().state is JobState.INTERRUPTED
    second = training.start(job)
    wait_for(job, "installed", second)
    assert second.wait(60) == 0
    return {"paths": paths, "job": job, "data": data, "model": data / "models" / SMALL.file}


def test_a_killed_training_resumes_from_its_checkpoint_and_installs_the_adapter(tuned):
    events = tuned["job"].events()
    resumed = [e for e in events if e["event"] == "resumed"]
    assert resumed and resumed[0]["step"] >= 1
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps[-1] == 3 and steps.count(1) == 1  # step 1 was not trained twice
    # the examples written before the kill were not written again
    written = (tuned["job"] / WRITTEN_FILE).read_text().splitlines()
    assert len({json.loads(line)["chunk_id"] for line in written}) == len(written) == 3
    assert tuned["job"].status().describe() == "Adapter 'practice-lora' is ready."


def test_the_adapter_records_its_base_model_data_and_split(tuned):
    adapter = tuned["paths"].adapters_dir / "practice-lora" / "adapter.gguf"
    meta = read_meta(adapter)
    assert meta.base.sha256 == SMALL.sha256 and meta.collection == "practice"
    assert meta.name == "practice-lora"
    assert meta.counts["examples_written"] == 3
    assert meta.counts["training_conversations"] >= 3  # the user's pairs at least
    assert meta.settings["rank"] == 4 and meta.training["steps"] == 3
    assert [q["question"] for q in meta.split["user_questions"]] == [p["question"] for p in PAIRS]
    assert meta.counts["unanswerable_questions"] == len(meta.split["unanswerable"])
    held = {e["chunk_id"] for e in meta.split["held_out"]}
    assert not held & {e["chunk_id"] for e in meta.split["train"]}


def test_llama_cpp_attaches_the_adapter_and_detaching_restores_the_base(tuned):
    adapter = tuned["paths"].adapters_dir / "practice-lora" / "adapter.gguf"
    host = LlamaHost(tuned["model"], n_ctx=2048)
    try:
        prompt = host.format_chat(
            [{"role": "user", "content": "Who is the landlord of Suite 400 at 12 Wharf Street?"}]
        )

        def reply():
            return host.complete(prompt, max_tokens=24, temperature=0.0)

        base = reply()
        host.set_adapter(adapter)
        adapted = reply()
        host.set_adapter(None)
        assert adapted != base
        assert reply() == base
    finally:
        host.close()


def test_an_adapter_of_another_base_model_is_refused_by_name(tuned, tmp_path):
    adapters = tuned["paths"].adapters_dir
    other = adapters / "from-elsewhere"
    shutil.copytree(adapters / "practice-lora", other)
    meta = json.loads((other / "meta.json").read_text())
    meta["base"].update(name="qwen2.5-coder-1.5b-instruct", sha256="0" * 64)
    (other / "meta.json").write_text(json.dumps(meta))
    kb = KnowledgeBase.open(tuned["data"], "practice")
    host = LlamaHost(tuned["model"], n_ctx=2048)
    try:
        with pytest.raises(ModelMissing, match="belongs to the model qwen2.5-coder-1.5b-instruct"):
            Answerer(kb, host).ask(
                "Who is the landlord?", options=AskOptions(adapter="from-elsewhere")
            )
    finally:
        host.close()
        kb.close()
        shutil.rmtree(other)


def test_the_four_way_evaluation_answers_every_arm_with_intervals(tuned):
    from kbdesk.core.evaluate.fourway import ARMS
    from kbdesk.core.evaluate.run import run_evaluation

    kb = KnowledgeBase.open(tuned["data"], "practice")
    host = LlamaHost(tuned["model"], n_ctx=4096)
    try:
        result, report = run_evaluation(kb, host, "practice-lora", passages=3)
    finally:
        host.close()
        kb.close()
    assert set(result["arms"]) == set(ARMS)
    for arm in ARMS:
        summary = result["arms"][arm]
        assert summary["questions"] == result["questions"] >= 3
        low, high = summary["score_interval"]
        assert 0.0 <= low <= summary["score"] <= high <= 1.0
        assert summary["unanswerable_declined"] is not None
    rag = [r["outcome"] for r in result["answers"]["rag"]]
    base = [r["outcome"] for r in result["answers"]["base"]]
    assert set(base) == {"without_documents"} and "without_documents" not in rag
    assert result["recommendation"]["arm"] in ARMS and result["recommendation"]["text"]
    assert result["forgetting"]["base"]["of"] == 6
    page = report.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Recommendation" in page
    meta = read_meta(report.with_name("adapter.gguf"))
    assert meta.evaluation["recommendation"] == result["recommendation"]
