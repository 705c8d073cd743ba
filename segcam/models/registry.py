"""The one place that knows which segmentation models exist.

A model spec says how to build the network, what input it wants and where its weights come
from; the segmenter and the pipeline only ever ask this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from torch import nn

from segcam.errors import SettingsError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: tuple[int, int]  # (height, width) the network runs at
    build: Callable[[bool], nn.Module]  # build(download) -> network with weights, in eval mode
    description: str
    license: str
    weight_files: tuple[str, ...] = field(default=())
    # how frames are turned into network input: RGB scaled to [0, 1], then (x - mean) / std
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SettingsError(f"Unknown model {name!r}; choose one of {', '.join(_REGISTRY)}.") from None


def create_model(name: str, download: bool = True) -> nn.Module:
    """The network for a registered name, weights loaded (fetched first if allowed)."""
    return get(name).build(download)


def pick_for_frame(width: int, height: int) -> str:
    """The default model for a frame shape: the landscape network for frames wider than 4:3.

    The landscape network sees 256x144 (16:9); squeezing a square or portrait frame into it
    costs more accuracy than running the square general network.
    """
    return "mediapipe-landscape" if width * 3 > height * 4 else "mediapipe-general"


def resolve(model: str, width: int, height: int) -> str:
    """Turn the user's model setting ("auto", a name, or a file) into a registry name."""
    if model in ("", "auto"):
        return pick_for_frame(width, height)
    if model in _REGISTRY:
        return model
    if Path(model).suffix in (".pt", ".pth"):
        raise SettingsError(f"Model files ({model}) are not supported yet; use one of {', '.join(_REGISTRY)}.")
    return get(model).name


def _mediapipe(variant: str, weight_file: str) -> Callable[[bool], nn.Module]:
    def build(download: bool) -> nn.Module:
        import torch

        from segcam.models import weights
        from segcam.models.mediapipe import SelfieSegmentation

        path = weights.torch_weights_path(weight_file, download=download)
        network = SelfieSegmentation(variant)
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return network.eval()

    return build


register(
    ModelSpec(
        name="mediapipe-landscape",
        input_size=(144, 256),
        build=_mediapipe("landscape", "selfie_segmentation_landscape.tflite"),
        description="MediaPipe Selfie Segmentation, landscape (256x144): the fast default for 16:9 webcams",
        license="Apache-2.0 (Google MediaPipe)",
        weight_files=("selfie_segmentation_landscape.tflite",),
    )
)
register(
    ModelSpec(
        name="mediapipe-general",
        input_size=(256, 256),
        build=_mediapipe("general", "selfie_segmentation.tflite"),
        description="MediaPipe Selfie Segmentation, general (256x256): for square and portrait frames",
        license="Apache-2.0 (Google MediaPipe)",
        weight_files=("selfie_segmentation.tflite",),
    )
)
