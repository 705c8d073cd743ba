"""How clean the person's edge is over a new background, against true alpha (issue 16, item 10).

IoU says where the mask is; it says little about the few pixels either side of the outline,
which are what a viewer sees: a soft alpha that reaches out into the room brings the room's
colour along with it, a dark or bright ring around the person over the new background. Here
each cut-out (RGBA, with its own alpha) is pasted into a background photo (the "room"); the
frame goes through the real per-frame path (a FrameProcessor) with another photo as the new
background, and is scored against the truth:

- band alpha error: mean |alpha - true alpha| within BAND px of the true outline;
- ring alpha: mean alpha in the room RING px outside the true outline (the fringe's source);
- band colour error: mean absolute difference, in grey levels, between the composite and the
  true composite (the cut-out's own colours and alpha over the same new background), within
  BAND px of the true outline;
- IoU at 0.5 over the frame.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.evaluate import iou

FRAME_SIZE = (640, 360)  # width, height: the Hamilton clip's size
PERSON_HEIGHT = 0.9  # of the frame's height: a full-body person as in the Hamilton clip's wide shot
BAND = 8  # px either side of the true outline
RING = (4, 16)  # px outside the true outline
SETTLE_FRAMES = 3  # each still is seen this many times, as a camera sees a still person


@dataclass
class EdgeScore:
    band_alpha_error: float  # mean |alpha - truth| in the band
    ring_alpha: float  # mean alpha in the ring outside the person
    band_color_error: float  # grey levels, composite against the true composite, in the band
    iou: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EdgeReport:
    model: str
    scores: list[tuple[str, EdgeScore]]

    def summary(self, how=statistics.median) -> dict[str, float]:
        """Each measure over the cut-outs (median by default)."""
        names = EdgeScore.__dataclass_fields__
        return {name: float(how([getattr(score, name) for _, score in self.scores])) for name in names}

    def to_dict(self) -> dict:
        return {"model": self.model, "cutouts": len(self.scores),
                "median": self.summary(), "mean": self.summary(statistics.fmean)}


def outline_distance(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) of each pixel to the true outline: (inside the person, outside), 0 elsewhere."""
    person = (truth >= 0.5).astype(np.uint8)
    inside = cv2.distanceTransform(person, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - person, cv2.DIST_L2, 3)
    return inside, outside


def edge_regions(truth: np.ndarray, band: int = BAND, ring: tuple[int, int] = RING) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (band, ring): pixels within `band` px of the true outline, and the room between
    ring[0] and ring[1] px outside it."""
    inside, outside = outline_distance(truth)
    band_mask = ((inside > 0) & (inside <= band)) | ((outside > 0) & (outside <= band))
    ring_mask = (outside >= ring[0]) & (outside <= ring[1])
    return band_mask, ring_mask


def score(alpha: np.ndarray, composite: np.ndarray, truth: np.ndarray, true_composite: np.ndarray) -> EdgeScore:
    """The measures for one frame: `alpha` and `truth` float in [0, 1], composites BGR at frame size."""
    band, ring = edge_regions(truth)
    difference = cv2.absdiff(composite.astype(np.float32), true_composite.astype(np.float32))
    return EdgeScore(
        band_alpha_error=float(np.abs(alpha - truth)[band].mean()) if band.any() else 0.0,
        ring_alpha=float(alpha[ring].mean()) if ring.any() else 0.0,
        band_color_error=float(difference[band].mean()) if band.any() else 0.0,
        iou=float(iou(alpha >= 0.5, truth >= 0.5)))


def paste(cutout: np.ndarray, room: np.ndarray, size: tuple[int, int] = FRAME_SIZE, height: float = PERSON_HEIGHT,
          centre: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A BGRA cut-out scaled to `height` of the frame and stood on its bottom edge at `centre`
    of its width, in front of `room` (cropped to cover the frame).

    Returns (frame BGR uint8, true alpha float32, the person's premultiplied colours float32):
    a composite over any other background B is premultiplied + (1 - alpha) * B. Colour and
    alpha are scaled premultiplied, so the cut-out's edge keeps its own colours.
    """
    from segcam.backgrounds import fill

    width, height_px = size
    scale = height * height_px / cutout.shape[0]
    person_w, person_h = max(1, round(cutout.shape[1] * scale)), max(1, round(cutout.shape[0] * scale))
    piece_alpha = cutout[:, :, 3].astype(np.float32) / 255.0
    premultiplied = cutout[:, :, :3].astype(np.float32) * piece_alpha[:, :, None]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    piece_alpha = cv2.resize(piece_alpha, (person_w, person_h), interpolation=interpolation)
    premultiplied = cv2.resize(premultiplied, (person_w, person_h), interpolation=interpolation)
    top, left = height_px - person_h, round(centre * width - person_w / 2)
    alpha = np.zeros((height_px, width), np.float32)
    person = np.zeros((height_px, width, 3), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + person_h, height_px), min(left + person_w, width)
    alpha[y0:y1, x0:x1] = piece_alpha[y0 - top:y1 - top, x0 - left:x1 - left]
    person[y0:y1, x0:x1] = premultiplied[y0 - top:y1 - top, x0 - left:x1 - left]
    alpha = np.clip(alpha, 0.0, 1.0)
    frame = over(person, alpha, fill(room, width, height_px))
    return frame, alpha, person


def over(premultiplied: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The person (premultiplied colours) over a background, BGR uint8."""
    composite = premultiplied + (1.0 - alpha[:, :, None]) * background.astype(np.float32)
    return np.clip(composite + 0.5, 0, 255).astype(np.uint8)


def evaluate_edges(processor, cutouts: Sequence[Path], backgrounds: Sequence[Path], model: str = "",
                   size: tuple[int, int] = FRAME_SIZE, progress: bool = False) -> EdgeReport:
    """Score each cut-out pasted into one background photo and replaced by another.

    `processor` is a FrameProcessor whose effect is "image" (its background is set here, per
    cut-out) and whose privacy guard is off: the guard would hold the first frames. Cut-out i
    stands in room i and gets background i + len // 2 (both modulo the photos), at a place
    across the frame that varies from one cut-out to the next. Each still is a new video,
    seen SETTLE_FRAMES times; the last frame is scored.
    """
    from tqdm import tqdm

    from segcam.backgrounds import load_image

    if len(backgrounds) < 2:
        raise ValueError("needs at least two background photos (a room and a new background)")
    rooms = [load_image(path) for path in backgrounds]
    scores = []
    for index, path in enumerate(tqdm(cutouts, desc="edges", unit="cut-out", disable=not progress, leave=False)):
        cutout = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if cutout is None or cutout.ndim != 3 or cutout.shape[2] != 4:
            raise ValueError(f"{path} is not an RGBA image")
        new_background = backgrounds[(index + len(backgrounds) // 2) % len(backgrounds)]
        processor.update(processor.settings.replace(background=str(new_background)))
        centre = 0.25 + 0.5 * ((index * 0.618) % 1.0)
        frame, truth, person = paste(cutout, rooms[index % len(rooms)], size, centre=centre)
        processor.reset()
        for _ in range(SETTLE_FRAMES):
            result = processor.process(frame)
        background = processor.compositor.background(frame, result.alpha)
        scores.append((path.stem, score(result.alpha, result.output, truth, over(person, truth, background))))
    name = model or (processor.segmenter.name if processor.segmenter is not None else "")
    return EdgeReport(name, scores)
