"""RVM in the engine: the segmenter's recurrent state, ONNX Runtime against torch, its input size
following the frame and the quality setting, resets on cuts, and the whole pipeline on a clip."""

import cv2
import numpy as np
import pytest

from segcam.models import registry, rvm_spec
from segcam.processor import FrameProcessor
from segcam.segmenter import Segmenter, onnx_caches
from segcam.settings import Settings

from helpers import read_video


@pytest.fixture(scope="module")
def reference(shared_models):
    data = np.load(shared_models / "rvm" / "reference" / "sequence_hamilton_25-34_r0.5.npz")
    return [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in data["src"]], data["pha"]


def test_input_follows_the_frame_and_the_quality():
    spec = registry.get("rvm")
    assert spec.input_size is None and spec.recurrent
    assert spec.input_size_for(1280, 720, "balanced") == (144, 256)
    assert spec.input_size_for(1280, 720, "fast") == (108, 192)
    assert spec.input_size_for(1280, 720, "best") == (180, 320)
    assert spec.input_size_for(720, 1280, "balanced") == (256, 144)  # portrait: the long side counts
    assert spec.input_size_for(200, 100, "best") == (100, 200)  # never enlarged
    with pytest.raises(ValueError):
        Segmenter("rvm", "cpu")  # it cannot know its input size without the frame's


def test_state_is_carried_and_reset_gives_the_first_answer_again(rvm_installed, reference):
    frames, _ = reference
    segmenter = Segmenter("rvm", "cpu", frame_size=(640, 360))
    first = segmenter.predict(frames[0])
    again = segmenter.predict(frames[0])  # the same picture, with a state that has seen it
    assert np.abs(first - again).max() > 1e-3
    segmenter.reset()
    np.testing.assert_array_equal(segmenter.predict(frames[0]), first)


def test_onnx_runtime_matches_torch_over_a_sequence(rvm_installed, reference):
    frames, _ = reference
    fast = Segmenter("rvm", "cpu", runtime="onnxruntime", frame_size=(640, 360))
    plain = Segmenter("rvm", "cpu", runtime="torch", frame_size=(640, 360))
    for frame in frames:
        small = fast.resize_input(frame)
        a, b = fast.matte(small), plain.matte(small)
        assert np.abs(a.alpha - b.alpha).max() < 1e-3
        assert a.foreground.shape == b.foreground.shape == (*fast.input_size, 3)
        assert np.abs(a.foreground - b.foreground).max() < 1e-3
    # one export serves every input size
    Segmenter("rvm", "cpu", runtime="onnxruntime", frame_size=(333, 199)).predict(frames[0][:199, :333])
    # (the second revision of the graph: its decoder's joins aligned to 8 channels)
    assert [c.path.name for c in onnx_caches("rvm")] == [f"rvm-torch{torch_version()}-r2.onnx"]


def torch_version():
    import torch

    return torch.__version__.split("+")[0]


def test_the_engines_mask_agrees_with_rvms_own_graph(rvm_installed, reference, monkeypatch):
    """At ratio 0.5 the engine's shrunk input is RVM's own; only the lift to frame size differs
    (bilinear here, RVM's fast guided filter in the reference)."""
    monkeypatch.setitem(rvm_spec.LONG_SIDE, "best", 320)
    frames, truth = reference
    segmenter = Segmenter("rvm", "cpu", frame_size=(640, 360), quality="best")
    assert segmenter.input_size == (180, 320)
    for frame, pha in zip(frames, truth):
        alpha = segmenter.segment(frame)
        assert ((alpha > 0.5) == (pha > 0.5)).mean() > 0.99
        assert np.abs(alpha - pha).mean() < 0.01


def test_processor_resets_state_on_a_cut_and_on_a_new_quality(rvm_installed, reference, monkeypatch):
    frames, _ = reference
    processor = FrameProcessor(Settings(model="rvm", effect="blur"))
    processor.process(frames[0])
    segmenter = processor.segmenter
    resets = []
    monkeypatch.setattr(segmenter, "reset", lambda real=segmenter.reset: (resets.append(1), real())[1])
    processor.process(frames[1])  # the next frame of the same shot
    assert not resets
    processor.process(255 - frames[2])  # a cut: everything changes at once
    assert resets == [1]
    processor.update(processor.settings.replace(quality="fast"))
    processor.process(frames[3])
    assert processor.segmenter is not segmenter and processor.segmenter.input_size == (108, 192)


def test_foreground_correction_reaches_the_output(rvm_installed, reference):
    frames, _ = reference
    with_correction = FrameProcessor(Settings(model="rvm", effect="solid", guard=False))  # the composite itself
    result = with_correction.process(frames[0])
    matte = with_correction.segmenter.matte(with_correction.segmenter.resize_input(frames[0]))
    assert matte.foreground is not None and np.abs(matte.foreground).max() > 0.01
    plain = with_correction.compositor.compose(frames[0], result.alpha)  # the same alpha, no correction
    edge = (result.alpha > 0.05) & (result.alpha < 0.95)
    assert edge.any()
    assert np.abs(result.output.astype(int) - plain.astype(int))[edge].mean() > 0.5


def test_run_with_rvm_on_a_clip(rvm_installed, hamilton_clip, tmp_path):
    from segcam import cli

    out = tmp_path / "out.mp4"
    assert cli.main(["run", "--source", str(hamilton_clip), "--model", "rvm", "--quality", "fast",
                     "--effect", "solid", "--output", str(out), "--max-frames", "12", "--quiet"]) == 0
    frames = read_video(out)
    assert len(frames) == 12
    green = np.array([64, 177, 0])  # solid's default colour, BGR
    share = [(np.abs(f.astype(int) - green).sum(axis=2) < 40).mean() for f in frames]
    assert share[0] > 0.99  # the privacy guard: only the colour until the masks are trusted
    assert all(0.2 < s < 0.95 for s in share[-3:])  # then a person kept, the room replaced
