"""The last check before an answer is shown: are its own words and the names it gives (paths,
packages, addresses) in the sentences it cites, do those passages mention the names the question
asks about, and does the model, shown only those sentences, agree that they say it and answer
this question?

The citation checker (citations.py, support.py) judges each sentence against whole passages by
word and meaning overlap. On the 198 real-corpus questions it let through 46 wrong answers as
verified: a quorum of "3Q" cited to "There is no quorum for this immediate procedural vote.",
a procedure invented around a glossary line, half of a two-part answer. The word and model
tests read only the quoted sentences (or, for an answer that cites none, the sentence closest
to the question). Each test turns a verified answer into an unverified one; where the model's
odds are far below those of right answers, the answer is not given at all: the question is most
likely not answered by the documents (bench/RESULTS.md, "All 198 questions, and the last check
before verified"; "Declining what the check rejects"; "Names held to the letter").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kbdesk.core.generate.answer_text import strip_markers
from kbdesk.core.generate.models import BUILTIN_MODELS, CheckOdds
from kbdesk.core.generate.support import (
    HeldTerms,
    asked_terms,
    content_terms,
    numbers_in,
    question_numbers,
    stem_word,
)
from kbdesk.core.search.text import has_cjk
from kbdesk.core.types import Citation

# Words that frame an answer rather than state it ("According to the document, ...").
_FRAMING = frozenset(
    "according document documents text source sources passage passages stated state states "
    "mention mentions mentioned say says said following yes 根据 文档 以下 如下 提到 指出".split()
)
_POLARITY = frozenset("no not 不 不是 不能 可以 是的 能".split())
# An answer whose new words (not the question's) are mostly missing from the sentences it cites
# says something they do not. On 70 real-corpus answers the citation checker had verified: 1 of
# 26 right ones against 8 of 31 wrong ones and 3 of 13 answers to unanswerable questions.
UNQUOTED_SHARE = 0.5
MIN_NEW_TERMS = 3  # fewer new words than this ("Yes, it may.") are too few to judge

CHECK_SYSTEM_PROMPT = (
    "You check answers against the sentences of a user's documents. Reply with one word: yes or no."
)
CHECK_QUESTION = (
    "Do the document sentences say what the answer says, and does the answer give what the "
    "question asks? Reply yes or no."
)
# A name no translation or paraphrase changes: a path, a file, a package, an address, a
# netgroup ("debian/control", "cups-queue-autoflush-hosts", "eth0", "master.debian.org").
# ASCII classes on purpose: Chinese text runs into such names without a space.
_IDENTIFIER = re.compile(
    r"(?<![A-Za-z0-9_./+~@-])(?=[A-Za-z0-9_./+@-]*[A-Za-z])"
    r"(?:/?[A-Za-z0-9+]+(?:[-_./@][A-Za-z0-9+]+)+|[A-Za-z]+[0-9][A-Za-z0-9]*|/[A-Za-z0-9+]+)"
    r"(?![A-Za-z0-9_/+@-])"
)
_VERSION = re.compile(r"v?\d+(?:\.\d+)*", re.IGNORECASE)
MIN_IDENTIFIER_CHARS = 4  # "e.g", "i.e", "U.S" are abbreviations, not names
YES = ["yes", "Yes", " yes", " Yes", "YES", "是"]
NO = ["no", "No", " no", " No", "NO", "否"]


def unquoted_share(answer: str, question: str, quotes: Sequence[str]) -> tuple[int, float]:
    """The answer's new terms and numbers (those the question does not hold), and the share of
    them that its quoted sentences do not hold either. Across scripts (a Chinese answer from
    English sentences) no word can match: (0, 0.0)."""
    text = strip_markers(answer)
    joined = " ".join(quotes)
    if not joined.strip() or has_cjk(text) != has_cjk(joined):
        return 0, 0.0
    held = HeldTerms.of(joined)
    terms = _new_terms(text, question)
    numbers = numbers_in(text) - numbers_in(question)
    missing = sum(not held.holds(t) for t in terms) + len(numbers - held.numbers)
    new = len(terms) + len(numbers)
    return new, (missing / new if new else 0.0)


def _new_terms(text: str, question: str) -> list[str]:
    """The words of an answer that neither frame it nor repeat the question."""
    asked = "".join(question.lower().split())
    asked_stems = asked_terms(question)
    return [
        t
        for t in content_terms(text)
        if t not in _FRAMING and not (t in asked if has_cjk(t) else stem_word(t) in asked_stems)
    ]


def restates(answer: str, question: str) -> bool:
    """Whether an answer only says yes or no in the question's own words ("Yes, files in /tmp
    survive a reboot.", "The program can go into the non-free section."): it shares every word
    with any passage on the topic whatever the passage says, so support cannot verify it. A
    number it states, other than a version the question names, is still checked against the
    passage. On the real corpus 9 of the 10 answers of this kind in two runs were wrong."""
    text = strip_markers(answer)
    if numbers_in(text) - question_numbers(question):
        return False
    return not [t for t in _new_terms(text, question) if t not in _POLARITY]


def quoted(citations: Sequence[Citation]) -> list[str]:
    """What each citation holds the answer to: its quote, or its passage where it has none."""
    return [c.quote or c.text for c in citations]


def words_unquoted(answer: str, question: str, citations: Sequence[Citation]) -> bool:
    new, share = unquoted_share(answer, question, quoted(citations))
    return new >= MIN_NEW_TERMS and share >= UNQUOTED_SHARE


def identifiers(text: str) -> list[str]:
    """The names of `text` written as identifiers, in order, without repeats (whatever their
    case); versions ("v1.2") are left out: they name documents (search/documents.py)."""
    found: dict[str, str] = {}
    for m in _IDENTIFIER.finditer(strip_markers(text)):
        name = m.group()
        if len(name) >= MIN_IDENTIFIER_CHARS and not _VERSION.fullmatch(name):
            found.setdefault(name.lower(), name)
    return list(found.values())


def _squashed(text: str) -> str:
    """A text or name lower-cased without white space or hyphens: PDF extraction breaks names
    at line ends and around hyphens ("debian -edu-config"), and "non-exclusive" is "non
    exclusive" written otherwise."""
    return "".join(text.lower().replace("-", " ").split())


def _holds(squashed: str, text: str, name: str) -> bool:
    """Whether a text holds a name; a path also by its parts as words ("debian/control" in a
    passage that names the file "control" under the "debian" directory, "/srv/ftp" in a
    sentence that lists "ftp" under "/srv")."""
    if _squashed(name) in squashed:
        return True
    parts = [part for part in name.lower().split("/") if part] if "/" in name else []
    return bool(parts) and all(
        re.search(rf"(?<![\w.-]){re.escape(part)}(?![\w-])", text) for part in parts
    )


def _unheld(names: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The names that the texts together do not hold (_holds)."""
    text = " ".join(texts).lower()
    squashed = _squashed(text)
    return [name for name in names if not _holds(squashed, text, name)]


def names_unquoted(answer: str, question: str, citations: Sequence[Citation]) -> list[str]:
    """The identifiers an answer states that neither the question nor the sentences it cites
    (nor the names of their documents) hold: "fsautoresize-hosts" cited to a sentence about
    "cups-queue-autoflush-hosts". A verified answer names nothing its sentences do not."""
    held = [question, *quoted(citations), *(c.document for c in citations)]
    return _unheld(identifiers(answer), held)


def names_unmentioned(question: str, citations: Sequence[Citation]) -> list[str]:
    """The identifiers a question asks about that none of the passages an answer cites
    mentions: an answer about master.debian.org drawn from a passage that never names it is
    about something else."""
    passages = [t for c in citations for t in (c.text, c.section, c.document)]
    return _unheld(identifiers(question), passages)


def check_messages(question: str, answer: str, sentences: Sequence[str]) -> list[dict]:
    """The model's check of `answer` against the document `sentences` alone."""
    listed = "\n".join(f"- {sentence}" for sentence in sentences)
    user = (
        f"Document sentences:\n{listed}\n\nQuestion: {question.strip()}\n"
        f"Answer: {strip_markers(answer).strip()}\n\n{CHECK_QUESTION}"
    )
    return [
        {"role": "system", "content": CHECK_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def odds_floors(model_name: str) -> CheckOdds | None:
    """The yes-odds below which a model's own check doubts or declines an answer, for the
    models they were measured with; None (the check is not asked) for any other model: its
    odds mean nothing until they are measured."""
    for spec in BUILTIN_MODELS.values():
        if spec.file.removesuffix(".gguf") == model_name:
            return spec.check_odds
    return None
