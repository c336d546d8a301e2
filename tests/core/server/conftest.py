"""The shared-collection tests' local collection; the server fixtures are tests/shared_server.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kbdesk.core.kb import KnowledgeBase


@pytest.fixture
def local_clinic(data_dir, docs_dir) -> Iterator[KnowledgeBase]:
    """A local collection of the three test documents (real PDFs, the real embedder)."""
    kb = KnowledgeBase.open(data_dir, f"clinic-{uuid.uuid4().hex[:6]}")
    assert kb.import_paths([docs_dir]).ok
    yield kb
    kb.close()
