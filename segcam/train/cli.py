"""Arguments of `segcam train` and what it runs; segcam.cli wires them in."""

from __future__ import annotations

import argparse
import os

from segcam.argtypes import parse_size
from segcam.settings import DEVICES


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="segnet",
                        help="segnet (own network, from scratch), mediapipe-general or mediapipe-landscape "
                             "(fine-tune), or a segcam model file to continue from (default segnet)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for checkpoint.pt, history.jsonl and best.pt (the model file)")
    parser.add_argument("--input-size", type=parse_size, metavar="WxH", help="segnet's input size (default 256x144)")
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
    opt.add_argument("--device", default="auto", choices=DEVICES)
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    opt.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(args: argparse.Namespace) -> int:
    from segcam.train.loop import TrainConfig, train

    config = TrainConfig(
        out_dir=args.out, model=args.model, folders=args.folder,
        input_size=args.input_size and args.input_size[::-1],  # WxH is (width, height); training's is (h, w)
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
