import cv2
import numpy as np
import pytest

from segcam.imageops import shrink


@pytest.mark.parametrize("source", [(1920, 1080), (1280, 720), (1279, 719), (640, 480), (256, 144)])
def test_shrink_gives_the_size_and_keeps_the_mean(source):
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 255, (9, 16, 3), dtype=np.uint8), source, interpolation=cv2.INTER_CUBIC)
    small = shrink(image, (256, 144))
    assert small.shape == (144, 256, 3)
    assert abs(small.mean() - image.mean()) < 1.0


def test_shrink_averages_fine_stripes_to_grey():
    """No aliasing: one-pixel stripes must average out, not turn into a coarse pattern."""
    image = np.zeros((1080, 1920), np.uint8)
    image[:, ::2] = 255
    small = shrink(image, (256, 144))
    assert np.abs(small.astype(int) - 127).max() <= 18


def test_small_mask_samples_a_smooth_mask_down_and_leaves_a_small_one():
    from segcam.imageops import small_mask

    network = np.zeros((144, 256), np.float32)
    cv2.circle(network, (128, 72), 40, 1.0, -1)
    lifted = cv2.resize(network, (1280, 720), interpolation=cv2.INTER_LINEAR)  # as the refiner lifts it
    small = small_mask(lifted)
    assert small.shape == (144, 256)
    assert np.abs(small - network).max() < 0.02  # the network's own mask, back
    assert small_mask(network) is network
