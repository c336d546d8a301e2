"""Small widget helpers shared by the panes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QIcon
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


def lock_icon(closed: bool = True, size: int = 32) -> QIcon:
    """A padlock, closed or open (drawn: the icon themes of office PCs differ, and none may have
    one)."""
    from PySide6.QtCore import QLineF, QRectF, Qt
    from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor("#8a5a00") if closed else QColor("#3d7a3d")
    unit = size / 32
    painter.setPen(QPen(colour, 3.2 * unit))
    shackle = QRectF(9 * unit, 3 * unit, 14 * unit, 16 * unit)
    if closed:
        painter.drawArc(shackle, 0, 180 * 16)
        painter.drawLine(QLineF(shackle.left(), 11 * unit, shackle.left(), 15 * unit))
        painter.drawLine(QLineF(shackle.right(), 11 * unit, shackle.right(), 15 * unit))
    else:  # the shackle swung up and open on the right
        painter.drawArc(shackle.translated(0, -3 * unit), 0, 180 * 16)
        painter.drawLine(QLineF(shackle.left(), 8 * unit, shackle.left(), 15 * unit))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(QRectF(5 * unit, 14 * unit, 22 * unit, 16 * unit), 3 * unit, 3 * unit)
    painter.setBrush(QColor("white"))
    painter.drawEllipse(QRectF(14 * unit, 18.5 * unit, 4 * unit, 4 * unit))
    painter.drawRect(QRectF(15.2 * unit, 21 * unit, 1.6 * unit, 5 * unit))
    painter.end()
    return QIcon(pixmap)
