"""Personal calibration: the fast network learns RVM's masks for one person in one room.

RVM's masks are far better than MediaPipe's but cost tens of times more per frame, too much
for most CPUs live. So segcam runs it once, slowly, on a short recording of the user, and
fine-tunes the fast network on its labels:

1. record: frames in order, about MAX_FRAMES of them over the recording; a frame in which
   nothing moved since the last one kept is skipped (near-duplicates teach nothing);
2. label: RVM at its best setting over those frames in order, its recurrent state carried;
3. split in order into BLOCKS blocks: every fourth is held back for the check, and frames
   within a short time of a held-back one are not trained on (no near-twins on both sides);
4. train: the fast network, from its own weights, on the rest, within a time budget, with
   augmentation that keeps the room and person but varies light, position, scale and mirror;
5. check: IoU of the stock and the calibrated network against RVM on the held-back frames.

Nothing is written until `keep`, which refuses a model that is not better than stock: a
calibration that fails or is cancelled changes nothing. No Qt here: the app's dialog drives
this on a thread through `progress` and `cancelled`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from segcam.errors import SegcamError, SettingsError, SourceError
from segcam.models import calibrated

TEACHER, TEACHER_QUALITY = "rvm", "best"
BASES = ("auto", "mediapipe-landscape", "mediapipe-general", "segnet")
MAX_FRAMES = 300  # frames kept from a recording of any length: RVM labels each (0.1-0.3 s on 2 cores)
STORE_SIDE = 512  # frames are kept at most this wide: RVM's best input is 384, the fast network's 256
DUPLICATE_CHANGE = 1.5  # mean grey-level change of a 48x27 thumbnail under which a frame repeats the last
BLOCKS, HELD_EVERY, HELD_FIRST = 8, 4, 2  # blocks 2 and 6 of 0..7 are held back
MAX_GAP_S = 0.5  # no trained frame this close to a held-back one (less in a recording shorter than 20 s)
MIN_TRAIN, MIN_HELD = 4, 2
THRESHOLD = 0.5
BUDGET_S = {"cpu": 150.0, "gpu": 60.0}  # training time; the steps below usually end it first on a GPU
MAX_STEPS = 600
BATCH_SIZE = 8
LEARNING_RATE = 1e-3
# fine-tuning keeps the first layers (edges, colours) as they are: it generalised better to scenes
# not recorded (Hamilton's second half: 0.713 against 0.660 IoU trained whole), and steps are cheaper
FROZEN = ("stem.", "encoder.0.")

# stage, share of the whole run (for one progress bar), what it is in words
STAGES = (("record", 0.25, "Recording"), ("label", 0.25, "Labelling with RVM"),
          ("train", 0.45, "Training"), ("check", 0.05, "Checking"))
Progress = Callable[[str, float, str], None]  # (stage, fraction of that stage done, message)


class Cancelled(SegcamError):
    """The user stopped the calibration; nothing was written."""

    def __init__(self):
        super().__init__("Calibration cancelled; nothing was changed.")


def overall(stage: str, fraction: float) -> float:
    """How far the whole calibration is, 0..1, when `stage` is `fraction` done."""
    done = 0.0
    for name, share, _ in STAGES:
        if name == stage:
            return done + share * min(max(fraction, 0.0), 1.0)
        done += share
    return done


# -- 1. recording ---------------------------------------------------------------------------

def _thumbnail(frame: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (48, 27), interpolation=cv2.INTER_AREA).astype(np.float32)


def _stored(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = STORE_SIDE / max(height, width)
    if scale >= 1:
        return frame.copy()
    return cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


@dataclass
class Recording:
    """Frames of one source in order, with their times in seconds, shrunk to STORE_SIDE.

    `add` keeps a frame at most every `every_s` seconds, and only when something moved.
    """

    source: str  # as calibrated.source_key records it
    every_s: float = 0.0
    frame_size: tuple[int, int] | None = None  # (width, height) of the source's own frames
    frames: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    seen: int = 0
    duplicates: int = 0
    _last: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def for_seconds(cls, source: str | int, seconds: float) -> Recording:
        return cls(calibrated.source_key(source), every_s=seconds / MAX_FRAMES)

    def add(self, frame: np.ndarray, seconds: float) -> bool:
        """Offer the frame seen `seconds` after the start; True when it was kept."""
        self.seen += 1
        size = (frame.shape[1], frame.shape[0])
        if self.frame_size is None:
            self.frame_size = size
        if size != self.frame_size or (self.times and seconds - self.times[-1] < self.every_s * 0.999):
            return False
        thumbnail = _thumbnail(frame)
        if self._last is not None and float(np.abs(thumbnail - self._last).mean()) < DUPLICATE_CHANGE:
            self.duplicates += 1
            return False
        self.frames.append(_stored(frame))
        self.times.append(float(seconds))
        self._last = thumbnail
        return True


def record(source: str, seconds: float, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
           progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> Recording:
    """Record `seconds` of a camera, or take the first `seconds` of a video file (every frame read)."""
    from segcam.capture import CaptureThread

    if not seconds > 0:
        raise SettingsError(f"The recording must last more than 0 seconds, got {seconds}.")
    recording = Recording.for_seconds(source, seconds)
    capture = CaptureThread(source, size[0], size[1], fps, realtime=False)
    with capture:
        rate = capture.source_fps if capture.kind != "camera" else None
        started = None
        while True:
            if cancelled is not None and cancelled():
                raise Cancelled
            frame = capture.read(timeout=1.0)
            if frame is None:
                if capture.error is not None:
                    raise capture.error
                if capture.ended:
                    break
                if capture.kind == "camera" and started is not None and time.monotonic() - started > seconds + 5:
                    raise SourceError(f"Camera {source} stopped sending frames during the recording.")
                continue
            started = frame.timestamp if started is None else started
            at = frame.index / rate if rate else frame.timestamp - started
            if at >= seconds:
                break
            recording.add(frame.image, at)
            if progress is not None:
                progress("record", at / seconds, f"Recording: {at:.0f} of {seconds:.0f} s, "
                                                 f"{len(recording.frames)} frames kept")
    return recording


# -- 2-3. labels and the split ----------------------------------------------------------------

def label(frames: list[np.ndarray], device: str = "auto", download: bool = True,
          progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> list[np.ndarray]:
    """RVM's alpha for each frame, uint8 at the frame's size, the frames seen in order as one video."""
    from segcam.processor import FrameProcessor
    from segcam.settings import Settings

    processor = FrameProcessor(Settings(model=TEACHER, quality=TEACHER_QUALITY, device=device, effect="none",
                                        output="none"), download=download)
    processor.reset()
    labels = []
    for i, frame in enumerate(frames):
        if cancelled is not None and cancelled():
            raise Cancelled
        alpha = processor.matte(frame).raw_at(frame.shape[1], frame.shape[0])
        labels.append(np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8))
        if progress is not None:
            progress("label", (i + 1) / len(frames), f"Labelling with RVM: frame {i + 1} of {len(frames)}")
    return labels


def split(times: list[float]) -> tuple[list[int], list[int]]:
    """(trained, held back) frame indices: the frames in order, cut into BLOCKS blocks of as many
    frames, every fourth block held back; a frame closer in time than a small gap to a held-back
    one is in neither (it would be its near-twin)."""
    count = len(times)
    held = [i for i in range(count) if (i * BLOCKS // count) % HELD_EVERY == HELD_FIRST]
    if not held:
        return list(range(count)), []
    gap = min(MAX_GAP_S, (times[-1] - times[0]) / 40)
    trained = [i for i in range(count) if i not in held and min(abs(times[i] - times[h]) for h in held) >= gap]
    return trained, held


# -- 4-5. training and the check ---------------------------------------------------------------

@dataclass
class Calibration:
    """A calibrated network in memory, with the figures that say whether it is better."""

    source: str
    frame_size: tuple[int, int]
    base: str  # what it was trained from
    stock: str  # the registered model it is compared with
    model: object = field(repr=False)  # train.loop.Trainable, trained
    stock_iou: float = float("nan")
    calibrated_iou: float = float("nan")
    frames: dict = field(default_factory=dict)  # recorded, kept, duplicates, trained, held_back
    steps: int = 0
    seconds: dict = field(default_factory=dict)  # per stage
    device: str = "cpu"
    date: str = ""
    picture: np.ndarray | None = field(default=None, repr=False)  # side by side, BGR

    @property
    def better(self) -> bool:
        """Whether it beats stock on the held-back frames (IoU against RVM)."""
        return bool(self.calibrated_iou > self.stock_iou)

    def summary(self) -> str:
        verdict = "better than" if self.better else "not better than"
        return (f"IoU against RVM on {self.frames.get('held_back', 0)} held-back frames: stock {self.stock} "
                f"{self.stock_iou:.3f}, calibrated {self.calibrated_iou:.3f} ({verdict} stock)")

    def provenance(self) -> dict:
        return {
            "base": self.model.base,
            "license": "Apache-2.0 (Google MediaPipe)" if self.base.startswith("mediapipe") else
                       "segcam's own network, trained on your frames",
            "data": [(f"{self.frames.get('trained', 0)} frames of {self.source} labelled by {TEACHER} "
                      f"(quality {TEACHER_QUALITY})")],
            "metrics": {"stock_iou": self.stock_iou, "calibrated_iou": self.calibrated_iou, "threshold": THRESHOLD},
            "calibration": {
                "source": self.source, "frame_size": list(self.frame_size), "date": self.date,
                "base": self.base, "stock": self.stock, "teacher": f"{TEACHER} ({TEACHER_QUALITY})",
                "frames": dict(self.frames), "steps": self.steps, "device": self.device,
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            },
            "trained_at": self.date,
        }


def choose_base(base: str, frame_size: tuple[int, int]) -> tuple[str, str]:
    """(network to train, registered model to compare with) for a frame size."""
    from segcam.models import registry

    if base not in BASES:
        raise SettingsError(f"Unknown base {base!r}; choose one of {', '.join(BASES)}.")
    stock = registry.pick_for_frame(*frame_size)
    if base == "auto":
        return stock, stock
    return base, base if base != "segnet" else stock


def calibrate(recording: Recording, *, base: str = "auto", budget_s: float | None = None,
              max_steps: int | None = None, device: str = "auto", download: bool = True, seed: int = 0,
              progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> Calibration:
    """Label, split, train and check; see the module's docstring. Writes nothing."""
    import torch

    from segcam.segmenter import pick_device
    from segcam.train import augment, fit
    from segcam.train.datasets import LabelledFrames
    from segcam.train.loop import TrainConfig, trainable

    device = pick_device(device)
    frames, times = recording.frames, recording.times
    trained, held = split(times)
    if len(trained) < MIN_TRAIN or len(held) < MIN_HELD:
        raise SettingsError(f"Only {len(frames)} different frames were recorded ({len(trained)} to train on, "
                            f"{len(held)} to check with): record longer, and move around while it records.")
    base, stock = choose_base(base, recording.frame_size)
    seconds: dict[str, float] = {}

    started = time.monotonic()
    labels = label(frames, device, download, progress, cancelled)
    seconds["label"] = time.monotonic() - started

    started = time.monotonic()
    torch.manual_seed(seed)  # segnet starts from random weights: the same ones for the same seed
    model = trainable(TrainConfig(out_dir="", model=base))
    stock_model = model if base == stock else trainable(TrainConfig(out_dir="", model=stock))
    stock_network = copy.deepcopy(stock_model.network).eval()
    data = LabelledFrames([frames[i] for i in trained], [labels[i] for i in trained],
                          augment.CalibrationViews(model.input_size), f"{len(trained)} frames labelled by {TEACHER}")
    budget = budget_s if budget_s is not None else BUDGET_S["cpu" if device == "cpu" else "gpu"]
    max_steps = max_steps if max_steps is not None else MAX_STEPS

    def on_step(step: int, fraction: float, loss: float) -> None:
        if progress is not None:
            progress("train", fraction, f"Training: step {step}, loss {loss:.3f}")

    try:
        result = fit.fine_tune(model, data, max_steps=max_steps, budget_s=budget, batch_size=BATCH_SIZE,
                               lr=LEARNING_RATE, device=device, seed=seed, on_step=on_step, should_stop=cancelled,
                               frozen=() if base == "segnet" else FROZEN)
    except fit.Stopped:
        raise Cancelled from None
    seconds["train"] = time.monotonic() - started

    started = time.monotonic()
    if progress is not None:
        progress("check", 0.0, "Checking on the held-back frames")
    held_frames, held_truth = [frames[i] for i in held], [labels[i] >= 128 for i in held]
    stock_masks = _masks(stock_network, stock_model, held_frames, device)
    calibrated_masks = _masks(model.network, model, held_frames, device)
    calibration = Calibration(
        source=recording.source, frame_size=recording.frame_size, base=base, stock=stock, model=model,
        stock_iou=_mean_iou(stock_masks, held_truth), calibrated_iou=_mean_iou(calibrated_masks, held_truth),
        frames={"seen": recording.seen, "kept": len(frames), "duplicates": recording.duplicates,
                "trained": len(trained), "held_back": len(held)},
        steps=result.steps, device=device, date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    model.network.cpu()
    calibration.picture = comparison_picture(held_frames, held_truth, stock_masks, calibrated_masks, stock)
    seconds["check"] = time.monotonic() - started
    calibration.seconds = seconds
    if progress is not None:
        progress("check", 1.0, calibration.summary())
    return calibration


def _masks(network, model, frames: list[np.ndarray], device: str) -> list[np.ndarray]:
    from segcam import evaluate

    predict = evaluate.network_predictor(network, model.input_size, model.mean, model.std, device)
    return [predict(frame) >= THRESHOLD for frame in frames]


def _mean_iou(masks: list[np.ndarray], truths: list[np.ndarray]) -> float:
    from segcam.evaluate import iou

    return float(np.mean([iou(m, t) for m, t in zip(masks, truths)]))


# -- the picture --------------------------------------------------------------------------------

def _overlay(frame: np.ndarray, mask: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The person as the mask has it, the rest dimmed; RVM's outline in yellow."""
    out = frame.astype(np.float32)
    out[~mask] = out[~mask] * 0.25 + np.array([60, 20, 20], np.float32) * 0.75
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (0, 220, 255), 1, cv2.LINE_AA)
    return out


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, image.shape[1], 3), 32, np.uint8)
    cv2.putText(bar, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def comparison_picture(frames: list[np.ndarray], truths: list[np.ndarray], stock: list[np.ndarray],
                       calibrated_masks: list[np.ndarray], stock_name: str, rows: int = 3,
                       width: int = 320, tuned_title: str = "calibrated") -> np.ndarray:
    """Frames side by side, stock | calibrated (boolean masks; the teacher's outline in yellow),
    `rows` of them evenly spread over the list."""
    from segcam.evaluate import iou

    picks = sorted(set(np.linspace(0, len(frames) - 1, min(rows, len(frames))).round().astype(int).tolist()))
    lines = []
    for i in picks:
        height = round(frames[i].shape[0] * width / frames[i].shape[1])
        cells = []
        for masks, title in ((stock, f"stock {stock_name}"), (calibrated_masks, tuned_title)):
            cell = cv2.resize(_overlay(frames[i], masks[i], truths[i]), (width, height), interpolation=cv2.INTER_AREA)
            cells.append(_caption(cell, f"{title}: IoU {iou(masks[i], truths[i]):.3f}"))
        lines.append(np.hstack([cells[0], np.full((cells[0].shape[0], 4, 3), 255, np.uint8), cells[1]]))
    return np.vstack(lines)


# -- keeping -----------------------------------------------------------------------------------

def keep(calibration: Calibration, name: str, overwrite: bool = False) -> Path:
    """Write the calibrated model as calibrated/NAME.pt; refused when it is not better than stock."""
    from segcam.models import modelfile

    calibrated.check_name(name)
    if not calibration.better:
        raise SettingsError(f"The calibrated model was not kept: it is not better than stock on the held-back "
                            f"frames (IoU against RVM {calibration.calibrated_iou:.3f}, stock "
                            f"{calibration.stock_iou:.3f}).")
    path = check_free(name, overwrite)
    model = calibration.model
    modelfile.save(path, model.network, model.architecture, model.input_size, model.mean, model.std,
                   options=model.options, provenance=calibration.provenance())
    calibrated.sync()
    calibrated.forget_exports(name)  # an export of an earlier model of this name would run its weights
    return path


def check_free(name: str, overwrite: bool = False) -> Path:
    """The path for calibrated model `name`; SettingsError when one exists and may not be replaced."""
    calibrated.check_name(name)
    path = calibrated.path_for(name)
    if path.exists() and not overwrite:
        raise SettingsError(f"A calibrated model named {name} exists; choose another name, or replace it "
                            "(--overwrite).")
    return path


def free_name(stem: str = "my-room") -> str:
    """`stem`, or stem-2, stem-3…: the first name no calibrated model has."""
    taken = set(calibrated.names())
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name
