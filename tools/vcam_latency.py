"""Glass to browser: how long a frame takes from the moment it is made to the moment a browser
shows it, through segcam's pipeline and its PipeWire camera.

    python -m tools.vcam_latency [--browser chromium|firefox|both] [--frames 300] [--size 1280x720] [--fps 30]

A test source makes each frame at the source's pace and draws its creation time into it (a row
of black and white blocks, tools.camera_page.stamp); segcam runs it with the effect `none` and
no privacy guard (so the stamp passes untouched) into the PipeWire camera; the test page reads
the stamp back on every frame the browser presents (requestVideoFrameCallback) and takes
(time shown - time made). Both ends read the same wall clock of this one machine. Beside it,
segcam's own capture-to-sink time (the pipeline's latency statistic: the frame made, segmented,
composited and handed to the camera). Prints a table; needs the packages .ci/run installs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from segcam.argtypes import parse_size
from tools import camera_page
from tools.pipewire_desk import PipeWireDesk


class StampedSource:
    """A camera-like source (cv2.VideoCapture's methods): frames at `fps`, each stamped with the
    wall-clock millisecond it was made, over a still picture of the singer's clip."""

    def __init__(self, width: int, height: int, fps: float, picture: np.ndarray | None = None):
        self.width, self.height, self.fps = width, height, fps
        self.picture = cv2.resize(picture, (width, height)) if picture is not None else \
            np.full((height, width, 3), 96, np.uint8)
        self._next = time.monotonic()

    def isOpened(self) -> bool:  # noqa: N802 - cv2's names
        return True

    def read(self) -> tuple[bool, np.ndarray]:
        self._next += 1 / self.fps
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._next = time.monotonic()
        frame = self.picture.copy()
        camera_page.stamp(frame, int(time.time() * 1000))
        return True, frame

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_WIDTH: self.width,
                cv2.CAP_PROP_FRAME_HEIGHT: self.height}.get(prop, 0.0)

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        pass


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


def measure(browser: str, desk: PipeWireDesk, folder: Path, frames: int = 300, size=(1280, 720), fps: float = 30.0,
            picture: np.ndarray | None = None) -> dict:
    """One browser's run: {"browser", "delays" (ms per frame), "unstamped", "segcam_ms" (capture to
    sink, the pipeline's median), "size"}. The desk's daemon must be the one in os.environ."""
    from segcam import sinks
    from segcam.pipeline import Pipeline
    from segcam.settings import Settings

    width, height = size
    settings = Settings(source="0", width=width, height=height, fps=fps, effect="none", guard=False,
                        output="vcam", vcam_backend="pipewire")
    pipeline = Pipeline(settings, realtime=True, opener=lambda source: StampedSource(width, height, fps, picture),
                        make_sinks=lambda w, h, rate: sinks.build(settings.output, w, h, rate))
    server = camera_page.PageServer()
    segcam_ms: list[float] = []
    pipeline.start()
    try:
        url = server.url(mode="latency", label="segcam", frames=frames, block=camera_page.STAMP_BLOCK,
                         bits=camera_page.STAMP_BITS)
        process = camera_page.start_browser(browser, url, folder / f"{browser}-profile", desk.env,
                                            folder / f"{browser}.log")
        done = threading.Event()

        def sample() -> None:  # the pipeline's median over its last 60 frames, once a second
            while not done.wait(1.0):
                segcam_ms.append(pipeline.stats.latency_ms)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            report = camera_page.result(server, 60 + frames / fps * 3, browser)
        finally:
            done.set()
            camera_page.end_browser(process)
    finally:
        pipeline.stop()
        server.close()
    if "error" in report:
        raise RuntimeError(f"{browser}: {report['error']} (log: {folder / f'{browser}.log'})")
    return {"browser": browser, "delays": report["delays"], "unstamped": report["unstamped"],
            "segcam_ms": statistics.median(segcam_ms) if segcam_ms else float("nan"), "size": report["size"]}


def table(runs: list[dict], fps: float) -> str:
    lines = ["| browser | frames | size | glass to browser p50 | p95 | p99 | segcam capture to sink (median) |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        p = percentiles(run["delays"])
        lines.append(f"| {run['label']} | {len(run['delays'])} | {run['size'][0]}x{run['size'][1]} @{fps:g} | "
                     f"{p['p50']:.0f} ms | {p['p95']:.0f} ms | {p['p99']:.0f} ms | {run['segcam_ms']:.1f} ms |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--browser", choices=("chromium", "firefox", "both"), default="both")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=parse_size, default=(1280, 720))
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args(argv)
    from tools.screenshots import CLIP, _prepare_environment, shared_dir

    folder = Path(tempfile.mkdtemp(prefix="segcam-latency-"))
    _prepare_environment(folder)  # weights from ../shared when none are installed
    capture = cv2.VideoCapture(str(shared_dir() / "data" / "clips" / CLIP))
    picture = capture.read()[1] if capture.isOpened() else None
    capture.release()
    names = ("chromium", "firefox") if args.browser == "both" else (args.browser,)
    labels = {"chromium": "Chromium", "firefox": "Firefox ESR"}
    runs = []
    with PipeWireDesk(folder / "desk") as desk:
        os.environ.update({k: desk.env[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")})
        for name in names:
            run = measure(name, desk, folder, args.frames, args.size, args.fps, picture)
            run["label"] = f"{labels[name]} {browser_version(name)}"
            runs.append(run)
            print(f"{run['label']}: {len(run['delays'])} frames timed, {run['unstamped']} without a readable stamp",
                  file=sys.stderr)
    print(table(runs, args.fps))
    return 0


def browser_version(name: str) -> str:
    import subprocess

    try:
        out = subprocess.run([camera_page.browsers()[name], "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    words = [w for w in out.stdout.split() if w[:1].isdigit()]
    return words[0].split(".")[0] if words else ""


if __name__ == "__main__":
    sys.exit(main())
