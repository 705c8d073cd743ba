"""Auto-framing: follows a moving person, keeps still for a still one, never changes the output size."""

from itertools import pairwise

import cv2
import numpy as np

from segcam.effects.framing import AutoFramer, Crop, apply

H, W = 360, 640


def person(cx: float, cy: float = H * 0.35, scale: float = 1.0, rng=None) -> np.ndarray:
    """Head and shoulders with the head's centre at (cx, cy), as float32 alpha; `rng` makes the
    outline wobble by a pixel or two, as a network's mask does from frame to frame."""
    wobble = (lambda: rng.uniform(-2, 2)) if rng is not None else (lambda: 0.0)
    mask = np.zeros((H, W), np.uint8)
    head_axes = (int(36 * scale + wobble()), int(46 * scale + wobble()))
    cv2.ellipse(mask, (int(cx + wobble()), int(cy + wobble())), head_axes, 0, 0, 360, 255, -1)
    cv2.ellipse(mask, (int(cx + wobble()), int(cy + 180 * scale)), (int(100 * scale + wobble()), int(135 * scale)),
                0, 0, 360, 255, -1)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.5)


def centre_shift(crops: list[Crop]) -> list[float]:
    return [float(np.hypot(b.cx - a.cx, b.cy - a.cy) + abs(b.height - a.height)) for a, b in pairwise(crops)]


def test_a_person_moving_across_is_followed_smoothly_and_comes_to_rest():
    framer = AutoFramer()
    xs = np.concatenate([np.full(90, W * 0.3), np.linspace(W * 0.3, W * 0.7, 90), np.full(90, W * 0.7)])
    crops = [framer.update(person(x, scale=0.6)) for x in xs]
    assert abs(crops[89].cx - W * 0.3) < 0.06 * W + 2  # found them
    crops = crops[89:]
    final = crops[-1]
    assert final.height < 0.8 * H  # zoomed in on head and shoulders
    assert abs(final.cx - W * 0.7) < 0.06 * W + 2  # the head within the dead zone of the centre
    moves = [b.cx - a.cx for a, b in pairwise(crops)]
    assert min(moves) > -0.75  # never back the other way (but for the last snap onto whole pixels, < 0.75)
    assert max(moves) < 0.02 * W  # no jumps
    assert all(m == 0 for m in centre_shift(crops[-20:]))  # at rest


def test_a_still_person_with_a_noisy_mask_gives_a_still_crop():
    rng = np.random.default_rng(0)
    framer = AutoFramer()
    crops = [framer.update(person(W * 0.42, rng=rng)) for _ in range(200)]
    # below half a pixel a frame once near (and one snap onto whole pixels at rest, half a pixel each way)
    assert sorted(centre_shift(crops[60:]))[-2] < 0.5 and max(centre_shift(crops[60:])) < 0.75
    assert max(centre_shift(crops[100:])) == 0  # and then at rest: the dead zone swallows the mask's noise
    assert abs(crops[-1].cx - W * 0.42) < 0.06 * W + 2


def test_swaying_inside_the_dead_zone_does_not_move_the_crop():
    framer = AutoFramer()
    for _ in range(150):
        framer.update(person(W * 0.5))
    crops = [framer.update(person(W * 0.5 + 0.03 * W * np.sin(i / 5))) for i in range(90)]
    assert max(centre_shift(crops)) == 0


def test_the_zoom_stops_at_max_zoom_for_a_small_person_far_away():
    framer = AutoFramer(max_zoom=1.5)
    for _ in range(120):
        crop = framer.update(person(W * 0.5, cy=H * 0.45, scale=0.3))
    assert abs(crop.height - H / 1.5) < 1.0


def test_the_output_keeps_its_size_and_the_crop_stays_inside_the_frame():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    framer = AutoFramer()
    xs = list(np.linspace(W * 0.05, W * 0.95, 60)) + [None] * 10 + list(np.linspace(W * 0.95, W * 0.1, 30))
    for x in xs:
        alpha = person(x, scale=0.5) if x is not None else np.zeros((H, W), np.float32)
        out = framer(frame, alpha)
        crop = framer.crop
        assert out.shape == frame.shape and out.dtype == frame.dtype
        half_w = crop.width(W, H) / 2
        half_h = crop.height / 2
        assert half_w - 1e-6 <= crop.cx <= W - half_w + 1e-6 and half_h - 1e-6 <= crop.cy <= H - half_h + 1e-6


def test_with_nobody_in_view_it_returns_to_the_whole_frame():
    framer = AutoFramer(lost_frames=10)
    for _ in range(90):
        framer.update(person(W * 0.25, scale=0.6))
    assert framer.crop.height < H - 1
    empty = np.zeros((H, W), np.float32)
    for _ in range(10):
        crop = framer.update(empty)
    assert crop.height < H - 1  # a moment without a mask changes nothing
    for _ in range(120):
        crop = framer.update(empty)
    assert crop.height > H - 1 and abs(crop.cx - W / 2) < 1


def test_apply_cuts_exactly_the_crop_and_glides_between_pixels():
    rng = np.random.default_rng(2)
    image = cv2.resize(rng.integers(0, 255, (36, 64, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    assert apply(image, Crop(W / 2, H / 2, H)) is image
    on_pixels = apply(image, Crop(200 + W / 4, 100 + H / 4, H / 2))
    expected = cv2.resize(image[100:100 + H // 2, 200:200 + W // 2], (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(on_pixels, expected)
    # half a pixel further right: halfway between this cut and the next one
    between = apply(image, Crop(200.5 + W / 4, 100 + H / 4, H / 2)).astype(int)
    next_one = cv2.resize(image[100:100 + H // 2, 201:201 + W // 2], (W, H), interpolation=cv2.INTER_LINEAR)
    assert np.abs(between - (expected.astype(int) + next_one) / 2)[2:-2, 2:-2].max() <= 2
    assert not np.array_equal(between, expected)


def test_a_crop_at_rest_lies_on_whole_pixels():
    framer = AutoFramer()
    for _ in range(200):
        crop = framer.update(person(W * 0.37, scale=0.6))
    left, top = crop.cx - crop.width(W, H) / 2, crop.cy - crop.height / 2
    assert crop.height == round(crop.height) and abs(left - round(left)) < 1e-6 and abs(top - round(top)) < 1e-6


def test_after_a_reset_the_first_person_seen_is_framed_at_once():
    framer = AutoFramer()
    empty = np.zeros((H, W), np.float32)
    assert framer.update(empty) == Crop(W / 2, H / 2, H)  # nobody yet: the whole frame
    first = framer.update(person(W * 0.3, scale=0.6))
    for _ in range(150):
        settled = framer.update(person(W * 0.3, scale=0.6))
    assert abs(first.cx - settled.cx) < 0.06 * W and abs(first.height - settled.height) < 0.06 * H
    framer.reset()  # a scene cut: they are elsewhere now
    cut = framer.update(person(W * 0.7, scale=0.6))
    assert abs(cut.cx - W * 0.7) < 0.06 * W + 2


def test_a_raised_arm_neither_zooms_out_nor_pulls_the_crop():
    framer = AutoFramer()
    still = person(W * 0.45, scale=0.6)
    for _ in range(150):
        rest = framer.update(still)
    waving = still.copy()
    cv2.rectangle(waving, (int(W * 0.45) + 50, 20), (int(W * 0.45) + 64, int(H * 0.6)), 1.0, -1)  # a forearm up high
    crops = [framer.update(waving) for _ in range(60)]
    assert all(crop == rest for crop in crops)
