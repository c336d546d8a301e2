"""Which documents a question names: file names, titles and version numbers as a field of their own.

"Under version 2 of the licence…" or "in the maintainers' guide…" names a document; its
look-alike sibling (version 1, the other guide) shares most of its words, so passage search alone
often ranks the sibling first. Here each document's name and title are matched against the
question, words weighted by how rare they are among the collection's document names, and a
version number the question gives must agree with the document's. Look-alike documents whose
names differ in a word or two ("…-bookworm-manual" and "…-bullseye-manual") are told apart by
that word when the question carries it. A question also mentions a document outright by two
words that stand together in its name ("the Debian constitution", "A Brief History of Debian")
or by the name's acronym in capitals ("FHS").
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kbdesk.core.search.text import STOPWORDS, has_cjk, query_terms, terms_in_order

# "version 2", "v2.0", "release 1.1", "2nd edition", "第2版", "2.0版", "版本 3"
_VERSION_IN_QUESTION = re.compile(
    r"(?:\b(?:version|ver\.?|v|release|revision|rev\.?|edition)\s*(\d+(?:\.\d+)*)\b)"
    r"|(?:\b(\d+)(?:st|nd|rd|th)\s+(?:edition|version|release|revision)\b)"
    r"|(?:第\s*(\d+(?:\.\d+)*)\s*版)|(?:(\d+(?:\.\d+)*)\s*版)|(?:版本\s*(\d+(?:\.\d+)*))",
    re.IGNORECASE,
)
# "2.5%" is an amount, not a version
_DOTTED = re.compile(r"(?<![\d.])(\d+\.\d+(?:\.\d+)*)(?![\d.]|\s*%)")
_VERSION_IN_NAME = re.compile(r"(?:^|[^a-z0-9])v?(\d+(?:\.\d+)*)(?=$|[^0-9])", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_VERSION_WORD = re.compile(r"v?\d+", re.IGNORECASE)
# Words every file name may carry that say nothing about which document it is.
# Measured (bench/bench_fusion.py): words of a name alone mislead as often as they help (a
# question about "the lease" is not about a file called lease.pdf rather than another lease);
# a version number the question gives is what tells look-alike documents apart.
REQUIRE_VERSION = True
_GENERIC = frozenset({"pdf", "doc", "docx", "txt", "md", "html", "htm", "epub", "final", "copy"})
# Two names are look-alikes when each has at most this many words the other lacks and they
# share at least two: "debian-edu-bookworm-manual" and "debian-edu-bullseye-manual" are;
# "maint-guide.en" ("Debian New Maintainers' Guide") and "maint-guide.zh-cn" are not.
SIBLING_WORDS = 2
# "Debian Edu 12", "FHS 3.0", "Skolelinux 11": a number right after a word of a document's name
_NUMBER_AFTER_WORD = re.compile(r"([^\W\d_]+)\s*v?(\d+(?:\.\d+)*)(?![\d.]|\s*%)", re.IGNORECASE)


@dataclass(frozen=True)
class DocumentName:
    doc_id: int
    terms: frozenset[str]  # distinctive words of the file name and title, lower-cased
    versions: frozenset[str]  # version numbers in the file name or title: "2", "2.0"
    file_name: str = ""
    pairs: frozenset[frozenset[str]] = frozenset()  # words next to each other in name or title
    acronyms: frozenset[str] = frozenset()  # words of the file name a question may capitalise


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _word_list(text: str) -> list[str]:
    """The words of a name or title in order, stemmed, without versions or generic words."""
    spaced = _CAMEL.sub(" ", re.sub(r"[_\-.]+", " ", text))
    return [
        _stem(t)
        for t in query_terms(spaced)
        # "v1" of "v1.9" is a version's first part, not a word naming the document; one Chinese
        # character ("新" of "新维护者手册") is in too many questions to name one
        if t not in _GENERIC and not _VERSION_WORD.fullmatch(t) and not (len(t) == 1 and has_cjk(t))
    ]


def _words(text: str) -> set[str]:
    return set(_word_list(text))


def _pairs(words: list[str]) -> set[frozenset[str]]:
    return {frozenset(p) for p in zip(words, words[1:], strict=False) if p[0] != p[1]}


def _normal_version(number: str) -> str:
    parts = number.split(".")
    while len(parts) > 1 and parts[-1] == "0":  # "2.0" and "2" are the same version
        parts.pop()
    return ".".join(str(int(p)) for p in parts)


def describe(doc_id: int, file_name: str, title: str = "") -> DocumentName:
    """A document's name field: the words and version numbers of its file name and title."""
    stem = Path(file_name).stem
    versions = {
        _normal_version(m.group(1))
        for text in (stem, title)
        for m in _VERSION_IN_NAME.finditer(text)
        if len(m.group(1)) <= 6
        and not (len(m.group(1)) == 4 and m.group(1).startswith(("19", "20")))
    }
    versions |= {_normal_version(m.group(1)) for m in _DOTTED.finditer(title)}
    words = _word_list(stem), _word_list(title)
    acronyms = {w for w in words[0] if len(w) >= 3 and w.isascii() and w.isalpha()}
    return DocumentName(
        doc_id,
        frozenset(words[0] + words[1]),
        frozenset(versions),
        file_name,
        frozenset(_pairs(words[0]) | _pairs(words[1])),
        frozenset(acronyms),
    )


def written_versions(question: str) -> set[str]:
    """Versions the question writes as such: "version 2", "v1.1", "2nd edition", "第2版"."""
    return {
        _normal_version(next(g for g in m.groups() if g))
        for m in _VERSION_IN_QUESTION.finditer(question)
    }


def question_versions(question: str) -> set[str]:
    """Written versions and bare dotted numbers ("FHS 3.0"): what search prefers a document by."""
    return written_versions(question) | {
        _normal_version(m.group(1)) for m in _DOTTED.finditer(question)
    }


def numbers_after_name_words(question: str, names: Iterable[DocumentName]) -> set[str]:
    """Numbers the question writes right after a word of a document's name that are that
    document's version ("Debian Edu 12", "FHS 3.0"); "Debian 8" names no document of version 8."""
    names = list(names)
    return {
        version
        for m in _NUMBER_AFTER_WORD.finditer(question)
        for name in names
        if _stem(m.group(1).lower()) in name.terms
        and (version := _normal_version(m.group(2))) in name.versions
    }


def _name_frequencies(names: Iterable[DocumentName]) -> Counter[str]:
    """How many of the documents' names hold each word."""
    return Counter(term for name in names for term in name.terms)


def _asked_words(question: str) -> set[str]:
    return {_stem(t) for t in query_terms(question) if t not in STOPWORDS}


def _look_alike(a: DocumentName, b: DocumentName) -> bool:
    return (
        b.doc_id != a.doc_id
        and len(a.terms & b.terms) >= 2
        and len(a.terms - b.terms) <= SIBLING_WORDS
        and len(b.terms - a.terms) <= SIBLING_WORDS
    )


def siblings(names: Iterable[DocumentName]) -> dict[int, list[DocumentName]]:
    """Each document's look-alikes: names that differ from its own in a word or two."""
    return _siblings(tuple(names))


@lru_cache(maxsize=4)  # every question asks; the names change only with the collection
def _siblings(names: tuple[DocumentName, ...]) -> dict[int, list[DocumentName]]:
    postings: dict[str, list[DocumentName]] = defaultdict(list)
    for name in names:
        for term in name.terms:
            postings[term].append(name)
    found = {}
    for a in names:
        # A look-alike lacks at most SIBLING_WORDS of a's words, so it has one of a's
        # SIBLING_WORDS + 1 rarest: only those words' documents need comparing.
        rarest = sorted(a.terms, key=lambda t: (len(postings[t]), t))[: SIBLING_WORDS + 1]
        candidates = {b.doc_id: b for term in rarest for b in postings[term]}
        found[a.doc_id] = [b for b in candidates.values() if _look_alike(a, b)]
    return found


def told_apart(question: str, names: Iterable[DocumentName]) -> set[int]:
    """The documents the question tells from their look-alikes by a word of the name that the
    look-alikes lack ("the Bookworm manual" against the Bullseye one), when it carries no such
    word of a look-alike too ("upgrading from Bullseye to Bookworm" tells neither)."""
    names = list(names)
    asked = _asked_words(question)
    by_id = {name.doc_id: name for name in names}
    chosen = set()
    for doc_id, others in siblings(names).items():
        own = by_id[doc_id].terms
        if others and all(
            asked & (own - other.terms) and not asked & (other.terms - own) for other in others
        ):
            chosen.add(doc_id)
    return chosen


def named_by_words(question: str, names: Iterable[DocumentName]) -> dict[int, float]:
    """The documents whose rare name or title words the question carries (rare among the
    collection's documents: a word every name shares says nothing), each with the summed
    rarity of the words it shares; versions not considered."""
    names = list(names)
    asked = _asked_words(question)
    if not has_cjk(question):
        asked = {t for t in asked if not t.isdigit()}
    df = _name_frequencies(names)
    n = len(names)

    def idf(term: str) -> float:
        return math.log(1 + n / df[term])

    rare = math.log(1 + n / max(2, n / 2))  # a word in at most half of the documents
    raw: dict[int, float] = {}
    for name in names:
        shared = [t for t in name.terms if t in asked or any(t in a for a in asked if has_cjk(a))]
        if shared and max(idf(t) for t in shared) >= rare:
            raw[name.doc_id] = sum(idf(t) for t in shared)
    return raw


def named_documents(question: str, names: Iterable[DocumentName]) -> dict[int, float]:
    """How strongly the question names each document, 0..1 (absent: not named at all).

    A document is named when the question carries rare words of its name or title
    (named_by_words; only with a version in the question), scored by the share of the
    best-matching document's weight, or mentions it outright (mentioned), as strongly as the
    best; a version number in the question keeps only documents of that version among the ones
    it names. A document the question tells from its look-alikes by a word (told_apart) is
    named fully.
    """
    names = list(names)
    if not names:
        return {}
    apart = dict.fromkeys(told_apart(question, names), 1.0)
    versions = question_versions(question) | numbers_after_name_words(question, names)
    raw = named_by_words(question, names) if versions or not REQUIRE_VERSION else {}
    top = max(raw.values(), default=1.0)
    raw |= dict.fromkeys(mentioned(question, names), top)
    if versions:
        by_id = {name.doc_id: name for name in names}
        agreeing = {d for d in raw if by_id[d].versions & versions}
        if agreeing:
            raw = {d: s for d, s in raw.items() if d in agreeing}
    if not raw:
        return apart
    best = max(raw.values())
    return {d: s / best for d, s in raw.items()} | apart


def other_version(
    question: str, names: Iterable[DocumentName], cited: Iterable[int]
) -> tuple[str, ...]:
    """The versions a question asks for ("EUPL v1.1", "version 2", "第2版"), when every cited
    document is one the question names by its words but of another version; () otherwise.

    A look-alike of another version answers many questions about its sibling word for word
    (issue 18: EUPL v1.1's appendix answered from v1.2's). Only versions written as such
    count: a bare "4.1.5" in a question is more often a section than a version.
    """
    asked = written_versions(question)
    cited = set(cited)
    if not asked or not cited:
        return ()
    names = list(names)
    by_id = {name.doc_id: name for name in names}
    named = named_by_words(question, names)
    if not cited <= named.keys() or any(
        not by_id[d].versions or by_id[d].versions & asked for d in cited
    ):
        return ()
    return tuple(sorted(asked))


def mentioned(question: str, names: Iterable[DocumentName]) -> set[int]:
    """The documents the question mentions outright: two words standing together in the name or
    title, one of them in no other document's name ("the Debian constitution": not "the Debian
    Project", which another name has too), or the file name's acronym in capitals ("FHS")."""
    names = list(names)
    said = _pairs([_stem(t) for t in terms_in_order(question)])
    capitals = {w.lower() for w in re.findall(r"\b[A-Z]{3,}\b", question)}
    df = _name_frequencies(names)
    return {
        name.doc_id
        for name in names
        if name.acronyms & capitals
        or any(min(df[w] for w in pair) == 1 for pair in name.pairs & said)
    }


def other_document(
    question: str, names: Iterable[DocumentName], cited: Iterable[int]
) -> tuple[str, ...]:
    """The file names of the documents the question asks about, by a word that tells them from
    their look-alikes (told_apart) or mentioning them outright (mentioned), when the cited
    documents are none of them; () otherwise.

    The Bullseye manual answers a question about the Bookworm one word for word, with
    Bullseye's figures (issue 18: a 5 GB image where Bookworm's is 7.5 GB); a history of the
    project answers what "the constitution" lays down.
    """
    cited = set(cited)
    names = list(names)
    asked = told_apart(question, names) | mentioned(question, names)
    if not asked or not cited or cited & asked:
        return ()
    return tuple(sorted(name.file_name for name in names if name.doc_id in asked))
