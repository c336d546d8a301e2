"""Files added straight to a shared collection: read and embedded on the PC, uploaded, searchable
by another login; a broken file is named and the rest still arrive; a reader is refused before
any file is read; nothing waits in the staging collection once the server has it."""

from __future__ import annotations

import pytest

from kbdesk.core.errors import AccessDenied
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.paths import AppPaths
from kbdesk.core.server import admin
from kbdesk.core.server.add_files import STAGING_NAME, add_files, staging_folder
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.server.push import push
from kbdesk.core.types import Stage
from tests.helpers import GUIDE_PAGES, LEASE_PAGES, make_pdf


def test_files_added_to_a_shared_collection_are_found_by_another_login(
    local_clinic, new_login, data_dir, tmp_path
):
    writer, reader = new_login("writer", may_create=True), new_login("reader")
    name = f"firm-{writer.login}"
    push(local_clinic, writer, name)
    admin.set_access(writer, name, reader.login, "read")
    drop = tmp_path / "drop"
    make_pdf(drop / "sublease.pdf", [p.replace("Bluefin", "Marlin") for p in LEASE_PAGES])
    make_pdf(drop / "guide" / "follow-up.pdf", GUIDE_PAGES[2:])
    (drop / "broken.pdf").write_bytes(b"%PDF-1.7 not really")

    report = add_files(writer, name, [drop], data_dir=data_dir)
    assert sorted(report.uploaded.added) == ["follow-up.pdf", "sublease.pdf"]
    assert [r.path for r in report.imported.failed] == [str(drop / "broken.pdf")]
    summary = report.summary()
    assert summary.startswith(f"Added 2 documents to the shared collection '{name}'")
    assert "1 not added (broken.pdf could not be opened" in summary
    # the staging collection keeps only what the server does not have
    staging = staging_folder(AppPaths.resolve(data_dir), writer, name)
    with KnowledgeBase.open(staging, STAGING_NAME, create=False) as kb:
        assert [d.status for d in kb.documents()] == ["failed"]
    assert STAGING_NAME not in AppPaths.resolve(data_dir).collection_names()  # never listed

    with SharedCollection.open(reader, name, data_dir=tmp_path / "reader") as shared:
        hit = shared.search("Which company is the tenant of the sublease?", 1)[0]
        assert hit.document == "sublease.pdf" and "Marlin" in hit.text
        assert len(shared.documents()) == len(local_clinic.documents()) + 2

    # adding the same files again duplicates nothing
    again = add_files(writer, name, [drop / "sublease.pdf"], data_dir=data_dir)
    assert again.uploaded.added == [] and again.uploaded.skipped == ["sublease.pdf"]


def test_a_reader_is_refused_before_any_file_is_read(local_clinic, new_login, data_dir, tmp_path):
    writer, reader = new_login("writer", may_create=True), new_login("reader")
    name = f"firm-{writer.login}"
    push(local_clinic, writer, name)
    admin.set_access(writer, name, reader.login, "read")
    pdf = make_pdf(tmp_path / "memo.pdf", LEASE_PAGES[:1])
    with pytest.raises(AccessDenied, match="may read the shared collection .* but not add to it"):
        add_files(reader, name, [pdf], data_dir=data_dir)
    with pytest.raises(AccessDenied, match="may not read a shared collection named"):
        add_files(reader, "nobody-shared-this", [pdf], data_dir=data_dir)
    assert not AppPaths.resolve(data_dir).shared_staging_dir.exists()


def test_a_file_whose_upload_failed_stays_staged_beside_one_of_the_same_name_that_arrived(
    local_clinic, new_login, data_dir, tmp_path
):
    writer = new_login("writer", may_create=True)
    name = f"firm-{writer.login}"
    push(local_clinic, writer, name)
    drop = tmp_path / "drop"
    first = make_pdf(drop / "2024" / "memo.pdf", LEASE_PAGES[:1])
    second = make_pdf(drop / "2025" / "memo.pdf", GUIDE_PAGES[:1])

    def change_the_second_once_uploading(progress):
        # the file changes after it was read and before it is uploaded: its upload fails
        if progress.stage == Stage.UPLOADING and second.read_bytes()[-1:] != b" ":
            second.write_bytes(second.read_bytes() + b" ")

    report = add_files(
        writer, name, [drop], data_dir=data_dir, progress=change_the_second_once_uploading
    )
    assert report.uploaded.added == ["memo.pdf"]
    assert [(doc, why.split(";")[0]) for doc, why in report.uploaded.failed] == [
        ("memo.pdf", "its original file changed since it was imported")
    ]
    staging = staging_folder(AppPaths.resolve(data_dir), writer, name)
    with KnowledgeBase.open(staging, STAGING_NAME, create=False) as kb:
        assert [d.path for d in kb.documents()] == [str(second.resolve())]
    assert report.uploaded.held == [str(first.resolve())]
