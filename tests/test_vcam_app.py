"""The app's "Send to meeting apps" switch with the PipeWire camera and a real PipeWire daemon
(tools.pipewire_desk): it takes PipeWire where v4l2loopback is not loaded, says which apps see
it, and says so when the daemon goes away and comes back while the preview goes on."""

from __future__ import annotations

import pytest
from app_helpers import WAIT_MS, open_window, vcam_backend, wait_for_frames  # noqa: F401 - fixtures
from pipewire_fixtures import desk, module_desk  # noqa: F401 - fixtures

from segcam.vcam import system


def test_the_switch_says_which_camera_and_when_pipewire_goes_away(qtbot, desk, models_installed, open_window):
    if system.v4l2loopback_loaded():
        pytest.skip("v4l2loopback is loaded here, so the switch takes it")
    window = open_window(vcam_backend=None)  # the switch as a user has it: no backend named
    panel = window.vcam_panel
    qtbot.waitUntil(lambda: panel.text().startswith("Sending"), timeout=WAIT_MS)
    first, hint = panel.text().splitlines()
    assert first == "Sending to the PipeWire camera 'segcam' as 640x360 @29.97"
    assert "chrome://flags/#enable-webrtc-pipewire-camera" in hint and "Zoom reads V4L2 only" in hint

    desk.stop_pipewire()
    qtbot.waitUntil(lambda: panel.text().startswith("The PipeWire daemon stopped"), timeout=WAIT_MS)
    assert panel.switch.isChecked() and window.vcam_action.isChecked()  # still on: it comes back by itself
    wait_for_frames(qtbot, window)  # the preview goes on

    desk.start_pipewire()
    qtbot.waitUntil(lambda: panel.text() == "segcam's PipeWire camera 'segcam' is offered again.", timeout=WAIT_MS)
    assert panel.switch.isChecked()
