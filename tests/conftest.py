"""Shared fixtures: every test gets its own data directory; real sample documents on demand."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from tests.core.generate.conftest import small_model  # noqa: F401 - shared fixture
from tests.helpers import GUIDE_PAGES, LEASE_PAGES, ZH_PAGES, make_pdf
from tests.shared_server import new_login, pg_folder, superuser  # noqa: F401 - shared fixtures

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def own_user_folders(tmp_path: Path, monkeypatch) -> Path:
    """The per-user data folder (where models are also looked for) is the test's own: a model a
    developer assembled with `make run` must not change what a test sees."""
    folder = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


class MemoryKeyring(KeyringBackend):
    """A key store that keeps its entries in memory: the system one is never what a test is about."""

    priority = 1  # type: ignore[assignment]

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


@pytest.fixture(autouse=True)
def no_key_store():
    """No test reads or writes the developer's own key store: by default there is none (as on a
    computer without one); `key_store` gives a test one in memory."""
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture
def key_store(no_key_store) -> MemoryKeyring:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    return memory


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
