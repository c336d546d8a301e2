"""How well passages support answer sentences: shared content terms, matching numbers, embedding similarity."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from kbdesk.core.embed.base import Embedder
from kbdesk.core.generate.answer_text import Sentence, sentence_spans, split_sentences
from kbdesk.core.search.documents import question_versions
from kbdesk.core.search.text import has_cjk, query_terms

# A number is what a wrong citation or an invented fact most often gets wrong, so a matching
# one counts as much as two words; small whole numbers (1-10) turn up everywhere ("一次",
# "two copies") and count as one word.
NUMBER_WEIGHT = 2.0
# With an embedder, words and meaning count equally; across languages only meaning can.
LEXICAL_WEIGHT = 0.5
# A number in the sentence that the passage does not hold caps the score below the threshold.
MISSING_NUMBER_CAP = 0.2
# USE-multilingual cosines between a sentence and the passage sentence it restates run
# 0.55-0.9; unrelated sentences of the same domain 0.05-0.35. Mapped linearly onto 0..1.
COS_FLOOR, COS_CEIL = 0.30, 0.75
_MAX_UNITS = 12  # passage sentences embedded per passage, most relevant first

# "page 11", "p. 11", "pp. 3-4", "第11页", "第 11 頁": where an answer says its fact is, not the fact
_PAGE_REFERENCE = re.compile(
    r"\b(?:pages?|pp?\.)\s*\d+(?:\s*[-–]\s*\d+)?|第\s*\d+\s*[页頁]", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万]+")
_ZH_DIGIT = dict(zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9], strict=True))
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}
# A lone "一" is a number only before a measure word ("一个月", "一次"), not in "一般", "一定".
_ZH_MEASURES = set("个次天日周月年岁小时分秒倍片粒支瓶袋毫克升元项条款名人份层")
_ZH_NOT_NUMBERS = ("十分", "万一", "一一")
_UNITS_EN = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS_EN = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS_EN = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()
)
_WORD_NUMBERS = {w: i for i, w in enumerate(_UNITS_EN)} | {
    w: 20 + 10 * i for i, w in enumerate(_TENS_EN)
}
_WORD_NUMBERS |= {"hundred": 100, "thousand": 1000}
_ORDINAL_NUMBERS = {w: i + 1 for i, w in enumerate(_ORDINALS_EN)}
# A month written as a word is a number next to a day or a year: "February 14th, 2009" states
# the 2 of "2009年2月14日". Alone it is not ("in May", "may be").
_MONTHS_EN = (
    "january february march april may june july august september october november december".split()
)
_MONTH_DATE = re.compile(
    r"\b(?P<month>"
    + "|".join(_MONTHS_EN)
    + r"|(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?)"
    r"(?=\s+(?:of\s+)?\d{1,4}(?:st|nd|rd|th)?\b)|(?<=\d)(?:st|nd|rd|th)?\s+(?P<after>"
    + "|".join(_MONTHS_EN)
    + r")\b",
    re.IGNORECASE,
)
# "one" and ordinals are too often not numbers ("one of", "second opinion") to hold a sentence to.
_STRICT_WORDS = {w: v for w, v in _WORD_NUMBERS.items() if w not in ("one", "zero")}


def _canon(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _zh_value(run: str) -> int:
    total, section, digit = 0, 0, 0
    for ch in run:
        if ch in _ZH_DIGIT:
            digit = digit * 10 + _ZH_DIGIT[ch] if digit and not section else _ZH_DIGIT[ch]
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
        else:
            section += (digit or 1) * _ZH_UNIT[ch]
            digit = 0
    return total + section + digit


def _digit_values(token: str) -> list[str]:
    if _THOUSANDS.fullmatch(token):
        return [_canon(float(token.replace(",", "")))]
    values: list[str] = []
    for part in token.split(","):
        # "3.2.1" is a clause number, not a decimal: each part is a number on its own
        pieces = [part] if part.count(".") <= 1 else part.split(".")
        values.extend(_canon(float(p)) for p in pieces if p)
    return values


def _word_values(text: str, words: dict[str, int]) -> list[str]:
    """Spelled-out numbers: "ninety", "ninety five", "two hundred"."""
    tokens = re.findall(r"[a-z]+", text.lower())
    values, i = [], 0
    while i < len(tokens):
        if tokens[i] not in words:
            i += 1
            continue
        value, j = words[tokens[i]], i + 1
        if tokens[i] in _TENS_EN and j < len(tokens) and tokens[j] in _UNITS_EN[1:10]:
            value, j = value + _WORD_NUMBERS[tokens[j]], j + 1
        if value < 100 and j < len(tokens) and tokens[j] in ("hundred", "thousand"):
            value, j = value * _WORD_NUMBERS[tokens[j]], j + 1
        values.append(_canon(value))
        i = j
    return values


def numbers_in(text: str, *, loose: bool = False) -> set[str]:
    """Numbers a text states, canonical ("25,200" -> "25200"); `loose` also reads words/ordinals."""
    found = {v for m in _DIGITS.finditer(text) for v in _digit_values(m.group())}
    for m in _ZH_RUN.finditer(text):
        run, after = m.group(), text[m.end() : m.end() + 1]
        if not loose:
            idiom = any(text.startswith(w, m.start()) for w in _ZH_NOT_NUMBERS)
            if idiom and not text.startswith("分钟", m.end()):  # "十分钟" is ten minutes
                continue
            if len(run) == 1 and run in _ZH_DIGIT and after not in _ZH_MEASURES:
                continue
        found.add(_canon(_zh_value(run)))
    found.update(_word_values(text, _WORD_NUMBERS | _ORDINAL_NUMBERS if loose else _STRICT_WORDS))
    found.update(_month_numbers(text))
    return found


def _month_numbers(text: str) -> set[str]:
    """The months a text writes as words beside a day or a year, as numbers ("Feb 14" -> "2")."""
    months = set()
    for m in _MONTH_DATE.finditer(text):
        written = m["month"] or m["after"]
        if written == "may":  # the verb: "you may 2 ...", the month is capitalised
            continue
        word = written.lower().rstrip(".")
        months.add(str(next(i for i, name in enumerate(_MONTHS_EN, 1) if name.startswith(word))))
    return months


def _weight(number: str) -> float:
    small = number.isdigit() and int(number) <= 10
    return 1.0 if small else NUMBER_WEIGHT


def question_numbers(question: str) -> frozenset[str]:
    """The numbers of the versions a question names ("EUPL v1.1", "FHS 3.0", "第2版"), as
    numbers_in writes them: an answer restating them claims nothing of its own."""
    versions = question_versions(question) if question else set()
    return frozenset(n for version in versions for n in numbers_in(version))


def asked_terms(question: str) -> frozenset[str]:
    """The question's own words in Latin letters, stemmed: an answer in another script than its
    sources that repeats them ("Debian Edu") shares nothing of its own with those sources."""
    return frozenset(stem_word(t) for t in content_terms(question) if not has_cjk(t))


def content_terms(text: str) -> list[str]:
    """Meaningful words of a sentence, numbers (digits or spelled out) left to numbers_in."""
    return [
        t for t in query_terms(text) if not any(c.isdigit() for c in t) and t not in _STRICT_WORDS
    ]


def stem_word(word: str) -> str:
    for suffix in ("ies", "ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@dataclass(frozen=True)
class HeldTerms:
    """The stemmed words, numbers and Chinese text of a passage: what it holds."""

    cjk_text: str  # lower-cased, whitespace removed: jieba may cut it differently than the answer
    stems: frozenset[str]
    numbers: frozenset[str]
    cjk: bool

    @classmethod
    def of(cls, text: str) -> HeldTerms:
        lowered = text.lower()
        words = re.findall(r"[^\W\d_]+", lowered)
        return cls(
            "".join(lowered.split()),
            frozenset(stem_word(w) for w in words if not has_cjk(w)),
            frozenset(numbers_in(text, loose=True)),
            has_cjk(text),
        )

    def holds(self, term: str) -> bool:
        return term in self.cjk_text if has_cjk(term) else stem_word(term) in self.stems


def _lexical(terms: Sequence[str], numbers: set[str], passages: Sequence[HeldTerms]) -> float:
    """The weighted share of a sentence's terms and numbers that the passages together hold."""
    total = len(terms) + sum(map(_weight, numbers))
    if not total:
        return 0.0
    held = {n for p in passages for n in p.numbers}
    matched = sum(any(p.holds(t) for p in passages) for t in terms)
    return (matched + sum(map(_weight, numbers & held))) / total


class SupportScorer:
    """Scores sentences against a fixed list of passages; source n is passages[n - 1].

    `names[n - 1]`, where given, is the name of source n's document ("EUPL-1.1.pdf"), which
    the reader was shown with it: an answer that restates it ("According to EUPL 1.1, ...")
    claims nothing the source does not hold. `given` numbers are the question's own (the
    versions it names), and a page reference ("page 11", "第11页") is a place, not a fact:
    restating them is not a claim either.
    """

    def __init__(
        self,
        passages: Sequence[str],
        embedder: Embedder | None = None,
        *,
        names: Sequence[str] = (),
        given: frozenset[str] = frozenset(),
        asked: frozenset[str] = frozenset(),
    ):
        self.passages = [HeldTerms.of(p) for p in passages]
        for i, name in enumerate(names):
            held, named = self.passages[i], HeldTerms.of(name)
            self.passages[i] = replace(
                held, stems=held.stems | named.stems, numbers=held.numbers | named.numbers
            )
        self.texts = list(passages)
        self.embedder = embedder
        self.given = given
        self.asked = asked

    def score(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """One row per sentence: its support score (0..1) from each passage."""
        self._terms = [content_terms(s) for s in sentences]
        self._numbers = [numbers_in(_PAGE_REFERENCE.sub(" ", s)) - self.given for s in sentences]
        self._cjk = [has_cjk(s) for s in sentences]
        self._sem = self._semantic(sentences)
        return [
            np.array([self._combine(i, [p]) for p in range(len(self.passages))], dtype=np.float64)
            for i in range(len(sentences))
        ]

    def union_score(self, i: int, cited: Sequence[int]) -> float:
        """Support of sentence i by several sources together (each may hold part of it)."""
        return self._combine(i, [n - 1 for n in cited])

    def _combine(self, i: int, ps: list[int]) -> float:
        passages = [self.passages[p] for p in ps]
        terms, numbers = self._terms[i], self._numbers[i]
        held = {n for p in passages for n in p.numbers}
        lexical = _lexical(terms, numbers, passages)
        if self._sem is None:
            score = lexical
        else:
            semantic = max(float(self._sem[i, p]) for p in ps)
            if any(p.cjk == self._cjk[i] for p in passages):
                score = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic
            else:
                score = max(semantic, self._across_scripts(i, passages, semantic))
        if numbers - held:
            score = min(score, MISSING_NUMBER_CAP)
        return round(score, 6)

    def _across_scripts(self, i: int, passages: list[HeldTerms], semantic: float) -> float:
        """Words and meaning, for a sentence in another script than its passages: its words in
        Latin letters that the question did not write ("cf-agent", "Squid", "CeCILL") and its
        numbers are what it can share with them, and a Chinese restatement of an English
        sentence scores low on meaning alone (5 right answers of the real corpus cited nothing)."""
        latin = [t for t in self._terms[i] if not has_cjk(t) and stem_word(t) not in self.asked]
        if not latin and not self._numbers[i]:
            return 0.0
        lexical = _lexical(latin, self._numbers[i], passages)
        return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic

    def _semantic(self, sentences: Sequence[str]) -> np.ndarray | None:
        """Sentence x passage similarity: best cosine over the passage and its own sentences."""
        if self.embedder is None or not sentences or not self.passages:
            return None
        index: dict[str, int] = {s: i for i, s in enumerate(dict.fromkeys(sentences))}
        owners: list[tuple[int, int]] = []  # (passage, unit)
        for p, text in enumerate(self.texts):
            for unit in self._units(p, text):
                owners.append((p, index.setdefault(unit, len(index))))
        vectors = self.embedder.embed(list(index))
        rows = [index[s] for s in sentences]
        cos = vectors[rows] @ vectors.T
        best = np.full((len(sentences), len(self.passages)), -1.0)
        for p, u in owners:
            best[:, p] = np.maximum(best[:, p], cos[:, u])
        return np.clip((best - COS_FLOOR) / (COS_CEIL - COS_FLOOR), 0.0, 1.0)

    def _units(self, p: int, text: str) -> list[str]:
        """The passage and those of its sentences worth comparing with the answer, those that
        share most of its words and numbers first.

        Embedding dominates the cost of checking, so in the answer's own language only passage
        sentences that share a word or number with it are embedded. Across languages only
        numbers and names in Latin letters ("arm64", "Squid") can be shared: the sentences
        holding them come first, then the passage's first sentences.
        """
        flat = " ".join(text.split())  # PDF line breaks are not sentence boundaries
        parts = [s.body for s in split_sentences(flat) if isinstance(s, Sentence)]
        parts = [b for b in dict.fromkeys(parts) if len(content_terms(b)) >= 2]
        same_script = all(cjk == self.passages[p].cjk for cjk in self._cjk)
        terms = {t for ts in self._terms for t in ts}
        numbers = {n for ns in self._numbers for n in ns}
        ranked: list[tuple[int, int, str]] = []
        for k, part in enumerate(parts):
            unit = HeldTerms.of(part)
            overlap = sum(map(unit.holds, terms)) + len(numbers & unit.numbers)
            if overlap or not same_script:
                ranked.append((-overlap, k, part))
        parts = [part for *_, part in sorted(ranked)]
        return [flat, *parts[:_MAX_UNITS]]


def closest_sentence(
    texts: Sequence[str],
    query: str,
    embedder: Embedder | None,
    usable: Callable[[str], bool] | None = None,
) -> tuple[int, int, int, float] | None:
    """The sentence of `texts` that matches `query` best by the support score: (index of its
    text, start, end, score); None when the texts hold no (`usable`) sentence."""
    units = [
        (i, a, b)
        for i, text in enumerate(texts)
        for a, b, _ in sentence_spans(text)
        if usable is None or usable(text[a:b])
    ]
    if not units:
        return None
    row = SupportScorer([texts[i][a:b] for i, a, b in units], embedder).score([query])[0]
    best = int(row.argmax())
    i, a, b = units[best]
    return i, a, b, float(row[best])
