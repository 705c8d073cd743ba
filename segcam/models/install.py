"""Putting a model's files on this machine, and finding every derived file segcam keeps.

A model's files are its pinned sources (MediaPipe's .tflite) and the files derived from
them (the converted .pt, the ONNX export per torch version, torchvision's downloaded
weights); see `derived`. `segcam models download` and `segcam doctor` work through here.
"""

from __future__ import annotations

from segcam.models import derived, registry, torchvision_seg, weights


def all_derived() -> list[derived.Derived]:
    """Every derived file on this machine, of any model."""
    from segcam import segmenter

    return weights.derived_caches() + torchvision_seg.derived_caches() + segmenter.onnx_caches()


def model_derived(name: str) -> list[derived.Derived]:
    """The derived files of registered model `name` on this machine (present or not, for its sources)."""
    from segcam import segmenter

    spec = registry.get(name)
    caches = [weights.torch_cache(file) for file in spec.weight_files]
    architecture = _torchvision_architecture(spec.name)
    if architecture is not None:
        caches.append(torchvision_seg.weights_cache(architecture))
    return caches + segmenter.onnx_caches(spec.name)


def discard_damaged(caches: list[derived.Derived] | None = None) -> list[derived.Status]:
    """Delete every derived file that does not verify (each is made again when it is needed)."""
    damaged = [status for status in (cache.check() for cache in (all_derived() if caches is None else caches))
               if status.state == derived.DAMAGED]
    for status in damaged:
        derived.discard(status.path)
    return damaged


def install(name: str, force: bool = False, progress: bool = True) -> list[str]:
    """Fetch model `name`'s weights and make its derived files; lines saying what is where.

    A derived file that does not verify is made again; `force` makes every one again and
    fetches again what is not pinned by a full sha256 (a pinned file would come back the same).
    """
    from segcam import segmenter

    spec = registry.get(name)
    onnx_path = segmenter._onnx_cache_path(spec.name)
    had_onnx = onnx_path.exists()
    caches = model_derived(spec.name)
    if force:
        for cache in caches:
            derived.discard(cache.path)
    else:
        discard_damaged(caches)
    lines = [f"{file}: {weights.torch_weights_path(file, download=True, progress=progress)}"
             for file in spec.weight_files]
    if not spec.weight_files:
        spec.build(True)  # fetches through the model's own weights API
        lines.append(f"{spec.name}: installed")
    if had_onnx:  # made again now rather than on the next start, which would wait for it
        segmenter.Segmenter(spec.name, device="cpu", runtime="onnxruntime", download=False)
        lines.append(f"{spec.name}: {onnx_path}")
    return lines


def _torchvision_architecture(name: str) -> str | None:
    # the registry names its torchvision models after their architectures, less "-large";
    # a model spec that lists its own derived files would make this lookup unnecessary
    architecture = f"{name}-large"
    return architecture if architecture in torchvision_seg.ARCHITECTURES else None
