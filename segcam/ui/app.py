"""The app's entry point: `segcam` with no command ends up here."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from segcam.settings import Settings
from segcam.ui import icons, theme
from segcam.ui.widgets import WheelNeedsFocus
from segcam.ui.window import MainWindow


def application() -> QApplication:
    """The one QApplication, created (and themed) on first use."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("segcam")
        app.setApplicationDisplayName("segcam")
        app.setDesktopFileName("segcam")
    if not app.property("segcam_themed"):
        theme.apply(app)
        app.setWindowIcon(icons.app_icon())
        app.setProperty("segcam_themed", True)
        app._wheel_needs_focus = WheelNeedsFocus(app)  # kept: an event filter Python let go would stop
        app.installEventFilter(app._wheel_needs_focus)
    return app


def create_window(settings: Settings, warnings: list[str] | tuple = (), realtime: bool = True) -> MainWindow:
    application()
    return MainWindow(settings, warnings, realtime=realtime)


def main(settings: Settings, warnings: list[str] | tuple = ()) -> int:
    """Open the window and run until it closes; the camera and virtual camera are released then."""
    app = application()
    window = create_window(settings, warnings)
    window.show()
    app.setQuitOnLastWindowClosed(True)
    # Ctrl-C in the terminal closes the window like its close button. Python runs signal
    # handlers only between bytecodes, so a timer wakes the interpreter while Qt waits.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer(interval=250, timeout=lambda: None)
    wake.start()
    try:
        code = app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
    return code
