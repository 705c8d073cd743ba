"""The one place that knows which segmentation models exist.

Each model family registers its models when its module is imported (timm's habit): a spec
says how to build the network, what input it wants, how good its masks are, and where its
weights come from (its `WeightSource`). The segmenter, the CLI, the app and `doctor` only
ever ask this registry and the specs; none of them knows a model family by name.

Adding a model = one module that calls `register(ModelSpec(...))`, listed in `_FAMILIES`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from torch import nn

from segcam.errors import SettingsError
from segcam.models.fetch import ProgressCallback

# the modules that register models; imported on the first question to the registry, so that
# importing the registry stays cheap and no family module imports another
_FAMILIES = ("segcam.models.mediapipe_spec", "segcam.models.rvm_spec", "segcam.models.torchvision_seg",
             "segcam.models.calibrated")


class WeightSource(Protocol):
    """Where a model's weights come from and how they are kept on this machine."""

    title: str  # what the weights are, for people: "MediaPipe Selfie Segmentation (landscape)"
    download_size: str  # what a download fetches, e.g. "about 0.25 MB"
    import_hint: str  # what `models import` (and the app's Import button) takes, in words
    import_patterns: tuple[str, ...]  # file-dialog patterns for those files, e.g. ("*.tflite",)

    def installed(self) -> bool:
        """Whether the model can be built without a download."""

    def fetch(self, progress: bool = True, on_progress: ProgressCallback | None = None) -> list[str]:
        """Download what is missing and make the derived files; lines saying what is where.

        Raises WeightsError with one sentence on how to get the weights by hand."""

    def import_files(self, paths: list[Path]) -> list[str] | None:
        """Take local copies of the weights; None when these files are not this source's."""

    def how_to_get(self, problem: str) -> str:
        """`problem`, and then how a person puts the weights on this machine themselves."""

    def files(self) -> list[tuple[str, Path, str]]:
        """The source files on this machine as (label, path, state "ok" | "missing" | "damaged")."""

    def derived(self) -> list:
        """The derived files (see `derived.Derived`) made from these weights, present or not."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    license: str
    build: Callable[[bool], nn.Module]  # build(download) -> network with weights, in eval mode
    weights: WeightSource
    # the (height, width) the network runs at; None: it follows the frame (see input_size_for)
    input_size: tuple[int, int] | None = None
    # how frames are turned into network input: RGB scaled to [0, 1], then (x - mean) / std
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # a network that carries recurrent state from frame to frame (see `segmenter.Segmenter`)
    recurrent: bool = False
    # a matting network: its alpha is soft at the edge already (the refiner adds no feather)
    matting: bool = False
    # higher is better masks; `auto` picks the best one the machine can run at the frame rate
    quality: int = 0
    # for a network whose input follows the frame: (frame width, height, quality setting) -> (h, w)
    sized_for: Callable[[int, int, str], tuple[int, int]] | None = None
    # offered by `segcam models download` without naming it, and by the app's first start
    default_download: bool = False
    # recurrent networks: how the segmenter wraps the network (network, dtype) -> module taking a
    # BGR uint8 frame and the states, giving alpha, foreground correction and the states; and
    # the states' shapes for an input of (height, width)
    frame_module: Callable[..., nn.Module] | None = None
    state_shapes: Callable[[int, int], list[tuple[int, ...]]] | None = None
    # the graph segcam exports to ONNX: raised when the export changes, so caches are made again
    export_revision: int = 1

    def installed(self) -> bool:
        return self.weights.installed()

    def input_size_for(self, width: int, height: int, quality: str = "balanced") -> tuple[int, int]:
        """The (height, width) the network runs at for a width x height frame."""
        if self.sized_for is not None:
            return self.sized_for(width, height, quality)
        return self.input_size


_REGISTRY: dict[str, ModelSpec] = {}
_MODEL_FILES: dict[tuple[str, int, int], str] = {}  # (path, mtime, size) -> registered name
_SYNCS: list[Callable[[], None]] = []  # families whose models are files that come and go
_loaded = False


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered(name: str) -> ModelSpec | None:
    """The spec registered under `name` so far, without loading the families (for the families)."""
    return _REGISTRY.get(name)


def sync_before_answering(sync: Callable[[], None]) -> None:
    """Have `sync` (un)register a family's models before every answer: they are files that come
    and go while segcam runs (see `calibrated`). It must only register, unregister and ask `registered`."""
    _SYNCS.append(sync)


def _load_families() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _FAMILIES:
            importlib.import_module(module)
    for sync in _SYNCS:
        sync()


def specs() -> list[ModelSpec]:
    """Every registered model, in the order of `_FAMILIES` (whichever module was imported first)."""
    _load_families()

    def family(spec: ModelSpec) -> int:
        module = getattr(spec.build, "__module__", "")
        return _FAMILIES.index(module) if module in _FAMILIES else len(_FAMILIES)

    return sorted(_REGISTRY.values(), key=family)  # stable: registration order within a family


def names() -> list[str]:
    return [spec.name for spec in specs()]


def get(name: str) -> ModelSpec:
    """The spec for a registered name. Model files are registered by `lookup`, not here."""
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SettingsError(f"Unknown model {name!r}; choose one of {', '.join(_REGISTRY)}, "
                            "or give a model file (.pt) made by `segcam train`.") from None


def create_model(name: str, download: bool = True) -> nn.Module:
    """The network for a registered name, weights loaded (fetched first if allowed)."""
    return get(name).build(download)


FALLBACK_MODELS = ("mediapipe-landscape", "mediapipe-general")  # what pick_for_frame returns


def pick_for_frame(width: int, height: int) -> str:
    """The fast default for a frame shape: the landscape network for frames wider than 4:3.

    The landscape network sees 256x144 (16:9); squeezing a square or portrait frame into it
    costs more accuracy than running the square general network.
    """
    return "mediapipe-landscape" if width * 3 > height * 4 else "mediapipe-general"


def resolve(model: str, width: int, height: int) -> str:
    """Turn the user's model setting ("auto", a name, or a model file) into a registry name.

    "auto" here is the frame shape's fast default; `segcam.model_choice` picks by measured
    speed on top of this where it can.
    """
    if model in ("", "auto"):
        return pick_for_frame(width, height)
    return lookup(model).name


def lookup(model: str) -> ModelSpec:
    """The spec for a registered name or a segcam model file (registered on first use)."""
    _load_families()
    if model in _REGISTRY:
        return _REGISTRY[model]
    from segcam.models import modelfile

    if modelfile.looks_like_model_file(model):
        return register_model_file(model)
    return get(model)  # raises the one sentence on unknown names


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
    # read and hash a file only when it is new or has changed on disk
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
        weights=modelfile.FileWeights(Path(path)),
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
    _load_families()
    return list(_ARCHITECTURES)


def build_architecture(name: str, **options) -> nn.Module:
    _load_families()
    try:
        factory = _ARCHITECTURES[name]
    except KeyError:
        raise SettingsError(f"Unknown architecture {name!r}; segcam knows {', '.join(_ARCHITECTURES)}.") from None
    try:
        return factory(**options)
    except (TypeError, ValueError) as e:
        raise SettingsError(f"Architecture {name!r} cannot be built with {options}: {e}") from e


def _segnet() -> nn.Module:
    from segcam.models.segnet import SegNet

    return SegNet()


register_architecture("segnet", _segnet)
