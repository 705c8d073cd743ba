"""Render stock against calibrated masks on chosen frames of a video, RVM's outline drawn on both.

    python tools/calibration_picture.py VIDEO MODEL OUT.png [--frames 25,30,35] [--stock mediapipe-landscape]

MODEL is a calibrated model's name (or any model segcam knows). Every model sees the video from
its first frame, in order, as `segcam run` would (RVM's recurrent state settles), and the
picture shows the chosen frames: stock | calibrated, each captioned with its IoU against RVM
(quality best). The README's calibration picture is made with it.
"""

from __future__ import annotations

import argparse
import sys

import cv2


def main(argv: list[str] | None = None) -> int:
    from segcam import calibrate, fileio
    from segcam.io import iter_video_frames
    from segcam.processor import FrameProcessor
    from segcam.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--frames", default="25,30,35", help="0-based frame numbers, comma-separated")
    parser.add_argument("--stock", default="mediapipe-landscape")
    parser.add_argument("--width", type=int, default=320, help="width of each picture")
    parser.add_argument("--label", default="calibrated", help="the tuned model's caption (e.g. learned)")
    args = parser.parse_args(argv)
    wanted = sorted({int(n) for n in args.frames.split(",")})

    def processor(model: str, quality: str = "balanced") -> FrameProcessor:
        processor = FrameProcessor(Settings(model=model, quality=quality, effect="none", output="none"))
        processor.reset()
        return processor

    teacher, stock, tuned = (processor(calibrate.TEACHER, calibrate.TEACHER_QUALITY), processor(args.stock),
                             processor(args.model))
    frames, truths, stock_masks, tuned_masks = [], [], [], []
    for index, frame in enumerate(iter_video_frames(args.video)):
        if index > wanted[-1]:
            break
        size = (frame.shape[1], frame.shape[0])
        masks = [p.matte(frame).raw_at(*size) >= calibrate.THRESHOLD for p in (teacher, stock, tuned)]
        if index in wanted:
            for kept, mask in zip((truths, stock_masks, tuned_masks), masks):
                kept.append(mask)
            frames.append(frame)
    picture = calibrate.comparison_picture(frames, truths, stock_masks, tuned_masks, args.stock,
                                           rows=len(frames), width=args.width, tuned_title=args.label)
    fileio.write_bytes(args.out, cv2.imencode(".png", picture)[1].tobytes())
    print(f"{args.out}: frames {', '.join(map(str, wanted[:len(frames)]))}, {picture.shape[1]}x{picture.shape[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
