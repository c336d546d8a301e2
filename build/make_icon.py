"""Draws the window icon (src/kbdesk/assets/kbdesk.png): a page with a highlighted line and a speech tail."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QImage, QPainter, QPen, QPolygonF

SIZE = 256


def draw(path: Path) -> None:
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#1f4e8c"))
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 48, 48)
    p.setBrush(QColor("#ffffff"))
    p.drawRoundedRect(QRectF(60, 40, 136, 168), 12, 12)
    p.drawPolygon(QPolygonF([QPointF(92, 200), QPointF(70, 236), QPointF(128, 204)]))
    p.setBrush(QBrush(QColor("#ffd54a")))
    p.drawRect(QRectF(76, 108, 104, 22))
    p.setPen(QPen(QColor("#9fb3cc"), 8, c=Qt.PenCapStyle.RoundCap))
    for y in (72, 92, 146, 166):
        p.drawLine(QPointF(82, y), QPointF(174, y))
    p.setPen(QPen(QColor("#1f4e8c"), 8, c=Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(82, 119), QPointF(174, 119))
    p.end()
    image.save(str(path))


if __name__ == "__main__":
    app = QGuiApplication(sys.argv[:1])
    draw(Path(__file__).resolve().parents[1] / "src" / "kbdesk" / "assets" / "kbdesk.png")
