"""Personal calibration: recording, the held-back split, a real short calibration with RVM as the
teacher, keeping (only a better model), cancelling (nothing changes), the calibrated model by name
in the registry, `models remove`, and `eval --against rvm`."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from segcam import calibrate, calibrate_command, evaluate, model_choice
from segcam.cli import main
from segcam.errors import SettingsError
from segcam.io import video_frames
from segcam.models import calibrated, modelfile, registry
from segcam.processor import FrameProcessor
from segcam.settings import Settings

from helpers import data_dir, keep_as_calibrated

REPO = Path(__file__).resolve().parents[1]

CLOSE_UP = range(24, 48, 3)  # 8 frames of the Hamilton clip's close-up, where stock MediaPipe misses much


def close_up_recording(clip) -> calibrate.Recording:
    frames = video_frames(clip, limit=CLOSE_UP.stop)
    recording = calibrate.Recording(calibrated.source_key(str(clip)))
    for n, index in enumerate(CLOSE_UP):
        assert recording.add(frames[index], n * 0.1)
    return recording


@pytest.fixture(scope="module")
def close_up(rvm_best_exports, hamilton_clip):
    """One real calibration (RVM labels, 4 training steps on the CPU) on the close-up, shared by the tests."""
    with data_dir(rvm_best_exports):
        return calibrate.calibrate(close_up_recording(hamilton_clip), max_steps=4, budget_s=300, device="cpu")


def agreement(model: str, frames, teacher: FrameProcessor) -> float:
    processor = FrameProcessor(Settings(model=model, effect="none", output="none"))
    return evaluate.evaluate_agreement(processor, teacher, frames).mean_iou


# -- the parts ------------------------------------------------------------------------------------

def test_split_holds_back_interleaved_blocks_with_a_gap_around_them():
    times = [i / 10 for i in range(300)]  # 30 s at 10 frames a second
    trained, held = calibrate.split(times)
    held_blocks = {int(times[i] / 3.75) for i in held}
    assert held_blocks == {2, 6}  # from the middle and the end: every kind of movement is checked
    assert len(held) == 76 and not set(trained) & set(held)
    # no trained frame is a near-twin of a held-back one: half a second apart at least
    assert min(abs(times[t] - times[h]) for t in trained for h in held) >= 0.5 - 1e-9
    assert len(trained) == 300 - 76 - 4 * 4  # four frames on each side of each held-back block
    # blocks count frames, not seconds: uneven timing (a busy machine, skipped duplicates) still holds back
    # a quarter, and a short recording a few frames
    uneven = [0.0, 0.3, 0.6, 0.9, 1.5, 2.0, 3.0, 3.1]
    assert calibrate.split(uneven) == ([0, 1, 3, 4, 5, 7], [2, 6])


def test_recording_skips_near_duplicates_and_keeps_its_pace():
    recording = calibrate.Recording("0", every_s=0.1)
    rng = np.random.default_rng(0)
    still = np.zeros((720, 1280, 3), np.uint8)
    still[200:700, 500:800] = 220  # a bright "person"
    noisy = np.clip(still + rng.normal(0, 3, still.shape), 0, 255).astype(np.uint8)  # a camera's noise
    assert recording.add(still, 0.0)
    assert not recording.add(noisy, 0.5)  # nothing moved: a near-duplicate
    moved = np.roll(still, 80, axis=1)
    assert recording.add(moved, 0.55)
    assert not recording.add(np.roll(still, 160, axis=1), 0.6)  # too soon after the last one kept
    assert not recording.add(np.zeros((360, 640, 3), np.uint8), 1.0)  # another size
    assert (recording.seen, len(recording.frames), recording.duplicates) == (5, 2, 1)
    assert recording.frame_size == (1280, 720) and recording.frames[0].shape == (288, 512, 3)


def test_command_line_choices_match_the_engine():
    assert calibrate_command.BASES == calibrate.BASES
    assert calibrate_command.BUDGET_S == calibrate.BUDGET_S and calibrate_command.MAX_STEPS == calibrate.MAX_STEPS


def test_names_a_calibrated_model_cannot_take(own_rvm_models):
    for name in ("rvm", "mediapipe-landscape", "auto", "room.pt", "../room", "", "a" * 41):
        with pytest.raises(SettingsError):
            calibrated.check_name(name)
    # in a fresh process (the registry not yet asked anything), said at once, before anything is recorded
    for command in (["calibrate", "--source", "no-such-video.mp4", "--out", "rvm"], ["models", "remove", "rvm"]):
        done = subprocess.run([sys.executable, "-m", "segcam", *command], check=False, capture_output=True, text=True,
                              timeout=120, cwd=REPO)
        assert done.returncode == 2 and "built-in model" in done.stderr, done.stderr


# -- a real calibration -------------------------------------------------------------------------

def test_short_calibration_keeps_a_model_that_agrees_better_with_rvm(close_up, own_rvm_models, hamilton_clip,
                                                                      capsys):
    assert close_up.frames["trained"] >= calibrate.MIN_TRAIN and close_up.frames["held_back"] >= calibrate.MIN_HELD
    assert close_up.stock == "mediapipe-landscape" and close_up.steps == 4
    assert close_up.better, close_up.summary()
    assert close_up.picture is not None and close_up.picture.shape[1] == 2 * 320 + 4

    path = calibrate.keep(close_up, "stage")
    assert path == calibrated.folder() / "stage.pt"
    info = modelfile.read(path)
    assert info.provenance["calibration"]["source"] == str(hamilton_clip.resolve())
    assert info.provenance["calibration"]["frame_size"] == [640, 360]
    assert info.provenance["metrics"]["calibrated_iou"] == close_up.calibrated_iou

    # by its bare name, through the same path as `segcam run` (ONNX Runtime on the CPU): on its own
    # frames it agrees with the teacher better than the stock model does
    frames = close_up_recording(hamilton_clip).frames
    teacher = FrameProcessor(Settings(model="rvm", quality="best", effect="none", output="none"))
    stock, tuned = agreement("mediapipe-landscape", frames, teacher), agreement("stage", frames, teacher)
    assert tuned > stock + 0.05, (stock, tuned)

    assert main(["models", "list"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("stage ")]
    assert listed and "installed" in listed[0] and "calibrated" in listed[0]
    # `auto` can ask for the model made for this source at this size
    assert calibrated.calibrated_for(str(hamilton_clip), 640, 360) == "stage"
    assert calibrated.calibrated_for(str(hamilton_clip), 1280, 720) is None
    assert calibrated.calibrated_for("0", 640, 360) is None


def test_calibrated_model_runs_by_name_and_is_removed(close_up, own_rvm_models, hamilton_clip, tmp_path, capsys):
    calibrate.keep(close_up, "office")
    out = tmp_path / "out.mp4"
    assert main(["run", "--source", str(hamilton_clip), "--model", "office", "--effect", "blur", "--output",
                 str(out), "--max-frames", "3", "--quiet"]) == 0
    assert out.stat().st_size > 0
    capsys.readouterr()

    assert main(["models", "remove", "office"]) == 0
    assert "Removed calibrated model office" in capsys.readouterr().out
    assert not (calibrated.folder() / "office.pt").exists() and "office" not in registry.names()
    assert main(["run", "--source", str(hamilton_clip), "--model", "office", "--output", "none"]) == 2
    assert "Unknown model 'office'" in capsys.readouterr().err
    assert main(["models", "remove", "office"]) == 2
    assert "no calibrated model named 'office'" in capsys.readouterr().err
    assert main(["models", "remove", "rvm"]) == 2
    assert "built-in model" in capsys.readouterr().err


def test_a_model_not_better_than_stock_is_not_kept(close_up, own_rvm_models, carphone_clip, capsys):
    worse = dataclasses.replace(close_up, calibrated_iou=close_up.stock_iou - 0.01)
    with pytest.raises(SettingsError, match="not better than stock"):
        calibrate.keep(worse, "worse")
    assert not calibrated.folder().exists() or not list(calibrated.folder().iterdir())

    # the command: a network trained from scratch for one step is far worse than stock MediaPipe
    assert main(["calibrate", "--source", str(carphone_clip), "--seconds", "1", "--base", "segnet",
                 "--steps", "1", "--out", "scratch", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kept"] is False and report["path"] is None
    assert report["calibrated_iou"] < report["stock_iou"] and report["stock"] == "mediapipe-general"
    assert not (calibrated.folder() / "scratch.pt").exists() and "scratch" not in registry.names()


def test_a_cancelled_calibration_changes_nothing(close_up, own_rvm_models, hamilton_clip):
    kept = calibrate.keep(close_up, "room")
    before = kept.read_bytes()
    seen = []

    def cancel_once_training(stage, fraction, message):
        seen.append(stage)

    for stop_at in ("label", "train"):
        seen.clear()
        with pytest.raises(calibrate.Cancelled):
            calibrate.calibrate(close_up_recording(hamilton_clip), max_steps=50, budget_s=300, device="cpu",
                                progress=cancel_once_training, cancelled=lambda stage=stop_at: stage in seen)
        assert seen[-1] == stop_at
    assert kept.read_bytes() == before
    assert sorted(p.name for p in calibrated.folder().iterdir()) == ["room.pt"]
    with pytest.raises(SettingsError, match="exists"):
        calibrate.keep(close_up, "room")  # replacing takes --overwrite
    assert kept.read_bytes() == before


# -- eval --against -------------------------------------------------------------------------------

def test_eval_against_rvm_scores_from_the_start_frame(own_rvm_models, carphone_clip, tmp_path, capsys):
    clip = tmp_path / "carphone-24.avi"  # the clip's first 24 frames, as Motion JPEG
    frames = video_frames(carphone_clip, limit=24)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 30, (176, 144))
    for frame in frames:
        writer.write(frame)
    writer.release()
    assert main(["eval", "--video", str(clip), "--model", "mediapipe-general", "--against", "rvm",
                 "--start", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["model"], report["against"], report["start"], report["frames"]) == \
        ("mediapipe-general", "rvm", 20, 4)
    assert 0.5 < report["mean_iou"] <= 1.0 and 0.5 < report["mean_iou_refined"] <= 1.0
    # a start past the last frame would score nothing: said in one sentence, not a nan
    assert main(["eval", "--video", str(clip), "--against", "rvm", "--start", "24"]) == 2
    assert "no frames from --start 24" in capsys.readouterr().err
    assert main(["eval", "--images", "x", "--masks", "y", "--against", "rvm"]) == 2
    assert "apply to --video" in capsys.readouterr().err


# -- auto -----------------------------------------------------------------------------------------

def test_auto_runs_the_model_calibrated_for_this_source_at_this_size(own_models, hamilton_clip, carphone_clip,
                                                                      capsys):
    never = speeds_never_measured()
    keep_as_calibrated(hamilton_clip, (640, 360), "stage")
    choice = model_choice.choose(640, 360, Settings(source=str(hamilton_clip)), never)
    assert choice == model_choice.Choice("stage", "auto: stage, calibrated for this video at 640x360")
    # another size, another source, or stepped down from: the usual choice
    for width, height, source in ((1280, 720, hamilton_clip), (640, 360, carphone_clip), (640, 360, "0")):
        assert model_choice.choose(width, height, Settings(source=str(source)), never).name == "mediapipe-landscape"
    assert model_choice.choose(640, 360, Settings(source=str(hamilton_clip)), never,
                               too_slow=frozenset({"stage"})).name == "mediapipe-landscape"
    keep_as_calibrated("0", (1280, 720), "desk")
    assert model_choice.choose(1280, 720, Settings(source="0"), never).reason == \
        "auto: desk, calibrated for this camera at 1280x720"

    # the app switching to the source it was calibrated on (a frame of the same size): auto chooses again
    processor = FrameProcessor(Settings(source=str(carphone_clip), model="auto", effect="none"))
    frame = video_frames(hamilton_clip, limit=1)[0]
    processor.process(frame)
    assert processor.segmenter.name == "mediapipe-landscape"
    processor.update(processor.settings.replace(source=str(hamilton_clip)))
    processor.process(frame)
    assert processor.segmenter.name == "stage" and processor.choice.reason.startswith("auto: stage, calibrated")

    # segcam run says which it runs and why
    assert main(["run", "--source", str(hamilton_clip), "--model", "auto", "--output", "none",
                 "--max-frames", "2"]) == 0
    assert "model auto: stage, calibrated for this video at 640x360" in capsys.readouterr().err


def test_a_model_kept_again_under_its_name_replaces_the_running_one(own_models, hamilton_clip):
    keep_as_calibrated(hamilton_clip, (640, 360), "stage")
    processor = FrameProcessor(Settings(model="stage", effect="blur"))
    frame = video_frames(hamilton_clip, limit=1)[0]
    processor.process(frame)
    running = processor.segmenter
    processor.update(processor.settings.replace(blur_strength=0.7))  # nothing new: the network stays
    processor.process(frame)
    assert processor.segmenter is running
    keep_as_calibrated(hamilton_clip, (640, 360), "stage", overwrite=True)  # calibrated again, kept as "stage"
    processor.update(processor.settings.replace(blur_strength=0.6))  # e.g. the app's switch to it
    processor.process(frame)
    assert processor.segmenter is not running and processor.segmenter.name == "stage"


def speeds_never_measured():
    def measure(name, width, height, settings):
        raise AssertionError(f"{name} was measured: only MediaPipe is installed")

    return measure
