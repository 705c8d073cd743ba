"""The system tray icon: show/hide, pause and a quick effect switch without opening the window.

It reuses the window's QActions, so a change made here is the same change made anywhere else.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from segcam.ui import icons


def make_tray(window: QWidget, show_hide: QAction, pause: QAction, effects: list[QAction],
              vcam: QAction, quit_action: QAction) -> QSystemTrayIcon | None:
    """The tray icon, or None where the desktop has no tray (then the window's menus do it all)."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = QSystemTrayIcon(icons.app_icon(), window)
    tray.setToolTip("segcam")
    menu = QMenu(window)
    menu.addAction(show_hide)
    menu.addSeparator()
    menu.addAction(pause)
    menu.addAction(vcam)
    effect_menu = menu.addMenu("Effect")
    for action in effects:
        effect_menu.addAction(action)
    menu.addSeparator()
    menu.addAction(quit_action)
    tray.setContextMenu(menu)
    tray.activated.connect(lambda reason: show_hide.trigger()
                           if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
    tray.show()
    return tray
