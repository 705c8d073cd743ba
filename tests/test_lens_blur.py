"""Lens blur: points of light become round flat discs, the person leaves no glow, any frame size works."""

import cv2
import numpy as np
import pytest

from segcam.effects.blur import blur_background, disc, lens_blur, lens_radius
from segcam.effects.compositor import Compositor
from segcam.settings import Settings

H, W = 720, 1280


def lamp_scene(centre=(400, 250)) -> tuple[np.ndarray, np.ndarray]:
    """A dark room with one small lamp, and a person standing elsewhere."""
    frame = np.full((H, W, 3), 20, np.uint8)
    cv2.circle(frame, centre, 6, (255, 255, 255), -1)
    alpha = np.zeros((H, W), np.float32)
    cv2.ellipse(alpha, (W * 3 // 4, H), (180, 380), 0, 0, 360, 1.0, -1)
    return frame, alpha


def profile(image: np.ndarray, centre, radius: float) -> np.ndarray:
    """Grey values at `radius` from `centre` in 16 directions."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    xs, ys = centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)
    return np.array([cv2.getRectSubPix(grey, (1, 1), (float(x), float(y)))[0, 0] for x, y in zip(xs, ys)])


def test_a_point_of_light_becomes_a_round_flat_disc():
    centre = (400, 250)
    frame, alpha = lamp_scene(centre)
    radius = lens_radius(H, 0.5)
    out = lens_blur(frame, alpha, 0.5)
    peak = profile(out, centre, 0)[0] - 20
    assert peak > 20  # a visible disc, not a faint haze
    assert (profile(out, centre, 0.5 * radius) - 20).min() > 0.85 * peak  # flat-topped
    assert (profile(out, centre, 1.3 * radius) - 20).max() < 0.1 * peak  # and ends at its rim
    # round: where it falls to half height is the same distance in every direction
    rims = []
    for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
        steps = np.arange(0, 1.5 * radius, 0.5)
        points = [(centre[0] + s * np.cos(angle), centre[1] + s * np.sin(angle)) for s in steps]
        values = [profile(out, point, 0)[0] - 20 for point in points]
        rims.append(steps[np.argmax(np.array(values) < peak / 2)])
    assert max(rims) / min(rims) < 1.15
    assert 0.8 * radius < np.mean(rims) < 1.2 * radius
    # whereas the Gaussian blur of the same strength smears it: no flat top
    smear = blur_background(frame, alpha, 0.5)
    smear_peak = profile(smear, centre, 0)[0] - 20
    assert (profile(smear, centre, 0.5 * radius) - 20).max() < 0.7 * smear_peak


def test_the_person_leaves_no_glow_on_the_background():
    frame = np.full((H, W, 3), 200, np.uint8)
    frame[:, : W // 2] = (30, 80, 220)  # a reddish person on the left half
    alpha = np.zeros((H, W), np.float32)
    alpha[:, : W // 2] = 1.0
    out = lens_blur(frame, alpha, 1.0)
    near_edge = out[:, W // 2 + 4: W // 2 + 60].astype(int)
    assert np.abs(near_edge - 200).max() <= 3
    # a plain disc blur of the whole frame would carry the person's colour well past the edge
    naive = cv2.filter2D(frame, -1, disc(lens_radius(H, 1.0)))[:, W // 2 + 4: W // 2 + 60].astype(int)
    assert np.abs(naive - 200).max() > 20


def test_flat_light_stays_as_it_is():
    frame = np.full((H, W, 3), (60, 128, 190), np.uint8)
    out = lens_blur(frame, np.zeros((H, W), np.float32), 0.5)
    assert np.abs(out.astype(int) - frame).max() <= 1


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (177, 145), (7, 5)])
@pytest.mark.parametrize("strength", [0.0, 1.0])
def test_any_frame_size_and_strength_keep_the_contract(size, strength):
    width, height = size
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    alpha = rng.random((height, width), dtype=np.float32)
    alpha[: height // 2] = 1.0  # a person over the top half
    out = lens_blur(frame, alpha, strength)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # composited, the person's pixels are the frame's own
    settings = Settings(effect="blur", blur_style="lens", blur_strength=strength).effect
    composed = Compositor(settings, stages=False).compose(frame, alpha)
    np.testing.assert_array_equal(composed[: height // 2], frame[: height // 2])
    # and a room of one colour stays that colour wherever it shows, the disc weighed by
    # the mask up to the frame's borders
    flat = np.full_like(frame, (60, 128, 190))
    assert np.abs(lens_blur(flat, alpha, strength).astype(int) - flat)[height // 2:].max() <= 1


def test_the_disc_kernel_is_normalised_and_round():
    kernel = disc(7.5)
    assert kernel.shape == (15, 15) and abs(kernel.sum() - 1) < 1e-5
    assert np.allclose(kernel, kernel.T) and np.allclose(kernel, kernel[::-1])
    assert kernel[7, 7] == kernel.max() and kernel[0, 0] == 0
