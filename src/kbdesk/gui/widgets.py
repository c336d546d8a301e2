"""Small widget helpers shared by the panes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QToolButton, QWidget


def tool_button(
    parent: QWidget | None, text: str, tip: str, slot: Callable[[], Any]
) -> QToolButton:
    """A labelled tool button; its accessible name is the tip without the shortcut in brackets."""
    button = QToolButton(parent)
    button.setText(text)
    button.setToolTip(tip)
    button.setAccessibleName(tip.split(" (")[0])
    button.clicked.connect(slot)
    return button


def error_text(exc: BaseException) -> str:
    """What the window says about a failed job: the sentence of an expected error, else a pointer."""
    from kbdesk.core.errors import KbdeskError

    if isinstance(exc, KbdeskError):
        return str(exc)
    return "Something went wrong; the details are in the log file."
