"""torchvision LR-ASPP / DeepLabV3 as person-probability models, loaded from local weight files."""

import urllib.error

import numpy as np
import pytest
import torch
from torchvision.models.segmentation import (LRASPP_MobileNet_V3_Large_Weights, deeplabv3_mobilenet_v3_large,
                                             lraspp_mobilenet_v3_large)

from segcam.errors import WeightsError
from segcam.models import registry, torchvision_seg
from segcam.segmenter import Segmenter

LRASPP = "lraspp-mobilenet-v3-large"
DEEPLAB = "deeplabv3-mobilenet-v3-large"


def write_torchvision_weights(architecture: str, seed: int = 0) -> dict:
    """A random state dict in the exact layout of torchvision's COCO/VOC file, where segcam looks for it."""
    torch.manual_seed(seed)
    if architecture == LRASPP:
        model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    else:  # torchvision's DeepLabV3 file carries the auxiliary head too
        model = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    state = model.state_dict()
    path = torchvision_seg.weights_file(architecture)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def test_person_is_class_15_of_the_scores():
    network = torchvision_seg.build_architecture(LRASPP).eval()
    head = network.model.classifier
    for layer in (head.low_classifier, head.high_classifier):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    head.low_classifier.bias.data[15] = 8.0  # "person" everywhere, by a wide margin
    with torch.inference_mode():
        person = network(torch.rand(1, 3, 64, 96))
    assert person.shape == (1, 1, 64, 96)
    expected = np.exp(8.0) / (np.exp(8.0) + 20)
    np.testing.assert_allclose(person.numpy(), expected, rtol=1e-5)
    head.low_classifier.bias.data[15], head.low_classifier.bias.data[3] = 0.0, 8.0  # now a "bottle"
    with torch.inference_mode():
        assert float(network(torch.rand(1, 3, 64, 96)).max()) < 0.01


def test_probability_is_the_softmax_channel_of_the_wrapped_model():
    network = torchvision_seg.build_architecture(LRASPP).eval()
    x = torch.rand(1, 3, 96, 128)
    with torch.inference_mode():
        scores = network.model(x)["out"]
        np.testing.assert_allclose(network(x)[:, 0].numpy(), torch.softmax(scores, 1)[:, 15].numpy(), atol=1e-6)


@pytest.mark.parametrize("architecture, name", [(LRASPP, "lraspp-mobilenet-v3"), (DEEPLAB, "deeplabv3-mobilenet-v3")])
def test_loads_a_local_weights_file(architecture, name):
    assert not registry.get(name).installed()
    state = write_torchvision_weights(architecture)
    assert registry.get(name).installed()  # what `segcam models list` shows
    network = registry.create_model(name, download=False)  # never touches the network
    reference = torchvision_seg.build_architecture(architecture)
    reference.model.load_state_dict({k: v for k, v in state.items() if not k.startswith("aux_")})
    reference.eval()
    x = torch.rand(1, 3, 72, 128)
    with torch.inference_mode():
        np.testing.assert_allclose(network(x).numpy(), reference(x).numpy(), atol=1e-6)
    assert getattr(network.model, "aux_classifier", None) is None  # the auxiliary head is not run for nothing


def test_runs_in_the_segmenter_like_the_network_itself():
    state = write_torchvision_weights(LRASPP)
    segmenter = Segmenter("lraspp-mobilenet-v3", device="cpu", runtime="torch", download=False)
    frame = np.random.default_rng(0).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    mask = segmenter.predict(frame)
    assert mask.shape == (360, 640)
    # what torchvision's own network says of the same picture, prepared as its weights' card says
    network = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    network.load_state_dict(state)
    transforms = LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1.transforms()
    rgb = torch.from_numpy(segmenter.resize_input(frame)[:, :, ::-1].copy()).permute(2, 0, 1)[None] / 255
    x = (rgb - torch.tensor(transforms.mean).view(1, 3, 1, 1)) / torch.tensor(transforms.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        person = torch.softmax(network.eval()(x)["out"], 1)[0, 15]  # class 15 of VOC: person
    np.testing.assert_allclose(mask, person.numpy(), atol=1e-5)


def test_missing_weights_without_download_say_where_they_go():
    with pytest.raises(WeightsError) as info:
        registry.create_model("lraspp-mobilenet-v3", download=False)
    message = str(info.value)
    assert str(torchvision_seg.weights_file(LRASPP)) in message and "download.pytorch.org" in message


def test_offline_download_is_one_clear_message(monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as info:
        registry.create_model("deeplabv3-mobilenet-v3", download=True)
    message = str(info.value)
    assert "Could not download" in message and "Name or service not known" in message
    assert str(torchvision_seg.weights_file(DEEPLAB)) in message
    assert not torchvision_seg.weights_file(DEEPLAB).exists()


def test_a_foreign_file_is_refused():
    path = torchvision_seg.weights_file(LRASPP)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"something": torch.zeros(3)}, path)
    with pytest.raises(WeightsError, match="does not hold"):
        registry.create_model("lraspp-mobilenet-v3", download=False)


def test_a_truncated_weights_file_is_fetched_again(monkeypatch, caplog):
    from segcam.models import derived

    path = torchvision_seg.weights_file(LRASPP)
    state = write_torchvision_weights(LRASPP)
    registry.create_model("lraspp-mobilenet-v3", download=False)  # recorded on first use
    assert derived.check(path).ok
    path.write_bytes(path.read_bytes()[:4096])

    with pytest.raises(WeightsError) as info:  # offline: one sentence, and the useless file is gone
        registry.create_model("lraspp-mobilenet-v3", download=False)
    assert "damaged" in str(info.value) and "download.pytorch.org" in str(info.value)
    assert not path.exists()

    path.write_bytes(b"\0" * 4096)  # damaged again, now without a record: it does not load
    fetched = []

    def download(url, dst, *args, **kwargs):  # torch.hub's download, serving a good copy
        fetched.append(url)
        torch.save(state, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    registry.create_model("lraspp-mobilenet-v3", download=True)
    assert len(fetched) == 1 and derived.check(path).ok and "fetched again" in caplog.text
