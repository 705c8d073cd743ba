"""The pipeline: capture -> processor -> sinks on a worker thread, with live settings and stats.

Only this module (with the processor) wires the stages together. A session (segcam.session)
starts and drives pipelines for the command line and the app; setting changes apply from the
next frame on. While paused, the pipeline sends a privacy picture instead of running the
network and the compositor.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from segcam import model_choice
from segcam.capture import CaptureThread
from segcam.errors import SegcamError, SettingsError, SourceError
from segcam.guard import safe_frame
from segcam.processor import STAGES, FrameProcessor, Result, validated
from segcam.settings import Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from segcam.learn import Request as LearnRequest

SinkFactory = Callable[[int, int, float], list]  # (width, height, fps) -> sinks
_WINDOW = 60  # frames the rolling stats cover
_RECENT_S = 3.0  # seconds the share of skipped frames covers: a stall at the start is soon forgotten
_FIRST_FRAME_TIMEOUT = 10.0  # seconds a camera may take to deliver its first frame


@dataclass
class Stats:
    frames: int = 0  # frames processed (sent)
    dropped: int = 0  # frames the source delivered that the pipeline could not take in time, since the start
    read: int = 0  # frames the source delivered (once it stopped: frames + dropped)
    skipped: float = 0.0  # the share of the source's frames dropped over the last _RECENT_S seconds
    fps: float = 0.0
    ms_per_frame: float = 0.0  # median processing time, all stages
    latency_ms: float = 0.0  # median capture-to-output time
    stages: dict[str, float] = field(default_factory=dict)  # median ms per stage
    device: str = ""
    model: str = ""
    model_reason: str = ""  # which model runs and why (see model_choice)
    source_status: str = ""
    guard: str = ""  # why the privacy guard holds (sending the safe frame), or "" while it does not
    guard_held: int = 0  # frames on which the privacy guard sent the safe frame
    learning: str = ""  # the online learner's status line, or why it is off; "" when not asked for


class Durations:
    """Every frame's time over a whole run, kept as a count per bin 1% wide: a run of any length
    takes a few kilobytes, and a percentile is right to 1%."""

    _LOWEST_MS, _RATIO = 0.01, 1.01

    def __init__(self):
        self._bins: Counter = Counter()
        self.count = 0

    def add(self, ms: float) -> None:
        self._bins[max(0, math.ceil(math.log(max(ms, self._LOWEST_MS) / self._LOWEST_MS, self._RATIO)))] += 1
        self.count += 1

    def percentile(self, share: float) -> float | None:
        """The time `share` (0..1) of the frames took at most; None before the first frame."""
        if not self.count:
            return None
        wanted, seen = max(1, math.ceil(share * self.count)), 0
        for index in sorted(self._bins):
            seen += self._bins[index]
            if seen >= wanted:
                return self._LOWEST_MS * self._RATIO ** index
        return None  # not reached: the bins hold `count` frames


PAUSE_MODES = ("freeze", "blank", "blur")


def privacy_frame(mode: str, frame: np.ndarray, last_output: np.ndarray | None, mirror: bool = False) -> np.ndarray:
    """What is sent while the user has paused: the last frame, a dark frame, or a blur so
    coarse nobody can be recognised (the privacy guard's safe frame, mirrored like the output).
    The pause is the pipeline's state, not an effect: the network and the compositor do not
    run meanwhile."""
    if mode == "freeze" and last_output is not None and last_output.shape == frame.shape:
        return last_output
    if mode == "blur":
        return safe_frame(frame, mirror=mirror)
    return np.full_like(frame, 24)


def _median(values) -> float:
    return statistics.median(values) if values else 0.0


class Pipeline:
    def __init__(self, settings: Settings, make_sinks: SinkFactory | None = None,
                 on_result: Callable[[Result], None] | None = None,
                 on_end: Callable[[Exception | None], None] | None = None,
                 realtime: bool | None = None, runtime: str = "auto",
                 opener: Callable | None = None, learn: "LearnRequest | None" = None):
        """`learn`: run the online learner beside the pipeline (segcam.learn), or None."""
        self.settings = validated(settings)
        self.learn = learn
        self.learner = None  # segcam.learn.Learner while one runs
        self.learn_note = ""  # why learning is off, when it was asked for
        self._learner_checked_at = 0
        self._learn_pending = False  # a learner starts with the next frame (its source or size is new)
        self._opener = opener  # how the source is opened (default: segcam.capture.open_source)
        self.processor = FrameProcessor(settings, runtime=runtime)
        self._make_sinks = make_sinks
        self._on_result = on_result
        self._on_end = on_end  # called from the worker when the run ends by itself (not by stop())
        self._realtime = realtime
        self._sinks: list = []
        self._capture: CaptureThread | None = None
        self._lock = threading.RLock()  # held while a frame is processed and while settings change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = None
        self.error: Exception | None = None
        self.pause_mode: str | None = None  # None, or one of effects.PAUSE_MODES
        self._last: Result | None = None
        self._guard = ""  # why the privacy guard held on the last frame processed
        self.frame_size: tuple[int, int] | None = None
        self._frames = 0
        self._guard_held = 0
        self._durations = Durations()  # processing time of every frame the network ran on
        self._ms: dict[str, deque] = {name: deque(maxlen=_WINDOW) for name in (*STAGES, "output", "total", "latency")}
        self._times: deque = deque(maxlen=_WINDOW)
        # (when read, the source's number) of the frames processed lately
        self._read: deque = deque(maxlen=round(_RECENT_S * 120))
        self.learned: dict | None = None  # the learner's report, once it stopped

    # -- lifecycle ---------------------------------------------------------------------

    def _open_capture(self, settings: Settings) -> tuple[CaptureThread, object]:
        extra = {"opener": self._opener} if self._opener is not None else {}
        source = settings.source
        # held: a file's clock starts when the worker takes it on (play), not while the network loads
        capture = CaptureThread(source.name, source.width, source.height, source.fps, loop=source.loop,
                                realtime=self._realtime, held=True, **extra)
        capture.start()
        first = capture.read(timeout=_FIRST_FRAME_TIMEOUT)
        if first is None:
            capture.stop()
            raise SourceError(f"Source {source.name} opened but delivered no frames.", setting="source")
        return capture, first

    def start(self) -> "Pipeline":
        """Open the source, load the network and sinks, then process on a worker thread.

        Everything that can fail because of the user's input fails here, in the caller's
        thread, as a SegcamError.
        """
        capture, first = self._open_capture(self.settings)
        try:
            height, width = first.image.shape[:2]
            self.processor.prepare(width, height)
            fps = capture.source_fps or self.settings.source.fps  # a video file's own rate
            self._sinks = list(self._make_sinks(width, height, fps)) if self._make_sinks else []
        except BaseException:
            capture.stop()
            raise
        try:
            self._capture, self._first, self.frame_size = capture, first, (width, height)
            self._start_learning()
            self._thread = threading.Thread(target=self._work, name="segcam-pipeline", daemon=True)
            self._thread.start()
            capture.play()
        except BaseException:  # e.g. Ctrl-C right here: no sink may leave a half-made file behind
            for sink in self._sinks:
                sink.mark_incomplete()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop processing, release the camera and close every sink. Safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            learner, self.learner = self.learner, None
        if learner is not None:
            learner.stop()
            self.learned = learner.report()
        with self._lock:
            if self._capture is not None:
                self._capture.stop()
            for sink in self._sinks:
                if self.error is not None:
                    sink.mark_incomplete()  # a file must not replace an older one with part of a run
                try:
                    sink.close()
                except SegcamError as exc:  # e.g. the disk filled while a file was finished
                    self.error = self.error or exc
                except Exception as exc:  # one failing sink must not keep others open
                    log.warning("closing %s failed: %s", type(sink).__name__, exc)
            self._sinks = []
            self.processor.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the source to end (or an error). True when the worker has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def capture(self) -> CaptureThread | None:
        """The source being read (after stop(), the one that was: its counts stay readable)."""
        return self._capture

    @property
    def sinks(self) -> list:
        with self._lock:
            return list(self._sinks)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def frames(self) -> int:
        """Frames sent so far."""
        return self._frames

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- live changes ------------------------------------------------------------------

    def update(self, settings: Settings) -> None:
        """Apply new settings from the next frame on. Raises SegcamError and changes nothing
        when they cannot be applied (a background that does not load, a camera that does not open)."""
        validated(settings)
        new_capture = settings.source != self.settings.source
        capture = first = None
        if new_capture and self._capture is not None:
            capture, first = self._open_capture(settings)
        with self._lock:
            try:
                self.processor.update(settings)
            except BaseException:
                if capture is not None:
                    capture.stop()
                raise
            if capture is not None:
                old, self._capture, self._first = self._capture, capture, first
                old.stop()
                capture.play()
                self.processor.reset()  # a new source: a new video for the temporal state
            self.settings = settings
            if capture is not None and self.learner is not None:
                self._restart_learning()  # the round for the old source is dropped

    # -- the online learner ----------------------------------------------------------------

    def set_learning(self, request: "LearnRequest | None") -> None:
        """Start the online learner (with these options) or stop it, while the pipeline runs."""
        with self._lock:
            self.learn = request
            if self._capture is not None:
                self._restart_learning()

    def forget_learned(self) -> list[str]:
        """Delete what was learned for this source and run stock weights again; learning (when on)
        starts afresh. Lines saying what went."""
        from segcam import learn

        with self._lock:
            learner, self.learner = self.learner, None
        if learner is not None:
            learner.stop()  # before the files go, it must not keep them again; the frames go on meanwhile
        with self._lock:
            lines = learn.forget(self.settings.source.name)
            self.processor.forget_network()
            if self._capture is not None and self.frame_size is not None:
                self.processor.prepare(*self.frame_size)
                self._start_learning()
        return lines

    def _start_learning(self, frame_size: tuple[int, int] | None = None) -> None:
        from segcam import learn

        self.learn_note = ""
        self._learn_pending = False
        if self.learn is None:
            return
        reason = learn.why_not(self.processor)
        if reason is not None:
            self.learn_note = reason
            return
        try:
            width, height = frame_size or self.frame_size
            plan = learn.plan_for(self.processor, self.settings.source.name, (width, height), self.learn.name)
            self.learner = learn.Learner(plan, self.processor.segmenter, self.learn.worker)
        except Exception as exc:  # noqa: BLE001 - learning is a bonus: the call goes on without it
            self.learn_note = f"Learning is off: {exc}"
            log.warning("segcam: %s", self.learn_note)

    def _restart_learning(self) -> None:
        """Under the lock: the old learner is stopped on a thread of its own (it may take a while
        to end its step); a new one starts with the next frame, for the network that runs it."""
        old, self.learner = self.learner, None
        if old is not None:
            threading.Thread(target=old.stop, name="segcam-learner-stop", daemon=True).start()
        self.learn_note = ""
        self._learn_pending = self.learn is not None

    def learned_report(self) -> dict | None:
        """What the learner did (see learn.Learner.report), why it did not run, or None when not asked."""
        if self.learned is not None:
            return self.learned
        learner = self.learner
        if learner is not None:
            return learner.report()
        if self.learn is not None:
            return {"why_not": self.learn_note or "Learning is off."}
        return None

    def _learning_before(self) -> None:
        """Between frames: take what the learner offers."""
        learner = self.learner
        if learner is None:
            return
        if learner.take_kept():
            self.processor.adopt_registered()
        swap = learner.take_swap()
        if swap is not None and self.processor.use_weights(swap.runner, swap.live, swap.to):
            log.info("segcam: learning: %s", swap.note)

    def _learning_after(self, frame: np.ndarray) -> None:
        size = (frame.shape[1], frame.shape[0])
        if self._learn_pending:
            self._start_learning(size)
            return
        learner = self.learner
        segmenter = self.processor.segmenter
        if segmenter is not None and (segmenter.name != learner.plan.live or learner.plan.frame_size != size):
            self._restart_learning()  # another model or frame size now: learn for it from the next frame
            return
        learner.offer(frame)
        if self._frames - self._learner_checked_at >= 30:  # once a second at 30 fps
            self._learner_checked_at = self._frames
            recent = list(self._ms["total"])[-30:]
            fps = (self._capture.source_fps if self._capture is not None else 0) or self.settings.source.fps
            learner.falling_behind(bool(recent) and statistics.median(recent) > 0.8 * 1000.0 / fps)

    def pause(self, mode: str | None) -> None:
        """Privacy pause: send a frozen, blank or unrecognisably blurred frame instead of the
        camera until pause(None). The network does not run meanwhile."""
        if mode is not None and mode not in PAUSE_MODES:
            raise SettingsError(f"Unknown pause mode {mode!r}; choose one of {', '.join(PAUSE_MODES)}.",
                                setting="pause")
        with self._lock:
            self.pause_mode = mode

    def add_sink(self, sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink) -> None:
        """Detach a sink and close it."""
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
        sink.close()

    # -- the worker --------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                frame, self._first = self._first, None
                if frame is None:
                    frame = self._capture.read(timeout=0.5)
                if frame is None:
                    if self._capture.error is not None:
                        raise self._capture.error
                    if self._capture.ended:
                        break
                    continue
                self._process(frame)
                limit = self.settings.output.max_frames
                if limit and self._frames >= limit:
                    break
        except Exception as exc:
            self.error = exc
            if not isinstance(exc, SegcamError):
                log.exception("pipeline stopped by an unexpected error")
        if self._on_end is not None and not self._stop.is_set():
            self._on_end(self.error)

    def _process(self, frame) -> None:
        with self._lock:
            t0 = time.perf_counter()
            if self.pause_mode is not None:
                last = self._last
                output = privacy_frame(self.pause_mode, frame.image, last.output if last else None,
                                       self.settings.effect.mirror)
                alpha = last.alpha if last is not None and last.alpha.shape == frame.image.shape[:2] else \
                    np.zeros(frame.image.shape[:2], np.float32)
                result = Result(frame.image, alpha, output, {name: 0.0 for name in STAGES})
            else:
                learning_s = 0.0  # the learner's share of the live path: counted in the frame's time
                if self.learner is not None or self._learn_pending:
                    started = time.perf_counter()
                    self._learning_before()
                    learning_s = time.perf_counter() - started
                result = self.processor.process(frame.image)
                self._last = result
                self._guard = result.guard.reason if result.guard is not None and result.guard.holding else ""
                self._guard_held += bool(self._guard)
                if self.learner is not None or self._learn_pending:  # never a paused frame: the user hid it
                    started = time.perf_counter()
                    self._learning_after(frame.image)
                    learning_s += time.perf_counter() - started
                self._durations.add(sum(result.ms.values()) + learning_s * 1e3)
            for sink in self._sinks:
                sink.send(result.output)
            now = time.perf_counter()
            self._frames += 1
            self._times.append(time.monotonic())
            if self._read and frame.index <= self._read[-1][1]:  # a new source counts from 0 again
                self._read.clear()
            self._read.append((frame.timestamp, frame.index))
            for name, ms in result.ms.items():
                self._ms[name].append(ms)
            self._ms["total"].append(sum(result.ms.values()))
            self._ms["latency"].append((time.monotonic() - frame.timestamp) * 1e3)
            self._ms["output"].append((now - t0) * 1e3 - self._ms["total"][-1])  # sending to the sinks
            if self.pause_mode is None and self._capture is not None and self._capture.realtime:
                self._keep_up()
        if self._on_result is not None:
            self._on_result(result)

    def _keep_up(self) -> None:
        """Under "auto", step down to a faster model when this one cannot hold the frame rate."""
        recent = list(self._ms["total"])
        if model_choice.keeps_up(recent, self.settings.source.fps):
            return
        slow, ms = self.processor.segmenter.name, statistics.median(recent[-30:])
        if self.processor.step_down(ms):
            log.warning("auto: %s takes %.0f ms a frame, more than %.0f fps allow; taking a faster model",
                        slow, ms, self.settings.source.fps)
            self._ms["total"].clear()

    @property
    def stats(self) -> Stats:
        with self._lock:
            times = list(self._times)
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            recent = [index for read, index in self._read if read >= self._read[-1][0] - _RECENT_S] \
                if self._read else []
            span = recent[-1] - recent[0] + 1 if recent else 0  # the source's frames read meanwhile
            segmenter = self.processor.segmenter
            capture = self._capture
            return Stats(
                frames=self._frames,
                dropped=capture.dropped if capture else 0,
                read=capture.frames_read if capture else 0,
                skipped=(span - len(recent)) / span if span > 1 else 0.0,
                fps=fps,
                ms_per_frame=_median(self._ms["total"]),
                latency_ms=_median(self._ms["latency"]),
                stages={name: _median(self._ms[name]) for name in (*STAGES, "output")},
                device=segmenter.device if segmenter else "",
                model=segmenter.name if segmenter else "",
                model_reason=self.processor.choice.reason if self.processor.choice else "",
                source_status=capture.status if capture else "",
                guard=self._guard if self.pause_mode is None else "",
                guard_held=self._guard_held,
                learning=self.learner.status_line() if self.learner is not None else
                ("Learning your room: starting" if self._learn_pending else self.learn_note),
            )

    def summary(self) -> dict:
        """The whole run in numbers, for `segcam run --json` (and whatever reads it): what was
        read, processed and dropped, the privacy guard's holds, the model and why, and the
        per-frame processing time (segment + refine + composite) over every frame."""
        stats = self.stats
        with self._lock:
            p50, p99 = self._durations.percentile(0.5), self._durations.percentile(0.99)
        return {
            "read": stats.read,
            "processed": stats.frames,
            "dropped": stats.dropped,
            "guard_held": stats.guard_held,
            "model": stats.model,
            "model_reason": stats.model_reason,
            "device": stats.device,
            "ms_p50": None if p50 is None else round(p50, 2),
            "ms_p99": None if p99 is None else round(p99, 2),
            # what the online learner did (agreement with RVM before/after, frames, rounds, CPU
            # seconds, the name it kept), why it did not run, or None when it was not asked for
            "learned": self.learned_report(),
        }
