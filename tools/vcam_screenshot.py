"""The test page in headless Chromium showing segcam's PipeWire camera, as a PNG for the README.

    python -m tools.vcam_screenshot [--out assets/screenshots/pipewire-camera-chromium.png]

segcam runs the singer's clip with the bookshelf background into its PipeWire camera on a
private desktop (tools.pipewire_desk); Chromium, its PipeWire camera switch on, opens the test
page (tools.camera_page), which finds the camera labelled "segcam" and plays it; once the page
says it plays, the DevTools protocol (over --remote-debugging-pipe: no WebSocket client needed)
takes the screenshot. (Chromium's own --screenshot takes the page at its load, before the camera.)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools import camera_page
from tools.pipewire_desk import PipeWireDesk
from tools.screenshots import CLIP, _prepare_environment, shared_dir

OUT = Path(__file__).resolve().parents[1] / "assets" / "screenshots" / "pipewire-camera-chromium.png"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="segcam-vcam-shot-"))
    _prepare_environment(folder)
    from segcam.ui import resources

    bookshelf = next(p for p in resources.default_backgrounds() if p.stem == "bookshelf")
    with PipeWireDesk(folder / "desk") as desk:
        segcam = subprocess.Popen(
            [sys.executable, "-m", "segcam", "run", "--source", str(shared_dir() / "data" / "clips" / CLIP), "--loop",
             "--effect", "image", "--background", str(bookshelf), "--output", "vcam", "--vcam-backend", "pipewire"],
            env={**desk.env, **{k: os.environ[k] for k in ("SEGCAM_CONFIG_DIR", "SEGCAM_DATA_DIR") if k in os.environ}},
            stderr=subprocess.PIPE, text=True)
        try:
            print(segcam.stderr.readline().strip(), file=sys.stderr)  # the start line: frames flow
            server = camera_page.PageServer()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(screenshot(server, folder, desk.env))
            server.close()
        finally:
            segcam.send_signal(signal.SIGINT)
            segcam.communicate(timeout=30)
    print(args.out)
    return 0


def screenshot(server: camera_page.PageServer, folder: Path, env: dict) -> bytes:
    """Chromium on the page; once the page reports, a PNG of it through the DevTools protocol."""
    to_browser_read, to_browser = os.pipe()  # Chromium reads commands on fd 3, answers on fd 4
    from_browser, from_browser_write = os.pipe()
    command = camera_page.browser_command("chromium", server.url(mode="pixels", label="segcam"), folder / "profile",
                                          ("--remote-debugging-pipe", "--window-size=700,520", "--hide-scrollbars"))

    def give_fds():
        os.dup2(to_browser_read, 3)
        os.dup2(from_browser_write, 4)

    # pass_fds: the fds the child set up in give_fds stay open through the close that follows it
    browser = subprocess.Popen(command, env=env, preexec_fn=give_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(to_browser_read)
    os.close(from_browser_write)
    try:
        report = camera_page.result(server, 60, "chromium")
        if "error" in report:
            raise RuntimeError(f"the page says: {report['error']}")
        time.sleep(4)  # the privacy guard holds the first frames of a run; by now it has let go
        replies = _Replies(from_browser)
        send = lambda message: os.write(to_browser, json.dumps(message).encode() + b"\0")  # noqa: E731
        send({"id": 1, "method": "Target.getTargets"})
        page = next(t for t in replies.wait(1)["result"]["targetInfos"] if t["type"] == "page")
        send({"id": 2, "method": "Target.attachToTarget", "params": {"targetId": page["targetId"], "flatten": True}})
        session = replies.wait(2)["result"]["sessionId"]
        send({"id": 3, "sessionId": session, "method": "Page.captureScreenshot", "params": {"format": "png", "captureBeyondViewport": True,
                                                                       "clip": {"x": 0, "y": 0, "width": 680,
                                                                                "height": 470, "scale": 1}}})
        return base64.b64decode(replies.wait(3)["result"]["data"])
    finally:
        camera_page.end_browser(browser)
        os.close(to_browser)
        os.close(from_browser)


class _Replies:
    """The DevTools protocol's messages from the pipe (JSON, each ended by a NUL byte)."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def wait(self, message_id: int) -> dict:
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            message = json.loads(raw)
            if message.get("id") == message_id:
                return message


if __name__ == "__main__":
    sys.exit(main())
