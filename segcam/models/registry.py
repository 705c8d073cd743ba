"""The one place that knows which segmentation models exist.

Each model family registers its models when its module is imported (timm's habit): a spec
says how to build the network, what input it wants, how good its masks are, and where its
weights come from (its `WeightSource`). The segmenter, the CLI, the app and `doctor` only
ever ask this registry and the specs; none of them knows a model family by name.

Adding a model = one module that calls `register(ModelSpec(...))`, listed in `families`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from torch import nn

from segcam.errors import SettingsError
from segcam.models import families
from segcam.models.fetch import ProgressCallback


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
# families that take models by other means than a registered name (a model file's path): each
# gives the spec for what it takes, registered, or None
_RESOLVERS: list[Callable[[str], ModelSpec | None]] = []
_SYNCS: list[Callable[[], None]] = []  # families whose models are files that come and go


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered(name: str) -> ModelSpec | None:
    """The spec registered under `name` so far, without loading the families (for the families)."""
    return _REGISTRY.get(name)


def resolve_with(resolver: Callable[[str], ModelSpec | None]) -> None:
    """Have `lookup` ask `resolver` about a model that is not a registered name."""
    _RESOLVERS.append(resolver)


def sync_before_answering(sync: Callable[[], None]) -> None:
    """Have `sync` (un)register a family's models before every answer: they are files that come
    and go while segcam runs (see `calibrated`). It must only register, unregister and ask `registered`."""
    _SYNCS.append(sync)


def _load_families() -> None:
    families.load()
    for sync in _SYNCS:
        sync()


def specs() -> list[ModelSpec]:
    """Every registered model, in the order of `families.MODULES` (whichever was imported first)."""
    _load_families()

    def family(spec: ModelSpec) -> int:
        module = getattr(spec.build, "__module__", "")
        return families.MODULES.index(module) if module in families.MODULES else len(families.MODULES)

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
    """The spec for a registered name, or for what a family's resolver takes (a segcam model
    file: registered on first use, see `model_files`)."""
    _load_families()
    if model in _REGISTRY:
        return _REGISTRY[model]
    for resolver in _RESOLVERS:
        spec = resolver(model)
        if spec is not None:
            return spec
    return get(model)  # raises the one sentence on unknown names
