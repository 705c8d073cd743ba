"""Only me: keep the main person and make everyone else background.

A person segmenter marks every person; in a call, someone walking behind you is not meant to
be shown. The mask's regions are found at about the network's resolution (cheap). The main
person is chosen once, by size and closeness to the centre, and then followed: each region
of a frame takes the identity of the previous frame's region it overlaps most (so the choice
never jumps to someone who comes closer or grows larger). A region that holds the bulk of
two previous people (they touch) is split between them by which of the two each pixel lies
nearer to, if the other was seen apart for `apart_frames` first (else it is a piece of the
main person's mask: a first frame in pieces joins up at once); once they part, each region is
again one person's, whole. A region that stays one for `merge_frames` (1.5 s) is taken to be
the main person alone: a wrong split heals, and someone who leans on you for long is shown.

Promises: everyone but the main person leaves the alpha (it becomes 0 there, over a ramp of
two working pixels); the main person's alpha is kept as it is, faint edge included; with
nobody else in view the alpha is returned untouched. Lost for `patience` frames (gone from
view), the main person is chosen afresh. Working from the mask alone it cannot tell who is
who while two people overlap, nor someone who vanishes wholly behind you and reappears
touching you (they may take your place); a face or appearance cue would be needed there.
State lives in one object; `reset` (a new source or scene) forgets the choice.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.effects.base import Stage
from segcam.effects.registry import register_stage
from segcam.imageops import small_mask

_WORKING_WIDTH = 256
_FAR = 1e6  # distance to a region that is not there
_ERODE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_RAMP = 2.0  # working pixels
MAIN = 1  # the main person's identity; everyone else's are 2 and up


class OnlyMe:
    def __init__(self, reach: float = 0.04, min_part: float = 0.002, patience: int = 15,
                 apart_frames: int = 5, merge_frames: int = 45):
        self.reach = reach  # how far the main person may move in a frame, as a share of the width
        self.min_part = min_part  # regions smaller than this share of the frame are never chosen
        self.patience = patience  # frames without the main person before choosing again
        self.apart_frames = apart_frames  # frames someone must be seen apart to be told apart when touching
        self.merge_frames = merge_frames  # frames two people may share one region before they are one
        self.reset()

    def reset(self) -> None:
        """Forget the main person: the next frame chooses again."""
        self._people: np.ndarray | None = None  # last frame's identities per working pixel (0: nobody)
        self._last_main: np.ndarray | None = None  # where the main person was last seen
        self._lost = 0
        self._merged = 0  # frames the main person has shared a region with someone
        self._apart = 0  # frames someone else has been in view apart from the main person

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        """`alpha` (float32 in [0, 1], frame size) with everyone but the main person removed."""
        keep = self.keep(alpha)
        if keep is None:
            return alpha
        height, width = alpha.shape[:2]
        return cv2.multiply(alpha, cv2.resize(keep, (width, height), interpolation=cv2.INTER_LINEAR))

    def keep(self, alpha: np.ndarray) -> np.ndarray | None:
        """Per working pixel, how much of the alpha to keep (float32); None keeps all of it.
        Moves the temporal state on by one frame."""
        labels = _regions((small_mask(alpha, _WORKING_WIDTH) > 0.5).astype(np.uint8))
        if self._people is not None and self._people.shape != labels.shape:
            self.reset()  # another frame size: another video
        people = self._follow(labels) if self._last_main is not None else None
        if people is None or not (people == MAIN).any():
            self._lost += 1
            if self._last_main is None or self._lost > self.patience:
                people = self._choose(labels)
        main = people == MAIN if people is not None else None
        if main is None or not main.any():
            if self._last_main is None:  # nobody chosen yet: nobody to remove
                return None
            main = np.zeros(labels.shape, bool)  # the main person is away: show no one else meanwhile
            people = np.where(labels > 0, labels + MAIN, 0)
        else:
            self._last_main, self._lost = main, 0
        self._people = people
        others = (people > MAIN)
        if not others.any():
            return None  # nobody else: the alpha stays as it is
        # every pixel goes with the nearer of the main person and the others (faint edges too)
        to_main, to_others = _distance_to(main), _distance_to(others)
        return np.clip(0.5 + (to_others - to_main) * (1.0 / _RAMP), 0.0, 1.0).astype(np.float32)

    def _choose(self, labels: np.ndarray) -> np.ndarray | None:
        """Identities on a first frame: the main person is the largest region, favouring the centre."""
        height, width = labels.shape
        count = int(labels.max()) + 1
        areas = np.bincount(labels.ravel(), minlength=count)[1:].astype(np.float64)
        if not len(areas):
            return None
        ys, xs = np.indices(labels.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            cx = np.bincount(labels.ravel(), xs.ravel(), count)[1:] / areas
            cy = np.bincount(labels.ravel(), ys.ravel(), count)[1:] / areas
        off_centre = np.hypot((cx - width / 2) / (width / 2), (cy - height / 2) / (height / 2))
        score = areas * (1.0 - 0.35 * np.minimum(off_centre, 2.0))
        score[areas < self.min_part * labels.size] = -1
        if score.max() <= 0:
            return None
        best = int(np.argmax(score)) + 1
        return np.where(labels == best, MAIN, np.where(labels > 0, labels + MAIN, 0))

    def _follow(self, labels: np.ndarray) -> np.ndarray:
        """This frame's identities from last frame's: each region is the person it overlaps most."""
        previous = self._people.copy()
        previous[self._last_main & (previous == 0)] = MAIN  # lost a moment: where they were last
        count, ids = int(labels.max()) + 1, int(previous.max()) + 1
        overlap = np.bincount((labels.astype(np.int64) * ids + previous).ravel(),
                              minlength=count * ids).reshape(count, ids)
        overlap[0] = 0
        overlap[:, 0] = 0
        home = np.where(overlap.max(axis=0) > 0, overlap.argmax(axis=0), -1)  # each person's main region now
        reach = self.reach * labels.shape[1] * (1 + self._lost)  # unseen a while, they may be further
        to_main = to_others = None
        people = np.zeros_like(labels)
        split = False
        for label in range(1, count):
            region = labels == label
            size = np.count_nonzero(region)
            # the people whose bulk is here (a stray fragment of someone does not count)
            here = [i for i in range(1, ids) if home[i] == label and (i == MAIN or overlap[label, i] >= 0.05 * size)]
            if MAIN in here and len(here) > 1 and self._apart >= self.apart_frames and \
                    self._merged < self.merge_frames:
                # the main person touches someone seen apart before: split by nearness to where each was
                if to_main is None:
                    to_main, to_others = _distance_to(previous == MAIN), _distance_to(previous > MAIN)
                people[region] = np.where(to_main[region] <= to_others[region], MAIN, label + MAIN)
                split = True
                continue
            if MAIN in here:
                owner = MAIN  # (with a piece never seen apart for long, or one region for long: one person)
            elif here:
                owner = label + MAIN
            elif overlap[label].any():  # a part of someone whose bulk is elsewhere (an arm cut off) ...
                owner = int(overlap[label].argmax())
                if owner != MAIN or size >= 0.5 * np.count_nonzero(self._last_main):
                    owner = label + MAIN  # ... unless as large as a person: someone who was hidden
            else:  # new in view: a part of the main person (a hand back in view) if it is small and close
                if to_main is None:
                    to_main, to_others = _distance_to(previous == MAIN), _distance_to(previous > MAIN)
                near = to_main[region].min()
                part = np.count_nonzero(region) < 0.5 * np.count_nonzero(self._last_main)
                owner = MAIN if part and near <= reach and near <= to_others[region].min() else label + MAIN
            people[region] = owner
        self._merged = self._merged + 1 if split else 0
        if not split:
            self._apart = self._apart + 1 if (people > MAIN).any() else 0
        return people


def _distance_to(region: np.ndarray) -> np.ndarray:
    """Per pixel, the distance to the nearest pixel of `region` (working pixels)."""
    if not region.any():
        return np.full(region.shape, _FAR, np.float32)
    return cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)


def _regions(person: np.ndarray) -> np.ndarray:
    """The people in a binary mask as labels (0 = nobody). Regions are told apart after a small
    erosion, so a thin bridge of mask between two people (a blurred arm, a stray streak) does
    not make them one; every mask pixel then goes to the nearest region, so a detached hand or
    strand of hair goes with its body."""
    seeds = cv2.connectedComponents(cv2.erode(person, _ERODE), connectivity=8)[1]
    if not seeds.any():  # all thinner than the erosion: take the regions as they are
        seeds = cv2.connectedComponents(person, connectivity=8)[1]
        if not seeds.any():
            return seeds
    nearest = cv2.distanceTransformWithLabels((seeds == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                              labelType=cv2.DIST_LABEL_PIXEL)[1]
    # DIST_LABEL_PIXEL numbers the seed pixels in scan order: look their region up
    region_of = np.concatenate([[0], seeds[seeds > 0]]).astype(np.int32)
    return region_of[nearest] * person


@register_stage
class OnlyMeStage(Stage):
    """Before compositing: everyone but the main person leaves the alpha, so the effect
    treats them as the room (and framing and low light follow the main person alone)."""

    name = "only_me"
    where = "before"
    order = 10
    reads = ("only_me",)

    def __init__(self, settings):
        super().__init__(settings)
        self.only_me = OnlyMe()

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.only_me

    def before(self, frame: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return frame, self.only_me(alpha)

    def reset(self) -> None:
        self.only_me.reset()
