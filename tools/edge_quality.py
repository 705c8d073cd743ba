"""The person's edge over a new background, with edge refinement off and on (issue 16, item 10).

    python -m tools.edge_quality [--models mediapipe-landscape ...] [--cutouts N] [--cost-rounds 3]

Quality: each cut-out of ../shared/data/cutouts pasted into a background photo and replaced by
another (segcam.edge_eval), through the real per-frame path with the model named: the alpha
error in the band around the true outline, the alpha left in the room just outside it, the
composite's colour error in the band against the true composite, IoU at 0.5; median and mean
over the cut-outs, before (--no-edge-refine) and after.

Cost: the singer of the Hamilton clip at 1280x720 through two FrameProcessors (blur effect,
guard off; edge refinement off and on), fed the same frame in turn, frame after frame:
medians of the whole frame (wall and CPU time) and of its refine stage.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from segcam.evaluate import IMAGE_SUFFIXES
from segcam.processor import FrameProcessor
from segcam.settings import Settings
from tools.screenshots import _prepare_environment, shared_dir

MEASURES = (("band_alpha_error", "band alpha err", 4), ("ring_alpha", "ring alpha", 4),
            ("band_color_error", "band colour err", 2), ("iou", "IoU", 4))


def quality(model: str, count: int) -> None:
    from segcam.edge_eval import evaluate_edges

    data = shared_dir() / "data"
    cutouts = sorted((data / "cutouts" / "rgba").glob("*.png"))[:count]
    backgrounds = sorted(p for p in (data / "backgrounds" / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    reports = {}
    for refine in (False, True):
        processor = FrameProcessor(Settings(model=model, effect="image", background=str(backgrounds[0]),
                                            guard=False, edge_refine=refine), choose_by_speed=False)
        reports[refine] = evaluate_edges(processor, cutouts, backgrounds, model, progress=True)
        processor.close()
    print(f"{model}, {len(cutouts)} cut-outs: before (bilinear) -> after (edge refinement)")
    for how, name in ((statistics.median, "median"), (statistics.fmean, "mean")):
        before, after = (reports[refine].summary(how) for refine in (False, True))
        print(f"  {name:6s} " + "; ".join(
            f"{label} {before[key]:.{digits}f} -> {after[key]:.{digits}f} ({after[key] / before[key] - 1:+.0%})"
            for key, label, digits in MEASURES))


def cost(rounds: int, frames_count: int) -> None:
    import time

    from tools.feature_costs import singer_frames

    size = (1280, 720)
    frames = singer_frames(size, frames_count)
    pair = {refine: FrameProcessor(Settings(effect="blur", guard=False, edge_refine=refine, width=size[0],
                                            height=size[1], model="mediapipe-landscape"), choose_by_speed=False)
            for refine in (False, True)}
    for processor in pair.values():  # warm-up: caches, the first frames' costs
        for frame in frames[:10]:
            processor.process(frame)
    # wall time, and the CPU time of the whole process (steadier than wall time on a busy machine)
    timed: dict[bool, dict[str, list[float]]] = {refine: {"wall": [], "cpu": [], "refine": []} for refine in pair}
    for _ in range(rounds):
        for frame in frames:
            for refine, processor in pair.items():
                wall, cpu = time.perf_counter(), time.process_time()
                result = processor.process(frame)
                timed[refine]["cpu"].append((time.process_time() - cpu) * 1e3)
                timed[refine]["wall"].append((time.perf_counter() - wall) * 1e3)
                timed[refine]["refine"].append(result.ms["refine"])
    print(f"1280x720, mediapipe-landscape + blur, {rounds} rounds of {len(frames)} frames alternated, medians:")
    for key, what in (("wall", "frame, wall"), ("cpu", "frame, CPU time"), ("refine", "refine stage, wall")):
        before, after = (statistics.median(timed[refine][key]) for refine in (False, True))
        print(f"  {what:20s} {before:6.2f} -> {after:6.2f} ms ({after / before:.2f}x, {after - before:+.2f} ms)")
    for processor in pair.values():
        processor.close()


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m tools.edge_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["mediapipe-landscape"])
    parser.add_argument("--cutouts", type=int, default=200, help="the first N cut-outs (default all 200)")
    parser.add_argument("--cost-rounds", type=int, default=3, help="0 skips the cost (default 3)")
    parser.add_argument("--cost-frames", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segcam-edges-") as tmp:
        _prepare_environment(Path(tmp))
        for model in args.models:
            quality(model, args.cutouts)
        if args.cost_rounds:
            cost(args.cost_rounds, args.cost_frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
