"""Turns a conversation into the HTML the chat pane shows: answers, citation links, sources.

Pure functions over core records (no widgets), so the rendering is testable on its own. Links
use the schemes `cite:<turn>:<n>`, `near:<turn>:<i>` and `copy:<turn>`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from kbdesk.core.generate.faithfulness import without_page_furniture
from kbdesk.core.types import Answer, AnswerOutcome, source_place

_MARKER = re.compile(r"\[(\d{1,3})\]")

STYLE = """
<style>
  body { font-size: 10.5pt; }
  .q { background: #e8eef8; color: #0c2340; padding: 6px 10px; margin: 10px 0 4px 60px; }
  .a { padding: 4px 2px; margin: 2px 60px 2px 0; }
  .nid { background: #fff4df; color: #4a3500; border-left: 4px solid #d08a00; padding: 6px 10px; }
  .nidtitle { font-weight: bold; color: #8a5a00; }
  .unv { background: #fdecea; color: #4a1410; border-left: 4px solid #c5221f; padding: 6px 10px; }
  .unvtitle { font-weight: bold; color: #a50e0e; }
  .ref { background: #f1f3f4; color: #303030; border-left: 4px solid #80868b; padding: 6px 10px; }
  .reftitle { font-weight: bold; color: #5f6368; }
  .quote { background: #f3f0fb; color: #2a1d4d; border-left: 4px solid #7e57c2; padding: 6px 10px; }
  .quotetitle { font-weight: bold; color: #5e35b1; }
  .nodocs { background: #eef3fd; color: #17264d; border-left: 4px solid #5b7fd6; padding: 6px 10px; }
  .nodocstitle { font-weight: bold; color: #3452a4; }
  .notice { color: #6b6b6b; font-size: 9pt; }
  .src { color: #404040; font-size: 9pt; }
  .err { color: #a11; }
  a.cite { color: #0b57d0; text-decoration: none; font-weight: bold; }
  .tools { font-size: 9pt; }
</style>
"""


@dataclass
class Turn:
    """One question and its answer, streaming or final."""

    question: str
    streamed: str = ""
    answer: Answer | None = None
    error: str | None = None
    stopped: bool = False
    busy_note: str = ""  # e.g. "Loading the model…"
    extra: dict = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.answer is not None or self.error is not None or self.stopped


def _text_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def answer_html(turn_index: int, answer: Answer) -> str:
    """The answer text with every valid [n] turned into a link to its citation."""
    valid = {c.n for c in answer.citations}

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in valid:
            return m.group(0)
        return f'<a class="cite" href="cite:{turn_index}:{n}">[{n}]</a>'

    return _MARKER.sub(link, _text_html(answer.answer))


def _place(document: str, page: int | None) -> str:
    return html.escape(document) + (f", p. {page}" if page else "")


QUOTE_LIMIT = 280  # a quote is the evidence itself: longer than a passage's opening words


def _snippet(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return html.escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def turn_html(index: int, turn: Turn) -> str:
    parts = [f'<div class="q">{_text_html(turn.question)}</div>']
    answer = turn.answer
    if answer is None:
        body = _text_html(turn.streamed) if turn.streamed else ""
        if turn.error:
            body += f'<div class="err">{html.escape(turn.error)}</div>'
        elif turn.stopped:
            body += ' <span class="notice">(stopped)</span>'
        elif turn.busy_note:
            body += f'<span class="notice">{html.escape(turn.busy_note)}</span>'
        else:
            body += " ▍"
        parts.append(f'<div class="a">{body}</div>')
        return "".join(parts)
    parts.append(_answer_block(index, answer))
    parts.append(f'<div class="tools"><a href="copy:{index}">Copy answer with sources</a></div>')
    return "".join(parts)


# outcome -> (CSS class, title) of the box an answer that is not plainly ANSWERED sits in
OUTCOME_BOX = {
    AnswerOutcome.NOT_IN_DOCUMENTS: ("nid", "Not in your documents"),
    AnswerOutcome.UNVERIFIED: ("unv", "Not verified against your documents"),
    AnswerOutcome.REFUSED: ("ref", "Question not sent to the model"),
    AnswerOutcome.WITHOUT_DOCUMENTS: ("nodocs", "Answered without your documents"),
    AnswerOutcome.QUOTED: ("quote", "No answer found; the closest passage, quoted"),
}


def _answer_block(index: int, answer: Answer) -> str:
    """The answer in the style of its outcome, with its notice, sources or nearest passages."""
    box = OUTCOME_BOX.get(answer.outcome)
    if box is None:
        block = [f'<div class="a">{answer_html(index, answer)}']
    else:
        css, title = box
        block = [
            f'<div class="{css}"><span class="{css}title">{title}</span><br>',
            answer_html(index, answer),
        ]
    if answer.notice:
        block.append(f'<br><span class="notice">{html.escape(answer.notice)}</span>')
    if answer.adapter:
        block.append(
            f'<br><span class="notice">Answered with the adapter “{html.escape(answer.adapter)}”.'
            "</span>"
        )
    for c in answer.citations:
        # the supporting sentence(s); chats saved before quotes existed show the passage's start
        snippet = (
            _snippet(c.quote, QUOTE_LIMIT) if c.quote else _snippet(without_page_furniture(c.text))
        )
        block.append(
            f'<br><span class="src"><a class="cite" href="cite:{index}:{c.n}">[{c.n}]</a> '
            f"{_place(c.document, c.page)} — {snippet}</span>"
        )
    if answer.nearest:
        block.append('<br><span class="src">Nearest passages:</span>')
        for i, hit in enumerate(answer.nearest):
            block.append(
                f'<br><span class="src">• <a href="near:{index}:{i}">'
                f"{_place(hit.document, hit.page)}</a> — {_snippet(without_page_furniture(hit.text))}</span>"
            )
    block.append("</div>")
    return "".join(block)


def transcript_html(turns: list[Turn], empty_hint: str) -> str:
    if not turns:
        return f'{STYLE}<div class="notice" style="margin:40px 20px">{empty_hint}</div>'
    return STYLE + "".join(turn_html(i, t) for i, t in enumerate(turns))


def plain_with_sources(answer: Answer) -> str:
    """What "Copy" puts on the clipboard: the answer, then one line per source."""
    lines = [answer.answer.strip()]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            quoted = " ".join((c.quote or c.text).split())
            lines.append(f'[{c.n}] {source_place(c.document, c.page, c.section)}: "{quoted}"')
    elif answer.nearest:
        lines.append("")
        lines.append("Nearest passages:")
        for hit in answer.nearest:
            lines.append(
                f'- {source_place(hit.document, hit.page)}: "{" ".join(hit.text.split())}"'
            )
    return "\n".join(lines)
