"""Language-aware tokenisation for the keyword index: jieba segmentation for Chinese, stopwords, FTS5 queries."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Sequence

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# Numbers like 7.2, 25,200, 180/110 or 2025-03-01 stay one term; FTS5 matches them as a phrase.
_WORD = re.compile(r"\d+(?:[.,:/-]\d+)+|\w+", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba = None

# Words that carry no meaning for retrieval; questions are full of them.
STOPWORDS = frozenset(
    """a an and are as at be been by can could did do does for from had has have how i if in
    into is it its may me might must my no not of on or our shall should so than that the
    their them then there these they this those to under was we were what when where which who
    whom whose why will with would you your about any all also between during each more most
    other over such only same both after before being
    的 了 是 在 和 与 或 及 吗 呢 吧 啊 么 什么 怎么 怎样 如何 哪些 哪个 多少 几 是否 有 没有 为
    被 把 对 就 都 而 也 及其 以及 这 那 这个 那个 该 其 之 请 问 我 你 他 她 它 我们 你们 他们
    要 会 能 可以 应 应该 需要 一个 一些 中 上 下 时 后 前""".split()
)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _get_jieba():
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def index_body(text: str) -> str:
    """What goes into FTS5: the text itself, with Chinese runs split into words (and sub-words)."""
    if not has_cjk(text):
        return text
    return " ".join(t for t in _get_jieba().cut_for_search(text) if not t.isspace())


_ALNUM_RUN = re.compile(r"[^\W_]+")


def fts_words(text: str) -> str:
    """`text` as the keyword index's tokenizer (FTS5 unicode61, diacritics removed) splits it:
    runs of letters and digits joined by spaces ("EUPL v1.2" -> "EUPL v1 2"). A shared
    server's keyword index is built from this, so that it counts words as the local one does."""
    plain = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(_ALNUM_RUN.findall(plain))


def terms_in_order(text: str) -> list[str]:
    """Meaningful, lower-cased terms of a text, in order, repeats kept: which stand together."""
    if has_cjk(text):
        raw = _get_jieba().cut_for_search(text)
        tokens = [w for t in raw for w in _WORD.findall(t)]
    else:
        tokens = _WORD.findall(text)
    return [
        term
        for term in map(str.lower, tokens)
        if not (term in STOPWORDS or (len(term) == 1 and not has_cjk(term) and not term.isdigit()))
    ]


def query_terms(query: str) -> list[str]:
    """Meaningful, de-duplicated, lower-cased terms of a question, in order."""
    return list(dict.fromkeys(terms_in_order(query)))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH string: any of the terms (BM25 ranks chunks that match more of them higher)."""
    terms = query_terms(query)
    return " OR ".join(map(_quote, terms)) if terms else None


# Postings the keyword side may score per query (budgeted_terms); measured in
# bench/bench_search_scale.py: keyword p50 at 1M chunks drops from 485 ms to ~30-40 ms.
KEYWORD_ROW_BUDGET = 20_000


def budgeted_terms(
    terms: list[str], frequencies: list[int], row_budget: int
) -> tuple[list[str], list[str]]:
    """The terms a keyword query ORs (the rarest, while their postings add up to at most
    `row_budget`) and the common ones it keeps only as one AND group.

    Scoring every chunk that holds a common word is what makes BM25 slow on large collections
    (an OR over 'notice', 'period', 'tenant' can match 40% of a million chunks), and such words
    barely move BM25 anyway. The rarest term is always kept; the common terms left out come back
    as one AND group, so a chunk holding all of them still matches (intersections are cheap).
    """
    ranked = sorted(zip(terms, frequencies, strict=True), key=lambda tf: tf[1])
    kept, total = 0, 0
    for _term, df in ranked:
        if kept and total + df > row_budget:
            break
        kept += 1
        total += df
    ordered = [t for t, _ in ranked]
    grouped = ordered[kept:]
    if len(grouped) == 1:  # a lone common word still counts alongside the rarest one
        grouped = [ordered[0], grouped[0]]
    return ordered[:kept], grouped


def budgeted_match(terms: list[str], frequencies: list[int], row_budget: int) -> str | None:
    """An FTS5 MATCH string of budgeted_terms: any kept term, or all the grouped ones."""
    if not terms:
        return None
    kept, grouped = budgeted_terms(terms, frequencies, row_budget)
    match = " OR ".join(map(_quote, kept))
    if grouped:
        match += " OR (" + " AND ".join(map(_quote, grouped)) + ")"
    return match


# A name in a question: an acronym or CamelCase word ("EUPL", "PostgreSQL", "LiLiQ"), a
# capitalised word inside a sentence ("... reserved for Flatpak"), or, in a Chinese question,
# any word in Latin letters ("Samba 的配额"). Names are what a question about something the
# documents never mention (an on-topic unanswerable question) has and the documents lack.
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.+-][A-Za-z0-9]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“(\[]|[.!?]\s*['’])\s*$")
MIN_NAME_CHARS = 3


def name_terms(question: str) -> list[str]:
    """The names a question uses (see above), in order, without repeats."""
    cjk = has_cjk(question)
    names: dict[str, None] = {}
    for m in _LATIN_WORD.finditer(question):
        word = m.group()
        if len(word) < MIN_NAME_CHARS or word.lower() in STOPWORDS:
            continue
        capitals = sum(c.isupper() for c in word)
        inner = word[0].isupper() and not _SENTENCE_START.search(question[: m.start()])
        if cjk or capitals >= 2 or inner:
            names.setdefault(word, None)
    return list(names)


def spelled_out(acronym: str, texts: Sequence[str]) -> bool:
    """Whether an acronym ("NDA") is written out in `texts` as words with its initials
    ("Non-Disclosure Agreement"); False for anything not written in capitals."""
    if not (acronym.isascii() and acronym.isalpha() and acronym.isupper()):
        return False
    letters = acronym.lower()
    for text in texts:
        initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", text)).lower()
        if letters in initials:
            return True
    return False
