"""What the model reads: a page's other passages and the passage after a bare heading reach the
prompt, merged without the chunker's overlap repeated; the list for people keeps one per page;
and the sentence windows keep what answers within a token budget."""

from __future__ import annotations

from kbdesk.core.embed import create_embedder
from kbdesk.core.generate.evidence_windows import GAP, evidence_windows
from kbdesk.core.generate.prompt import passage_text
from kbdesk.core.kb import KnowledgeBase
from kbdesk.core.search.answer_context import ContextOptions, answer_context, merged_text
from kbdesk.core.search.searcher import one_per_page
from kbdesk.core.store.catalog import ChunkRow
from kbdesk.core.types import Hit
from tests.helpers import make_pdf

# One page whose sections are several passages at a small chunk size: the heading of section 3
# closes a passage, and its body (the answer) is the next one.
POLICY_PAGE = (
    "1. Scope. This policy applies to every employee of Northwind Clinics, including part-time "
    "staff and locums, and to contractors who work on clinic premises for more than a month.\n"
    "2. Working hours. The clinic opens at seven in the morning and closes at eight in the "
    "evening; each employee agrees a schedule with the practice manager every quarter.\n"
    "3. Remote work.\n"
    "Staff may work from home on two days a week when their role allows it. Patient records "
    "are opened only through the clinic's encrypted remote desktop, never on personal laptops.\n"
    "4. Expenses. Travel between clinics is reimbursed at the standard mileage rate when it is "
    "approved in advance by the practice manager."
)
OTHER_PAGE = (
    "Annex. Holiday requests are made through the staff portal at least four weeks in advance. "
    "The practice manager answers every request within five working days."
)


def kb_with_small_chunks(data_dir, docs_dir) -> KnowledgeBase:
    """The policy beside the usual lease, guideline and Chinese leaflet."""
    make_pdf(docs_dir / "policy.pdf", [POLICY_PAGE, OTHER_PAGE])
    kb = KnowledgeBase.open(data_dir, embedder="use-multilingual", chunk_size=220, chunk_overlap=60)
    assert kb.import_paths([docs_dir]).ok
    return kb


def policy_passages(kb: KnowledgeBase) -> list[ChunkRow]:
    doc = next(d for d in kb.documents() if d.name == "policy.pdf")
    rows = kb.catalog.chunks(kb.catalog.chunk_ids_of_documents([doc.id])).values()
    return sorted(rows, key=lambda r: r.ordinal)


def test_the_passage_after_a_bare_heading_and_a_pages_other_passages_are_read(data_dir, docs_dir):
    with kb_with_small_chunks(data_dir, docs_dir) as kb:
        rows = policy_passages(kb)
        heading = next(r for r in rows if r.text.endswith("3. Remote work."))
        expenses = next(r for r in rows if r.text.startswith("4. Expenses."))
        annex = next(r for r in rows if r.page == 2)
        # the page's best passage ends with the bare heading; another of its passages scores too
        ranked = [(heading.id, 0.9), (annex.id, 0.8), (expenses.id, 0.7)]
        people = one_per_page(ranked, kb.catalog.chunks([c for c, _ in ranked]))
        read = answer_context(ranked, kb.catalog, ContextOptions(pages=6))
    assert [c for c, _ in people] == [heading.id, annex.id]  # the list: one per page
    first = read[0]
    assert (first.page, first.chunk_id) == (1, rows[heading.ordinal - 1].id)
    # the body after the heading (the next passage) and the page's other scoring passage,
    # merged into one block, the overlap between passages not repeated
    assert "encrypted remote desktop" in first.text and "standard mileage rate" in first.text
    assert first.text.count("3. Remote work.") == 1
    assert [h.page for h in read] == [1, 2]


def test_kb_answer_context_reads_more_of_a_page_than_the_list(data_dir, docs_dir):
    question = "Can staff work from home, and how do they open patient records there?"
    with kb_with_small_chunks(data_dir, docs_dir) as kb:
        listed = kb.search(question, k=6)
        read = kb.answer_context(question, pages=6)
    assert len({(h.document, h.page) for h in listed}) == len(listed)
    top = [h for h in listed if h.document == "policy.pdf" and h.page == 1][0]
    block = next(h for h in read if h.document == "policy.pdf" and h.page == 1)
    assert top.text in block.text and len(block.text) > len(top.text)


def row(cid: int, ordinal: int, start: int, end: int, page_text: str) -> ChunkRow:
    return ChunkRow(cid, 1, ordinal, 1, start, end, (), page_text[start:end], "a.pdf", "/a.pdf")


def test_adjacent_passages_merge_by_their_offsets_on_the_page():
    page = "Alpha one. Beta two. Gamma three. Delta four."
    first, overlapping, apart = (
        row(1, 0, 0, 20, page),
        row(2, 1, 11, 33, page),
        row(3, 2, 34, 45, page),
    )
    assert merged_text([first, overlapping]) == "Alpha one. Beta two. Gamma three."
    assert merged_text([first, overlapping, apart]) == page.replace("three. ", "three.\n")


def test_sentence_windows_keep_the_answer_and_its_heading_within_the_budget(data_dir, docs_dir):
    question = "How do staff open patient records when working from home?"
    checker = create_embedder("use-multilingual")

    def words(text: str) -> int:
        return len(text.split())

    with kb_with_small_chunks(data_dir, docs_dir) as kb:
        blocks = kb.answer_context(question, pages=6)
    full = sum(words(h.text) for h in blocks)
    chosen = evidence_windows(blocks, question, checker, 45, words)
    read = [passage_text(h) for h in chosen]
    assert sum(words(t) + 1 for t in read) <= 45 + len(read) * 3 < full
    assert any("encrypted remote desktop" in t for t in read)
    assert any(GAP.strip() in t for t in read)  # something was left out, and says so
    # citations and highlighting keep the whole passage
    assert all(h.text in {b.text for b in blocks} for h in chosen)


def test_sentence_windows_never_read_a_pages_furniture_or_one_sentence_twice():
    # A running header holds the document's title, which the question names: it ranked above
    # every sentence of the text on the real corpus and took the budget.
    question = "When did A Brief History of Debian say Debian 1.1 was released?"
    header = "A Brief History of Debian 6 / 21"
    body = "Debian 1.1 was released in June 1996 with 474 packages."
    contents = "4.1. Debian 1.1 Buzz ........ 6"
    blocks = [
        Hit(1, 1.0, 1, 9, "history.pdf", "/d/history.pdf", 6, f"{header}\n{contents}\n{body}"),
        Hit(2, 0.9, 2, 9, "history.pdf", "/d/history.pdf", 7, f"{header}\n{body}"),
    ]
    checker = create_embedder("use-multilingual")
    chosen = evidence_windows(blocks, question, checker, 200, lambda text: len(text.split()))
    read = "\n".join(passage_text(h) for h in chosen)
    assert body in read and read.count(body) == 1  # the second page only repeats it
    assert header not in read and contents not in read


def test_of_two_like_sentences_the_one_from_the_place_search_ranked_higher_is_read_first():
    # Two drafts say nearly the same thing; search, which read the whole passage and its
    # heading, ranked one far above the other. With room for one sentence, the prompt reads
    # the sentence of the place search put first, whichever draft that is; the higher-ranked
    # block comes second in the list so that list order cannot decide it.
    question = "How many days' notice must the tenant give before moving out?"
    thirty = "The tenant must give thirty days' notice before moving out."
    sixty = "The tenant must give sixty days' notice before moving out."
    checker = create_embedder("use-multilingual")
    for low, high in ((thirty, sixty), (sixty, thirty)):
        blocks = [
            Hit(1, 0.1, 1, 1, "draft-1.pdf", "/d/draft-1.pdf", 2, low),
            Hit(2, 0.1, 2, 1, "draft-1.pdf", "/d/draft-1.pdf", 3, "Annex A lists the keys."),
            Hit(3, 2.5, 3, 2, "draft-2.pdf", "/d/draft-2.pdf", 2, high),
        ]
        chosen = evidence_windows(blocks, question, checker, 11, lambda t: len(t.split()), 0)
        assert [passage_text(h) for h in chosen] == [high]


def test_a_place_search_ranked_higher_never_outweighs_the_sentence_that_answers():
    question = "How many days' notice must the tenant give before moving out?"
    answer = "The tenant must give thirty days' notice before moving out."
    checker = create_embedder("use-multilingual")
    blocks = [
        Hit(1, 2.5, 1, 1, "lease.pdf", "/d/lease.pdf", 1, "The parking space is number 14."),
        Hit(2, 0.1, 2, 1, "lease.pdf", "/d/lease.pdf", 4, answer),
        Hit(3, 0.1, 3, 1, "lease.pdf", "/d/lease.pdf", 5, "Annex A lists the keys."),
    ]
    chosen = evidence_windows(blocks, question, checker, 11, lambda t: len(t.split()), 0)
    assert [passage_text(h) for h in chosen] == [answer]
