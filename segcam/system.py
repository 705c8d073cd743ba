"""Facts about this machine that more than one part of segcam asks: a desktop to open windows
on, and the GPUs torch can use. One answer each, so the CLI, `doctor` and the app agree."""

from __future__ import annotations

import os
import sys


def has_display(environ=os.environ, system: str = sys.platform) -> bool:
    """Whether Qt can open a window: always on Windows and macOS; on Linux and the BSDs only
    in a desktop session, or with a platform chosen by hand (QT_QPA_PLATFORM=offscreen...)."""
    if system.startswith(("win", "darwin")):
        return True
    return any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def mps_available() -> bool:
    """Apple's Metal GPU, on a torch built with it (older torch has no torch.backends.mps)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()
