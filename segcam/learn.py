"""The online learner: segcam learns the user's room by itself while they talk.

Online distillation (after JITNet: Mullapudi et al., ICCV 2019), made for a CPU, one person
and a call that must never stutter. `segcam calibrate` is the explicit, offline version; this
reuses its views, frozen layers and training (segcam.train.fit):

- sampling: the pipeline hands `Learner.offer` the frames it already has; at most one every
  SAMPLE_EVERY_S reaches the worker, a near-duplicate of the last one sent does not, and a busy
  worker misses samples (its inbox holds INBOX) rather than queueing them;
- labels: RVM at its best setting, its recurrent state settled by SETTLE feeds of the frame;
- memory: frames (shrunk to calibrate.STORE_SIDE) and labels stay in memory, BUFFER of them;
  every HELD_EVERY-th is held back for the checks. No frame is written anywhere; only weights;
- rounds: the live network is fine-tuned from where it stands; the result is offered only when
  it beats both the live and the stock network against RVM on the held-back frames by MARGIN;
  an offered network is kept at once, atomically, as a calibrated model of this source and
  frame size (`auto` runs it at the next start, and the learner goes on from it);
- drift: each new held-back frame is scored with the live and the stock network; when the live
  one falls below stock over the last DRIFT_WINDOW of them, stock is offered back (said in the
  status), the older frames are dropped, and learning starts again.

The worker is a child process at the lowest priority with one torch thread (see WORKER); it
also pauses while the pipeline says it is falling behind. The parent side (`Learner`) turns
an offer into a runner off the live path; the pipeline swaps it in between frames through the
processor, which is not a model switch: the privacy guard, the refiner and the scene state
carry on. No Qt here.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import queue
import re
import threading
import time
import warnings
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import cv2
import numpy as np

from segcam.errors import SegcamError

log = logging.getLogger(__name__)

TEACHER, TEACHER_QUALITY = "rvm", "best"
# Feeds of one still to settle RVM's recurrent state. Measured by tools/teacher_settle.py against
# RVM run over the whole clip in order, on one thread: on the Hamilton clip (30 sampled frames)
# one feed 0.748 IoU, three 0.747, five 0.746, a burst of the 3 frames before 0.747, of 5 0.757;
# carphone (12) 0.993, 0.994, 0.994, 0.995, 0.996. More feeds cost as many times more: one.
SETTLE = 1
SAMPLE_EVERY_S = 1.0
INBOX = 2
BUFFER = 100  # labelled frames in memory, about 0.6 MB each at 512x288
HELD_EVERY = 3  # every third labelled frame is held back
MIN_FRAMES = 9  # labelled before the first round: 6 to train on, 3 to check with
NEW_PER_ROUND = 3  # new labelled frames before the next round
ROUND_STEPS, ROUND_BUDGET_S = 60, 40.0  # the budget in the worker's CPU seconds
BATCH_SIZE, LEARNING_RATE = 8, 1e-3
MARGIN = 0.01  # IoU a round must gain over both the live and the stock network
DRIFT_WINDOW = 4  # recent held-back frames on which the live network must not fall below stock
THRESHOLD = 0.5
# share of one core the worker may use: on two cores it sleeps as long as it worked
DUTY = 0.5 if (os.cpu_count() or 1) <= 2 else 1.0
# "process": a child at nice 19 (os.nice lowers the whole process, its GIL is its own);
# "thread": in this process, the thread alone niced where Linux allows. Chosen by measurement:
# see the README's section on learning.
WORKER = "process"
FINE_TUNABLE_ARCHITECTURE = "mediapipe-selfie"


class Stop(Exception):
    """The learner was stopped between two steps; the round in progress is dropped."""


@dataclass(frozen=True)
class Plan:
    """What a worker learns: picklable, so a child process can have it."""

    source: str  # calibrated.source_key of the source
    frame_size: tuple[int, int]  # (width, height)
    live: str  # the registered name of the running network
    start: str  # what trainable() builds it from: a MediaPipe name or a model file
    stock: str  # the network to compare with and to go back to (a MediaPipe name or a model file)
    stock_name: str  # its registered name, for people
    name: str  # the calibrated name what is learned is kept under
    export_onnx: bool  # offers carry an ONNX export (the live network runs in ONNX Runtime)
    settle: int = SETTLE
    round_steps: int = ROUND_STEPS
    round_budget_s: float = ROUND_BUDGET_S
    min_frames: int = MIN_FRAMES
    duty: float = DUTY
    seed: int = 0


@dataclass
class Progress:
    """The learner's state as both sides see it (the worker sends it after each change)."""

    state: str = "starting"  # starting, labelling, training, waiting, paused, stopped, failed
    labelled: int = 0
    held: int = 0
    rounds: int = 0
    swaps: int = 0
    reverts: int = 0
    steps: int = 0
    stock_iou: float | None = None  # stock against RVM on the held-back frames (agreement before)
    live_iou: float | None = None  # the live network on the same frames (agreement now)
    cpu_s: float = 0.0  # the worker's own CPU time
    first_swap_s: float | None = None  # seconds from the start to the first swap
    kept_as: str | None = None
    note: str = ""  # the last thing worth saying (a swap, a revert, a save that failed)
    error: str = ""


# -- the parent side ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """Learning as a front end asks for it: `name` to keep it under (default: one per source and
    frame size, or the running learned model's own), and where the worker runs."""

    name: str | None = None
    worker: str = WORKER


def why_not(processor) -> str | None:
    """One sentence on why the running model cannot learn, or None when it can."""
    from segcam.models import registry

    segmenter = processor.segmenter
    try:
        teacher = registry.get(TEACHER)
    except SegcamError:
        teacher = None
    if teacher is None or not teacher.installed():
        return ("Learning is off: it needs RVM's weights, its teacher; `segcam models download rvm` fetches them "
                "(4.3 MB).")
    if segmenter is None:
        return "Learning is off: no network is running yet."
    if segmenter.name == TEACHER or segmenter.recurrent:
        return f"Learning is off: the running model is {segmenter.name}, the teacher itself."
    if _architecture(segmenter.name) != FINE_TUNABLE_ARCHITECTURE:
        return (f"Learning is off: it tunes MediaPipe's networks and the models calibrated from them, and "
                f"{segmenter.name} is neither.")
    return None


def _architecture(name: str) -> str | None:
    from segcam.models import calibrated, modelfile
    from segcam.train.loop import FINE_TUNABLE

    if name in FINE_TUNABLE:
        return FINE_TUNABLE_ARCHITECTURE
    entry = next((e for e in calibrated.entries() if e.name == name), None)
    if entry is None:
        return None
    try:
        return modelfile.read(entry.path).architecture
    except SegcamError:
        return None


def wanted_by_default(settings) -> bool:
    """The app's "Learn my room" when the user has not chosen: on wherever RVM's weights are
    installed and the chosen model is not RVM itself."""
    from segcam.models import registry

    try:
        installed = registry.get(TEACHER).installed()
    except SegcamError:
        return False
    return installed and settings.model.name != TEACHER


def learned_names(source: str | None = None) -> list[str]:
    """The models the learner kept (of one source, or all)."""
    from segcam.models import calibrated

    key = calibrated.source_key(source) if source is not None else None
    return [e.name for e in calibrated.entries() if e.calibration.get("learned")
            and (key is None or str(e.calibration.get("source")) == key)]


def forget(source: str | None = None) -> list[str]:
    """Delete what was learned (of one source, or all); lines saying what went."""
    from segcam.models import calibrated

    lines = []
    for name in learned_names(source):
        lines += calibrated.remove(name)
    return lines


def default_name(source: str, width: int, height: int) -> str:
    """learned-camera0-1280x720, learned-hamilton_clip-1a2b3c-640x360: one per source and size."""
    from segcam.models import calibrated

    key = calibrated.source_key(source)
    if key.isdigit():
        where = f"camera{key}"
    else:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", os.path.basename(key).rsplit(".", 1)[0])[:12].strip("-.") or "video"
        where = f"{stem}-{zlib.crc32(key.encode()):08x}"[:22]
    return f"learned-{where}-{width}x{height}"


def plan_for(processor, source: str, frame_size: tuple[int, int], name: str | None = None) -> Plan:
    """What to learn for the running network: from where it stands, kept under `name` (by default
    the running learned model's own name, else one per source and frame size)."""
    from segcam.models import calibrated, registry

    segmenter = processor.segmenter
    live = segmenter.name
    entry = next((e for e in calibrated.entries() if e.name == live), None)
    start = str(entry.path) if entry is not None else live
    stock, stock_name = start, live
    if entry is not None and entry.calibration.get("learned"):
        # a learned model goes on learning; it goes back to what it was learned from
        stock_name = str(entry.calibration.get("stock") or registry.pick_for_frame(*frame_size))
        stock_entry = next((e for e in calibrated.entries() if e.name == stock_name), None)
        stock = str(stock_entry.path) if stock_entry is not None else stock_name
        name = name or live
    name = calibrated.check_name(name or default_name(source, *frame_size))
    return Plan(source=calibrated.source_key(source), frame_size=tuple(frame_size), live=live, start=start,
                stock=stock, stock_name=stock_name, name=name, export_onnx=segmenter.runtime == "onnxruntime")


@dataclass
class Swap:
    """A network ready to run, from the learner: `runner` goes into the segmenter between frames."""

    live: str  # the running model it was learned for
    runner: object
    to: str  # "learned" or "stock"
    note: str


class Learner:
    """The pipeline's side of the learner: samples frames for the worker, turns its offers into
    runners (on a thread of its own, off the live path), and keeps the worker's progress."""

    def __init__(self, plan: Plan, segmenter, worker: str = WORKER):
        self.plan = plan
        self._segmenter = segmenter  # for building runners like the live one's
        self.progress = Progress()
        self.started = time.monotonic()
        self.missed = 0  # samples the busy worker had no room for
        self._last_sent = -1e9
        self._thumbnail: np.ndarray | None = None
        self._lock = threading.Lock()
        self._swap: Swap | None = None
        self._kept = False
        self._told_failure = False
        if worker == "process":
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # no fork of a process with threads
            self._inbox, self._outbox = context.Queue(INBOX), context.Queue()
            self._stop, self._go = context.Event(), context.Event()
            self._go.set()
            self._worker = context.Process(target=serve, args=(plan, self._inbox, self._outbox, self._stop, self._go,
                                                                True), name="segcam-learner", daemon=True)
        else:
            self._inbox, self._outbox = queue.Queue(INBOX), queue.Queue()
            self._stop, self._go = threading.Event(), threading.Event()
            self._go.set()
            self._worker = threading.Thread(target=serve, args=(plan, self._inbox, self._outbox, self._stop, self._go,
                                                                 False), name="segcam-learner", daemon=True)
        self._worker.start()
        if worker == "process" and hasattr(os, "setpriority"):
            try:  # niced from its first instruction: importing torch and loading RVM come before serve()
                os.setpriority(os.PRIO_PROCESS, self._worker.pid, 19)
            except OSError:
                pass
        self._receiver = threading.Thread(target=self._receive, name="segcam-learner-offers", daemon=True)
        self._receiver.start()

    # -- from the pipeline's worker thread, once per frame -----------------------------------

    def offer(self, frame: np.ndarray, now: float | None = None) -> bool:
        """A frame the pipeline has; True when it was sent to be labelled. Cheap: most frames are
        let go at the first test, a sampled one costs a thumbnail and one shrink."""
        from segcam.calibrate import DUPLICATE_CHANGE, _stored, _thumbnail

        now = time.monotonic() if now is None else now
        if now - self._last_sent < SAMPLE_EVERY_S or not self.alive:
            return False
        thumbnail = _thumbnail(frame)
        if self._thumbnail is not None and float(np.abs(thumbnail - self._thumbnail).mean()) < DUPLICATE_CHANGE:
            self._last_sent = now  # looked at: the next look in a second
            return False
        try:
            self._inbox.put_nowait(_stored(frame))
        except queue.Full:
            self.missed += 1
            return False
        finally:
            self._last_sent = now
        self._thumbnail = thumbnail
        return True

    def falling_behind(self, behind: bool) -> None:
        """The live path cannot keep up: the worker waits until it can."""
        if behind and self._go.is_set():
            self._go.clear()
        elif not behind and not self._go.is_set():
            self._go.set()

    def take_swap(self) -> Swap | None:
        with self._lock:
            swap, self._swap = self._swap, None
            return swap

    def take_kept(self) -> bool:
        """Whether a learned model was written since last asked (the registry must read it)."""
        with self._lock:
            kept, self._kept = self._kept, False
            return kept

    @property
    def alive(self) -> bool:
        return self._worker.is_alive() and self.progress.state not in ("failed", "stopped")

    # -- the receiver thread -------------------------------------------------------------------

    def _receive(self) -> None:
        while True:
            try:
                message = self._outbox.get(timeout=0.5)
            except queue.Empty:
                if not self._worker.is_alive():
                    if self.progress.state not in ("stopped", "failed") and not self._stop.is_set():
                        code = getattr(self._worker, "exitcode", None)
                        self._failed(f"the learner ended unexpectedly (exit code {code}; out of memory?)")
                    return
                continue
            try:
                self._handle(message)
            except Exception as exc:  # noqa: BLE001 - an offer that cannot be run is dropped, not the call
                log.warning("segcam: an offer from the learner could not be used (%s: %s)", type(exc).__name__, exc)
            if message.get("kind") == "progress" and message["progress"]["state"] in ("stopped", "failed"):
                return

    def _handle(self, message: dict) -> None:
        kind = message.get("kind")
        if kind == "progress":
            self.progress = Progress(**message["progress"])
            if self.progress.state == "failed":
                self._failed(self.progress.error)
            if message.get("kept"):
                from segcam.models import calibrated

                calibrated.sync()  # here, not on the live path: it reads the new file
                with self._lock:
                    self._kept = True
        elif kind == "offer":
            runner = self._segmenter.runner_for(message.get("onnx"), message["state"])
            with self._lock:
                self._swap = Swap(self.plan.live, runner, message["to"], message["note"])

    def _failed(self, error: str) -> None:
        self.progress.state, self.progress.error = "failed", error
        if not self._told_failure:
            self._told_failure = True
            log.warning("segcam: learning stopped (%s); the call goes on with the network it has.", error)

    # -- the end -----------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker: a round in progress is dropped; what was kept stays whole."""
        self._stop.set()
        self._go.set()
        if hasattr(self._inbox, "cancel_join_thread"):
            # a frame may wait in the pipe to a worker that reads no more: this process must not
            # wait for it at exit
            self._inbox.cancel_join_thread()
        self._worker.join(timeout)
        if self._worker.is_alive() and hasattr(self._worker, "terminate"):
            self._worker.terminate()  # it writes files only by rename: nothing is left half-written
            self._worker.join(2)
        self._receiver.join(2)
        if self.progress.state not in ("failed",):
            self.progress.state = "stopped"

    def status_line(self) -> str:
        """The quiet status: "Learning your room: 3 min; agreement with RVM 0.81 -> 0.92"."""
        p = self.progress
        if p.state == "failed":
            return f"Learning stopped: {p.error}"
        minutes = (time.monotonic() - self.started) / 60
        took = f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
        if p.state == "paused":
            return f"Learning your room: {took}; waiting while the call needs the computer"
        if p.stock_iou is None or p.live_iou is None:
            return f"Learning your room: {took}; {p.labelled} frames labelled by RVM"
        return f"Learning your room: {took}; agreement with RVM {p.stock_iou:.2f} -> {p.live_iou:.2f}"

    def report(self) -> dict:
        """What `segcam run --json` says under "learned"."""
        p = self.progress
        return {"agreement_before": _rounded(p.stock_iou), "agreement_after": _rounded(p.live_iou),
                "frames": p.labelled, "held_back": p.held, "rounds": p.rounds, "swaps": p.swaps,
                "reverts": p.reverts, "steps": p.steps, "cpu_seconds": round(p.cpu_s, 1),
                "first_swap_s": _rounded(p.first_swap_s, 1), "kept_as": p.kept_as,
                "seconds": round(time.monotonic() - self.started, 1), "missed_samples": self.missed,
                "state": p.state, "why_not": p.error or (None if p.kept_as else _why_none_kept(p))}


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _why_none_kept(p: Progress) -> str:
    if p.labelled < MIN_FRAMES:
        return f"only {p.labelled} frames were labelled; the first round needs {MIN_FRAMES}"
    if p.rounds == 0:
        return "no round finished"
    return f"no round beat both the live and the stock network by {MARGIN} IoU on the held-back frames"


# -- the worker ------------------------------------------------------------------------------------

def serve(plan: Plan, inbox, outbox, stop, go, own_process: bool) -> None:
    """The worker's loop: label what arrives, train in rounds, offer what is better. Runs until
    `stop`; any error ends it with a "failed" progress (the call goes on)."""
    if own_process:
        # Ctrl-C reaches the whole process group; the parent stops this one by `stop`, and the
        # round it drops is not a failure
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority(own_process)
    worker = _Worker(plan, outbox, stop, go, time.process_time if own_process else time.thread_time)
    try:
        worker.run(inbox)
    except Stop:
        worker.progress.state = "stopped"
    except BaseException as exc:  # noqa: BLE001 - MemoryError included: said, and the call goes on
        worker.progress.state = "failed"
        worker.progress.error = _sentence(exc)
    else:
        worker.progress.state = "stopped"
    worker.send()


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _lower_priority(own_process: bool) -> None:
    import torch

    try:
        if own_process:
            os.nice(19)
        elif hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
            # Linux nices a thread alone by its id; elsewhere this raises or lowers nothing
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError:
        pass
    if own_process:
        torch.set_num_threads(1)  # in a thread this would set the whole process's torch


@dataclass
class _Labelled:
    image: np.ndarray
    label: np.ndarray  # uint8, 255 = person
    held: bool
    stock_iou: float | None = None  # held-back frames only
    live_iou: float | None = None


class _Worker:
    def __init__(self, plan: Plan, outbox, stop, go, clock):
        self.plan, self.outbox, self.stop, self.go, self.clock = plan, outbox, stop, go, clock
        self.progress = Progress()
        self.frames: list[_Labelled] = []
        self.new_since_round = 0
        self.started = time.monotonic()
        self._cpu0 = clock()
        self._busy_since: float | None = None

    # -- plumbing --

    def send(self, **extra) -> None:
        self.progress.cpu_s = self.clock() - self._cpu0
        self.outbox.put({"kind": "progress", "progress": asdict(self.progress), **extra})

    def checkpoint(self) -> None:
        """Between two pieces of work: stop when told; wait while the live path falls behind;
        and sleep so that the work stays within the duty share of a core."""
        if self.stop.is_set():
            raise Stop
        if not self.go.is_set():
            state, self.progress.state = self.progress.state, "paused"
            self.send()
            while not self.go.wait(0.5):
                if self.stop.is_set():
                    raise Stop
            self.progress.state = state
        if self._busy_since is not None and self.plan.duty < 1.0:
            # the CPU it used, not the time it took: a niced process on a busy machine waits long
            rest = (self.clock() - self._busy_since) * (1.0 / self.plan.duty - 1.0)
            if self.stop.wait(min(rest, 5.0)):
                raise Stop
        self._busy_since = self.clock()

    # -- the loop --

    def run(self, inbox) -> None:
        import torch

        from segcam.segmenter import Segmenter
        from segcam.train.loop import TrainConfig, trainable

        torch.manual_seed(self.plan.seed)
        self.live = trainable(TrainConfig(out_dir="", model=self.plan.start))
        self.stock = trainable(TrainConfig(out_dir="", model=self.plan.stock))
        # trained round after round whether or not a round is offered: rounds add up (one round of
        # 20 steps from stock lost 0.25 IoU on the Hamilton clip, 60 lost 0.03, 120 lost 0.01)
        self.student = copy.deepcopy(self.live)
        self.live_is_stock = self.plan.start == self.plan.stock
        self.teacher: Segmenter | None = None
        self.progress.state = "labelling"
        self.send()
        while True:
            self._busy_since = None  # waiting for a frame is not work
            try:
                image = inbox.get(timeout=0.5)
            except queue.Empty:
                if self.stop.is_set():
                    raise Stop from None
                continue
            if image is None:
                raise Stop
            self.checkpoint()
            self.add(image)
            if len(self.frames) >= self.plan.min_frames and self.new_since_round >= NEW_PER_ROUND:
                self.round()

    def label(self, image: np.ndarray) -> np.ndarray:
        from segcam.segmenter import Segmenter

        height, width = image.shape[:2]
        if self.teacher is None or self.teacher_size != (width, height):
            self.teacher = Segmenter(TEACHER, "cpu", download=False, frame_size=(width, height),
                                     quality=TEACHER_QUALITY, threads=1)
            self.teacher_size = (width, height)
        self.teacher.reset()
        for _ in range(self.plan.settle):
            alpha = self.teacher.predict(image)
            self.checkpoint()
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def add(self, image: np.ndarray) -> None:
        self.progress.state = "labelling"
        label = self.label(image)
        held = self.progress.labelled % HELD_EVERY == HELD_EVERY - 1
        item = _Labelled(image, label, held)
        self.progress.labelled += 1
        if held:
            truth = label >= 128
            item.stock_iou = _score(self.stock, [image], [truth])[0]
            item.live_iou = item.stock_iou if self.live_is_stock else _score(self.live, [image], [truth])[0]
        else:
            self.new_since_round += 1
        self.frames.append(item)
        if len(self.frames) > BUFFER:
            self.frames.pop(0)
        self._update_figures()
        if held:
            self.check_drift()
        self.send()

    def _update_figures(self) -> None:
        held = [f for f in self.frames if f.held]
        self.progress.held = len(held)
        if held:
            self.progress.stock_iou = float(np.mean([f.stock_iou for f in held]))
            self.progress.live_iou = float(np.mean([f.live_iou for f in held]))

    def check_drift(self) -> None:
        """Back to stock when the live network fell below it on the recent held-back frames."""
        if self.live_is_stock:
            return
        recent = [f for f in self.frames if f.held][-DRIFT_WINDOW:]
        if len(recent) < DRIFT_WINDOW:
            return
        live, stock = np.mean([f.live_iou for f in recent]), np.mean([f.stock_iou for f in recent])
        if live >= stock:
            return
        self.live = copy.deepcopy(self.stock)
        self.student = copy.deepcopy(self.stock)
        self.live_is_stock = True
        # the room, the light or the person changed: what came before teaches the old scene
        first_recent = next(i for i, f in enumerate(self.frames) if f is recent[0])
        self.frames = self.frames[first_recent:]
        for f in self.frames:
            f.live_iou = f.stock_iou
        self.new_since_round = sum(not f.held for f in self.frames)
        self.progress.reverts += 1
        self.progress.note = (f"Back to {self.plan.stock_name}: what was learned agreed with RVM {live:.2f} on the "
                              f"last {DRIFT_WINDOW} checks, {self.plan.stock_name} {stock:.2f}; learning again.")
        self._update_figures()
        self.offer("stock", self.progress.note)

    def round(self) -> None:
        from segcam.calibrate import FROZEN
        from segcam.train import augment, fit
        from segcam.train.datasets import LabelledFrames

        self.new_since_round = 0
        trained = [f for f in self.frames if not f.held]
        held = [f for f in self.frames if f.held]
        self.progress.state = "training"
        self.send()
        candidate = self.student
        data = LabelledFrames([f.image for f in trained], [f.label for f in trained],
                              augment.CalibrationViews(candidate.input_size))
        try:
            result = fit.fine_tune(candidate, data, max_steps=self.plan.round_steps,
                                   budget_s=self.plan.round_budget_s, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                                   device="cpu", seed=self.plan.seed + self.progress.rounds, frozen=FROZEN,
                                   should_stop=self._between_steps, clock=self.clock)
        except fit.Stopped:
            raise Stop from None
        self.progress.rounds += 1
        self.progress.steps += result.steps
        truths = [f.label >= 128 for f in held]
        scores = _score(candidate, [f.image for f in held], truths)
        ours = float(np.mean(scores))
        live = float(np.mean([f.live_iou for f in held]))
        stock = float(np.mean([f.stock_iou for f in held]))
        self.progress.state = "labelling"
        if ours < max(live, stock) + MARGIN:
            self.progress.note = (f"Round {self.progress.rounds}: {ours:.3f} against RVM, not better than the live "
                                  f"{live:.3f} and stock {stock:.3f} by {MARGIN}; kept learning.")
            self.send()
            return
        self.live, self.live_is_stock = copy.deepcopy(candidate), False
        for f, score in zip(held, scores):
            f.live_iou = score
        self._update_figures()
        self.progress.swaps += 1
        if self.progress.first_swap_s is None:
            self.progress.first_swap_s = time.monotonic() - self.started
        note = (f"Round {self.progress.rounds}: agreement with RVM {ours:.3f}, live was {live:.3f}, "
                f"stock {stock:.3f}")
        self.offer("learned", note)
        self.keep(note)

    def _between_steps(self) -> bool:
        self.checkpoint()
        return False

    def offer(self, to: str, note: str) -> None:
        network = self.live.network
        state = {k: v.detach().cpu().numpy().copy() for k, v in network.state_dict().items()}
        onnx = _export(self.live) if self.plan.export_onnx else None
        self.outbox.put({"kind": "offer", "to": to, "note": note, "state": state, "onnx": onnx})

    def keep(self, note: str) -> None:
        """Write the live network as the learned model, atomically (the previous file stays whole
        when this fails: a full disk, a stop)."""
        from segcam.models import modelfile
        from segcam.models.calibrated import path_for

        model, p = self.live, self.progress
        date = datetime.now(timezone.utc).isoformat(timespec="seconds")
        held = [f for f in self.frames if f.held]
        provenance = {
            "base": model.base,
            "license": "Apache-2.0 (Google MediaPipe)",
            "data": [f"{p.labelled} frames of {self.plan.source} seen while segcam ran, labelled by {TEACHER} "
                     f"({TEACHER_QUALITY}); the frames were not kept"],
            "metrics": {"stock_iou": p.stock_iou, "calibrated_iou": p.live_iou, "threshold": THRESHOLD},
            "calibration": {
                "source": self.plan.source, "frame_size": list(self.plan.frame_size), "date": date,
                "base": self.plan.live, "stock": self.plan.stock_name, "teacher": f"{TEACHER} ({TEACHER_QUALITY})",
                "frames": {"labelled": p.labelled, "held_back": len(held)}, "steps": p.steps, "device": "cpu",
                "learned": True, "rounds": p.rounds, "swaps": p.swaps,
            },
            "trained_at": date,
        }
        try:
            modelfile.save(path_for(self.plan.name), model.network, model.architecture, model.input_size,
                           model.mean, model.std, options=model.options, provenance=provenance)
        except OSError as exc:
            p.note = f"{note}; could not keep it ({exc.strerror or exc}): the previous learned model stays."
            self.send()
            return
        p.kept_as, p.note = self.plan.name, f"{note}; kept as {self.plan.name}."
        self.send(kept=True)


def _score(model, images: list[np.ndarray], truths: list[np.ndarray]) -> list[float]:
    from segcam.evaluate import iou, network_predictor

    predict = network_predictor(model.network, model.input_size, model.mean, model.std, "cpu")
    return [iou(predict(image) >= THRESHOLD, truth) for image, truth in zip(images, truths)]


def _export(model) -> bytes:
    """The network as the live path runs it in ONNX Runtime (segmenter.FrameInput), in memory."""
    import torch

    from segcam.segmenter import FrameInput

    height, width = model.input_size
    module = FrameInput(copy.deepcopy(model.network), model.mean, model.std).eval()
    buffer = io.BytesIO()
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, height, width, 3, dtype=torch.uint8),), buffer, dynamo=False,
                          opset_version=17, input_names=["frame"], output_names=["mask"])
    return buffer.getvalue()
