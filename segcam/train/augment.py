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



class CalibrationViews:
    """Views of one person in their own room, at `size` (height, width), for calibration.

    The whole scene stays in view (no crops to strangers' framings): the person moves a little
    in position and distance, tilts, is mirrored, and the light and white balance change as
    they do over a day. Done in OpenCV at the input size: a few hundred steps on a CPU cannot
    wait for torchvision's affine and colour jitter on full frames (60-270 ms a sample).
    Random draws come from torch, so torch.manual_seed repeats a run.
    """

    def __init__(self, size: tuple[int, int]):
        self.height, self.width = size

    @staticmethod
    def _uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand(()))

    def __call__(self, sample: dict) -> dict:
        import cv2
        import numpy as np

        size = (self.width, self.height)
        image = cv2.resize(sample["image"].permute(1, 2, 0).numpy(), size, interpolation=cv2.INTER_AREA)
        target = cv2.resize(sample["target"][0].numpy(), size, interpolation=cv2.INTER_AREA)
        # position, distance and tilt about the centre; the border reflects what is there
        matrix = cv2.getRotationMatrix2D((self.width / 2, self.height / 2), self._uniform(-5, 5),
                                         self._uniform(0.85, 1.2))
        matrix[:, 2] += (self._uniform(-0.08, 0.08) * self.width, self._uniform(-0.06, 0.06) * self.height)
        if float(torch.rand(())) < 0.5:  # mirror: x -> width - x
            matrix[0] = -matrix[0]
            matrix[0, 2] += self.width
        warp = {"dsize": size, "flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_REFLECT_101}
        image = cv2.warpAffine(image, matrix, **warp).astype(np.float32) * (1.0 / 255.0)
        target = cv2.warpAffine(target, matrix, **warp)
        if float(torch.rand(())) < 0.8:  # light: exposure, contrast, saturation, white balance
            image *= self._uniform(0.6, 1.4) * np.array([self._uniform(0.92, 1.08) for _ in range(3)], np.float32)
            grey = image @ np.array([0.299, 0.587, 0.114], np.float32)
            image = (image - grey.mean()) * self._uniform(0.65, 1.35) + grey.mean()
            grey = (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            image = grey + (image - grey) * self._uniform(0.65, 1.35)
        if float(torch.rand(())) < 0.3:  # sensor noise
            image += torch.randn(image.shape).numpy() * 0.02
        return {"image": torch.from_numpy(np.clip(image, 0.0, 1.0)).permute(2, 0, 1).contiguous(),
                "target": torch.from_numpy(np.clip(target, 0.0, 1.0))[None], "weight": sample["weight"]}
