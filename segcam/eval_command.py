"""`segcam eval`: its arguments and what it runs (segcam.cli wires it in).

Every mode runs frames through a FrameProcessor, the same per-frame path as `segcam run`:
stills are each a video of one frame; `--sequence`, `--video` and `--motion` carry the
temporal state (a recurrent network's, the refiner's) from frame to frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segcam.errors import SettingsError


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    from segcam.settings import DEVICES, QUALITIES

    parser.add_argument("--images", metavar="DIR", help="images to segment")
    parser.add_argument("--masks", metavar="DIR", help="their masks: single-channel PNGs, 255 = person, same stems")
    parser.add_argument("--list", metavar="FILE", help="only these names (one stem a line, e.g. split_val60.txt)")
    parser.add_argument("--sequence", action="store_true",
                        help="the sorted images are consecutive frames of one video: the temporal state is carried "
                             "through, and the temporal error against the truth (dtSSD) is scored too")
    parser.add_argument("--video", metavar="PATH", help="measure flicker on a video instead (or, with --against, "
                        "agreement with a teacher model)")
    parser.add_argument("--against", metavar="MODEL",
                        help="with --video: IoU of the model's masks against this model's (e.g. rvm), frame by frame")
    parser.add_argument("--against-quality", choices=QUALITIES, default="best",
                        help="the --against model's quality, for models that follow the frame (default best, as "
                             "`segcam calibrate` labels with)")
    parser.add_argument("--start", type=int, default=0, metavar="N",
                        help="with --against: score from frame N on (0-based); every frame is still seen in order")
    parser.add_argument("--model", default="auto", metavar="NAME|PATH",
                        help="registry name or segcam model file (default auto: the MediaPipe model for the "
                             "image shape, the same on every machine, so scores compare)")
    parser.add_argument("--quality", choices=QUALITIES, default="balanced",
                        help="input size of models that follow the frame (rvm); default balanced")
    parser.add_argument("--threshold", type=float, default=0.5, help="person at probability >= T (default 0.5)")
    parser.add_argument("--refine", action="store_true",
                        help="score masks after the refiner (feathering, upsampling) too")
    parser.add_argument("--motion", metavar="BACKGROUNDS",
                        help="also move each labelled person over a still photo from this folder for 1.5 s "
                             "and score raw and refined masks against the moving truth (IoU, dtSSD, flicker)")
    parser.add_argument("--fast", action="store_true",
                        help="with --motion: fast movement (10-30 px a frame at 640x360, turns, swinging arms) "
                             "instead of a person talking (1-5 px a frame)")
    parser.add_argument("--per-image", action="store_true", help="list each image's IoU")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


class _Models:
    """One FrameProcessor for the run, and the names of the models it used (auto follows each shape)."""

    def __init__(self, args: argparse.Namespace):
        from segcam.processor import FrameProcessor
        from segcam.settings import Settings

        # the same model on every machine: "auto" here goes by the frame's shape, not by speed
        self.processor = FrameProcessor(Settings(model=args.model, device=args.device, quality=args.quality,
                                                 effect="none", output="none"), choose_by_speed=False)
        self.used: list[str] = []

    def note(self) -> None:
        name = self.processor.segmenter.name
        if name not in self.used:
            self.used.append(name)

    def predictor(self, refined: bool = False):
        from segcam import evaluate

        predict = evaluate.still_predictor(self.processor, refined)

        def noted(image):
            mask = predict(image)
            self.note()
            return mask

        return noted

    def describe(self, fallback: str) -> str:
        return "+".join(self.used) or fallback


def run_eval(args: argparse.Namespace) -> int:
    from segcam import evaluate

    if args.video and (args.images or args.masks):
        raise SettingsError("Give either --video or --images with --masks, not both.")
    if (args.against or args.start) and not args.video:
        raise SettingsError("--against and --start apply to --video.")
    if args.start < 0:
        raise SettingsError(f"--start must be 0 or more, got {args.start}.")
    if not 0.0 < args.threshold < 1.0:
        raise SettingsError(f"Threshold must be between 0 and 1, got {args.threshold}.")
    models = _Models(args)
    if args.video:
        return _eval_video(args, models)
    if not (args.images and args.masks):
        raise SettingsError("segcam eval needs --images DIR and --masks DIR, or --video PATH.")
    names = evaluate.read_list(args.list) if args.list else None
    pairs, problems = evaluate.pair_by_stem(args.images, args.masks, names)
    if args.sequence:
        return _eval_sequence(args, models, pairs, problems)
    report = evaluate.evaluate_images(models.predictor(), pairs, args.threshold, args.model, problems,
                                      progress=not args.json)
    report.model = models.describe(args.model)
    if not report.per_image:  # a mean over nothing is nan, not a score
        _nothing_evaluated(args, pairs, report.problems)
    data = report.to_dict(args.per_image)
    if args.refine:
        refined = evaluate.evaluate_images(models.predictor(refined=True), pairs, args.threshold)
        data["mean_iou_refined"], data["median_iou_refined"] = refined.mean_iou, refined.median_iou
    if args.motion:
        data["motion"] = _eval_motion(args, models, pairs).to_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    if args.per_image:
        for name, iou in report.per_image:
            print(f"{name}\t{iou:.4f}")
    for problem in report.problems:
        print(f"not evaluated: {problem}", file=sys.stderr)
    line = (f"{data['model']}: mean IoU {data['mean_iou']:.4f}, median {data['median_iou']:.4f} on "
            f"{data['images']} images (threshold {args.threshold})")
    if args.refine:
        line += f"; after the refiner: mean {data['mean_iou_refined']:.4f}, median {data['median_iou_refined']:.4f}"
    print(line + (f"; {len(report.problems)} not evaluated" if report.problems else ""))
    if args.motion:
        m = data["motion"]
        print(f"{'fast-moving' if args.fast else 'moving'} person, {m['clips']} clips: IoU {m['iou_raw']:.4f} "
              f"raw, {m['iou_refined']:.4f} refined; dtSSD {m['dtssd_raw']:.4f} raw, {m['dtssd_refined']:.4f} "
              f"refined; flicker truth {m['flicker_truth']:.5f}, raw {m['flicker_raw']:.5f}, "
              f"refined {m['flicker_refined']:.5f}")
    return 0


def _nothing_evaluated(args: argparse.Namespace, pairs, problems: list[str]) -> None:
    first = f" (first: {problems[0]})" if problems else ""
    raise SettingsError(f"No image could be evaluated: {len(pairs)} image/mask pairs found in {args.images} "
                        f"and {args.masks}, {len(problems)} unusable{first}.")


def _eval_sequence(args: argparse.Namespace, models: _Models, pairs, problems: list[str]) -> int:
    from segcam import evaluate

    report = evaluate.evaluate_sequence(models.processor, pairs, args.threshold, problems)
    if not report.frames:
        _nothing_evaluated(args, pairs, report.problems)
    models.note()
    data = {"model": models.describe(args.model), **report.to_dict()}
    if args.json:
        print(json.dumps(data))
        return 0
    for problem in report.problems:
        print(f"not evaluated: {problem}", file=sys.stderr)
    print(f"{data['model']}: {report.frames} frames in sequence: IoU {report.mean_iou:.4f} raw, "
          f"{report.mean_iou_refined:.4f} refined; dtSSD {report.dtssd:.4f} raw, {report.dtssd_refined:.4f} refined "
          f"(threshold {args.threshold})")
    return 0


def _eval_motion(args: argparse.Namespace, models: _Models, pairs):
    from segcam import evaluate, motion_eval

    folder = Path(args.motion)
    backgrounds = sorted(p for p in folder.glob("*") if p.suffix.lower() in evaluate.IMAGE_SUFFIXES) \
        if folder.is_dir() else []
    if not backgrounds:
        raise SettingsError(f"--motion needs a folder of background photos; found none in {folder}.")
    try:
        return motion_eval.evaluate_motion(models.processor, pairs, backgrounds, args.threshold,
                                           models.describe(args.model), progress=not args.json,
                                           motion="fast" if args.fast else "talk")
    except ValueError as error:
        raise SettingsError(f"--motion: {error} in {folder}.") from None


def _eval_video(args: argparse.Namespace, models: _Models) -> int:
    from segcam import evaluate

    if args.against:
        return _eval_against(args, models)
    frames = evaluate.video_frames(args.video)
    report = evaluate.evaluate_video(models.processor, frames)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{report.model}: flicker {report.flicker_raw:.5f} raw, {report.flicker_refined:.5f} after the "
              f"refiner ({report.flicker_refined / max(report.flicker_raw, 1e-12):.0%}) over {report.frames} frames")
    return 0


def _eval_against(args: argparse.Namespace, models: _Models) -> int:
    from segcam import evaluate
    from segcam.io import iter_video_frames
    from segcam.processor import FrameProcessor
    from segcam.settings import Settings

    if not Path(args.video).is_file():
        raise SettingsError(f"Video file {args.video} does not exist.")
    teacher = FrameProcessor(Settings(model=args.against, device=args.device, quality=args.against_quality,
                                      effect="none", output="none"), choose_by_speed=False)
    report = evaluate.evaluate_agreement(models.processor, teacher, iter_video_frames(args.video),
                                         args.start, args.threshold)
    if not report.frames:
        raise SettingsError(f"{args.video} has no frames from --start {args.start} on.")
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(f"{report.model} against {report.against} ({args.against_quality}): mean IoU {report.mean_iou:.4f}, "
          f"{report.mean_iou_refined:.4f} after the refiner, over {report.frames} frames from frame {report.start} "
          f"(threshold {args.threshold})")
    return 0
