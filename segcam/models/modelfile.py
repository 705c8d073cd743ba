"""segcam model files: a trained network in one .pt file that `segcam run --model FILE.pt` takes.

The file is `torch.save` of a plain dict (so `torch.load(weights_only=True)` reads it and no
code in a file ever runs):

    format        "segcam-model"      version   1
    architecture  a name in the table of architectures (`architectures`), e.g. "segnet"
    options       keyword arguments for that architecture's factory, e.g. {"variant": "general"}
    input_size    [height, width] the network runs at
    mean, std     RGB in [0, 1] is normalised as (x - mean) / std
    state_dict    the weights
    provenance    JSON-like facts: data, epochs, metrics, base weights, segcam version

Loading builds the network by its architecture's name (`architectures`, one table for the
whole program), then fills it with the weights.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from segcam import fileio
from segcam.errors import SettingsError
from segcam.models import architectures

FORMAT = "segcam-model"
VERSION = 1
SUFFIXES = (".pt", ".pth")


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    architecture: str
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    options: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    state_dict: dict = field(default_factory=dict, repr=False)

    def build(self) -> nn.Module:
        """The network with this file's weights, in eval mode."""
        network = architectures.build(self.architecture, **self.options)
        try:
            network.load_state_dict(self.state_dict)
        except RuntimeError as e:
            raise SettingsError(f"The weights in {self.path} do not fit architecture "
                                f"{self.architecture!r}: {str(e).splitlines()[0]}") from e
        return network.eval()


def looks_like_model_file(model: str) -> bool:
    return Path(model).suffix.lower() in SUFFIXES


def save(path: str | os.PathLike, network: nn.Module, architecture: str, input_size: tuple[int, int],
         mean, std, options: dict | None = None, provenance: dict | None = None) -> Path:
    """Write a model file atomically (a reader never sees half a file)."""
    from segcam import __version__

    path = Path(path)
    record = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": architecture,
        "options": dict(options or {}),
        "input_size": [int(v) for v in input_size],
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        # weights leave training as float32 on the CPU whatever device and AMP made them
        "state_dict": {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
                       for k, v in network.state_dict().items()},
        "provenance": {"segcam_version": __version__, **(provenance or {})},
    }
    with fileio.replacing(path) as tmp, open(tmp, "wb") as f:
        torch.save(record, f)
    return path


def read(path: str | os.PathLike) -> ModelFile:
    """Read and check a model file; SettingsError with one sentence when it is not one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SettingsError(f"Cannot read model file {path}: {e.strerror or e}.") from e
    try:
        record = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and unpickler errors all mean "not a model file"
        raise SettingsError(f"{path} is not a segcam model file ({type(e).__name__}).") from e
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise SettingsError(f"{path} is not a segcam model file (train one with `segcam train`).")
    if record.get("version") != VERSION:
        raise SettingsError(f"{path} is a segcam model file of version {record.get('version')}; "
                            f"this segcam reads version {VERSION}.")
    try:
        height, width = (int(v) for v in record["input_size"])
        return ModelFile(
            path=path,
            sha256=hashlib.sha256(data).hexdigest(),
            architecture=str(record["architecture"]),
            input_size=(height, width),
            mean=tuple(float(v) for v in record["mean"]),
            std=tuple(float(v) for v in record["std"]),
            options=dict(record.get("options") or {}),
            provenance=dict(record.get("provenance") or {}),
            state_dict=dict(record["state_dict"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SettingsError(f"{path} is a damaged segcam model file (field {e}).") from e


def load(path: str | os.PathLike) -> tuple[nn.Module, ModelFile]:
    info = read(path)
    return info.build(), info


class FileWeights:
    """The weights of a model file are the file itself: nothing to fetch, nothing derived."""

    download_size = "nothing (the file is the model)"
    import_hint = "a segcam model file (.pt), given with --model"
    import_patterns = ("*.pt",)

    def __init__(self, path: Path):
        self.path = path
        self.title = f"segcam model file {path.name}"

    def installed(self) -> bool:
        return self.path.is_file()

    def fetch(self, progress: bool = True, on_progress=None) -> list[str]:
        if not self.installed():
            raise SettingsError(self.how_to_get(f"Model file {self.path} does not exist"))
        return [f"{self.path.name}: {self.path}"]

    def import_files(self, paths: list[Path]) -> list[str] | None:
        return None

    def how_to_get(self, problem: str) -> str:
        return f"{problem}: give the path of a file made by `segcam train` or `segcam calibrate`."

    def files(self) -> list[tuple[str, Path, str]]:
        return [(self.path.name, self.path, "ok" if self.installed() else "missing")]

    def derived(self) -> list:
        return []
