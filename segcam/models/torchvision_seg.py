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
