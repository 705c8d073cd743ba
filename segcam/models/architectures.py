"""The networks segcam can build with random weights, by name: what a model file names
(`modelfile`) and what `segcam train` trains. The families add theirs when imported (see
`families`); the model registry does not build architectures, and this table knows nothing
of model files, so neither imports the other.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from segcam.errors import SettingsError
from segcam.models import families

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register(name: str, factory: Callable[..., nn.Module]) -> None:
    _ARCHITECTURES[name] = factory


def names() -> list[str]:
    families.load()
    return list(_ARCHITECTURES)


def build(name: str, **options) -> nn.Module:
    """The network `name` with random weights, built with `options`; SettingsError otherwise."""
    families.load()
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


register("segnet", _segnet)
