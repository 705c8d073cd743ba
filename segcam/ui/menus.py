"""The main window's commands: a QAction for each, the menu bar, and the handlers behind them.

The menus, the tray, the preview's toolbar buttons and the keyboard shortcuts all share these
actions, so a command looks and behaves the same wherever it is reached from.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from segcam import effects
from segcam.ui import help as help_windows
from segcam.ui import icons
from segcam.ui.file_dialogs import ask_files
from segcam.ui.preview import VIEW_LABELS, VIEWS

PAUSE_MODES = {"freeze": "Freeze the last frame", "blank": "Send a blank frame", "blur": "Send a heavy blur"}
PAUSE_BADGES = {"freeze": "PAUSED · frozen", "blank": "PAUSED · blank", "blur": "PAUSED · blurred"}
IMAGE_FILTER = "Pictures (*.jpg *.jpeg *.png *.webp *.bmp);;All files (*)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"


class WindowMenus:
    """Mixed into MainWindow, before QMainWindow: its actions, menu bar and command handlers.

    The window provides the rest: settings, controller, preview, pause_mode, _save_timer, the
    preview toolbar's buttons, and the commands that change settings (choose_effect,
    add_backgrounds, set_background_video, set_source, set_virtual_camera, find_cameras).
    """

    # -- actions and menus -------------------------------------------------------------------

    def _action(self, text: str, shortcuts=(), slot=None, checkable: bool = False, icon=None) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            # shortcuts work wherever focus is in the window, dialogs of this window included
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        if icon is not None:
            action.setIcon(icon)
        if slot is not None:
            (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        self.open_video_action = self._action("Open video file as camera…", ["Ctrl+O"], self.ask_source_file)
        self.add_background_action = self._action("Add background picture…", ["Ctrl+B"], self.ask_backgrounds)
        self.background_video_action = self._action("Choose background video…", [], self.ask_background_video)
        self.show_hide_action = self._action("Show / hide window", [], self.toggle_visible)
        self.hide_action = self._action("Hide to tray", ["Ctrl+H"], self.hide)
        self.quit_action = self._action("Quit", ["Ctrl+Q"], self.quit)

        self.view_actions: dict[str, QAction] = {}
        views = QActionGroup(self)
        for i, view in enumerate(VIEWS):
            action = self._action(f"Show {VIEW_LABELS[view].lower()}", [f"Alt+{i + 1}"], checkable=True)
            action.triggered.connect(lambda _=False, v=view: self.set_view(v))
            views.addAction(action)
            self.view_actions[view] = action
        self.view_actions["output"].setChecked(True)
        self.mirror_action = self._action("Mirror preview", ["Ctrl+M"], self.set_preview_mirror, checkable=True,
                                          icon=icons.icon("mirror"))
        self.mirror_action.setChecked(self.settings.app.preview_mirror)

        self.vcam_action = self._action("Virtual camera", ["Ctrl+Shift+V"], checkable=True,
                                        icon=icons.icon("broadcast"))
        self.vcam_action.triggered.connect(self.set_virtual_camera)
        self.pause_action = self._action("Pause camera", ["Ctrl+P", "Pause"], checkable=True,
                                         icon=icons.icon("pause"))
        self.pause_action.triggered.connect(self.set_paused)
        self.pause_action.setProperty("shortcut_name", "Pause or resume camera")
        self.pause_mode_actions: dict[str, QAction] = {}
        modes = QActionGroup(self)
        for mode, text in PAUSE_MODES.items():
            action = self._action(text, checkable=True)
            action.triggered.connect(lambda _=False, m=mode: self.set_pause_mode(m))
            modes.addAction(action)
            self.pause_mode_actions[mode] = action
        self.pause_mode_actions[self.pause_mode].setChecked(True)
        self.refresh_cameras_action = self._action("Find cameras", ["F5"], self.find_cameras)
        self.calibrate_action = self._action("Calibrate for my room…", [], self.show_calibration)
        self.learn_action = self._action("Learn my room", [], checkable=True)
        self.learn_action.setChecked(self.learning_wanted())
        self.learn_action.toggled.connect(self.set_learning)
        self.learn_action.setToolTip("While segcam runs, RVM labels a frame now and then at low priority and the fast "
                                     "network learns from it; only the weights are kept, never a frame")
        self.forget_action = self._action("Forget what segcam learned", [], self.forget_learned)

        self.effect_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for i, effect in enumerate(effects.effects()):  # Ctrl+1 ... Ctrl+9 in the registry's order
            action = self._action(effect.label, [f"Ctrl+{i + 1}"] if i < 9 else [], checkable=True)
            action.triggered.connect(lambda _=False, e=effect.name: self.choose_effect(e))
            group.addAction(action)
            self.effect_actions[effect.name] = action

        self.shortcuts_action = self._action("Keyboard shortcuts", ["F1"], self.show_shortcuts)
        self.diagnose_action = self._action("Diagnose…", [], self.show_diagnosis)
        self.about_action = self._action("About segcam", [], self.show_about)

        self.mirror_button.setDefaultAction(self.mirror_action)
        self.pause_button.setDefaultAction(self.pause_action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.open_video_action, self.add_background_action, self.background_video_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.hide_action)
        file_menu.addAction(self.quit_action)

        view_menu = bar.addMenu("&View")
        for action in self.view_actions.values():
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.mirror_action)

        camera_menu = bar.addMenu("&Camera")
        camera_menu.addAction(self.vcam_action)
        camera_menu.addAction(self.pause_action)
        self.pause_menu = camera_menu.addMenu("While paused")
        for action in self.pause_mode_actions.values():
            self.pause_menu.addAction(action)
        self.pause_button.setMenu(self.pause_menu)
        camera_menu.addSeparator()
        camera_menu.addAction(self.refresh_cameras_action)
        camera_menu.addAction(self.open_video_action)
        camera_menu.addSeparator()
        camera_menu.addAction(self.calibrate_action)
        camera_menu.addAction(self.learn_action)
        camera_menu.addAction(self.forget_action)

        effect_menu = bar.addMenu("&Effect")
        for action in self.effect_actions.values():
            effect_menu.addAction(action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        if help_windows.doctor_available():
            help_menu.addAction(self.diagnose_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _tray_or_not(self) -> None:
        """Without a system tray a hidden window could not be brought back: Hide to tray is off, and says why."""
        if self.tray is None:
            self.hide_action.setEnabled(False)
            self.hide_action.setText("Hide to tray (no system tray)")
            self.hide_action.setToolTip("This desktop has no system tray to bring the window back from")

    def shortcut_actions(self) -> list[QAction]:
        """Every action of the window that has a shortcut, in menu order.

        Read from the actions themselves (the menus first, then any others the window holds),
        so Help > Keyboard shortcuts cannot drift from what the keys do.
        """
        ordered: list[QAction] = []

        def walk(actions) -> None:
            for action in actions:
                if action.menu() is not None:
                    walk(action.menu().actions())
                elif action not in ordered:
                    ordered.append(action)

        walk(self.menuBar().actions())
        ordered += [action for action in self.actions() if action not in ordered]
        return [action for action in ordered if action.shortcuts()]

    # -- pause, view, window -----------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)
        self.controller.pause(self.pause_mode if paused else None)

    def set_pause_mode(self, mode: str) -> None:
        self.pause_mode = mode
        self.pause_mode_actions[mode].setChecked(True)
        if self.pause_action.isChecked():
            self.controller.pause(mode)

    def _paused(self, mode: str | None) -> None:
        self.pause_action.setChecked(mode is not None)
        self.pause_action.setText("Resume camera" if mode else "Pause camera")
        self.preview.set_badge(PAUSE_BADGES[mode] if mode else "")
        self.stats_bar.set_paused(mode)

    def set_view(self, view: str) -> None:
        self.view_actions[view].setChecked(True)
        self.view_buttons[view].setChecked(True)
        self.preview.set_view(view)

    def set_preview_mirror(self, mirror: bool) -> None:
        self.preview.set_mirror(mirror)
        if mirror != self.settings.app.preview_mirror:
            self.settings = self.settings.replace(preview_mirror=mirror)
            self._save_timer.start()

    def toggle_visible(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.showNormal()
            self.raise_()
            self.activateWindow()

    def quit(self) -> None:
        """Quit from the menu or the tray, also while the window is hidden in the tray."""
        self.close()
        QApplication.instance().quit()

    # -- file dialogs ------------------------------------------------------------------------

    def ask_backgrounds(self) -> None:
        paths = ask_files(self, "backgrounds", "Add background pictures", IMAGE_FILTER, many=True)
        if paths:
            self.add_backgrounds(paths)

    def ask_background_video(self) -> None:
        for path in ask_files(self, "background_video", "Choose a background video", VIDEO_FILTER):
            self.set_background_video(path)

    def ask_source_file(self) -> None:
        for path in ask_files(self, "source_video", "Open a video file as the camera", VIDEO_FILTER):
            self.set_source(path)

    # -- calibration -------------------------------------------------------------------------

    def show_calibration(self) -> None:
        """The guided calibration, on the frames this window shows; a kept model can be used at once."""
        from segcam.ui.calibrate_dialog import CalibrationDialog

        def newest_frame():
            result = self._last_result
            return None if result is None or self.paused else result.frame

        # the device is auto: a GPU makes calibration much faster even where the live model runs on the CPU
        self.calibrate_dialog = CalibrationDialog(self.settings.source.name, newest_frame, self)
        # loaded beside the running network, as a choice in the Model box is
        self.calibrate_dialog.kept.connect(lambda name, use: self.set_model(name) if use else None)
        self.calibrate_dialog.open()

    # -- learning ----------------------------------------------------------------------------

    def learning_wanted(self) -> bool:
        from segcam import learn

        chosen = self.settings.app.learn_room
        return learn.wanted_by_default(self.settings) if chosen is None else chosen

    def learn_request(self):
        from segcam import learn

        return learn.Request() if self.learning_wanted() else None

    def set_learning(self, on: bool) -> None:
        if on != self.settings.app.learn_room:
            self.settings = self.settings.replace(learn_room=on)
            self._save_timer.start()
        self.controller.set_learning(self.learn_request())

    def forget_learned(self) -> None:
        self.controller.forget_learned()

    def _learned_forgotten(self, lines: list[str]) -> None:
        text = " ".join(lines) if lines else "segcam had learned nothing for this camera."
        self.message_bar.show_message(text, "info", key="learning")

    # -- help ------------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        help_windows.ShortcutsDialog(self.shortcut_actions(), self).open()

    def show_diagnosis(self) -> None:
        self.diagnose_dialog = help_windows.DiagnoseDialog(self)
        self.diagnose_dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(self, "About segcam", help_windows.ABOUT)
