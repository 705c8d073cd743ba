"""Fixtures for the tests that need a real PipeWire daemon (tools.pipewire_desk starts one, with
WirePlumber, a private D-Bus bus and the portal's grant). Without the Debian packages they skip
with the reason; under CI=true they fail instead (.ci/run installs them)."""

from __future__ import annotations

import os
import time

import pytest

from segcam.vcam import system
from tools.pipewire_desk import DEBIAN_PACKAGES, PipeWireDesk, missing_programs


def need_pipewire() -> None:
    missing = missing_programs()
    if missing:
        reason = f"needs {', '.join(missing)} (Debian: apt install {DEBIAN_PACKAGES})"
        if os.environ.get("CI", "").lower() in ("true", "1"):  # as helpers.need_tool
            pytest.fail(reason + "; .ci/run installs them")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def module_desk(tmp_path_factory):
    need_pipewire()
    with PipeWireDesk(tmp_path_factory.mktemp("desk")) as started:
        yield started


@pytest.fixture
def desk(module_desk, monkeypatch):
    """The desk's daemon is the one this test's PipeWire camera finds."""
    for name in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.setenv(name, module_desk.env[name])
    monkeypatch.delenv("PIPEWIRE_REMOTE", raising=False)
    if not system.pipewire_answers():  # a test before this one took the daemon away
        module_desk.start_pipewire()
    wait_until_no_camera(module_desk)
    return module_desk


def wait_until_no_camera(desk, limit_s: float = 10.0) -> None:
    """No segcam node is left from before: PipeWire removes a closed camera's node a moment after
    its process ended, and a consumer started meanwhile would join the old one."""
    deadline = time.monotonic() + limit_s
    while [p for p in desk.nodes() if p.get("node.name", "").startswith("segcam")]:
        assert time.monotonic() < deadline, "an old segcam node stays listed"
        time.sleep(0.05)
