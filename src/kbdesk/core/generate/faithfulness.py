"""What "verified" demands beyond a supporting source: a whole sentence, the same yes or no as the
cited sentence, and quotations that are sentences, not a page's furniture (headers, footers,
headings, page numbers).

The support score (support.py) judges word and meaning overlap; on real documents it passed
"yes" where the cited sentence says the opposite, a sentence ending in "is the [1].", and a
quoted page footer (issue 18's review). These checks are deliberately narrow: each one turns a
verified answer into an unverified one (or a quotation into a decline), never into a new answer.
"""

from __future__ import annotations

import re

from kbdesk.core.generate.answer_text import strip_markers

# An answer sentence that ends on one of these words was cut off ("The deposit is the [1].").
_DANGLING_EN = frozenset(
    "the a an of to in on at for by with from and or but is are was were be been as than that "
    "which whose this these those its their his her my our your".split()
)
# Not "的": "是2009年2月14日发布的。" is a whole sentence (the 是...的 construction).
_DANGLING_ZH = ("是", "和", "或", "在", "为", "与", "及", "把", "被", "对")
# A marker standing as the object of a preposition, at a sentence's end: "described in [1]".
_POINTING = re.compile(
    r"(?:\b(?:in|from|by|see|at|on|of)|见|参见|参阅|详见|参考)\s*(?:\[\d+\]\s*)+[.。!！]?\s*$",
    re.IGNORECASE,
)
# A number is a word: "The mode of /tmp is 1777." and "默认 umask 是022。" end on it.
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+|[.][A-Za-z0-9]+)*|[\u4e00-\u9fff]")
# Words that deny what a sentence states; negated() also counts those that name an absence.
_DENIALS_EN = "not|no|never|cannot|neither|nor|prohibited|forbidden"
_DENIAL_EN = re.compile(rf"\b(?:{_DENIALS_EN})\b|n't\b", re.IGNORECASE)
_NEGATION_EN = re.compile(
    rf"\b(?:{_DENIALS_EN}|none|without|may not|must not)\b|n't\b", re.IGNORECASE
)
_NEGATION_ZH = re.compile(r"不|没有|无|禁止|未|勿|非|否")
_YES_EN = re.compile(r"^\s*(?:yes)\b", re.IGNORECASE)
_NO_EN = re.compile(r"^\s*(?:no)\b(?!\.\s*\d)", re.IGNORECASE)  # not "No. 5"
_YES_ZH = re.compile(r"^\s*(?:是的|是，|可以|能够|对)")
_NO_ZH = re.compile(r"^\s*(?:不|否|没有)")
# An answer word, then a comma, then the rest of the sentence: "Yes, ...", "No, ...", "是的，...".
# The word is the answer, the rest a restatement: it is held to its quote (contradicts()).
_YES_WORDS_ZH, _NO_WORDS_ZH = "是的|可以|能够", "不是|不可以|不能|不行|没有"
_YES_LEAD = re.compile(rf"^(?:yes\s*[,;:]|(?:{_YES_WORDS_ZH})\s*[，,])", re.IGNORECASE)
_NO_LEAD = re.compile(rf"^(?:no\s*[,;:]|(?:{_NO_WORDS_ZH})\s*[，,])", re.IGNORECASE)
_QUALIFIED = re.compile(
    r"^(?:yes|no)\W+(?:but|only|if|unless|provided|except|as long as|when|once|subject)\b"
    rf"|^(?:{_YES_WORDS_ZH}|{_NO_WORDS_ZH})\W*(?:但|只|如果|除非|只要|前提)",
    re.IGNORECASE,
)
# A bare yes or no carries the whole answer; a longer sentence restates the rule in its own
# words, whose negation need not match the source's ("only with consent" / "not without").
BARE_WORDS = 6
# Page furniture: "Page 3 of 6", "- 12 -", "3/6", "第3页".
_PAGE_NUMBER = re.compile(
    r"^\W*(?:page|p\.|第)?\s*\d+\s*(?:(?:of|/|页|，共)\s*\d+\s*页?)?\W*$", re.I
)
# A table of contents' dot leaders: "3.7.3. Specific Options ........ 17".
_DOT_LEADER = re.compile(r"(?:\.\s?){5,}|…{2,}|·{5,}")
_LETTER = re.compile(r"[^\W\d_]")
# A running header or footer ends with the page's place: "A Brief History of Debian 6 / 21",
# "Debian Edu 12 手册 7 / 92", "Lease Agreement - Page 3 of 6".
_PAGE_PLACE = re.compile(r"(?:\d+\s*/\s*\d+|\bpage\s+\d+(?:\s+of\s+\d+)?|第\s*\d+\s*页)\W*$", re.I)
MIN_QUOTE_WORDS = 5  # a heading ("4. Obligations", "Section 9 Termination") is shorter
HEADER_WORDS = 12  # a running header is a title and a place; a sentence ending so is longer


def _words(text: str) -> list[str]:
    return _WORD.findall(strip_markers(text))


def incomplete(sentence: str) -> bool:
    """Whether an answer sentence stops mid-clause (its last word cannot end a sentence)."""
    words = _words(sentence)
    if not words:
        return True
    last = words[-1]
    return last.lower() in _DANGLING_EN or last in _DANGLING_ZH


def pointer(sentence: str) -> bool:
    """Whether a sentence only says where the sentence before it comes from ("This is
    described in [1].", "详见[2]。"): its marker stands as a word, and it claims nothing."""
    return bool(_POINTING.search(sentence))


def negated(text: str) -> bool:
    return bool(_NEGATION_EN.search(text) or _NEGATION_ZH.search(text))


def denies(text: str) -> bool:
    """Whether a sentence denies what it states ("may not withdraw"), as opposed to naming an
    absence ("can be deleted without data loss"): negated() without "without" and "none"."""
    return bool(_DENIAL_EN.search(text) or _NEGATION_ZH.search(text))


def yes_or_no(sentence: str) -> bool | None:
    """True for a bare "yes" answer, False for a bare "no", None for anything longer."""
    text = strip_markers(sentence).strip()
    if len(_words(text)) > BARE_WORDS:
        return None
    if _YES_EN.match(text) or _YES_ZH.match(text):
        return True
    if _NO_EN.match(text) or _NO_ZH.match(text):
        return False
    return None


def led_by_yes_or_no(sentence: str) -> bool | None:
    """True for a sentence that opens with an explicit yes ("Yes, files in /tmp survive a
    reboot."), False for one that opens with no, None otherwise and for a qualified answer
    ("Yes, but only with consent", "No, unless ..."), whose condition may be the negation."""
    text = strip_markers(sentence).strip()
    if _QUALIFIED.match(text):
        return None
    if _YES_LEAD.match(text):
        return True
    if _NO_LEAD.match(text):
        return False
    return None


def contradicts(sentence: str, passage: str, quote: str = "") -> bool:
    """A bare yes where the cited passage denies, or a bare no where it does not; a sentence
    led by an explicit yes or no is held to its quote (the sentences it cites), not the whole
    passage. On the real corpus the 1.5B model opened 6 verified answers with "Yes," and 5
    were wrong: "Yes, the leader can take back a decision ..." cited to "... may not withdraw
    that delegation"."""
    answer = yes_or_no(sentence)
    if answer is not None:
        return bool(passage.strip()) and answer == negated(passage)
    lead = led_by_yes_or_no(sentence)
    if lead is None or not quote.strip():
        return False
    return lead == denies(quote)


def _size(text: str) -> float:
    words = _words(text)
    cjk = sum(len(w) == 1 and "\u4e00" <= w <= "\u9fff" for w in words)
    return len(words) - cjk + cjk / 2  # two ideographs count as a word


def _ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?。！？;；:]\W*$", text))


def page_furniture(sentence: str) -> bool:
    """Whether a passage sentence belongs to the page, not the text: a page number, a table of
    contents line, or a running header or footer (a short line ending in the page's place).
    Never evidence: on the real corpus a header "A Brief History of Debian 20 / 21" ranked
    above every sentence of the text for a question naming that document."""
    text = " ".join(sentence.split())
    if not _LETTER.search(text) or _PAGE_NUMBER.match(text) or _DOT_LEADER.search(text):
        return True  # no word at all: "37 5.14.3.", a contents line cut at its number
    return (
        bool(_PAGE_PLACE.search(text)) and not _ends_sentence(text) and _size(text) < HEADER_WORDS
    )


def without_page_furniture(passage: str) -> str:
    """A passage from its first line of text, for showing its opening words: a running header
    ("Debian New Maintainers' Guide 7 / 57") or a page number opening it says nothing about
    what it holds."""
    lines = passage.splitlines()
    while len(lines) > 1 and page_furniture(lines[0]):
        lines.pop(0)
    return "\n".join(lines)


def furniture(sentence: str) -> bool:
    """Whether a passage sentence is a page's furniture or a heading, never worth quoting: page
    furniture (above), fewer than MIN_QUOTE_WORDS words, or a short line that ends without a
    sentence's punctuation (a section heading)."""
    if page_furniture(sentence):
        return True
    text = " ".join(sentence.split())
    size = _size(text)
    return size < MIN_QUOTE_WORDS or (not _ends_sentence(text) and size < 2 * MIN_QUOTE_WORDS)
