"""The effects and stages that exist: every module of this package registers its own.

Adding an effect = one new module here with an `Effect` subclass decorated with `register`;
adding a stage = one module with a `Stage` subclass decorated with `register_stage`. The
modules are found by listing the package, so nothing else names them (the app's buttons,
menus, shortcuts and thumbnails, and the command line's choices, all come from here).
"""

from __future__ import annotations

import importlib
import pkgutil

from segcam.errors import SettingsError

_EFFECTS: dict[str, type] = {}
_STAGES: dict[str, type] = {}
_INFRASTRUCTURE = {"base", "registry", "compositor"}
_loaded = False


def register(effect: type) -> type:
    _EFFECTS[effect.name] = effect
    return effect


def register_stage(stage: type) -> type:
    _STAGES[stage.name] = stage
    return stage


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = importlib.import_module("segcam.effects")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _INFRASTRUCTURE and not module.name.startswith("_"):
            importlib.import_module(f"segcam.effects.{module.name}")


def effects() -> list[type]:
    """Every effect class, in their `order`."""
    _load()
    return sorted(_EFFECTS.values(), key=lambda effect: (effect.order, effect.name))


def names() -> list[str]:
    return [effect.name for effect in effects()]


def get(name: str) -> type:
    """The effect class for a name; SettingsError naming the choices for one that does not exist."""
    _load()
    try:
        return _EFFECTS[name]
    except KeyError:
        raise SettingsError(f"Unknown effect {name!r}; choose one of {', '.join(names())}.",
                            setting="effect") from None


def check(section) -> None:
    """SettingsError (naming "effect") unless the effect an EffectSettings names exists. The
    effects own their names; the settings hold a plain string and leave this check to them."""
    get(section.name)


def stages(where: str | None = None) -> list[type]:
    """Every stage class (or those of one place, "before" or "after" compositing), in their `order`."""
    _load()
    found = [stage for stage in _STAGES.values() if where is None or stage.where == where]
    return sorted(found, key=lambda stage: (stage.order, stage.name))


def keys_read() -> list[str]:
    """The setting keys the effects and stages read, each once, in their order."""
    keys = [key for kind in (*effects(), *stages()) for key in kind.reads]
    return list(dict.fromkeys(keys))
