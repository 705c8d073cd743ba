"""Where segcam keeps things on a user's machine: one place for every folder.

Each folder can be moved with an environment variable (tests and portable installs do);
otherwise it is the platform's own (platformdirs): on Linux ~/.local/share/segcam for data
and models, ~/.config/segcam for settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "segcam"


def data_dir() -> Path:
    """Downloaded and derived data: $SEGCAM_DATA_DIR, else the platform's user data folder."""
    override = os.environ.get("SEGCAM_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))


def models_dir() -> Path:
    """Model weights and the files derived from them."""
    return data_dir() / "models"


def config_dir() -> Path:
    """Settings: $SEGCAM_CONFIG_DIR, else the platform's user config folder."""
    override = os.environ.get("SEGCAM_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP, appauthor=False))
