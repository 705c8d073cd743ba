"""Command line: `segcam run`, `segcam bench`, `segcam models ...`.

The CLI only parses arguments into a Settings, wires a Pipeline, and reports. Every user
error is a SegcamError: printed as one sentence on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
import time

from segcam import __version__
from segcam.argtypes import fraction, open_fraction, parse_color, parse_fps, parse_size, positive_int
from segcam.errors import SegcamError, SourceError
from segcam.system import has_display
from segcam import settings as settings_store
from segcam.settings import DEVICES, QUALITIES, Settings

EXIT_USER_ERROR = 2


def _add_pipeline_options(parser, live: bool) -> None:
    """Options that become Settings. `live` adds those of a running camera (run and the app).

    The effect's and the mask's options come from the settings they set and the effects that
    read them (segcam.effects): an effect that reads a new setting gets its option here."""
    from segcam import effects

    parser.add_argument("--effect", choices=effects.names(), default=None, help="what replaces the background")
    parser.add_argument("--background", metavar="PATH", help="background image (image effect) or video (video effect)")
    parser.add_argument("--model", metavar="NAME", help="segmentation model (see `segcam models list`); default: by frame shape")
    parser.add_argument("--device", choices=DEVICES, help="where the network runs (default auto: CUDA, MPS, else CPU)")
    parser.add_argument("--quality", choices=QUALITIES,
                        help="for models whose input follows the frame (rvm): fast, balanced (default) or best")
    parser.add_argument("--size", type=parse_size, metavar="WxH", help="frame size (default 1280x720)")
    if live:
        parser.add_argument("--source", help="camera index or video file / image sequence (default 0)")
        parser.add_argument("--fps", type=parse_fps, help="frame rate asked of the camera and sent out (default 30)")
        parser.add_argument("--loop", action="store_true", help="loop a video-file source")
        parser.add_argument("--vcam-backend", help="virtual camera backend: v4l2loopback or pipewire (Linux), obs, unitycapture; default: v4l2loopback where it is loaded, else PipeWire where its daemon runs")
        parser.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10 (pipewire: the camera's name, default segcam)")
    for key in _tuning_keys():
        _add_setting_option(parser, key)


def _tuning_keys() -> list[str]:
    """The settings of the mask and of the effects that have an option of their own."""
    from segcam import effects

    mask = [key for key, (section, _) in settings_store.FIELDS.items() if section == "mask"]
    return [key for key in dict.fromkeys(mask + effects.keys_read())
            if settings_store.facts(key).get("kind") not in ("image", "video")]  # those share --background


def _add_setting_option(parser, key: str) -> None:
    """An option for one setting, made from what the settings say about it (kind, hint, default)."""
    facts = settings_store.facts(key)
    kind, default = facts.get("kind"), Settings().get(key)
    help_text = (facts.get("help") or facts.get("hint") or key.replace("_", " ")).replace("%", "%%")  # argparse's %
    flag = settings_store.flag(key)
    if isinstance(default, bool):  # a flag that turns it on, or off for one that is on by default (--no-guard)
        parser.add_argument(flag, dest=key, action="store_false" if default else "store_true", default=None,
                            help=help_text)
    elif kind == "fraction":
        parser.add_argument(flag, dest=key, type=fraction, metavar="0..1", help=f"{help_text} (default {default:g})")
    elif kind == "threshold":
        parser.add_argument(flag, dest=key, type=open_fraction, metavar="T", help=f"{help_text}; default: soft")
    elif kind == "color":
        parser.add_argument(flag, dest=key, type=parse_color, metavar="R,G,B",
                            help=f"{help_text} (default {','.join(map(str, default))})")
    elif kind == "choice":
        parser.add_argument(flag, dest=key, choices=[value for value, _ in facts["choices"]],
                            help=f"{help_text} (default {default})")
    else:
        parser.add_argument(flag, dest=key, help=help_text)


def settings_from_args(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """Settings from the options given, on top of `base` (the defaults, a --settings file, or the
    app's saved settings): an option not given keeps the base's value."""
    from segcam import effects

    s = base or Settings()
    changes = {}
    if getattr(args, "background", None):  # the file the chosen effect needs: a picture or a video
        effect = args.effect or s.effect.name
        changes[effects.get(effect).needs or "background"] = args.background
    for key in ("effect", "model", "device", "quality", "source", "output", "max_frames", "fps", "vcam_backend",
                "vcam_device", *_tuning_keys()):
        value = getattr(args, key, None)
        if value is not None:
            changes[key] = value
    if getattr(args, "size", None):
        changes["width"], changes["height"] = args.size
    if getattr(args, "loop", False):
        changes["loop"] = True
    settings = s.replace(**changes).validate()
    effects.check(settings.effect)
    return settings


def base_settings(args: argparse.Namespace) -> Settings:
    """What `run` and `bench` start from: the defaults, or the file --settings names (the app's own
    settings.json works: `segcam run` then does what the window would)."""
    path = getattr(args, "settings", None)
    if not path:
        return Settings()
    from segcam import effects

    settings, warnings = settings_store.read(path, checks=effects.SETTINGS_CHECKS)
    for warning in warnings:
        _warn(f"segcam: {warning}")
    return settings


def explain(error: SegcamError) -> str:
    """The error in the command line's words: the setting it names becomes the option that sets it."""
    text = str(error)
    key = getattr(error, "setting", None)
    flag = settings_store.flag(key) if key in settings_store.FIELDS else _OTHER_FLAGS.get(key)
    if not flag or flag in text:
        return text
    return f"{text[:-1]} ({flag})." if text.endswith(".") else f"{text} ({flag})"


_OTHER_FLAGS = {"settings": "--settings"}  # settings that are not a Settings key


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segcam", description="Background replacement for your webcam, "
                                     "sent to meeting apps as a virtual camera.")
    parser.add_argument("--version", action="version", version=f"segcam {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    # `segcam [options]` with no command opens the app; these options override its saved
    # settings for the session (defaults are None, so an option not given keeps the saved value)
    _add_pipeline_options(parser.add_argument_group("app options (when no COMMAND is given, segcam opens "
                                                    "its window)"), live=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="process a camera or video without a window")
    _add_pipeline_options(run, live=True)
    run.add_argument("--output", help="vcam (virtual camera, the default), a video file path, or none")
    run.add_argument("--settings", metavar="FILE", help="start from the settings in this file (the app saves its own "
                                                         "in settings.json) instead of the defaults; options given "
                                                         "override it")
    run.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    run.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--realtime", action="store_true",
                     help="take a video file at its own frame rate, as a camera delivers: the newest frame wins, "
                          "and the frames the pipeline cannot take in time are dropped (and counted)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object at the end (frames read, processed and dropped, the privacy "
                          "guard's holds, the model, per-frame ms); everything else goes to stderr")
    run.add_argument("--learn", action="store_true",
                     help="learn your room while it runs: RVM labels frames at low priority and the fast network "
                          "is tuned on them, swapped in when better (off by default, so runs repeat)")
    run.add_argument("--learn-as", metavar="NAME",
                     help="keep what was learned as calibrated model NAME (implies --learn; default: one per "
                          "source and frame size)")

    bench = commands.add_parser("bench", help="measure per-frame time without a camera")
    _add_pipeline_options(bench, live=False)
    bench.add_argument("--settings", metavar="FILE", help="start from the settings in this file, as `run` does")
    bench.add_argument("--frames", type=positive_int, default=200, help="frames to time (default 200)")
    bench.add_argument("--source", metavar="PATH", help="video file for frames (default: synthetic frames)")
    bench.add_argument("--runtime", choices=("auto", "torch", "onnxruntime"), default="auto",
                       help="inference runtime on the CPU (default auto: ONNX Runtime when installed)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")

    models = commands.add_parser("models", help="list, download or import model weights")
    models_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    models_commands.add_parser("list", help="show models and whether their weights are installed")
    download = models_commands.add_parser("download", help="fetch the weights (MediaPipe and RVM by default)")
    download.add_argument("names", nargs="*", help="model names (default: the two MediaPipe models and rvm)")
    download.add_argument("--force", action="store_true",
                          help="make every derived file (converted weights, ONNX export) again, and fetch again "
                               "what is not pinned by sha256; without names: of every model that is installed")
    imp = models_commands.add_parser("import", help="install weights from local files (offline)",
                                     description="Install weights from files you have: a MediaPipe .tflite, "
                                     "RVM's model.json with its .bin, or RVM's rvm_mobilenetv3.pth.")
    imp.add_argument("files", nargs="+", metavar="FILE")
    remove = models_commands.add_parser("remove", help="delete a calibrated model (made by `segcam calibrate`)")
    remove.add_argument("name", metavar="NAME")

    doctor = commands.add_parser("doctor", help="check camera, virtual camera, torch, models and Qt, with fixes",
                                 description="Check what segcam needs on this machine and print the fix for "
                                 "each problem. Exit code 0 when every check passes, 1 when any fails.")
    doctor.add_argument("--json", action="store_true", help="print one JSON object (attach it to bug reports)")
    doctor.add_argument("--qt-probe", action="store_true", help=argparse.SUPPRESS)  # doctor's own child process

    # argparse only; torch loads when a command runs
    from segcam import calibrate_command, eval_command
    from segcam.train import cli as train_cli

    evaluate = commands.add_parser("eval", help="mask quality: IoU on labelled images, or flicker on a video")
    eval_command.add_eval_arguments(evaluate)
    train = commands.add_parser("train", help="train segcam's own network or fine-tune MediaPipe's")
    train_cli.add_train_arguments(train)
    calibrate = commands.add_parser(
        "calibrate", help="tune the fast model to your room: record, label with RVM, train, check",
        description="Record yourself (or take a video file), label the frames with RVM, fine-tune the fast "
                    "model on them, and keep it when it beats the stock model on frames held back from training.")
    calibrate_command.add_calibrate_arguments(calibrate)
    return parser


# -- commands ----------------------------------------------------------------------------

class StopSignals:
    """SIGTERM and SIGHUP stop a run as Ctrl-C does, so the output file is finished.

    Once `finishing` is set, a signal no longer interrupts: a second Ctrl-C while the file
    is closed would leave it unplayable.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.received: str | None = None
        self.finishing = False
        self._previous: dict = {}

    def __enter__(self) -> "StopSignals":
        for name in self.NAMES:
            number = getattr(signal, name, None)  # Windows has no SIGHUP
            if number is not None:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame) -> None:
        self.received = self.received or signal.Signals(number).name
        if not self.finishing:
            raise KeyboardInterrupt

    def __exit__(self, *exc_info) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)


def _guard_line(reason: str | None, frame: int) -> str:
    if reason is None:
        return f"segcam: frame {frame}: privacy guard released; the mask is trusted again"
    return f"segcam: frame {frame}: privacy guard holding ({reason}); the room is hidden"


def cmd_run(args: argparse.Namespace) -> int:
    from segcam.capture import camera_index
    from segcam.session import Listener, Session, input_files

    class GuardNotes(Listener):
        """The privacy guard's changes, as lines for the terminal (printed by the waiting thread)."""

        def __init__(self):
            self.lines: queue.Queue = queue.Queue()

        def guard_changed(self, reason: str | None, frame: int) -> None:
            self.lines.put(_guard_line(reason, frame))

        def vcam_status(self, sentence: str, working: bool) -> None:
            self.lines.put(f"segcam: {sentence}")

    settings = settings_from_args(args, base_settings(args))
    is_camera = camera_index(settings.source.name) is not None
    if settings.output.is_file:  # say it now, not after the network has loaded
        from segcam.video_file import check_output

        check_output(settings.output.target, args.overwrite, input_files(settings))
    if not is_camera and (args.size or args.fps):
        given = " and ".join(flag for flag, value in (("--size", args.size), ("--fps", args.fps)) if value)
        _warn(f"segcam: {given} apply to cameras; {settings.source.name} is processed at its own size and frame rate.")
    _quiet_opencv_warnings(args)
    # a file written to a file is processed frame by frame, none dropped; anything shown
    # live (virtual camera), and --realtime, runs at the source's own pace
    notes = GuardNotes()
    realtime = is_camera or settings.output.target == "vcam" or args.realtime
    learning = _learn_request(args)
    session = Session(notes, realtime=realtime, overwrite=args.overwrite, learn=learning)
    with StopSignals() as signals:
        pipeline = session.start(settings)
        sinks = pipeline.sinks
        described = ", ".join(sink.describe() for sink in sinks) or "no output"
        width, height = pipeline.frame_size
        _say(args, f"segcam: {settings.source.name} ({width}x{height}) -> {settings.effect.name} -> {described}")
        started = pipeline.stats
        _say(args, f"segcam: model {_model_reason(args, started.model, started.model_reason)}")
        for note in (note for sink in sinks for note in sink.notes):
            _warn(f"segcam: {note}")
        if learning is not None:
            _say(args, f"segcam: {_learning_start(pipeline)}")
        try:
            _wait(args, pipeline, _expected_frames(pipeline, settings), notes.lines)
        except KeyboardInterrupt:
            pass
        finally:
            signals.finishing = True
            session.stop()
            _print_notes(args, notes.lines)
    if pipeline.error is not None:
        for sink in sinks:  # what a file kept, when the error is not the file's own
            if sink.outcome and sink.outcome not in str(pipeline.error):
                _warn(f"segcam: {sink.outcome}.")
        raise pipeline.error
    stats = pipeline.stats
    if learning is not None:
        _say(args, f"segcam: {_learning_summary(pipeline.learned_report())}")
    if signals.received:
        by = "" if signals.received == "SIGINT" else f" by {signals.received}"
        _say(args, f"Stopped{by}. {stats.frames} frames; " + _progress(stats))
        _print_summary(args, pipeline)
        return 0
    _check_source_was_whole(pipeline, settings)
    _say(args, f"Done. {stats.frames} frames; " + _progress(stats))
    _print_summary(args, pipeline)
    return 0


def _learn_request(args):
    """The online learner as --learn and --learn-as ask for it, or None; a bad name said at once."""
    if not (getattr(args, "learn", False) or getattr(args, "learn_as", None)):
        return None
    from segcam import learn
    from segcam.models import calibrated

    if args.learn_as:
        calibrated.check_name(args.learn_as)
    return learn.Request(name=args.learn_as)


def _learning_start(pipeline) -> str:
    learner = pipeline.learner
    if learner is None:
        return pipeline.learn_note
    return (f"learning your room: RVM labels a frame now and then at low priority, and {learner.plan.live} is tuned "
            f"on them; better weights are swapped in and kept as {learner.plan.name}")


def _learning_summary(report: dict | None) -> str:
    """One line on what the learner did."""
    if not report or "frames" not in report:
        return (report or {}).get("why_not") or "Learning is off."
    before, after = report["agreement_before"], report["agreement_after"]
    figures = f"agreement with RVM {before:.3f} -> {after:.3f} on {report['held_back']} held-back frames; " \
        if before is not None and after is not None else ""
    done = (f"learned from {report['frames']} frames in {report['rounds']} rounds ({report['swaps']} swapped in, "
            f"{report['cpu_seconds']:.0f} CPU s)")
    kept = f"; kept as {report['kept_as']}" if report["kept_as"] else f"; nothing kept: {report['why_not']}"
    return figures + done + kept


def _model_reason(args: argparse.Namespace, running: str, reason: str) -> str:
    """Why this model runs, in the command line's words: a --model other than auto was chosen here,
    not in the settings (the processor cannot tell the two apart)."""
    from segcam import model_choice

    if getattr(args, "model", None) in (None, "", "auto"):
        return reason
    return model_choice.pinned(running, model_choice.ON_THE_COMMAND_LINE).reason


def _print_summary(args, pipeline) -> None:
    """--json: the run's numbers as one JSON object, the only thing on stdout."""
    if args.json:
        import json

        summary = pipeline.summary()
        summary["model_reason"] = _model_reason(args, summary["model"], summary["model_reason"])
        print(json.dumps(summary), flush=True)


def _expected_frames(pipeline, settings: Settings) -> int | None:
    """How many frames a run from a file will take, for the progress bar (None: unknown, or endless)."""
    capture = pipeline.capture
    limit = settings.output.max_frames
    if capture is None or capture.kind == "camera" or settings.source.loop or not capture.frame_count:
        return limit
    return min(capture.frame_count, limit or capture.frame_count)


def _wait(args, pipeline, total: int | None, notes: queue.Queue) -> None:
    """Wait for the run to end: a progress bar (frame N of total, fps, time left) when the
    length is known, otherwise a line of stats every 5 s; `notes` (lines) printed as they come."""
    if total:
        from tqdm import tqdm

        with tqdm(total=total, unit="frame", desc="segcam", file=sys.stderr, disable=args.quiet,
                  leave=False, dynamic_ncols=True) as bar:
            while not pipeline.wait(timeout=0.5):
                _print_notes(args, notes, lambda line: bar.write(line, file=sys.stderr))
                bar.update(pipeline.stats.frames - bar.n)
            _print_notes(args, notes, lambda line: bar.write(line, file=sys.stderr))
        return
    last = time.monotonic()
    while not pipeline.wait(timeout=0.5):
        _print_notes(args, notes)
        if time.monotonic() - last >= 5:
            last = time.monotonic()
            _say(args, _progress(pipeline.stats))


def _print_notes(args, notes: queue.Queue, write=None) -> None:
    """Print the lines waiting in `notes` (through `write`, e.g. above a progress bar)."""
    while True:
        try:
            line = notes.get_nowait()
        except queue.Empty:
            return
        if not getattr(args, "quiet", False):
            (write or (lambda text: print(text, file=sys.stderr, flush=True)))(line)


def _check_source_was_whole(pipeline, settings: Settings) -> None:
    """A video file that ends before the frame count in its header is damaged or incomplete."""
    capture = pipeline.capture
    if capture is None or capture.kind != "video" or settings.source.loop or not capture.frame_count:
        return
    if settings.output.max_frames and pipeline.stats.frames >= settings.output.max_frames:
        return
    read, stated = capture.frames_read, capture.frame_count
    # some containers only estimate the count from their duration: a frame or two off is no damage
    if read < stated - max(2, stated // 100):
        kept = f"; {settings.output.target} has the {read} frames read" if settings.output.is_file else ""
        raise SourceError(f"Read {read} of the {stated} frames {settings.source.name} says it has: it ends early "
                          f"or is damaged{kept}.")
    if read != stated:
        logging.getLogger(__name__).info("Read %d frames; %s says it has %d", read, settings.source.name, stated)


def _quiet_opencv_warnings(args) -> None:
    """OpenCV's own warnings (e.g. for every frame it fails to write) stay out of the terminal
    unless -v; segcam says what went wrong in one sentence instead."""
    if not getattr(args, "verbose", False):
        import cv2

        logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
        if logging_api is not None:
            logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)


def quiet_native_logs(verbose: bool, environ=os.environ) -> None:
    """Keep OpenCV's and FFmpeg's log lines (a damaged file prints dozens) out of the terminal
    unless -v. OpenCV reads these once, when it loads, so this runs before anything imports cv2."""
    if not verbose:
        environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def _say(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress(stats) -> str:
    return (f"{stats.fps:.1f} fps, {stats.ms_per_frame:.1f} ms/frame, latency {stats.latency_ms:.0f} ms, "
            f"{stats.dropped} dropped, {stats.model} on {stats.device}" + (f"; {stats.learning}" if stats.learning else ""))


def cmd_bench(args: argparse.Namespace) -> int:
    from segcam import bench

    settings = settings_from_args(args, base_settings(args))
    report = bench.run(settings, frames=args.frames, source=args.source, runtime=args.runtime)
    report["model_reason"] = _model_reason(args, report["model"], report["model_reason"])
    print(bench.format_json(report) if args.json else bench.format_text(report))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from segcam.models import install, registry

    if args.models_command == "list":
        for spec in registry.specs():
            state = "installed" if spec.installed() else "not installed"
            height, width = spec.input_size_for(1280, 720)
            size = f"{width}x{height}" + ("*" if spec.sized_for else "")
            print(f"{spec.name:22s} {size:9s} {state:14s} {spec.description} [{spec.license}]")
        if any(spec.sized_for for spec in registry.specs()):
            print("* for a 1280x720 frame: the input follows the frame's shape and --quality")
        return 0
    if args.models_command == "download":
        # by default the models the app offers first (with --force: every model that is here,
        # whose files it makes again); the larger GPU models only when named
        specs = [registry.get(name) for name in args.names] or \
            [spec for spec in registry.specs() if (spec.installed() if args.force else spec.default_download)]
        failed = []
        for spec in specs:  # one model that cannot be had does not keep the others away
            try:
                print("\n".join(install.install(spec.name, force=args.force)))
            except SegcamError as exc:
                failed.append(exc)
        for status in install.discard_damaged():  # of the other models: each is made again when needed
            print(f"Deleted {status.path}: {status.detail}.")
        if len(failed) > 1:
            for exc in failed[:-1]:
                print(f"segcam: {exc}", file=sys.stderr)
        if failed:
            raise failed[-1]
        return 0
    if args.models_command == "import":
        print("\n".join(install.import_files(args.files)))
        return 0
    if args.models_command == "remove":
        from segcam.models import calibrated

        print("\n".join(calibrated.remove(args.name)))
        return 0
    return EXIT_USER_ERROR


def cmd_doctor(args: argparse.Namespace) -> int:
    from segcam import doctor

    if args.qt_probe:  # doctor's child process (see doctor.qt_probe_command)
        from segcam.ui import probe

        return probe.main()
    results = doctor.run_checks()
    print(doctor.format_json(results) if args.json else doctor.format_text(results, doctor.marks_for(sys.stdout)))
    return 0 if all(r.ok for r in results) else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from segcam import eval_command

    return eval_command.run_eval(args)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from segcam import calibrate_command

    with StopSignals() as signals:  # SIGTERM stops it as Ctrl-C does: nothing half-written
        return calibrate_command.run_calibrate(args, signals)


def cmd_train(args: argparse.Namespace) -> int:
    from segcam.train import cli as train_cli

    return train_cli.run_train(args)


def cmd_app(args: argparse.Namespace) -> int:
    """The desktop app, on the saved settings overlaid with the options given."""
    from segcam import settings as settings_store

    from segcam import effects

    saved, warnings = settings_store.load(checks=effects.SETTINGS_CHECKS)
    settings = settings_from_args(args, base=saved)
    if not has_display():
        # Qt would abort the process with a long plugin message; say it in one sentence
        print("segcam: the window needs a desktop session (neither DISPLAY nor WAYLAND_DISPLAY is set); "
              "start segcam from your desktop, or use `segcam run` without a window.", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        from segcam.ui import app
    except ImportError as exc:
        print(f"segcam: the window needs PySide6, which cannot be loaded here ({exc}); install it with "
              "`pip install PySide6-Essentials`, or use `segcam run` without a window.", file=sys.stderr)
        return EXIT_USER_ERROR
    return app.main(settings, warnings)


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # the packaged app's online learner runs in a spawned child
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_native_logs(args.verbose)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if args.command is None:
        try:
            return cmd_app(args)
        except SegcamError as exc:
            print(f"segcam: {explain(exc)}", file=sys.stderr)
            return EXIT_USER_ERROR
    handlers = {"run": cmd_run, "bench": cmd_bench, "models": cmd_models, "doctor": cmd_doctor,
                "eval": cmd_eval, "train": cmd_train, "calibrate": cmd_calibrate}
    # a second Ctrl-C while shutting down should not print a traceback
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return handlers[args.command](args)
    except SegcamError as exc:
        print(f"segcam: {explain(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("segcam: stopped.", file=sys.stderr)
        return 0
