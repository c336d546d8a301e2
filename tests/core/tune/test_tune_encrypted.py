"""Training on an encrypted collection, for real (0.5B model, one step): the key reaches the
training process on its stdin, everything the job and the adapter keep of the collection's text
is sealed, the adapter answers (opened in memory only) in its own collection and nowhere else,
and its evaluation is sealed too. No file under the data folder holds the documents' words."""

from __future__ import annotations

import os

import pytest

from kbdesk.core.adapters import SPLIT_FILE, adapter_split, read_evaluation, read_meta
from kbdesk.core.crypt.sealed import MAGIC
from kbdesk.core.errors import CollectionLocked, ModelMissing
from kbdesk.core.generate.answerer import Answerer, AskOptions
from kbdesk.core.generate.host import LlamaHost
from kbdesk.core.generate.models import BUILTIN_MODELS
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.tune import training
from kbdesk.core.tune.jobdir import CHECKPOINT, TEXT_FILES, TOKENIZER_CACHE
from tests.core.tune.test_tune_end_to_end import PAIRS, small_request, wait_for
from tests.helpers import LEASE_PAGES, ZH_PAGES, leaks, make_pdf

pytestmark = pytest.mark.timeout(2400)
SMALL = BUILTIN_MODELS["small"]
PASSPHRASE = "harbor point lease files"


def model_files(data, job) -> tuple:
    """The model and the job's copy of its tokenizer: its vocabulary holds words like "twenty"
    whatever the documents say."""
    return (data / "models", job / TOKENIZER_CACHE)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, small_model):
    root = tmp_path_factory.mktemp("sealed-tune")
    docs = root / "docs"
    make_pdf(docs / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(docs / "术后护理须知.pdf", ZH_PAGES, cjk=True)
    data = root / "data"
    (data / "models").mkdir(parents=True)
    os.symlink(small_model, data / "models" / SMALL.file)
    kb, _recovery = KnowledgeBase.create_encrypted(data, "clinic", PASSPHRASE)
    with kb:
        assert kb.import_paths([docs]).ok
    paths = AppPaths.resolve(data)
    request = small_request(root, data, "clinic", steps=1, passages=2)
    job = training.create_job(paths, request, kb.key)
    with pytest.raises(CollectionLocked, match="reads the encrypted collection 'clinic'"):
        training.start(job)  # without the key it is not started
    process = training.start(job, kb.key)
    wait_for(job, "installed", process)
    assert process.wait(60) == 0
    (root / "pairs.jsonl").unlink()  # the user's own file, not kbdesk's
    return {"paths": paths, "data": data, "key": kb.key, "job": job, "root": root}


def test_the_job_and_the_adapter_are_sealed_and_hold_none_of_the_documents_words(sealed):
    job, data = sealed["job"], sealed["data"]
    assert job.spec().encrypted
    for name in TEXT_FILES:
        if (job / name).is_file():
            assert (job / name).read_bytes().startswith(MAGIC), name
    checkpoint = job / CHECKPOINT
    assert (checkpoint / "adapter.safetensors").read_bytes().startswith(MAGIC)
    adapter = sealed["paths"].adapters_dir / "clinic-lora" / "adapter.gguf"
    assert adapter.read_bytes().startswith(MAGIC)
    meta = read_meta(adapter)
    assert meta.sealed and meta.split == {} and meta.collection == "clinic"
    assert meta.counts["user_questions"] == len(PAIRS)
    split = adapter_split(adapter, sealed["key"])
    assert [q["question"] for q in split["user_questions"]] == [p["question"] for p in PAIRS]
    assert (adapter.parent / SPLIT_FILE).read_bytes().startswith(MAGIC)
    assert leaks(data, skip=model_files(data, job)) == []


def test_the_sealed_adapter_answers_in_its_collection_only(sealed, tmp_path):
    data, key = sealed["data"], sealed["key"]
    host = LlamaHost(data / "models" / SMALL.file, n_ctx=2048)
    try:
        with KnowledgeBase.open(data, "clinic", key=key) as kb:
            answer = Answerer(kb, host).ask(
                "When is the security deposit returned?",
                options=AskOptions(adapter="clinic-lora", passages=2),
            )
            assert answer.adapter == "clinic-lora"
        with (
            KnowledgeBase.open(data, "other") as other,
            pytest.raises(
                ModelMissing, match="encrypted collection 'clinic' .* answers only there"
            ),
        ):
            Answerer(other, host).ask("Anything?", options=AskOptions(adapter="clinic-lora"))
    finally:
        host.close()


def test_its_evaluation_is_sealed_with_no_report_file(sealed):
    from kbdesk.core.evaluate.run import run_evaluation

    data, key = sealed["data"], sealed["key"]
    host = LlamaHost(data / "models" / SMALL.file, n_ctx=4096)
    try:
        with KnowledgeBase.open(data, "clinic", key=key) as kb:
            result, report = run_evaluation(kb, host, "clinic-lora", passages=2, limit=1)
    finally:
        host.close()
    adapter = sealed["paths"].adapters_dir / "clinic-lora" / "adapter.gguf"
    assert report is None and not (adapter.parent / "report.html").exists()
    assert (adapter.parent / "evaluation.json").read_bytes().startswith(MAGIC)
    assert read_evaluation(adapter) is None  # not without the key
    assert read_evaluation(adapter, key)["questions"] == result["questions"]
    assert read_meta(adapter).evaluation["recommendation"] == result["recommendation"]
    assert leaks(data, skip=model_files(data, sealed["job"])) == []
