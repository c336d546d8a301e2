"""Quotes: the sentence(s) of a cited passage that support the claim citing it, verbatim, with spans."""

from __future__ import annotations

import pytest

from kbdesk.core.embed import create_embedder
from kbdesk.core.generate.answer_text import sentence_spans
from kbdesk.core.generate.citation_quotes import QUOTE_JOIN, claims_by_source, with_quotes
from kbdesk.core.generate.citations import (
    SUPPORT_THRESHOLD,
    WORDS_ONLY_THRESHOLD,
    check_citations,
)
from kbdesk.core.types import Answer, AnswerOutcome, Citation, Hit

TERMINATION = (
    "Either party may terminate this lease by giving ninety days written notice. "
    "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates. "
    "Keys are handed back at the building office on the last day."
)
RENT = (
    "Section 4 Rent.\nThe monthly rent is 8,400 dollars, payable on the first business day of each "
    "month. A late fee of 5 percent applies to any payment received after the tenth day of the "
    "month. Parking spaces are not included in the rent."
)
WOUND = (
    "伤口护理：手术后十四天内不要洗澡，保持伤口干燥。每两天更换一次敷料。"
    "如果伤口发红、渗液或发热超过三十八度，请立即就医。"
)


@pytest.fixture(scope="module")
def use():
    embedder = create_embedder("use-multilingual")
    embedder.warm_up()
    return embedder


@pytest.fixture(params=["embedder", "words only"])
def embedder(request, use):
    return use if request.param == "embedder" else None


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b, _ in sentence_spans(text)]


def _hits(*texts: str) -> list[Hit]:
    return [
        Hit(n, 1.0, 100 + n, 7, "lease.pdf", "/docs/lease.pdf", n + 2, text)
        for n, text in enumerate(texts, start=1)
    ]


def _quoted(answer: str, passages: list[str], embedder) -> dict[int, Citation]:
    checked = check_citations(answer, _hits(*passages), embedder)
    return {c.n: c for c in checked.citations}


def _verbatim(c: Citation) -> None:
    assert c.quote_spans and all(c.text[a:b].strip() == c.text[a:b] for a, b in c.quote_spans)
    assert c.quote == QUOTE_JOIN.join(c.text[a:b] for a, b in c.quote_spans)


def test_sentence_spans_are_the_splitters_sentences_at_their_places():
    spans = sentence_spans(RENT)
    assert [RENT[a:b] for a, b, _ in spans] == [
        "Section 4 Rent.",
        "The monthly rent is 8,400 dollars, payable on the first business day of each month.",
        "A late fee of 5 percent applies to any payment received after the tenth day of the month.",
        "Parking spaces are not included in the rent.",
    ]
    assert [s.body for *_, s in sentence_spans(WOUND)] == _sentences(WOUND)
    assert len(_sentences(WOUND)) == 3 and _sentences(WOUND)[1] == "每两天更换一次敷料。"


def test_only_the_second_sentence_supports_the_claim_so_it_is_the_quote(embedder):
    [first, second, third] = _sentences(TERMINATION)
    cited = _quoted(
        "The deposit of 25,200 dollars comes back within 30 days after the tenant moves out [1].",
        [TERMINATION],
        embedder,
    )
    assert cited[1].quote == second
    _verbatim(cited[1])
    assert cited[1].text == TERMINATION  # the passage itself stays whole


def test_chinese_claim_quotes_the_second_sentence(embedder):
    cited = _quoted("敷料需要每两天更换一次[1]。", [WOUND], embedder)
    assert cited[1].quote == "每两天更换一次敷料。"
    _verbatim(cited[1])


def test_english_claim_about_a_chinese_passage_quotes_the_sentence_it_restates(use):
    cited = _quoted("The wound dressing is changed every two days [1].", [WOUND], use)
    assert cited[1].quote == "每两天更换一次敷料。"


def test_a_claim_joining_two_facts_quotes_both_sentences_and_nothing_else(embedder):
    _, rent, late, _ = _sentences(RENT)
    cited = _quoted(
        "The rent is 8,400 dollars a month and a late fee of 5 percent applies after the tenth [1].",
        [RENT],
        embedder,
    )
    # next to each other: one span, verbatim from the start of one to the end of the other
    assert cited[1].quote == f"{rent} {late}" and len(cited[1].quote_spans) == 1


def test_two_claims_citing_one_passage_quote_both_their_sentences(embedder):
    first, _, third = _sentences(TERMINATION)
    cited = _quoted(
        "Either party can end the lease with ninety days written notice [1]. "
        "Keys are handed back at the building office on the last day [1].",
        [TERMINATION],
        embedder,
    )
    assert cited[1].quote == f"{first}{QUOTE_JOIN}{third}"
    _verbatim(cited[1])
    assert len(cited[1].quote_spans) == 2


def test_each_citation_gets_its_own_quote(embedder):
    cited = _quoted(
        "The monthly rent is 8,400 dollars [1]. The deposit of 25,200 dollars is returned "
        "within 30 days after the tenant vacates [2].",
        [RENT, TERMINATION],
        embedder,
    )
    assert cited[1].quote == _sentences(RENT)[1]
    assert cited[2].quote == _sentences(TERMINATION)[1]


def _citation(text: str, n: int = 1) -> Citation:
    return Citation(n, 10 + n, 7, "lease.pdf", "/docs/lease.pdf", 3, text)


def test_when_nothing_supports_the_claim_the_best_sentence_is_quoted():
    # "keys" and "office" alone: below the words-only threshold, yet the third sentence is closest
    [quoted] = with_quotes(
        [_citation(TERMINATION)],
        {1: ["Keys go back to the office."]},
        None,
        WORDS_ONLY_THRESHOLD,
    )
    assert quoted.quote == _sentences(TERMINATION)[2]
    _verbatim(quoted)


def test_a_quote_is_never_empty_when_the_passage_has_text(use):
    unrelated, no_claims, unpunctuated = with_quotes(
        [_citation(TERMINATION, 1), _citation(RENT, 2), _citation("Tenant   shall pay rent", 3)],
        {1: ["The moon is made of green cheese."], 3: ["Rent is paid by the tenant."]},
        use,
        SUPPORT_THRESHOLD,
    )
    assert unrelated.quote in _sentences(TERMINATION)
    assert no_claims.quote in _sentences(RENT)
    assert unpunctuated.quote == "Tenant   shall pay rent"  # verbatim, spaces and all
    for c in (unrelated, no_claims, unpunctuated):
        _verbatim(c)
    [empty] = with_quotes([_citation("  ")], {1: ["Anything."]}, use, SUPPORT_THRESHOLD)
    assert (empty.quote, empty.quote_spans) == ("", ())


def test_a_quote_is_never_the_pages_running_header(use):
    # The header shares the claim's words ("lease", "agreement"), and sat in the quote before.
    page = "Commercial Lease Agreement 3 / 6\n" + TERMINATION
    for claim in (
        "The Commercial Lease Agreement says the deposit is returned.",
        "The Commercial Lease Agreement on page 3 says either party may terminate.",
    ):
        [quoted] = with_quotes([_citation(page)], {1: [claim]}, use, SUPPORT_THRESHOLD)
        assert "3 / 6" not in quoted.quote and quoted.quote in _sentences(TERMINATION)
        _verbatim(quoted)


def test_an_answer_resting_on_a_contents_page_alone_is_not_verified(use):
    contents = (
        "5.14.2. /var/spool/lpd : Line-printer daemon print queues (optional) ........ 37\n"
        "5.14.3. /var/spool/rwho : Rwhod files (optional) ........ 38"
    )
    checked = check_citations(
        "The line-printer daemon print queues are kept in /var/spool/lpd [1].",
        _hits(contents),
        use,
    )
    assert not checked.supported and not checked.sentences[0].supported
    assert checked.citations[0].quote == ""  # nothing on the page is a sentence to quote
    body = "/var/spool/lpd holds the line-printer daemon print queues, one folder per printer."
    checked = check_citations(
        "The line-printer daemon print queues are kept in /var/spool/lpd [1].", _hits(body), use
    )
    assert checked.supported  # the same claim, on the page that states it


def test_claims_are_read_from_the_answers_markers():
    answer = "Rent is 8,400 dollars [1]. It is due monthly [1][2].\n- Late fees apply [2]."
    assert claims_by_source(answer) == {
        1: ["Rent is 8,400 dollars.", "It is due monthly."],
        2: ["It is due monthly.", "Late fees apply."],
    }


def test_the_json_contract_keeps_its_fields_and_gains_the_quote_and_section(use):
    cited = _quoted(
        "The deposit of 25,200 dollars is returned within 30 days after the tenant vacates [1].",
        [TERMINATION],
        use,
    )
    answer = Answer("When?", "Within 30 days [1].", AnswerOutcome.ANSWERED, (cited[1],))
    [data] = answer.to_json()["citations"]
    assert data == {
        "n": 1,
        "document": "lease.pdf",
        "path": "/docs/lease.pdf",
        "page": 3,
        "section": "",
        "text": TERMINATION,
        "quote": _sentences(TERMINATION)[1],
    }
