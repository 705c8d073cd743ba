import numpy as np

from segcam.refine import MaskRefiner
from segcam.settings import Settings


def noisy_masks(n=30, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((36, 64), np.float32)
    base[:, :32] = 1.0
    return [np.clip(base + rng.normal(0, 0.08, base.shape).astype(np.float32), 0, 1) for _ in range(n)]


def still_image(shape=(36, 64)):
    return np.full(shape, 128, np.uint8)


def flicker(masks):
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(masks, masks[1:])]))


def test_smoothing_reduces_flicker_on_a_still_scene():
    refiner = MaskRefiner(Settings(smoothing=0.8, edge_softness=0.0).mask)
    masks = noisy_masks()
    smoothed = [refiner.smooth(m, still_image()) for m in masks]
    assert flicker(smoothed) < 0.5 * flicker(masks)


def test_smoothing_follows_a_sudden_change_at_once():
    refiner = MaskRefiner(Settings(smoothing=1.0, edge_softness=0.0).mask)
    still = np.zeros((10, 10), np.float32)
    moved = still.copy()
    moved[:, :5] = 1.0
    refiner.smooth(still, still_image(still.shape))
    assert refiner.smooth(moved, still_image(still.shape))[0, 0] == 1.0


def sliding_scene(steps=12, speed=1):
    """A textured image and a soft-edged mask that both slide right by `speed` pixels a frame."""
    rng = np.random.default_rng(1)
    texture = cv2_blur(rng.integers(0, 256, (48, 160)).astype(np.uint8))
    ramp = np.clip((np.arange(160, dtype=np.float32) - 60) / 8.0, 0, 1)  # an 8-px soft edge
    for t in range(steps):
        image = np.ascontiguousarray(texture[:, 32 - t * speed:128 - t * speed])
        mask = np.tile(ramp[32 - t * speed:128 - t * speed], (48, 1))
        yield image, np.ascontiguousarray(mask)


def cv2_blur(image):
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 1.5)


def test_smoothing_moves_with_the_image_instead_of_trailing():
    # a slow, steady slide: too small a change per frame to open the motion gate, so without
    # following the optical flow the smoothed mask would trail the edge by several pixels
    refiner = MaskRefiner(Settings(smoothing=0.5, edge_softness=0.0).mask)
    for image, mask in sliding_scene():
        smoothed = refiner.smooth(mask, image)
    inner = (slice(8, -8), slice(8, -8))  # away from the borders the flow cannot see past
    assert np.abs(smoothed - mask)[inner].mean() < 0.01

    textureless = MaskRefiner(Settings(smoothing=0.5, edge_softness=0.0).mask)
    for image, mask in sliding_scene():
        trailing = textureless.smooth(mask, still_image(mask.shape))
    assert np.abs(trailing - mask)[inner].mean() > 0.03  # the same masks, no image motion: it lags


def test_no_smoothing_passes_masks_through():
    refiner = MaskRefiner(Settings(smoothing=0.0, edge_softness=0.0).mask)
    for mask in noisy_masks(3):
        assert np.array_equal(refiner.smooth(mask, still_image()), mask)


def test_image_must_match_the_mask():
    refiner = MaskRefiner(Settings().mask)
    try:
        refiner.smooth(np.zeros((36, 64), np.float32), still_image((36, 60)))
    except ValueError as error:
        assert "differ in size" in str(error)
    else:
        raise AssertionError("a mismatched image was accepted")


def test_default_output_is_soft_at_the_edge():
    refiner = MaskRefiner(Settings().mask)
    mask = np.zeros((36, 64), np.float32)
    mask[:, :32] = 1.0
    alpha = refiner.refine(mask, np.zeros((36, 64, 3), np.uint8), (360, 640, 3))
    assert alpha.shape == (360, 640) and alpha.dtype == np.float32
    row = alpha[100]
    assert np.any((row > 0.05) & (row < 0.95))  # a soft ramp, not a hard cut
    assert row[0] > 0.99 and row[-1] < 0.01


def test_threshold_makes_mask_nearly_binary():
    refiner = MaskRefiner(Settings(threshold=0.5, edge_softness=0.0, smoothing=0.0).mask)
    mask = np.linspace(0, 1, 100, dtype=np.float32).reshape(1, 100).repeat(4, 0)
    out = refiner.refine_lowres(mask, still_image(mask.shape))
    assert np.all(out[:, :40] == 0) and np.all(out[:, 60:] == 1)


def test_reset_forgets_history():
    refiner = MaskRefiner(Settings(smoothing=1.0, edge_softness=0.0).mask)
    refiner.smooth(np.zeros((4, 4), np.float32), still_image((4, 4)))
    refiner.reset()
    ones = np.full((4, 4), 0.1, np.float32)
    assert np.array_equal(refiner.smooth(ones, still_image((4, 4))), ones)


def test_faint_background_becomes_zero_not_denormal():
    # denormal floats made every later operation on the alpha several times slower
    refiner = MaskRefiner(Settings(smoothing=0.5, edge_softness=0.0).mask)
    faint = np.full((36, 64), 1e-37, np.float32)  # the smallest normal float32 is 1.2e-38
    faint[:, :32] = 1.0
    refiner.smooth(faint, still_image())
    gone = np.where(faint == 1.0, 1.0, 0.0).astype(np.float32)
    for _ in range(30):
        out = refiner.smooth(gone, still_image())  # the faint part fades by the still weight a frame
    tiny = np.finfo(np.float32).tiny
    assert not np.any((out != 0) & (np.abs(out) < tiny))
    assert out[0, 0] > 0.4  # the person stays
