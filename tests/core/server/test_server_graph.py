"""A first large upload builds its HNSW graph once, at its end: searched as a graph grown row by
row, never dropped under a collection that readers already have, built after a stopped upload."""

from __future__ import annotations

import psycopg
import pytest

from kbdesk.cli import main
from kbdesk.core.errors import Cancelled
from kbdesk.core.jobs import CancelToken
from kbdesk.core.server import admin
from kbdesk.core.server import push as push_module
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.push import GRAPH_PENDING, push
from kbdesk.core.types import Progress, Stage

QUESTIONS = ["notice to terminate the lease", "手术后多久可以洗澡", "amlodipine dose"]


def _graph(address, name: str) -> bool:
    with psycopg.connect(address.conninfo(), autocommit=True) as con:
        info = admin.find_collection(con, name)
    assert info is not None
    return info.graph


def test_a_first_large_upload_builds_the_graph_once_and_searches_alike(
    local_clinic, new_login, tmp_path, monkeypatch
):
    importer = new_login("importer", may_create=True)
    push(local_clinic, importer, "grown")  # three documents: below the size, row by row
    monkeypatch.setattr(push_module, "BULK_GRAPH_PASSAGES", 1)
    seen: list[tuple[str | None, bool]] = []

    def watch(p: Progress) -> None:
        if p.stage is Stage.UPLOADING and p.item:
            seen.append((p.item, _graph(importer, "bulk")))
        if p.message == push_module.GRAPH_MESSAGE:
            seen.append((None, _graph(importer, "bulk")))

    push(local_clinic, importer, "bulk", progress=watch)
    # no graph while the documents went up; it is built at the end, after the last one
    assert [has for item, has in seen if item] == [False, False, False]
    assert seen[-1] == (None, False)
    assert _graph(importer, "bulk") and _graph(importer, "grown")
    with (
        SharedCollection.open(importer, "grown", data_dir=tmp_path / "g") as grown,
        SharedCollection.open(importer, "bulk", data_dir=tmp_path / "b") as bulk,
    ):
        for question in QUESTIONS:
            for mode in ("dense", "hybrid"):
                want = [(h.document, h.page, h.text) for h in grown.search(question, 3, mode)]
                assert [(h.document, h.page, h.text) for h in bulk.search(question, 3, mode)] == (
                    want
                )


def test_a_graph_that_readers_have_is_never_dropped(local_clinic, new_login):
    importer, reader = new_login("importer", may_create=True), new_login("reader")
    push(local_clinic, importer)
    admin.set_access(importer, local_clinic.name, reader.login, "read")
    assert _graph(importer, local_clinic.name)
    with psycopg.connect(importer.conninfo(), autocommit=True) as con:
        assert con.execute("SELECT kbdesk.pause_graph(%s)", (local_clinic.name,)).fetchone() == (
            False,
        )
    with (
        psycopg.connect(reader.conninfo(), autocommit=True) as con,
        pytest.raises(psycopg.Error, match="may not write a collection named"),
    ):
        con.execute("SELECT kbdesk.pause_graph(%s)", (local_clinic.name,))
    assert _graph(importer, local_clinic.name)


def test_a_stopped_first_upload_still_leaves_a_graph_and_resumes(
    local_clinic, new_login, tmp_path, monkeypatch
):
    importer = new_login("importer", may_create=True)
    monkeypatch.setattr(push_module, "BULK_GRAPH_PASSAGES", 1)
    cancel = CancelToken()

    def stop_after_the_first(p: Progress) -> None:  # asked during the first, seen before the next
        if p.stage is Stage.UPLOADING and p.done == 0:
            cancel.cancel()

    with pytest.raises(Cancelled):
        push(local_clinic, importer, "stopped", progress=stop_after_the_first, cancel=cancel)
    assert _graph(importer, "stopped")
    report = push(local_clinic, importer, "stopped")
    assert len(report.skipped) == 1 and len(report.added) == 2
    with SharedCollection.open(importer, "stopped", data_dir=tmp_path / "s") as shared:
        assert shared.search("amlodipine dose", 1, "dense")[0].document == "hypertension.pdf"


def test_status_says_where_a_graph_is_still_to_be_built(capsys, data_dir, new_login):
    importer = new_login("importer", may_create=True)
    with psycopg.connect(importer.conninfo(), autocommit=True) as con:
        admin.create_collection(con, "first-upload", "embedder", 4, 800, 100)
        assert con.execute("SELECT kbdesk.pause_graph('first-upload')").fetchone() == (True,)
    assert main(["--data-dir", str(data_dir), "server", "--server", importer.url, "status"]) == 0
    out = capsys.readouterr().out
    assert f"first-upload  [admin]  0 documents, 0 passages\n    {GRAPH_PENDING}" in out
