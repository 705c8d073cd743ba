"""Low-light correction: a dim person is brightened, a lit one left alone, a change of light followed gently."""

import cv2
import numpy as np

from segcam.effects.low_light import LowLight

H, W = 360, 640


def room(person_level: float, room_level: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured frame: a person (head and shoulders) at `person_level` and the room at
    `room_level` mean brightness (0..1), and the person's alpha."""
    rng = np.random.default_rng(seed)
    alpha = np.zeros((H, W), np.float32)
    cv2.ellipse(alpha, (W // 2, 150), (50, 65), 0, 0, 360, 1.0, -1)
    cv2.ellipse(alpha, (W // 2, H), (150, 140), 0, 0, 360, 1.0, -1)
    texture = rng.uniform(0.6, 1.4, (H, W, 1)) * np.array([0.8, 1.0, 1.2])  # colour and detail
    level = np.where(alpha[..., None] > 0.5, person_level, room_level)
    frame = np.clip(255 * level * texture, 0, 255).astype(np.uint8)
    return frame, alpha


def person_mean(frame: np.ndarray, alpha: np.ndarray) -> float:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(grey[alpha > 0.5].mean())


def test_a_dim_person_is_brightened_toward_the_target_and_nothing_clips():
    frame, alpha = room(0.12, 0.06)
    out = LowLight(target=0.42)(frame, alpha)
    assert person_mean(frame, alpha) < 40
    assert person_mean(out, alpha) > 0.8 * 0.42 * 255
    for channel in range(3):  # brighter stays brighter
        values_in, values_out = frame[..., channel].ravel(), out[..., channel].ravel().astype(int)
        order = np.argsort(values_in, kind="stable")
        assert np.all(np.diff(values_out[order]) >= 0)
    assert (out == 255).mean() <= (frame == 255).mean() + 1e-4  # no new clipping


def test_a_well_lit_person_is_left_as_is_even_in_a_dark_room():
    frame, alpha = room(0.5, 0.08)
    low_light = LowLight()
    for _ in range(10):
        out = low_light(frame, alpha)
    assert out is frame and low_light.gamma == 1.0


def test_the_person_decides_not_the_room():
    # a dim face before a bright window: brightened, although the frame on average is bright
    frame, alpha = room(0.15, 0.8)
    out = LowLight()(frame, alpha)
    assert person_mean(out, alpha) > 1.5 * person_mean(frame, alpha)


def test_a_sudden_change_of_light_is_followed_without_jumps():
    low_light = LowLight()
    lit, alpha = room(0.45, 0.3)
    dim, _ = room(0.1, 0.06)
    frames = [lit] * 20 + [dim] * 80 + [lit] * 60
    means, gammas = [], []
    for frame in frames:
        means.append(person_mean(low_light(frame, alpha), alpha))
        gammas.append(low_light.gamma)
    assert np.abs(np.diff(gammas)).max() <= low_light.max_step + 1e-9
    for start, end in ((21, 100), (101, 160)):  # each frame after the light changed
        steps = np.abs(np.diff(means[start - 1:end]))
        assert steps.max() < 6.0  # grey levels a frame: the correction itself never jumps
    assert abs(means[99] - 0.42 * 255) < 0.1 * 255  # and it got there
    assert abs(means[-1] - person_mean(lit, alpha)) < 1.0  # and back to none
    assert low_light.gamma == 1.0


def test_reset_takes_the_new_light_at_once():
    low_light = LowLight()
    lit, alpha = room(0.45, 0.3)
    dim, _ = room(0.1, 0.06)
    for _ in range(10):
        low_light(lit, alpha)
    low_light.reset()
    out = low_light(dim, alpha)
    assert person_mean(out, alpha) > 0.8 * 0.42 * 255


def test_without_a_person_the_whole_frame_is_judged():
    frame, _ = room(0.1, 0.1)
    out = LowLight()(frame, np.zeros((H, W), np.float32))
    assert cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).mean() > 0.8 * 0.42 * 255
    assert LowLight()(frame).mean() > 0.8 * 0.42 * 255


def test_a_mask_that_flickers_does_not_make_the_picture_pump():
    frame, alpha = room(0.25, 0.06)
    leaky = alpha.copy()
    leaky[:, : W // 5] = 1.0  # every other pair of frames the mask spills over a dark corner
    low_light = LowLight()
    outputs = [low_light(frame, leaky if (i // 2) % 2 else alpha) for i in range(80)]
    steady_room = (alpha < 0.5)
    steady_room[:, : W // 5] = False
    levels = [cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)[steady_room].mean() for out in outputs[40:]]
    assert max(levels) - min(levels) < 5.0  # grey levels; following each frame's measure swings ~25
