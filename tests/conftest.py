"""Shared fixtures: every test gets its own data directory; real sample documents on demand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.core.generate.conftest import small_model  # noqa: F401 - shared fixture
from tests.helpers import GUIDE_PAGES, LEASE_PAGES, ZH_PAGES, make_pdf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def own_user_folders(tmp_path: Path, monkeypatch) -> Path:
    """The per-user data folder (where models are also looked for) is the test's own: a model a
    developer assembled with `make run` must not change what a test sees."""
    folder = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "kbdata"
    d.mkdir()
    return d


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A folder with an English lease, an English clinical guideline and a Chinese leaflet."""
    folder = tmp_path / "docs"
    make_pdf(folder / "lease.pdf", LEASE_PAGES, title="Commercial Lease Agreement")
    make_pdf(folder / "hypertension.pdf", GUIDE_PAGES, title="Hypertension Guideline")
    make_pdf(folder / "zh" / "术后护理须知.pdf", ZH_PAGES, cjk=True)
    return folder
