"""Question/answer files a user brings (CSV or JSONL), read with one clear message per bad line."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from kbdesk.core.errors import InvalidSetting
from kbdesk.core.messages import language_of

MAX_FIELD_CHARS = 4000
MAX_LINE_ERRORS = 20  # listed in full; beyond this only counted


@dataclass(frozen=True)
class Pair:
    """A question with its reference answer; an empty answer marks an unanswerable question."""

    question: str
    answer: str
    line: int
    language: str

    @property
    def answerable(self) -> bool:
        return bool(self.answer)


class PairFileError(InvalidSetting):
    """A question file with lines that cannot be used; `problems` lists them by line."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_LINE_ERRORS]
        more = len(problems) - len(shown)
        detail = "\n".join(shown) + (f"\n... and {more} more." if more else "")
        super().__init__(
            f"{path.name}: {len(problems)} line(s) cannot be used:\n{detail}",
            hint='Each line needs a "question" and an "answer" (empty when the documents do '
            "not answer it). CSV files need a header row with those two column names.",
        )


def _check(question, answer, line: int, problems: list[str]) -> Pair | None:
    if not isinstance(question, str) or not question.strip():
        problems.append(f"line {line}: the question is missing or empty")
        return None
    if answer is None:
        answer = ""
    if not isinstance(answer, str):
        problems.append(f"line {line}: the answer must be text (got {type(answer).__name__})")
        return None
    for name, value in (("question", question), ("answer", answer)):
        if len(value) > MAX_FIELD_CHARS:
            problems.append(
                f"line {line}: the {name} is {len(value):,} characters (at most "
                f"{MAX_FIELD_CHARS:,})"
            )
            return None
    return Pair(question.strip(), answer.strip(), line, language_of(question))


def _jsonl(text: str, problems: list[str]) -> list[Pair]:
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: expected an object with question and answer")
            continue
        pair = _check(row.get("question"), row.get("answer"), number, problems)
        if pair is not None:
            pairs.append(pair)
    return pairs


def _csv(text: str, problems: list[str]) -> list[Pair]:
    reader = csv.DictReader(io.StringIO(text))
    names = [n.strip().lower() for n in reader.fieldnames or []]
    if "question" not in names:
        problems.append('line 1: the header row needs a "question" column (and "answer")')
        return []
    reader.fieldnames = names
    pairs = []
    for row in reader:
        pair = _check(row.get("question"), row.get("answer"), reader.line_num, problems)
        if pair is not None:
            pairs.append(pair)
    return pairs


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """Every pair of a .csv, .jsonl or .json file; raises PairFileError naming each bad line."""
    path = Path(path)
    if not path.is_file():
        raise InvalidSetting(f"The question file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSetting(
            f"{path.name} is not UTF-8 text (byte {exc.start}).", hint="Save it as UTF-8."
        ) from exc
    problems: list[str] = []
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        pairs = _jsonl(text, problems)
    elif suffix == ".csv":
        pairs = _csv(text, problems)
    else:
        raise InvalidSetting(
            f"{path.name}: question files must be .csv or .jsonl (got '{suffix or 'no suffix'}')."
        )
    if problems:
        raise PairFileError(path, problems)
    if not pairs:
        raise InvalidSetting(f"{path.name} holds no questions.")
    return pairs
