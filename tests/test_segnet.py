"""segcam's own network, and model files: save, load, register, run in ONNX Runtime."""

import numpy as np
import pytest
import torch

from segcam.errors import SettingsError
from segcam.models import modelfile, registry
from segcam.models.segnet import DEFAULT_INPUT_SIZE, MEAN, STD, SegNet, parameter_count
from segcam.segmenter import Segmenter


def random_segnet(seed: int) -> SegNet:
    torch.manual_seed(seed)
    network = SegNet()
    # non-trivial BatchNorm statistics, so an export that ignored them would show
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return network.eval()


def save_segnet(path, seed=0, size=DEFAULT_INPUT_SIZE):
    network = random_segnet(seed)
    modelfile.save(path, network, "segnet", size, MEAN, STD, provenance={"metrics": {"val_iou": 0.5}})
    return network


def test_small_and_shaped_like_its_input():
    network = SegNet().eval()
    assert parameter_count(network) < 300_000  # "well under 1 M": MediaPipe's class
    for size in [(144, 256), (256, 256), (32, 64)]:
        with torch.inference_mode():
            out = network(torch.rand(2, 3, *size))
        assert out.shape == (2, 1, *size)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_model_file_round_trip(tmp_path):
    network = save_segnet(tmp_path / "net.pt")
    loaded, info = modelfile.load(tmp_path / "net.pt")
    assert info.architecture == "segnet" and info.input_size == DEFAULT_INPUT_SIZE
    assert info.mean == MEAN and info.std == STD
    assert info.provenance["metrics"] == {"val_iou": 0.5} and "segcam_version" in info.provenance
    x = torch.rand(1, 3, *DEFAULT_INPUT_SIZE)
    with torch.inference_mode():
        assert torch.equal(loaded(x), network(x))


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_segmenter_runs_a_model_file_like_the_network(tmp_path, runtime):
    path = tmp_path / "net.pt"
    network = save_segnet(path)
    segmenter = Segmenter(str(path), device="cpu", runtime=runtime)
    assert segmenter.spec.input_size == DEFAULT_INPUT_SIZE
    frame = np.random.default_rng(1).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    resized = segmenter.resize_input(frame)
    rgb = torch.from_numpy(resized[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    x = (rgb - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        expected = network(x)[0, 0].numpy()
    np.testing.assert_allclose(segmenter.predict(frame), expected, atol=2e-4)


def test_retrained_file_under_the_same_path_is_a_new_model(tmp_path):
    from segcam.models import weights

    path = tmp_path / "net.pt"
    save_segnet(path, seed=0)
    first = registry.resolve(str(path), 1280, 720)
    frame = np.random.default_rng(2).integers(0, 256, (144, 256, 3), dtype=np.uint8)
    before = Segmenter(first, device="cpu", runtime="onnxruntime").predict(frame)
    save_segnet(path, seed=1)
    second = registry.resolve(str(path), 1280, 720)
    assert first != second  # the name carries the file's hash
    after = Segmenter(second, device="cpu", runtime="onnxruntime").predict(frame)
    assert not np.allclose(before, after)  # not a stale ONNX export of the old weights
    exports = sorted(p.name for p in (weights.data_dir() / "models" / "onnx").glob("*.onnx"))
    assert len(exports) == 2 and all(p.startswith("net-") for p in exports)


def test_not_a_model_file(tmp_path):
    raw = tmp_path / "state.pt"
    torch.save(SegNet().state_dict(), raw)  # weights alone: no architecture, no input size
    with pytest.raises(SettingsError, match="not a segcam model file"):
        registry.resolve(str(raw), 1280, 720)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(SettingsError, match="not a segcam model file"):
        registry.lookup(str(garbage))
    with pytest.raises(SettingsError, match="does not exist"):
        registry.resolve(str(tmp_path / "missing.pt"), 1280, 720)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    from segcam.models.mediapipe import SelfieSegmentation

    path = tmp_path / "wrong.pt"
    modelfile.save(path, SelfieSegmentation("general"), "segnet", (256, 256), MEAN, STD)
    with pytest.raises(SettingsError, match="do not fit architecture 'segnet'"):
        modelfile.load(path)


def test_cli_rejects_a_bad_model_file_in_one_sentence(tmp_path, capsys):
    from segcam.cli import main

    raw = tmp_path / "state.pt"
    torch.save({"weights": torch.zeros(1)}, raw)
    assert main(["bench", "--model", str(raw), "--frames", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segcam: ") and "not a segcam model file" in err and len(err.splitlines()) == 1
