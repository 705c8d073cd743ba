"""The main window's layout: the preview with its toolbar and banners, the effect buttons and the
gallery on the left, the panels in a sidebar on the right, the stats at the bottom."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QScrollArea, QToolButton, QVBoxLayout, QWidget

from segcam.ui.controls import EffectControls
from segcam.ui.effects_bar import EffectBar
from segcam.ui.gallery import BackgroundGallery
from segcam.ui.model_panel import ModelPanel
from segcam.ui.preview import VIEW_LABELS, VIEWS, PreviewWidget
from segcam.ui.source_panel import SourcePanel
from segcam.ui.stats_bar import StatsBar
from segcam.ui.vcam_panel import VirtualCameraPanel
from segcam.ui.widgets import MessageStack, label

DEFAULT_SIZE = QSize(1320, 860)


class WindowLayout:
    """Mixed into MainWindow, before QMainWindow: builds its widgets. The window provides _fitted()."""

    def _build(self) -> None:
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(16)

        left = QVBoxLayout()
        left.setSpacing(12)

        stage = QFrame()
        stage.setObjectName("Card")
        stage_layout = QVBoxLayout(stage)
        stage_layout.setContentsMargins(12, 12, 12, 10)
        stage_layout.setSpacing(10)
        self.preview = PreviewWidget()
        stage_layout.addWidget(self.preview, 1)
        stage_layout.addLayout(self._preview_toolbar())
        left.addWidget(stage, 1)
        # banners lie over the top of the preview: showing one never moves the window's layout
        self.message_bar = MessageStack(stage)

        effects_header = QHBoxLayout()
        effects_header.addWidget(label("EFFECT", "title"))
        effects_header.addStretch(1)
        left.addLayout(effects_header)
        self.effect_bar = EffectBar()
        # on a narrow screen the row scrolls instead of forcing the window wider
        effects_scroll = QScrollArea()
        effects_scroll.setWidget(self.effect_bar)
        effects_scroll.setWidgetResizable(True)
        effects_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        effects_scroll.setFixedHeight(self.effect_bar.sizeHint().height() + 12)
        left.addWidget(effects_scroll)
        self.gallery = BackgroundGallery()
        left.addWidget(self.gallery)
        outer.addLayout(left, 1)

        sidebar = QWidget()
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 4, 0)
        side.setSpacing(12)
        self.vcam_panel = VirtualCameraPanel()
        self.controls = EffectControls()
        self.source_panel = SourcePanel()
        self.model_panel = ModelPanel()
        for panel in (self.vcam_panel, self.controls, self.source_panel, self.model_panel):
            side.addWidget(panel)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(sidebar)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(330)
        outer.addWidget(scroll)
        self.setCentralWidget(central)

        self.stats_bar = StatsBar()
        self.setStatusBar(self.stats_bar)
        self.resize(self._fitted(DEFAULT_SIZE))

    def _preview_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setSpacing(0)
        self.view_group = QButtonGroup(self)
        self.view_buttons: dict[str, QToolButton] = {}
        for i, view in enumerate(VIEWS):
            button = QToolButton()
            button.setText(VIEW_LABELS[view])
            button.setCheckable(True)
            button.setProperty("role", "segment")
            button.setProperty("position", "first" if i == 0 else "last" if i == len(VIEWS) - 1 else "middle")
            button.setToolTip(f"Show the {VIEW_LABELS[view].lower()} (Alt+{i + 1})")
            self.view_group.addButton(button)
            self.view_buttons[view] = button
            bar.addWidget(button)
        self.view_buttons["output"].setChecked(True)
        bar.addStretch(1)
        self.mirror_button = QToolButton()
        self.mirror_button.setProperty("role", "flat")
        self.mirror_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause_button = QToolButton()
        self.pause_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        bar.addWidget(self.mirror_button)
        bar.addSpacing(8)
        bar.addWidget(self.pause_button)
        return bar
