"""Chunking: settings, section text joins, sentence units, packing, overlap, offsets and speed."""

from __future__ import annotations

import random
import time

import pytest

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.ingest import ChunkSettings, chunk_document, section_texts, text_weight
from kbdesk.core.types import ParsedDocument, Segment


def pdf_doc(pages: list[list[str]], *, para_every: int = 4) -> ParsedDocument:
    """Line segments per page, a paragraph ending every `para_every` lines, with fake boxes."""
    segs = []
    for p, lines in enumerate(pages, start=1):
        for i, line in enumerate(lines):
            end = (i + 1) % para_every == 0 or i == len(lines) - 1
            segs.append(
                Segment(line, page=p, bbox=(10.0, 10.0 * i, 500.0, 10.0 * i + 9), para_end=end)
            )
    return ParsedDocument(path="x.pdf", kind="pdf", segments=tuple(segs), pages=len(pages))


def flat_doc(paragraphs: list[str]) -> ParsedDocument:
    return ParsedDocument(path="x.txt", kind="txt", segments=tuple(Segment(p) for p in paragraphs))


def check_invariants(doc: ParsedDocument, cfg: ChunkSettings) -> list:
    chunks = chunk_document(doc, cfg)
    sections = section_texts(doc)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered: dict = {k: [False] * len(v) for k, v in sections.items()}
    for c in chunks:
        section = sections[c.page]
        assert section[c.char_start : c.char_end] == c.text
        assert c.text and c.text == c.text.strip()
        assert text_weight(c.text) <= 1.25 * cfg.size
        for i in range(c.char_start, c.char_end):
            covered[c.page][i] = True
    for key, section in sections.items():
        missed = [
            ch
            for ch, cov in zip(section, covered[key], strict=True)
            if not cov and not ch.isspace()
        ]
        assert not missed, f"text of section {key} not in any chunk: {''.join(missed)[:50]!r}"
    return chunks


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [
        (50, 0, "chunk size (50) must be between 100 and 8000"),
        (9000, 0, "chunk size (9000) must be between 100 and 8000"),
        (1000, -1, "overlap (-1) must not be negative"),
        (1000, 600, "overlap (600) must be less than half the chunk size (1000)"),
        (1000, 500, "overlap (500) must be less than half the chunk size (1000)"),
        (1000.0, 10, "chunk size must be a whole number, not 1000.0"),
    ],
)
def test_settings_validation(size, overlap, message):
    with pytest.raises(InvalidSetting) as err:
        ChunkSettings(size=size, overlap=overlap)
    assert str(err.value) == message


def test_settings_defaults_and_bounds():
    assert ChunkSettings() == ChunkSettings(1000, 150)
    ChunkSettings(100, 49)
    ChunkSettings(8000, 0)


def test_text_weight_counts_ideographs_twice():
    assert text_weight("abc") == 3
    assert text_weight("中文ab。") == 2 * 2 + 2 + 1


# --- section text --------------------------------------------------------------------------


def test_section_joins():
    segs = (
        Segment("An exam-", 1, None, False),
        Segment("ple of well-", 1, None, False),
        Segment("Known words", 1, None, False),
        Segment("and 中文", 1, None, False),
        Segment("继续 here", 1, None, True),
        Segment("New paragraph.", 1, None, True),
        Segment("Page two.", 2, None, True),
    )
    doc = ParsedDocument(path="x.pdf", kind="pdf", segments=segs, pages=2)
    assert section_texts(doc) == {
        1: "An exam-ple of well- Known words and 中文继续 here\nNew paragraph.",
        2: "Page two.",
    }


def test_non_paginated_is_one_section():
    doc = flat_doc(["One.", "Two."])
    assert section_texts(doc) == {None: "One.\nTwo."}


def test_empty_document_has_no_chunks():
    assert chunk_document(flat_doc([])) == []


# --- packing -------------------------------------------------------------------------------


def test_small_document_is_one_chunk():
    doc = flat_doc(["Hello world.", "Second paragraph here."])
    (chunk,) = chunk_document(doc)
    assert chunk.text == "Hello world.\nSecond paragraph here."
    assert (chunk.char_start, chunk.page, chunk.boxes) == (0, None, ())


def test_overlap_repeats_tail_sentences():
    sentences = [f"Sentence number {i} is here." for i in range(60)]
    cfg = ChunkSettings(size=200, overlap=60)
    chunks = check_invariants(flat_doc([" ".join(sentences)]), cfg)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start < a.char_end, "consecutive chunks overlap"
        shared = a.text[b.char_start - a.char_start :]
        assert b.text.startswith(shared)
        assert 0 < text_weight(shared) <= 60
        assert b.char_start > a.char_start, "never repeats the whole previous chunk"
        assert text_weight(a.text) <= 200


def test_zero_overlap_tiles():
    doc = flat_doc([" ".join(f"Sentence {i} here." for i in range(100))])
    chunks = check_invariants(doc, ChunkSettings(size=150, overlap=0))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start >= a.char_end


def test_prefers_paragraph_breaks():
    paras = [" ".join(f"Para {p} sentence {i}." for i in range(6)) for p in range(12)]
    doc = flat_doc(paras)
    section = section_texts(doc)[None]
    chunks = check_invariants(doc, ChunkSettings(size=300, overlap=0))
    for c in chunks[:-1]:
        assert section[c.char_end] == "\n", f"chunk ends mid-paragraph: {c.text[-30:]!r}"


def test_chunks_never_cross_pages_and_carry_boxes():
    pages = [[f"Line {i} of page {p} says something." for i in range(30)] for p in range(1, 4)]
    doc = pdf_doc(pages)
    chunks = check_invariants(doc, ChunkSettings(size=300, overlap=50))
    for c in chunks:
        assert f"of page {c.page} " in c.text
        assert all(f"of page {p} " not in c.text for p in (1, 2, 3) if p != c.page)
        first_line = int(c.text.split()[1])
        assert c.boxes[0] == (10.0, 10.0 * first_line, 500.0, 10.0 * first_line + 9)
        assert len(set(c.boxes)) == len(c.boxes)
    assert {c.page for c in chunks} == {1, 2, 3}


def test_chinese_splits_at_sentence_punctuation():
    sentences = [f"这是关于检索增强生成的第{i}个句子。" for i in range(40)]
    sentences[5] = "他说：“这句带引号！”"
    doc = flat_doc(["".join(sentences)])
    chunks = check_invariants(doc, ChunkSettings(size=150, overlap=30))
    assert len(chunks) > 4
    for c in chunks:
        assert c.text.endswith(("。", "”")) or c is chunks[-1]
        assert text_weight(c.text) <= 150


def test_long_unit_is_split():
    words = " ".join(f"word{i}" for i in range(600))  # no sentence punctuation at all
    cjk = "无标点的很长中文文本" * 100
    blob = "x" * 2500  # one giant token must still be cut
    cfg = ChunkSettings(size=200, overlap=20)
    for text in (words, cjk, blob):
        chunks = check_invariants(flat_doc([text]), cfg)
        assert len(chunks) >= text_weight(text) // 200
        assert all(text_weight(c.text) <= 200 for c in chunks)
    for c in chunk_document(flat_doc([words]), cfg):
        assert not c.text.endswith(("word", "wor")), "English is cut at whitespace"


def test_tiny_tail_merges_into_previous():
    cfg = ChunkSettings(size=150, overlap=0)
    head = "A" * 95 + ". " + "B" * 48 + ". "  # 147 units of weight: full
    merged = check_invariants(flat_doc([head + "C" * 9 + "."]), cfg)
    assert len(merged) == 1 and merged[0].text.endswith("CCC.")
    assert text_weight(merged[0].text) > cfg.size
    kept = check_invariants(flat_doc([head + "C" * 39 + "."]), cfg)
    assert len(kept) == 2 and kept[1].text == "C" * 39 + "."


def test_ordinals_span_sections():
    pages = [[f"Page {p} line {i}." for i in range(40)] for p in range(1, 4)]
    chunks = check_invariants(pdf_doc(pages), ChunkSettings(size=120, overlap=20))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)


ALPHABET = (
    ["the", "knowledge", "base", "answers", "offline", "well-", "known", "exam-", "ple", "3.14"]
    + list("知识库检索生成回答问题")
    + [". ", "! ", "? ", "。", "！", "？", "；", "……", "”", "」", "\u3000", "  ", "\t"]
)


@pytest.mark.parametrize("seed", range(40))
def test_random_mixed_text_invariants(seed):
    rng = random.Random(seed)

    def line() -> str:
        n = rng.randint(1, 40)
        parts = [rng.choice(ALPHABET) + (" " if rng.random() < 0.6 else "") for _ in range(n)]
        return "".join(parts).strip() or "x"

    size = rng.choice([100, 150, 300, 1000])
    cfg = ChunkSettings(size=size, overlap=rng.randint(0, size // 2 - 1))
    if seed % 2:
        pages = [[line() for _ in range(rng.randint(0, 30))] for _ in range(rng.randint(1, 4))]
        doc = pdf_doc(pages, para_every=rng.randint(1, 6))
    else:
        doc = flat_doc([line() + " " + line() for _ in range(rng.randint(1, 40))])
    check_invariants(doc, cfg)


def test_chunking_500_pages_is_fast():
    rng = random.Random(0)
    vocab = "retrieval augmented generation grounds answers in documents offline".split()
    pages = [
        [
            " ".join(rng.choice(vocab) for _ in range(9)) + rng.choice([".", ",", ""])
            for _ in range(50)
        ]
        for _ in range(500)
    ]
    doc = pdf_doc(pages, para_every=8)
    assert len(doc.segments) == 25_000
    start = time.perf_counter()
    chunks = chunk_document(doc)
    elapsed = time.perf_counter() - start
    assert len(chunks) > 1000
    assert elapsed < 1.0, f"chunking 25k lines took {elapsed:.2f}s"


def heading_doc(heading: str, before: list[str], after: list[str]) -> ParsedDocument:
    def para(lines: list[str], top: int) -> list[Segment]:
        return [
            Segment(
                line,
                page=1,
                bbox=(10.0, 10.0 * (top + i), 500.0, 10.0 * (top + i) + 9),
                para_end=i == len(lines) - 1,
            )
            for i, line in enumerate(lines)
        ]

    segs = para(before, 0) + para([heading], len(before)) + para(after, len(before) + 1)
    return ParsedDocument(path="x.pdf", kind="pdf", segments=tuple(segs), pages=1)


@pytest.mark.parametrize(
    ("size", "heading", "before", "after"),
    [
        (
            200,
            "Section 4 Rent",
            [
                "The premises are Suite 400 at 12 Wharf Street in the harbour district of the city.",
                "The agreement begins on 1 March 2025 and runs for five years from that date.",
            ],
            [
                "The monthly rent is 8,400 dollars, payable on the first business day of each month.",
                "A late fee of 5 percent applies to any payment received after the tenth day.",
            ],
        ),
        (
            120,
            "第三条 押金",
            ["本合同的租赁期限为五年，自二〇二五年三月一日起算，到期前三个月双方协商续租事宜。"],
            ["租户应在签约时支付押金二万五千元，租期届满且无损坏的，押金在三十日内退还。"],
        ),
    ],
)
def test_a_chunk_never_ends_with_a_bare_heading(size, heading, before, after):
    cfg = ChunkSettings(size=size, overlap=40)
    chunks = check_invariants(heading_doc(heading, before, after), cfg)
    assert len(chunks) >= 2
    assert not any(c.text.endswith(heading) for c in chunks)
    body = next(c for c in chunks if after[0][:10] in c.text)
    assert body.text.startswith(heading)  # the heading opens its body's chunk


def test_each_chunk_carries_the_numbered_headings_it_sits_under_across_pages():
    pages = [
        (1, ["1. Definitions", "2024 was the year the building opened."]),
        (1, ["The Tenant is the company that signs. " * 5, "2. Rent"]),
        (1, ["2.1 Amount", "The rent is 8,400 dollars a month. " * 8]),
        (2, ["The rent is paid in advance. " * 6, "2.2 Late fee"]),
        (2, ["A late fee of 5 percent applies. " * 6]),
        (2, ["1. Appoint Delegates or delegate decisions to the Technical Committee."]),
        (2, ["Section 3 Termination"]),
        (2, ["Either party may end the lease with ninety days notice. " * 4]),
    ]
    doc = ParsedDocument(
        "x.pdf",
        "pdf",
        tuple(Segment(t.strip(), page=p) for p, paras in pages for t in paras),
        pages=2,
    )
    chunks = chunk_document(doc, ChunkSettings(size=300, overlap=0))
    assert not any(c.text.endswith("2. Rent") for c in chunks)  # "2." is no sentence
    where = {c.text.split("\n")[-1][:20]: c.section for c in chunks}
    assert chunks[0].section == "1. Definitions"  # its own opening heading
    assert where["The rent is 8,400 do"] == "2. Rent › 2.1 Amount"
    assert any(c.page == 2 and c.section == "2. Rent › 2.1 Amount" for c in chunks)  # goes on
    assert any(c.section == "2. Rent › 2.2 Late fee" for c in chunks)
    # a numbered sentence of a list and a year open no section
    assert chunks[-1].section == "Section 3 Termination"
    assert not any("Appoint" in c.section or "2024" in c.section for c in chunks)


def test_chinese_articles_nest_under_their_chapter():
    paras = ["第一章 总则", "本合同适用于房屋租赁。" * 6, "第三条 租金", "月租金为八千元。" * 10]
    doc = ParsedDocument("a.txt", "txt", tuple(Segment(t) for t in paras))
    chunks = chunk_document(doc, ChunkSettings(size=200, overlap=0))
    assert chunks[0].section == "第一章 总则"
    assert chunks[-1].section == "第一章 总则 › 第三条 租金"


def test_a_heading_inside_a_page_s_last_chunk_goes_on_to_the_next_page():
    segs = [
        Segment("1. Scope", page=1),
        Segment("This lease covers the premises. " * 3, page=1),
        Segment("2. Rent", page=1),
        Segment("Rent is due monthly.", page=1),
        Segment("It is paid in advance by bank transfer. " * 3, page=2),
    ]
    doc = ParsedDocument("x.pdf", "pdf", tuple(segs), pages=2)
    first, second = chunk_document(doc, ChunkSettings(size=1000, overlap=0))
    assert (first.section, second.section) == ("1. Scope", "2. Rent")
