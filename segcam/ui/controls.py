"""The controls that matter for the chosen effect: its own settings, the mask's, and the stages'.

The controls come from the settings' facts (label, hint, kind) and the effects registry (which
effect reads which setting): a new effect's setting gets its control here without an edit.
The panel shows values from a Settings and reports the user's changes as {setting key: value};
it holds no state of its own beyond what is on screen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QColorDialog, QComboBox, QHBoxLayout, QPushButton, QToolButton, QWidget

from segcam import effects
from segcam import settings as settings_store
from segcam.settings import GREEN, Settings
from segcam.ui import icons
from segcam.ui.widgets import Card, ElidedLabel, LabeledSlider, label

SWATCHES = {"Green": GREEN, "Blue": (0, 71, 187), "White": (255, 255, 255), "Charcoal": (40, 44, 52)}


class EffectControls(Card):
    changed = Signal(dict)  # {settings key: new value}
    choose_video_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Adjust", parent)
        self.heading = label("", "heading")
        self.hint = label("", "hint", wrap=True)
        self.body.addWidget(self.heading)
        self.body.addWidget(self.hint)
        self.sliders: dict[str, LabeledSlider] = {}
        self.checks: dict[str, QCheckBox] = {}
        self.choices: dict[str, QComboBox] = {}
        self.widgets: dict[str, QWidget] = {}  # every setting's control, by key
        self._color = GREEN
        self.mask_keys = [key for key, (section, _) in settings_store.FIELDS.items() if section == "mask"]
        self.stage_keys = [key for stage in effects.stages() for key in stage.reads]
        effect_keys = [key for effect in effects.effects() for key in effect.reads]
        for key in dict.fromkeys([*effect_keys, *self.mask_keys, *self.stage_keys]):  # the panel's order
            widget = self._control(key)
            if widget is not None:
                self.widgets[key] = widget
                self.body.addWidget(widget)

    def _control(self, key: str) -> QWidget | None:
        """The control for one setting, by its kind; None for those set elsewhere (the gallery's
        pictures) or not offered in the app (the threshold)."""
        facts = settings_store.facts(key)
        kind = facts.get("kind")
        if kind == "fraction":
            slider = self.sliders[key] = LabeledSlider(facts["label"], facts.get("hint", ""))
            slider.changed.connect(lambda v, k=key: self.changed.emit({k: v}))
            return slider
        if kind == "color":
            return self._colour_row(key)
        if kind == "video":
            return self._video_row()
        if kind == "choice":
            combo = self.choices[key] = QComboBox()
            for value, text in facts["choices"]:
                combo.addItem(text, value)
            combo.setToolTip(facts.get("hint", ""))
            combo.activated.connect(lambda i, k=key, c=combo: self.changed.emit({k: c.itemData(i)}))
            return combo
        if isinstance(Settings().get(key), bool):
            check = self.checks[key] = QCheckBox(facts["label"])
            check.setToolTip(facts.get("hint", ""))
            check.toggled.connect(lambda on, k=key: self.changed.emit({k: on}))
            return check
        return None

    def _colour_row(self, key: str) -> QWidget:
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.swatches: dict[tuple, QToolButton] = {}
        for name, rgb in SWATCHES.items():
            swatch = QToolButton()
            swatch.setToolTip(name)
            swatch.setCheckable(True)
            swatch.setFixedSize(30, 30)
            swatch.setStyleSheet(_swatch_style(rgb))
            swatch.clicked.connect(lambda _=False, c=rgb: self.changed.emit({key: c}))
            row.addWidget(swatch)
            self.swatches[rgb] = swatch
        self.custom_colour = QPushButton("Custom…")
        self.custom_colour.clicked.connect(lambda: self._pick_colour(key))
        row.addWidget(self.custom_colour)
        row.addStretch(1)
        return row_widget

    def _video_row(self) -> QWidget:
        video = QWidget()
        video_row = QHBoxLayout(video)
        video_row.setContentsMargins(0, 0, 0, 0)
        # a long file name is shortened (whole in the tooltip) rather than pushing the panel wider
        self.video_name = ElidedLabel("No video chosen", "hint")
        self.choose_video = QPushButton(icons.icon("folder"), "Choose video…")
        self.choose_video.clicked.connect(self.choose_video_requested)
        video_row.addWidget(self.video_name, 1)
        video_row.addWidget(self.choose_video)
        return video

    def show_settings(self, settings: Settings) -> None:
        chosen = effects.get(settings.effect.name)
        self.heading.setText(chosen.label_for(settings.effect))
        self.hint.setText(chosen.hint + (f". {chosen.guide}" if chosen.guide else "."))
        shown = {*chosen.reads, *(self.mask_keys if chosen.uses_mask else ()), *self.stage_keys}
        for key, widget in self.widgets.items():
            widget.setVisible(key in shown)
        for key, slider in self.sliders.items():
            slider.set_value(settings.get(key))
        for key, check in self.checks.items():
            check.blockSignals(True)
            check.setChecked(settings.get(key))
            check.blockSignals(False)
        for key, combo in self.choices.items():
            combo.setCurrentIndex(max(0, combo.findData(settings.get(key))))
        if "color" in self.widgets:
            self._color = tuple(settings.effect.color)
            for rgb, swatch in self.swatches.items():
                swatch.setChecked(rgb == self._color)
            self.custom_colour.setStyleSheet("" if self._color in self.swatches else
                                             f"border: 2px solid rgb{self._color};")
        if "background_video" in self.widgets:
            video = settings.effect.background_video
            self.video_name.setText(Path(video).name if video else "No video chosen")
            self.video_name.setToolTip(video)  # the whole path

    def _pick_colour(self, key: str) -> None:
        colour = QColorDialog.getColor(QColor(*self._color), self, "Background colour")
        if colour.isValid():
            self.changed.emit({key: (colour.red(), colour.green(), colour.blue())})


def _swatch_style(rgb: tuple[int, int, int]) -> str:
    return (f"QToolButton {{ background: rgb{rgb}; border: 2px solid #3a404c; border-radius: 15px; padding: 0; }}"
            f"QToolButton:checked {{ border: 3px solid #ffffff; }}")


def explain(error: Exception) -> str:
    """An engine error in the app's words: the setting it names, as the control that sets it."""
    key = getattr(error, "setting", None)
    label = settings_store.facts(key).get("label") if key in settings_store.FIELDS else None
    text = str(error)
    if not label or label in text:
        return text
    return f"{text[:-1]} ({label})." if text.endswith(".") else f"{text} ({label})"
