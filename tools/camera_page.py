"""A real browser opens segcam's PipeWire camera on a local page and reports what it saw.

No WebDriver: the page itself posts its findings (the camera labels, a small copy of the picture,
or per-frame latencies) back to the little server that serves it on 127.0.0.1, so headless
Chromium and Firefox ESR need nothing but their own command lines (Debian has no geckodriver, and
Playwright's Firefox is a download of its own).

Modes (the page's ?mode=):
- pixels: find the camera whose label contains ?label=, play it, and post a WIDTHxHEIGHT RGB copy.
- latency: decode the time stamp drawn into each frame (see `stamp`) on every frame
  (requestVideoFrameCallback) and post `now - stamp` for ?frames= frames.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np

# the time stamp: STAMP_BITS bits of the creation time in ms, as black/white blocks of STAMP_BLOCK
# pixels along the frame's top edge, least significant first; a white block before and after
# frames it (a frame without them carries no stamp)
STAMP_BLOCK = 16
STAMP_BITS = 44

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-ui-for-media-stream", "--enable-features=WebRtcPipeWireCamera")
FIREFOX_PREFS = {
    "media.webrtc.camera.allow-pipewire": True,  # off upstream; the switch a user turns on
    "media.navigator.permission.disabled": True,  # no permission prompt in a headless browser
    "privacy.reduceTimerPrecision": False,  # the latency page reads the clock to the millisecond
    "browser.shell.checkDefaultBrowser": False,
    "app.update.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
}

PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>segcam camera test</title>
<style>body{font:14px sans-serif;margin:16px;background:#f4f4f4}video{width:640px;height:360px;background:#000}
pre{white-space:pre-wrap}</style></head>
<body><h3>segcam's PipeWire camera, seen by this browser</h3>
<video id="video" autoplay muted playsinline></video>
<pre id="log">looking for the camera…</pre>
<script>
const params = new URLSearchParams(location.search);
const mode = params.get("mode") || "pixels", wanted = params.get("label") || "segcam";
const log = (text) => { document.getElementById("log").textContent = text; console.log("segcam-page: " + text); };
const post = (body) => fetch("/result", {method: "POST", body: JSON.stringify(body)});
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function findCamera() {
  // labels are empty until a camera was granted once, and the browser's PipeWire camera list
  // fills in asynchronously: until it has, getUserMedia finds no camera at all
  for (let i = 0; ; i++) {
    try {
      const first = await navigator.mediaDevices.getUserMedia({video: true});
      first.getTracks().forEach((track) => track.stop());
      break;
    } catch (error) {
      if (error.name !== "NotFoundError" || i >= 100) throw error;
      await sleep(100);
    }
  }
  let cameras = [];
  for (let i = 0; i < 100; i++) {
    cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    const found = cameras.find((d) => d.label.includes(wanted));
    if (found) return [found, cameras];
    await sleep(100);
  }
  return [null, cameras];
}

async function play(camera) {
  log("opening " + camera.label);
  const video = document.getElementById("video");
  video.srcObject = await navigator.mediaDevices.getUserMedia({video: {deviceId: {exact: camera.deviceId}}});
  log("playing");
  await video.play();
  log("waiting for the first frame");
  while (video.videoWidth <= 2) await sleep(50);
  return video;
}

function grab(video, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.drawImage(video, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

function readStamp(video, block, bits) {
  // one row of blocks at the top, sampled at each block's centre, at the video's own size
  const count = bits + 2, width = block * count;
  const canvas = readStamp.canvas || (readStamp.canvas = document.createElement("canvas"));
  canvas.width = width; canvas.height = block;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.drawImage(video, 0, 0, width, block, 0, 0, width, block);
  const data = context.getImageData(0, 0, width, block).data;
  const bright = (i) => data[4 * (Math.floor(block / 2) * width + i * block + Math.floor(block / 2)) + 1] > 128;
  if (!bright(0) || !bright(count - 1)) return null;
  let value = 0;
  for (let i = bits - 1; i >= 0; i--) value = value * 2 + (bright(i + 1) ? 1 : 0);
  return value;
}

async function main() {
  const [camera, cameras] = await findCamera();
  const labels = cameras.map((d) => d.label);
  if (!camera) { log("no camera named " + wanted + " in " + labels); return post({error: "not listed", labels}); }
  const video = await play(camera);
  const size = [video.videoWidth, video.videoHeight];
  if (mode === "pixels") {
    await sleep(500);  // a few frames in: the first may still be the camera's start
    const width = +(params.get("width") || 64), height = +(params.get("height") || 36);
    const rgb = [];
    const data = grab(video, width, height);
    for (let i = 0; i < data.length; i += 4) rgb.push(data[i], data[i + 1], data[i + 2]);
    log("cameras: " + labels.join(", ") + "\nplaying " + camera.label + " at " + size.join("x"));
    return post({label: camera.label, labels, size, width, height, rgb});
  }
  const frames = +(params.get("frames") || 300), block = +params.get("block"), bits = +params.get("bits");
  const delays = [];
  let unstamped = 0, last = null;
  await new Promise((done) => {
    const onFrame = (now, meta) => {
      const shown = performance.timeOrigin + now;  // when this frame was composited for display
      const stamp = readStamp(video, block, bits);
      if (stamp === null) unstamped++;
      else if (stamp !== last) { delays.push(shown - stamp); last = stamp; }
      if (delays.length >= frames) return done();
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  log("playing " + camera.label + " at " + size.join("x") + ", " + delays.length + " frames timed");
  return post({label: camera.label, labels, size, delays, unstamped});
}
main().catch((error) => { log(String(error)); post({error: error.name + ": " + error.message}); });
</script></body></html>
"""


def stamp(frame: np.ndarray, ms: int) -> None:
    """Draw `ms` into the frame's top edge as the page reads it (see PAGE's readStamp)."""
    blocks = [1, *(((ms >> i) & 1) for i in range(STAMP_BITS)), 1]
    for i, bit in enumerate(blocks):
        frame[:STAMP_BLOCK, i * STAMP_BLOCK:(i + 1) * STAMP_BLOCK] = 255 if bit else 0


class PageServer:
    """Serves PAGE on 127.0.0.1 (a free port) and collects what the page posts."""

    def __init__(self):
        self.results: queue.Queue = queue.Queue()
        results = self.results

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                results.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, **params) -> str:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return f"http://127.0.0.1:{self._server.server_address[1]}/camera.html?{query}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def browsers() -> dict[str, str | None]:
    return {"chromium": shutil.which("chromium"), "firefox": shutil.which("firefox-esr") or shutil.which("firefox")}


def browser_command(browser: str, url: str, profile: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """A headless browser on `url` with a fresh profile in `profile`, its camera switch on."""
    profile.mkdir(parents=True, exist_ok=True)
    if browser == "chromium":
        return [browsers()["chromium"], *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
    lines = [f"user_pref({json.dumps(key)}, {json.dumps(value)});" for key, value in FIREFOX_PREFS.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")
    return [browsers()["firefox"], "--headless", "--no-remote", "--profile", str(profile), *extra, url]


def start_browser(browser: str, url: str, profile: Path, env: dict, log: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """A headless browser on `url`, in a process group of its own (end it with end_browser)."""
    with open(log, "wb") as out:
        return subprocess.Popen(browser_command(browser, url, profile, extra), env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def result(server: PageServer, timeout: float, what: str) -> dict:
    try:
        return server.results.get(timeout=timeout)
    except queue.Empty:
        return {"error": f"{what} posted nothing within {timeout:g} s"}


def end_browser(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the browser's helper processes too
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
