"""`--model auto`: the best installed model that fits the frame budget, measured once and kept,
stepping down when the running one cannot keep up. Measurements are stood in for where a test
needs a given speed (no timing asserts); the real measuring path runs once."""

import numpy as np
import pytest

from segcam import model_choice
from segcam.processor import FrameProcessor
from segcam.settings import Settings


def speeds(**ms):
    calls = []

    def measure(name, width, height, settings):
        calls.append(name)
        return ms[name.replace("-", "_")]

    measure.calls = calls
    return measure


def test_only_the_fast_model_installed_is_chosen_without_measuring(models_installed):
    measure = speeds()
    choice = model_choice.choose(1280, 720, Settings(), measure)
    assert choice.name == "mediapipe-landscape" and not measure.calls
    assert "no better model is installed" in choice.reason and "segcam models download rvm" in choice.reason
    assert model_choice.choose(480, 640, Settings(), measure).name == "mediapipe-general"  # portrait


def test_the_best_model_that_fits_the_budget(rvm_installed):
    assert model_choice.candidates(1280, 720) == ["rvm", "mediapipe-landscape"]
    fast_machine = model_choice.choose(1280, 720, Settings(fps=30), speeds(rvm=12.0))
    assert fast_machine.name == "rvm" and "12 ms" in fast_machine.reason and "budget 20 ms" in fast_machine.reason
    slow_machine = model_choice.choose(1280, 720, Settings(fps=30), speeds(rvm=45.0))
    assert slow_machine.name == "mediapipe-landscape" and "rvm cannot keep 30 fps" in slow_machine.reason
    # the same machine at a lower frame rate has the time
    assert model_choice.choose(1280, 720, Settings(fps=10), speeds(rvm=45.0)).name == "rvm"
    stepped = model_choice.choose(1280, 720, Settings(fps=10), speeds(rvm=45.0), too_slow=frozenset({"rvm"}))
    assert stepped.name == "mediapipe-landscape"


def test_figures_are_measured_once_and_kept(rvm_weights_dir, tmp_path, monkeypatch):
    import shutil

    from segcam.processor import time_model

    data = tmp_path / "data"
    shutil.copytree(rvm_weights_dir, data)
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(data))
    settings = Settings(quality="fast")
    first = model_choice.kept(time_model)("rvm", 320, 180, settings)  # the real path, a second or two
    assert first > 0 and (data / "model-speed.json").exists()
    assert model_choice.kept(lambda *a: pytest.fail("measured twice"))("rvm", 320, 180, settings) == \
        pytest.approx(first, abs=0.01)
    (data / "model-speed.json").write_text("{ damaged")  # a damaged file is measured again, no traceback
    assert model_choice.kept(lambda *a: 7.5)("rvm", 320, 180, settings) == 7.5
    assert model_choice.kept(lambda *a: 9.5)("rvm", 320, 180, Settings(quality="best")) == 9.5  # another key
    assert model_choice.kept(lambda *a: 1.0)("rvm", 320, 180, settings) == 7.5  # the kept figure


def test_keeps_up_forgives_a_few_slow_frames():
    assert model_choice.keeps_up([50.0] * 10, 30)  # too few frames to judge
    assert model_choice.keeps_up([20.0] * 25 + [80.0] * 5, 30)
    assert not model_choice.keeps_up([20.0] * 10 + [40.0] * 20, 30)


def test_processor_steps_down_from_a_model_that_cannot_keep_up(rvm_installed, monkeypatch):
    monkeypatch.setattr(model_choice, "kept", lambda timer: lambda *a: 5.0)  # a fast machine
    processor = FrameProcessor(Settings(model="auto", effect="blur"))
    frame = np.full((180, 320, 3), 90, np.uint8)
    processor.process(frame)
    assert processor.segmenter.name == "rvm" and processor.choice.reason.startswith("auto: rvm")
    assert processor.step_down(70.0)
    processor.process(frame)
    assert processor.segmenter.name == "mediapipe-landscape"
    assert "rvm cannot keep" in processor.choice.reason
    assert not processor.step_down(70.0)  # nothing is faster than the floor
    pinned = FrameProcessor(Settings(model="rvm", effect="blur"))
    pinned.process(frame)
    assert not pinned.step_down(70.0) and pinned.choice.reason == "rvm, as chosen in the settings"


def test_evaluation_picks_by_shape_not_by_speed(rvm_installed, monkeypatch):
    monkeypatch.setattr(model_choice, "kept", lambda timer: lambda *a: pytest.fail("eval measured speed"))
    processor = FrameProcessor(Settings(model="auto"), choose_by_speed=False)
    processor.matte(np.full((180, 320, 3), 90, np.uint8))
    assert processor.segmenter.name == "mediapipe-landscape"


def test_figures_of_another_processor_or_core_count_are_not_read(monkeypatch):
    from segcam import system

    monkeypatch.setattr(system, "cpu_model", lambda: "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz")
    monkeypatch.setattr(system, "cpu_count", lambda: 8)
    settings = Settings(quality="fast")
    assert model_choice.kept(lambda *a: 7.5)("rvm", 320, 180, settings) == 7.5
    assert model_choice.kept(lambda *a: 1.0)("rvm", 320, 180, settings) == 7.5  # this machine's, kept
    monkeypatch.setattr(system, "cpu_count", lambda: 2)  # the same processor model, fewer cores (a container)
    assert model_choice.kept(lambda *a: 20.0)("rvm", 320, 180, settings) == 20.0
    monkeypatch.setattr(system, "cpu_count", lambda: 8)
    monkeypatch.setattr(system, "cpu_model", lambda: "AMD Ryzen 7 5800X 8-Core Processor")  # another processor
    assert model_choice.kept(lambda *a: 4.0)("rvm", 320, 180, settings) == 4.0
    monkeypatch.setattr(system, "cpu_model", lambda: "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz")
    assert model_choice.kept(lambda *a: 1.0)("rvm", 320, 180, settings) == 7.5  # back: its own figure


def test_figures_kept_by_older_segcams_are_ignored(monkeypatch):
    import json
    import platform

    import torch

    from segcam import __version__, paths

    # the key of older segcams named the machine by its architecture alone: "x86_64" for nearly every PC
    old_key = "|".join(["rvm", "320x180", "fast", "cpu", platform.machine(), f"torch {torch.__version__}",
                        f"segcam {__version__}"])
    (paths.data_dir()).mkdir(parents=True, exist_ok=True)
    (paths.data_dir() / "model-speed.json").write_text(json.dumps({old_key: 1.0, "garbage": "x"}))
    assert model_choice.kept(lambda *a: 30.0)("rvm", 320, 180, Settings(quality="fast")) == 30.0
