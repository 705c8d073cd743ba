"""Render the README's screenshots: the real window, offscreen, on a clip from ../shared.

    python -m tools.screenshots assets/screenshots

One PNG per effect (window-<effect>.png) plus the mask view, and closeup-models.jpg: the
Hamilton clip's close-up profile (frames 25-35) through MediaPipe and through Robust Video
Matting, each over the bookshelf background, with the models' own masks beneath; and a strip
of frames for each of the privacy guard, only me, framing, lens blur, low light and the
person's edge (feature-<name>.jpg, see tools/feature_strips.py). `--parts` renders some of them.

The window runs the real pipeline on the stretch of the Hamilton clip where the singer faces
the camera (the clip also cuts to the audience), read as a looping image sequence; nothing
else is staged. Weights come from the user's cache or, when absent, are imported from
../shared/models into a temporary data folder; settings go to a temporary folder too, so a
run never touches the user's own.
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
PARTS = ("window", "closeup", "features")


def shared_dir() -> Path:
    return Path(os.environ.get("SEGCAM_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


CLOSEUP_FRAMES = (25, 28, 31, 34)  # the singer in profile, close to the camera
CLOSEUP_MODELS = (("mediapipe-landscape", "MediaPipe (landscape)"), ("rvm", "Robust Video Matting (balanced)"))


def _prepare_environment(workdir: Path) -> None:
    """Temporary settings always; temporary weights (from ../shared) only if none are installed."""
    os.environ["SEGCAM_CONFIG_DIR"] = str(workdir / "config")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from segcam.models import install, registry, weights

    if not all(weights.verify(name) for name in weights.PINNED) or not registry.get("rvm").installed():
        os.environ["SEGCAM_DATA_DIR"] = str(workdir / "data")
        models = shared_dir() / "models"
        install.import_files([models / name for name in weights.PINNED])
        install.import_files([models / "rvm" / "model.json", models / "rvm" / "group1-shard1of1.bin"])


def render_closeup(outdir: Path) -> Path:
    """The close-up through each model: composited over the bookshelf, with each model's mask."""
    import numpy as np

    from segcam.processor import FrameProcessor
    from segcam.settings import Settings
    from segcam.ui import resources

    frames = video_frames(shared_dir() / "data" / "clips" / CLIP, limit=max(CLOSEUP_FRAMES) + 1)
    bookshelf = next(p for p in resources.default_backgrounds() if p.stem == "bookshelf")
    rows = []
    for model, title in CLOSEUP_MODELS:
        processor = FrameProcessor(Settings(model=model, effect="image", background=str(bookshelf)),
                                   choose_by_speed=False)
        shown, masks = [], []
        for index, frame in enumerate(frames):  # from the clip's start, so a recurrent state is real
            result = processor.process(frame)
            if index in CLOSEUP_FRAMES:
                shown.append(result.output)
                masks.append(cv2.cvtColor((result.alpha * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
        processor.close()
        strip = np.vstack([np.hstack(shown), np.hstack(masks)])
        strip = cv2.resize(strip, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        banner = np.full((28, strip.shape[1], 3), 32, np.uint8)
        cv2.putText(banner, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (235, 235, 235), 1, cv2.LINE_AA)
        rows.append(np.vstack([banner, strip]))
    path = outdir / "closeup-models.jpg"  # a photo: as JPEG a fifth of the PNG's size
    if not cv2.imwrite(str(path), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise OSError(f"could not write {path}")
    return path


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


def render(outdir: Path, effects=EFFECTS, mask_view: bool = True, parts=PARTS) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    clip = shared_dir() / "data" / "clips" / CLIP
    if not clip.is_file():
        raise SystemExit(f"needs {clip} (the project's ../shared data folder)")
    with tempfile.TemporaryDirectory(prefix="segcam-shots-") as tmp:
        workdir = Path(tmp)
        _prepare_environment(workdir)
        from segcam.ui import resources

        backgrounds = {p.stem: p for p in resources.default_backgrounds()}
        written = render_window(outdir, workdir, clip, backgrounds, effects, mask_view) if "window" in parts else []
        if "closeup" in parts:
            written.append(render_closeup(outdir))
        if "features" in parts:
            from tools.feature_strips import render_features

            written += render_features(outdir, shared_dir(), str(backgrounds["bookshelf"]))
        return written


def render_window(outdir: Path, workdir: Path, clip: Path, backgrounds: dict, effects, mask_view: bool) -> list[Path]:
    """The window on the singer's stretch of the clip: one shot per effect, and the mask view."""
    from segcam.settings import Settings
    from segcam.ui.app import create_window

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
            _wait(app, 10, lambda: _settled(window))
            written.append(_save(window, outdir / f"window-{effect}.png"))
        if mask_view:
            window.choose_effect("blur")
            window.set_view("mask")
            _wait(app, 1.2)
            _wait(app, 10, lambda: _settled(window))
            written.append(_save(window, outdir / "window-mask-view.png"))
    finally:
        window.close()
    return written


def _settled(window) -> bool:
    """The effect shows as it is: the privacy guard neither holds nor fades out (the segment's
    loop is a scene cut to it), and the status bar, a stats report behind, says so too."""
    result = window._last_result
    released = result is not None and (result.guard is None or result.guard.amount == 0.0)
    return released and "Privacy guard" not in window.stats_bar.source_status.text()


def _save(window, path: Path) -> Path:
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--effects", nargs="+", choices=EFFECTS, default=list(EFFECTS))
    parser.add_argument("--no-mask-view", action="store_true")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                        help="what to render (default all): the window, the models' close-up, the features' strips")
    args = parser.parse_args(argv)
    for path in render(args.outdir, args.effects, not args.no_mask_view, args.parts):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
