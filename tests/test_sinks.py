"""The output stage: real clip frames through a recording pyvirtualcam backend and into video files."""

import glob
import platform
import time

import cv2
import numpy as np
import pytest
from recording_backend import BGR_FOURCC, DEVICE, MissingDriverBackend, RecordingBackend, registered

from segcam.errors import SegcamError, VirtualCameraError
from segcam.sinks import CallbackSink, VideoFileSink, VirtualCameraSink


def clip_images(path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    images = [capture.read()[1] for _ in range(count)]
    capture.release()
    assert all(image is not None for image in images)
    return images


@pytest.fixture
def recorder():
    with registered() as name:
        yield name


def test_virtual_camera_receives_exactly_what_was_sent(recorder, hamilton_clip):
    images = clip_images(hamilton_clip, 10)
    images.append(images[0][:, ::-1])  # a mirrored view, not C-contiguous
    with VirtualCameraSink(640, 360, 30, backend=recorder) as sink:
        assert sink.device == DEVICE
        assert sink.describe() == f"Sending to {DEVICE} as 640x360 @30"
        for image in images:
            sink.send(image)
        assert sink.frames_sent == len(images)
    (camera,) = RecordingBackend.instances
    assert camera.closed and camera.fourcc == BGR_FOURCC
    assert (camera.width, camera.height, camera.fps) == (640, 360, 30)
    # pyvirtualcam hands a BGR backend each frame flattened: 1-D, C order, H*W*3 bytes
    assert len(camera.frames) == len(images)
    for received, sent in zip(camera.frames, images):
        assert received.shape == (640 * 360 * 3,) and received.dtype == np.uint8
        assert np.array_equal(received, np.ascontiguousarray(sent).reshape(-1))


def test_virtual_camera_resizes_other_sizes(recorder, carphone_clip, hamilton_clip):
    small = clip_images(carphone_clip, 1)[0]  # 176x144, enlarged
    large = clip_images(hamilton_clip, 1)[0]  # 640x360, shrunk
    with VirtualCameraSink(320, 180, 15, backend=recorder, device="/dev/video10") as sink:
        assert sink.describe() == "Sending to /dev/video10 as 320x180 @15"
        sink.send(small)
        sink.send(large)
    received = RecordingBackend.instances[0].images()
    assert np.array_equal(received[0], cv2.resize(small, (320, 180), interpolation=cv2.INTER_LINEAR))
    assert np.array_equal(received[1], cv2.resize(large, (320, 180), interpolation=cv2.INTER_AREA))


def test_pace_holds_the_frame_rate(recorder):
    frame = np.zeros((48, 64, 3), np.uint8)
    with VirtualCameraSink(64, 48, 20, backend=recorder, pace=True) as sink:
        started = time.perf_counter()
        for _ in range(5):
            sink.send(frame)
        elapsed = time.perf_counter() - started
    assert 0.2 <= elapsed < 0.5  # five frames at 20 fps: ~0.25 s instead of no time at all


@pytest.mark.parametrize("system, fix", [
    ("Linux", "sudo modprobe v4l2loopback exclusive_caps=1 card_label=segcam"),
    ("Windows", "OBS Studio"),
    ("Darwin", "OBS Studio"),
])
def test_missing_driver_names_the_fix(system, fix, monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: system)
    with registered(MissingDriverBackend, "segcam-no-driver") as name:
        with pytest.raises(VirtualCameraError) as error:
            VirtualCameraSink(640, 360, 30, backend=name)
    message = str(error.value)
    assert fix in message and "No v4l2 loopback device found" in message  # pyvirtualcam's own words
    if system == "Linux":
        assert "Chrome and Zoom" in message and "exclusive_caps=1" in message
    else:
        assert "Virtual Camera" in message


def test_no_driver_on_this_machine():
    if platform.system() != "Linux" or glob.glob("/dev/video*"):
        pytest.skip("needs a Linux machine without video devices")
    with pytest.raises(VirtualCameraError, match="modprobe v4l2loopback exclusive_caps=1"):
        VirtualCameraSink(640, 360, 30)


def test_unknown_backend_is_named():
    with pytest.raises(VirtualCameraError, match="Unknown virtual camera backend 'nope'"):
        VirtualCameraSink(640, 360, 30, backend="nope")


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_file_round_trip(suffix, tmp_path, carphone_clip, hamilton_clip):
    images = clip_images(carphone_clip, 12) + clip_images(hamilton_clip, 3)  # the last 3 get resized
    path = tmp_path / f"out{suffix}"
    with VideoFileSink(path, 176, 144, 29.97) as sink:
        for image in images:
            sink.send(image)
        assert sink.frames_written == len(images)
    capture = cv2.VideoCapture(str(path))
    written = []
    while (result := capture.read())[0]:
        written.append(result[1])
    capture.release()
    assert len(written) == len(images)
    assert all(image.shape == (144, 176, 3) for image in written)
    # lossy, but recognisably the same picture
    assert np.abs(written[5].astype(int) - images[5]).mean() < 12


def test_video_file_errors(tmp_path):
    with pytest.raises(SegcamError, match=r"\.mp4 or \.avi"):
        VideoFileSink(tmp_path / "out.xyz", 64, 48, 30)
    with pytest.raises(SegcamError, match="check that its folder exists"):
        VideoFileSink(tmp_path / "missing" / "out.mp4", 64, 48, 30)


def test_callback_sink_passes_frames_through():
    received = []
    frame = np.zeros((4, 4, 3), np.uint8)
    with CallbackSink(received.append) as sink:
        sink.send(frame)
    assert len(received) == 1 and received[0] is frame
