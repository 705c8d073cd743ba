"""The app's "Calibrate for my room": real widgets offscreen, a real (tiny) calibration with RVM,
Keep and Discard, Cancel, and the Camera menu's action on the window's own frames."""

import threading

import pytest
from PySide6.QtCore import Qt

from segcam import calibrate
from segcam.io import video_frames
from segcam.models import calibrated, modelfile
from segcam.ui import calibrate_dialog
from segcam.ui.calibrate_dialog import CalibrationDialog

from app_helpers import WAIT_MS, open_window, vcam_backend, wait_for_frames
from helpers import keep_as_calibrated

__all__ = ["open_window", "vcam_backend"]  # fixtures, used by name

CLOSE_UP = range(24, 48, 3)  # 8 frames of the Hamilton clip's close-up, where stock MediaPipe misses much
WORK_MS = 120000  # RVM labels and a few training steps on a busy 2-core machine


@pytest.fixture(scope="module")
def close_up_frames(hamilton_clip):
    frames = video_frames(hamilton_clip, limit=CLOSE_UP.stop)
    return [frames[i] for i in CLOSE_UP]


def frames_once(frames):
    """A camera that shows each frame once, then nothing new."""
    queue = list(frames)
    return lambda: queue.pop(0) if queue else None


def calibration_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "segcam-calibration"]


def run_to_result(qtbot, dialog) -> None:
    dialog.show()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == 1
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 2, timeout=WORK_MS)


def test_dialog_calibrates_and_keeps(qtbot, own_rvm_models, hamilton_clip, close_up_frames):
    dialog = CalibrationDialog(str(hamilton_clip), frames_once(close_up_frames), seconds=0.8,
                               options={"device": "cpu", "max_steps": 4, "budget_s": 300})
    qtbot.addWidget(dialog)
    assert "move around" in dialog.instructions.text()
    run_to_result(qtbot, dialog)
    result = dialog.result
    assert result.frames["kept"] == len(close_up_frames)
    figures = dialog.figures.text()
    assert f"{result.stock_iou:.3f}" in figures and f"{result.calibrated_iou:.3f}" in figures
    assert not dialog.picture.pixmap().isNull()
    assert result.better and dialog.keep_button.isVisible() and dialog.name.text() == "my-room"

    with qtbot.waitSignal(dialog.kept, timeout=WAIT_MS) as kept:
        qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    assert kept.args == ["my-room", True]
    info = modelfile.read(calibrated.path_for("my-room"))
    assert info.provenance["metrics"]["calibrated_iou"] == result.calibrated_iou
    assert not dialog.isVisible() and not calibration_threads()

    # a second calibration offers a free name, and says Replace when given a taken one
    again = CalibrationDialog(str(hamilton_clip), frames_once(close_up_frames), seconds=0.8,
                              options={"device": "cpu", "max_steps": 1, "budget_s": 300})
    qtbot.addWidget(again)
    again._show_result(result)
    assert again.name.text() == "my-room-2" and again.keep_button.text() == "Keep"
    again.name.setText("my-room")
    assert again.keep_button.text() == "Replace my-room"
    again.name.setText("rvm")
    assert "built-in model" in again.keep_status.text()


def test_discard_and_cancel_write_nothing(qtbot, own_rvm_models, hamilton_clip, close_up_frames):
    dialog = CalibrationDialog(str(hamilton_clip), frames_once(close_up_frames), seconds=0.8,
                               options={"device": "cpu", "max_steps": 1, "budget_s": 300})
    qtbot.addWidget(dialog)
    run_to_result(qtbot, dialog)
    qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and not calibrated.folder().exists()

    # cancel as soon as the work starts: the thread stops at its next frame or step, nothing is written
    cancelled = CalibrationDialog(str(hamilton_clip), frames_once(close_up_frames), seconds=0.8,
                                  options={"device": "cpu", "max_steps": 1, "budget_s": 300})
    qtbot.addWidget(cancelled)
    cancelled.show()
    qtbot.mouseClick(cancelled.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cancelled._worker is not None, timeout=WORK_MS)
    outcomes = []
    cancelled._worker.finished.connect(outcomes.append)
    qtbot.mouseClick(cancelled.cancel_button, Qt.MouseButton.LeftButton)
    assert not cancelled.isVisible()
    qtbot.waitUntil(lambda: bool(outcomes) and not calibration_threads(), timeout=WORK_MS)
    assert isinstance(outcomes[0], calibrate.Cancelled)
    assert cancelled.result is None and not calibrated.folder().exists()


def test_camera_menu_records_the_windows_frames_and_cancel_leaves_it_running(qtbot, own_rvm_models, open_window,
                                                                             monkeypatch):
    monkeypatch.setattr(calibrate_dialog, "RECORD_SECONDS", 60.0)
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    assert window.calibrate_action in window.menuBar().actions()[2].menu().actions()  # the Camera menu
    window.calibrate_action.trigger()
    dialog = window.calibrate_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.recording.frames) >= 3, timeout=WAIT_MS)
    assert dialog.recording.frame_size == (640, 360) and 0 < dialog.bar.value() < 250
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and not dialog._recorder.isActive()
    wait_for_frames(qtbot, window)  # the camera goes on as before
    assert window.settings.model.name == "auto" and not calibrated.folder().exists()


def test_a_kept_model_used_now_runs_in_the_window_and_joins_the_model_box(qtbot, own_rvm_models, open_window,
                                                                          hamilton_clip):
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    window.calibrate_action.trigger()
    dialog = window.calibrate_dialog
    keep_as_calibrated(hamilton_clip, (640, 360), "stage")  # what Keep writes, without the minutes of work
    dialog.kept.emit("stage", True)  # Keep, with "Use it now" ticked
    qtbot.waitUntil(lambda: window.running_settings is not None and window.running_settings.model.name == "stage",
                    timeout=WORK_MS)
    qtbot.waitUntil(lambda: window.controller.pipeline.processor.segmenter.name == "stage", timeout=WAIT_MS)
    wait_for_frames(qtbot, window)
    box = window.model_panel.model
    assert box.itemData(box.currentIndex()) == "stage"
    # one kept without "Use it now": listed when the box opens, and the window runs on as it was
    keep_as_calibrated(hamilton_clip, (640, 360), "studio")
    dialog.kept.emit("studio", False)
    window.model_panel.mark_installed()  # what opening the box does
    listed = [box.itemData(i) for i in range(box.count())]
    assert listed.count("stage") == 1 and listed.count("studio") == 1
    assert window.settings.model.name == "stage"
