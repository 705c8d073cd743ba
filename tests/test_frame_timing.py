"""One way of timing the per-frame work (segcam.frame_timing), shared by `segcam bench` and
`--model auto`: every frame in a figure has the effect composited. No timing asserts: the
clock these tests give the timers counts the blur's compositions, so a frame's "time" is how
many times the effect ran on it (1 when it ran, 0 when the privacy guard's safe frame went
out instead)."""

import pytest

from segcam import bench, frame_timing
from segcam.effects import blur
from segcam.processor import time_model
from segcam.settings import Settings


@pytest.fixture
def compositions(monkeypatch):
    """The real blur effect, counting each background it makes (once per composited frame)."""
    count = {"n": 0}
    real = blur.Blur.background

    def counted(self, frame, alpha):
        count["n"] += 1
        return real(self, frame, alpha)

    monkeypatch.setattr(blur.Blur, "background", counted)
    return count


def effect_clock(compositions):
    """A clock in which each composition of the effect takes 1 ms."""
    return lambda: compositions["n"] / 1000.0


def test_auto_composites_the_effect_on_every_frame_it_times(models_installed, compositions):
    # the guard is on by default, and nobody is in the synthetic frames: it would hold on every one
    assert Settings().mask.guard
    figure = time_model("mediapipe-landscape", 320, 180, Settings(), clock=effect_clock(compositions))
    assert compositions["n"] == 3 + 9  # the warm-up and the timed frames: the effect ran on each
    assert figure == pytest.approx(1.0)


def test_auto_figure_is_not_below_bench_for_the_same_work(models_installed, compositions):
    clock = effect_clock(compositions)
    auto = time_model("mediapipe-landscape", 320, 180, Settings(), clock=clock)
    report = bench.run(Settings(model="mediapipe-landscape", effect="blur", width=320, height=180), frames=12,
                       clock=clock)
    assert report["ms_per_frame"]["median"] == pytest.approx(1.0)
    assert report["ms_per_frame"]["mean"] == pytest.approx(1.0)
    assert auto >= report["ms_per_frame"]["median"] - 1e-9


def test_bench_on_a_clip_times_held_frames_apart(models_installed, hamilton_clip, compositions):
    report = bench.run(Settings(model="mediapipe-landscape", effect="blur", width=640, height=360), frames=40,
                       source=str(hamilton_clip), clock=effect_clock(compositions))
    # the guard holds on the clip's first frames while it learns to trust the mask
    assert report["guard_held"] > 0 and report["effect_frames"] == 40 - report["guard_held"]
    # every frame in the figure had the effect (a mean of 1 composition); the held ones none
    assert report["ms_per_frame"]["mean"] == pytest.approx(1.0) and report["guard_held_ms"] == 0.0
    assert f"held {report['guard_held']} of 40 frames" in bench.format_text(report)


def test_a_clip_the_guard_holds_on_throughout_gives_no_figure(models_installed, tmp_path):
    import cv2
    import numpy as np

    empty_room = tmp_path / "room.avi"
    writer = cv2.VideoWriter(str(empty_room), cv2.VideoWriter.fourcc(*"MJPG"), 30, (320, 180))
    for value in range(0, 100, 10):
        writer.write(np.full((180, 320, 3), value, np.uint8))
    writer.release()
    report = bench.run(Settings(model="mediapipe-landscape", effect="blur", width=320, height=180), frames=15,
                       source=str(empty_room))  # fewer frames than warm-up and timed: played round again
    assert report["guard_held"] == 15 and report["ms_per_frame"] is None and report["fps"] == 0.0
    text = bench.format_text(report)
    assert "no frame with the effect" in text and "held all 15 frames" in text and "--no-guard" in text


def test_timing_sorts_frames_by_the_guards_verdict():
    from segcam.guard import Verdict
    from segcam.processor import Result

    timing = frame_timing.Timing()
    timing.add(5.0, Result(None, None, None, {"segment": 2.0, "composite": 3.0}, Verdict(1.0, "no person")))
    timing.add(9.0, Result(None, None, None, {"segment": 2.0, "composite": 7.0}, Verdict(0.3, None)))
    timing.add(8.0, Result(None, None, None, {"segment": 2.0, "composite": 6.0}, None))  # the guard off
    assert timing.ms == [9.0, 8.0] and timing.held_ms == [5.0]
    assert timing.median == 8.5 and timing.held_median == 5.0 and timing.stages["composite"] == [7.0, 6.0]
    assert frame_timing.Timing().median is None
