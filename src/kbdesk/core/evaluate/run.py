"""Evaluating an adapter end to end: its saved held-out questions, four arms, report files, meta.json."""

from __future__ import annotations

from pathlib import Path

from kbdesk.core.adapters import read_meta, resolve_adapter, save_evaluation
from kbdesk.core.encryption import refuse_plain_copies
from kbdesk.core.errors import InvalidSetting
from kbdesk.core.evaluate.fourway import EvalQuestion, evaluate, questions_from_split
from kbdesk.core.evaluate.report import html_report
from kbdesk.core.generate.answerer import Answerer


def evaluation_questions(adapter_path: Path, limit: int | None = None) -> list[EvalQuestion]:
    split = read_meta(adapter_path).split
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
    passages: int = 6,
    limit: int | None = None,
    progress=None,
    cancel=None,
) -> tuple[dict, Path]:
    """Evaluates, then writes evaluation.json and report.html beside the adapter and records
    the summary in its meta.json. Returns the result and the report's path."""
    refuse_plain_copies(kb.folder, kb.name, "An adapter evaluation")
    path = resolve_adapter(kb.paths.adapters_dir, adapter)
    questions = evaluation_questions(path, limit)
    result = evaluate(
        Answerer(kb, host), questions, adapter, passages=passages, progress=progress, cancel=cancel
    )
    return result, save_evaluation(path, result, html_report(result))
