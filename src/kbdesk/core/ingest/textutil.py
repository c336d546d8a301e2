"""Character classes, text weight and line joining shared by the loaders and the chunker."""

from __future__ import annotations

import re

# Ideographs only: these carry roughly a word each, so they count double in chunk sizes.
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# Scripts written without spaces between words (ideographs, kana, CJK and fullwidth punctuation);
# lines broken inside such text must be joined without inserting a space.
_NO_SPACE_SCRIPT = _IDEOGRAPH + "\u3000-\u303f\u3040-\u30ff\uff00-\uffef"

IDEOGRAPH_RE = re.compile(f"[{_IDEOGRAPH}]")
_NO_SPACE_CHAR_RE = re.compile(f"[{_NO_SPACE_SCRIPT}]")
_CJK_GAP_RE = re.compile(f"(?<=[{_NO_SPACE_SCRIPT}])[ \\t]*\\n\\s*(?=[{_NO_SPACE_SCRIPT}])")
_WS_RE = re.compile(r"\s+")


def text_weight(s: str, start: int = 0, end: int | None = None) -> int:
    """Length of s[start:end] with each CJK ideograph counted twice (it is denser than a letter)."""
    if end is None:
        end = len(s)
    return (end - start) + len(IDEOGRAPH_RE.findall(s, start, end))


def is_cjk_char(ch: str) -> bool:
    return bool(ch) and _NO_SPACE_CHAR_RE.match(ch) is not None


def join_separator(prev: str, nxt: str) -> str:
    """What goes between two wrapped lines of one paragraph: a space, or nothing."""
    if not prev or not nxt:
        return ""
    if is_cjk_char(prev[-1]) and is_cjk_char(nxt[0]):
        return ""
    # "exam-" + "ple": a word broken across lines. Keep the hyphen (it may be a real compound)
    # but do not insert a space into the word.
    if prev[-1] == "-" and len(prev) >= 2 and prev[-2].isalpha() and nxt[0].islower():
        return ""
    return " "


def join_lines(lines: list[str]) -> str:
    """Join the wrapped lines of one paragraph into a single line."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        out = line if not out else out + join_separator(out, line) + line
    return out


def collapse_whitespace(s: str) -> str:
    """HTML-style whitespace: runs become one space, but a line break inside CJK text vanishes."""
    return _WS_RE.sub(" ", _CJK_GAP_RE.sub("", s)).strip()
