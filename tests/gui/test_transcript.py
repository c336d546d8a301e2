"""Chat HTML: valid markers become links, declines look different, copy carries the sources."""

from __future__ import annotations

import pytest

from kbdesk.core.types import Answer, AnswerOutcome, Citation, Hit
from kbdesk.gui.transcript import (
    OUTCOME_BOX,
    Turn,
    plain_with_sources,
    transcript_html,
    turn_html,
)

CITE = Citation(2, 11, 1, "lease.pdf", "/d/lease.pdf", 3, "The deposit is returned within 30 days.")


def test_valid_markers_become_links_and_others_stay_text():
    answer = Answer("q", "Returned within 30 days [2]. Also [7].", AnswerOutcome.ANSWERED, (CITE,))
    html = turn_html(0, Turn("q", answer=answer))
    assert 'href="cite:0:2">[2]</a>' in html
    assert "[7]" in html and "cite:0:7" not in html
    assert "lease.pdf, p. 3" in html and "copy:0" in html


def test_an_answer_says_which_adapter_produced_it():
    plain = Answer("q", "Within 30 days [2].", AnswerOutcome.ANSWERED, (CITE,))
    adapted = Answer("q", "Within 30 days [2].", AnswerOutcome.ANSWERED, (CITE,), adapter="leases")
    assert "adapter" not in turn_html(0, Turn("q", answer=plain))
    assert "Answered with the adapter “leases”." in turn_html(0, Turn("q", answer=adapted))


def test_not_in_documents_is_styled_with_nearest_passages():
    hit = Hit(1, 0.3, 5, 1, "lease.pdf", "/d/lease.pdf", 2, "Rent is 8,400 dollars.")
    answer = Answer(
        "q",
        "The documents do not contain the answer.",
        AnswerOutcome.NOT_IN_DOCUMENTS,
        nearest=(hit,),
    )
    html = turn_html(1, Turn("q", answer=answer))
    assert 'class="nid"' in html and "Not in your documents" in html
    assert 'href="near:1:0"' in html


def test_a_nearest_passage_is_shown_from_its_text_not_its_running_header():
    text = "Debian New Maintainers’ Guide 7 / 57\n2.2 Choose your program\nYou have probably chosen"
    hit = Hit(1, 0.3, 5, 1, "maint-guide.en.pdf", "/d/maint-guide.en.pdf", 13, text)
    answer = Answer("q", "Not there.", AnswerOutcome.NOT_IN_DOCUMENTS, nearest=(hit,))
    html = turn_html(0, Turn("q", answer=answer))
    assert "— 2.2 Choose your program You have probably chosen" in html
    assert "7 / 57" not in html


def test_streaming_turn_and_stop_and_escape():
    assert "▍" in turn_html(0, Turn("<b>q</b>", streamed="partial"))
    assert "&lt;b&gt;q&lt;/b&gt;" in turn_html(0, Turn("<b>q</b>"))
    assert "(stopped)" in turn_html(0, Turn("q", streamed="half", stopped=True))
    assert "Ctrl+Enter" in transcript_html([], "Press <b>Ctrl+Enter</b>")


def test_copy_includes_each_source():
    answer = Answer("q", "Returned within 30 days [2].", AnswerOutcome.ANSWERED, (CITE,))
    text = plain_with_sources(answer)
    assert text.startswith("Returned within 30 days [2].")
    assert '[2] lease.pdf, page 3: "The deposit is returned within 30 days."' in text


@pytest.mark.parametrize("outcome", list(AnswerOutcome))
def test_each_outcome_has_its_own_look(outcome):
    answer = Answer("q", "Some text.", outcome)
    html = turn_html(0, Turn("q", answer=answer))
    others = [css for o, (css, _) in OUTCOME_BOX.items() if o is not outcome]
    if outcome is AnswerOutcome.ANSWERED:
        assert outcome not in OUTCOME_BOX and 'class="a"' in html
    else:
        css, title = OUTCOME_BOX[outcome]
        assert f'class="{css}"' in html and title in html
    assert not any(f'class="{css}"' in html for css in others)


def test_a_refused_question_is_not_called_not_in_your_documents():
    answer = Answer("q" * 5000, "The question is too long.", AnswerOutcome.REFUSED)
    html = turn_html(0, Turn("q", answer=answer))
    assert "Not in your documents" not in html and "not sent" in html


PASSAGE = (
    "Section 9 Termination. Either party may terminate this lease by giving ninety days written "
    "notice. The security deposit of 25,200 dollars is returned within 30 days after the tenant "
    "vacates the premises."
)
QUOTE = "The security deposit of 25,200 dollars is returned within 30 days after the tenant vacates the premises."
QUOTED = Citation(
    1,
    11,
    1,
    "lease.pdf",
    "/d/lease.pdf",
    3,
    PASSAGE,
    quote=QUOTE,
    quote_spans=((PASSAGE.index("The security"), len(PASSAGE)),),
)


def test_the_snippet_under_an_answer_is_the_quote_not_the_start_of_the_passage():
    answer = Answer("q", "Within 30 days [1].", AnswerOutcome.ANSWERED, (QUOTED,))
    html = turn_html(0, Turn("q", answer=answer))
    assert f"lease.pdf, p. 3 — {QUOTE}</span>" in html  # whole: it is shorter than the limit
    assert "Section 9" not in html and "ninety days" not in html
    assert f'[1] lease.pdf, page 3: "{QUOTE}"' in plain_with_sources(answer)


def test_a_citation_saved_without_a_quote_shows_the_start_of_its_passage():
    answer = Answer("q", "Within 30 days [2].", AnswerOutcome.ANSWERED, (CITE,))
    assert "lease.pdf, p. 3 — The deposit is returned within 30 days." in turn_html(
        0, Turn("q", answer=answer)
    )
