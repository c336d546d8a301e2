"""A local collection uploaded to a real PostgreSQL + pgvector server and read by another login:
the same results as the local collection, the original file for a citation, nothing duplicated,
an interrupted import invisible, two importers at once."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psycopg
import pytest

from kbdesk.core.errors import AccessDenied
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.server import admin
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.push import push
from tests.helpers import LEASE_PAGES, make_pdf
from tests.shared_server import address_of

QUESTIONS = [
    "How much notice is needed to terminate the lease?",
    "手术后多久可以洗澡",
    "amlodipine dose",
    "What is the security deposit?",
    "late fee for rent paid after the tenth",
]


def _rows(address, query: str, params=()) -> list[tuple]:
    with psycopg.connect(address.conninfo(), autocommit=True) as con:
        return con.execute(query, params).fetchall()


def test_a_granted_reader_searches_a_pushed_collection_as_the_local_one(
    local_clinic, new_login, tmp_path
):
    importer, reader = new_login("importer", may_create=True), new_login("reader")
    report = push(local_clinic, importer)
    assert sorted(report.added) == ["hypertension.pdf", "lease.pdf", "术后护理须知.pdf"]
    admin.set_access(importer, local_clinic.name, reader.login, "read")

    with SharedCollection.open(reader, local_clinic.name, data_dir=tmp_path / "reader") as shared:
        assert {d.name for d in shared.documents()} == {d.name for d in local_clinic.documents()}
        for question in QUESTIONS:
            for mode in ("hybrid", "dense", "keyword"):
                local = [(h.document, h.page) for h in local_clinic.search(question, 3, mode)]
                remote = [(h.document, h.page) for h in shared.search(question, 3, mode)]
                assert remote == local, (question, mode)
        # what the model reads: the page with its passages, as locally
        blocks = shared.answer_context("What is the security deposit?")
        local_blocks = local_clinic.answer_context("What is the security deposit?")
        assert [(b.document, b.page) for b in blocks] == [
            (b.document, b.page) for b in local_blocks
        ]
        assert "25,200 dollars" in blocks[0].text
        # a citation opens the original file, brought to this PC
        hit = shared.search("security deposit", 1)[0]
        original = shared.original(hit.doc_id)
        assert original == Path(hit.path) and original.is_relative_to(tmp_path / "reader")
        source = next(d for d in local_clinic.documents() if d.name == "lease.pdf")
        assert hashlib.sha256(original.read_bytes()).hexdigest() == source.sha256

    # the same upload again duplicates nothing
    again = push(local_clinic, importer)
    assert again.added == [] and len(again.skipped) == 3
    [(documents, passages)] = _rows(
        importer,
        "SELECT count(*), sum(chunks) FROM kbdesk.documents d JOIN kbdesk.collections c"
        " ON c.id = d.collection_id WHERE c.name = %s",
        (local_clinic.name,),
    )
    assert documents == 3 and passages == sum(d.chunks for d in local_clinic.documents())
    # every import is in the audit, with who did it
    audit = _rows(
        importer,
        "SELECT who, action, subject FROM kbdesk.audit a JOIN kbdesk.collections c"
        " ON c.id = a.collection_id WHERE c.name = %s ORDER BY a.id",
        (local_clinic.name,),
    )
    assert audit[0] == (importer.login, "create", local_clinic.name)
    assert [a[1] for a in audit].count("import") == 3
    assert all(a[0] == importer.login for a in audit if a[1] == "import")


def test_a_changed_file_replaces_its_old_version(data_dir, tmp_path, new_login):
    importer = new_login("importer", may_create=True)
    lease = make_pdf(tmp_path / "docs" / "lease.pdf", LEASE_PAGES)
    with KnowledgeBase.open(data_dir, "leases") as kb:
        kb.import_paths([lease])
        push(kb, importer, "leases-replaced")
        make_pdf(lease, [page.replace("25,200", "31,750") for page in LEASE_PAGES])
        kb.import_paths([lease])
        report = push(kb, importer, "leases-replaced")
    assert report.replaced == ["lease.pdf"] and report.added == []
    with SharedCollection.open(importer, "leases-replaced", data_dir=tmp_path / "r") as shared:
        [document] = shared.documents()
        text = shared.search("security deposit", 1)[0].text
    assert "31,750" in text and "25,200" not in text
    assert document.sha256 == hashlib.sha256(lease.read_bytes()).hexdigest()


def test_an_importer_killed_mid_document_leaves_nothing_visible(local_clinic, new_login, pg_folder):
    importer = new_login("importer", may_create=True)
    # The real upload in another process, killed (SIGKILL) once the first document's passages are
    # on their way to the server: its transaction never commits.
    script = textwrap.dedent(
        f"""
        import os, signal
        from kbdesk.core.kb import KnowledgeBase
        from kbdesk.core.server import push as upload
        from kbdesk.core.server.connection import ServerAddress
        real = upload._copy_passages
        def copy_then_die(*args):
            real(*args)
            os.kill(os.getpid(), signal.SIGKILL)
        upload._copy_passages = copy_then_die
        kb = KnowledgeBase.open({str(local_clinic.paths.data_dir)!r}, {local_clinic.name!r})
        upload.push(kb, ServerAddress({importer.url!r}))
        """
    )
    local_clinic.close()  # the child opens it itself
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    [(collections,)] = _rows(
        importer, "SELECT count(*) FROM kbdesk.collections WHERE name = %s", (local_clinic.name,)
    )
    assert collections == 1  # created before the first document
    # as the server's superuser (row-level security does not hide anything from it)
    counts = _rows(
        address_of(pg_folder),
        "SELECT (SELECT count(*) FROM kbdesk.documents d JOIN kbdesk.collections c"
        "        ON c.id = d.collection_id WHERE c.name = %s),"
        "       (SELECT count(*) FROM kbdesk.chunks k JOIN kbdesk.collections c"
        "        ON c.id = k.collection_id WHERE c.name = %s)",
        (local_clinic.name, local_clinic.name),
    )
    assert counts == [(0, 0)]
    # the upload resumes where it stopped
    with KnowledgeBase.open(local_clinic.paths.data_dir, local_clinic.name) as kb:
        assert len(push(kb, importer).added) == 3


def test_two_importers_at_once(data_dir, docs_dir, tmp_path, new_login):
    owner = new_login("owner", may_create=True)
    first, second = new_login("clerk"), new_login("clerk")
    with KnowledgeBase.open(data_dir, "one") as one, KnowledgeBase.open(data_dir, "two") as two:
        one.import_paths([docs_dir / "lease.pdf", docs_dir / "hypertension.pdf"])
        two.import_paths([docs_dir / "zh"])
        with psycopg.connect(owner.conninfo(), autocommit=True) as con:
            admin.create_collection(
                con, "together", one.manifest.embedder, one.manifest.dim, 800, 100
            )
        for login in (first, second):
            admin.set_access(owner, "together", login.login, "write")
        errors: list[BaseException] = []

        def upload(kb, login):
            try:
                push(kb, login, "together")
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [
            threading.Thread(target=upload, args=(one, first)),
            threading.Thread(target=upload, args=(two, second)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        expected = sum(d.chunks for d in one.documents()) + sum(d.chunks for d in two.documents())
    with SharedCollection.open(owner, "together", data_dir=tmp_path / "o") as shared:
        assert len(shared.documents()) == 3
        assert sum(d.chunks for d in shared.documents()) == expected
        assert shared.search("手术后多久可以洗澡", 1)[0].document == "术后护理须知.pdf"
        assert shared.search("amlodipine dose", 1)[0].document == "hypertension.pdf"


def test_a_reader_cannot_push_and_a_stranger_cannot_open(local_clinic, new_login, tmp_path):
    importer, reader, stranger = new_login("importer", may_create=True), new_login(), new_login()
    push(local_clinic, importer)
    admin.set_access(importer, local_clinic.name, reader.login, "read")
    with pytest.raises(AccessDenied, match="may read the shared collection .* but not add to it"):
        push(local_clinic, reader)
    with pytest.raises(AccessDenied, match="may not read a shared collection named"):
        SharedCollection.open(stranger, local_clinic.name, data_dir=tmp_path)
    with pytest.raises(AccessDenied, match="may not create shared collections"):
        push(local_clinic, stranger, "a-new-one")
    other_admin = new_login("admin", may_create=True)  # may create, but not take another's
    with pytest.raises(AccessDenied, match="exists, and this login may not add to it"):
        push(local_clinic, other_admin)


def test_the_assistant_answers_from_a_shared_collection_with_citations(
    local_clinic, new_login, small_model, tmp_path
):
    from kbdesk.core.assistant import NEW_CHAT, Assistant, ModelCache
    from kbdesk.core.settings import Settings
    from kbdesk.core.types import AnswerOutcome

    importer, reader = new_login("importer", may_create=True), new_login("reader")
    push(local_clinic, importer)
    admin.set_access(importer, local_clinic.name, reader.login, "read")
    settings = Settings(model=str(small_model), passages=3, temperature=0.0)
    models = ModelCache(small_model.parent)
    question = "How much is the security deposit?"
    local = Assistant(local_clinic, settings, models).ask(question).answer
    with SharedCollection.open(reader, local_clinic.name, data_dir=tmp_path / "pc") as shared:
        assistant = Assistant(shared, settings, models)
        reply = assistant.ask(question, chat=NEW_CHAT)
        answer = reply.answer
        # the same passages reach the same model: the same answer, the same citations
        assert answer.answer == local.answer and answer.outcome == local.outcome
        assert [(c.document, c.page, c.text, c.quote) for c in answer.citations] == [
            (c.document, c.page, c.text, c.quote) for c in local.citations
        ]
        assert any(c.document == "lease.pdf" and c.page == 3 for c in answer.citations)
        for citation in answer.citations:  # a click opens this PC's copy of the original
            assert shared.original(citation.doc_id) == Path(citation.path)
        # the chat is kept on this PC, not on the server
        assert [a.question for a in shared.chats().answers(reply.chat_id)] == [question]
        elsewhere = assistant.ask("What is the capital of Australia?").answer
        assert elsewhere.outcome is AnswerOutcome.NOT_IN_DOCUMENTS
