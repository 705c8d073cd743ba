"""The README's strips of frames for issue 12's features, from the shared clips.

    python -m tools.screenshots assets/screenshots --parts features

One JPEG per feature (feature-<name>.jpg; they are photos: a fifth of a PNG's size), each made by
the real FrameProcessor on frames of the Hamilton clip, from its first frame so the temporal
state is real; rows of frames, each row under a banner saying what it shows:
- guard: the privacy guard off and on (blur, and a picture), at the start, on a trusted mask,
  at the cut to the close-up and in it (MediaPipe's mask breaks up there), and after;
- only-me: someone (a cut-out from ../shared/data/cutouts) walking behind the singer, sent with
  everyone and with only me;
- framing: keep me centred, on the wide shot and on the close shot;
- lens: the soft and the lens blur at full strength, and a detail of the candles behind;
- low-light: the clip darkened to a third, with and without brightening;
- edges: the singer at frame 10 on the green background, MediaPipe's mask lifted plainly
  (before) and along the frame's edges (edge refinement, the default), and RVM's.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segcam.io import video_frames

STRIPS = ("guard", "only-me", "framing", "lens", "low-light", "edges")
TILE = (192, 108)  # each frame in a strip
BANNER = 22
TEXT = (235, 235, 235)
QUALITY = 82


def _label(image: np.ndarray, text: str, scale: float = 0.4) -> np.ndarray:
    """`text` on a dark band at the top left of a copy of `image`."""
    image = image.copy()
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (0, 0), (width + 8, height + 8), (24, 24, 24), -1)
    cv2.putText(image, text, (4, height + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, 1, cv2.LINE_AA)
    return image


def _strip(rows: list[tuple[str, list]], tile: tuple[int, int] = TILE) -> np.ndarray:
    """Rows of frames (scaled to `tile`), each under a banner with its title. A frame may come
    as (frame, label): the label is written on it once scaled."""
    width = max(len(frames) for _, frames in rows) * tile[0]
    parts = []
    for title, frames in rows:
        banner = np.full((BANNER, width, 3), 32, np.uint8)
        cv2.putText(banner, title, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, TEXT, 1, cv2.LINE_AA)
        tiles = []
        for item in frames:
            frame, label = item if isinstance(item, tuple) else (item, "")
            frame = cv2.resize(frame, tile, interpolation=cv2.INTER_AREA)
            tiles.append(_label(frame, label) if label else frame)
        row = np.hstack(tiles)
        parts += [banner, cv2.copyMakeBorder(row, 0, 0, 0, width - row.shape[1], cv2.BORDER_CONSTANT)]
    return np.vstack(parts)


def _results(frames, **settings):
    """Every frame through a FrameProcessor with these settings (the model named, never by speed)."""
    from segcam.processor import FrameProcessor
    from segcam.settings import Settings

    processor = FrameProcessor(Settings(**settings), choose_by_speed=False)
    try:
        return [processor.process(frame) for frame in frames]
    finally:
        processor.close()


def guard_strip(clip: list[np.ndarray], bookshelf: str) -> np.ndarray:
    shown = (0, 12, 20, 48, 90)  # starting, trusted, the cut, MediaPipe's broken close-up, trusted again
    frames = clip[:max(shown) + 1]
    model = "mediapipe-landscape"
    off = _results(frames, model=model, effect="blur", guard=False)
    on = _results(frames, model=model, effect="blur")
    picture = _results(frames, model=model, effect="image", background=bookshelf)

    def state(result) -> str:
        verdict = result.guard
        return f"holding: {verdict.reason}" if verdict.holding else "fading" if verdict.amount else "released"

    return _strip([
        ("The camera (the Hamilton clip: the start, the cut to a close-up at frame 20)",
         [(clip[i], f"frame {i}") for i in shown]),
        ("Blur, privacy guard off (MediaPipe)", [off[i].output for i in shown]),
        ("Blur, privacy guard on (the default)", [(on[i].output, state(on[i])) for i in shown]),
        ("A picture, privacy guard on: only the picture while it holds", [picture[i].output for i in shown]),
    ])


def _walking_behind(frames: list[np.ndarray], cutout: np.ndarray) -> list[np.ndarray]:
    """The frames with the cut-out walking right to left behind the singer's shoulder."""
    from segcam.train.datasets import _paste

    height = frames[0].shape[0]
    walked = []
    for index, frame in enumerate(frames):
        image, mask = frame.astype(np.float32), np.zeros(frame.shape[:2], np.float32)
        _paste(image, mask, cutout, height - cutout.shape[0], int(600 - 3.5 * index) - cutout.shape[1] // 2)
        walked.append(image.astype(np.uint8))
    return walked


def only_me_strip(clip: list[np.ndarray], bookshelf: str, cutout: np.ndarray) -> np.ndarray:
    frames = _walking_behind(clip[100:140], cutout)
    shown = (12, 22, 30, 39)  # (the privacy guard holds the first frames of a run)
    settings = dict(model="rvm", effect="image", background=bookshelf)
    everyone = _results(frames, **settings)
    only_me = _results(frames, only_me=True, **settings)
    return _strip([
        ("The camera: someone walks past behind (a cut-out pasted into the clip)", [frames[i] for i in shown]),
        ("Everyone (the default)", [everyone[i].output for i in shown]),
        ("Only me (--only-me): the main person is followed, everyone else is the room",
         [only_me[i].output for i in shown]),
    ])


def framing_strip(clip: list[np.ndarray]) -> np.ndarray:
    shown = (0, 10, 19, 120, 180)  # the wide shot, then the close shot
    frames = clip[:max(shown) + 1]
    framed = _results(frames, model="rvm", effect="none", frame_me=True)
    return _strip([
        ("The camera", [clip[i] for i in shown]),
        ("Keep me centred (--frame-me): head and shoulders, at most 1.6x; a close shot is left as it is",
         [framed[i].output for i in shown]),
    ])


def lens_strip(clip: list[np.ndarray]) -> np.ndarray:
    from segcam.effects import blend
    from segcam.effects.blur import blur_background, lens_blur

    index = 10  # the wide shot: candles, a lit face and a logo behind the singer
    result = _results(clip[:index + 1], model="rvm", effect="none")[index]
    frame, alpha = result.frame, result.alpha
    soft = blend(frame, blur_background(frame, alpha, 1.0), alpha)
    lens = blend(frame, lens_blur(frame, alpha, 1.0), alpha)
    detail = (slice(90, 270), slice(0, 320))  # the left: the pianist's face, the candles
    tile = (320, 180)
    return _strip([
        ("The camera | soft blur (the default) | lens blur (--blur-style lens), at full strength",
         [frame, soft, lens]),
        ("The left at twice the size: lights and bright faces become round discs",
         [frame[detail], soft[detail], lens[detail]]),
    ], tile)


def low_light_strip(clip: list[np.ndarray]) -> np.ndarray:
    shown = (100, 130, 160, 190)
    frames = [cv2.convertScaleAbs(frame, alpha=0.33) for frame in clip[:max(shown) + 1]]
    plain = _results(frames, model="rvm", effect="blur")
    lifted = _results(frames, model="rvm", effect="blur", low_light=True)
    return _strip([
        ("A dim room: the clip at a third of its brightness", [frames[i] for i in shown]),
        ("Blur", [plain[i].output for i in shown]),
        ("Blur, brighten a dim room (--low-light): judged on the person, eased over time",
         [lifted[i].output for i in shown]),
    ])


def edges_strip(clip: list[np.ndarray]) -> np.ndarray:
    index = 10  # the wide shot: a dark suit against a dark stage
    frames = clip[:index + 1]
    crop = (slice(20, 360), slice(380, 640))  # the singer
    shown = [(clip[index][crop], "the camera")]
    for label, model, refine in (("MediaPipe, before", "mediapipe-landscape", False),
                                 ("MediaPipe, edge refinement", "mediapipe-landscape", True),
                                 ("RVM, edge refinement", "rvm", True)):
        result = _results(frames, model=model, effect="solid", guard=False, edge_refine=refine)[index]
        shown.append((result.output[crop], label))
    return _strip([("On the green background (--effect solid): the Hamilton clip, frame 10, at 1.5 times the size",
                    shown)], (390, 510))


def render_features(outdir: Path, shared: Path, bookshelf: str, strips=STRIPS) -> list[Path]:
    """Write feature-<name>.jpg for each of `strips` into outdir."""
    clip = video_frames(shared / "data" / "clips" / "face_recognition_short_hamilton_clip_640x360.mp4")
    cutout = cv2.imread(str(shared / "data" / "cutouts" / "rgba" / "1_10.png"), cv2.IMREAD_UNCHANGED)
    makers = {"guard": lambda: guard_strip(clip, bookshelf), "only-me": lambda: only_me_strip(clip, bookshelf, cutout),
              "framing": lambda: framing_strip(clip), "lens": lambda: lens_strip(clip),
              "low-light": lambda: low_light_strip(clip), "edges": lambda: edges_strip(clip)}
    written = []
    for name in strips:
        path = outdir / f"feature-{name}.jpg"
        if not cv2.imwrite(str(path), makers[name](), [cv2.IMWRITE_JPEG_QUALITY, QUALITY]):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written
