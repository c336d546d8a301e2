"""Evaluating an adapter end to end: its saved held-out questions, four arms, report files, meta.json."""

from __future__ import annotations

from pathlib import Path

from kbdesk.core.adapters import adapter_key, adapter_split, resolve_adapter, save_evaluation
from kbdesk.core.errors import InvalidSetting
from kbdesk.core.evaluate.fourway import EvalQuestion, evaluate, questions_from_split
from kbdesk.core.evaluate.report import html_report
from kbdesk.core.generate.answerer import Answerer
from kbdesk.core.search.answer_context import PAGES_READ


def evaluation_questions(
    adapter_path: Path, limit: int | None = None, key: bytes | None = None
) -> list[EvalQuestion]:
    """The adapter's held-out questions (`key`: its collection's, for a sealed adapter)."""
    split = adapter_split(adapter_path, key)
    if not split:
        raise InvalidSetting(
            f"The adapter '{adapter_path.parent.name}' has no saved held-out questions "
            "(it was not trained by kbdesk), so it cannot be evaluated fairly."
        )
    questions = questions_from_split(split)
    if not questions:
        raise InvalidSetting(
            f"The adapter '{adapter_path.parent.name}' has no held-out questions to evaluate on.",
            hint="Train it from more passages, or add your own evaluation questions.",
        )
    if limit:
        questions = [
            questions[i * len(questions) // limit] for i in range(min(limit, len(questions)))
        ]
    return questions


def run_evaluation(
    kb,
    host,
    adapter: str,
    *,
    passages: int = PAGES_READ,
    limit: int | None = None,
    progress=None,
    cancel=None,
) -> tuple[dict, Path | None]:
    """Evaluates, then writes evaluation.json and report.html beside the adapter and records
    the summary in its meta.json. Returns the result and the report's path (None for an
    encrypted collection's adapter: its result is sealed and it has no report file)."""
    path = resolve_adapter(kb.paths.adapters_dir, adapter)
    key = adapter_key(path, kb.name, kb.key)
    questions = evaluation_questions(path, limit, key)
    result = evaluate(
        Answerer(kb, host), questions, adapter, passages=passages, progress=progress, cancel=cancel
    )
    return result, save_evaluation(path, result, html_report(result), key)
