"""The app's look: a dark theme with one accent colour, applied once to the QApplication.

Widgets opt into roles with an object name or a "role" property (e.g. a QFrame named "Card",
a QLabel with role="hint") rather than setting colours themselves, so the look stays here.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#121419"
SURFACE = "#1b1e25"
SURFACE_RAISED = "#242832"
BORDER = "#2b303b"
TEXT = "#e8eaf0"
TEXT_DIM = "#99a0ae"
ACCENT = "#5b8cff"
ACCENT_STRONG = "#7aa2ff"
OK = "#3ecf8e"
WARNING = "#f5b94a"
ERROR = "#ff6b6b"

STYLESHEET = f"""
* {{ font-size: 13px; }}
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QWidget {{ color: {TEXT}; }}
QToolTip {{ background: {SURFACE_RAISED}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px 6px; }}

QFrame#Card {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 12px; }}
QFrame#Card QLabel {{ background: transparent; }}
QLabel[role="title"] {{ color: {TEXT_DIM}; font-size: 11px; font-weight: 600; letter-spacing: 1px; }}
QLabel[role="heading"] {{ font-size: 15px; font-weight: 600; }}
QLabel[role="hint"] {{ color: {TEXT_DIM}; font-size: 12px; }}
QLabel[role="value"] {{ color: {TEXT_DIM}; font-size: 12px; min-width: 34px; }}
QLabel[state="on"] {{ color: {OK}; }}
QLabel[state="error"] {{ color: {ERROR}; }}

QFrame#MessageBar {{ border-radius: 10px; border: 1px solid {BORDER}; background: {SURFACE_RAISED}; }}
QFrame#MessageBar[level="error"] {{ border-color: #7a3434; background: #2a1a1d; }}
QFrame#MessageBar[level="warning"] {{ border-color: #6e5526; background: #2a2419; }}
QFrame#MessageBar[level="info"] {{ border-color: #2f4a80; background: #1a2133; }}
QFrame#MessageBar QLabel {{ background: transparent; }}

QPushButton, QToolButton {{
    background: {SURFACE_RAISED}; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 6px 12px;
}}
QPushButton:hover, QToolButton:hover {{ border-color: #3d4452; background: #2a2f3a; }}
QPushButton:pressed, QToolButton:pressed {{ background: #1f232b; }}
QPushButton:checked, QToolButton:checked {{ background: #233058; border-color: {ACCENT}; }}
QPushButton:disabled, QToolButton:disabled {{ color: #5c6270; }}
QPushButton[role="primary"] {{ background: {ACCENT}; border-color: {ACCENT}; color: white; font-weight: 600; }}
QPushButton[role="primary"]:hover {{ background: {ACCENT_STRONG}; }}
QPushButton[role="primary"]:disabled {{ background: #2c3550; border-color: #2c3550; color: #7d8599; }}
QToolButton[role="flat"] {{ background: transparent; border-color: transparent; padding: 4px 8px; }}
QToolButton[role="flat"]:hover {{ background: {SURFACE_RAISED}; }}
QToolButton[role="flat"]:checked {{ background: #233058; border-color: {ACCENT}; }}
QToolButton::menu-indicator {{ image: none; width: 0; }}
QToolButton[popupMode="1"] {{ padding-right: 26px; }}
QToolButton::menu-button {{ width: 20px; border: none; border-left: 1px solid {BORDER}; }}
QToolButton::menu-arrow {{ width: 9px; height: 9px; }}

QToolButton[role="effect"] {{
    background: {SURFACE}; border: 2px solid {BORDER}; border-radius: 12px;
    padding: 6px 6px 8px 6px; font-weight: 600; color: {TEXT_DIM};
}}
QToolButton[role="effect"]:hover {{ border-color: #46506a; color: {TEXT}; }}
QToolButton[role="effect"]:checked {{ border-color: {ACCENT}; background: #1d2740; color: {TEXT}; }}

QToolButton[role="segment"] {{ border-radius: 0; padding: 5px 12px; background: {SURFACE_RAISED}; }}
QToolButton[role="segment"][position="first"] {{ border-top-left-radius: 8px; border-bottom-left-radius: 8px; }}
QToolButton[role="segment"][position="last"] {{ border-top-right-radius: 8px; border-bottom-right-radius: 8px; }}
QToolButton[role="segment"]:checked {{ background: #233058; border-color: {ACCENT}; }}

QComboBox {{
    background: {SURFACE_RAISED}; border: 1px solid {BORDER}; border-radius: 8px; padding: 5px 10px;
    min-height: 20px;
}}
QComboBox:hover {{ border-color: #3d4452; }}
QComboBox:disabled {{ color: {TEXT_DIM}; background: {SURFACE}; }}
QComboBox::drop-down {{ border: none; width: 22px; }}
QComboBox QAbstractItemView {{
    background: {SURFACE_RAISED}; border: 1px solid {BORDER}; selection-background-color: #2c3a63;
    outline: none; padding: 4px;
}}

QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QSlider::handle:horizontal {{
    background: {TEXT}; width: 16px; height: 16px; margin: -6px 0; border-radius: 8px;
}}
QSlider::handle:horizontal:hover {{ background: white; }}
QSlider::sub-page:horizontal:disabled {{ background: #3a3f4b; }}

QCheckBox {{ spacing: 8px; }}
QCheckBox::indicator {{ width: 16px; height: 16px; border-radius: 4px; border: 1px solid #4a5160; background: {SURFACE_RAISED}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}

QListWidget#Gallery {{ background: transparent; border: none; outline: none; }}
QListWidget#Gallery::item {{ border: 2px solid transparent; border-radius: 10px; padding: 2px; margin: 2px; color: {TEXT_DIM}; }}
QListWidget#Gallery::item:hover {{ border-color: #46506a; }}
QListWidget#Gallery::item:selected {{ border-color: {ACCENT}; background: #1d2740; color: {TEXT}; }}

QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
QScrollBar:vertical, QScrollBar:horizontal {{ background: transparent; width: 10px; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: #343a46; border-radius: 5px; min-height: 30px; min-width: 30px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}

QMenuBar {{ background: {BACKGROUND}; padding: 2px 6px; }}
QMenuBar::item {{ padding: 4px 10px; border-radius: 6px; background: transparent; }}
QMenuBar::item:selected {{ background: {SURFACE_RAISED}; }}
QMenu {{ background: {SURFACE_RAISED}; border: 1px solid {BORDER}; padding: 6px; border-radius: 8px; }}
QMenu::item {{ padding: 6px 24px 6px 24px; border-radius: 6px; }}
QMenu::item:selected {{ background: #2c3a63; }}
QMenu::item:disabled {{ color: #5c6270; }}
QLabel:disabled {{ color: #5c6270; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 5px 8px; }}
QMenu::indicator {{ width: 12px; height: 12px; left: 6px; }}

QStatusBar {{ background: {BACKGROUND}; color: {TEXT_DIM}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 8px; }}
QStatusBar::item {{ border: none; }}

QProgressBar {{ background: {SURFACE_RAISED}; border: 1px solid {BORDER}; border-radius: 6px; height: 12px;
    text-align: center; color: {TEXT_DIM}; font-size: 11px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 5px; }}
QPlainTextEdit, QTextBrowser {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 8px; padding: 6px; }}
"""


def apply(app: QApplication) -> None:
    """Fusion with a dark palette (for what the stylesheet leaves alone), then the stylesheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE,
        QPalette.ColorRole.AlternateBase: SURFACE_RAISED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: SURFACE_RAISED,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: SURFACE_RAISED,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Link: ACCENT_STRONG,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#5c6270"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#5c6270"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
