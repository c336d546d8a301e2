"""Fixtures for generation tests: the small real model, assembled once per user, and a warm host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SMALL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def shared_models_dir() -> Path:
    # Per-user cache, not the test's data dir: assembling 491 MB per test run would dominate.
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kbdesk" / "models"


@pytest.fixture(scope="session")
def small_model() -> Path:
    models_dir = shared_models_dir()
    cmd = [sys.executable, str(ROOT / "build" / "assemble_models.py"), "--small"]
    subprocess.run(cmd + ["--models-dir", str(models_dir)], check=True, cwd=ROOT)
    return models_dir / SMALL_FILE


@pytest.fixture(scope="session")
def small_host(small_model: Path):
    from kbdesk.core.generate.host import LlamaHost

    host = LlamaHost(small_model, n_ctx=4096)
    yield host
    host.close()


@pytest.fixture
def eval_counter(small_host):
    """Records the size of every batch llama-cpp-python evaluates (prompt tokens, then 1s)."""
    llama = small_host.llama
    calls: list[int] = []
    original = llama.eval

    def counting_eval(tokens):
        calls.append(len(tokens))
        return original(tokens)

    llama.eval = counting_eval
    yield calls
    del llama.eval


@pytest.fixture(scope="module")
def lease_kb(tmp_path_factory):
    """A real collection of a lease, a guideline and a Chinese leaflet (real PDFs, USE)."""
    from kbdesk.core.kb import KnowledgeBase
    from tests.helpers import GUIDE_PAGES, LEASE_PAGES, ZH_PAGES, make_pdf

    folder = tmp_path_factory.mktemp("docs")
    make_pdf(folder / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(folder / "hypertension.pdf", GUIDE_PAGES)
    make_pdf(folder / "术后护理须知.pdf", ZH_PAGES, cjk=True)
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("kb"), "a", embedder="use-multilingual")
    assert kb.import_paths([folder]).ok
    yield kb
    kb.close()
