"""Where the app's shipped files are: default backgrounds and the icon (see assets/make_assets.py)."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import segcam
from segcam.backgrounds import IMAGE_SUFFIXES


def assets_dir() -> Path | None:
    """$SEGCAM_ASSETS_DIR, else the source tree's assets/, else where a wheel installs them."""
    candidates = [
        os.environ.get("SEGCAM_ASSETS_DIR"),
        Path(segcam.__file__).resolve().parents[1] / "assets",  # a checkout or an editable install
        Path(sys.prefix) / "share" / "segcam" / "assets",  # pyproject's data-files
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "backgrounds").is_dir():
            return Path(candidate)
    return None


def default_backgrounds() -> list[Path]:
    """The backgrounds that ship with segcam, by name."""
    folder = assets_dir()
    if folder is None:
        return []
    return sorted(p for p in (folder / "backgrounds").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@lru_cache(maxsize=1)
def icon_files() -> tuple[Path, ...]:
    """The icon as PNGs of every size, then the SVG (Qt picks the best size per use)."""
    folder = assets_dir()
    if folder is None or not (folder / "icon").is_dir():
        return ()
    pngs = sorted((folder / "icon").glob("segcam-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    return (*pngs, *sorted((folder / "icon").glob("*.svg")))

