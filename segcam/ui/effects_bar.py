"""The row of effect buttons, each showing a live thumbnail of what it would look like.

The thumbnails are the engine's own Compositor run on a small copy of the latest frame and
mask, a few times a second, so each button previews exactly what choosing it gives.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from segcam import effects
from segcam.effects import Compositor
from segcam.errors import SegcamError
from segcam.settings import EffectSettings, facts
from segcam.ui import theme
from segcam.ui.images import cover, thumbnail_pixmap

THUMB = QSize(128, 72)
WANTS = {"image": "Choose a picture", "video": "Choose a video"}  # a button's text until its file is chosen


def _wants(effect) -> str:
    """What a button says while its effect has nothing to show: the kind of file it needs."""
    return WANTS.get(facts(effect.needs).get("kind"), "") if effect.needs else ""


class EffectThumbnails:
    """One small Compositor per effect, rebuilt only when that effect's settings change."""

    def __init__(self):
        self._compositors: dict[str, tuple[tuple, Compositor | None]] = {}

    def render(self, frame: np.ndarray, alpha: np.ndarray, settings: EffectSettings,
               fallback_background: str = "") -> dict[str, np.ndarray | None]:
        """Thumbnail-sized BGR pictures per effect; None where the effect has nothing to show yet."""
        small = cover(frame, THUMB.width(), THUMB.height())
        small_alpha = cover(alpha, THUMB.width(), THUMB.height())
        pictures = {}
        for effect in effects.names():
            compositor = self._compositor(effect, settings, fallback_background)
            try:
                pictures[effect] = None if compositor is None else compositor.compose(small, small_alpha)
            except SegcamError:  # e.g. a background video that stopped playing
                pictures[effect] = None
        return pictures

    def _compositor(self, effect: str, settings: EffectSettings, fallback_background: str) -> Compositor | None:
        # each button shows its effect alone: no stages (the preview mirrors them all alike)
        wanted = dataclasses.replace(settings, name=effect, background=settings.background or fallback_background)
        key = tuple(getattr(wanted, name) for name in effects.get(effect).reads)
        cached = self._compositors.get(effect)
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None and cached[1] is not None:
            cached[1].close()
        try:
            compositor = Compositor(wanted, stages=False)
        except SegcamError:  # no background chosen yet, or it does not load
            compositor = None
        self._compositors[effect] = (key, compositor)
        return compositor

    def close(self) -> None:
        for _, compositor in self._compositors.values():
            if compositor is not None:
                compositor.close()
        self._compositors.clear()


def _placeholder(text: str) -> QPixmap:
    pixmap = QPixmap(THUMB)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#262a33"))
    painter.drawRoundedRect(0, 0, THUMB.width(), THUMB.height(), 8, 8)
    painter.setPen(QColor(theme.TEXT_DIM))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


class EffectBar(QWidget):
    chosen = Signal(str)  # the user picked an effect

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        self._wants: dict[str, str] = {}
        for effect in effects.effects():
            button = QToolButton()
            button.setProperty("role", "effect")
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(THUMB)
            button.setText(effect.label)
            button.setToolTip(effect.hint)
            # until the first frame: "…", or what a video effect waits for (it has no frame of its own)
            self._wants[effect.name] = _wants(effect) or WANTS["image"]
            button.setIcon(QIcon(_placeholder(_wants(effect) if _wants(effect) == WANTS["video"] else "…")))
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, e=effect.name: self.chosen.emit(e))
            self.group.addButton(button)
            layout.addWidget(button)
            self.buttons[effect.name] = button

    def set_effect(self, settings: EffectSettings) -> None:
        """Check the chosen effect's button; labels that follow the settings ("Solid colour") follow."""
        self.buttons[settings.name].setChecked(True)
        for effect in effects.effects():
            self.buttons[effect.name].setText(effect.label_for(settings))

    def set_thumbnails(self, pictures: dict[str, np.ndarray | None]) -> None:
        for effect, picture in pictures.items():
            if picture is None:
                pixmap = _placeholder(self._wants[effect])
            else:
                pixmap = thumbnail_pixmap(picture, THUMB)
            self.buttons[effect].setIcon(QIcon(pixmap))
