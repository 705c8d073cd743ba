"""The desktop app, offscreen: real widgets, the real pipeline on a real clip, real weights, and
pyvirtualcam with the recording backend standing in for the virtual camera driver."""

import json
import platform
import time

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from segcam import cli, doctor
from segcam import settings as settings_store
from segcam.backgrounds import fill, load_image
from segcam.settings import Settings
from segcam.ui import resources
from segcam.ui.app import create_window
from segcam.ui.effects_bar import THUMB
from segcam.ui.help import ShortcutsDialog

from app_helpers import WAIT_MS, fully_shown, open_window, our_threads, sent_result, vcam_backend, wait_for_frames
from helpers import greyness, regions
from recording_backend import NO_DRIVER_MESSAGE, MissingDriverBackend, RecordingBackend, registered

__all__ = ["open_window", "vcam_backend"]  # fixtures, used by name

# -- effects reach the virtual camera --------------------------------------------------------

def has_regions(result) -> bool:
    """The singer is in the frame: enough sure-person and sure-background pixels to judge by."""
    person, background = regions(result.alpha)
    return person.sum() >= 500 and background.sum() >= 5000


def blurred_background(result) -> bool:
    if not has_regions(result):
        return False
    person, background = regions(result.alpha)
    lap = lambda image: np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[background].mean()
    person_kept = np.abs(result.output[person].astype(int) - result.frame[person]).mean() < 6
    return person_kept and lap(result.output) < 0.5 * lap(result.frame)


def background_matches(result, picture, tolerance) -> bool:
    if not has_regions(result):
        return False
    _, background = regions(result.alpha)
    return np.abs(result.output[background].astype(int) - picture[background]).mean() < tolerance


def test_every_effect_reaches_the_virtual_camera(qtbot, models_installed, open_window, tmp_path):
    video = tmp_path / "teal.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 30, (64, 36))
    for _ in range(10):
        writer.write(np.full((36, 64, 3), (200, 140, 30), np.uint8))
    writer.release()
    background = str(resources.default_backgrounds()[0])

    window = open_window(effect="none")
    qtbot.waitUntil(lambda: len(RecordingBackend.instances) == 1 and bool(RecordingBackend.instances[0].frames),
                    timeout=WAIT_MS)
    camera = RecordingBackend.instances[0]
    assert (camera.width, camera.height) == (640, 360)

    sent_result(qtbot, window, camera, lambda r: np.array_equal(r.output, r.frame))

    window.effect_bar.buttons["blur"].click()
    sent_result(qtbot, window, camera, blurred_background)

    window.choose_effect("splash")
    result = sent_result(qtbot, window, camera,
                         lambda r: has_regions(r) and greyness(r.output[regions(r.alpha)[1]]) < 1.0)
    person, _ = regions(result.alpha)
    assert greyness(result.output[person]) > 5.0  # the singer keeps his colours

    window.effect_actions["solid"].trigger()
    green = np.zeros((360, 640, 3), np.uint8)
    green[:] = (64, 177, 0)  # BGR of the default chroma-key green
    sent_result(qtbot, window, camera, lambda r: background_matches(r, green, 14))

    window.gallery.chosen.emit(background)  # a click on the first picture in the gallery
    picture = fill(load_image(background), 640, 360)
    sent_result(qtbot, window, camera, lambda r: background_matches(r, picture, 8))

    window.set_background_video(str(video))  # checked off the GUI thread, then used
    teal = np.zeros((360, 640, 3), np.uint8)
    teal[:] = (200, 140, 30)
    sent_result(qtbot, window, camera, lambda r: background_matches(r, teal, 12))

    assert window.settings.get("effect") == "video"
    assert window.effect_bar.buttons["video"].isChecked() and window.effect_actions["video"].isChecked()
    assert not camera.closed
    window.close()
    assert camera.closed


def test_virtual_camera_switch_says_what_it_does(qtbot, models_installed, open_window):
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    assert not RecordingBackend.instances and not window.vcam_panel.switch.isChecked()

    window.vcam_panel.switch.click()
    qtbot.waitUntil(lambda: window.vcam_panel.text().startswith("Sending"), timeout=WAIT_MS)
    assert window.vcam_panel.text().splitlines()[0] == "Sending to /dev/video-segcam-test as 640x360 @30"
    camera = RecordingBackend.instances[0]
    qtbot.waitUntil(lambda: len(camera.frames) >= 3, timeout=WAIT_MS)
    assert window.vcam_action.isChecked()

    window.vcam_action.trigger()  # the menu / tray / Ctrl+Shift+V path turns it off
    qtbot.waitUntil(lambda: camera.closed, timeout=WAIT_MS)
    assert not window.vcam_panel.switch.isChecked() and window.settings.get("output") == "none"


def test_missing_driver_is_explained_and_the_app_goes_on(qtbot, models_installed, hamilton_clip):
    with registered(MissingDriverBackend, "no-driver") as backend:
        window = create_window(Settings(source=str(hamilton_clip), effect="splash", output="vcam",
                                        vcam_backend=backend))
        qtbot.addWidget(window)
        window.show()
        # the command line's very sentence: what this machine lacks and the fix `segcam doctor` gives
        sentence = doctor.no_virtual_camera(NO_DRIVER_MESSAGE)
        qtbot.waitUntil(lambda: window.vcam_panel.text() == sentence, timeout=WAIT_MS)
        if platform.system() == "Linux" and not doctor.module_loaded(doctor.Host()):
            assert doctor.MODPROBE in sentence and "video_nr=10" in sentence
        assert not window.vcam_panel.switch.isChecked() and not window.vcam_action.isChecked()
        assert window.settings.get("output") == "none"
        assert NO_DRIVER_MESSAGE in window.vcam_panel.status.toolTip()  # pyvirtualcam's own words
        wait_for_frames(qtbot, window)  # the preview keeps running
        assert window.controller.running

        # every try is answered where the user looks, though the answer is the same
        window.vcam_panel.switch.click()
        qtbot.waitUntil(lambda: window.vcam_panel.text().startswith("Tried 2 times"), timeout=WAIT_MS)
        window.vcam_action.trigger()  # Ctrl+Shift+V, the menu, the tray
        qtbot.waitUntil(lambda: window.vcam_panel.text().startswith("Tried 3 times"), timeout=WAIT_MS)
        assert window.vcam_panel.text().endswith(sentence) and not window.vcam_panel.switch.isChecked()


def test_first_start_without_a_driver_shows_the_switch_off_at_once(qtbot, hamilton_clip):
    """The first start (no weights yet: the model dialog waits) on a machine without a virtual
    camera driver: the switch says so at once instead of "Starts as soon as segcam has a picture"."""
    problem = doctor.virtual_camera_problem()
    if problem is None:
        pytest.skip("this machine has a virtual camera driver")
    window = create_window(Settings(source=str(hamilton_clip)))  # the defaults: output vcam, no backend named
    qtbot.addWidget(window)
    window.show()
    sentence = doctor.no_virtual_camera(problem=problem)
    qtbot.waitUntil(lambda: window.vcam_panel.text() == sentence, timeout=WAIT_MS)
    assert not window.controller.running  # no picture yet: the weights are missing
    assert not window.vcam_panel.switch.isChecked() and window.vcam_panel.status.property("state") == "error"
    window.vcam_panel.switch.click()
    qtbot.waitUntil(lambda: window.vcam_panel.text().startswith("Tried 2 times"), timeout=WAIT_MS)
    assert not window.vcam_panel.switch.isChecked()


# -- backgrounds -----------------------------------------------------------------------------

def test_added_background_is_used_and_remembered(qtbot, models_installed, open_window, tmp_path):
    picture = tmp_path / "beach.png"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (40, 90, 250), np.uint8))
    window = open_window(effect="blur", output="none")
    wait_for_frames(qtbot, window)
    before = window.gallery.paths()

    window.add_backgrounds([str(picture)])  # what the file dialog calls; the file is checked off the GUI thread
    qtbot.waitUntil(lambda: window.running_settings.get("effect") == "image", timeout=WAIT_MS)
    assert "Added beach.png to your backgrounds." in window.message_bar.text()
    assert window.running_settings.get("background") == str(picture)
    assert window.gallery.paths() == before + [str(picture)]
    assert [i.data(Qt.ItemDataRole.UserRole) for i in window.gallery.list.selectedItems()] == [str(picture)]
    qtbot.waitUntil(lambda: settings_store.load()[0].app.user_backgrounds == [str(picture)], timeout=WAIT_MS)

    # dropping a picture on the window goes the same way
    dropped = tmp_path / "forest.jpg"
    cv2.imwrite(str(dropped), np.full((90, 160, 3), (40, 160, 60), np.uint8))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: window.running_settings.get("background") == str(dropped), timeout=WAIT_MS)
    assert window.gallery.paths()[-2:] == [str(picture), str(dropped)]


def test_corrupt_picture_gives_a_message_and_changes_nothing(qtbot, models_installed, open_window, tmp_path):
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    window = open_window(effect="splash", output="none")
    wait_for_frames(qtbot, window)
    settings, gallery = window.settings, window.gallery.paths()

    window.add_backgrounds([str(broken)])
    qtbot.waitUntil(lambda: "holiday.jpg is not an image segcam can read" in window.message_bar.text(),
                    timeout=WAIT_MS)
    assert window.message_bar.isVisible() and window.message_bar.level == "error"
    assert window.settings == settings and window.gallery.paths() == gallery
    wait_for_frames(qtbot, window)  # still running, still splash
    assert window.running_settings.get("effect") == "splash"


def test_bad_source_is_refused_and_the_old_one_keeps_running(qtbot, models_installed, open_window, tmp_path):
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    window.set_source(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: "does not exist" in window.message_bar.text(), timeout=WAIT_MS)
    assert window.settings.get("source") == window.running_settings.get("source") != str(tmp_path / "missing.mp4")
    assert window.source_panel.source.currentData() == window.settings.get("source")
    wait_for_frames(qtbot, window)


# -- settings --------------------------------------------------------------------------------

def test_no_camera_banner_opens_a_video_file(qtbot, models_installed, open_window, hamilton_clip, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []

    def choose_file(parent, caption, folder, filters):  # the user picks the clip in the file dialog
        asked.append(caption)
        return str(hamilton_clip), filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose_file)
    window = open_window(source="7", output="none")  # the first start, and no camera 7 here
    qtbot.waitUntil(lambda: "No camera at index 7" in window.message_bar.text(), timeout=WAIT_MS)
    assert "File > Open video file (Ctrl+O)" in window.message_bar.text()
    bar = window.message_bar.bar("pipeline")
    assert bar.action.isVisible() and bar.action.text() == "Open video file…"

    bar.action.click()
    assert asked == ["Open a video file as the camera"]
    wait_for_frames(qtbot, window)
    assert window.running_settings.get("source") == str(hamilton_clip)
    assert "No camera" not in window.message_bar.text()


def test_banners_lie_over_the_preview_and_never_move_the_layout(qtbot, models_installed, open_window, tmp_path):
    window = open_window(effect="splash", output="none")
    window.resize(1280, 720)
    wait_for_frames(qtbot, window)
    before = {w: w.geometry() for w in (window.preview, window.effect_bar, window.gallery)}
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"not a picture")
    window.add_backgrounds([str(broken)])
    qtbot.waitUntil(lambda: "holiday.jpg" in window.message_bar.text(), timeout=WAIT_MS)
    qtbot.wait(50)  # a layout change would have happened by now
    assert "holiday.jpg" in window.message_bar.text() and window.message_bar.isVisible()
    assert {w: w.geometry() for w in before} == before
    window.message_bar.show_message("A second thing to say.", "info", key="test")
    qtbot.wait(50)
    assert fully_shown(window.message_bar.bar("backgrounds")) and fully_shown(window.message_bar.bar("test"))
    assert {w: w.geometry() for w in before} == before
    window.message_bar.clear("backgrounds")
    assert window.message_bar.text() == "A second thing to say." and window.message_bar.isVisible()
    window.message_bar.clear()
    assert not window.message_bar.isVisible() and window.message_bar.text() == ""
    assert {w: w.geometry() for w in before} == before


def test_long_video_name_keeps_the_window_within_1280x720(qtbot, models_installed, open_window, hamilton_clip,
                                                          tmp_path):
    name = "a_rather_long_background_video_name_from_the_holiday_in_the_mountains_2024_final_v2.avi"
    video = tmp_path / name
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 30, (64, 36))
    for _ in range(5):
        writer.write(np.full((36, 64, 3), (200, 140, 30), np.uint8))
    writer.release()
    clip = tmp_path / ("a_source_video_with_an_equally_long_name_recorded_at_the_conference_" + "x" * 40 + ".mp4")
    clip.symlink_to(hamilton_clip)
    window = open_window(effect="blur", output="none", source=str(clip))
    window.resize(1280, 720)
    wait_for_frames(qtbot, window)
    window.set_background_video(str(video))
    qtbot.waitUntil(lambda: window.running_settings.get("effect") == "video", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.stats_bar.source_status.text().startswith(clip.name), timeout=WAIT_MS)
    qtbot.wait(50)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720
    assert window.size().width() == 1280 and window.size().height() == 720
    stats = window.stats_bar
    for widget in (window.vcam_panel.switch, window.controls.choose_video, window.controls.video_name,
                   stats.source_status, stats.fps_label, stats.device_label):
        assert fully_shown(widget), widget
    assert window.controls.video_name.toolTip() == str(video)  # the whole name is a hover away
    assert "…" in window.controls.video_name.shown_text() and "…" in stats.source_status.shown_text()


def test_a_saved_size_larger_than_the_screen_is_fitted(qtbot, models_installed, open_window):
    window = open_window(effect="none", output="none")
    window.resize(2600, 1900)  # e.g. a window that had grown, saved on close
    window.close()
    saved, _ = settings_store.load()
    again = create_window(saved)
    qtbot.addWidget(again)
    room = again.screen().availableGeometry()
    assert again.height() <= room.height()
    assert again.width() <= max(room.width(), again.minimumSizeHint().width())


def test_settings_survive_a_restart(qtbot, models_installed, open_window, hamilton_clip):
    window = open_window(effect="none", output="none")
    wait_for_frames(qtbot, window)
    window.choose_effect("blur")
    window.controls.sliders["blur_strength"].slider.setValue(80)  # as if dragged
    window.controls.sliders["edge_softness"].slider.setValue(10)
    window.resize(1000, 650)  # the offscreen screen is 800x800: heights fit, widths are clamped
    qtbot.waitUntil(lambda: window.running_settings.get("blur_strength") == 0.8
                    and window.running_settings.get("edge_softness") == 0.1, timeout=WAIT_MS)
    window.close()

    saved, warnings = settings_store.load()
    assert warnings == []
    assert (saved.get("effect"), saved.get("blur_strength"), saved.get("edge_softness")) == ("blur", 0.8, 0.1)
    assert saved.get("source") == str(hamilton_clip) and saved.get("window_geometry")

    again = create_window(saved)
    qtbot.addWidget(again)
    again.show()
    assert again.controls.sliders["blur_strength"].value() == 0.8 and again.effect_bar.buttons["blur"].isChecked()
    assert again.height() == 650
    wait_for_frames(qtbot, again)
    assert again.running_settings.get("blur_strength") == 0.8


def test_file_dialogs_open_where_that_kind_of_file_was_last_found(qtbot, models_installed, open_window, tmp_path,
                                                                    monkeypatch):
    """Issue 16: every file dialog opened in the home folder, and Import model files in the
    current folder. Each kind remembers its own folder, across a restart too."""
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    from segcam.ui.weights_dialog import WeightsDialog

    opened_in, picks = [], {}

    def dialog(parent, caption, folder, filters):  # the user picks picks[caption] in the dialog
        opened_in.append((caption, folder))
        return picks.get(caption, ""), filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *a: ([p] if (p := dialog(*a)[0]) else [], a[-1]))
    clips, models = tmp_path / "clips", tmp_path / "downloads"
    clips.mkdir()
    models.mkdir()
    window = open_window(effect="none", output="none")
    home = str(Path.home())

    picks["Open a video file as the camera"] = str(clips / "talk.mp4")  # nothing is there: only the folder counts
    window.ask_source_file()
    window.ask_source_file()
    window.ask_background_video()  # another kind: its own folder
    assert [folder for _, folder in opened_in] == [home, str(clips), home]

    import_dialog = WeightsDialog("mediapipe-general", window)  # its owner keeps the folder
    qtbot.addWidget(import_dialog)
    picks["Import model files"] = str(models / "selfie_segmentation.tflite")
    import_dialog._ask_import()
    import_dialog._ask_import()
    assert opened_in[-2:] == [("Import model files", home), ("Import model files", str(models))]

    window.save_settings()
    restarted = open_window(**settings_store.load()[0].to_dict()["app"])
    restarted.ask_source_file()
    assert opened_in[-1] == ("Open a video file as the camera", str(clips))
    assert restarted.settings.app.recent_folders == {"source_video": str(clips), "model_files": str(models)}


def test_broken_settings_file_falls_back_with_a_warning(qtbot, models_installed, open_window):
    path = settings_store.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not json", encoding="utf-8")
    loaded, warnings = settings_store.load()
    assert loaded == Settings()
    window = open_window(warnings, effect=loaded.effect, output="none")
    assert window.message_bar.level == "warning"
    assert "could not be read" in window.message_bar.text()
    wait_for_frames(qtbot, window)


def test_broken_settings_and_no_camera_both_show(qtbot, models_installed, open_window, capsys):
    path = settings_store.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not json", encoding="utf-8")
    loaded, warnings = settings_store.load()
    window = open_window(warnings, source="7", output="none")  # no camera 7 here
    qtbot.waitUntil(lambda: "No camera at index 7" in window.message_bar.text(), timeout=WAIT_MS)
    # the second message stacks under the first instead of hiding it
    assert "could not be read" in window.message_bar.text()
    assert [(key, level) for key, level, _ in window.message_bar.messages()] == [("settings", "warning"),
                                                                                ("pipeline", "error")]
    for key in ("settings", "pipeline"):
        assert fully_shown(window.message_bar.bar(key))
    assert path.with_name("settings.json.broken").read_text() == "{ this is not json"


def test_settings_file_replaced_by_garbage_while_running(qtbot, models_installed, open_window):
    window = open_window(effect="none", output="none")
    wait_for_frames(qtbot, window)
    path = settings_store.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    garbage = b"\x00\x13 not settings at all \xff"
    path.write_bytes(garbage)

    window.choose_effect("blur")  # a change: saved once it runs

    def saved_blur():
        try:
            return json.loads(path.read_text(encoding="utf-8"))["effect"]["effect"] == "blur"  # by section
        except (OSError, ValueError, KeyError, TypeError):
            return False

    qtbot.waitUntil(saved_blur, timeout=WAIT_MS)
    assert path.with_name("settings.json.broken").read_bytes() == garbage  # kept, never silently lost
    assert "kept as" in window.message_bar.text() and window.message_bar.level == "warning"
    wait_for_frames(qtbot, window)  # and the app goes on
    assert settings_store.load() == (window.settings.replace(window_geometry=settings_store.load()[0].app.window_geometry),
                                     [])


def test_the_wheel_scrolls_the_panel_and_leaves_unfocused_controls_alone(qtbot, models_installed, open_window,
                                                                           monkeypatch):
    """Issue 16: scrolling the right panel over a slider swept Edge softness to 0%, and one notch
    over the Camera box opened the file dialog. Real wheel events, through Qt's own delivery."""
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QFileDialog, QScrollArea

    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: asked.append(a) or ("", ""))
    window = open_window(effect="blur", output="none")
    qtbot.waitExposed(window)
    scroll = next(area for area in window.findChildren(QScrollArea) if area.widget().isAncestorOf(window.controls))
    bar = scroll.verticalScrollBar()

    def turn_wheel_over(widget, notches: int) -> None:
        # scroll until the widget is in sight, then turn the wheel over its middle
        scroll.ensureWidgetVisible(widget)
        QApplication.processEvents()
        point = widget.mapTo(window, widget.rect().center())
        for _ in range(abs(notches)):
            QTest.wheelEvent(window.windowHandle(), point, QPoint(0, -120 if notches > 0 else 120))
            QApplication.processEvents()

    softness = window.controls.sliders["edge_softness"].slider
    before = softness.value()
    assert not softness.hasFocus() and 0 < before
    bar.setValue(0)
    turn_wheel_over(softness, 5)
    assert softness.value() == before and window.settings.get("edge_softness") == before / 100
    scrolled = bar.value()
    assert bar.maximum() == 0 or scrolled > 0  # the panel took the wheel (where there is anything to scroll)

    camera = window.source_panel.source
    shown = camera.currentText()
    for notches in (1, -1, 1):
        turn_wheel_over(camera, notches)
    assert camera.currentText() == shown and asked == []  # no "Open a video file" dialog
    for box in (window.model_panel.model, window.model_panel.device, window.model_panel.quality):
        current = box.currentIndex()
        turn_wheel_over(box, 1)
        turn_wheel_over(box, -1)
        assert box.currentIndex() == current and not box.hasFocus()

    softness.setFocus()  # a control with focus (clicked, or reached with Tab) takes the wheel
    turn_wheel_over(softness, 3)
    assert softness.value() != before


# -- pause, preview, closing -----------------------------------------------------------------

def test_pause_freezes_or_blanks_what_is_sent(qtbot, models_installed, open_window):
    window = open_window(effect="none")
    qtbot.waitUntil(lambda: bool(RecordingBackend.instances) and len(RecordingBackend.instances[0].frames) > 3,
                    timeout=WAIT_MS)
    camera = RecordingBackend.instances[0]

    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # the hotkey
    qtbot.waitUntil(lambda: window.controller.pause_mode == "freeze", timeout=WAIT_MS)
    assert window.pause_action.isChecked() and window.preview.badge.startswith("PAUSED")
    start = len(camera.frames)
    qtbot.waitUntil(lambda: len(camera.frames) >= start + 4, timeout=WAIT_MS)
    frozen = camera.images()[start + 1:]
    assert all(np.array_equal(f, frozen[0]) for f in frozen)

    window.set_pause_mode("blank")
    qtbot.waitUntil(lambda: window.controller.pause_mode == "blank", timeout=WAIT_MS)
    start = len(camera.frames)
    qtbot.waitUntil(lambda: len(camera.frames) >= start + 3, timeout=WAIT_MS)
    assert all(f.max() == f.min() for f in camera.images()[start + 1:])

    window.pause_action.trigger()  # resume
    qtbot.waitUntil(lambda: window.controller.pause_mode is None, timeout=WAIT_MS)
    start = len(camera.frames)
    qtbot.waitUntil(lambda: len(camera.frames) >= start + 4, timeout=WAIT_MS)
    live = camera.images()[start + 1:]
    assert live[0].max() != live[0].min() and not np.array_equal(live[0], live[-1])
    assert not window.preview.badge


def test_pause_freezes_the_thumbnails_and_the_status_bar_says_so(qtbot, models_installed, open_window):
    window = open_window(effect="blur", output="none")
    bar = window.effect_bar
    wait_for_frames(qtbot, window)
    qtbot.waitUntil(lambda: "running" in window.stats_bar.source_status.text(), timeout=WAIT_MS)

    def thumbnails():
        window._update_thumbnails()  # what the timer does a few times a second
        return {e: bar.buttons[e].icon().pixmap(THUMB).toImage() for e in ("none", "blur", "splash", "solid")}

    window.set_paused(True)
    qtbot.waitUntil(lambda: window.controller.pause_mode == "freeze", timeout=WAIT_MS)
    # the control thread sets the mode, then the window hears of it through a queued signal
    qtbot.waitUntil(lambda: window.stats_bar.source_status.text().startswith("Paused, sending a frozen frame · "),
                    timeout=WAIT_MS)
    wait_for_frames(qtbot, window)
    first = thumbnails()
    wait_for_frames(qtbot, window, 6)  # the clip moves on underneath
    assert thumbnails() == first  # the paused frame, not the live clip under a frozen mask
    qtbot.waitUntil(lambda: "Paused" in window.stats_bar.source_status.text()
                    and window.stats_bar.ms_label.text() == "network paused", timeout=WAIT_MS)

    window.set_paused(False)
    qtbot.waitUntil(lambda: window.controller.pause_mode is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "running" in window.stats_bar.source_status.text(), timeout=WAIT_MS)
    wait_for_frames(qtbot, window, 6)
    assert thumbnails() != first  # live again


def test_preview_views_and_mirror_are_for_the_preview_only(qtbot, models_installed, open_window):
    window = open_window(effect="splash", output="none")
    wait_for_frames(qtbot, window)
    window.set_pause_mode("freeze")
    window.set_paused(True)  # a still picture, so grabs can be compared
    qtbot.waitUntil(lambda: window.controller.pause_mode == "freeze", timeout=WAIT_MS)
    wait_for_frames(qtbot, window, 2)
    window.preview.set_badge("")  # keep the overlay out of the comparison

    def grab():
        rect = window.preview.target_rect().toAlignedRect().adjusted(20, 40, -20, -20)
        image = window.preview.grab(rect).toImage().convertToFormat(QImage.Format.Format_RGB888)
        array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        return array[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)

    assert window.mirror_action.isChecked()  # people see themselves as in a mirror by default
    mirrored = grab()
    window.mirror_action.trigger()
    straight = grab()
    assert np.abs(mirrored - straight).mean() > 5
    assert np.abs(mirrored[:, ::-1] - straight).mean() < 2
    assert window.settings.get("mirror") is False  # what is sent is never flipped by the preview toggle
    assert window.settings.get("preview_mirror") is False  # remembered with the other settings

    window.view_buttons["mask"].click()
    assert window.preview.view == "mask" and window.view_actions["mask"].isChecked()
    assert window.preview.image.format() == QImage.Format.Format_Grayscale8
    window.set_view("original")
    assert window.preview.image.format() == QImage.Format.Format_BGR888


def test_preview_mirror_choice_is_restored(qtbot, models_installed, open_window):
    window = open_window(effect="none", output="none", preview_mirror=False)
    assert not window.mirror_action.isChecked() and window.preview.mirror is False


def test_closing_releases_camera_virtual_camera_and_threads(qtbot, models_installed, open_window):
    window = open_window(effect="blur")
    qtbot.waitUntil(lambda: bool(RecordingBackend.instances) and bool(RecordingBackend.instances[0].frames),
                    timeout=WAIT_MS)
    pipeline = window.controller.pipeline
    capture = pipeline._capture
    assert our_threads()
    window.close()
    assert RecordingBackend.instances[0].closed
    assert not pipeline.running and capture.status == "stopped"
    assert our_threads() == []


def test_help_lists_every_shortcut_from_the_actions_themselves(qtbot, models_installed, open_window):
    window = open_window(output="none")
    dialog = ShortcutsDialog(window.shortcut_actions(), window)
    qtbot.addWidget(dialog)
    rows = dict(dialog.rows)
    assert rows["Pause or resume camera"] == "Ctrl+P, Pause"
    assert rows["Virtual camera"] == "Ctrl+Shift+V"
    assert rows["Blur"] == "Ctrl+2" and rows["Green screen"] == "Ctrl+6"
    # every key the window answers to is listed, Ctrl+H too, even where it cannot be used
    listed = {keys for _, keys in dialog.rows}
    bound = {", ".join(s.toString() for s in a.shortcuts()) for a in window.actions() if a.shortcuts()}
    assert listed == bound and "Ctrl+H" in listed
    # a command added later shows up without anyone editing the list: it cannot drift
    extra = window._action("Something new", ["Ctrl+Shift+N"])
    assert extra in window.shortcut_actions()


def test_hide_to_tray_without_a_tray_is_off_and_looks_it(qtbot, models_installed, open_window):
    from PySide6.QtWidgets import QSystemTrayIcon

    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen has none
    window = open_window(output="none")
    assert window.tray is None and not window.hide_action.isEnabled()
    assert "no system tray" in window.hide_action.text()
    dialog = ShortcutsDialog(window.shortcut_actions(), window)
    qtbot.addWidget(dialog)
    assert [name for name in dialog.unavailable] == [window.hide_action.text()]

    menu = window.menuBar().actions()[0].menu()  # File
    menu.adjustSize()
    image = menu.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, : image.width() * 3].reshape(image.height(), image.width(), 3)

    def brightest(action):
        rect = menu.actionGeometry(action)
        return int(pixels[rect.top():rect.bottom(), rect.left():rect.right()].max())

    assert brightest(window.hide_action) < 0.6 * brightest(window.quit_action)  # dimmed, not lookalike


# -- the command line opens the app -----------------------------------------------------------

def test_segcam_without_a_command_opens_the_app(qtbot, models_installed, hamilton_clip, vcam_backend):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen = {}
    deadline = time.monotonic() + 120  # the app's start, the model's choice, three frames

    def close_when_sending():
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "controller")]
        frames = RecordingBackend.instances[0].frames if RecordingBackend.instances else []
        if windows and len(frames) >= 3:
            seen["settings"] = windows[0].running_settings
            windows[0].close()
        elif time.monotonic() > deadline:  # give up, so that the app's loop ends and the test says why
            seen["gave up"] = f"after 120 s: {len(windows)} window(s) shown, {len(frames)} frame(s) sent"
            for window in windows:
                window.close()
            QApplication.quit()
        else:
            QTimer.singleShot(100, close_when_sending)

    QTimer.singleShot(100, close_when_sending)
    code = cli.main(["--source", str(hamilton_clip), "--effect", "splash", "--vcam-backend", vcam_backend])
    assert "gave up" not in seen, seen["gave up"]
    assert code == 0
    assert seen["settings"].get("effect") == "splash" and seen["settings"].get("source") == str(hamilton_clip)
    assert RecordingBackend.instances[0].closed
    saved, _ = settings_store.load()
    assert saved.get("effect") == "splash" and saved.get("source") == str(hamilton_clip)
    assert our_threads() == []


def test_segcam_without_qt_says_so_in_one_sentence(monkeypatch, capsys):
    import sys

    import segcam.ui

    # as if PySide6 were missing: importing the app fails
    monkeypatch.setitem(sys.modules, "segcam.ui.app", None)
    monkeypatch.delattr(segcam.ui, "app", raising=False)
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segcam: the window needs PySide6") and err.count("\n") == 0


# -- help and the screenshot script ----------------------------------------------------------

def test_diagnose_shows_the_doctor_report(qtbot, models_installed, open_window):
    from segcam.ui.help import DiagnoseDialog

    window = open_window(output="none")
    assert window.diagnose_action in window.menuBar().actions()[-1].menu().actions()
    dialog = DiagnoseDialog(window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.copy.isEnabled(), timeout=60000)
    dialog.thread.join()
    report = dialog.report.toPlainText()
    assert report.startswith("segcam doctor:") and "Python" in report


def test_the_status_bar_says_when_the_privacy_guard_holds_and_why(qtbot):
    from segcam.pipeline import Stats
    from segcam.ui.stats_bar import StatsBar

    bar = StatsBar()
    qtbot.addWidget(bar)
    bar.show_stats(Stats(source_status="running", guard="mask collapsed"), "0")
    assert bar.source_status.text() == "Privacy guard holding (mask collapsed): the room is hidden · Camera 0: running"
    bar.show_stats(Stats(source_status="running"), "0")
    assert bar.source_status.text() == "Camera 0: running"


def test_skipped_frames_are_said_as_a_recent_share_only_when_it_matters(qtbot):
    from segcam.pipeline import Stats
    from segcam.ui.stats_bar import StatsBar

    bar = StatsBar()
    qtbot.addWidget(bar)
    # 43 frames skipped since the start, 2% of them lately: a camera keeping up as it should
    bar.show_stats(Stats(source_status="running", dropped=43, skipped=0.02), "0")
    assert bar.source_status.text() == "Camera 0: running"
    bar.show_stats(Stats(source_status="running", dropped=43, skipped=0.25), "0")
    assert bar.source_status.text() == "skipping 25% of frames to keep up · Camera 0: running"


def test_the_guards_reason_stays_in_sight_at_the_default_window_size(qtbot, models_installed, open_window,
                                                                     hamilton_clip):
    """Issue 16: at the default width the status bar read "...runn...ce): the room is hidden", the
    reason cut out of the middle. What matters comes first and the file name gives way."""
    from segcam.pipeline import Stats
    from segcam.ui.layout import DEFAULT_SIZE

    window = open_window(source="7", output="none")  # no camera 7: no stats come to replace the ones shown here
    qtbot.waitUntil(lambda: "No camera at index 7" in window.message_bar.text(), timeout=WAIT_MS)
    for width in (DEFAULT_SIZE.width(), 1280):  # the default, and the default fitted to a 1280-wide screen
        window.resize(width, DEFAULT_SIZE.height())
        qtbot.wait(50)
        reason = "Privacy guard holding (no person in view): the room is hidden"
        skipping = "skipping 25% of frames to keep up"
        window.stats_bar.show_stats(Stats(source_status="running", guard="no person in view", skipped=0.25,
                                          dropped=43, fps=29.9, ms_per_frame=12.5, latency_ms=48,
                                          model="mediapipe-landscape", device="cpu"), str(hamilton_clip))
        qtbot.wait(50)
        shown = window.stats_bar.source_status.shown_text()
        assert shown.startswith(f"{reason} · {skipping} · "), shown  # whole, and first
        assert fully_shown(window.stats_bar.source_status)


def test_screenshot_script_renders_the_window(qtbot, models_installed, tmp_path):
    from tools import screenshots

    paths = screenshots.render(tmp_path, effects=["splash"], mask_view=False, parts=("window", "closeup"))
    assert [p.name for p in paths] == ["window-splash.png", "closeup-models.jpg"]
    image = cv2.imread(str(paths[0]))
    assert image.shape[:2] == (screenshots.WINDOW_SIZE[1], screenshots.WINDOW_SIZE[0])
    closeup = cv2.imread(str(paths[1]))  # per model: a title, the composites, the masks, at half size
    frames = len(screenshots.CLOSEUP_FRAMES)
    assert closeup.shape[:2] == (len(screenshots.CLOSEUP_MODELS) * (28 + 360), frames * 320)
    assert our_threads() == []


def test_the_adjust_panel_is_made_from_the_settings_and_the_registry(qtbot):
    from segcam import effects
    from segcam.ui.controls import EffectControls

    panel = EffectControls()
    qtbot.addWidget(panel)
    panel.show()
    for effect in effects.effects():
        panel.show_settings(Settings(effect=effect.name, background_video="/videos/room.mp4"))
        shown = {key for key, widget in panel.widgets.items() if widget.isVisible()}
        mask = {"edge_softness", "edge_refine", "smoothing", "guard"} if effect.uses_mask else set()
        stages = {"only_me", "low_light", "frame_me", "mirror"}  # with every effect
        # the threshold has no control in the app yet; the gallery chooses pictures
        assert shown == ({*effect.reads} - {"background"}) | mask | stages, effect.name
        assert panel.heading.text() == effect.label
    assert panel.sliders["blur_strength"].name.text() == "Blur strength"
    assert panel.sliders["splash_strength"].name.text() == "Grey amount"
    assert panel.video_name.text() == "room.mp4"
    style = panel.choices["blur_style"]
    assert [style.itemData(i) for i in range(style.count())] == ["gaussian", "lens"]
    assert panel.checks["guard"].isChecked() and not panel.checks["only_me"].isChecked()  # the defaults
    changes = []
    panel.changed.connect(changes.append)
    panel.sliders["smoothing"].slider.setValue(25)
    panel.checks["mirror"].setChecked(True)
    panel.checks["guard"].setChecked(False)
    style.activated.emit(1)
    assert changes == [{"smoothing": 0.25}, {"mirror": True}, {"guard": False}, {"blur_style": "lens"}]
