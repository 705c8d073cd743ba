"""Command-line value types shared by every command (`run`, `bench`, `eval`, `train`, the app).

Each turns text into a value or raises argparse.ArgumentTypeError with what was expected.
"WxH" is always (width, height); a caller that wants (height, width) swaps it itself.
"""

from __future__ import annotations

import argparse
import math


def parse_size(text: str) -> tuple[int, int]:
    """"1280x720" -> (1280, 720)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return width, height


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text!r}")
    return value


def parse_fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame rate must be a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1000):  # nan and inf pass a plain `> 0`
        raise argparse.ArgumentTypeError(f"frame rate must be above 0 and at most 1000, got {text!r}")
    return value


def parse_color(text: str) -> tuple[int, int, int]:
    try:
        color = tuple(int(v) for v in text.split(","))
    except ValueError:
        color = ()
    if len(color) != 3 or not all(0 <= c <= 255 for c in color):
        raise argparse.ArgumentTypeError(f"colour must be R,G,B with values 0-255, got {text!r}")
    return color


def fraction(text: str) -> float:
    """A number from 0 to 1, as the strengths, edge softness and smoothing take."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # nan fails this too
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """A number strictly between 0 and 1 (a threshold: 0 and 1 would cut everything or nothing)."""
    value = fraction(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value
