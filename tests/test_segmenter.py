import cv2
import numpy as np
import pytest
import torch

from segcam.errors import SettingsError
from segcam.models import derived, registry
from segcam.models.mediapipe import SelfieSegmentation
from segcam.segmenter import FrameInput, Segmenter, pick_device


def _machine(monkeypatch, cuda: bool, mps: bool) -> None:
    """Which accelerators torch reports; no machine here has both, so they are set by hand."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _machine(monkeypatch, cuda, mps)
    assert pick_device("auto") == expected
    assert pick_device("cpu") == "cpu"


def test_asking_for_a_missing_accelerator_is_a_clear_error(monkeypatch):
    _machine(monkeypatch, cuda=False, mps=True)
    with pytest.raises(SettingsError, match="no CUDA GPU"):
        pick_device("cuda")
    assert pick_device("mps") == "mps"
    _machine(monkeypatch, cuda=True, mps=False)
    with pytest.raises(SettingsError, match="Apple MPS is not available"):
        pick_device("mps")
    assert pick_device("cuda") == "cuda"


def test_unknown_device_and_runtime(models_installed):
    with pytest.raises(SettingsError):
        pick_device("tpu")
    with pytest.raises(SettingsError, match="Unknown runtime"):
        Segmenter("mediapipe-landscape", "cpu", runtime="tensorrt")


def test_frame_input_swaps_bgr_to_rgb_and_scales():
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen["x"] = x
            return x[:, :1]

    module = FrameInput(Probe(), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    frame = torch.zeros(1, 2, 2, 3, dtype=torch.uint8)
    frame[..., 0] = 255  # blue in BGR
    module(frame)
    x = seen["x"]
    assert x.shape == (1, 3, 2, 2)
    assert torch.allclose(x[0, 2], torch.full((2, 2), 2.0))  # blue, now last: (1 - 0.5) / 0.25
    assert torch.allclose(x[0, 0], torch.full((2, 2), -2.0))  # red is 0: (0 - 0.5) / 0.25


def test_model_picked_by_frame_shape():
    assert registry.pick_for_frame(1280, 720) == "mediapipe-landscape"
    assert registry.pick_for_frame(640, 480) == "mediapipe-general"
    assert registry.pick_for_frame(720, 1280) == "mediapipe-general"
    assert registry.resolve("mediapipe-general", 1280, 720) == "mediapipe-general"
    with pytest.raises(SettingsError, match="Unknown model"):
        registry.resolve("u2net", 1280, 720)


@pytest.mark.parametrize("model", ["mediapipe-landscape", "mediapipe-general"])
def test_onnx_runtime_matches_torch_on_a_real_frame(models_installed, shared_dir, model):
    frame = cv2.imread(str(shared_dir / "data" / "stills" / "images" / "bgmatting_0500_img.png"))
    frame = cv2.resize(frame, (1280, 720))
    fast = Segmenter(model, "cpu", runtime="onnxruntime")
    reference = Segmenter(model, "cpu", runtime="torch")
    a, b = fast.predict(frame), reference.predict(frame)
    height, width = registry.get(model).input_size
    assert a.shape == b.shape == (height, width)
    assert np.abs(a - b).max() < 1e-4
    assert 0.05 < (a > 0.5).mean() < 0.8  # a person is found


def test_segment_returns_frame_size(models_installed):
    frame = np.zeros((123, 321, 3), np.uint8)
    mask = Segmenter("mediapipe-landscape", "cpu").segment(frame)
    assert mask.shape == (123, 321) and mask.dtype == np.float32


def test_rejects_non_bgr_frames(models_installed):
    with pytest.raises(ValueError):
        Segmenter("mediapipe-landscape", "cpu").predict(np.zeros((10, 10), np.uint8))


def test_onnx_export_is_cached(models_installed):
    from segcam.segmenter import _onnx_cache_path

    Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")
    path = _onnx_cache_path("mediapipe-landscape")
    stamp = path.stat().st_mtime_ns
    Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")
    assert path.stat().st_mtime_ns == stamp


def test_builds_from_state_dict_without_weights_file():
    network = SelfieSegmentation("landscape")
    assert network.input_size == (144, 256)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model", ["mediapipe-landscape", "mediapipe-general"])
def test_cuda_graph_fp16_matches_cpu(models_installed, shared_dir, model):
    frame = cv2.imread(str(shared_dir / "data" / "stills" / "images" / "bgmatting_0500_img.png"))
    gpu = Segmenter(model, "cuda")
    assert gpu.runtime == "torch" and gpu._run._graph is not None
    cpu = Segmenter(model, "cpu", runtime="torch")
    for flip in (False, True):  # the graph must see each new frame, not the first one again
        image = frame[:, ::-1].copy() if flip else frame
        a, b = gpu.predict(image), cpu.predict(image)
        # fp16 moves a few steep edge pixels by a few percent; the mask itself agrees
        assert np.abs(a - b).mean() < 2e-3 and np.abs(a - b).max() < 0.15
        assert ((a > 0.5) == (b > 0.5)).mean() > 0.999


# -- the ONNX export and the converted weights are derived files: damage is mended on start


def truncate(path, size: int = 1000) -> None:
    path.write_bytes(path.read_bytes()[:size])


def onnx_export(name: str = "mediapipe-landscape"):
    from segcam.segmenter import _onnx_cache_path

    return _onnx_cache_path(name)


def pt_file():
    from segcam.models import weights

    return weights.models_dir() / "selfie_segmentation_landscape.pt"


@pytest.mark.parametrize("damaged", ["onnx", "onnx without record", "pt", "both"])
def test_a_truncated_cache_is_made_again_on_start(own_models, damaged):
    frame = np.zeros((144, 256, 3), np.uint8)
    expected = Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime").predict(frame)
    if damaged == "onnx without record":
        derived.record_path(onnx_export()).unlink()  # as an older segcam left it
    if damaged.startswith("onnx") or damaged == "both":
        truncate(onnx_export())
    if damaged in ("pt", "both"):
        truncate(pt_file())
        onnx_export().unlink()  # so the export needs the torch weights again

    again = Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime", download=False)
    assert np.abs(again.predict(frame) - expected).max() < 1e-6
    assert derived.check(onnx_export()).ok
    if damaged in ("pt", "both"):
        assert derived.check(pt_file()).ok


def test_truncated_pt_is_converted_again_for_torch(own_models):
    truncate(pt_file())
    segmenter = Segmenter("mediapipe-landscape", "cpu", runtime="torch", download=False)
    assert segmenter.predict(np.zeros((72, 128, 3), np.uint8)).shape == (144, 256)
    assert derived.check(pt_file()).ok


def test_onnx_runtime_refusing_a_verified_export(own_models, monkeypatch, caplog):
    import segcam.segmenter as segmenter_module

    Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")

    class Refusing:
        def __init__(self, *args):
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Unsupported model IR version: 99")

    monkeypatch.setattr(segmenter_module, "OnnxRunner", Refusing)
    fallback = Segmenter("mediapipe-landscape", "cpu", runtime="auto")  # auto: torch takes over
    assert fallback.runtime == "torch" and "running the network in torch instead" in caplog.text
    assert fallback.predict(np.zeros((72, 128, 3), np.uint8)).shape == (144, 256)
    with pytest.raises(SettingsError, match=r"Unsupported model IR version: 99\); use --runtime torch"):
        Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")
    assert derived.check(onnx_export()).ok  # the file itself is fine and stays


def test_onnx_caches_lists_each_models_exports(own_models):
    from segcam.segmenter import onnx_caches

    Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")
    older = onnx_export().with_name("mediapipe-landscape-torch2.0.0.onnx")
    older.write_bytes(b"")
    other = onnx_export().with_name("mediapipe-landscape-x-torch2.0.0.onnx")  # a model named like a prefix
    other.write_bytes(b"")
    assert [c.path.name for c in onnx_caches("mediapipe-landscape")] == sorted([older.name, onnx_export().name])
    assert {older, other, onnx_export()} <= {c.path for c in onnx_caches()}
    assert all(c.path.name.startswith("mediapipe-general-") for c in onnx_caches("mediapipe-general"))
