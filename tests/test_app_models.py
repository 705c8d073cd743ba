"""The app and the segmentation models: getting weights (download, import, offline), and switching
models without stopping the one that runs. Real widgets offscreen, real weights, weights served by a
loopback HTTP server; the real torchvision networks with local weight files."""

import threading
import urllib.error

import numpy as np
import torch
from PySide6.QtGui import QImage

from segcam.errors import WeightsError
from segcam.models import registry, torchvision_seg, weights
from segcam.ui.weights_dialog import WeightsDialog, needed_files

from app_helpers import WAIT_MS, open_window, own_data_dir, vcam_backend, wait_for_frames, weights_server
from test_torchvision_seg import LRASPP, write_torchvision_weights

__all__ = ["open_window", "own_data_dir", "vcam_backend"]  # fixtures, used by name

LANDSCAPE, GENERAL = "selfie_segmentation_landscape.tflite", "selfie_segmentation.tflite"


def weights_dialog(qtbot, window) -> WeightsDialog:
    qtbot.waitUntil(lambda: isinstance(window.weights_dialog, WeightsDialog) and window.weights_dialog.isVisible(),
                    timeout=WAIT_MS)
    return window.weights_dialog


def mean_difference(a, b) -> float:
    """Mean absolute difference of two same-sized QImages, per channel value."""
    def pixels(image):
        image = image.convertToFormat(QImage.Format.Format_RGB888)
        rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        return rows[:, : image.width() * 3].astype(int)

    return float(np.abs(pixels(a) - pixels(b)).mean())


def choose_in_model_box(window, name: str) -> None:
    """What picking an entry of the Model box does."""
    box = window.model_panel.model
    index = box.findData(name)
    assert index >= 0
    box.setCurrentIndex(index)
    box.activated.emit(index)


# -- the first start: only the weights the frame shape needs ---------------------------------

def test_first_run_asks_only_for_the_weights_the_frame_shape_needs(qtbot, shared_models, open_window):
    window = open_window(output="none")  # the 640x360 clip: "Automatic" means the landscape network
    dialog = weights_dialog(qtbot, window)
    assert needed_files(dialog.model) == [LANDSCAPE]
    assert LANDSCAPE in dialog.files.text() and GENERAL not in dialog.files.text()
    assert not window.controller.running

    dialog.import_files([str(shared_models / "SHA256SUMS")])
    assert "not a model file segcam knows" in dialog.status.text() and dialog.isVisible()
    # offline: import the one file a colleague handed over, and it starts at once
    dialog.import_files([str(shared_models / LANDSCAPE)])
    assert not dialog.isVisible()
    wait_for_frames(qtbot, window)
    assert window.controller.pipeline.stats.model == "mediapipe-landscape"
    assert not weights.verify(GENERAL)  # never asked for


def test_choosing_an_installed_model_while_waiting_starts_it(qtbot, shared_models, open_window):
    weights.import_file(shared_models / GENERAL)  # the general network is here, the landscape one is not
    window = open_window(output="none")
    dialog = weights_dialog(qtbot, window)
    assert dialog.model == "mediapipe-landscape"

    choose_in_model_box(window, "mediapipe-general")
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    wait_for_frames(qtbot, window)
    assert window.running_settings.get("model") == "mediapipe-general"
    assert window.controller.pipeline.stats.model == "mediapipe-general"
    assert "segcam needs" not in window.message_bar.text()  # closing the dialog was not a refusal


# -- downloading ------------------------------------------------------------------------------

def test_weights_download_shows_progress(qtbot, shared_models, open_window, monkeypatch):
    with weights_server(shared_models, monkeypatch):
        window = open_window(output="none")
        dialog = weights_dialog(qtbot, window)
        values = []
        dialog.bar.valueChanged.connect(values.append)
        dialog.download_button.click()
        assert not dialog.download_button.isEnabled() and not dialog.import_button.isEnabled()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60000)
        assert any(0 < v < 100 for v in values) and values[-1] == 100
        wait_for_frames(qtbot, window)


def test_a_dialog_opened_during_a_download_shows_it_instead_of_starting_another(qtbot, shared_models, open_window,
                                                                               monkeypatch):
    with weights_server(shared_models, monkeypatch, delay_s=0.05) as server:  # about 1.5 s for the file
        window = open_window(output="none")
        first = weights_dialog(qtbot, window)
        ready_look = first.download_button.grab().toImage()
        first.download_button.click()
        assert not first.download_button.isEnabled()
        assert mean_difference(first.download_button.grab().toImage(), ready_look) > 20  # and it looks it
        qtbot.waitUntil(lambda: "KB of" in first.status.text(), timeout=WAIT_MS)
        first.cancel_button.click()  # "Not now": the download goes on in the background
        assert "segcam needs its segmentation model" in window.message_bar.text()

        window.model_panel.manage_requested.emit()  # "Model files…"
        second = weights_dialog(qtbot, window)
        assert second is not first
        assert not second.download_button.isEnabled() and not second.import_button.isEnabled()
        assert second.status.text().startswith("Downloading")
        second.download_button.click()  # disabled: nothing happens
        qtbot.waitUntil(lambda: not second.isVisible(), timeout=60000)
        wait_for_frames(qtbot, window)
        assert server.requests == [f"/{LANDSCAPE}"]  # one download, not two


def test_offline_download_says_so_in_one_sentence_and_points_at_import(qtbot, open_window, monkeypatch):
    release = threading.Event()

    def pip_fallback(dest):  # the loopback URL refuses, so the weights module turns to pip
        release.wait(timeout=WAIT_MS / 1000)
        raise WeightsError("pip could not download mediapipe==0.10.14: no network")

    monkeypatch.setattr(weights, "fetch_wheel", pip_fallback)
    window = open_window(output="none")
    dialog = weights_dialog(qtbot, window)
    dialog.download_button.click()
    # while pip works the dialog says what is being fetched, and how large it is
    qtbot.waitUntil(lambda: "36 MB" in dialog.status.text() and "pip" in dialog.status.text(), timeout=WAIT_MS)
    assert dialog.bar.maximum() == 0 and not dialog.download_button.isEnabled()
    release.set()

    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=WAIT_MS)
    text = dialog.status.text()
    assert text.startswith(f"Could not download {LANDSCAPE} (pip could not download")
    assert "Click Import file…" in text and "segcam models" not in text and text.count(". ") <= 1
    qtbot.wait(50)  # the dialog grows to the wrapped text
    status = dialog.status
    assert status.height() >= status.heightForWidth(status.width())  # nothing cut off
    assert dialog.rect().contains(status.geometry())
    assert dialog.isVisible() and not window.controller.running
    # and before any of it, the dialog said what a download may take
    assert f"{weights.WHEEL_REQUIREMENT} package instead (36 MB" in dialog.intro.text()
    assert "well under 1 MB" not in dialog.intro.text()


# -- the Model box ----------------------------------------------------------------------------

def test_models_that_need_a_download_are_marked_and_offline_the_old_one_keeps_running(
        qtbot, own_data_dir, open_window, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    box = window.model_panel.model
    texts = {box.itemData(i): box.itemText(i) for i in range(box.count())}
    assert texts["deeplabv3-mobilenet-v3"].endswith("(not installed)")
    assert texts["lraspp-mobilenet-v3"].endswith("(not installed)")
    assert texts["mediapipe-landscape"] == "mediapipe-landscape"
    pipeline = window.controller.pipeline

    choose_in_model_box(window, "deeplabv3-mobilenet-v3")
    dialog = weights_dialog(qtbot, window)
    assert dialog.model == "deeplabv3-mobilenet-v3" and not dialog.import_button.isVisible()
    assert box.currentData() == "auto"  # the box shows what runs until the new model is there
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.download_button.isEnabled(), timeout=WAIT_MS)
    assert "Could not download" in dialog.status.text() and "Name or service not known" in dialog.status.text()
    dialog.cancel_button.click()

    wait_for_frames(qtbot, window)  # never stopped
    assert window.controller.pipeline is pipeline and pipeline.running
    assert window.running_settings.get("model") == "auto" and box.currentData() == "auto"
    assert pipeline.stats.model == "mediapipe-landscape"


def test_a_model_that_cannot_load_leaves_the_running_one_alone(qtbot, own_data_dir, open_window):
    path = torchvision_seg.weights_file(LRASPP)  # present, so "installed", but not LR-ASPP's weights
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"something": torch.zeros(3)}, path)
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    pipeline = window.controller.pipeline

    choose_in_model_box(window, "lraspp-mobilenet-v3")
    qtbot.waitUntil(lambda: "could not be loaded" in window.message_bar.text(), timeout=60000)
    level, text = [(level, text) for key, level, text in window.message_bar.messages() if key == "model"][0]
    assert level == "error" and text.startswith("lraspp-mobilenet-v3 could not be loaded, so mediapipe-landscape "
                                                "keeps running: ")
    assert "does not hold" in text and "\n" not in text
    assert window.model_panel.model.currentData() == "auto" and not window.model_panel.loading.isVisible()
    wait_for_frames(qtbot, window)
    assert window.controller.pipeline is pipeline and pipeline.running
    assert window.running_settings.get("model") == "auto" and pipeline.stats.model == "mediapipe-landscape"


def test_switching_to_an_installed_model_keeps_the_pipeline_running(qtbot, own_data_dir, open_window):
    write_torchvision_weights(LRASPP)
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    pipeline = window.controller.pipeline
    assert registry.get("lraspp-mobilenet-v3").installed()

    choose_in_model_box(window, "lraspp-mobilenet-v3")
    assert window.model_panel.loading.isVisible()  # it loads beside the running network
    assert window.model_panel.model.currentData() == "lraspp-mobilenet-v3"
    qtbot.waitUntil(lambda: pipeline.stats.model == "lraspp-mobilenet-v3", timeout=120000)
    assert window.controller.pipeline is pipeline and pipeline.running  # switched, never stopped
    assert not window.model_panel.loading.isVisible() and window.running_settings.get("model") == "lraspp-mobilenet-v3"
    wait_for_frames(qtbot, window)

