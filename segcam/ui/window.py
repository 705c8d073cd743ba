"""The main window: wires the panels to the one Settings object and to the pipeline controller.

Every user choice goes through `change()`: the widgets show it at once, the controller
applies it on its thread, and the answer comes back as applied (saved) or failed (an inline
message, and the widgets go back to what is really running). Nothing here processes frames.
"""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QButtonGroup, QFrame, QHBoxLayout, QMainWindow, QScrollArea,
                               QToolButton, QVBoxLayout, QWidget)

from segcam import effects
from segcam import settings as settings_store
from segcam.capture import camera_index, list_cameras
from segcam.errors import SourceError, VirtualCameraError
from segcam.settings import Settings
from segcam.ui import icons, resources
from segcam.ui.controller import PipelineController
from segcam.ui.controls import EffectControls
from segcam.ui.effects_bar import EffectBar, EffectThumbnails
from segcam.ui.gallery import BackgroundGallery
from segcam.ui.menus import WindowMenus
from segcam.ui.model_panel import ModelPanel
from segcam.ui.model_switch import ModelSwitching
from segcam.ui.preview import VIEW_LABELS, VIEWS, PreviewWidget
from segcam.ui.source_panel import SourcePanel
from segcam.ui.stats_bar import StatsBar
from segcam.ui.tray import make_tray
from segcam.ui.vcam_panel import HOW_TO_USE, VirtualCameraPanel, describe_failure
from segcam.ui.widgets import MessageStack, label

log = logging.getLogger(__name__)

THUMBNAIL_INTERVAL_MS = 400
VCAM_WAITING = "Starts as soon as segcam has a picture from the camera."
VCAM_OFF = "Off: meeting apps do not see segcam."
DEFAULT_SIZE = QSize(1320, 860)
OPEN_VIDEO_HINT = "To use a video file instead, choose File > Open video file (Ctrl+O)."


class MainWindow(WindowMenus, ModelSwitching, QMainWindow):
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

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.setSpacing(16)

        left = QVBoxLayout()
        left.setSpacing(12)

        stage = QFrame()
        stage.setObjectName("Card")
        stage_layout = QVBoxLayout(stage)
        stage_layout.setContentsMargins(12, 12, 12, 10)
        stage_layout.setSpacing(10)
        self.preview = PreviewWidget()
        stage_layout.addWidget(self.preview, 1)
        stage_layout.addLayout(self._preview_toolbar())
        left.addWidget(stage, 1)
        # banners lie over the top of the preview: showing one never moves the window's layout
        self.message_bar = MessageStack(stage)

        effects_header = QHBoxLayout()
        effects_header.addWidget(label("EFFECT", "title"))
        effects_header.addStretch(1)
        left.addLayout(effects_header)
        self.effect_bar = EffectBar()
        # on a narrow screen the row scrolls instead of forcing the window wider
        effects_scroll = QScrollArea()
        effects_scroll.setWidget(self.effect_bar)
        effects_scroll.setWidgetResizable(True)
        effects_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        effects_scroll.setFixedHeight(self.effect_bar.sizeHint().height() + 12)
        left.addWidget(effects_scroll)
        self.gallery = BackgroundGallery()
        left.addWidget(self.gallery)
        outer.addLayout(left, 1)

        sidebar = QWidget()
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 4, 0)
        side.setSpacing(12)
        self.vcam_panel = VirtualCameraPanel()
        self.controls = EffectControls()
        self.source_panel = SourcePanel()
        self.model_panel = ModelPanel()
        for panel in (self.vcam_panel, self.controls, self.source_panel, self.model_panel):
            side.addWidget(panel)
        side.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(sidebar)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(330)
        outer.addWidget(scroll)
        self.setCentralWidget(central)

        self.stats_bar = StatsBar()
        self.setStatusBar(self.stats_bar)
        self.resize(self._fitted(DEFAULT_SIZE))

    def _preview_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setSpacing(0)
        self.view_group = QButtonGroup(self)
        self.view_buttons: dict[str, QToolButton] = {}
        for i, view in enumerate(VIEWS):
            button = QToolButton()
            button.setText(VIEW_LABELS[view])
            button.setCheckable(True)
            button.setProperty("role", "segment")
            button.setProperty("position", "first" if i == 0 else "last" if i == len(VIEWS) - 1 else "middle")
            button.setToolTip(f"Show the {VIEW_LABELS[view].lower()} (Alt+{i + 1})")
            self.view_group.addButton(button)
            self.view_buttons[view] = button
            bar.addWidget(button)
        self.view_buttons["output"].setChecked(True)
        bar.addStretch(1)
        self.mirror_button = QToolButton()
        self.mirror_button.setProperty("role", "flat")
        self.mirror_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause_button = QToolButton()
        self.pause_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        bar.addWidget(self.mirror_button)
        bar.addSpacing(8)
        bar.addWidget(self.pause_button)
        return bar

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

    # -- effects and backgrounds -----------------------------------------------------------

    def choose_effect(self, name: str) -> None:
        """Use an effect; one that needs a file not chosen yet asks for it first (the old effect stays meanwhile)."""
        needs = effects.get(name).needs
        if needs and not self.settings.get(needs):
            kind = settings_store.facts(needs).get("kind")
            first = next(iter(self.gallery.paths()), "") if kind == "image" else ""
            if not first:
                self._refresh()
                self.ask_backgrounds() if kind == "image" else self.ask_background_video()
                return
            self.change(effect=name, **{needs: first})
        else:
            self.change(effect=name)

    def add_backgrounds(self, paths: list[str]) -> None:
        """Add pictures to the gallery and use the last one; what the file dialog and a drop do.

        The files are checked off the GUI thread (see _backgrounds_checked). A file that is not
        a usable picture is named in an inline message and changes nothing. A dropped video
        becomes the background video.
        """
        self.controller.check_backgrounds(paths)

    def set_background_video(self, path: str) -> None:
        """Use a video as the background; a file that does not play gives a message and changes nothing."""
        self.controller.check_backgrounds([path])

    def _backgrounds_checked(self, pictures: list[str], videos: list[str], problems: list[str]) -> None:
        if problems:
            self.message_bar.show_message(" ".join(problems), "error", key="backgrounds")
        if videos:
            self.change(effect="video", background_video=videos[-1])
        if pictures:
            known = {str(p) for p in self.defaults} | set(self.settings.app.user_backgrounds)
            user = self.settings.app.user_backgrounds + [p for p in dict.fromkeys(pictures) if p not in known]
            self.change(user_backgrounds=user, effect="image", background=pictures[-1])
            if not problems:
                names = ", ".join(Path(p).name for p in pictures)
                self.message_bar.show_message(f"Added {names} to your backgrounds.", "info", key="backgrounds")

    def remove_background(self, path: str) -> None:
        user = [p for p in self.settings.app.user_backgrounds if p != path]
        if self.settings.effect.background == path:
            fallback = str(self.defaults[0]) if self.defaults else ""
            effect = self.settings.effect.name if fallback or self.settings.effect.name != "image" else "blur"
            self.change(user_backgrounds=user, background=fallback, effect=effect)
        else:
            self.change(user_backgrounds=user)

    # -- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_backgrounds(paths)

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

    # -- virtual camera --------------------------------------------------------------------

    def set_virtual_camera(self, on: bool) -> None:
        waiting = "Starting…" if self.controller.running else VCAM_WAITING
        self.vcam_panel.show_state(on, waiting if on else VCAM_OFF)
        self.vcam_action.setChecked(on)
        self.controller.set_virtual_camera(on, self.settings.output.vcam_backend, self.settings.output.vcam_device)
        self.settings = self.settings.replace(output="vcam" if on else "none")
        self._save_timer.start()

    def _vcam_started(self, description: str) -> None:
        self.vcam_panel.show_state(True, f"{description}\n{HOW_TO_USE}", "on")
        self.vcam_action.setChecked(True)

    def _vcam_failed(self, error: Exception, description: str = "") -> None:
        self.vcam_panel.show_state(False, description or describe_failure(error), "error")
        self.vcam_panel.status.setToolTip(str(error))
        self.vcam_action.setChecked(False)
        self.settings = self.settings.replace(output="none")
        self._save_timer.start()

    def _vcam_stopped(self) -> None:
        if self.settings.output.target == "vcam":  # the pipeline stopped; the camera comes back with it
            self.vcam_panel.show_state(True, VCAM_WAITING)
        elif self.vcam_panel.status.property("state") != "error":
            self.vcam_panel.show_state(False, VCAM_OFF)
            self.vcam_action.setChecked(False)

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
        self.stats_bar.show_stats(stats, self.settings.source.name, self.controller.pause_mode)

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



def explain(error: Exception) -> str:
    """An engine error in the app's words: the setting it names, as the control that sets it."""
    key = getattr(error, "setting", None)
    label = settings_store.facts(key).get("label") if key in settings_store.FIELDS else None
    text = str(error)
    if not label or label in text:
        return text
    return f"{text[:-1]} ({label})." if text.endswith(".") else f"{text} ({label})"
