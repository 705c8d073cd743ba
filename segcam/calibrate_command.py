"""`segcam calibrate`: its arguments and what it runs (segcam.cli wires it in).

No prompt, so scripts can run it: the calibrated model is kept when it beats stock on the
held-back frames, and the command says which happened. Ctrl-C, SIGTERM or a failure leave
every file as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segcam.errors import SettingsError

INSTRUCTIONS = "move around for {seconds:g} s: turn your head, wave, lean, stand up and sit down again."
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
# as segcam.calibrate has them (a test keeps them equal); building the parser imports no numpy
BASES = ("auto", "mediapipe-landscape", "mediapipe-general", "segnet")
BUDGET_S = {"cpu": 150.0, "gpu": 60.0}
MAX_STEPS = 600


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    from segcam.argtypes import parse_fps, parse_size
    from segcam.settings import DEVICES

    parser.add_argument("--source", default="0", help="camera index or video file (default 0)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="how long to record (a video file: its first SECONDS; default 30)")
    parser.add_argument("--out", default="my-room", metavar="NAME",
                        help="the calibrated model's name, used as --model NAME (default my-room)")
    parser.add_argument("--overwrite", action="store_true", help="replace a calibrated model of that name")
    parser.add_argument("--base", choices=BASES, default="auto",
                        help="the network to tune (default auto: the fast MediaPipe model for the frame shape)")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help=f"training time (default {BUDGET_S['cpu']:g} s on the CPU, "
                             f"{BUDGET_S['gpu']:g} s on a GPU)")
    parser.add_argument("--steps", type=int, default=MAX_STEPS,
                        help=f"at most this many training steps (default {MAX_STEPS})")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), metavar="WxH",
                        help="frame size asked of a camera (default 1280x720)")
    parser.add_argument("--fps", type=parse_fps, default=30.0, help="frame rate asked of a camera (default 30)")
    parser.add_argument("--picture", metavar="PATH.png",
                        help="write the side-by-side picture (stock | calibrated on held-back frames) here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run_calibrate(args: argparse.Namespace, signals=None) -> int:
    """The command. segcam.cli runs it with SIGTERM and SIGHUP turned into KeyboardInterrupt;
    `signals` (its StopSignals) is told when the files are being written, so that no signal
    stops the command between writing the model and registering it."""
    from segcam import calibrate
    from segcam.capture import camera_index

    if not 0 < args.seconds <= 600:
        raise SettingsError(f"--seconds must be above 0 and at most 600, got {args.seconds:g}.")
    if args.budget is not None and not args.budget > 0:
        raise SettingsError(f"--budget must be above 0 seconds, got {args.budget:g}.")
    if args.steps < 1:
        raise SettingsError(f"--steps must be 1 or more, got {args.steps}.")
    if args.picture and Path(args.picture).suffix.lower() not in PICTURE_SUFFIXES:
        raise SettingsError(f"--picture must end in {', '.join(PICTURE_SUFFIXES)}, got {args.picture}.")
    calibrate.check_free(args.out, args.overwrite)  # said now, not after minutes of work
    say = _Reporter(args.quiet or args.json)
    if camera_index(args.source) is not None:
        say.line(f"Recording {args.seconds:g} s from camera {args.source}: "
                 + INSTRUCTIONS.format(seconds=args.seconds))
    try:
        recording = calibrate.record(args.source, args.seconds, args.size, args.fps, progress=say.progress)
        result = calibrate.calibrate(recording, base=args.base, budget_s=args.budget, max_steps=args.steps,
                                     device=args.device, progress=say.progress)
        if signals is not None:
            signals.finishing = True  # from here on, only whole files are written
        if args.picture:
            _write_picture(args.picture, result.picture)
        kept = calibrate.keep(result, args.out, args.overwrite) if result.better else None
    except KeyboardInterrupt:
        say.end()
        print("segcam: calibration stopped; nothing was changed.", file=sys.stderr)
        return 0
    say.end()
    took = sum(result.seconds.values())
    if args.json:
        print(json.dumps({"name": args.out, "kept": kept is not None, "path": str(kept) if kept else None,
                          "stock": result.stock, "base": result.base, "stock_iou": result.stock_iou,
                          "calibrated_iou": result.calibrated_iou, "frames": result.frames, "steps": result.steps,
                          "device": result.device, "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
                          "picture": args.picture}))
        return 0
    print(result.summary() + f"; {result.frames['trained']} frames trained, {result.steps} steps, {took:.0f} s.")
    if kept is not None:
        print(f"Kept as {args.out} ({kept}): use it with --model {args.out}; remove it with "
              f"`segcam models remove {args.out}`.")
    else:
        print(f"Not kept: the calibrated model is not better than stock {result.stock} on the held-back frames. "
              "Record again with more movement, or in steadier light.")
    if args.picture:
        print(f"Side by side: {args.picture}")
    return 0


def _write_picture(path: str, picture) -> None:
    import cv2

    from segcam import fileio

    suffix = Path(path).suffix.lower()
    ok, data = cv2.imencode(".png" if suffix == ".png" else ".jpg", picture)
    if not ok:
        raise SettingsError(f"Cannot encode the picture for {path}.")
    try:
        fileio.write_bytes(path, data.tobytes())
    except OSError as e:
        raise SettingsError(f"Cannot write {path}: {e.strerror or e}.") from e


class _Reporter:
    """One progress line on stderr, rewritten in place; a new line for each stage."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.terminal = sys.stderr.isatty()  # elsewhere (a log file): a line every tenth of a stage
        self.stage = ""
        self.shown = -1

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def progress(self, stage: str, fraction: float, message: str) -> None:
        if self.quiet:
            return
        step = int(fraction * (100 if self.terminal else 10))
        if stage == self.stage and step == self.shown:
            return
        if self.terminal:
            if stage != self.stage and self.stage:
                print(file=sys.stderr)
            print(f"\r{message}\033[K", end="", file=sys.stderr, flush=True)
        else:
            print(message, file=sys.stderr, flush=True)
        self.stage, self.shown = stage, step

    def end(self) -> None:
        if self.stage and self.terminal and not self.quiet:
            print(file=sys.stderr, flush=True)
        self.stage = ""
