"""The Help menu's windows: keyboard shortcuts, Diagnose (segcam doctor's report), About."""

from __future__ import annotations

import importlib.util
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QDialog, QGridLayout, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from segcam import __version__
from segcam.ui.widgets import label


class ShortcutsDialog(QDialog):
    """Every action that has a shortcut, read from the actions themselves so it never goes stale."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(label("Keyboard shortcuts", "heading"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(6)
        self.rows: list[tuple[str, str]] = []
        self.unavailable: list[str] = []  # names of the rows whose action cannot be used here
        for action in actions:
            keys = ", ".join(s.toString(s.SequenceFormat.NativeText) for s in action.shortcuts())
            if not keys:
                continue
            # an action whose text follows its state (Pause/Resume) names itself for this list
            name = action.property("shortcut_name") or action.text().replace("&", "").rstrip("…")
            self.rows.append((name, keys))
            row = len(self.rows) - 1
            name_label, key = label(name), label(keys, "value")
            key.setAlignment(Qt.AlignmentFlag.AlignRight)
            if not action.isEnabled():  # listed, so nothing is a mystery, but shown as off
                self.unavailable.append(name)
                for widget in (name_label, key):
                    widget.setEnabled(False)
                    widget.setToolTip(action.toolTip())
            grid.addWidget(name_label, row, 0)
            grid.addWidget(key, row, 1)
        layout.addLayout(grid)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)


def doctor_available() -> bool:
    return importlib.util.find_spec("segcam.doctor") is not None


class _DoctorRun(QObject):
    done = Signal(str)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="segcam-doctor", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            from segcam import doctor

            self.done.emit(doctor.format_text(doctor.run_checks()))
        except Exception as exc:  # noqa: BLE001 - a diagnosis that fails is itself the diagnosis
            self.done.emit(f"The checks could not run: {exc}")


class DiagnoseDialog(QDialog):
    """Runs `segcam doctor`'s checks off the GUI thread (they probe cameras and Qt) and shows the report."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Diagnose segcam")
        self.resize(760, 460)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.addWidget(label("What works on this machine, and how to fix what does not", "heading"))
        self.report = QPlainTextEdit("Running checks…")
        self.report.setReadOnly(True)
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.report, 1)
        buttons = QHBoxLayout()
        self.copy = QPushButton("Copy report")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.report.toPlainText()))
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(label("Attach this report to bug reports.", "hint"))
        buttons.addStretch(1)
        buttons.addWidget(self.copy)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self._run = _DoctorRun()
        self._run.done.connect(self._show)
        self.thread = self._run.start()

    def _show(self, text: str) -> None:
        self.report.setPlainText(text)
        self.copy.setEnabled(True)


ABOUT = (f"<h3>segcam {__version__}</h3>"
         "<p>Background blur, replacement and colour splash for your webcam, sent to any meeting app as a "
         "virtual camera. Everything runs on this computer; no picture leaves it except through the "
         "virtual camera.</p>"
         "<p>Segmentation: Google MediaPipe Selfie Segmentation (Apache-2.0). "
         "segcam is free software under the GPL-3.0-or-later.</p>")
