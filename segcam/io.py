"""Reading pictures, masks and whole videos from disk: one reader for each.

- `read_image`: a picture as BGR uint8, or None when it cannot be decoded (callers say why in
  their own words: a background, a training image, an evaluation pair).
- `read_mask`: a single-channel person mask as bool.
- `Pair`, `pair_by_stem`, `read_list`, `load_pair`: labelled images matched with their masks.
- `video_frames`, `iter_video_frames`: the frames of a video file, all or some, optionally
  resized; as a list, or one by one.
- `quiet_opencv`: OpenCV's own warnings silenced for a block (probing cameras, damaged files).

The live sources (cameras, videos read on a thread) are `segcam.capture`'s; writing videos is
`segcam.video_file`'s, and writing any other file whole is `segcam.fileio`'s.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segcam.errors import SettingsError, SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")

# Decode huge images at a fraction of their size: a 10000x10000 photo would otherwise cost
# 300 MB and a long stall, only to be shrunk to a frame's size anyway.
_REDUCED_READS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray | None:
    """A picture as BGR uint8 (grey, BGRA and 16-bit ones converted), or None when it cannot be decoded.

    With `max_pixels`, a picture much larger than that is decoded at 1/2, 1/4 or 1/8 of its
    size (JPEG decodes that way almost for free), never below a quarter of `max_pixels`.
    """
    flags = cv2.IMREAD_COLOR
    if max_pixels is not None:
        size = _header_size(path)
        if size is not None:
            width, height = size
            for factor, reduced in _REDUCED_READS:
                if width * height / (factor * factor) >= max_pixels / 4:
                    flags = reduced
                    break
    image = cv2.imread(str(path), flags)
    if image is None or image.size == 0:
        return None
    return image


def _header_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the file's header alone, or None when Pillow cannot read it."""
    try:
        from PIL import Image

        with warnings.catch_warnings():  # a huge picture is what this is for: no "decompression bomb" warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:
                return header.size
    except Exception:  # noqa: BLE001 - not a picture Pillow knows: OpenCV decides
        return None


def read_mask(path: Path) -> np.ndarray | None:
    """Person mask as bool (pixel value above 127), or None when unreadable or not single-channel."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.ndim != 2:
        return None
    return mask > 127


# -- labelled pairs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    name: str  # the shared file stem
    image: Path
    mask: Path


def _by_stem(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            files.setdefault(path.stem, path)
    return files


def pair_by_stem(images_dir: str | Path, masks_dir: str | Path,
                 names: Iterable[str] | None = None) -> tuple[list[Pair], list[str]]:
    """Images and masks matched by file stem, and a sentence for each one without a partner.

    With `names`, only those stems are wanted; a wanted stem missing on either side is a problem.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise SettingsError(f"{folder} is not a folder.")
    images, masks = _by_stem(images_dir, IMAGE_SUFFIXES), _by_stem(masks_dir, MASK_SUFFIXES)
    problems = []
    wanted = sorted(set(images) | set(masks)) if names is None else list(dict.fromkeys(names))
    pairs = []
    for stem in wanted:
        if stem in images and stem in masks:
            pairs.append(Pair(stem, images[stem], masks[stem]))
        elif stem in images:
            problems.append(f"{stem}: no mask in {masks_dir}")
        elif stem in masks:
            problems.append(f"{stem}: no image in {images_dir}")
        else:
            problems.append(f"{stem}: neither image nor mask found")
    return pairs, problems


def read_list(path: str | Path) -> list[str]:
    """File stems, one per line (a split file such as split_val60.txt); blanks and # comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Path(line.strip()).stem for line in lines if line.strip() and not line.startswith("#")]


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray] | str:
    """(image, mask) or the sentence saying why the pair cannot be used."""
    image = read_image(pair.image)
    if image is None:
        return f"{pair.name}: cannot read image {pair.image}"
    mask = read_mask(pair.mask)
    if mask is None:
        return f"{pair.name}: cannot read {pair.mask} as a single-channel mask"
    if mask.shape != image.shape[:2]:
        return (f"{pair.name}: mask is {mask.shape[1]}x{mask.shape[0]} but image is "
                f"{image.shape[1]}x{image.shape[0]}")
    return image, mask


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's warnings, which it prints for every camera index that is absent."""
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)


# -- videos -----------------------------------------------------------------------------------

def video_frames(path: str | Path, every: int = 1, limit: int | None = None,
                 size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Frames of a video file as BGR uint8: every `every`-th one, at most `limit` of them, each
    resized to `size` (width, height) when given. SourceError when it gives none."""
    with contextlib.closing(iter_video_frames(path, every, size)) as frames:  # closed: the file is let go now
        return list(itertools.islice(frames, limit))


def iter_video_frames(path: str | Path, every: int = 1,
                      size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """video_frames one by one, without holding them all in memory (a long clip in eval)."""
    with quiet_opencv():
        capture = cv2.VideoCapture(str(path))
    read = index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                if size is not None and (frame.shape[1], frame.shape[0]) != tuple(size):
                    frame = cv2.resize(frame, tuple(size), interpolation=cv2.INTER_LINEAR)
                read += 1
                yield frame
            index += 1
    finally:
        capture.release()
    if not read:
        raise SourceError(f"Cannot read frames from {path}.")
