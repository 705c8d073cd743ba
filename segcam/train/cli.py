"""Arguments of `segcam train` and `segcam eval`, and what they run; segcam.cli wires them in."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _size(text: str) -> tuple[int, int]:
    """WxH -> (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 256x144, got {text!r}") from None
    return height, width


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="segnet",
                        help="segnet (own network, from scratch), mediapipe-general or mediapipe-landscape "
                             "(fine-tune), or a segcam model file to continue from (default segnet)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for checkpoint.pt, history.jsonl and best.pt (the model file)")
    parser.add_argument("--input-size", type=_size, metavar="WxH", help="segnet's input size (default 256x144)")
    data = parser.add_argument_group("data")
    data.add_argument("--folder", action="append", default=[], metavar="PATH",
                      help="labelled data: a folder with images/ and masks/ (PNG, 255 = person), or a "
                           "list file of names inside one, e.g. people/split_train230.txt (repeatable)")
    data.add_argument("--coco", nargs=2, action="append", default=[], metavar=("INSTANCES_JSON", "IMAGES"),
                      help="COCO person masks from a local copy (needs pycocotools; repeatable)")
    data.add_argument("--cutouts", metavar="DIR", help="RGBA person cut-outs for synthetic pairs")
    data.add_argument("--backgrounds", metavar="DIR", help="background photos for synthetic pairs")
    data.add_argument("--synthetic", type=int, default=0, metavar="N", help="synthetic pairs per epoch")
    data.add_argument("--teacher-images", action="append", default=[], metavar="DIR",
                      help="unlabelled images, labelled by the teacher's soft masks (repeatable)")
    data.add_argument("--teacher-video", action="append", default=[], metavar="PATH",
                      help="unlabelled video; every --video-every-th frame is labelled by the teacher")
    data.add_argument("--teacher", default="mediapipe-general", help="teacher model (default mediapipe-general)")
    data.add_argument("--teacher-weight", type=float, default=0.5, help="loss weight of teacher labels (default 0.5)")
    data.add_argument("--video-every", type=int, default=3, metavar="N")
    data.add_argument("--val", metavar="PATH", default="", help="validation data (folder or list file), never trained on")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=10)
    opt.add_argument("--batch-size", type=int, default=16)
    opt.add_argument("--lr", type=float, help="peak learning rate (default 3e-3 from scratch, 3e-4 fine-tuning)")
    opt.add_argument("--weight-decay", type=float, default=1e-4)
    opt.add_argument("--dice-weight", type=float, default=1.0)
    opt.add_argument("--steps-per-epoch", type=int, metavar="N", help="cap on batches per epoch")
    opt.add_argument("--no-augment", action="store_true", help="train on whole images, unaugmented")
    opt.add_argument("--threshold", type=float, default=0.5, help="threshold for validation IoU (default 0.5)")
    opt.add_argument("--workers", type=int, help="data loader processes (default 0 on a CPU, 4 on a GPU)")
    opt.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    opt.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(args: argparse.Namespace) -> int:
    from segcam.train.loop import TrainConfig, train

    config = TrainConfig(
        out_dir=args.out, model=args.model, input_size=args.input_size, folders=args.folder,
        coco=[tuple(pair) for pair in args.coco], cutouts=args.cutouts or "", backgrounds=args.backgrounds or "",
        synthetic=args.synthetic, teacher_images=args.teacher_images, teacher_videos=args.teacher_video,
        teacher=args.teacher, teacher_weight=args.teacher_weight, video_every=args.video_every, val=args.val,
        threshold=args.threshold, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, dice_weight=args.dice_weight, augment=not args.no_augment,
        steps_per_epoch=args.steps_per_epoch, workers=args.workers, device=args.device, seed=args.seed,
        resume=args.resume, progress=not args.quiet)
    result = train(config)
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun the first process reports for all
    best = f"val IoU {result.best_iou:.4f} at epoch {result.best_epoch}" if result.best_iou is not None else \
        f"epoch {result.best_epoch}"
    print(f"{result.model_file} ({result.parameters:,} parameters, {best}); "
          f"use it with: segcam run --model {result.model_file}")
    return 0


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", metavar="DIR", help="images to segment")
    parser.add_argument("--masks", metavar="DIR", help="their masks: single-channel PNGs, 255 = person, same stems")
    parser.add_argument("--list", metavar="FILE", help="only these names (one stem a line, e.g. split_val60.txt)")
    parser.add_argument("--video", metavar="PATH", help="measure flicker on a video instead")
    parser.add_argument("--model", default="auto", metavar="NAME|PATH",
                        help="registry name or segcam model file (default auto: by image shape, as `run` does)")
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
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_eval(args: argparse.Namespace) -> int:
    from segcam import evaluate
    from segcam.errors import SettingsError

    if args.video and (args.images or args.masks):
        raise SettingsError("Give either --video or --images with --masks, not both.")
    if args.video:
        return _eval_video(args)
    if not (args.images and args.masks):
        raise SettingsError("segcam eval needs --images DIR and --masks DIR, or --video PATH.")
    if not 0.0 < args.threshold < 1.0:
        raise SettingsError(f"Threshold must be between 0 and 1, got {args.threshold}.")
    names = evaluate.read_list(args.list) if args.list else None
    pairs, problems = evaluate.pair_by_stem(args.images, args.masks, names)
    segmenters = _SegmenterCache(args.model, args.device)
    report = evaluate.evaluate_images(segmenters.segment, pairs, args.threshold, segmenters.describe(),
                                      problems, progress=not args.json)
    report.model = segmenters.describe()
    if not report.per_image:  # a mean over nothing is nan, not a score
        first = f" (first: {report.problems[0]})" if report.problems else ""
        raise SettingsError(f"No image could be evaluated: {len(pairs)} image/mask pairs found in {args.images} "
                            f"and {args.masks}, {len(report.problems)} unusable{first}.")
    data = report.to_dict(args.per_image)
    if args.refine:
        refined = evaluate.evaluate_images(segmenters.segment_refined, pairs, args.threshold)
        data["mean_iou_refined"], data["median_iou_refined"] = refined.mean_iou, refined.median_iou
    if args.motion:
        data["motion"] = _eval_motion(args, segmenters, pairs).to_dict()
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
        print(f"{'fast-moving' if args.fast else 'moving'} person, {m['clips']} clips: IoU {m['iou_raw']:.4f} raw, {m['iou_refined']:.4f} refined; "
              f"dtSSD {m['dtssd_raw']:.4f} raw, {m['dtssd_refined']:.4f} refined; flicker truth "
              f"{m['flicker_truth']:.5f}, raw {m['flicker_raw']:.5f}, refined {m['flicker_refined']:.5f}")
    return 0


def _eval_motion(args: argparse.Namespace, segmenters: "_SegmenterCache", pairs):
    from pathlib import Path

    from segcam import evaluate, motion_eval
    from segcam.errors import SettingsError

    folder = Path(args.motion)
    backgrounds = sorted(p for p in folder.glob("*") if p.suffix.lower() in evaluate.IMAGE_SUFFIXES) \
        if folder.is_dir() else []
    if not backgrounds:
        raise SettingsError(f"--motion needs a folder of background photos; found none in {folder}.")
    try:
        return motion_eval.evaluate_motion(segmenters.get, segmenters.refiner, pairs, backgrounds,
                                           args.threshold, segmenters.describe(), progress=not args.json,
                                           motion="fast" if args.fast else "talk")
    except ValueError as error:
        raise SettingsError(f"--motion: {error} in {folder}.") from None


def _eval_video(args: argparse.Namespace) -> int:
    from segcam import evaluate
    from segcam.models import registry
    from segcam.refine import MaskRefiner
    from segcam.segmenter import Segmenter
    from segcam.settings import Settings

    frames = evaluate.video_frames(args.video)
    height, width = frames[0].shape[:2]
    segmenter = Segmenter(registry.resolve(args.model, width, height), args.device)
    report = evaluate.evaluate_video(segmenter, MaskRefiner(Settings()), frames, segmenter.name)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{report.model}: flicker {report.flicker_raw:.5f} raw, {report.flicker_refined:.5f} after the "
              f"refiner ({report.flicker_refined / max(report.flicker_raw, 1e-12):.0%}) over {report.frames} frames")
    return 0


class _SegmenterCache:
    """One Segmenter per resolved model: with --model auto, the choice follows each image's shape."""

    def __init__(self, model: str, device: str):
        from segcam.refine import MaskRefiner
        from segcam.settings import Settings

        self.model, self.device = model, device
        self.segmenters: dict = {}
        self.refiner = MaskRefiner(Settings())

    def get(self, image):
        from segcam.models import registry
        from segcam.segmenter import Segmenter

        name = registry.resolve(self.model, image.shape[1], image.shape[0])
        if name not in self.segmenters:
            self.segmenters[name] = Segmenter(name, self.device)
        return self.segmenters[name]

    def segment(self, image):
        return self.get(image).segment(image)

    def segment_refined(self, image):
        from segcam import evaluate

        return evaluate.refined_predictor(self.get(image), self.refiner)(image)

    def describe(self) -> str:
        return "+".join(self.segmenters) or self.model
