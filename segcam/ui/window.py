"""The main window: wires the panels to the one Settings object and to the pipeline controller.

Every user choice goes through `change()`: the widgets show it at once, the controller
applies it on its thread, and the answer comes back as applied (saved) or failed (an inline
message, and the widgets go back to what is really running). Nothing here processes frames.
"""

from __future__ import annotations

import base64
import logging
import threading

import numpy as np
from PySide6.QtCore import QByteArray, QSize, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow

from segcam import settings as settings_store
from segcam.capture import camera_index, list_cameras
from segcam.errors import SourceError, VirtualCameraError
from segcam.settings import Settings
from segcam.ui import icons, resources
from segcam.ui.background_choice import BackgroundChoosing
from segcam.ui.controller import PipelineController
from segcam.ui.controls import explain
from segcam.ui.effects_bar import EffectThumbnails
from segcam.ui.file_dialogs import RemembersFolders
from segcam.ui.layout import WindowLayout
from segcam.ui.menus import WindowMenus
from segcam.ui.model_switch import ModelSwitching
from segcam.ui.tray import make_tray
from segcam.ui.vcam_panel import OFF as VCAM_OFF
from segcam.ui.vcam_panel import WAITING as VCAM_WAITING
from segcam.ui.vcam_panel import VirtualCameraSwitching

log = logging.getLogger(__name__)

THUMBNAIL_INTERVAL_MS = 400
OPEN_VIDEO_HINT = "To use a video file instead, choose File > Open video file (Ctrl+O)."


class MainWindow(WindowMenus, ModelSwitching, BackgroundChoosing, VirtualCameraSwitching, RemembersFolders, WindowLayout,
                 QMainWindow):
    cameras_found = Signal(list)

    def __init__(self, settings: Settings, warnings: list[str] | tuple = (), realtime: bool = True):
        super().__init__()
        self.setWindowTitle("segcam")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.settings = settings
        self.running_settings: Settings | None = None  # what the pipeline runs with; None while stopped
        self.pause_mode = "freeze"
        self.controller = PipelineController(realtime, self)
        self.thumbnails = EffectThumbnails()
        self.defaults = resources.default_backgrounds()
        self.tray = None
        self._last_result = None
        self._thumbnail_source = None  # the newest result taken while not paused
        self._model_ready = False  # the pipeline starts only once weights are in place
        self._closed = False
        self._camera_search: threading.Thread | None = None
        self._cameras_searched = False
        self._pipeline_error = False  # the message bar shows a failed start or change
        self._gallery_shown: tuple | None = None

        self._build()
        self._build_actions()
        self.controller.session.learn = self.learn_request()  # from the first start on
        self.preview.set_mirror(self.settings.app.preview_mirror)
        self._build_menus()
        self.tray = make_tray(self, self.show_hide_action, self.pause_action, list(self.effect_actions.values()),
                              self.vcam_action, self.quit_action)
        self._tray_or_not()
        self._init_model_switching()
        self._connect()
        self._restore_geometry()
        self._refresh()
        if warnings:
            self.message_bar.show_message(" ".join(warnings), "warning", key="settings")

        self._save_timer = QTimer(self, singleShot=True, interval=300, timeout=self.save_settings)
        self._thumb_timer = QTimer(self, interval=THUMBNAIL_INTERVAL_MS, timeout=self._update_thumbnails)
        self._thumb_timer.start()
        QTimer.singleShot(0, self._first_start)

    def _connect(self) -> None:
        c = self.controller
        c.frame_ready.connect(self._show_frame)
        c.stats_ready.connect(self._show_stats)
        c.applied.connect(self._applied)
        c.failed.connect(self._failed)
        c.stopped.connect(self._stopped)
        c.paused.connect(self._paused)
        c.vcam_started.connect(self._vcam_started)
        c.vcam_failed.connect(self._vcam_failed)
        c.vcam_stopped.connect(self._vcam_stopped)
        c.learned_forgotten.connect(self._learned_forgotten)
        c.vcam_status.connect(self._vcam_status)
        self.effect_bar.chosen.connect(self.choose_effect)
        self.gallery.chosen.connect(lambda path: self.change(effect="image", background=path))
        self.gallery.add_requested.connect(self.ask_backgrounds)
        self.gallery.remove_requested.connect(self.remove_background)
        c.backgrounds_checked.connect(self._backgrounds_checked)
        self.controls.changed.connect(lambda changes: self.change(**changes))
        self.controls.choose_video_requested.connect(self.ask_background_video)
        self.source_panel.source_chosen.connect(self.set_source)
        self.source_panel.open_file_requested.connect(self.ask_source_file)
        self.source_panel.refresh_requested.connect(self.find_cameras)
        self.source_panel.size_chosen.connect(lambda w, h: self.change(width=w, height=h))
        self.source_panel.fps_chosen.connect(lambda fps: self.change(fps=fps))
        self.model_panel.model_chosen.connect(self.set_model)
        self.model_panel.device_chosen.connect(self.set_device)
        self.model_panel.quality_chosen.connect(self.set_quality)
        self.model_panel.manage_requested.connect(self.manage_models)
        self.vcam_panel.switched.connect(self.set_virtual_camera)
        for view, button in self.view_buttons.items():
            button.clicked.connect(lambda _=False, v=view: self.set_view(v))
        self.cameras_found.connect(self.source_panel.set_cameras)

    # -- starting --------------------------------------------------------------------------

    def _first_start(self) -> None:
        output = self.settings.output
        if output.target == "vcam":
            self.vcam_panel.show_state(True, VCAM_WAITING)
            self.controller.set_virtual_camera(True, output.vcam_backend, output.vcam_device)
        else:
            self.vcam_panel.show_state(False, VCAM_OFF)
        if not self._first_start_needs_model():
            self._start()

    def _start(self) -> None:
        if self._model_ready:
            return
        self._model_ready = True
        self.preview.clear("Starting the camera…")
        self.controller.apply(self.settings)

    # -- changing settings -------------------------------------------------------------------

    def change(self, **changes) -> None:
        """Take a user's choice: show it, apply it on the pipeline, save it once it runs."""
        self.settings = self.settings.replace(**changes)
        self._refresh()
        if self._model_ready:
            self.controller.apply(self.settings)
        else:
            self._save_timer.start()

    def _applied(self, settings: Settings) -> None:
        self.running_settings = settings
        self._search_cameras_once()
        if self._pipeline_error and settings is self.settings:
            self._pipeline_error = False
            self.message_bar.clear("pipeline")  # what it said went wrong now works
        self._save_timer.start()

    def _failed(self, settings: Settings, error: Exception) -> None:
        self._search_cameras_once()
        if settings is not self.settings:
            return  # a newer choice is on its way; its answer is the one that counts
        if self.running_settings is not None and self.controller.running:
            message = f"{explain(error)} Nothing was changed."
            # keep what the pipeline does not care about (the gallery, the virtual camera switch)
            self.settings = self.running_settings.replace(app=self.settings.app, output=self.settings.output)
            self._refresh()
            self.message_bar.show_message(message, "error", key="pipeline")
        elif isinstance(error, SourceError) and camera_index(settings.source.name) is not None:
            # no camera (yet): the way on is a video file, so the banner says where and opens it
            self.preview.clear(str(error))
            self.message_bar.show_message(f"{error} {OPEN_VIDEO_HINT}", "error", "Open video file…",
                                          self.ask_source_file, key="pipeline")
        else:
            self.preview.clear(explain(error))
            self.message_bar.show_message(explain(error), "error", "Retry", lambda: self.change(), key="pipeline")
        self._pipeline_error = True

    def _stopped(self, error: Exception | None) -> None:
        self.running_settings = None
        if self._closed:
            return
        if isinstance(error, VirtualCameraError):  # the device went away mid-call
            self.controller.set_virtual_camera(False)
            self._vcam_failed(error)
            self.controller.apply(self.settings)  # go on without it
            return
        text = str(error) if error is not None else "The video has ended."
        self.preview.clear(text)
        self.message_bar.show_message(text, "error" if error else "info", "Restart", lambda: self.change(),
                                      key="pipeline")
        self._pipeline_error = True

    def _refresh(self) -> None:
        """Make every widget show self.settings."""
        s = self.settings
        self.effect_bar.set_effect(s.effect)
        self.effect_actions[s.effect.name].setChecked(True)
        self.controls.show_settings(s)
        self.source_panel.show_settings(s)
        # a model loading beside the running one shows as chosen; it runs once it has loaded
        self.model_panel.show_settings(s.replace(**self._pending_network) if self._pending_network else s)
        gallery = (tuple(map(str, self.defaults)), tuple(s.app.user_backgrounds))
        if gallery != self._gallery_shown:
            self.gallery.set_backgrounds(self.defaults, s.app.user_backgrounds, "")
            self._gallery_shown = gallery
        self.gallery.select(s.effect.background if s.effect.name == "image" else "")

    def save_settings(self) -> None:
        geometry = base64.b64encode(bytes(self.saveGeometry())).decode("ascii")
        try:
            # something else wrote the file meanwhile and it is not settings: keep it, never overwrite
            set_aside = settings_store.keep_broken()
            settings_store.save(self.settings.replace(window_geometry=geometry))
        except OSError as exc:
            self.message_bar.show_message(f"Could not save settings: {exc}", "warning", key="settings")
            return
        if set_aside:
            self.message_bar.show_message(f"{set_aside} The current settings were saved in its place.", "warning",
                                          key="settings")

    def _fitted(self, size: QSize) -> QSize:
        """A window size no larger than the screen's free area (nor smaller than the window's minimum)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return size
        room = screen.availableGeometry().size()
        return size.boundedTo(room).expandedTo(self.minimumSizeHint().boundedTo(room))

    def _restore_geometry(self) -> None:
        if self.settings.app.window_geometry:
            try:
                self.restoreGeometry(QByteArray(base64.b64decode(self.settings.app.window_geometry)))
            except ValueError:
                pass  # a damaged value: the default size will do
        # a size saved on a larger screen (or by a window that had grown) must not run off this one
        fitted = self._fitted(self.size())
        if fitted != self.size():
            self.resize(fitted)

    # -- source, model ---------------------------------------------------------------------

    def set_source(self, source: str) -> None:
        change = {"source": source}
        # "Automatic" may pick the other network for this source's shape: get its weights first
        name = self.needs_weights(self.settings.replace(**change)) if self._model_ready else None
        if name is not None:
            self.ask_for_model(name, on_ready=lambda: self.change(**change))
        else:
            self.change(**change)

    def _search_cameras_once(self) -> None:
        """The first search waits for the first start, so the two never open a camera at once."""
        if not self._cameras_searched:
            self._cameras_searched = True
            self.find_cameras()

    def find_cameras(self) -> None:
        """Look for cameras on a thread: opening each index can take a while on some systems."""
        if self._camera_search is not None and self._camera_search.is_alive():
            return
        self._camera_search = threading.Thread(target=lambda: self.cameras_found.emit(list_cameras()),
                                               name="segcam-find-cameras", daemon=True)
        self._camera_search.start()

    # -- frames and stats (GUI thread, from the controller's signals) ------------------------

    def _show_frame(self) -> None:
        result = self.controller.take_frame()
        if result is None or self._closed:
            return
        self._last_result = result
        if not self.paused:
            # a paused result pairs the live frame with the frozen mask; the buttons keep the paused frame
            self._thumbnail_source = result
        if self.isVisible():  # hidden in the tray: keep sending, skip drawing
            self.preview.show_result(result)

    @property
    def paused(self) -> bool:
        """Paused, or the pipeline not yet resumed: set at once when asked, cleared once the pipeline runs again."""
        return self.pause_action.isChecked() or self.controller.pause_mode is not None

    def _update_thumbnails(self) -> None:
        result = self._thumbnail_source
        if result is None or not self.isVisible():
            return
        fallback = next(iter(self.gallery.paths()), "")
        pictures = self.thumbnails.render(result.frame, result.alpha, self.settings.effect, fallback)
        if self.preview.mirror:  # the buttons look like the preview does
            pictures = {e: None if p is None else np.ascontiguousarray(p[:, ::-1]) for e, p in pictures.items()}
        self.effect_bar.set_thumbnails(pictures)

    def _show_stats(self, stats) -> None:
        self.stats_bar.show_stats(stats, self.settings.source.name, self.controller.pause_mode,
                                  learning_chosen=self.settings.app.learn_room is True)

    # -- closing ---------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Save, then release the camera and the virtual camera and end every thread we started."""
        if self._closed:
            return
        self._closed = True
        self._thumb_timer.stop()
        self.save_settings()
        self.controller.shutdown()
        self.thumbnails.close()
        if self._camera_search is not None:
            self._camera_search.join(timeout=10)
        if self.tray is not None:
            self.tray.hide()


