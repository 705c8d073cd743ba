"""First run without model weights: download them with progress, or import a file when offline."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from segcam.errors import SegcamError
from segcam.models import registry, weights
from segcam.ui.widgets import label, restyle


def needed_files(model: str) -> list[str]:
    """The pinned weight files a model setting may use ("auto" picks by frame shape: both shapes').

    Models whose weights come another way (torchvision's, a trained model file) list none.
    """
    if model in ("", "auto"):
        names = {registry.pick_for_frame(16, 9), registry.pick_for_frame(1, 1)}
    else:
        names = {registry.resolve(model, 16, 9)}
    return sorted({f for name in names for f in registry.get(name).weight_files})


def missing_files(model: str) -> list[str]:
    return [name for name in needed_files(model) if not weights.verify(name)]


class _Downloader(QObject):
    """Fetches files on a thread; reports with signals (the dialog's widgets stay in the GUI thread)."""

    progress = Signal(str, int, int)  # file, bytes done, bytes total (0: unknown)
    file_done = Signal(str)
    finished = Signal(object)  # None, or the WeightsError that stopped it

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names
        self.thread = threading.Thread(target=self._run, name="segcam-weights-download", daemon=True)

    def _run(self) -> None:
        try:
            for name in self.names:
                weights.download(name, progress=False,
                                 on_progress=lambda done, total, n=name: self.progress.emit(n, done, total or 0))
                self.file_done.emit(name)
        except SegcamError as exc:
            self.finished.emit(exc)
            return
        except Exception as exc:  # noqa: BLE001 - shown in the dialog rather than lost in a thread
            self.finished.emit(SegcamError(f"Downloading failed unexpectedly: {exc}"))
            return
        self.finished.emit(None)


class WeightsDialog(QDialog):
    """Lists the missing files; accepts itself once every one is installed."""

    def __init__(self, model: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Get the segmentation model")
        self.setMinimumWidth(520)
        self.model = model
        self._downloader: _Downloader | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(label("segcam needs a model to find you in the picture", "heading"))
        layout.addWidget(label(
            "It uses Google's MediaPipe Selfie Segmentation (Apache-2.0, well under 1 MB), downloaded once "
            "from MediaPipe's public storage and checked against a pinned SHA-256. Offline? Import a copy of the "
            ".tflite file instead.", "hint", wrap=True))
        self.files = QLabel()
        self.files.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.files)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        layout.addWidget(self.bar)
        self.status = label("", "hint", wrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip("Use a selfie_segmentation .tflite file you already have")
        self.cancel_button = QPushButton("Not now")
        self.download_button = QPushButton("Download")
        self.download_button.setProperty("role", "primary")
        self.download_button.setDefault(True)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.download_button)
        layout.addLayout(buttons)
        self.import_button.clicked.connect(self._ask_import)
        self.cancel_button.clicked.connect(self.reject)
        self.download_button.clicked.connect(self.download)
        self._refresh()

    def missing(self) -> list[str]:
        return missing_files(self.model)

    def download(self) -> None:
        names = self.missing()
        if not names or self._downloader is not None:
            return
        self._set_busy(True)
        self.bar.setRange(0, 0)  # busy until the first bytes say how large the file is
        self._show_status(f"Downloading {names[0]}…")
        self._downloader = _Downloader(names)
        self._downloader.progress.connect(self._progress)
        self._downloader.file_done.connect(lambda _: self._refresh())
        self._downloader.finished.connect(self._download_finished)
        self._downloader.thread.start()

    def import_files(self, paths: list[str]) -> None:
        """What the Import button does after its file dialog (and what tests call)."""
        errors = []
        for path in paths:
            try:
                weights.import_file(path)
            except SegcamError as exc:
                errors.append(str(exc))
        self._show_status(" ".join(errors), error=bool(errors))
        self._refresh()

    def _ask_import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import model file", "", "TensorFlow Lite model (*.tflite);;"
                                                "All files (*)")
        if paths:
            self.import_files(paths)

    def _progress(self, name: str, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(100 * done / total))
        else:
            self.bar.setRange(0, 0)  # unknown size: a busy bar
        self._show_status(f"Downloading {name}: {done / 1024:.0f} KB" + (f" of {total / 1024:.0f} KB" if total else ""))

    def _download_finished(self, error) -> None:
        self._downloader.thread.join()
        self._downloader = None
        self._set_busy(False)
        if error is not None:
            self.bar.setRange(0, 100)
            self.bar.setValue(0)
            self._show_status(str(error), error=True)
        self._refresh()

    def _refresh(self) -> None:
        needed, missing = needed_files(self.model), set(self.missing())
        rows = "".join(f"<div>{'✓' if name not in missing else '•'}&nbsp; {name}"
                       f"&nbsp;&nbsp;<span style='color:#99a0ae'>{'installed' if name not in missing else 'needed'}"
                       f"</span></div>" for name in needed)
        self.files.setText(rows)
        if not missing:
            self.bar.setRange(0, 100)
            self.bar.setValue(100)
            self.accept()

    def _set_busy(self, busy: bool) -> None:
        for button in (self.download_button, self.import_button):
            button.setEnabled(not busy)

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("state", "error" if error else "")
        restyle(self.status)

    def reject(self) -> None:
        if self._downloader is not None:  # a download in flight finishes in the background
            self._downloader.finished.disconnect()
        super().reject()
