"""Measure what the window costs: pipeline throughput with the app open vs headless, same input.

    python -m tools.overhead --source CLIP.mp4 [--seconds 20] [--effect blur]

Flat out: both runs read the file in lock-step (no pacing to its frame rate), so fps is as fast
as the machine goes: the headless one is a bare Pipeline, the other the real window (offscreen
unless a display is set) drawing every frame it can and refreshing its thumbnails. `segcam bench`
on the same frames is printed too: it times the per-frame work alone, without decoding or threads.

At the clip's own rate (as a camera would deliver it): the CPU time the process uses per second
of video, headless and with the window: what the window costs in a call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

WARMUP_S = 3.0
SAMPLE_S = 0.5


def _sample(pipeline_of, seconds: float, pump=lambda: time.sleep(0.01)) -> dict:
    fps, ms = [], []
    start = time.monotonic()
    next_sample = start + WARMUP_S
    cpu_start = None
    while time.monotonic() - start < WARMUP_S + seconds:
        pump()
        if cpu_start is None and time.monotonic() >= start + WARMUP_S:
            cpu_start = (time.process_time(), time.monotonic())
        if time.monotonic() >= next_sample:
            next_sample += SAMPLE_S
            pipeline = pipeline_of()
            if pipeline is not None and pipeline.running:
                stats = pipeline.stats
                fps.append(stats.fps)
                ms.append(stats.ms_per_frame)
    if not fps:
        raise SystemExit("the pipeline did not run")
    cpu = (time.process_time() - cpu_start[0]) / (time.monotonic() - cpu_start[1])
    return {"fps": statistics.median(fps), "ms_per_frame": statistics.median(ms), "samples": len(fps),
            "cpu_cores": cpu}


def headless(settings, seconds: float, realtime: bool = False) -> dict:
    from segcam.pipeline import Pipeline

    with Pipeline(settings, realtime=realtime) as pipeline:
        return _sample(lambda: pipeline, seconds)


def with_window(settings, seconds: float, realtime: bool = False) -> dict:
    from segcam.ui.app import create_window

    window = create_window(settings, realtime=realtime)
    window.show()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    try:
        result = _sample(lambda: window.controller.pipeline, seconds, pump=lambda: (app.processEvents(), time.sleep(0.002)))
        result["preview_frames"] = window.preview.frames_shown
        return result
    finally:
        window.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="a video file")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--effect", default="blur")
    parser.add_argument("--size", default="640x360", help="frame size for `segcam bench` (the file's own)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from segcam import bench
    from segcam.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEGCAM_CONFIG_DIR"] = tmp  # the window saves settings on close; not the user's
        settings = Settings(source=args.source, effect=args.effect, output="none", loop=True)
        width, height = (int(v) for v in args.size.split("x"))
        report = bench.run(settings.replace(width=width, height=height), frames=200, source=args.source)
        alone = headless(settings, args.seconds)
        windowed = with_window(settings, args.seconds)
        paced_alone = headless(settings, args.seconds, realtime=True)
        paced_window = with_window(settings, args.seconds, realtime=True)
    print(f"segcam bench ({args.size}, {args.effect}): median {report['ms_per_frame']['median']:.2f} ms/frame "
          f"= {report['fps']:.1f} fps (per-frame work only)")
    print(f"pipeline headless:    median {alone['fps']:.1f} fps, {alone['ms_per_frame']:.2f} ms/frame "
          f"({alone['samples']} samples)")
    print(f"pipeline with window: median {windowed['fps']:.1f} fps, {windowed['ms_per_frame']:.2f} ms/frame "
          f"({windowed['samples']} samples, {windowed['preview_frames']} frames drawn)")
    print(f"window overhead: {100 * (1 - windowed['fps'] / alone['fps']):.0f}% of headless pipeline fps")
    print(f"at the clip's own rate: headless {paced_alone['fps']:.1f} fps using {paced_alone['cpu_cores']:.2f} "
          f"CPU cores, with window {paced_window['fps']:.1f} fps using {paced_window['cpu_cores']:.2f} CPU cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
