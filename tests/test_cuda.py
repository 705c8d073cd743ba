"""The GPU path, against the CPU: fp16 torch on CUDA (replayed as a CUDA graph for networks
without state; eager for RVM, whose recurrent state stays on the GPU from frame to frame), and
calibration training on CUDA. They skip without a CUDA GPU; `pytest -m cuda` selects them and
`python tools/gpu_check.py` runs them with the GPU benchmarks."""

import numpy as np
import pytest
import torch

from segcam import calibrate
from segcam.io import video_frames
from segcam.segmenter import Segmenter

from test_calibrate import close_up_recording

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

# fp16 against fp32: a probability may move by a few thousandths, a mask edge by a pixel here and there
MEAN_ABS = 0.005
MAX_ABS = 0.1
SAME_SIDE_OF_HALF = 0.995  # share of pixels whose mask (alpha >= 0.5) agrees


@pytest.fixture(scope="module")
def singer(hamilton_clip) -> list[np.ndarray]:
    """Consecutive frames of the clip where the singer faces the camera (a video: RVM's state matters)."""
    return video_frames(hamilton_clip, limit=96)[88:96]


def assert_agree(gpu: np.ndarray, cpu: np.ndarray) -> None:
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype == np.float32
    difference = np.abs(gpu - cpu)
    assert float(difference.mean()) <= MEAN_ABS and float(difference.max()) <= MAX_ABS
    assert float(np.mean((gpu >= 0.5) == (cpu >= 0.5))) >= SAME_SIDE_OF_HALF


@pytest.mark.parametrize("model", ["mediapipe-landscape", "mediapipe-general"])
def test_mediapipe_fp16_on_cuda_agrees_with_fp32_on_the_cpu(model, models_installed, singer):
    gpu = Segmenter(model, "cuda")
    cpu = Segmenter(model, "cpu", runtime="torch")
    assert (gpu.device, gpu.runtime, gpu._run.dtype) == ("cuda", "torch", torch.float16)
    for frame in singer:
        assert_agree(gpu.predict(frame), cpu.predict(frame))


def test_cuda_graph_gives_the_eager_output(models_installed, singer):
    segmenter = Segmenter("mediapipe-landscape", "cuda")
    runner = segmenter._run
    assert runner._graph is not None  # captured: the graph path is the one that runs
    replayed = []
    for frame in singer[:4]:
        model_input = segmenter.resize_input(frame)
        from_graph = segmenter.infer(model_input)
        with torch.inference_mode():
            eager = runner.module(torch.from_numpy(model_input).to("cuda").unsqueeze(0)).float().cpu().numpy()
        assert np.abs(from_graph - eager).max() <= 1e-3
        replayed.append(from_graph)
    # each replay saw its own frame, not the one recorded or the one before
    assert all(np.abs(a - b).max() > 0 for a, b in zip(replayed, replayed[1:]))


@pytest.mark.parametrize("quality", ["fast", "balanced", "best"])
def test_rvm_state_carried_on_the_gpu_matches_the_cpu(quality, rvm_installed, singer):
    size = (singer[0].shape[1], singer[0].shape[0])
    gpu = Segmenter("rvm", "cuda", frame_size=size, quality=quality)
    cpu = Segmenter("rvm", "cpu", runtime="torch", frame_size=size, quality=quality)
    assert gpu._run._graph is None  # a recurrent network runs eagerly: a graph would freeze its state
    for frame in singer:  # the state moves on with every frame, on each device
        gpu_matte, cpu_matte = gpu.matte(gpu.resize_input(frame)), cpu.matte(cpu.resize_input(frame))
        assert all(state.is_cuda and state.dtype == torch.float16 for state in gpu.state)
        assert_agree(gpu_matte.alpha, cpu_matte.alpha)
        assert np.abs(gpu_matte.foreground - cpu_matte.foreground).mean() <= MEAN_ABS


def test_calibration_trains_on_cuda(own_rvm_models, hamilton_clip):
    result = calibrate.calibrate(close_up_recording(hamilton_clip), max_steps=3, budget_s=120, device="cuda")
    assert result.device == "cuda" and result.steps == 3
    assert all(torch.isfinite(p).all() for p in result.model.network.parameters())
    assert 0.0 <= result.calibrated_iou <= 1.0 and 0.0 <= result.stock_iou <= 1.0
