"""`segcam eval`: how good a model's masks are (IoU on labelled images) and how steady (flicker on video).

IoU is for the person class: |prediction AND truth| / |prediction OR truth|, where the
prediction is the network's probability, resized to the image (as `segcam run` resizes it to
the frame), at or above the threshold. Flicker is the mean absolute change of the soft mask
between consecutive frames, at frame size, measured on the raw network output and after the
refiner, so the two numbers compare directly.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from segcam.imageops import shrink
# the labelled data these measures read; motion_eval and training import them from here too
from segcam.io import (IMAGE_SUFFIXES, MASK_SUFFIXES, Pair, load_pair, pair_by_stem, read_image,  # noqa: F401
                       read_list, read_mask, video_frames)

# frame (BGR uint8, H x W x 3) -> person probability, float32 H x W
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass
class ImageReport:
    model: str
    threshold: float
    per_image: list[tuple[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # pairs that were not evaluated, and why

    @property
    def ious(self) -> list[float]:
        return [iou for _, iou in self.per_image]

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious)) if self.per_image else float("nan")

    @property
    def median_iou(self) -> float:
        return float(statistics.median(self.ious)) if self.per_image else float("nan")

    def to_dict(self, per_image: bool = False) -> dict:
        data = {"model": self.model, "images": len(self.per_image), "mean_iou": self.mean_iou,
                "median_iou": self.median_iou, "threshold": self.threshold, "problems": self.problems}
        if per_image:
            data["per_image"] = {name: iou for name, iou in self.per_image}
        return data


@dataclass
class SequenceReport:
    """Labelled frames of one video, in order: IoU and the temporal error (dtSSD) against the truth."""

    frames: int
    mean_iou: float  # the network's own mask
    mean_iou_refined: float
    dtssd: float
    dtssd_refined: float
    threshold: float
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"frames": self.frames, "mean_iou": self.mean_iou, "mean_iou_refined": self.mean_iou_refined,
                "dtssd": self.dtssd, "dtssd_refined": self.dtssd_refined, "threshold": self.threshold,
                "problems": self.problems}


@dataclass
class VideoReport:
    model: str
    frames: int
    flicker_raw: float
    flicker_refined: float

    def to_dict(self) -> dict:
        return {"model": self.model, "frames": self.frames, "flicker_raw": self.flicker_raw,
                "flicker_refined": self.flicker_refined}


@dataclass
class AgreementReport:
    """How far a model's masks agree with a teacher's on one video, from frame `start` on."""

    model: str
    against: str
    start: int
    frames: int  # frames scored
    mean_iou: float  # the model's own mask against the teacher's
    mean_iou_refined: float  # after the refiner
    threshold: float

    def to_dict(self) -> dict:
        return {"model": self.model, "against": self.against, "start": self.start, "frames": self.frames,
                "mean_iou": self.mean_iou, "mean_iou_refined": self.mean_iou_refined, "threshold": self.threshold}


# -- measures -----------------------------------------------------------------------------

def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks; two empty masks agree fully (1.0)."""
    union = np.count_nonzero(predicted | truth)
    if union == 0:
        return 1.0
    return np.count_nonzero(predicted & truth) / union


def flicker(masks: Iterable[np.ndarray]) -> float:
    """Mean absolute change between consecutive masks (0 for a perfectly steady sequence)."""
    changes, previous = [], None
    for mask in masks:
        if previous is not None:
            changes.append(float(cv2.absdiff(mask, previous).mean()))
        previous = mask
    return float(np.mean(changes)) if changes else 0.0


def dtssd(masks: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Root mean square of (change of mask - change of truth) between consecutive frames."""
    errors = []
    for (mask0, mask1), (true0, true1) in zip(zip(masks, masks[1:]), zip(truths, truths[1:])):
        change = (mask1 - mask0) - (true1.astype(np.float32) - true0.astype(np.float32))
        errors.append(float(np.mean(change * change)))
    return float(np.sqrt(np.mean(errors))) if errors else 0.0


def evaluate_images(predict: Predictor, pairs: Sequence[Pair], threshold: float = 0.5,
                    model: str = "", problems: Sequence[str] = (), progress: bool = False) -> ImageReport:
    report = ImageReport(model, threshold, problems=list(problems))
    from tqdm import tqdm

    for pair in tqdm(pairs, desc="eval", unit="image", disable=not progress, leave=False):
        loaded = load_pair(pair)
        if isinstance(loaded, str):
            report.problems.append(loaded)
            continue
        image, truth = loaded
        report.per_image.append((pair.name, iou(predict(image) >= threshold, truth)))
    return report


def evaluate_video(processor, frames: Iterable[np.ndarray], model: str = "") -> VideoReport:
    """Flicker of the raw soft mask and of the refiner's alpha, both at frame size.

    `processor` is a FrameProcessor; it starts from a fresh temporal state, as a new video does.
    """
    raw, refined = [], []
    for mask, alpha in sequence_masks(processor, frames):
        raw.append(mask)
        refined.append(alpha)
    return VideoReport(model or processor.segmenter.name, len(raw), flicker(raw), flicker(refined))


def evaluate_agreement(processor, teacher, frames: Iterable[np.ndarray], start: int = 0,
                       threshold: float = 0.5) -> AgreementReport:
    """IoU of `processor`'s masks against `teacher`'s (both FrameProcessors) on consecutive
    frames, scored from frame `start` on. Both see every frame from the first, in order, so a
    recurrent teacher's state has settled by `start`, as it would have in `segcam run`."""
    raw, refined = [], []
    processor.reset()
    teacher.reset()
    for index, frame in enumerate(frames):
        matte, truth = processor.matte(frame), teacher.matte(frame)
        if index < start:
            continue
        height, width = frame.shape[:2]
        truth = truth.raw_at(width, height) >= threshold
        raw.append(iou(matte.raw_at(width, height) >= threshold, truth))
        refined.append(iou(matte.alpha >= threshold, truth))
    nan = float("nan")
    names = [p.segmenter.name if p.segmenter is not None else "" for p in (processor, teacher)]
    return AgreementReport(*names, start, len(raw), float(np.mean(raw)) if raw else nan,
                           float(np.mean(refined)) if refined else nan, threshold)


def evaluate_sequence(processor, pairs: Sequence[Pair], threshold: float = 0.5,
                      problems: Sequence[str] = ()) -> SequenceReport:
    """Score image/mask pairs as consecutive frames of one video (sorted by name), with the
    temporal state carried through, as `segcam run` would see them."""
    problems = list(problems)
    frames, truths = [], []
    for pair in sorted(pairs, key=lambda p: p.name):
        loaded = load_pair(pair)
        if isinstance(loaded, str):
            problems.append(loaded)
            continue
        frames.append(loaded[0])
        truths.append(loaded[1])
    raw, refined = (list(masks) for masks in zip(*sequence_masks(processor, frames))) if frames else ([], [])
    nan = float("nan")

    def mean_iou(masks) -> float:
        return float(np.mean([iou(m >= threshold, t) for m, t in zip(masks, truths)])) if masks else nan

    return SequenceReport(len(frames), mean_iou(raw), mean_iou(refined),
                          dtssd(raw, truths) if frames else nan, dtssd(refined, truths) if frames else nan,
                          threshold, problems)


def sequence_masks(processor, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(raw network mask, refined alpha), both at frame size, for consecutive frames of one video,
    as `segcam run` makes them: the temporal state (recurrent network, refiner) carried through."""
    processor.reset()
    for frame in frames:
        matte = processor.matte(frame)
        yield matte.raw_at(frame.shape[1], frame.shape[0]), matte.alpha


def still_masks(processor, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(raw network mask, refined alpha) for a still, seen as the first frame of a video."""
    return next(sequence_masks(processor, [image]))


def still_predictor(processor, refined: bool = False) -> Predictor:
    """A predictor for `evaluate_images`: each image a video of its own."""
    return lambda image: still_masks(processor, image)[1 if refined else 0]


# -- predictors for a live torch network (used by training's validation) -------------------

def network_predictor(network, input_size: tuple[int, int], mean, std, device: str = "cpu") -> Predictor:
    """Like Segmenter.segment, for a network in memory: squeeze to input size as `segcam run` does
    (imageops.shrink), predict, resize back."""
    import torch

    from segcam.segmenter import FrameInput

    module = FrameInput(network, mean, std).to(device).eval()
    height, width = input_size

    @torch.inference_mode()
    def predict(image: np.ndarray) -> np.ndarray:
        resized = shrink(image, (width, height))  # as the segmenter resizes a frame
        mask = module(torch.from_numpy(resized).to(device).unsqueeze(0)).float().cpu().numpy()
        return cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)

    return predict
