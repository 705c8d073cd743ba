"""The source stage on real clips, image files and (absent) camera indices."""

import glob
import threading
import time

import cv2
import numpy as np
import pytest

from segcam.capture import CaptureThread, Frame, list_cameras
from segcam.errors import SourceError

from helpers import read_video

CARPHONE_FRAMES = 120


def returns(call, within: float = 60.0) -> bool:
    """Whether `call()` returns within `within` seconds (run on a thread, so a hang fails the test
    instead of holding it); far longer than it takes, far shorter than a hang."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(within)
    return not thread.is_alive()


def read_until_ended(cap: CaptureThread) -> list[Frame]:
    frames = []
    while not cap.ended:
        frame = cap.read(timeout=2.0)
        assert frame is not None or cap.ended, "reader stalled"
        if frame is not None:
            frames.append(frame)
    return frames


class ThinCamera:
    """A real cv2.VideoCapture over a clip, standing in for a camera; remembers what was set()."""

    def __init__(self, path):
        self.capture = cv2.VideoCapture(str(path))
        self.requested = {}

    def set(self, prop, value):
        self.requested[prop] = value
        return self.capture.set(prop, value)

    def __getattr__(self, name):  # read, isOpened, get, release
        return getattr(self.capture, name)


def no_device(index: int) -> bool:
    return not glob.glob(f"/dev/video{index}")


def test_file_in_lockstep_delivers_every_frame_exactly(carphone_clip):
    expected = read_video(carphone_clip)
    with CaptureThread(str(carphone_clip)) as cap:
        assert (cap.kind, cap.size) == ("video", (176, 144))
        assert cap.source_fps == pytest.approx(29.97, abs=0.01)
        frames = []
        for frame in read_until_ended(cap):
            frames.append(frame)
            if frame.index % 10 == 0:
                time.sleep(0.01)  # a slow consumer must not lose frames in lock-step
        assert [f.index for f in frames] == list(range(CARPHONE_FRAMES))
        assert all(np.array_equal(f.image, e) for f, e in zip(frames, expected))
        assert (cap.dropped, cap.frames_read, cap.status) == (0, CARPHONE_FRAMES, "ended")
        timestamps = [f.timestamp for f in frames]
        assert timestamps == sorted(timestamps) and timestamps[-1] <= time.monotonic()
        started = time.monotonic()
        assert cap.read(timeout=60.0) is None
        assert time.monotonic() - started < 30  # at the end read() does not wait out its timeout
    assert cap.status == "stopped"


def test_realtime_file_is_paced_and_newest_wins(carphone_clip):
    started = time.monotonic()
    with CaptureThread(carphone_clip, realtime=True) as cap:
        first = cap.read()
        deadline = started + 30
        while cap.frames_read < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        newest = cap.read()
        elapsed = time.monotonic() - started
        # paced: frame n comes no sooner than n frame intervals (29.97 fps) after the first, where
        # decoding alone reads the whole clip in a few milliseconds (a lower bound only: a busy
        # machine may be later)
        assert first.index == 0 and newest.index >= 11
        assert elapsed >= newest.index / 29.97
        assert cap.dropped >= newest.index - 1  # all but the two handed out


def test_loop_restarts_the_file(carphone_clip):
    expected = read_video(carphone_clip)
    with CaptureThread(str(carphone_clip), loop=True) as cap:
        frames = [cap.read(timeout=2.0) for _ in range(CARPHONE_FRAMES + 10)]
        assert [f.index for f in frames] == list(range(CARPHONE_FRAMES + 10))
        assert np.array_equal(frames[CARPHONE_FRAMES].image, expected[0])
        assert not cap.ended and cap.dropped == 0


def test_stop_releases_a_reader_waiting_in_lockstep(hamilton_clip):
    cap = CaptureThread(hamilton_clip).start()
    assert cap.read() is not None
    time.sleep(0.1)  # the reader is now waiting for the slot to empty
    assert returns(cap.stop)  # a reader left waiting would hold stop() forever
    assert cap.status == "stopped" and cap.read(timeout=1.0) is None


@pytest.mark.parametrize("index", [7, "7"])
def test_camera_index_without_device_raises(index):
    if not no_device(7):
        pytest.skip("this machine has a /dev/video7")
    cap = CaptureThread(index)
    assert cap.kind == "camera" and cap.camera == 7
    with pytest.raises(SourceError, match="No camera at index 7 — is it plugged in"):
        cap.start()
    cap.stop()  # harmless after a failed start


def test_unusable_files_raise(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "empty").mkdir()
    cases = {
        tmp_path / "absent.mp4": "does not exist",
        tmp_path / "notes.txt": "Cannot open video file",
        tmp_path / "junk.mp4": "Cannot open video file",
        tmp_path / "empty": "No images found",
        tmp_path / "empty" / "%04d.png": "No images found",
    }
    for source, message in cases.items():
        with pytest.raises(SourceError, match=message):
            CaptureThread(source).start()


def test_image_folder_in_sorted_order_converted_to_bgr(tmp_path):
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (17, 33, 3), dtype=np.uint8)  # odd size passes through
    grey = rng.integers(0, 256, (17, 33), dtype=np.uint8)
    bgra = rng.integers(0, 256, (17, 33, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "b.png"), grey)
    cv2.imwrite(str(tmp_path / "a.png"), colour)
    cv2.imwrite(str(tmp_path / "c.png"), bgra)
    (tmp_path / "readme.txt").write_text("ignored")
    with CaptureThread(tmp_path) as cap:
        assert (cap.kind, cap.size) == ("images", (33, 17))
        images = [f.image for f in read_until_ended(cap)]
    expected = [colour, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), bgra[:, :, :3]]
    assert len(images) == 3
    assert all(np.array_equal(i, e) for i, e in zip(images, expected))


def test_printf_pattern_in_numeric_order(tmp_path):
    for number in (10, 2, 1, 3):
        cv2.imwrite(str(tmp_path / f"{number:04d}.png"), np.full((8, 6, 3), number, np.uint8))
    cv2.imwrite(str(tmp_path / "12.png"), np.zeros((8, 6, 3), np.uint8))  # not %04d
    with CaptureThread(str(tmp_path / "%04d.png")) as cap:
        values = [int(f.image[0, 0, 0]) for f in read_until_ended(cap)]
    assert values == [1, 2, 3, 10]


def test_camera_reconnects_after_it_disappears(carphone_clip, hamilton_clip, tmp_path):
    """Camera 5 is the carphone clip until it ends (unplugged), fails once, then comes back as hamilton."""
    devices = [carphone_clip, tmp_path / "still-unplugged.mp4", hamilton_clip, tmp_path / "gone-again.mp4"]
    opened, calls = [], []

    def opener(source):
        assert source == 5
        calls.append(time.monotonic())
        if len(calls) == 3:  # back: the next outage waits 10 minutes before its first try
            cap.RECONNECT_FIRST_DELAY = 600.0
        opened.append(ThinCamera(devices[min(len(calls), len(devices)) - 1]))
        return opened[-1]

    with CaptureThread("5", width=640, height=480, fps=24, opener=opener) as cap:
        assert cap.realtime and cap.size == (176, 144)
        requested = opened[0].requested
        assert requested[cv2.CAP_PROP_FRAME_WIDTH] == 640 and requested[cv2.CAP_PROP_FRAME_HEIGHT] == 480
        assert requested[cv2.CAP_PROP_FPS] == 24 and requested[cv2.CAP_PROP_BUFFERSIZE] == 1
        assert requested[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"MJPG")

        statuses, sizes = set(), []
        deadline = time.monotonic() + 30
        while len(calls) < 3 and time.monotonic() < deadline:
            statuses.add(cap.status)
            frame = cap.read(timeout=0.05)
            if frame is not None:
                sizes.append(frame.image.shape)
        assert "reconnecting" in statuses and len(calls) >= 3
        while (frame := cap.read(timeout=2.0)) is not None and frame.image.shape[1] != 640:
            pass
        assert frame is not None and frame.image.shape == (360, 640, 3)  # the size changed; passed through
        assert (144, 176, 3) in sizes and cap.reconnects == 1 and not cap.ended
        # backoff: 0.5 s before the first reopen, then 1 s
        assert calls[2] - calls[1] >= 0.95 and calls[1] - calls[0] >= 0.5

        deadline = time.monotonic() + 30
        while cap.status != "reconnecting" and time.monotonic() < deadline:  # gone again
            cap.read(timeout=0.05)
        assert cap.status == "reconnecting" and len(calls) == 3  # waiting out its 600 s
        assert returns(cap.stop)  # stop() cuts the backoff short
    assert cap.status == "stopped" and len(calls) == 3


def test_list_cameras_is_quiet(capfd):
    if not no_device("*"):
        pytest.skip("this machine has video devices")
    assert list_cameras(4) == []
    assert capfd.readouterr().err == ""
