"""What each model costs per frame against mediapipe-landscape, on `segcam bench`'s per-frame path.

    python -m tools.model_costs [--rounds 10] [--size 1280x720] [--effect blur]

Frames: the Hamilton clip's singer facing the camera (frames 88-147, from ../shared), scaled
to --size: a person every model finds, so the privacy guard lets go and the effect runs, as
it does most of the time. One FrameProcessor per configuration (landscape; RVM fast, balanced
and best), timed as `segcam bench` times them (segcam.frame_timing), each fed the same frame in turn, frame after frame, so a machine that slows down
slows all of them alike: medians over every frame of every round, and the ratio to
landscape's. This is how the README's RVM table was measured; `segcam bench --source` run by
turns gives the same order with more spread on a shared machine.
"""

from __future__ import annotations

import argparse

from segcam.argtypes import parse_size
from segcam.processor import FrameProcessor
from segcam.settings import Settings
from tools.feature_costs import alternate, singer_frames

CONFIGS = (
    ("mediapipe-landscape", {"model": "mediapipe-landscape"}),
    ("rvm fast", {"model": "rvm", "quality": "fast"}),
    ("rvm balanced", {"model": "rvm", "quality": "balanced"}),
    ("rvm best", {"model": "rvm", "quality": "best"}),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.model_costs", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the 60 frames (default 5)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720))
    parser.add_argument("--effect", default="blur")
    args = parser.parse_args(argv)
    width, height = args.size
    frames = singer_frames(args.size)
    processors = {name: FrameProcessor(Settings(effect=args.effect, width=width, height=height, **changes),
                                       choose_by_speed=False) for name, changes in CONFIGS}
    timed = alternate(processors, frames, args.rounds)
    for processor in processors.values():
        processor.close()
    base = timed[CONFIGS[0][0]].median
    print(f"{width}x{height}, {args.effect}, {args.rounds} rounds of {len(frames)} frames, alternated frame by frame")
    for name, timing in timed.items():
        print(f"{name:20s} {timing.median:7.2f} ms  x{timing.median / base:4.2f}  "
              f"(privacy guard held {len(timing.held_ms)} frames, left out)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
