"""The PipeWire camera against a real PipeWire daemon (tools.pipewire_desk starts one, with
WirePlumber and a private D-Bus bus) and real GStreamer consumers: frames arrive intact, the
daemon may stop and return, consumers come and go, and closing never hangs or leaves a zombie.

Without the Debian packages the tests skip with the reason; under CI=true they fail instead
(.ci/run installs them)."""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam import sinks
from segcam.errors import VirtualCameraError
from segcam.session import Listener, Session
from segcam.settings import Settings
from segcam.vcam import pipewire, system
from pipewire_fixtures import desk, module_desk, need_pipewire, wait_until_no_camera  # noqa: F401 - fixtures

WIDTH, HEIGHT = 320, 180


@pytest.fixture(autouse=True)
def no_consumer_left():
    """A test that fails while a consumer waits must not leave it running."""
    yield
    for reader in Consumer.started:
        if reader.process.poll() is None:
            reader.stop()
    Consumer.started.clear()


class Consumer:
    """A GStreamer consumer of the camera, its BGR frames read off its stdout on a thread (the
    caps filter after pipewiresrc is needed: without it, the negotiation stalls)."""

    started: list[Consumer] = []

    def __init__(self, desk, frames: int | None, width: int = WIDTH, height: int = HEIGHT,
                 target: str = pipewire.NODE_NAME):
        count = [f"num-buffers={frames}"] if frames else []
        command = ["gst-launch-1.0", "-q", "pipewiresrc", f"target-object={target}", *count, "!",
                   "video/x-raw,format=YUY2", "!", "videoconvert", "!", "video/x-raw,format=BGR", "!",
                   "fdsink", "fd=1"]
        self.size = (width, height)
        self.data = bytearray()
        self.process = subprocess.Popen(command, env=desk.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        Consumer.started.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.process.stdout.read1(1 << 20):
            self.data += chunk

    def done(self) -> bool:
        return self.process.poll() is not None

    def frames(self) -> list[np.ndarray]:
        width, height = self.size
        size = width * height * 3
        return [np.frombuffer(bytes(self.data[i:i + size]), np.uint8).reshape(height, width, 3)
                for i in range(0, len(self.data) - size + 1, size)]

    def finish(self) -> list[np.ndarray]:
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        return self.frames()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self._reader.join(timeout=10)


def wait_for_node(desk, limit_s: float = 30.0) -> None:
    """The camera's node is listed (it appears once the first frame went through)."""
    deadline = time.monotonic() + limit_s
    while not listed(desk):
        assert time.monotonic() < deadline, "segcam's node never appeared"
        time.sleep(0.1)


def listed(desk, name: str = pipewire.NODE_NAME) -> bool:
    return any(p.get("node.name") == name for p in desk.nodes())


def offer(desk, sink, frame: np.ndarray, name: str = pipewire.NODE_NAME) -> None:
    """Send frames until the camera's node is listed (it appears with the first frame through the
    child); a consumer started before would not find it."""
    feed(sink, frame, lambda: listed(desk, name))


def feed(sink, frame: np.ndarray, until, limit_s: float = 30.0) -> None:
    """Send the frame at 30 fps until `until()` is true (or the limit, which fails the test)."""
    deadline = time.monotonic() + limit_s
    while not until():
        assert time.monotonic() < deadline, "the consumer never got its frames"
        sink.send(frame)
        time.sleep(1 / 30)


@pytest.fixture
def singer(hamilton_clip) -> np.ndarray:
    capture = cv2.VideoCapture(str(hamilton_clip))
    ok, frame = capture.read()
    capture.release()
    assert ok
    return cv2.resize(frame, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def test_frames_arrive_as_sent_after_the_yuy2_round_trip(desk, singer):
    with sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire") as sink:
        assert sink.device == "segcam" and "PipeWire camera 'segcam'" in sink.describe()
        assert "chrome://flags/#enable-webrtc-pipewire-camera" in sink.notes[0]
        offer(desk, sink, singer)
        node = next(p for p in desk.nodes() if p.get("node.name") == "segcam")
        assert (node["media.class"], node["media.role"], node["node.description"]) == \
            ("Video/Source", "Camera", "segcam")
        reader = Consumer(desk, 5)
        feed(sink, singer, reader.done)
        frames = reader.finish()
    assert len(frames) == 5
    error = np.abs(frames[-1].astype(int) - singer.astype(int))
    # YUY2 keeps every pixel's brightness and one colour per two pixels: small errors, larger
    # only at sharp colour edges
    assert error.mean() < 3 and np.percentile(error, 99) < 40, (error.mean(), np.percentile(error, 99))


def test_consumer_closes_and_another_opens(desk, singer):
    with sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire") as sink:
        offer(desk, sink, singer)
        for _ in range(2):
            reader = Consumer(desk, 3)
            feed(sink, singer, reader.done)
            assert len(reader.finish()) == 3


def test_daemon_stops_and_returns(desk, singer, caplog):
    caplog.set_level(logging.WARNING, logger="segcam.vcam.pipewire")
    with sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire") as sink:
        camera = sink._camera._backend
        feed(sink, singer, lambda: camera.connected)
        said = lambda text: any(text in r.getMessage() for r in caplog.records)  # noqa: E731
        desk.stop_pipewire()
        feed(sink, singer, lambda: said("The PipeWire daemon stopped"))  # send goes on without raising meanwhile
        assert not camera.connected
        desk.start_pipewire()
        feed(sink, singer, lambda: said("segcam's PipeWire camera 'segcam' is offered again."))
        assert camera.connected
        offer(desk, sink, singer)
        reader = Consumer(desk, 3)
        feed(sink, singer, reader.done)
        assert len(reader.finish()) == 3


def test_closing_while_a_consumer_holds_the_camera_ends_the_child(desk, singer):
    sink = sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire")
    child = sink._camera._backend._child
    offer(desk, sink, singer)
    reader = Consumer(desk, None)
    try:
        feed(sink, singer, reader.frames)
        closing = threading.Thread(target=sink.close)
        closing.start()
        closing.join(timeout=30)
        assert not closing.is_alive(), "close() hung while a consumer held the camera"
        assert child.returncode is not None  # waited for: reaped, not a zombie
        assert not Path(f"/proc/{child.pid}").exists()
    finally:
        reader.stop()


def test_a_resized_camera_is_a_new_camera_of_the_new_size(desk, singer):
    with sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire") as sink:
        offer(desk, sink, singer)
    bigger = cv2.resize(singer, (WIDTH * 2, HEIGHT * 2))
    wait_until_no_camera(desk)
    with sinks.VirtualCameraSink(WIDTH * 2, HEIGHT * 2, 15, backend="pipewire") as sink:
        offer(desk, sink, bigger)
        reader = Consumer(desk, 2, WIDTH * 2, HEIGHT * 2)
        feed(sink, bigger, reader.done)
        frames = reader.finish()
    assert len(frames) == 2 and np.abs(frames[-1].astype(int) - bigger.astype(int)).mean() < 3


def test_missing_gstreamer_is_one_sentence_with_the_install_line(desk, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no gst-launch-1.0 on it
    with pytest.raises(VirtualCameraError) as caught:
        sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire")
    message = str(caught.value)
    assert message.startswith("Cannot start the PipeWire camera: GStreamer's gst-launch-1.0 is not installed")
    assert "gstreamer1.0-pipewire" in message and message.count(". ") == 0 and message.endswith(".")


def test_no_daemon_is_one_sentence(tmp_path, monkeypatch):
    need_pipewire()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # nobody listens there
    monkeypatch.delenv("PIPEWIRE_REMOTE", raising=False)
    with pytest.raises(VirtualCameraError, match=r"^Cannot start the PipeWire camera: no PipeWire daemon answers"):
        sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire")


def test_the_default_backend_is_pipewire_where_v4l2loopback_is_not_loaded(desk, tmp_path, monkeypatch):
    if system.v4l2loopback_loaded():
        pytest.skip("v4l2loopback is loaded here, so it is the default")
    assert system.choose_backend(None) == "pipewire"
    assert system.choose_backend("v4l2loopback") == "v4l2loopback"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no daemon: v4l2loopback's failure, which doctor explains
    assert system.choose_backend(None) == "v4l2loopback"


def test_install_line_per_distribution():
    assert "apt install" in system.install_line('ID=ubuntu\nID_LIKE=debian\n')
    assert "pipewire-gstreamer" in system.install_line('ID=fedora\n')
    assert "gst-plugin-pipewire" in system.install_line('ID=arch\n')
    assert "Debian/Ubuntu" in system.install_line('ID=gentoo\n')


def test_the_child_pipeline_converts_once_and_names_the_node():
    command = pipewire.gst_command(1280, 720, 29.97, "bgr", "segcam")
    assert command.count("videoconvert") == 1 and "drop-allocation=true" in command
    assert "framerate=30/1" in command  # a whole number, which Chromium plays and f"blocksize={1280 * 720 * 3}" in command
    props = next(arg for arg in command if arg.startswith("stream-properties="))
    assert "media.role=Camera" in props and "media.class=Video/Source" in props and "node.name=segcam" in props


class Told(Listener):
    """What the session says of its virtual camera, as (event, args) in a queue."""

    def __init__(self):
        self.events: queue.Queue = queue.Queue()

    def applied(self, settings):
        self.events.put(("applied",))

    def failed(self, settings, error):
        self.events.put(("failed", error))

    def vcam_started(self, description, hint=""):
        self.events.put(("vcam_started", description, hint))

    def vcam_failed(self, error):
        self.events.put(("vcam_failed", error))

    def vcam_stopped(self):
        self.events.put(("vcam_stopped",))

    def vcam_status(self, sentence, working):
        self.events.put(("vcam_status", sentence, working))

    def next(self, *names):
        while True:
            event = self.events.get(timeout=60)
            if event[0] in names:
                return event


def test_the_apps_switch_takes_pipewire_where_v4l2loopback_is_not_loaded(desk, models_installed, hamilton_clip):
    if system.v4l2loopback_loaded():
        pytest.skip("v4l2loopback is loaded here, so the switch takes it")
    told = Told()
    session = Session(told, loop_files=True)
    try:
        session.apply(Settings(source=str(hamilton_clip), effect="none", guard=False, output="none"))
        assert told.next("applied", "failed") == ("applied",)
        session.set_virtual_camera(True)  # no backend named: the app's switch
        event = told.next("vcam_started", "vcam_failed")
        assert event[0] == "vcam_started", event
        assert event[1].startswith("Sending to the PipeWire camera 'segcam' as 640x360")
        assert "chrome://flags/#enable-webrtc-pipewire-camera" in event[2] and "Zoom" in event[2]
        wait_for_node(desk)
        reader = Consumer(desk, 3, 640, 360)
        assert len(reader.finish()) == 3  # the session's own frames, at the source's pace
        session.set_virtual_camera(False)
        told.next("vcam_stopped")
        assert not [p for p in desk.nodes() if p.get("node.name") == "segcam"]
    finally:
        session.shutdown()


def test_the_daemon_stops_mid_run_and_the_file_goes_on(desk, models_installed, hamilton_clip, tmp_path):
    """The app's switch is on and a file is being written: PipeWire goes away, one sentence says
    so, frames keep reaching the file (and the preview), and the camera returns with the daemon."""
    told = Told()
    session = Session(told, loop_files=True)
    try:
        session.apply(Settings(source=str(hamilton_clip), effect="none", guard=False, output=str(tmp_path / "out.mp4")))
        assert told.next("applied", "failed") == ("applied",)
        session.set_virtual_camera(True, "pipewire")
        assert told.next("vcam_started", "vcam_failed")[0] == "vcam_started"
        file_sink = next(s for s in session.pipeline.sinks if isinstance(s, sinks.VideoFileSink))
        desk.stop_pipewire()
        event = told.next("vcam_status")
        assert event[2] is False and event[1].startswith("The PipeWire daemon stopped") and event[1].count(". ") == 0
        written, shown = file_sink.frames_sent, session.pipeline.frames
        deadline = time.monotonic() + 30
        while file_sink.frames_sent < written + 30 or session.pipeline.frames < shown + 30:
            assert time.monotonic() < deadline and session.running, "the file and the preview stopped with PipeWire"
            time.sleep(0.1)
        desk.start_pipewire()
        event = told.next("vcam_status")
        assert event[2] is True and "offered again" in event[1]
        wait_for_node(desk)
        reader = Consumer(desk, 3, 640, 360)
        assert len(reader.finish()) == 3
    finally:
        session.shutdown()


def test_the_camera_is_named_by_vcam_device(desk, singer):
    with sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire", device="segcam-2") as sink:
        assert sink.device == "segcam-2"
        offer(desk, sink, singer, "segcam-2")
        reader = Consumer(desk, 2, target="segcam-2")
        feed(sink, singer, reader.done)
        assert len(reader.finish()) == 2
    with pytest.raises(VirtualCameraError, match="may hold only letters"):
        sinks.VirtualCameraSink(WIDTH, HEIGHT, 30, backend="pipewire", device="my camera, new")
