"""The privacy guard: while the mask cannot be trusted, nothing of the room is sent. It fails closed.

A segmenter is least reliable exactly when the room would show: before its first good mask,
after a source or model switch, when the person turns away or the light changes and the mask
collapses or leaps, when it hesitates over much of the picture, and when it fails outright.
The guard watches each frame's alpha and says how much of a safe frame (the room blurred
beyond recognition, or the effect's own background where it replaces the room) to show.

Promises:
- it engages on the very frame that looks wrong (no fade in: a half-faded frame still shows
  the room at half contrast), and before the first trusted mask after a start or `reset`;
- it releases only after `steady_frames` trusted frames in a row, fading out over
  `fade_frames`; trusting needs a clearer mask than engaging (hysteresis), and a guard that
  engages again soon after a release waits longer the next time, so it does not blink;
- with no person in view it keeps holding: nobody is there to show, and an empty mask is
  no evidence that the network sees the room right.

Counted in frames, not seconds: at 30 fps the default release takes 0.2 s.
State lives in one object; `reset` (a new source or model) starts it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segcam.imageops import shrink, small_mask

STARTING = "starting"
SWITCHED = "source switched"
MODEL_SWITCHED = "model switched"
SCENE_CUT = "scene cut"
NO_PERSON = "no person in view"
COLLAPSED = "mask collapsed"
JUMPED = "mask jumped"
UNSURE = "low confidence"
FAILED = "segmenter error"

_WORKING_WIDTH = 256  # masks are judged at about this width: the network's own resolution
_SAFE_CELLS = 16  # the safe frame keeps this many blocks of colour across: no face, no text
# engaging again within this many times `steady_frames` after a release doubles the next wait
_PENALTY_WINDOW = 2


@dataclass(frozen=True)
class Verdict:
    amount: float  # how much of the safe frame to show: 1 = only it, 0 = the composite as it is
    reason: str | None  # why the guard holds, for the status bar and the log; None once released
    changed: bool = False  # the guard engaged or released on this frame (worth a log line)

    @property
    def holding(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Trust:
    """When a mask is suspect (engages the guard) and when it is trusted (counts toward release).
    Areas are fractions of the frame where alpha > 0.5; "unsure" pixels have alpha in 0.25..0.75."""

    min_area: float = 0.01  # less person than this: nobody in view
    collapse: float = 0.35  # the area shrinks to less than this share of the last frame's at once
    jump_iou: float = 0.5  # overlap of this mask with the last frame's below this: a leap
    unsure: float = 0.2  # more of the frame unsure than this: the network hesitates
    # trusted only when clearly inside the limits
    trust_area: float = 0.02
    trust_iou: float = 0.65
    trust_unsure: float = 0.1


@dataclass(frozen=True)
class MaskFacts:
    area: float
    unsure: float
    iou: float | None  # with the previous frame's mask; None when there was none


def mask_facts(alpha: np.ndarray, previous: np.ndarray | None) -> tuple[MaskFacts, np.ndarray]:
    """The figures the guard judges by, and this frame's person mask (for the next frame's overlap)."""
    alpha = small_mask(alpha, _WORKING_WIDTH)
    person = alpha > 0.5
    area = float(np.count_nonzero(person)) / person.size
    unsure = float(np.count_nonzero(np.abs(alpha - 0.5) < 0.25)) / person.size
    iou = None
    if previous is not None and previous.shape == person.shape:
        union = np.count_nonzero(person | previous)
        iou = float(np.count_nonzero(person & previous)) / union if union else 1.0
    return MaskFacts(area, unsure, iou), person


class PrivacyGuard:
    def __init__(self, steady_frames: int = 6, fade_frames: int = 2, trust: Trust = Trust()):
        self.steady_frames = steady_frames
        self.fade_frames = max(1, fade_frames)
        self.trust = trust
        self._was_holding = False  # what the last verdict said, so each change is told once
        self.reset(STARTING)

    def reset(self, reason: str = SWITCHED) -> None:
        """Hold from the next frame on, as at a start: a new source, model or video."""
        self.reason: str | None = reason
        self.amount = 1.0
        self._steady = 0
        self._required = self.steady_frames  # trusted frames in a row that release the guard
        self._since_release: int | None = None  # frames since a recent release; None: none lately
        self._previous: np.ndarray | None = None
        self._previous_area: float | None = None

    def update(self, alpha: np.ndarray | None) -> Verdict:
        """Judge one frame's alpha (float32 in [0, 1], any size; the network's own is cheapest).
        None means the segmenter failed on this frame: show only the safe frame. The verdict
        is `changed` on the first frame it holds (after a start or `reset` too) and on the
        first it no longer does."""
        verdict = self._judge(alpha)
        changed, self._was_holding = verdict.holding != self._was_holding, verdict.holding
        return verdict if verdict.changed == changed else Verdict(verdict.amount, verdict.reason, changed)

    def _judge(self, alpha: np.ndarray | None) -> Verdict:
        if alpha is None:
            self._previous = self._previous_area = None
            return self._engage(FAILED)
        facts, self._previous = mask_facts(alpha, self._previous)
        previous_area, self._previous_area = self._previous_area, facts.area
        problem = self._problem(facts, previous_area)
        if problem is not None:
            return self._engage(problem)
        if self.reason is None:
            return self._released()
        t = self.trust
        trusted = facts.area >= t.trust_area and facts.unsure <= t.trust_unsure and \
            (facts.iou is None or facts.iou >= t.trust_iou)
        self._steady = self._steady + 1 if trusted else 0
        if self._steady < self._required:
            return Verdict(1.0, self.reason)
        self.reason, self._since_release = None, 0
        return self._released(changed=True)

    def _problem(self, facts: MaskFacts, previous_area: float | None) -> str | None:
        t = self.trust
        had_person = previous_area is not None and previous_area >= t.trust_area
        if facts.area < t.min_area:
            return COLLAPSED if had_person else NO_PERSON
        if had_person and facts.area < t.collapse * previous_area:
            return COLLAPSED
        if facts.iou is not None and facts.iou < t.jump_iou:
            return JUMPED  # a scene cut, or the mask has leapt onto something else
        if facts.unsure > t.unsure:
            return UNSURE
        return None

    def _engage(self, reason: str) -> Verdict:
        changed = self.reason is None
        if changed and self._since_release is not None:
            # engaged again soon after a release: trust the next release less quickly
            self._required = min(2 * self._required, 4 * self.steady_frames)
        self.reason, self.amount, self._steady, self._since_release = reason, 1.0, 0, None
        return Verdict(1.0, reason, changed)

    def _released(self, changed: bool = False) -> Verdict:
        self.amount = max(0.0, self.amount - 1.0 / self.fade_frames)
        if self._since_release is not None:
            self._since_release += 1
            if self._since_release >= _PENALTY_WINDOW * self.steady_frames:  # a good while: the usual wait again
                self._required, self._since_release = self.steady_frames, None
        return Verdict(self.amount, None, changed)


def safe_frame(frame: np.ndarray, replacement: np.ndarray | None = None, mirror: bool = False) -> np.ndarray:
    """What the guard shows: the effect's own background where it replaces the room (an image,
    a video, a colour: nothing of the room at all), else the frame blurred beyond recognition
    (16 blocks of colour across), mirrored like the output."""
    if replacement is not None:
        return replacement
    height, width = frame.shape[:2]
    tiny = shrink(frame, (_SAFE_CELLS, max(1, round(_SAFE_CELLS * height / width))))
    if mirror:
        tiny = cv2.flip(tiny, 1)
    return cv2.resize(tiny, (width, height), interpolation=cv2.INTER_LINEAR)


def shield(output: np.ndarray | None, safe: np.ndarray, amount: float) -> np.ndarray:
    """The output faded toward the safe frame by `amount` (a Verdict's); None (no composite:
    the segmenter failed) gives the safe frame."""
    if output is None or amount >= 1.0:
        return safe
    if amount <= 0.0:
        return output
    return cv2.addWeighted(safe, amount, output, 1.0 - amount, 0.0)
