"""`segcam eval --motion`: how well masks follow a moving person, against moving ground truth.

Flicker on a real clip (`segcam eval --video`) cannot tell noise from movement: a person who
moves changes the true mask too, and a refiner that lags behind scores as steadier. Here each
labelled still becomes a short clip in which the person (cut out by their mask) sways and
bobs over a still background photo, as in a video call, with camera-like noise. The truth
moves with them, so lag and noise both count against a mask:

- IoU per frame, raw network output and after the refiner;
- dtSSD, the temporal error used for video matting: the root mean square of the difference
  between the predicted mask's change from one frame to the next and the truth's;
- flicker (mean absolute change, as in --video) of the truth, the raw mask and the refined one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.evaluate import Pair, dtssd, flicker, iou, load_pair, read_image, sequence_masks

CLIP_SIZE = (640, 360)  # width, height
CLIP_FRAMES = 45  # 1.5 s at 30 fps


@dataclass
class MotionReport:
    model: str
    motion: str
    clips: int
    iou_raw: float
    iou_refined: float
    dtssd_raw: float
    dtssd_refined: float
    flicker_truth: float
    flicker_raw: float
    flicker_refined: float

    def to_dict(self) -> dict:
        return asdict(self)


MOTIONS = ("talk", "fast")


def moving_clip(image: np.ndarray, truth: np.ndarray, background: np.ndarray, rng: np.random.Generator,
                frames: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE,
                motion: str = "talk") -> tuple[list, list]:
    """Frames (BGR uint8) and their true masks (bool) of the person moving over `background`.

    "talk": the person fills most of the frame's height and sways sideways by 4-10% of its
    width over a 1-2 s period, with a slight bob and breathing-like scale change: 1 to 5
    pixels a frame at 640x360, the range of a person talking and gesturing.
    "fast": the person crosses the frame and back (10 to 30 pixels a frame at the fastest),
    turns (narrows and widens, tilts by up to 8 degrees) and swings their arms: the parts of
    the picture away from the body's centre line move up and down against the torso.
    """
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}")
    width, height = size
    background = cv2.resize(background, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    image_height, image_width = truth.shape
    alpha_source = truth.astype(np.uint8) * 255
    base_scale = 0.95 * height / image_height
    phase = rng.uniform(0, 2 * np.pi)
    fast = motion == "fast"
    if fast:
        sway = rng.uniform(0.15, 0.25) * width
        period = rng.uniform(30, 48)  # peak speed sway * 2 pi / period: 12 to 33 px a frame
        swing = _arm_swing(truth, rng)
    else:
        sway = rng.uniform(0.04, 0.1) * width
        period = rng.uniform(30, 60)  # frames
    clip, truths = [], []
    for t in range(frames):
        angle = 2 * np.pi * t / period + phase
        scale = base_scale * (1 + 0.04 * np.sin(angle / 1.7))
        person, alpha_image = image, alpha_source
        if fast:
            person, alpha_image = swing(t, image, alpha_source)
            turn = 1 - 0.3 * abs(np.sin(angle / 2.3))  # seen from the side the body is narrower
            tilt = np.deg2rad(8) * np.sin(angle * 0.8)
            linear = scale * np.array([[np.cos(tilt) * turn, -np.sin(tilt)], [np.sin(tilt) * turn, np.cos(tilt)]])
        else:
            linear = np.array([[scale, 0.0], [0.0, scale]])
        centre = np.array([image_width / 2, image_height])  # the bottom middle stays on the frame's floor
        target = np.array([width / 2 + sway * np.sin(angle), height + 0.02 * height * np.cos(1.3 * angle)])
        affine = np.float32(np.hstack([linear, (target - linear @ centre)[:, None]]))
        person = cv2.warpAffine(person, affine, size, flags=cv2.INTER_AREA)
        alpha = cv2.warpAffine(alpha_image, affine, size, flags=cv2.INTER_LINEAR).astype(np.float32) / 255
        alpha3 = alpha[..., None]
        frame = person * alpha3 + background * (1 - alpha3) + rng.normal(0, 3, (height, width, 3))
        clip.append(np.clip(frame, 0, 255).astype(np.uint8))
        truths.append(alpha >= 0.5)
    return clip, truths


def _arm_swing(truth: np.ndarray, rng: np.random.Generator):
    """A warp of the still in which what lies beside the torso swings up and down.

    Columns further than the torso's half width from the body's centre line are shifted
    vertically by up to 15% of the picture's height, the left and right sides in opposite
    phase, over about two thirds of a second: arms (and whatever the person holds) swinging.
    """
    height, width = truth.shape
    columns = np.nonzero(truth.any(axis=0))[0]
    centre = columns.mean() if columns.size else width / 2
    torso = 0.18 * width
    x = np.arange(width, dtype=np.float32)
    reach = np.clip((np.abs(x - centre) - torso) / (0.25 * width), 0, 1) ** 1.5
    side = np.where(x < centre, 1.0, -1.0).astype(np.float32)
    amplitude = rng.uniform(0.1, 0.15) * height
    period = rng.uniform(16, 24)
    grid_x, grid_y = np.meshgrid(x, np.arange(height, dtype=np.float32))

    def warp(t: int, image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = (amplitude * np.sin(2 * np.pi * t / period) * reach * side).astype(np.float32)
        map_y = grid_y + shift[None, :]
        return (cv2.remap(image, grid_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
                cv2.remap(alpha, grid_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT))

    return warp


def evaluate_motion(processor, pairs: Sequence[Pair],
                    backgrounds: Sequence[Path], threshold: float = 0.5, model: str = "",
                    seed: int = 0, progress: bool = False, motion: str = "talk") -> MotionReport:
    """Score raw and refined masks on one moving clip per labelled pair; fixed seed, so repeatable.

    `processor` is a FrameProcessor; each clip starts it afresh, as a new video.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    scores = {key: [] for key in ("iou_raw", "iou_refined", "dtssd_raw", "dtssd_refined",
                                  "flicker_truth", "flicker_raw", "flicker_refined")}
    usable = [b for b in (read_image(path) for path in backgrounds) if b is not None]
    if not usable:
        raise ValueError("no readable background image")
    for index, pair in enumerate(tqdm(pairs, desc="motion", unit="clip", disable=not progress, leave=False)):
        loaded = load_pair(pair)
        if isinstance(loaded, str):
            continue  # `segcam eval` has reported it already, scoring the same pairs as stills
        frames, truths = moving_clip(*loaded, usable[index % len(usable)], rng, motion=motion)
        raw, refined = zip(*sequence_masks(processor, frames))
        scores["iou_raw"].append(np.mean([iou(m >= threshold, t) for m, t in zip(raw, truths)]))
        scores["iou_refined"].append(np.mean([iou(m >= threshold, t) for m, t in zip(refined, truths)]))
        scores["dtssd_raw"].append(dtssd(raw, truths))
        scores["dtssd_refined"].append(dtssd(refined, truths))
        scores["flicker_truth"].append(flicker([t.astype(np.float32) for t in truths]))
        scores["flicker_raw"].append(flicker(raw))
        scores["flicker_refined"].append(flicker(refined))
    clips = len(scores["iou_raw"])
    means = {key: float(np.mean(values)) if values else float("nan") for key, values in scores.items()}
    return MotionReport(model=model, motion=motion, clips=clips, **means)
