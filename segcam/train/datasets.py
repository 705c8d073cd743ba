"""Training data: labelled folders, COCO person masks, synthetic cut-out composites, teacher labels.

Every dataset yields the same sample, a dict that torchvision.transforms.v2 understands:

    image   tv_tensors.Image, uint8 RGB (3, H, W)
    target  tv_tensors.Mask, float32 (1, H, W): person probability in [0, 1]
            (0/1 for hand or service labels, soft for alpha cut-outs and teacher masks)
    weight  float: how much the sample counts in the loss (teacher labels count less)

Small sources are decoded once and kept in memory (a 2-core CPU cannot afford to decode the
same JPEGs every epoch); COCO is read lazily, image by image.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from segcam.io import IMAGE_SUFFIXES, load_pair, pair_by_stem, read_image, read_list, video_frames
from segcam.errors import SettingsError
from segcam.imageops import limit_side

log = logging.getLogger(__name__)

# images are kept at most this size (longest side): training crops are 256 px wide, and
# more pixels only cost decode time and memory
MAX_SIDE = 640


def make_sample(image_bgr: np.ndarray, target: np.ndarray, weight: float = 1.0) -> dict:
    """A sample from a BGR uint8 image and a float target in [0, 1] of the same height and width."""
    rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
    return {
        "image": tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1)),
        "target": tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(target, np.float32))[None]),
        "weight": float(weight),
    }


class InMemory(Dataset):
    """(image, target) pairs held in memory, each with a weight; an optional transform."""

    def __init__(self, images: Sequence[np.ndarray], targets: Sequence[np.ndarray], weight: float = 1.0,
                 description: str = ""):
        if len(images) != len(targets):
            raise ValueError("images and targets differ in number")
        self.images, self.targets, self.weight = list(images), list(targets), weight
        self.description = description
        self.transform = None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        sample = make_sample(self.images[index], self.targets[index], self.weight)
        return self.transform(sample) if self.transform else sample


def folder_dataset(path: str | Path, weight: float = 1.0, max_side: int = MAX_SIDE) -> InMemory:
    """A labelled folder (images/ + masks/ matched by stem), or a list file of stems inside one.

    Pairs that do not match or cannot be read are logged and left out, never used half-read.
    """
    images_dir, masks_dir, names = folder_layout(path)
    pairs, problems = pair_by_stem(images_dir, masks_dir, names)
    images, targets = [], []
    for pair in pairs:
        loaded = load_pair(pair)
        if isinstance(loaded, str):
            problems.append(loaded)
            continue
        image, mask = loaded
        images.append(limit_side(image, max_side))
        target = mask.astype(np.float32)
        if images[-1].shape[:2] != target.shape:
            target = cv2.resize(target, images[-1].shape[1::-1], interpolation=cv2.INTER_AREA)
        targets.append(target)
    for problem in problems:
        log.warning("left out %s", problem)
    if not images:
        raise SettingsError(f"No usable image/mask pairs in {path}.")
    return InMemory(images, targets, weight, f"{path} ({len(images)} labelled)")


def folder_layout(path: str | Path) -> tuple[Path, Path, list[str] | None]:
    """(images dir, masks dir, wanted stems or None) for a folder or a list file in one."""
    path = Path(path)
    if path.is_file():
        return path.parent / "images", path.parent / "masks", read_list(path)
    if (path / "images").is_dir() and (path / "masks").is_dir():
        return path / "images", path / "masks", None
    raise SettingsError(f"{path} is neither a folder with images/ and masks/ nor a list of names in one.")


class CocoPeople(Dataset):
    """Person masks from a local COCO copy: an instances JSON and its image folder.

    The target is the union of all person instances of an image, crowd regions included
    (a crowd is people too). Only images with at least one person are used.
    """

    def __init__(self, annotations: str | Path, images_dir: str | Path, weight: float = 1.0,
                 max_side: int = MAX_SIDE, limit: int | None = None):
        try:
            from pycocotools.coco import COCO
        except ImportError as e:
            raise SettingsError("Reading COCO needs pycocotools: pip install 'segcam[train]'.") from e
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            self.coco = COCO(str(annotations))
        person = self.coco.getCatIds(catNms=["person"])
        if not person:
            raise SettingsError(f"{annotations} has no 'person' category.")
        self.person = person
        ids = sorted(self.coco.getImgIds(catIds=person))
        self.ids = ids[:limit] if limit else ids
        self.images_dir, self.weight, self.max_side = Path(images_dir), weight, max_side
        self.description = f"COCO {annotations} ({len(self.ids)} images with people)"
        self.transform = None

    def __len__(self) -> int:
        return len(self.ids)

    def person_mask(self, image_id: int) -> np.ndarray:
        info = self.coco.loadImgs(image_id)[0]
        mask = np.zeros((info["height"], info["width"]), np.uint8)
        for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id, catIds=self.person, iscrowd=None)):
            np.maximum(mask, self.coco.annToMask(ann), out=mask)
        return mask

    def __getitem__(self, index: int) -> dict:
        image_id = self.ids[index]
        info = self.coco.loadImgs(image_id)[0]
        path = self.images_dir / info["file_name"]
        image = read_image(path)
        if image is None:
            raise SettingsError(f"Cannot read COCO image {path}.")
        target = self.person_mask(image_id).astype(np.float32)
        if target.shape != image.shape[:2]:
            raise SettingsError(f"COCO image {path} is not the size its annotation says.")
        image = limit_side(image, self.max_side)
        target = cv2.resize(target, image.shape[1::-1], interpolation=cv2.INTER_AREA)
        sample = make_sample(image, target, self.weight)
        return self.transform(sample) if self.transform else sample


def _read_folder(folder: Path, flags: int, max_side: int) -> list[np.ndarray]:
    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(path), flags)
            if image is None:
                log.warning("left out unreadable %s", path)
                continue
            images.append(limit_side(image, max_side))
    if not images:
        raise SettingsError(f"No readable images in {folder}.")
    return images


class CutoutComposites(Dataset):
    """Synthetic pairs: RGBA person cut-outs pasted onto background photos.

    Each access draws a new scene, so `length` is just how many count as one epoch. The
    framing mimics a webcam: one or two people, large, often cut off by the bottom edge.
    """

    def __init__(self, cutouts_dir: str | Path, backgrounds_dir: str | Path, length: int,
                 canvas: tuple[int, int] = (288, 512), weight: float = 1.0):
        self.cutouts = [c for c in _read_folder(Path(cutouts_dir), cv2.IMREAD_UNCHANGED, MAX_SIDE)
                        if c.ndim == 3 and c.shape[2] == 4]
        if not self.cutouts:
            raise SettingsError(f"No RGBA cut-outs in {cutouts_dir}.")
        self.backgrounds = _read_folder(Path(backgrounds_dir), cv2.IMREAD_COLOR, MAX_SIDE)
        self.length, self.canvas, self.weight = length, canvas, weight
        self.description = (f"{length} composites of {len(self.cutouts)} cut-outs on "
                            f"{len(self.backgrounds)} backgrounds")
        self.transform = None

    def __len__(self) -> int:
        return self.length

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        height, width = self.canvas
        background = self.backgrounds[rng.integers(len(self.backgrounds))]
        bh, bw = background.shape[:2]
        # the largest crop of the canvas's shape, at a random place, then scaled to the canvas
        scale = min(bh / height, bw / width) * rng.uniform(0.6, 1.0)
        ch, cw = max(1, int(height * scale)), max(1, int(width * scale))
        y, x = rng.integers(0, bh - ch + 1), rng.integers(0, bw - cw + 1)
        return cv2.resize(background[y:y + ch, x:x + cw], (width, height), interpolation=cv2.INTER_AREA)

    def compose(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        height, width = self.canvas
        image = self._background(rng).astype(np.float32)
        target = np.zeros((height, width), np.float32)
        for _ in range(1 if rng.random() < 0.7 else 2):
            cutout = self.cutouts[rng.integers(len(self.cutouts))]
            # person height 0.5 to 1.6 canvas heights; taller than the frame = only the upper body shows
            scale = height * rng.uniform(0.5, 1.6) / cutout.shape[0]
            size = (max(1, round(cutout.shape[1] * scale)), max(1, round(cutout.shape[0] * scale)))
            cutout = cv2.resize(cutout, size, interpolation=cv2.INTER_LINEAR)
            ph, pw = cutout.shape[:2]
            left = int(rng.integers(-pw // 3, max(1, width - 2 * pw // 3)))
            top = int(rng.integers(int(-0.05 * height), max(1, int(0.5 * height))))
            _paste(image, target, cutout, top, left)
        return np.clip(image, 0, 255).astype(np.uint8), target

    def __getitem__(self, index: int) -> dict:
        # a fresh scene per access; seeded from torch so torch.manual_seed makes runs repeatable
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
        image, target = self.compose(rng)
        sample = make_sample(image, target, self.weight)
        return self.transform(sample) if self.transform else sample


def _paste(image: np.ndarray, target: np.ndarray, cutout: np.ndarray, top: int, left: int) -> None:
    """Alpha-blend a BGRA cut-out into image (float BGR) at (top, left), clipped to the canvas."""
    height, width = target.shape
    ph, pw = cutout.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + ph, height), min(left + pw, width)
    if y0 >= y1 or x0 >= x1:
        return
    piece = cutout[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    alpha = piece[:, :, 3:] / 255.0
    region = image[y0:y1, x0:x1]
    region[:] = region * (1 - alpha) + piece[:, :, :3] * alpha
    np.maximum(target[y0:y1, x0:x1], alpha[:, :, 0], out=target[y0:y1, x0:x1])


def teacher_dataset(images: Sequence[np.ndarray], teacher: str, weight: float = 0.5,
                    device: str = "auto", description: str = "") -> InMemory:
    """Unlabelled images labelled by a teacher model's soft masks (distillation).

    The teacher runs once per image, at load time; its probability map, resized to the
    image, is the target.
    """
    from segcam.segmenter import Segmenter

    segmenter = Segmenter(teacher, device=device)
    images = [limit_side(image, MAX_SIDE) for image in images]
    targets = [np.clip(segmenter.segment(image), 0.0, 1.0) for image in images]
    return InMemory(images, targets, weight, description or f"{len(images)} images labelled by {teacher}")


def unlabelled_images(folder: str | Path) -> list[np.ndarray]:
    return _read_folder(Path(folder), cv2.IMREAD_COLOR, MAX_SIDE)


def unlabelled_frames(video: str | Path, every: int = 3) -> list[np.ndarray]:
    return [limit_side(frame, MAX_SIDE) for frame in video_frames(video, every=every)]


class LabelledFrames(Dataset):
    """Frames with soft uint8 labels (255 = person), kept as they are and made samples on access.

    Calibration holds a few hundred frames with their teacher alpha; uint8 labels are a
    quarter of float ones.
    """

    def __init__(self, frames: Sequence[np.ndarray], labels: Sequence[np.ndarray], transform=None,
                 description: str = ""):
        if len(frames) != len(labels):
            raise ValueError("frames and labels differ in number")
        self.frames, self.labels, self.transform = list(frames), list(labels), transform
        self.description = description or f"{len(self.frames)} labelled frames"

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        sample = make_sample(self.frames[index], self.labels[index].astype(np.float32) * (1.0 / 255.0))
        return self.transform(sample) if self.transform else sample
