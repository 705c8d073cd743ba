"""segcam model files as models: `--model FILE.pt` registers the file on first use.

A family like the others (listed in `families`): it gives the registry a resolver, so the
registry never imports `modelfile`, and `modelfile` builds its network through
`architectures`, never through the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

from segcam.errors import SettingsError
from segcam.models import modelfile, registry

_SEEN: dict[tuple[str, int, int], str] = {}  # (path, mtime, size) -> registered name


def register_file(path: str) -> registry.ModelSpec:
    """Register a segcam model file (see `modelfile`) and return its spec.

    The name carries the file's sha256, so a retrained file under the same path is a new
    model: the segmenter's ONNX cache, keyed by name, never serves a stale export.
    """
    try:
        stat = Path(path).stat()
    except OSError:
        raise SettingsError(f"Model file {path} does not exist.") from None
    # read and hash a file only when it is new or has changed on disk
    signature = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    known = registry.registered(_SEEN.get(signature, ""))
    if known is not None:
        return known
    info = modelfile.read(path)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem)[:40]
    name = f"{stem}-{info.sha256[:12]}"
    _SEEN[signature] = name
    if registry.registered(name) is not None:
        return registry.registered(name)
    metrics = info.provenance.get("metrics") or {}
    facts = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
    return registry.register(registry.ModelSpec(
        name=name,
        input_size=info.input_size,
        build=lambda download: info.build(),
        weights=modelfile.FileWeights(Path(path)),
        description=f"{info.architecture} from {path}" + (f" ({facts})" if facts else ""),
        license="as the model file's provenance says",
        mean=info.mean,
        std=info.std,
    ))


def _resolve(model: str) -> registry.ModelSpec | None:
    return register_file(model) if modelfile.looks_like_model_file(model) else None


registry.resolve_with(_resolve)
