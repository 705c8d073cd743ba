"""torchvision's LR-ASPP and DeepLabV3 (MobileNetV3-Large) as person-probability networks.

torchvision trained them on a COCO subset with the 20 Pascal VOC classes plus background;
"person" is class 15. The wrapper turns their 21-class scores into the one map segcam
wants: softmax over classes, channel 15. Heavier than MediaPipe and the own network, and
more accurate on hard scenes: an option for people with a GPU.

The weights come through torchvision's weights API (a pinned URL with a hash in its name)
into segcam's model folder, on first use, and are then a derived file (see `derived`): a
damaged copy is deleted and fetched again. Offline, one WeightsError says where to put the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from segcam.errors import WeightsError
from segcam.models import derived

log = logging.getLogger(__name__)

PERSON_CLASS = 15  # index of "person" in the VOC categories of the COCO_WITH_VOC_LABELS weights
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _builders():
    from torchvision.models import segmentation as tvs

    return {
        "lraspp-mobilenet-v3-large": (tvs.lraspp_mobilenet_v3_large,
                                      tvs.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1),
        "deeplabv3-mobilenet-v3-large": (tvs.deeplabv3_mobilenet_v3_large,
                                         tvs.DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1),
    }


ARCHITECTURES = ("lraspp-mobilenet-v3-large", "deeplabv3-mobilenet-v3-large")


class PersonProbability(nn.Module):
    """(N,3,H,W) ImageNet-normalised RGB -> (N,1,H,W) probability of `person_class`."""

    def __init__(self, segmentation_model: nn.Module, person_class: int = PERSON_CLASS):
        super().__init__()
        self.model = segmentation_model
        self.person_class = person_class

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.model(x)["out"]
        return torch.softmax(scores, dim=1)[:, self.person_class:self.person_class + 1]


def build_architecture(architecture: str) -> PersonProbability:
    """The network with random weights, shaped like torchvision's 21-class COCO/VOC model."""
    builder, pinned = _builders()[architecture]
    # no auxiliary head: only the main output is used, and the pinned file's aux keys are dropped
    model = builder(weights=None, weights_backbone=None, num_classes=len(pinned.meta["categories"]),
                    aux_loss=False)
    return PersonProbability(model)


def weights_dir() -> Path:
    from segcam.models import weights

    return weights.models_dir() / "torchvision"


def weights_file(architecture: str) -> Path:
    """Where the pinned torchvision weights for `architecture` are kept (the URL's file name)."""
    _, pinned = _builders()[architecture]
    return weights_dir() / Path(pinned.url).name


def weights_cache(architecture: str) -> derived.Derived:
    return derived.Derived(weights_file(architecture), derived.loads_as_state_dict)


def derived_caches() -> list[derived.Derived]:
    """The torchvision weight files on this machine (what `segcam doctor` checks)."""
    return [cache for cache in map(weights_cache, ARCHITECTURES) if cache.path.exists()]


def load_pretrained(architecture: str, download: bool = True) -> PersonProbability:
    """The network with torchvision's COCO/VOC weights, fetched on first use when allowed.

    A file that does not verify is deleted and fetched again.
    """
    _, pinned = _builders()[architecture]
    cache = weights_cache(architecture)
    path = cache.path
    status = cache.check()
    if status.state == derived.DAMAGED:
        log.warning("%s is damaged (%s); it is fetched again", path, status.detail)
        derived.discard(path)
    if not path.exists() and not download:
        what = "damaged (and were deleted)" if status.state == derived.DAMAGED else "not installed"
        raise WeightsError(_how_to_get(architecture, f"The {architecture} weights are {what}"))
    fetching = not path.exists()
    try:
        # torchvision's weights API: downloads into model_dir once (checking the hash in the
        # file name), afterwards just reads the file there
        state = pinned.get_state_dict(progress=True, check_hash=True, model_dir=str(weights_dir()))
    except OSError as e:  # URLError and socket errors: offline, or the host is unreachable
        raise WeightsError(_how_to_get(architecture, f"Could not download the {architecture} weights "
                                       f"({getattr(e, 'reason', e)})")) from e
    except RuntimeError as e:  # a download whose hash does not match the one in its name
        derived.discard(path)
        raise WeightsError(_how_to_get(architecture, f"The {architecture} weights that came down are not "
                                       f"usable ({str(e).strip().splitlines()[0]})")) from e
    if fetching:
        derived.record(path)  # torch.hub checked the download against the hash in its name
    network = build_architecture(architecture)
    state = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
    try:
        network.model.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{path} does not hold {architecture} weights: "
                           f"{str(e).splitlines()[0]}") from e
    return network.eval()


def _how_to_get(architecture: str, problem: str) -> str:
    _, pinned = _builders()[architecture]
    return (f"{problem}: connect to the internet once and run segcam with this model again, or "
            f"download {pinned.url} yourself and put it at {weights_file(architecture)}.")


# -- in the registry -------------------------------------------------------------------------

class TorchvisionWeights:
    """torchvision's pinned COCO/VOC weights for one architecture, fetched through its weights API."""

    download_size = "about 13 MB (LR-ASPP) to 45 MB (DeepLabV3)"
    import_hint = "the weights file torchvision publishes (its name ends in the first digits of its sha256)"
    import_patterns = ()  # `segcam models import` takes the file; the app points at where it goes

    def __init__(self, architecture: str, title: str):
        self.architecture = architecture
        self.title = title

    def installed(self) -> bool:
        return weights_cache(self.architecture).check().ok

    def fetch(self, progress: bool = True, on_progress=None) -> list[str]:
        load_pretrained(self.architecture, download=True)
        return [f"{self.architecture}: {weights_file(self.architecture)}"]

    def import_files(self, paths: list[Path]) -> list[str] | None:
        target = weights_file(self.architecture)
        for path in paths:
            if Path(path).name == target.name:
                from segcam import fileio

                fileio.write_bytes(target, Path(path).read_bytes())
                derived.record_path(target).unlink(missing_ok=True)  # checked by loading, below
                if not weights_cache(self.architecture).check().ok:
                    derived.discard(target)
                    raise WeightsError(f"{path} does not hold usable {self.architecture} weights.")
                return [f"Imported {path} as {target.name}"]
        return None

    def how_to_get(self, problem: str) -> str:
        return _how_to_get(self.architecture, problem)

    def files(self) -> list[tuple[str, Path, str]]:
        status = weights_cache(self.architecture).check()
        return [(weights_file(self.architecture).name, status.path, status.state)]

    def derived(self) -> list:
        return []  # the downloaded file is its own check (above), not derived from another


def _register() -> None:
    from segcam.models import architectures, registry

    for name, architecture, title in (("lraspp-mobilenet-v3", "lraspp-mobilenet-v3-large", "LR-ASPP"),
                                      ("deeplabv3-mobilenet-v3", "deeplabv3-mobilenet-v3-large", "DeepLabV3")):
        registry.register(registry.ModelSpec(
            name=name,
            input_size=(360, 640),
            build=lambda download, a=architecture: load_pretrained(a, download=download),
            weights=TorchvisionWeights(architecture, f"torchvision {title} MobileNetV3-Large"),
            description=f"torchvision {title} MobileNetV3-Large (COCO, VOC classes; person): for a GPU; "
                        "weights download on first use",
            license="BSD-3-Clause (torchvision)",
            mean=MEAN,
            std=STD,
        ))
        architectures.register(architecture, lambda a=architecture: build_architecture(a))


_register()
