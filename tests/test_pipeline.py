"""The pipeline on a real clip, with the real network and a recording virtual camera."""

import statistics
import threading
import time

import cv2

import numpy as np
import pytest

from segcam.errors import BackgroundError, SourceError
from segcam.pipeline import Pipeline
from segcam.processor import FrameProcessor
from segcam.settings import Settings
from segcam.sinks import CallbackSink, VirtualCameraSink

from helpers import greyness, regions
from recording_backend import RecordingBackend, registered


def vcam_factory(backend):
    return lambda w, h, fps: [VirtualCameraSink(w, h, fps, backend=backend)]


def test_frames_reach_the_virtual_camera_exactly(models_installed, hamilton_clip):
    results = []
    settings = Settings(source=str(hamilton_clip), effect="splash", output="vcam", max_frames=12)
    with registered() as backend:
        pipeline = Pipeline(settings, make_sinks=vcam_factory(backend), on_result=results.append)
        pipeline.start()
        assert pipeline.wait(timeout=60)
        pipeline.stop()
        camera = RecordingBackend.instances[0]
    assert camera.closed
    assert (camera.width, camera.height) == (640, 360)
    received = camera.images()
    assert len(received) == len(results) == 12
    for image, result in zip(received, results):
        assert np.array_equal(image, result.output)
    assert results[0].guard.holding and results[-1].guard.amount == 0.0  # the privacy guard has let go
    person, background = regions(results[-1].alpha)
    assert person.mean() > 0.02 and background.mean() > 0.2  # the singer is found
    assert greyness(received[-1][background]) < 1.0
    assert greyness(received[-1][person]) > 5.0


def test_stats_report_the_frames_own_timings(models_installed, hamilton_clip):
    results = []
    settings = Settings(source=str(hamilton_clip), effect="blur", output="none", max_frames=20)
    with Pipeline(settings, on_result=results.append) as pipeline:
        assert pipeline.wait(timeout=60)
        stats = pipeline.stats
    assert stats.frames == len(results) == 20
    assert stats.model == "mediapipe-landscape" and stats.device == "cpu"
    # the medians of what each frame's result says it cost (20 frames: all in the window)
    totals = [sum(result.ms.values()) for result in results]
    assert stats.ms_per_frame == pytest.approx(statistics.median(totals))
    for name in ("segment", "refine", "composite"):
        assert stats.stages[name] == pytest.approx(statistics.median(r.ms[name] for r in results))
    # a frame is shown after it is captured and processed, and one worker processes them in turn,
    # so the frame rate is at most what the processing time allows
    assert stats.latency_ms >= stats.ms_per_frame > 0
    assert 0 < stats.fps <= 1000 / statistics.mean(totals[1:])


def test_live_effect_change_applies_to_next_frames(models_installed, hamilton_clip):
    seen = []
    five_seen, updated = threading.Event(), threading.Event()

    def on_result(result):
        seen.append(result)
        if len(seen) == 5:  # hold the worker here until the change is made, however slow the machine
            five_seen.set()
            updated.wait(30)

    settings = Settings(source=str(hamilton_clip), effect="none", output="none", max_frames=40)
    pipeline = Pipeline(settings, on_result=on_result).start()
    assert five_seen.wait(30)
    pipeline.update(settings.replace(effect="solid", color=(255, 0, 255)))
    updated.set()
    pipeline.wait(timeout=60)
    pipeline.stop()
    last = seen[-1]
    _, background = regions(last.alpha)
    # alpha < 0.05 there, so at most 5% of the person's colour mixes in
    assert np.abs(last.output[background].astype(int) - (255, 0, 255)).max() <= 14
    assert np.array_equal(seen[0].output, seen[0].frame)


def test_bad_background_update_is_refused_and_pipeline_goes_on(models_installed, hamilton_clip, tmp_path):
    settings = Settings(source=str(hamilton_clip), effect="splash", output="none", max_frames=30)
    pipeline = Pipeline(settings).start()
    with pytest.raises(BackgroundError):
        pipeline.update(settings.replace(effect="image", background=str(tmp_path / "missing.png")))
    assert pipeline.settings.get("effect") == "splash"
    pipeline.wait(timeout=60)
    pipeline.stop()
    assert pipeline.error is None and pipeline.stats.frames == 30


def test_video_that_ends_stops_the_pipeline(models_installed, carphone_clip):
    settings = Settings(source=str(carphone_clip), effect="splash", output="none")
    pipeline = Pipeline(settings).start()
    assert pipeline.wait(timeout=120)
    pipeline.stop()
    assert pipeline.stats.frames == 120  # lock-step on a file: no frame dropped
    assert pipeline.error is None


def test_missing_camera_is_a_clear_error(models_installed):
    with pytest.raises(SourceError, match="No camera at index 7"):
        Pipeline(Settings(source="7")).start()


@pytest.mark.parametrize("size", [(177, 99), (31, 17), (360, 640), (256, 256)])
def test_odd_tiny_and_portrait_frames(models_installed, size):
    width, height = size
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    processor = FrameProcessor(Settings(effect="blur"))
    result = processor.process(frame)
    assert result.output.shape == frame.shape
    assert result.alpha.shape == (height, width)
    expected = "mediapipe-landscape" if width * 3 > height * 4 else "mediapipe-general"
    assert processor.segmenter.name == expected


def test_stop_releases_camera_and_virtual_camera(models_installed, hamilton_clip):
    settings = Settings(source=str(hamilton_clip), effect="none", loop=True)
    with registered() as backend:
        pipeline = Pipeline(settings, make_sinks=vcam_factory(backend), realtime=True).start()
        capture = pipeline._capture
        pipeline.stop()
        assert RecordingBackend.instances[0].closed
    assert capture.status == "stopped"
    assert not pipeline.running
    assert not any(t.name.startswith(("segcam-pipeline", "capture-")) and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("mode", ["freeze", "blank", "blur"])
def test_pause_hides_the_camera(models_installed, hamilton_clip, mode):
    results = []
    enough = threading.Event()
    settings = Settings(source=str(hamilton_clip), effect="none", output="none", loop=True)

    def on_result(result):
        results.append(result)
        if len(results) in (10, paused_from[0] + 5):
            enough.set()

    paused_from = [10**9]
    pipeline = Pipeline(settings, on_result=on_result).start()
    assert enough.wait(30)
    enough.clear()
    pipeline.pause(mode)
    paused_from[0] = len(results) + 1  # a frame may be in flight
    assert enough.wait(30) or len(results) >= paused_from[0] + 5
    pipeline.stop()
    paused = results[paused_from[0]:]
    for result in paused:
        if mode == "freeze":
            assert np.array_equal(result.output, paused[0].output)
        elif mode == "blank":
            assert result.output.max() == result.output.min()
        else:
            assert np.abs(result.output.astype(int) - result.frame).mean() > 5
            detail = lambda img: cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F).std()
            assert detail(result.output) < 0.2 * detail(result.frame)
    assert not np.array_equal(paused[-1].frame, paused[0].frame)  # the camera kept running


def test_unknown_pause_mode(models_installed, hamilton_clip):
    from segcam.errors import SettingsError

    with Pipeline(Settings(source=str(hamilton_clip), output="none", max_frames=2)) as pipeline:
        with pytest.raises(SettingsError):
            pipeline.pause("sleep")


def test_skipped_frames_are_a_recent_share_not_a_count_since_the_start(models_installed, carphone_clip):
    """A live source outpaced for a while, then kept up with: the share skipped lately falls back
    while the count since the start stays (the status bar used to show that count)."""
    slow_frames, taken = 12, []

    def sink(frame):  # slow (0.1 s a frame, the source gives one every 1/30 s) for the first frames
        taken.append(1)
        if len(taken) <= slow_frames:
            time.sleep(0.1)

    settings = Settings(source=str(carphone_clip), loop=True, effect="none", output="none")
    pipeline = Pipeline(settings, make_sinks=lambda w, h, fps: [CallbackSink(sink)], realtime=True)
    with pipeline:
        deadline = time.monotonic() + 60
        while len(taken) < slow_frames + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        outpaced = pipeline.stats
        while len(taken) < slow_frames + 150 and time.monotonic() < deadline:  # 5 s: past the 3 s it covers
            time.sleep(0.05)
        caught_up = pipeline.stats
    assert outpaced.dropped > 0 and outpaced.skipped > 0.3  # most of the source's frames went by meanwhile
    assert caught_up.dropped >= outpaced.dropped  # since the start: it never falls
    assert caught_up.skipped < outpaced.skipped / 2  # lately: the slow stretch is over 3 s ago
