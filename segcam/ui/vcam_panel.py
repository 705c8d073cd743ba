"""The virtual camera switch, with what it is doing in words."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from segcam.errors import NoVirtualCamera
from segcam.vcam.system import HOW_TO_USE
from segcam.ui.widgets import Card, ToggleSwitch, label, restyle

WAITING = "Starts as soon as segcam has a picture from the camera."
OFF = "Off: meeting apps do not see segcam."


def failure_detail(error: Exception) -> str:
    """What pyvirtualcam itself said, for the status line's tooltip (the line says what to do)."""
    cause = error.__cause__
    return str(cause) if isinstance(cause, NoVirtualCamera) else str(error)


class VirtualCameraPanel(Card):
    switched = Signal(bool)  # the user flipped the switch

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Virtual camera", parent)
        row = QHBoxLayout()
        title = label("Send to meeting apps", "heading")
        self.switch = ToggleSwitch()
        self.switch.setAccessibleName("Virtual camera")
        self.switch.setToolTip("Turn the virtual camera on or off (Ctrl+Shift+V)")
        row.addWidget(title, 1)
        row.addWidget(self.switch, 0, Qt.AlignmentFlag.AlignVCenter)
        self.body.addLayout(row)
        self.status = label("Off", "hint", wrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addWidget(self.status)
        self.switch.clicked.connect(self.switched)

    def show_state(self, on: bool, text: str, state: str = "") -> None:
        """state: "on" (green), "error" (red), or "" (plain)."""
        self.switch.setChecked(on)
        self.status.setText(text)
        self.status.setProperty("state", state)
        restyle(self.status)

    def text(self) -> str:
        return self.status.text()


class VirtualCameraSwitching:
    """Mixed into MainWindow: the switch, what the session says of the camera, and the setting that
    remembers it. The window provides settings, controller, vcam_panel, vcam_action, _save_timer."""

    _vcam_failure: tuple[str | None, int] = (None, 0)  # the last failure's sentence, and how often in a row

    def set_virtual_camera(self, on: bool) -> None:
        waiting = "Starting…" if self.controller.running else WAITING
        self.vcam_panel.show_state(on, waiting if on else OFF)
        self.vcam_action.setChecked(on)
        self.controller.set_virtual_camera(on, self.settings.output.vcam_backend, self.settings.output.vcam_device)
        self.settings = self.settings.replace(output="vcam" if on else "none")
        self._save_timer.start()

    def _vcam_started(self, description: str, hint: str = "") -> None:
        """`hint`: how meeting apps find this camera (a PipeWire camera: a switch in the browser)."""
        self._vcam_failure = (None, 0)
        self.vcam_panel.show_state(True, f"{description}\n{hint or HOW_TO_USE}", "on")
        self.vcam_panel.status.setToolTip("")
        self.vcam_action.setChecked(True)

    def _vcam_status(self, sentence: str, working: bool) -> None:
        """The camera stays on: lost for now (its PipeWire daemon went away), or offered again."""
        self.vcam_panel.show_state(True, sentence, "on" if working else "error")

    def _vcam_failed(self, error: Exception) -> None:
        text = str(error)
        tries = self._vcam_failure
        # the same answer to a new try (the switch, Ctrl+Shift+V) must still show it was heard
        tries = (text, tries[1] + 1 if tries[0] == text else 1)
        self._vcam_failure = tries
        shown = text if tries[1] == 1 else f"Tried {tries[1]} times, last at {time.strftime('%H:%M:%S')}: {text}"
        self.vcam_panel.show_state(False, shown, "error")
        self.vcam_panel.status.setToolTip(failure_detail(error))
        self.vcam_action.setChecked(False)
        self.settings = self.settings.replace(output="none")
        self._save_timer.start()

    def _vcam_stopped(self) -> None:
        if self.settings.output.target == "vcam":  # the pipeline stopped; the camera comes back with it
            self.vcam_panel.show_state(True, WAITING)
        elif self.vcam_panel.status.property("state") != "error":
            self.vcam_panel.show_state(False, OFF)
            self.vcam_action.setChecked(False)
