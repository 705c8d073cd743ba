"""Putting a model's files on this machine, and finding every derived file segcam keeps.

A model's files are its weight source's (pinned downloads, or a file a person imported) and
the files derived from them (a converted state dict, the ONNX exports per input size and
torch version); see `derived`. `segcam models download|import` and `segcam doctor` work
through here, and ask each model's spec rather than knowing a model family.
"""

from __future__ import annotations

from pathlib import Path

from segcam.errors import WeightsError
from segcam.models import derived, registry


def all_derived() -> list[derived.Derived]:
    """Every derived file on this machine, of any model."""
    from segcam import segmenter

    caches = {cache.path: cache for spec in registry.specs() for cache in spec.weights.derived()
              if cache.path.exists()}
    caches.update({cache.path: cache for cache in segmenter.onnx_caches()})
    return list(caches.values())


def model_derived(name: str) -> list[derived.Derived]:
    """The derived files of registered model `name` (its own, present or not, and its ONNX exports)."""
    from segcam import segmenter

    return registry.get(name).weights.derived() + segmenter.onnx_caches(name)


def discard_damaged(caches: list[derived.Derived] | None = None) -> list[derived.Status]:
    """Delete every derived file that does not verify (each is made again when it is needed)."""
    damaged = [status for status in (cache.check() for cache in (all_derived() if caches is None else caches))
               if status.state == derived.DAMAGED]
    for status in damaged:
        derived.discard(status.path)
    return damaged


def install(name: str, force: bool = False, progress: bool = True) -> list[str]:
    """Fetch model `name`'s weights and make its derived files; lines saying what is where.

    A derived file that does not verify is made again; `force` makes every one again. A
    pinned download that verifies is not fetched again: it would come back the same.
    """
    from segcam import segmenter

    spec = registry.get(name)
    caches = model_derived(spec.name)
    # an export there is made again now, not on the next start, which would wait for it
    had_export = segmenter.onnx_path_for(spec).exists()
    if force:
        for cache in caches:
            derived.discard(cache.path)
    else:
        discard_damaged(caches)
    lines = spec.weights.fetch(progress=progress)
    if had_export:
        segmenter.Segmenter(spec.name, device="cpu", runtime="onnxruntime", download=False,
                            frame_size=(1280, 720) if spec.sized_for else None)
        lines.append(f"{spec.name}: {segmenter.onnx_path_for(spec)}")
    return lines


def import_files(paths: list[str | Path]) -> list[str]:
    """Give local weight files to the model they belong to; lines saying what was imported.

    Each model's source looks at the files and takes them, or says they are not its own.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise WeightsError(f"Cannot import {path}: it does not exist.")
    lines: list[str] = []
    seen = set()
    for spec in registry.specs():
        if id(spec.weights) in seen:
            continue
        seen.add(id(spec.weights))
        taken = spec.weights.import_files(paths)
        if taken:
            lines += taken
    if not lines:
        hints = "; ".join(dict.fromkeys(spec.weights.import_hint for spec in registry.specs()
                                        if spec.default_download))
        shown = ", ".join(str(p) for p in paths)
        raise WeightsError(f"{shown} is not a model file segcam knows; it takes {hints}.")
    return lines
