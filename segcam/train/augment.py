"""Augmentation with torchvision.transforms.v2: the image and its mask move together.

Geometry (crop, scale, flip) applies to both the image and the `tv_tensors.Mask` target;
colour, light, blur and noise touch only the image. The output is float32 RGB in [0, 1]
at the network's input size; normalisation happens in the training loop.
"""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

_TO_FLOAT = v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)


def training_transform(size: tuple[int, int]) -> v2.Compose:
    """Random webcam-like views of a sample, at `size` (height, width)."""
    return v2.Compose([
        # framing: a crop of 30-100 % of the picture of any shape from portrait to wide,
        # squeezed to the input size, as `segcam run` squeezes any frame shape into it
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.6, 2.4), antialias=True),
        v2.RandomHorizontalFlip(),
        # colour and light: webcams differ in white balance, exposure and contrast
        v2.RandomApply([v2.ColorJitter(brightness=0.45, contrast=0.4, saturation=0.4, hue=0.04)], p=0.8),
        v2.RandomGrayscale(p=0.05),
        _TO_FLOAT,
        # focus and sensor noise
        v2.RandomApply([v2.GaussianBlur(5, sigma=(0.3, 1.6))], p=0.25),
        v2.RandomApply([v2.GaussianNoise(sigma=0.03, clip=True)], p=0.3),
    ])


def validation_transform(size: tuple[int, int]) -> v2.Compose:
    """The whole picture squeezed to `size`, as inference sees it."""
    return v2.Compose([v2.Resize(size, antialias=True), _TO_FLOAT])
