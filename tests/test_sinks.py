"""The output stage: real clip frames through a recording pyvirtualcam backend and into video files."""

import glob
import os
import platform
import re
import shutil
import sys
import time

import cv2
import numpy as np
import pytest
from recording_backend import BGR_FOURCC, DEVICE, MissingDriverBackend, RecordingBackend, registered

from segcam.errors import NoVirtualCamera, OutputError, SegcamError, VirtualCameraError
from segcam.io import video_frames
from segcam.sinks import CallbackSink, VideoFileSink, VirtualCameraSink, fit

from helpers import read_video
from media import FailingFile


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def clip_images(path, count: int) -> list[np.ndarray]:
    images = video_frames(path, limit=count)
    assert len(images) == count
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
    # 11:9 into 16:9 is fitted, not squashed: 220x180 in the middle, black bars beside it
    assert np.array_equal(received[0][:, 50:270], cv2.resize(small, (220, 180), interpolation=cv2.INTER_LINEAR))
    assert not received[0][:, :50].any() and not received[0][:, 270:].any()
    assert np.array_equal(received[1], cv2.resize(large, (320, 180), interpolation=cv2.INTER_AREA))


def test_pace_holds_the_frame_rate(recorder):
    frame = np.zeros((48, 64, 3), np.uint8)
    with VirtualCameraSink(64, 48, 20, backend=recorder, pace=True) as sink:
        started = time.perf_counter()
        for _ in range(5):
            sink.send(frame)
        elapsed = time.perf_counter() - started
    # five frames at 20 fps take at least the four intervals between them, not no time at all;
    # no upper bound: a busy machine may take longer without the pacing being wrong
    assert elapsed >= 0.2


def test_missing_driver_is_its_own_error_with_pyvirtualcams_words():
    # what to do on this machine is the session's to add (segcam.doctor.no_virtual_camera):
    # the sink cannot know whether the module is installed
    with registered(MissingDriverBackend, "segcam-no-driver") as name:
        with pytest.raises(NoVirtualCamera) as error:
            VirtualCameraSink(640, 360, 30, backend=name)
    assert "No v4l2 loopback device found" in error.value.reason and "modprobe" not in str(error.value).split("(")[0]


def test_no_driver_on_this_machine():
    if platform.system() != "Linux" or glob.glob("/dev/video*"):
        pytest.skip("needs a Linux machine without video devices")
    with pytest.raises(NoVirtualCamera):
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
        assert sink.frames_sent == len(images)
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
    with pytest.raises(SegcamError, match=r"\.mp4, \.mov, \.mkv or \.avi"):
        VideoFileSink(tmp_path / "out.xyz", 64, 48, 30)
    with pytest.raises(SegcamError, match="check that its folder exists"):
        VideoFileSink(tmp_path / "missing" / "out.mp4", 64, 48, 30)


def test_callback_sink_passes_frames_through():
    received = []
    frame = np.zeros((4, 4, 3), np.uint8)
    with CallbackSink(received.append) as sink:
        sink.send(frame)
    assert len(received) == 1 and received[0] is frame


# -- the output file: H.264 with sound, written under a temporary name --------------------

def probe(path) -> dict:
    """Codec and duration of each stream, read with PyAV."""
    import av

    with av.open(str(path)) as container:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base) if s.duration else
                         container.duration / 1e6) for s in container.streams}


def test_video_file_is_h264_with_the_source_sound(tmp_path, hamilton_clip):
    images = clip_images(hamilton_clip, 90)
    path = tmp_path / "out.mp4"
    with VideoFileSink(path, 640, 360, 29.97, audio_from=str(hamilton_clip)) as sink:
        assert sink.describe() == f"Writing {path} (H.264, with the source's sound)" and sink.notes == []
        for image in images:
            sink.send(image)
    streams = probe(path)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    # the sound is cut where the pictures end (90 frames at 29.97 fps: 3.0 s), within a packet
    assert abs(streams["audio"][1] - 90 / 29.97) < 0.1
    assert len(read_video(path)) == 90
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_sound_another_container_cannot_take_is_reencoded(tmp_path, carphone_clip):
    """A .mkv source with PCM sound (which MP4 does not take as it is) gets AAC in the .mp4."""
    import av

    source = tmp_path / "talk.mkv"
    images = clip_images(carphone_clip, 30)
    with av.open(str(source), "w") as container:
        video = container.add_stream("mjpeg", rate=30)
        video.width, video.height, video.pix_fmt = 176, 144, "yuvj420p"
        sound = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        for i, image in enumerate(images):
            picture = av.VideoFrame.from_ndarray(image, format="bgr24")
            picture.pts = i
            for packet in video.encode(picture):
                container.mux(packet)
            tone = (np.sin(np.arange(i * 533, (i + 1) * 533) * 0.1) * 8000).astype(np.int16)[None]
            samples = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            samples.sample_rate, samples.pts = 16000, i * 533
            for packet in sound.encode(samples):
                container.mux(packet)
        for stream in (video, sound):
            for packet in stream.encode(None):
                container.mux(packet)
    path = tmp_path / "out.mp4"
    with VideoFileSink(path, 176, 144, 30, audio_from=str(source)) as sink:
        for image in images:
            sink.send(image)
    streams = probe(path)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    # cut within a packet (33 ms here) plus the AAC encoder's priming (1024 samples, 64 ms)
    assert abs(streams["audio"][1] - 1.0) < 0.15


def test_without_pyav_opencv_writes_and_says_the_sound_is_lost(tmp_path, hamilton_clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` fails, as when PyAV is not installed
    path = tmp_path / "out.mp4"
    with VideoFileSink(path, 640, 360, 29.97, audio_from=str(hamilton_clip)) as sink:
        assert sink.describe() == f"Writing {path} (MPEG-4)"
        assert len(sink.notes) == 1 and "PyAV is not installed" in sink.notes[0] and "sound" in sink.notes[0]
        for image in clip_images(hamilton_clip, 5):
            sink.send(image)
    assert len(read_video(path)) == 5


def test_without_pyav_a_full_disk_is_found_from_the_free_space(tmp_path, carphone_clip, monkeypatch):
    """OpenCV's writer reports nothing; segcam stops when less than a raw frame's room is left."""
    monkeypatch.setitem(sys.modules, "av", None)
    images = clip_images(carphone_clip, 20)
    free = iter([10**9] * 12 + [1000] * 10)  # the disk fills up after 12 frames
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 0, next(free)))
    path = tmp_path / "out.mp4"
    sink = VideoFileSink(path, 176, 144, 30)
    with pytest.raises(OutputError, match=r"The disk holding .* is full: segcam stopped after 12 frames"):
        for image in images:
            sink.send(image)
    with pytest.raises(OutputError, match="holds the first 12 frames and plays"):
        sink.close()
    assert len(read_video(path)) == 12 and sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_a_write_that_fails_stops_with_one_sentence_and_keeps_what_plays(tmp_path, hamilton_clip):
    images = clip_images(hamilton_clip, 200)
    path = tmp_path / "out.mp4"
    sink = VideoFileSink(path, 640, 360, 29.97, audio_from=str(hamilton_clip),
                         open_file=lambda name, mode: FailingFile(name, 250_000))
    with pytest.raises(OutputError) as failed:
        for image in images:
            sink.send(image)
    assert sink.frames_sent < 200
    with pytest.raises(OutputError) as closed:
        sink.close()
    message = str(closed.value)
    assert closed.value is failed.value and len(message.splitlines()) == 1
    kept = int(re.search(r"out.mp4 holds the first (\d+) frames and plays\.$", message).group(1))
    assert message.startswith(f"The disk holding {path} is full: segcam stopped after {sink.frames_sent} frames;")
    assert 0 < kept <= sink.frames_sent and len(read_video(path)) == kept
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_a_failed_write_leaves_an_existing_file_as_it_was(tmp_path, hamilton_clip):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"the user's earlier video")
    sink = VideoFileSink(path, 640, 360, 29.97, overwrite=True,
                         open_file=lambda name, mode: FailingFile(name, 100_000))
    with pytest.raises(OutputError):
        for image in clip_images(hamilton_clip, 100):
            sink.send(image)
    with pytest.raises(OutputError, match="out.mp4 was left as it was"):
        sink.close()
    assert path.read_bytes() == b"the user's earlier video"
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_output_appears_only_when_finished(tmp_path, carphone_clip):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"older")
    with VideoFileSink(path, 176, 144, 30, overwrite=True) as sink:
        for image in clip_images(carphone_clip, 10):
            sink.send(image)
        assert path.read_bytes() == b"older"  # still the old file while the new one is written
        (temporary,) = [name for name in os.listdir(tmp_path) if name != "out.mp4"]
        assert temporary.startswith(".out.") and temporary.endswith(".partial.mp4")
    assert len(read_video(path)) == 10 and sorted(os.listdir(tmp_path)) == ["out.mp4"]
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~current_umask()


def test_a_run_that_failed_elsewhere_does_not_replace_a_file(tmp_path, carphone_clip):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"older")
    sink = VideoFileSink(path, 176, 144, 30, overwrite=True)
    for image in clip_images(carphone_clip, 10):
        sink.send(image)
    sink.mark_incomplete()
    sink.close()
    assert path.read_bytes() == b"older" and sink.outcome == "out.mp4 was left as it was"
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]


def test_output_path_checks(tmp_path, carphone_clip):
    source = tmp_path / "talk.mp4"
    shutil.copy(carphone_clip, source)
    os.link(source, tmp_path / "same-talk.mp4")
    (tmp_path / "sub").mkdir()
    (tmp_path / "folder.mp4").mkdir()
    for same in (source, tmp_path / "sub" / ".." / "talk.mp4", tmp_path / "same-talk.mp4"):
        with pytest.raises(OutputError, match="is the input .* which writing would destroy"):
            VideoFileSink(same, 176, 144, 30, overwrite=True, inputs=[str(source)])
    (tmp_path / "done.mp4").write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists — pass --overwrite to replace it"):
        VideoFileSink(tmp_path / "done.mp4", 176, 144, 30)
    with pytest.raises(OutputError, match="is a folder"):
        VideoFileSink(tmp_path / "folder.mp4", 176, 144, 30, overwrite=True)
    assert source.read_bytes() == carphone_clip.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["done.mp4", "folder.mp4", "same-talk.mp4", "sub", "talk.mp4"]


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_odd_sizes_are_padded_and_said(suffix, tmp_path, hamilton_clip):
    """333x199 used to come out 332x198, a row and a column cut; now it is padded to even and said."""
    images = [cv2.resize(image, (333, 199)) for image in clip_images(hamilton_clip, 5)]
    path = tmp_path / f"odd{suffix}"
    with VideoFileSink(path, 333, 199, 30) as sink:
        assert len(sink.notes) == 1 and "334x200" in sink.notes[0] and "333x199" in sink.notes[0]
        for image in images:
            sink.send(image)
    written = read_video(path)
    assert written[2].shape == (200, 334, 3)
    assert np.abs(written[2][:199, :333].astype(int) - images[2]).mean() < 6


def test_fit_letterboxes_another_shape():
    tall = np.full((100, 50, 3), 200, np.uint8)
    fitted = fit(tall, 160, 90)
    assert fitted.shape == (90, 160, 3)
    assert (fitted[:, 57:102] == 200).all() and not fitted[:, :55].any() and not fitted[:, 104:].any()
