"""Render the README's screenshots: the real window, offscreen, on a clip from ../shared.

    python -m tools.screenshots assets/screenshots

One PNG per effect (window-<effect>.png) plus the mask view. The window runs the real
pipeline on the stretch of the Hamilton clip where the singer faces the camera (the clip also
cuts to the audience), read as a looping image sequence; nothing else is staged. Weights come from the user's cache or, when
absent, are imported from ../shared/models into a temporary data folder; settings go to a
temporary folder too, so a run never touches the user's own.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

from segcam.io import video_frames

CLIP = "face_recognition_short_hamilton_clip_640x360.mp4"
SINGER_FRAMES = range(100, 206)  # where the clip shows the singer, not the audience
WINDOW_SIZE = (1320, 860)
EFFECTS = ("blur", "image", "video", "splash", "solid", "none")


def shared_dir() -> Path:
    return Path(os.environ.get("SEGCAM_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def _prepare_environment(workdir: Path) -> None:
    """Temporary settings always; temporary weights (from ../shared) only if none are installed."""
    os.environ["SEGCAM_CONFIG_DIR"] = str(workdir / "config")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from segcam.models import weights

    if not all(weights.verify(name) for name in weights.PINNED):
        os.environ["SEGCAM_DATA_DIR"] = str(workdir / "data")
        for name in weights.PINNED:
            weights.import_file(shared_dir() / "models" / name)


def drifting_video(picture: Path, path: Path, frames: int = 90) -> Path:
    """A slow pan across a picture: a calm looping background video, made here rather than shipped."""
    image = cv2.imread(str(picture))
    h, w = image.shape[:2]
    crop_w, crop_h = int(w * 0.8), int(h * 0.8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (640, 360))
    for i in range(frames):
        x = int((w - crop_w) * i / (frames - 1))
        crop = image[(h - crop_h) // 2 : (h + crop_h) // 2, x : x + crop_w]
        writer.write(cv2.resize(crop, (640, 360), interpolation=cv2.INTER_AREA))
    writer.release()
    return path


def clip_segment(clip: Path, folder: Path, frames: range = SINGER_FRAMES) -> Path:
    """Some frames of a clip as numbered PNGs: a source that loops over just those."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(video_frames(clip, limit=frames.stop)[frames.start:], start=frames.start):
        cv2.imwrite(str(folder / f"{index:04d}.png"), frame)
    return folder


def _wait(app, seconds: float, until=None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.01)
    return until is None


def render(outdir: Path, effects=EFFECTS, mask_view: bool = True) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    clip = shared_dir() / "data" / "clips" / CLIP
    if not clip.is_file():
        raise SystemExit(f"needs {clip} (the project's ../shared data folder)")
    with tempfile.TemporaryDirectory(prefix="segcam-shots-") as tmp:
        workdir = Path(tmp)
        _prepare_environment(workdir)
        from segcam.settings import Settings
        from segcam.ui import resources
        from segcam.ui.app import create_window

        backgrounds = {p.stem: p for p in resources.default_backgrounds()}
        video = drifting_video(backgrounds["soft-bokeh"], workdir / "drift.avi")
        singer = clip_segment(clip, workdir / "hamilton-clip")
        settings = Settings(source=str(singer), loop=True, effect="none", output="none",
                            background=str(backgrounds["bookshelf"]), background_video=str(video))
        window = create_window(settings)
        window.resize(*WINDOW_SIZE)
        window.show()
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        written = []
        try:
            if not _wait(app, 60, lambda: window.preview.frames_shown > 10 and window.running_settings is not None):
                raise SystemExit(f"the window showed no frames: {window.message_bar.text()}")
            for effect in effects:
                window.choose_effect(effect)
                _wait(app, 30, lambda: window.running_settings.effect.name == effect)
                _wait(app, 1.6)  # mask smoothing settles, thumbnails refresh
                written.append(_save(window, outdir / f"window-{effect}.png"))
            if mask_view:
                window.choose_effect("blur")
                window.set_view("mask")
                _wait(app, 1.2)
                written.append(_save(window, outdir / "window-mask-view.png"))
        finally:
            window.close()
        return written


def _save(window, path: Path) -> Path:
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--effects", nargs="+", choices=EFFECTS, default=list(EFFECTS))
    parser.add_argument("--no-mask-view", action="store_true")
    args = parser.parse_args(argv)
    for path in render(args.outdir, args.effects, not args.no_mask_view):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
