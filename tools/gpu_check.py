"""Check segcam's GPU path on a machine with CUDA, and print one markdown table.

    python tools/gpu_check.py [--budget 480] [--device cuda|mps|cpu] [--frames 100] [--seconds 30]

1. the CUDA tests (`pytest -m cuda`: fp16 on CUDA against fp32 on the CPU for MediaPipe and
   RVM, the CUDA graph against eager torch, RVM's recurrent state carried on the GPU, a short
   calibration training on CUDA);
2. how far fp16 on CUDA is from fp32 on the CPU, on the Hamilton clip's singer;
3. `segcam bench` (blur) at 1280x720 and 1920x1080 for mediapipe-landscape and RVM at each
   quality, with `--device cuda` and `--device cpu` alongside;
4. a 30 s calibration on CUDA (`segcam calibrate --device cuda`) of the Hamilton clip, played
   three times over to last 30 s (so its held-back score is not a fair one: the frames repeat).

Weights come from ../shared/models (imported offline into a folder of its own, as `segcam
models import` does); nothing is downloaded. Without a CUDA GPU it says so and exits 0. Each
step has a time limit, and a step that does not fit in what is left of --budget is skipped
with a line in the table saying so. `--device` runs the GPU column on another device (mps; cpu
tries the script itself on a machine without a GPU, with small --frames and --seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGCAM_SHARED", REPO.parent / "shared"))
CLIP = SHARED / "data" / "clips" / "face_recognition_short_hamilton_clip_640x360.mp4"
SIZES = ("1280x720", "1920x1080")
MODELS = (("mediapipe-landscape", None), ("rvm", "fast"), ("rvm", "balanced"), ("rvm", "best"))
TRAIN_SECONDS = 60  # calibrate's own budget on a GPU


class Table:
    """Rows of | check | GPU | CPU | notes |, printed once at the end."""

    def __init__(self, device: str = "cuda"):
        self.device = device
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, check: str, gpu: str = "", cpu: str = "", notes: str = "") -> None:
        self.rows.append((check, gpu, cpu, notes))
        print(f"  {check}: {gpu} | {cpu} {notes}".rstrip(), file=sys.stderr, flush=True)

    def markdown(self) -> str:
        lines = [f"| check | {self.device} | cpu | notes |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


class Clock:
    """What is left of the budget, and whether a step that may take `limit` seconds still fits."""

    def __init__(self, budget: float):
        self.ends = time.monotonic() + budget

    def left(self) -> float:
        return self.ends - time.monotonic()


def run(command: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=max(timeout, 1))


def segcam(*args: str) -> list[str]:
    return [sys.executable, "-m", "segcam", *args]


def import_weights(env: dict) -> None:
    models = SHARED / "models"
    files = [models / "selfie_segmentation.tflite", models / "selfie_segmentation_landscape.tflite",
             models / "rvm" / "model.json", models / "rvm" / "group1-shard1of1.bin"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"gpu_check: the weights are not all in {models} ({', '.join(missing)} missing); "
                         "put the project's shared folder at ../shared or set SEGCAM_SHARED.")
    done = run(segcam("models", "import", *map(str, files)), env, 300)
    if done.returncode != 0:
        raise SystemExit(f"gpu_check: importing the weights failed: {done.stderr.strip()}")


def cuda_tests(table: Table, env: dict, clock: Clock) -> None:
    limit = min(240.0, clock.left() - 200)  # leave the benchmarks most of the rest
    if limit < 60:
        table.add("pytest -m cuda", "skipped: out of time")
        return
    started = time.monotonic()
    try:
        done = run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-rfs", "-p", "no:cacheprovider", "tests"],
                   {**env, "SEGCAM_SHARED": str(SHARED)}, limit)
    except subprocess.TimeoutExpired:
        table.add("pytest -m cuda", f"stopped after {limit:.0f} s")
        return
    lines = done.stdout.strip().splitlines()
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-200:]
    failed = "; ".join(line for line in lines if line.startswith("FAILED"))[:600]
    table.add("pytest -m cuda", summary, "", f"{time.monotonic() - started:.0f} s" + (f"; {failed}" if failed else ""))


def fp16_agreement(table: Table, clock: Clock, device: str) -> None:
    """fp16 on CUDA against fp32 torch on the CPU, frame by frame on the singer (RVM's state carried)."""
    import numpy as np

    from segcam.io import video_frames
    from segcam.segmenter import Segmenter

    frames = video_frames(CLIP, limit=96)[88:96]
    size = (frames[0].shape[1], frames[0].shape[0])
    against = f"{'fp16 cuda' if device == 'cuda' else device} vs fp32 cpu"
    for model, quality in (("mediapipe-landscape", None), ("mediapipe-general", None), *MODELS[1:]):
        options = {"frame_size": size, "quality": quality} if quality else {}
        if clock.left() < 250:  # the benchmarks and the calibration come first
            table.add(f"{against}: {model} {quality or ''}".strip(), "skipped: out of time")
            continue
        try:
            gpu, cpu = Segmenter(model, device, **options), Segmenter(model, "cpu", runtime="torch", **options)
            worst = mean = agree = 0.0
            for frame in frames:
                a, b = gpu.matte(gpu.resize_input(frame)).alpha, cpu.matte(cpu.resize_input(frame)).alpha
                worst = max(worst, float(np.abs(a - b).max()))
                mean += float(np.abs(a - b).mean()) / len(frames)
                agree += float(np.mean((a >= 0.5) == (b >= 0.5))) / len(frames)
        except Exception as exc:  # noqa: BLE001 - a row that says what broke, and the next check
            table.add(f"{against}: {model} {quality or ''}".strip(), f"failed: {type(exc).__name__}: {exc}"[:300])
            continue
        graph = "CUDA graph" if getattr(gpu._run, "_graph", None) is not None else "eager"
        table.add(f"{against}: {model} {quality or ''}".strip(),
                  f"max {worst:.4f}, mean {mean:.5f}, {agree:.4%} same mask", "fp32 torch",
                  f"{graph}; {len(frames)} clip frames in a row")


def bench(table: Table, env: dict, clock: Clock, device: str, frames: int) -> None:
    for size in SIZES:
        for model, quality in MODELS:
            cells = []
            for on in (device, "cpu"):
                name = f"bench {size} {model} {quality or ''}".strip()
                args = ["bench", "--json", "--size", size, "--model", model, "--effect", "blur", "--device", on,
                        "--frames", str(frames)] + (["--quality", quality] if quality else [])
                limit = min(120.0, clock.left() - 100)  # the calibration needs about 100 s
                if limit < 20:
                    cells.append("skipped: out of time")
                    continue
                try:
                    done = run(segcam(*args), env, limit)
                except subprocess.TimeoutExpired:
                    cells.append(f"stopped after {limit:.0f} s")
                    continue
                if done.returncode != 0:
                    cells.append(f"failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}")
                    continue
                report = json.loads(done.stdout)
                ms = report["ms_per_frame"]
                stages = report["stages"]
                cells.append(f"{ms['median']:.2f} ms (p90 {ms['p90']:.2f}; segment {stages['segment']:.2f}, "
                             f"composite {stages['composite']:.2f}) {report['runtime']}")
            table.add(name, *cells, f"{frames} synthetic frames, medians")


def calibration(table: Table, env: dict, clock: Clock, workdir: Path, device: str, seconds: float) -> None:
    name = f"calibrate {seconds:g} s"
    limit = clock.left() - 5
    if limit < 60:
        table.add(name, "skipped: out of time")
        return
    source = looped_clip(workdir / "calibration.avi", seconds)
    started = time.monotonic()
    try:
        done = run(segcam("calibrate", "--source", str(source), "--seconds", f"{seconds:g}", "--device", device,
                          "--budget", str(TRAIN_SECONDS), "--out", "gpu-check", "--overwrite", "--json", "--quiet"),
                   env, limit)
    except subprocess.TimeoutExpired:
        table.add(name, f"stopped after {limit:.0f} s")
        return
    took = time.monotonic() - started
    if done.returncode != 0:
        table.add(name, f"failed: {done.stderr.strip()[-300:]}")
        return
    report = json.loads(done.stdout)
    stages = ", ".join(f"{stage} {value:.0f} s" for stage, value in report["seconds"].items())
    table.add(name, f"{took:.0f} s in all ({stages}); {report['steps']} steps, "
              f"{report['frames'].get('trained', 0)} frames trained", "not run",
              f"training budget {TRAIN_SECONDS} s; the Hamilton clip over and over; IoU stock "
              f"{report['stock_iou']:.3f} -> calibrated {report['calibrated_iou']:.3f} (frames repeat: not a fair "
              "score)")


def looped_clip(path: Path, seconds: float) -> Path:
    """The Hamilton clip played over and over for `seconds`, as one video file."""
    import cv2

    from segcam.io import video_frames

    frames = video_frames(CLIP)
    fps = 30.0
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    for i in range(int(seconds * fps)):
        writer.write(frames[i % len(frames)])
    writer.release()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/gpu_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all of it (default 480)")
    parser.add_argument("--device", choices=("cuda", "mps", "cpu"), default="cuda", help="the GPU column's device")
    parser.add_argument("--frames", type=int, default=100, help="frames each bench times (default 100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="the calibration's recording (default 30)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device: torch {torch.__version__} sees no CUDA GPU on this machine, so the GPU "
              "path cannot be checked here; nothing was run.")
        return 0
    clock = Clock(args.budget)
    table = Table(args.device)
    with tempfile.TemporaryDirectory(prefix="segcam-gpu-check-") as workdir:
        env = {**os.environ, "SEGCAM_DATA_DIR": str(Path(workdir) / "data"),
               "SEGCAM_CONFIG_DIR": str(Path(workdir) / "config")}
        os.environ.update({key: env[key] for key in ("SEGCAM_DATA_DIR", "SEGCAM_CONFIG_DIR")})
        import_weights(env)
        gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else args.device
        table.add("machine", gpu, f"{os.cpu_count()} CPU cores", f"torch {torch.__version__}, CUDA {torch.version.cuda}")
        cuda_tests(table, env, clock)
        fp16_agreement(table, clock, args.device)
        bench(table, env, clock, args.device, args.frames)
        calibration(table, env, clock, Path(workdir), args.device, args.seconds)
    print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
