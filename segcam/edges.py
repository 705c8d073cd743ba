"""Edge refinement: lifts the network's low-resolution alpha to the frame along the frame's own
edges (issue 16, item 10).

A network such as MediaPipe's sees the frame at 256x144; lifted to 1280x720 by plain bilinear
interpolation (and feathered), its soft edge reaches several pixels out into the room, and the
room's colour comes along with it: a dark or bright ring around the person over any new
background. Here the network's ramp is first made STEEPEN times steeper around 0.5; then a
guided filter (He, Sun and Tang) with the frame's colours as guide fits the alpha, within each
small window, as a linear function of the colour, so it follows the edges the frame shows.
The filter runs at FILTER_SIDE pixels on the long side; its coefficients are lifted to
APPLY_SIDE and applied to the frame's colours there (He and Sun's "fast guided filter"), and
only the result is lifted bilinearly to the frame; both run only in the box around the
outline, as the alpha is the same all over the rest. Last, both tails of the alpha are
pulled in: under TAIL becomes 0 (the room just outside the person), over 1 - TAIL becomes 1.

Tuned with segcam.edge_eval on cut-outs over new backgrounds (`python -m tools.edge_quality`),
where colour decontamination of the edge was tried too and not kept: taking the room's colour,
estimated from the room nearby, out of each partial-alpha pixel (as a matting network's
foreground does) made the median colour error in the edge band worse (10.9 -> 11.2 grey
levels on 40 cut-outs) and the mean better by under 1%, for about as much time again as the
filter. A matting network (RVM) keeps its own foreground colours.

RADIUS and TAIL were swept on all 200 cut-outs with mediapipe-landscape (band colour error,
median; plain lift 15.5) against people/split_val60's mean IoU (0.8740 with the plain lift).
The window's size is what matters: radius 3 gives 11.2 and 0.8741, 5 (kept) 10.8 and 0.8735,
8 10.7 and 0.8716, 10 10.0-10.3 and 0.8703-0.8707, 12 9.7 and 0.8684: the third less colour
error that was aimed at (10.4) comes only with windows of 21 px and more, which cost
split_val60 0.003-0.006 of IoU (general: 0.006 at radius 10), as a large window lets the
colours of a wider neighbourhood move the outline, and which punch holes in a close face
(radius 10, EPSILON 1e-5: the Hamilton singer's forehead at frame 10, where the face is
brighter than the dark hair and stage within one window). Finding the coefficients at 320-640 px
instead of 256 with the same reach in frame pixels was no better (radius 3 at 320: 11.4; 6 at
640: 11.5); EPSILON 1e-5 to 1e-3 moved it by 0.1; STEEPEN 2-5 by 0.3; filtering the hard 0.5
mask instead of the steepened one, and keeping the filter's change within a few pixels of the
network's ramp, were no better at the same IoU.
"""

from __future__ import annotations

import cv2
import numpy as np

FILTER_SIDE = 256  # px on the long side where the guided filter's coefficients are found
APPLY_SIDE = 640  # px on the long side where they are applied to the frame's colours
RADIUS = 5  # the filter's window radius, in filter pixels (see the module's docstring)
EPSILON = 1e-4  # its regularisation (colours in 0..1): smaller follows weaker edges
STEEPEN = 3.0  # the network's ramp made this many times steeper around 0.5 first
TAIL = 0.35  # at the end alpha under TAIL becomes 0, over 1 - TAIL 1, the rest is stretched to 0..1
_SUM3 = np.ones((1, 3), np.float32)  # cv2.transform with it sums the three channels


def side_size(width: int, height: int, side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most `side`."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _box(image: np.ndarray) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * RADIUS + 1, 2 * RADIUS + 1), borderType=cv2.BORDER_REFLECT)


def _dot(a: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Per pixel, the sum over the three channels of a * colours."""
    return cv2.transform(cv2.multiply(a, colours), _SUM3)


def guided_filter(guide: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colour guided filter's coefficients (a, b), smoothed: alpha ~ sum(a * guide) + b.

    `guide` float32 (h, w, 3) in 0..255 (EPSILON, for colours in 0..1, is scaled to it),
    `alpha` float32 (h, w). A colour guide, because a grey one cannot tell a dark suit from a
    dark room of another hue: on 40 of the cut-outs a grey guide took 4% off the edge's colour
    error where the colour guide takes 27%. Per pixel the 3x3 covariance of the guide in the
    window is inverted in closed form (its adjugate), vectorised.
    """
    epsilon = EPSILON * 255.0 * 255.0
    # every plane apart and contiguous: numpy's arithmetic on strided channel views is slower
    r, g, b = cv2.split(guide)
    mean_r, mean_g, mean_b, mean_p = _box(r), _box(g), _box(b), _box(alpha)
    rr, rg, rb, gg, gb, bb = _box(r * r), _box(r * g), _box(r * b), _box(g * g), _box(g * b), _box(b * b)
    c0, c1, c2 = _box(r * alpha), _box(g * alpha), _box(b * alpha)
    rr = rr - mean_r * mean_r + epsilon
    gg = gg - mean_g * mean_g + epsilon
    bb = bb - mean_b * mean_b + epsilon
    rg, rb, gb = rg - mean_r * mean_g, rb - mean_r * mean_b, gb - mean_g * mean_b
    # the adjugate of the symmetric [[rr rg rb] [rg gg gb] [rb gb bb]]
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    inverse_det = 1.0 / (rr * i_rr + rg * i_rg + rb * i_rb)
    c0 = (c0 - mean_r * mean_p) * inverse_det
    c1 = (c1 - mean_g * mean_p) * inverse_det
    c2 = (c2 - mean_b * mean_p) * inverse_det
    a_r = c0 * i_rr + c1 * i_rg + c2 * i_rb
    a_g = c0 * i_rg + c1 * i_gg + c2 * i_gb
    a_b = c0 * i_rb + c1 * i_gb + c2 * i_bb
    offset = mean_p - a_r * mean_r - a_g * mean_g - a_b * mean_b
    return cv2.merge([_box(a_r), _box(a_g), _box(a_b)]), _box(offset)


def outline_box(alpha: np.ndarray, step: int = 1) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the box around the pixels where `alpha` varies, widened by the guided
    filter's reach and out to multiples of `step`; (0, 0, 0, 0) when it varies nowhere.

    Where alpha is the same all around a pixel, as far as the filter reaches (2 * RADIUS), the
    filter gives a = 0 and b = alpha there, so only this box needs filtering: on the Hamilton
    singer at 720p (a box half the frame wide) the lift took 4.7 ms instead of 7.4.
    """
    height, width = alpha.shape
    varying = cv2.morphologyEx(alpha, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    x, y, box_width, box_height = cv2.boundingRect(varying.astype(np.uint8))
    if box_width == 0:
        return 0, 0, 0, 0
    reach = 2 * RADIUS + 2
    x0, y0 = max(x - reach, 0) // step * step, max(y - reach, 0) // step * step
    x1 = min(-(-(x + box_width + reach) // step) * step, width)
    y1 = min(-(-(y + box_height + reach) // step) * step, height)
    return x0, y0, x1, y1


def _exact_step(small: tuple[int, int], large: tuple[int, int]) -> int | None:
    """The least step (up to 8 px) whose multiples in `small` land on whole pixels of `large`."""
    for step in range(1, 9):
        if all((step * big) % little == 0 for little, big in zip(small, large)):
            return step
    return None


def lift(alpha: np.ndarray, frame: np.ndarray, crop: bool = True) -> np.ndarray:
    """The alpha (float32, any size: the network's) at the size of `frame` (BGR uint8), along
    the frame's edges, with its tails pulled in.

    `crop` False filters the whole picture; the default filters only the box around the
    outline (`outline_box`), which gives the same alpha."""
    height, width = frame.shape[:2]
    apply_size = side_size(width, height, APPLY_SIDE)
    filter_size = side_size(width, height, FILTER_SIDE)
    applied = frame if apply_size == (width, height) else cv2.resize(frame, apply_size, interpolation=cv2.INTER_AREA)
    # bilinear, not area: a non-integer area reduction cost more than the filter's lift (and
    # 0.1 grey level of colour error on the cut-outs)
    guide = applied if filter_size == apply_size else cv2.resize(applied, filter_size, interpolation=cv2.INTER_LINEAR)
    start = np.clip((cv2.resize(alpha, filter_size, interpolation=cv2.INTER_LINEAR) - 0.5) * STEEPEN + 0.5, 0.0, 1.0)
    # the tails pulled in, (alpha - TAIL) / (1 - 2 TAIL): 0.5 stays where it is, so IoU at 0.5
    # does not change (pulling in only the outer tail moved it to 0.6 and lost 0.004-0.008 of
    # IoU on people/split_val60); outside the box that is all there is
    pull = 1.0 / (1.0 - 2.0 * TAIL)
    lifted = np.clip((cv2.resize(start, apply_size, interpolation=cv2.INTER_LINEAR) - TAIL) * pull, 0.0, 1.0)
    # the box's corners on whole pixels at both sizes, so that lifting the box's coefficients
    # alone lands them where lifting all of them would
    step = _exact_step(filter_size, apply_size) if crop else None
    x0, y0, x1, y1 = outline_box(start, step) if step else (0, 0, *filter_size)
    if x1 > x0:
        a, b = guided_filter(guide[y0:y1, x0:x1].astype(np.float32), np.ascontiguousarray(start[y0:y1, x0:x1]))
        a *= pull  # folded into the coefficients
        b = (b - TAIL) * pull
        scale_x, scale_y = apply_size[0] / filter_size[0], apply_size[1] / filter_size[1]
        box = slice(round(y0 * scale_y), round(y1 * scale_y)), slice(round(x0 * scale_x), round(x1 * scale_x))
        size = box[1].stop - box[1].start, box[0].stop - box[0].start
        if size != (x1 - x0, y1 - y0):
            a = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
            b = cv2.resize(b, size, interpolation=cv2.INTER_LINEAR)
        refined = cv2.add(_dot(a, applied[box].astype(np.float32)), b)
        lifted[box] = cv2.threshold(cv2.threshold(refined, 1.0, 1.0, cv2.THRESH_TRUNC)[1], 0.0, 0.0,
                                    cv2.THRESH_TOZERO)[1]
    if apply_size != (width, height):
        lifted = cv2.resize(lifted, (width, height), interpolation=cv2.INTER_LINEAR)
    return lifted
