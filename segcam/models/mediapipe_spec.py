"""MediaPipe Selfie Segmentation in the registry: the two models and their weight source.

The weights are MediaPipe's pinned .tflite files (see `weights`), converted once to torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from segcam.models import architectures, registry, weights
from segcam.models.fetch import ProgressCallback


@dataclass(frozen=True)
class MediaPipeWeights:
    """One pinned .tflite file and the torch state dict converted from it."""

    file: str
    title: str
    download_size: str = "about 0.25 MB"
    import_hint: str = "a selfie_segmentation .tflite file (from MediaPipe, or the mediapipe 0.10 wheel)"
    import_patterns: tuple[str, ...] = ("*.tflite",)

    @property
    def introduction(self) -> str:
        return (f"It uses Google's MediaPipe Selfie Segmentation (Apache-2.0): {self.file}, about 250 KB, "
                "downloaded once from MediaPipe's public storage and checked against a pinned SHA-256. If that "
                f"storage cannot be reached, segcam fetches the {weights.WHEEL_REQUIREMENT} package instead "
                "(36 MB, with pip) and takes the file out of it. Offline? Import a copy of the .tflite file.")

    @property
    def fallback(self) -> tuple[str, str]:
        """(what the weights module logs when it turns to pip, what the app says then)"""
        return (weights.WHEEL_REQUIREMENT, f"MediaPipe's storage cannot be reached, so segcam is fetching the "
                f"{weights.WHEEL_REQUIREMENT} package (36 MB) with pip…")

    def installed(self) -> bool:
        return weights.verify(self.file)

    def fetch(self, progress: bool = True, on_progress: ProgressCallback | None = None) -> list[str]:
        path = weights.torch_weights_path(self.file, download=True, progress=progress, on_progress=on_progress)
        return [f"{self.file}: {path}"]

    def import_files(self, paths: list[Path]) -> list[str] | None:
        lines = []
        for path in paths:
            if Path(path).suffix.lower() == ".tflite":  # only MediaPipe's come as .tflite: its error stands
                stored = weights.import_file(path)
                if stored.name == self.file:
                    lines.append(f"Imported {path} as {stored.name}")
        return lines or None

    def how_to_get(self, problem: str) -> str:
        return weights.how_to_get(self.file, problem)

    def files(self) -> list[tuple[str, Path, str]]:
        path = weights.models_dir() / self.file
        state = "ok" if weights.verify(self.file) else "damaged" if path.exists() else "missing"
        return [(self.file, path, state)]

    def derived(self) -> list:
        return [weights.torch_cache(self.file)]


def _build(variant: str, file: str):
    def build(download: bool) -> nn.Module:
        import torch

        from segcam.models.mediapipe import SelfieSegmentation

        path = weights.torch_weights_path(file, download=download)
        network = SelfieSegmentation(variant)
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return network.eval()

    return build


for _variant, _file, _size, _use in (
        ("landscape", "selfie_segmentation_landscape.tflite", (144, 256), "the fast default for 16:9 webcams"),
        ("general", "selfie_segmentation.tflite", (256, 256), "for square and portrait frames")):
    registry.register(registry.ModelSpec(
        name=f"mediapipe-{_variant}",
        input_size=_size,
        build=_build(_variant, _file),
        weights=MediaPipeWeights(_file, f"MediaPipe Selfie Segmentation ({_variant})"),
        description=f"MediaPipe Selfie Segmentation, {_variant} ({_size[1]}x{_size[0]}): {_use}",
        license="Apache-2.0 (Google MediaPipe)",
        quality=1,
        default_download=True,
    ))


def _selfie_segmentation(variant: str = "general") -> nn.Module:
    from segcam.models.mediapipe import SelfieSegmentation

    return SelfieSegmentation(variant)


architectures.register("mediapipe-selfie", _selfie_segmentation)
