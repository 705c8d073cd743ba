"""`segcam bench`: time the per-frame work (segment + refine + composite) without a camera."""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segcam import frame_timing, system
from segcam.imageops import synthetic_frames
from segcam.processor import FrameProcessor
from segcam.settings import Settings


def _background_for(settings: Settings, workdir: Path, width: int, height: int) -> Settings:
    """Benchmarks of the image and video effects need a background; make one if none was given."""
    effect = settings.effect
    if effect.name == "image" and not effect.background:
        path = workdir / "bench-background.png"
        cv2.imwrite(str(path), synthetic_frames(width, height, 1)[0][:, ::-1])
        return settings.replace(background=str(path))
    if effect.name == "video" and not effect.background_video:
        path = workdir / "bench-background.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 360))
        for frame in synthetic_frames(640, 360, 30):
            writer.write(frame)
        writer.release()
        return settings.replace(background_video=str(path))
    return settings


SYNTHETIC_GUARD_NOTE = frame_timing.SYNTHETIC_GUARD_NOTE


def run(settings: Settings, frames: int = 200, source: str | None = None, runtime: str = "auto",
        clock: frame_timing.Clock = time.perf_counter) -> dict:
    """Time `frames` frames through the per-frame path as segcam.frame_timing does: the figure
    is of the frames with the effect composited; those the privacy guard held on are counted
    and timed apart. Synthetic frames are timed with the guard off; a clip (`source`, played
    from its start, round again at its end) with the guard as set."""
    width, height = settings.source.width, settings.source.height
    inputs = frame_timing.clip_frames(source, (width, height)) if source else \
        itertools.cycle(synthetic_frames(width, height))
    guard_note = ""
    if source is None:
        settings, guard_note = frame_timing.for_synthetic(settings)
    with tempfile.TemporaryDirectory() as workdir:
        processor = FrameProcessor(_background_for(settings, Path(workdir), width, height), runtime=runtime)
        try:
            timing = frame_timing.time_frames(processor, inputs, frames, clock=clock)
        finally:
            processor.close()
    segmenter = processor.segmenter
    median, held = timing.median, len(timing.held_ms)
    if held:
        guard_note = (f"the privacy guard held {held} of {frames} frames (the safe frame, median "
                      f"{timing.held_median:.2f} ms): the figures are of the {frames - held} frames with the effect")
        if median is None:
            guard_note = (f"the privacy guard held all {frames} frames (the safe frame, median {timing.held_median:.2f}"
                          " ms): nothing here times the effect; try another clip, or --no-guard")
    return {
        "ms_per_frame": None if median is None else {
            "median": median, "mean": float(np.mean(timing.ms)), "p90": timing.percentile(90)},
        "stages": {name: float(np.median(values)) for name, values in timing.stages.items()},
        "fps": 1000.0 / median if median else 0.0,
        "device": segmenter.device,
        "runtime": segmenter.runtime,
        "model": segmenter.name,
        "model_reason": processor.choice.reason if processor.choice else "",
        "size": f"{width}x{height}",
        "effect": settings.effect.name,
        "frames": frames,
        "effect_frames": len(timing.ms),  # the frames the figures are of
        "source": source or "synthetic",
        # frames on which the privacy guard sent the safe frame instead of the effect, timed apart
        "guard_held": held,
        "guard_held_ms": timing.held_median,
        "guard_note": guard_note,
        "machine": system.machine(),
    }


def format_json(report: dict) -> str:
    return json.dumps(report)


def format_text(report: dict) -> str:
    ms = report["ms_per_frame"]
    stages = ", ".join(f"{name} {value:.2f}" for name, value in report["stages"].items())
    figures = (f"  per frame: median {ms['median']:.2f} ms, mean {ms['mean']:.2f}, p90 {ms['p90']:.2f} ms "
               f"({report['fps']:.0f} fps)\n  stages (median ms): {stages}") if ms else "  no frame with the effect"
    return (f"{report['model']} on {report['device']} ({report['runtime']}), {report['size']}, "
            f"effect {report['effect']}, {report['frames']} {report['source']} frames, {report['machine']}\n"
            + figures + (f"\n  {report['model_reason']}" if report.get("model_reason") else "")
            + (f"\n  {report['guard_note']}" if report.get("guard_note") else ""))
