"""The controls that matter for the chosen effect: strengths, colour, video, mask edge and smoothing.

The panel shows values from a Settings and reports the user's changes as {field: value};
it holds no state of its own beyond what is on screen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QColorDialog, QHBoxLayout, QPushButton, QToolButton, QWidget

from segcam.settings import GREEN, Settings
from segcam.ui import icons
from segcam.ui.effects_bar import HINTS, effect_label
from segcam.ui.widgets import Card, ElidedLabel, LabeledSlider, label

SWATCHES = {"Green": GREEN, "Blue": (0, 71, 187), "White": (255, 255, 255), "Charcoal": (40, 44, 52)}


class EffectControls(Card):
    changed = Signal(dict)  # {settings field: new value}
    choose_video_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Adjust", parent)
        self.heading = label("", "heading")
        self.hint = label("", "hint", wrap=True)
        self.body.addWidget(self.heading)
        self.body.addWidget(self.hint)

        self.blur = LabeledSlider("Blur strength", "How strongly the room behind you is blurred")
        self.splash = LabeledSlider("Grey amount", "0%: the room keeps its colours; 100%: fully grey")
        self.blur.changed.connect(lambda v: self.changed.emit({"blur_strength": v}))
        self.splash.changed.connect(lambda v: self.changed.emit({"splash_strength": v}))

        self.colours = QWidget()
        row = QHBoxLayout(self.colours)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.swatches: dict[tuple, QToolButton] = {}
        for name, rgb in SWATCHES.items():
            swatch = QToolButton()
            swatch.setToolTip(name)
            swatch.setCheckable(True)
            swatch.setFixedSize(30, 30)
            swatch.setStyleSheet(_swatch_style(rgb))
            swatch.clicked.connect(lambda _=False, c=rgb: self.changed.emit({"color": c}))
            row.addWidget(swatch)
            self.swatches[rgb] = swatch
        self.custom_colour = QPushButton("Custom…")
        self.custom_colour.clicked.connect(self._pick_colour)
        row.addWidget(self.custom_colour)
        row.addStretch(1)

        self.video = QWidget()
        video_row = QHBoxLayout(self.video)
        video_row.setContentsMargins(0, 0, 0, 0)
        # a long file name is shortened (whole in the tooltip) rather than pushing the panel wider
        self.video_name = ElidedLabel("No video chosen", "hint")
        self.choose_video = QPushButton(icons.icon("folder"), "Choose video…")
        self.choose_video.clicked.connect(self.choose_video_requested)
        video_row.addWidget(self.video_name, 1)
        video_row.addWidget(self.choose_video)

        self.edge = LabeledSlider("Edge softness", "Feathering of the edge around you: more hides a ragged outline")
        self.smoothing = LabeledSlider("Smoothing", "Steadies the outline between frames: more is calmer, "
                                                    "less follows fast moves")
        self.edge.changed.connect(lambda v: self.changed.emit({"edge_softness": v}))
        self.smoothing.changed.connect(lambda v: self.changed.emit({"smoothing": v}))

        self.mirror_output = QCheckBox("Mirror what is sent")
        self.mirror_output.setToolTip("Meeting apps already mirror your self-view; leave this off so others "
                                      "see writing the right way round")
        self.mirror_output.toggled.connect(lambda on: self.changed.emit({"mirror": on}))

        for widget in (self.blur, self.splash, self.colours, self.video, self.edge, self.smoothing,
                       self.mirror_output):
            self.body.addWidget(widget)
        self._color = GREEN

    def show_settings(self, settings: Settings) -> None:
        effect = settings.effect
        self.heading.setText(effect_label(effect, settings))
        self.hint.setText(HINTS[effect] + (". Pick a picture below, or drop one on the window."
                                           if effect == "image" else "."))
        self.blur.setVisible(effect == "blur")
        self.splash.setVisible(effect == "splash")
        self.colours.setVisible(effect == "solid")
        self.video.setVisible(effect == "video")
        self.edge.setVisible(effect != "none")
        self.smoothing.setVisible(effect != "none")
        self.blur.set_value(settings.blur_strength)
        self.splash.set_value(settings.splash_strength)
        self.edge.set_value(settings.edge_softness)
        self.smoothing.set_value(settings.smoothing)
        self._color = tuple(settings.color)
        for rgb, swatch in self.swatches.items():
            swatch.setChecked(rgb == self._color)
        self.custom_colour.setStyleSheet("" if self._color in self.swatches else
                                         f"border: 2px solid rgb{self._color};")
        self.video_name.setText(Path(settings.background_video).name if settings.background_video
                                else "No video chosen")
        self.video_name.setToolTip(settings.background_video)  # the whole path
        self.mirror_output.blockSignals(True)
        self.mirror_output.setChecked(settings.mirror)
        self.mirror_output.blockSignals(False)

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self._color), self, "Background colour")
        if colour.isValid():
            self.changed.emit({"color": (colour.red(), colour.green(), colour.blue())})


def _swatch_style(rgb: tuple[int, int, int]) -> str:
    return (f"QToolButton {{ background: rgb{rgb}; border: 2px solid #3a404c; border-radius: 15px; padding: 0; }}"
            f"QToolButton:checked {{ border: 3px solid #ffffff; }}")
