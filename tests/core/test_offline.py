"""A full import and search works with every network socket blocked, as on an air-gapped machine."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BLOCK_AND_RUN = r"""
import socket, sys
def refuse(*a, **k):
    raise OSError("network blocked by test: " + repr(a[:2]))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from kbdesk.cli import main
rc = main(sys.argv[1:])
sys.exit(rc)
"""


@pytest.mark.parametrize("embedder", ["use-multilingual", "minilm"])
def test_import_and_search_with_network_blocked(tmp_path, docs_dir, embedder):
    env_free = {
        "HF_HUB_OFFLINE": "",
        "TRANSFORMERS_OFFLINE": "",
    }  # the product must not rely on them
    import os

    env = {**os.environ, **env_free}
    data = tmp_path / "kb"

    def run(*args):
        return subprocess.run(
            [sys.executable, "-c", BLOCK_AND_RUN, "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )

    ingest = run("ingest", "--embedder", embedder, str(docs_dir))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    search = run("search", "How much notice is needed to terminate the lease?", "--json")
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert (hits[0]["document"], hits[0]["page"]) == ("lease.pdf", 3)
    assert "network blocked" not in ingest.stderr + search.stderr
