"""The app's "Learn my room" and "Forget what segcam learned": real widgets offscreen, a real learner."""

import torch

from segcam.models import calibrated, modelfile
from segcam.train.loop import TrainConfig, trainable

from app_helpers import WAIT_MS, open_window, vcam_backend, wait_for_frames

__all__ = ["open_window", "vcam_backend"]  # fixtures, used by name


def keep_learned(source, size, name: str) -> None:
    """A model file as the learner keeps one (stock weights, its figures left out)."""
    model = trainable(TrainConfig(out_dir="", model="mediapipe-landscape"))
    with torch.no_grad():
        model.network.output.bias.add_(0.01)
    modelfile.save(calibrated.path_for(name), model.network, model.architecture, model.input_size, model.mean,
                   model.std, options=model.options,
                   provenance={"calibration": {"source": calibrated.source_key(str(source)), "frame_size": list(size),
                                               "learned": True, "stock": "mediapipe-landscape",
                                               "date": "2026-12-07T00:00:00+00:00"}})
    calibrated.sync()


def test_learning_is_on_by_default_with_rvm_says_how_it_goes_and_can_be_turned_off(qtbot, own_rvm_models,
                                                                                   open_window):
    window = open_window(model="mediapipe-landscape")  # on a quiet machine `auto` may afford RVM, which does not learn
    assert window.learn_action.isChecked() and window.settings.app.learn_room is None
    wait_for_frames(qtbot, window)
    qtbot.waitUntil(lambda: window.stats_bar.learning_label.text().startswith("Learning your room"),
                    timeout=WAIT_MS)
    window.learn_action.setChecked(False)
    qtbot.waitUntil(lambda: window.controller.pipeline.learner is None and
                    not window.stats_bar.learning_label.isVisible(), timeout=WAIT_MS)
    assert window.settings.app.learn_room is False


def test_learning_is_off_by_default_without_rvm(qtbot, models_installed, open_window):
    window = open_window()
    wait_for_frames(qtbot, window)
    assert not window.learn_action.isChecked()
    assert window.controller.pipeline.learner is None and not window.stats_bar.learning_label.isVisible()


def test_forget_deletes_what_was_learned_for_this_source_and_runs_stock(qtbot, own_rvm_models, open_window,
                                                                        hamilton_clip):
    keep_learned(hamilton_clip, (640, 360), "learned-here")
    window = open_window(learn_room=False)
    wait_for_frames(qtbot, window)
    assert window.controller.pipeline.processor.segmenter.name == "learned-here"  # auto runs it for this source
    window.forget_action.trigger()
    qtbot.waitUntil(lambda: "Removed calibrated model learned-here" in window.message_bar.text(), timeout=WAIT_MS)
    assert not calibrated.path_for("learned-here").exists()
    wait_for_frames(qtbot, window)
    assert window.controller.pipeline.processor.segmenter.name == "mediapipe-landscape"
