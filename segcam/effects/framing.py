"""Auto-framing ("keep me centred"): a virtual pan and zoom that follows the person.

The crop is placed from the mask alone: centred on the head (the top of the person's region,
once arms, which are narrower, are left out: a wave neither pulls nor zooms it), with a little
headroom above, and tall enough for the head and shoulders (four head widths down from the
top of the head, or as much of the person as is in view). The mask already says where
the head is; a face detector would add cost and fail on a turned head, where the mask does not.

Promises:
- the output keeps the camera's size; the crop keeps the frame's aspect ratio (to a pixel)
  and never leaves the frame;
- no zoom beyond `max_zoom` (1.6: at 720p the crop keeps 450 lines), so it never zooms into
  pixels;
- a dead zone: while the target stays within it the crop does not move at all (a still
  person gives a still picture, mask noise and all); once it leaves, the crop eases in and
  out toward the target (a critically damped spring, no overshoot) and comes to rest there;
- with nobody in view for `lost_frames`, it eases back to the whole frame.

Counted in frames, not seconds (the defaults assume about 30 fps). State lives in one object;
`reset` (a new source, a scene cut) forgets it: the first person seen after it is framed at
once, without a pan (until then, the whole frame). Apply it before mirroring.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcam.effects.base import Stage
from segcam.effects.registry import register_stage
from segcam.imageops import small_mask

_WORKING_WIDTH = 256
_ARM_WIDTH = 0.05  # share of the frame's width: narrower upright parts are arms, not heads
_HEAD_HEIGHT = 1.3  # a head is about this many times as tall as it is wide
_HEAD_AND_SHOULDERS = 4.0  # head widths from the top of the head to the middle of the chest
_SETTLE = 0.25  # output pixels: closer to the goal than this, and slower, the crop comes to rest


@dataclass(frozen=True)
class Crop:
    """A crop of the frame, in frame pixels: its centre and height (its width follows the frame's aspect)."""

    cx: float
    cy: float
    height: float

    def width(self, frame_width: int, frame_height: int) -> float:
        return self.height * frame_width / frame_height


class _Axis:
    """One crop parameter: rests inside its dead zone, else eases toward the target."""

    def __init__(self, position: float):
        self.position, self.velocity, self.moving = position, 0.0, False

    def step(self, target: float, dead_zone: float, stiffness: float, settle: float) -> float:
        if not self.moving and abs(target - self.position) > dead_zone:
            self.moving = True
        if self.moving:
            # critically damped: eases in from rest and out into the target without overshoot
            self.velocity += stiffness * stiffness * (target - self.position) - 2.0 * stiffness * self.velocity
            self.position += self.velocity
            if abs(target - self.position) < settle and abs(self.velocity) < settle:
                self.moving, self.velocity = False, 0.0
        return self.position


class AutoFramer:
    def __init__(self, max_zoom: float = 1.6, headroom: float = 0.12, dead_zone: float = 0.06,
                 stiffness: float = 0.12, smoothing: float = 0.3, lost_frames: int = 45):
        self.max_zoom = max(1.0, max_zoom)
        self.headroom = headroom  # space above the head, as a share of the crop's height
        self.dead_zone = dead_zone  # share of the frame (position) and of the crop's height (zoom)
        self.stiffness = stiffness  # the spring's angular frequency, per frame: ~1/stiffness frames to arrive
        self.smoothing = smoothing  # weight of each new target in its running average (mask noise)
        self.lost_frames = lost_frames
        self.reset()

    def reset(self) -> None:
        """Start again from the whole frame."""
        self._size: tuple[int, int] | None = None
        self._axes: tuple[_Axis, _Axis, _Axis] | None = None
        self._target: np.ndarray | None = None
        self._lost = 0
        self._seen = False  # a person seen since the reset
        self.crop: Crop | None = None

    def __call__(self, output: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Follow the person in `alpha` and return `output` cropped and scaled back to its size."""
        height, width = output.shape[:2]
        return apply(output, self.update(alpha, (width, height)))

    def update(self, alpha: np.ndarray, size: tuple[int, int] | None = None) -> Crop:
        """Move the crop on by one frame. `alpha`: the person's (any size, e.g. the network's);
        `size`: the output's (width, height), by default the alpha's."""
        width, height = size or (alpha.shape[1], alpha.shape[0])
        if self._size != (width, height):
            self.reset()
            self._size = (width, height)
            self._axes = (_Axis(width / 2), _Axis(height / 2), _Axis(float(height)))
        target = self._aim(alpha, width, height)
        if target is None:
            self._lost += 1
            if self._target is None or self._lost > self.lost_frames:
                target = np.array([width / 2, height / 2, height], np.float64)
            else:
                target = self._target  # a moment without a mask: stay where we are going
        else:
            self._lost = 0
            if self._target is not None and self._seen:
                target = self._target + self.smoothing * (target - self._target)
        if not self._seen and self._lost == 0:  # a first sight after a start or a cut: frame at once
            self._seen = True
            for axis, value in zip(self._axes, target):
                axis.position = value
        self._target = target
        dead = (self.dead_zone * width, self.dead_zone * height, self.dead_zone * self._axes[2].position)
        settle = _SETTLE * self._axes[2].position / height  # a quarter of an output pixel, in frame pixels
        cx, cy, crop_height = (axis.step(t, d, self.stiffness, settle) for axis, t, d in zip(self._axes, target, dead))
        crop = _inside(Crop(cx, cy, crop_height), width, height, self.max_zoom)
        if not any(axis.moving for axis in self._axes):
            crop = _on_whole_pixels(crop, width, height)  # at rest: a plain cut, half the cost
            for axis, value in zip(self._axes, (crop.cx, crop.cy, crop.height)):
                axis.position = value
        self.crop = crop
        return crop

    def _aim(self, alpha: np.ndarray, width: int, height: int) -> np.ndarray | None:
        """The crop that frames the person now (cx, cy, height in output pixels); None: nobody."""
        person = (small_mask(alpha, _WORKING_WIDTH) > 0.5).astype(np.uint8)
        small_h, small_w = person.shape
        # an arm raised above the head is narrower than the head: a horizontal opening drops
        # it, so the crop neither zooms out for a wave nor swings toward the hand
        arms = max(3, round(_ARM_WIDTH * small_w)) | 1
        person = cv2.morphologyEx(person, cv2.MORPH_OPEN, np.ones((1, arms), np.uint8)) > 0
        rows = np.flatnonzero(np.count_nonzero(person, axis=1) >= max(1, small_w // 100))
        if len(rows) < max(2, small_h // 20):
            return None
        scale_x, scale_y = width / small_w, height / small_h
        top, bottom = rows[0], rows[-1] + 1
        head_width = _head_width(np.count_nonzero(person[top:bottom], axis=1))
        head = person[top:top + max(2, round(_HEAD_HEIGHT * head_width))]
        xs = np.flatnonzero(head.any(axis=0))
        cx = float(np.average(xs + 0.5, weights=np.count_nonzero(head, axis=0)[xs])) * scale_x
        # head and shoulders (as much of them as is in view) below a little headroom
        shown = min(bottom - top, _HEAD_AND_SHOULDERS * head_width)
        crop_height = shown * scale_y / (1.0 - self.headroom)
        cy = top * scale_y - self.headroom * crop_height + crop_height / 2
        crop = _inside(Crop(cx, cy, crop_height), width, height, self.max_zoom)  # aim only where it can go
        return np.array([crop.cx, crop.cy, crop.height], np.float64)


def _head_width(widths: np.ndarray) -> float:
    """The head's width from the person's width row by row from the top of the head: the
    typical width over the head's height (1.3 widths), found by a few refinements from the
    top rows (a median, so the shoulders below do not pull it wider)."""
    width = float(max(widths[:3].max(), 1))
    for _ in range(4):
        width = float(max(np.median(widths[:max(3, round(_HEAD_HEIGHT * width))]), 1))
    return width


def _inside(crop: Crop, width: int, height: int, max_zoom: float) -> Crop:
    crop_height = min(max(crop.height, height / max_zoom), height)
    half_w, half_h = crop_height * width / height / 2, crop_height / 2
    return Crop(min(max(crop.cx, half_w), width - half_w), min(max(crop.cy, half_h), height - half_h), crop_height)


def _on_whole_pixels(crop: Crop, width: int, height: int) -> Crop:
    """The nearest crop whose corner and height are whole pixels (the width follows the aspect)."""
    crop_height = float(round(crop.height))
    crop_width = crop_height * width / height
    left = float(min(max(round(crop.cx - crop_width / 2), 0), np.floor(width - crop_width)))
    top = float(min(max(round(crop.cy - crop_height / 2), 0), height - crop_height))
    return Crop(left + crop_width / 2, top + crop_height / 2, crop_height)


def apply(image: np.ndarray, crop: Crop) -> np.ndarray:
    """`image` cut to `crop` and scaled back to its own size. A crop on whole pixels (at rest)
    is a plain cut; one between pixels (moving) is sampled there, so slow pans glide instead
    of stepping a pixel at a time."""
    height, width = image.shape[:2]
    if crop.height >= height - 1e-6:
        return image  # the whole frame
    crop_width = crop.width(width, height)
    left, top = crop.cx - crop_width / 2, crop.cy - crop.height / 2
    size = (min(width, max(1, round(crop_width))), min(height, max(1, round(crop.height))))
    if abs(left - round(left)) < 1e-3 and abs(top - round(top)) < 1e-3:
        x, y = min(round(left), width - size[0]), min(round(top), height - size[1])
        patch = image[y:y + size[1], x:x + size[0]]
    else:  # (getRectSubPix takes the patch's centre with pixel centres on whole numbers)
        patch = cv2.getRectSubPix(image, size, (left + size[0] / 2 - 0.5, top + size[1] / 2 - 0.5))
    return cv2.resize(patch, (width, height), interpolation=cv2.INTER_LINEAR)


@register_stage
class FrameMe(Stage):
    """After compositing, before the mirror: the output cropped to follow the person, at its own size."""

    name = "frame_me"
    where = "after"
    order = 50  # before the mirror (100), which flips the framed picture as a whole
    reads = ("frame_me",)

    def __init__(self, settings):
        super().__init__(settings)
        self.framer = AutoFramer()

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.frame_me

    def after(self, frame: np.ndarray, alpha: np.ndarray, output: np.ndarray) -> np.ndarray:
        return self.framer(output, alpha)

    def reset(self) -> None:
        self.framer.reset()
