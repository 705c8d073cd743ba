"""What each of issue 12's features costs per frame, on `segcam bench`'s per-frame path.

    python -m tools.feature_costs [--rounds 5] [--frames 60] [--size 1280x720]

Frames: the Hamilton clip's singer facing the camera (frames 88-147, where every model's mask
is trusted, so the privacy guard has let go, as it has most of the time), scaled to --size.
Each configuration is timed against the first (the blur effect without the guard), two
FrameProcessors timed as `segcam bench` times them (segcam.frame_timing) fed the same frame in turn, frame after frame,
so a machine that slows down slows both alike: medians over every frame of every round, of the
whole frame and of its composite stage (where the features run, the guard's judgement
included). Then the compositor alone, for the guard's rarer states: holding (the safe frame
instead of the composite) and fading (both, blended).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import cv2
import numpy as np

from segcam.argtypes import parse_size
from segcam import frame_timing
from segcam.effects import Compositor
from segcam.io import video_frames
from segcam.processor import FrameProcessor
from segcam.settings import Settings
from tools.screenshots import CLIP, shared_dir

SINGER = range(88, 148)
# (name, settings): the blur effect at its default strength, each feature alone, all together
CONFIGS = (
    ("blur, no guard (as before)", dict(guard=False)),
    ("blur + privacy guard (default)", dict()),
    ("blur + only me", dict(guard=False, only_me=True)),
    ("blur + keep me centred", dict(guard=False, frame_me=True)),
    ("blur + low light", dict(guard=False, low_light=True)),
    ("lens blur", dict(guard=False, blur_style="lens")),
    ("blur at strength 0", dict(guard=False, blur_strength=0.0)),
    ("all five (lens)", dict(only_me=True, frame_me=True, low_light=True, blur_style="lens")),
)


def singer_frames(size: tuple[int, int], count: int = len(SINGER)) -> list[np.ndarray]:
    """The clip's singer facing the camera, the first `count` of frames 88-147, scaled to size."""
    frames = video_frames(shared_dir() / "data" / "clips" / CLIP, limit=SINGER.stop)[SINGER.start:][:count]
    return [cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) for frame in frames]


def alternate(processors: dict, frames: list[np.ndarray], rounds: int) -> dict[str, frame_timing.Timing]:
    """Each processor's Timing, timed as `segcam bench` times (segcam.frame_timing: the frames the
    privacy guard held on are apart, never in the figure): after each one's warm-up, every frame
    goes through each processor in turn, `rounds` times over, so a machine that slows down slows
    all of them alike."""
    for processor in processors.values():
        frame_timing.warm_up(processor, frames)
    timings = {name: frame_timing.Timing() for name in processors}
    for _ in range(rounds):
        for frame in frames:
            for name, processor in processors.items():
                frame_timing.time_frame(processor, frame, timings[name])
    return timings


def compositor_states(frames: list[np.ndarray], size: tuple[int, int], rounds: int) -> dict[str, float]:
    """Median ms of the blur compositor released, fading and holding, on the frames with a mask."""
    width, height = size
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height), (width // 4, height * 3 // 4), 0, 0, 360, 1.0, -1)
    compositor = Compositor(Settings().effect)
    times: dict[str, list[float]] = {"released": [], "fading": [], "holding": []}
    for _ in range(rounds):
        for state, hold in (("released", 0.0), ("fading", 0.5), ("holding", 1.0)):
            for frame in frames:
                start = time.perf_counter()
                compositor.run(frame, alpha, hold=hold)
                times[state].append((time.perf_counter() - start) * 1e3)
    return {state: statistics.median(values) for state, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.feature_costs", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the frames (default 5)")
    parser.add_argument("--frames", type=int, default=60, help="frames of the clip (default 60)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720))
    args = parser.parse_args(argv)
    width, height = args.size
    frames = singer_frames(args.size, args.frames)
    print(f"{width}x{height}, {args.rounds} rounds of {len(frames)} frames, each configuration alternated frame by "
          f"frame with the first; medians (ms)")
    print(f"{'':32s} {'frame':>7s} {'vs first':>9s} {'ratio':>6s} {'composite':>10s} {'vs first':>9s} {'+ms':>6s}")
    base_name, base_changes = CONFIGS[0]
    for name, changes in CONFIGS[1:]:
        pair = {key: FrameProcessor(Settings(effect="blur", width=width, height=height, **chosen))
                for key, chosen in (("base", base_changes), ("this", changes))}
        timed = alternate(pair, frames, args.rounds)
        (base, base_composite), (ms, composite) = (
            (timed[key].median, statistics.median(timed[key].stages["composite"])) for key in ("base", "this"))
        held = len(timed["this"].held_ms)
        print(f"{name:32s} {ms:7.2f} {base:9.2f} {ms / base:6.2f} {composite:10.2f} {base_composite:9.2f} "
              f"{composite - base_composite:6.2f}" + (f"  (privacy guard held {held} frames, left out)" if held else ""))
        for processor in pair.values():
            processor.close()
    states = compositor_states(frames[:20], args.size, args.rounds)
    print("the blur compositor alone, by the guard's state (ms): " +
          ", ".join(f"{state} {ms:.2f}" for state, ms in states.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
