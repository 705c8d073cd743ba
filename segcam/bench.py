"""`segcam bench`: time the per-frame work (segment + refine + composite) without a camera."""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segcam.io import video_frames
from segcam.imageops import synthetic_frames
from segcam.processor import STAGES, FrameProcessor
from segcam.settings import Settings

_WARMUP = 10


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


# Nobody is in the synthetic frames, so the privacy guard would hold on every one of them and
# the effect would never be composited: bench would time the safe frame. It still judges each
# mask with the guard off, so that cost stays in the figures.
SYNTHETIC_GUARD_NOTE = "privacy guard off: nobody is in the synthetic frames, and it would hold on every one"


def run(settings: Settings, frames: int = 200, source: str | None = None, runtime: str = "auto") -> dict:
    width, height = settings.source.width, settings.source.height
    inputs = video_frames(source, limit=60, size=(width, height)) if source else synthetic_frames(width, height)
    guard_note = ""
    if source is None and settings.mask.guard:
        settings, guard_note = settings.replace(guard=False), SYNTHETIC_GUARD_NOTE
    held = 0
    with tempfile.TemporaryDirectory() as workdir:
        processor = FrameProcessor(_background_for(settings, Path(workdir), width, height), runtime=runtime)
        for i in range(_WARMUP):
            processor.process(inputs[i % len(inputs)])
        totals, stages = [], {name: [] for name in STAGES}
        for i in range(frames):
            t0 = time.perf_counter()
            result = processor.process(inputs[i % len(inputs)])
            totals.append((time.perf_counter() - t0) * 1e3)
            held += bool(result.guard and result.guard.holding)
            for name in STAGES:
                stages[name].append(result.ms[name])
        processor.close()
    segmenter = processor.segmenter
    median = float(np.median(totals))
    return {
        "ms_per_frame": {"median": median, "mean": float(np.mean(totals)), "p90": float(np.percentile(totals, 90))},
        "stages": {name: float(np.median(values)) for name, values in stages.items()},
        "fps": 1000.0 / median if median > 0 else 0.0,
        "device": segmenter.device,
        "runtime": segmenter.runtime,
        "model": segmenter.name,
        "model_reason": processor.choice.reason if processor.choice else "",
        "size": f"{width}x{height}",
        "effect": settings.effect.name,
        "frames": frames,
        "source": source or "synthetic",
        # frames on which the privacy guard sent the safe frame instead of the effect
        "guard_held": held,
        "guard_note": guard_note or (f"the privacy guard held {held} of {frames} frames: the effect was not "
                                     "composited on those" if held else ""),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def format_json(report: dict) -> str:
    return json.dumps(report)


def format_text(report: dict) -> str:
    ms = report["ms_per_frame"]
    stages = ", ".join(f"{name} {value:.2f}" for name, value in report["stages"].items())
    return (f"{report['model']} on {report['device']} ({report['runtime']}), {report['size']}, "
            f"effect {report['effect']}, {report['frames']} {report['source']} frames\n"
            f"  per frame: median {ms['median']:.2f} ms, mean {ms['mean']:.2f}, p90 {ms['p90']:.2f} ms "
            f"({report['fps']:.0f} fps)\n"
            f"  stages (median ms): {stages}" + (f"\n  {report['model_reason']}" if report.get("model_reason") else "")
            + (f"\n  {report['guard_note']}" if report.get("guard_note") else ""))
