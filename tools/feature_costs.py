"""What each of issue 12's features costs per frame, from `segcam bench`'s own measurement.

    python -m tools.feature_costs [--rounds 5] [--frames 100] [--size 1280x720]

Frames: the Hamilton clip's singer facing the camera (frames 88-147, where every model's mask
is trusted, so the privacy guard has let go as it has most of the time), scaled to --size.
Each round runs `segcam bench` (segcam.bench.run) once per configuration, in turn, so a machine
that slows down slows all of them alike; the figures are the medians over the rounds of each
run's median ms per frame (and of its composite stage). Then the compositor alone, for the
guard's rarer states: holding (the safe frame instead of the composite) and fading (both, blended).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segcam import bench
from segcam.argtypes import parse_size
from segcam.effects import Compositor
from segcam.io import video_frames
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


def singer_clip(folder: Path, size: tuple[int, int]) -> str:
    frames = video_frames(shared_dir() / "data" / "clips" / CLIP, limit=SINGER.stop)[SINGER.start:]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{index:04d}.png"), cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    return str(folder / "%04d.png")


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=100, help="frames each bench run times (default 100)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720))
    args = parser.parse_args(argv)
    width, height = args.size
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="segcam-costs-") as tmp:
        source = singer_clip(Path(tmp), args.size)
        for round_ in range(args.rounds):
            for name, changes in CONFIGS:
                settings = Settings(effect="blur", width=width, height=height, **changes)
                report = bench.run(settings, frames=args.frames, source=source)
                results[name].append((report["ms_per_frame"]["median"], report["stages"]["composite"]))
            print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
        frames = video_frames(source, limit=20)
    print(f"{report['model']} on {report['device']} ({report['runtime']}), {width}x{height}, "
          f"{args.rounds} rounds of {args.frames} frames; medians over the rounds")
    base = statistics.median(ms for ms, _ in results[CONFIGS[0][0]])
    print(f"{'':32s} {'ms/frame':>9s} {'ratio':>6s} {'composite ms':>13s}")
    for name, values in results.items():
        ms = statistics.median(v[0] for v in values)
        composite = statistics.median(v[1] for v in values)
        print(f"{name:32s} {ms:9.2f} {ms / base:6.2f} {composite:13.2f}")
    states = compositor_states(frames, args.size, args.rounds)
    print("the blur compositor alone, by the guard's state (ms): " +
          ", ".join(f"{state} {ms:.2f}" for state, ms in states.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
