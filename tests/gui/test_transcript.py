"""Chat HTML: valid markers become links, declines look different, copy carries the sources."""

from __future__ import annotations

from kbdesk.core.types import Answer, Citation, Hit
from kbdesk.gui.transcript import Turn, plain_with_sources, transcript_html, turn_html

CITE = Citation(2, 11, 1, "lease.pdf", "/d/lease.pdf", 3, "The deposit is returned within 30 days.")


def test_valid_markers_become_links_and_others_stay_text():
    answer = Answer("q", "Returned within 30 days [2]. Also [7].", (CITE,), supported=True)
    html = turn_html(0, Turn("q", answer=answer))
    assert 'href="cite:0:2">[2]</a>' in html
    assert "[7]" in html and "cite:0:7" not in html
    assert "lease.pdf, p. 3" in html and "copy:0" in html


def test_not_in_documents_is_styled_with_nearest_passages():
    hit = Hit(1, 0.3, 5, 1, "lease.pdf", "/d/lease.pdf", 2, "Rent is 8,400 dollars.")
    answer = Answer("q", "The documents do not contain the answer.", nearest=(hit,))
    html = turn_html(1, Turn("q", answer=answer))
    assert 'class="nid"' in html and "Not in your documents" in html
    assert 'href="near:1:0"' in html


def test_streaming_turn_and_stop_and_escape():
    assert "▍" in turn_html(0, Turn("<b>q</b>", streamed="partial"))
    assert "&lt;b&gt;q&lt;/b&gt;" in turn_html(0, Turn("<b>q</b>"))
    assert "(stopped)" in turn_html(0, Turn("q", streamed="half", stopped=True))
    assert "Ctrl+Enter" in transcript_html([], "Press <b>Ctrl+Enter</b>")


def test_copy_includes_each_source():
    answer = Answer("q", "Returned within 30 days [2].", (CITE,), supported=True)
    text = plain_with_sources(answer)
    assert text.startswith("Returned within 30 days [2].")
    assert '[2] lease.pdf, page 3: "The deposit is returned within 30 days."' in text
