"""Small line icons drawn with QPainter, so they match the theme at any size and need no files."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from segcam.ui import resources, theme

_SIZE = 64  # drawn at this size on a 24-unit grid, scaled by Qt where smaller


def _pixmap(draw, colour: str) -> QPixmap:
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(_SIZE / 24, _SIZE / 24)
    pen = QPen(QColor(colour), 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    draw(painter)
    painter.end()
    return pixmap


def _pause(p: QPainter) -> None:
    p.drawLine(QPointF(9, 6), QPointF(9, 18))
    p.drawLine(QPointF(15, 6), QPointF(15, 18))


def _mirror(p: QPainter) -> None:
    p.drawLine(QPointF(12, 4), QPointF(12, 20))
    p.drawPolygon([QPointF(9, 7), QPointF(3, 17), QPointF(9, 17)])
    p.drawPolygon([QPointF(15, 7), QPointF(21, 17), QPointF(15, 17)])


def _refresh(p: QPainter) -> None:
    p.drawArc(QRectF(5, 5, 14, 14), 30 * 16, 280 * 16)
    p.drawPolyline([QPointF(19, 4), QPointF(19, 9), QPointF(14, 9)])


def _plus(p: QPainter) -> None:
    p.drawLine(QPointF(12, 5), QPointF(12, 19))
    p.drawLine(QPointF(5, 12), QPointF(19, 12))


def _folder(p: QPainter) -> None:
    path = QPainterPath(QPointF(3, 7))
    for x, y in ((3, 18), (21, 18), (21, 9), (12, 9), (10, 6), (3, 6)):
        path.lineTo(x, y)
    p.drawPath(path)


def _camera(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 7, 13, 10), 2, 2)
    p.drawPolygon([QPointF(16, 11), QPointF(21, 8), QPointF(21, 16), QPointF(16, 13)])


def _broadcast(p: QPainter) -> None:
    p.drawEllipse(QPointF(12, 12), 2, 2)
    p.drawArc(QRectF(7, 7, 10, 10), -50 * 16, 100 * 16)
    p.drawArc(QRectF(7, 7, 10, 10), 130 * 16, 100 * 16)
    p.drawArc(QRectF(3, 3, 18, 18), -50 * 16, 100 * 16)
    p.drawArc(QRectF(3, 3, 18, 18), 130 * 16, 100 * 16)


_GLYPHS = {"pause": _pause, "mirror": _mirror, "refresh": _refresh, "plus": _plus, "folder": _folder,
           "camera": _camera, "broadcast": _broadcast}


@lru_cache(maxsize=None)
def icon(name: str, colour: str = theme.TEXT) -> QIcon:
    """One of the glyphs above, in the theme's text colour and dimmed when disabled."""
    result = QIcon()
    result.addPixmap(_pixmap(_GLYPHS[name], colour), QIcon.Mode.Normal)
    result.addPixmap(_pixmap(_GLYPHS[name], "#5c6270"), QIcon.Mode.Disabled)
    return result


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """segcam's icon from assets/icon, every size; an empty icon if the assets are missing."""
    result = QIcon()
    for path in resources.icon_files():
        result.addFile(str(path))
    return result
