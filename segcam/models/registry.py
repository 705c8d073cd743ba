"""The one place that knows which segmentation models exist.

A model spec says how to build the network, what input it wants and where its weights come
from; the segmenter and the pipeline only ever ask this registry.
"""

from __future__ import annotations

import re
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
    # whether the weights are on this machine; by default, whether every weight file verifies
    is_installed: Callable[[], bool] | None = None

    def installed(self) -> bool:
        if self.is_installed is not None:
            return self.is_installed()
        from segcam.models import weights

        return all(weights.verify(name) for name in self.weight_files)


_REGISTRY: dict[str, ModelSpec] = {}
_MODEL_FILES: dict[tuple[str, int, int], str] = {}  # (path, mtime, size) -> registered name


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str) -> ModelSpec:
    """The spec for a registered name, or for a segcam model file (registered on first use)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    from segcam.models import modelfile

    if modelfile.looks_like_model_file(name):
        return register_model_file(name)
    raise SettingsError(f"Unknown model {name!r}; choose one of {', '.join(_REGISTRY)}, "
                        "or give a model file (.pt) made by `segcam train`.")


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
    return get(model).name


def register_model_file(path: str) -> ModelSpec:
    """Register a segcam model file (see `modelfile`) and return its spec.

    The name carries the file's sha256, so a retrained file under the same path is a new
    model: the segmenter's ONNX cache, keyed by name, never serves a stale export.
    """
    from segcam.models import modelfile

    try:
        stat = Path(path).stat()
    except OSError:
        raise SettingsError(f"Model file {path} does not exist.") from None
    # the pipeline resolves its model setting every frame: read and hash a file only when
    # it is new or has changed on disk
    signature = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    if signature in _MODEL_FILES:
        return _REGISTRY[_MODEL_FILES[signature]]
    info = modelfile.read(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem)[:40]
    name = f"{stem}-{info.sha256[:12]}"
    _MODEL_FILES[signature] = name
    if name in _REGISTRY:
        return _REGISTRY[name]
    metrics = info.provenance.get("metrics") or {}
    facts = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
    return register(ModelSpec(
        name=name,
        input_size=info.input_size,
        build=lambda download: info.build(),
        description=f"{info.architecture} from {path}" + (f" ({facts})" if facts else ""),
        license="as the model file's provenance says",
        mean=info.mean,
        std=info.std,
    ))


# -- architectures: how to build a network with random weights, by name --------------------
# A model file names one of these; `segcam train` builds its networks here too.

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register_architecture(name: str, factory: Callable[..., nn.Module]) -> None:
    _ARCHITECTURES[name] = factory


def architectures() -> list[str]:
    return list(_ARCHITECTURES)


def build_architecture(name: str, **options) -> nn.Module:
    try:
        factory = _ARCHITECTURES[name]
    except KeyError:
        raise SettingsError(f"Unknown architecture {name!r}; segcam knows {', '.join(_ARCHITECTURES)}.") from None
    try:
        return factory(**options)
    except (TypeError, ValueError) as e:
        raise SettingsError(f"Architecture {name!r} cannot be built with {options}: {e}") from e


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


for _variant, _file, _size, _use in (
        ("landscape", "selfie_segmentation_landscape.tflite", (144, 256), "the fast default for 16:9 webcams"),
        ("general", "selfie_segmentation.tflite", (256, 256), "for square and portrait frames")):
    register(
        ModelSpec(
            name=f"mediapipe-{_variant}",
            input_size=_size,
            build=_mediapipe(_variant, _file),
            description=f"MediaPipe Selfie Segmentation, {_variant} ({_size[1]}x{_size[0]}): {_use}",
            license="Apache-2.0 (Google MediaPipe)",
            weight_files=(_file,),
        )
    )


def _torchvision_installed(architecture: str) -> Callable[[], bool]:
    def installed() -> bool:
        from segcam.models import torchvision_seg

        return torchvision_seg.weights_file(architecture).exists()

    return installed


def _torchvision(architecture: str) -> Callable[[bool], nn.Module]:
    def build(download: bool) -> nn.Module:
        from segcam.models import torchvision_seg

        return torchvision_seg.load_pretrained(architecture, download=download)

    return build


_TORCHVISION_STATS = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
for _name, _architecture, _title in (("lraspp-mobilenet-v3", "lraspp-mobilenet-v3-large", "LR-ASPP"),
                                     ("deeplabv3-mobilenet-v3", "deeplabv3-mobilenet-v3-large", "DeepLabV3")):
    register(
        ModelSpec(
            name=_name,
            input_size=(360, 640),
            build=_torchvision(_architecture),
            is_installed=_torchvision_installed(_architecture),
            description=f"torchvision {_title} MobileNetV3-Large (COCO, VOC classes; person): for a GPU; "
                        "weights download on first use",
            license="BSD-3-Clause (torchvision)",
            **_TORCHVISION_STATS,
        )
    )


def _segnet() -> nn.Module:
    from segcam.models.segnet import SegNet

    return SegNet()


def _selfie_segmentation(variant: str = "general") -> nn.Module:
    from segcam.models.mediapipe import SelfieSegmentation

    return SelfieSegmentation(variant)


def _torchvision_architecture(architecture: str) -> Callable[[], nn.Module]:
    def factory() -> nn.Module:
        from segcam.models import torchvision_seg

        return torchvision_seg.build_architecture(architecture)

    return factory


register_architecture("segnet", _segnet)
register_architecture("mediapipe-selfie", _selfie_segmentation)
register_architecture("lraspp-mobilenet-v3-large", _torchvision_architecture("lraspp-mobilenet-v3-large"))
register_architecture("deeplabv3-mobilenet-v3-large", _torchvision_architecture("deeplabv3-mobilenet-v3-large"))
