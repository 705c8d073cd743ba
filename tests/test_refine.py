import numpy as np

from segcam.refine import MaskRefiner
from segcam.settings import Settings


def noisy_masks(n=30, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((36, 64), np.float32)
    base[:, :32] = 1.0
    return [np.clip(base + rng.normal(0, 0.08, base.shape).astype(np.float32), 0, 1) for _ in range(n)]


def flicker(masks):
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])]))


def test_smoothing_reduces_flicker_on_a_still_scene():
    refiner = MaskRefiner(Settings(smoothing=0.8, edge_softness=0.0))
    masks = noisy_masks()
    smoothed = [refiner.smooth(m) for m in masks]
    assert flicker(smoothed) < 0.5 * flicker(masks)


def test_smoothing_follows_real_motion_at_once():
    refiner = MaskRefiner(Settings(smoothing=1.0, edge_softness=0.0))
    still = np.zeros((10, 10), np.float32)
    moved = still.copy()
    moved[:, :5] = 1.0
    refiner.smooth(still)
    assert refiner.smooth(moved)[0, 0] == 1.0


def test_no_smoothing_passes_masks_through():
    refiner = MaskRefiner(Settings(smoothing=0.0, edge_softness=0.0))
    for mask in noisy_masks(3):
        assert np.array_equal(refiner.smooth(mask), mask)


def test_default_output_is_soft_at_the_edge():
    refiner = MaskRefiner(Settings())
    mask = np.zeros((36, 64), np.float32)
    mask[:, :32] = 1.0
    alpha = refiner.refine(mask, (360, 640, 3))
    assert alpha.shape == (360, 640) and alpha.dtype == np.float32
    row = alpha[100]
    assert np.any((row > 0.05) & (row < 0.95))  # a soft ramp, not a hard cut
    assert row[0] > 0.99 and row[-1] < 0.01


def test_threshold_makes_mask_nearly_binary():
    refiner = MaskRefiner(Settings(threshold=0.5, edge_softness=0.0, smoothing=0.0))
    mask = np.linspace(0, 1, 100, dtype=np.float32).reshape(1, 100).repeat(4, 0)
    out = refiner.refine_lowres(mask)
    assert np.all(out[:, :40] == 0) and np.all(out[:, 60:] == 1)


def test_reset_forgets_history():
    refiner = MaskRefiner(Settings(smoothing=1.0, edge_softness=0.0))
    refiner.smooth(np.zeros((4, 4), np.float32))
    refiner.reset()
    ones = np.full((4, 4), 0.1, np.float32)
    assert np.array_equal(refiner.smooth(ones), ones)
