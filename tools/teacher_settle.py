"""How to settle RVM's recurrent state when it labels a lone sampled frame (segcam.learn.SETTLE).

The online learner samples single frames. RVM carries a recurrent state; fed one frame cold, its
mask may differ from the mask it gives that frame in the middle of a video. The candidates: a
still fed k times, or a burst of the k consecutive frames ending at it. The reference: RVM (best
quality, one thread, as the learner runs it) over the whole clip in order.

    python tools/teacher_settle.py CLIP.mp4 [CLIP.mp4 ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from segcam.evaluate import iou
from segcam.io import video_frames
from segcam.segmenter import Segmenter

WAYS = (("still", 1), ("still", 3), ("still", 5), ("burst", 3), ("burst", 5))


def _last_mask(segmenter: Segmenter, frames) -> np.ndarray:
    segmenter.reset()
    for frame in frames:
        mask = segmenter.predict(frame)
    return mask


def measure(clip: str, every: int = 9) -> None:
    frames = video_frames(clip)
    height, width = frames[0].shape[:2]
    segmenter = Segmenter("rvm", "cpu", download=False, frame_size=(width, height), quality="best", threads=1)
    segmenter.reset()
    reference = [segmenter.predict(frame) >= 0.5 for frame in frames]
    picks = list(range(12, len(frames), every))
    print(f"{clip}: {len(picks)} frames")
    for way, k in WAYS:
        ious, started = [], time.process_time()
        for i in picks:
            shown = [frames[i]] * k if way == "still" else frames[i - k + 1:i + 1]
            ious.append(iou(_last_mask(segmenter, shown) >= 0.5, reference[i]))
        cpu_ms = (time.process_time() - started) / len(picks) * 1e3
        print(f"  {way} x{k}: IoU with in-order RVM mean {np.mean(ious):.4f}, min {np.min(ious):.4f}; "
              f"{cpu_ms:.0f} ms CPU a label")


if __name__ == "__main__":
    for path in sys.argv[1:]:
        measure(path)
