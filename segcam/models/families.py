"""The modules that register segcam's model families: each registers its models (in
`registry`) and the networks it can build untrained (in `architectures`) when imported.

They are imported on the first question to either table, so that importing a table stays
cheap, and by name, so that neither table imports a family (the families import the tables).
"""

from __future__ import annotations

import importlib

MODULES = ("segcam.models.mediapipe_spec", "segcam.models.rvm_spec", "segcam.models.torchvision_seg",
           "segcam.models.calibrated", "segcam.models.model_files")

_loaded = False


def load() -> None:
    """Import every family once."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in MODULES:
            importlib.import_module(module)
