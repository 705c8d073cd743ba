"""Helpers the tests share: videos read back, where the person is, data folders, a child's next line with
a deadline, the checking tools CI must have, and a loopback file server standing in for download hosts."""

import contextlib
import functools
import http.server
import os
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from segcam.errors import SourceError
from segcam.io import video_frames


def read_video(path) -> list[np.ndarray]:
    """Every frame of a video file; none when it does not open (a test then says what it expected)."""
    try:
        return video_frames(path)
    except SourceError:
        return []


def regions(alpha: np.ndarray, margin: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Pixels surely person and surely background: confident, and away from the edge."""
    kernel = np.ones((margin, margin), np.uint8)
    person = cv2.erode((alpha > 0.95).astype(np.uint8), kernel) > 0
    background = cv2.erode((alpha < 0.05).astype(np.uint8), kernel) > 0
    return person, background


def greyness(pixels: np.ndarray) -> float:
    """Mean spread between colour channels; 0 for grey pixels."""
    p = pixels.astype(np.int16)
    return float(np.mean(np.abs(p[..., 0] - p[..., 1]) + np.abs(p[..., 1] - p[..., 2])))


def keep_as_calibrated(source, frame_size: tuple[int, int], name: str, overwrite: bool = False):
    """Keep the stock landscape network as calibrated model `name` for `source` at `frame_size`, the
    way `segcam calibrate` keeps one (its figures made up, no training): a real model file in a second.
    Needs MediaPipe's weights in the data dir."""
    from segcam import calibrate
    from segcam.models import calibrated
    from segcam.train.loop import TrainConfig, trainable

    model = trainable(TrainConfig(out_dir="", model="mediapipe-landscape"))
    result = calibrate.Calibration(source=calibrated.source_key(source), frame_size=tuple(frame_size),
                                   base="mediapipe-landscape", stock="mediapipe-landscape", model=model,
                                   stock_iou=0.5, calibrated_iou=0.6, date="2025-01-02T03:04:05+00:00")
    return calibrate.keep(result, name, overwrite)


@contextlib.contextmanager
def data_dir(path):
    """SEGCAM_DATA_DIR set to `path` meanwhile: for session fixtures, where monkeypatch cannot go."""
    old = os.environ.get("SEGCAM_DATA_DIR")
    os.environ["SEGCAM_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SEGCAM_DATA_DIR"]
        else:
            os.environ["SEGCAM_DATA_DIR"] = old


def next_line(stream, timeout: float) -> str:
    """The next line of a child's pipe, or the test fails after `timeout` seconds without one
    (a bare readline waits forever on a child that hangs before it writes)."""
    line = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line:
        raise AssertionError(f"no line from the child within {timeout:.0f} s")
    return line[0]


def need_tool(command: str, package: str) -> str:
    """The path of a checking tool, e.g. shellcheck. Where it is missing the test skips, but under
    CI=true it fails: .ci/run installs every such tool, so a skip there would hide a check."""
    path = shutil.which(command)
    if path is None:
        message = f"{command} is not installed (Debian package {package}; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message + ", and CI=true: this check must run")
        pytest.skip(message)
    return path


class _FileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder quietly, noting each path asked for; `delay_s` between 8 KB chunks."""

    delay_s = 0.0
    chunk = 8192

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        super().do_GET()

    def copyfile(self, source, outputfile):
        while block := source.read(self.chunk):
            outputfile.write(block)
            outputfile.flush()
            time.sleep(self.delay_s)


@contextlib.contextmanager
def file_server(directory, delay_s: float = 0.0):
    """A loopback HTTP server for the files in `directory`, standing in for a download host. It
    has `url` ("http://127.0.0.1:PORT/") and `requests` (the paths asked for, in order);
    `delay_s` between 8 KB chunks makes a download slow enough to act on while it runs."""
    handler = type("Handler", (_FileHandler,), {"delay_s": delay_s})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
