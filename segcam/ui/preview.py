"""The live preview: the output (or the original, or the mask), fitted to the widget.

Mirroring here is for the user's eyes only: people expect to see themselves as in a mirror,
while the picture sent to meeting apps stays the right way round (they mirror the self-view
themselves).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath
from PySide6.QtWidgets import QSizePolicy, QWidget

from segcam.processor import Result
from segcam.ui import theme
from segcam.ui.images import bgr_to_qimage, mask_to_qimage

VIEWS = ("output", "original", "mask")
VIEW_LABELS = {"output": "Output", "original": "Original", "mask": "Mask"}


class PreviewWidget(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.view = "output"
        self.mirror = True
        self.badge = ""  # e.g. "PAUSED", drawn over the picture
        self.placeholder = "Starting…"
        self.image: QImage | None = None  # what is on screen now, before mirroring
        self._result: Result | None = None
        self.frames_shown = 0

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, 450)

    def show_result(self, result: Result) -> None:
        self._result = result
        self._render()

    def set_view(self, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(view)
        self.view = view
        self._render()

    def set_mirror(self, mirror: bool) -> None:
        self.mirror = mirror
        self.update()

    def set_badge(self, text: str) -> None:
        self.badge = text
        self.update()

    def clear(self, placeholder: str) -> None:
        self._result, self.image, self.placeholder = None, None, placeholder
        self.update()

    def _render(self) -> None:
        result = self._result
        if result is None:
            return
        if self.view == "mask":
            self.image = mask_to_qimage(result.alpha)
        else:
            self.image = bgr_to_qimage(result.frame if self.view == "original" else result.output)
        self.frames_shown += 1
        self.update()

    def target_rect(self) -> QRectF:
        """Where the picture goes: as large as fits, centred, keeping its aspect ratio."""
        if self.image is None:
            return QRectF(self.rect())
        w, h = self.image.width(), self.image.height()
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.target_rect()
        clip = QPainterPath()
        clip.addRoundedRect(target, 12, 12)
        painter.setClipPath(clip)
        if self.image is None:
            painter.fillRect(target, QColor("#0c0d11"))
            painter.setPen(QColor(theme.TEXT_DIM))
            painter.drawText(target, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        painter.save()
        if self.mirror:
            painter.translate(target.center().x() * 2, 0)
            painter.scale(-1, 1)
        painter.drawImage(target, self.image)
        painter.restore()
        labels = [VIEW_LABELS[self.view]] if self.view != "output" else []
        if self.badge:
            labels.insert(0, self.badge)
        x = target.left() + 12
        for text in labels:
            x += self._pill(painter, x, target.top() + 12, text, self.badge == text) + 8

    def _pill(self, painter: QPainter, x: float, y: float, text: str, alert: bool) -> float:
        font = QFont(self.font())
        font.setPixelSize(11)  # the stylesheet sizes fonts in pixels
        font.setBold(True)
        painter.setFont(font)
        width = painter.fontMetrics().horizontalAdvance(text) + 20
        rect = QRectF(x, y, width, 24)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.ERROR if alert else "#000000").darker(110 if alert else 100))
        painter.setOpacity(0.85)
        painter.drawRoundedRect(rect, 12, 12)
        painter.setOpacity(1.0)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        return width
