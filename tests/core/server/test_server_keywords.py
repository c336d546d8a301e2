"""The shared collection's keyword scores come from its postings table and equal the local
collection's BM25, common words grouped or not, numbered phrases and document filters included; a
document's removal removes its postings (dropping a collection: test_server_access.py)."""

from __future__ import annotations

import psycopg

from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.search.text import query_terms
from kbdesk.core.server import passages, push
from kbdesk.core.server.collection import SharedCollection
from kbdesk.core.store import catalog

# "monthly" is "monthli" to Porter's stemmer (FTS5's, and a shared collection's since schema 2),
# "month" to Snowball's English one (schema 1's).
QUESTIONS = [
    "How many days of notice terminate the lease, and when is the deposit returned?",
    "security deposit of 25,200 dollars returned to the tenant",
    "monthly rent payable on the first business day",
    "amlodipine dose for blood pressure",
    "手术后多久可以洗澡",
]


def _by_position(ranked: list[tuple[int, float]], rows) -> list[tuple]:
    """(document, passage ordinal, score) of ranked chunk ids: comparable across the two stores."""
    found = rows(i for i, _ in ranked)
    return [(found[i].document, found[i].ordinal, round(s, 6)) for i, s in ranked]


def _compare(
    kb, shared: SharedCollection, documents: list[str] | None = None, questions=QUESTIONS
) -> int:
    """Asserts equal rankings and scores for every question; returns how many had results."""
    local_ids = kb.catalog.doc_ids_for_names(documents) if documents else None
    remote_ids = shared.passages.doc_ids_for_names(documents) if documents else None
    answered = 0
    for question in questions:
        terms = query_terms(question)
        local = kb.catalog.keyword_ranked(terms, 20, local_ids)
        remote = shared.passages.keyword_ranked(terms, 20, remote_ids)
        assert _by_position(local, kb.catalog.chunks) == _by_position(
            remote, shared.passages.chunks
        ), question
        answered += bool(local)
    return answered


def test_keyword_scores_equal_the_local_ones_with_common_words_grouped(
    local_clinic, new_login, tmp_path, monkeypatch
):
    importer = new_login("importer", may_create=True)
    push.push(local_clinic, importer)
    with SharedCollection.open(importer, local_clinic.name, data_dir=tmp_path) as shared:
        assert _compare(local_clinic, shared) == len(QUESTIONS)
        # a budget of two passages groups the common words (all must match), as in a large
        # collection; both stores group the same terms
        monkeypatch.setattr(catalog, "KEYWORD_ROW_BUDGET", 2)
        monkeypatch.setattr(passages, "KEYWORD_ROW_BUDGET", 2)
        query = shared.passages._keyword_query(query_terms(QUESTIONS[0]))
        assert query is not None and any(grouped for *_, grouped in query.words)
        assert _compare(local_clinic, shared) >= 3
        assert _compare(local_clinic, shared, ["lease.pdf"]) >= 2
        # a numbered phrase counts as FTS5 counts it, not by its first word
        query = shared.passages._keyword_query(query_terms(QUESTIONS[1]))
        assert query is not None and [p[0] for p in query.phrases] == ["25 200"]


def test_a_numbered_phrase_counts_every_time_a_passage_holds_it(data_dir, tmp_path, new_login):
    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "releases.txt").write_text(
        "Release 1.2 fixed the installer. Release 1.2 also fixed printing, and 1.2 stays "
        "supported until 2027, as 1.1 did until 2025.",
        encoding="utf-8",
    )
    (docs / "history.txt").write_text("Release 1.2 came after release 1.1.", encoding="utf-8")
    for name, text in [
        ("printing.txt", "Printing works in every release."),
        ("installer.txt", "The installer asks for the disk to use."),
        ("support.txt", "Each release is supported for two years."),
        ("licence.txt", "The licence allows copying the program."),
    ]:
        (docs / name).write_text(text, encoding="utf-8")
    importer = new_login("importer", may_create=True)
    with KnowledgeBase.open(data_dir, "releases") as kb:
        assert kb.import_paths([docs]).ok
        push.push(kb, importer, f"releases-{importer.login}")
        with SharedCollection.open(
            importer, f"releases-{importer.login}", data_dir=tmp_path / "r"
        ) as shared:
            questions = ["What did release 1.2 fix?", "until when is 1.2 supported"]
            assert _compare(kb, shared, questions=questions) == 2
            [(_, repeated), (_, once)] = shared.passages.keyword_ranked(["1.2"], 2)
            assert repeated > once  # three times against once, as FTS5 counts it


def test_removing_a_document_removes_its_postings(local_clinic, new_login):
    importer = new_login("importer", may_create=True)
    push.push(local_clinic, importer)
    with psycopg.connect(importer.conninfo(), autocommit=True) as con:
        [(cid,)] = con.execute(
            "SELECT id FROM kbdesk.collections WHERE name = %s", (local_clinic.name,)
        ).fetchall()

        def postings(document: str) -> int:
            return con.execute(
                "SELECT count(*) FROM kbdesk.postings p JOIN kbdesk.documents d"
                " ON d.id = p.doc_id WHERE p.collection_id = %s AND d.name = %s",
                (cid, document),
            ).fetchone()[0]

        assert postings("lease.pdf") > 50 and postings("hypertension.pdf") > 50
        con.execute(
            "DELETE FROM kbdesk.documents WHERE collection_id = %s AND name = 'lease.pdf'", (cid,)
        )
        assert postings("lease.pdf") == 0 and postings("hypertension.pdf") > 50
