"""A private headless desktop for the PipeWire camera's tests and tools: a D-Bus session bus, the
PipeWire daemon, WirePlumber, and what xdg-desktop-portal needs to hand a browser the camera.

Everything lives under one folder (its own XDG_RUNTIME_DIR), so it never meets a real desktop's
daemons, and `stop_pipewire` / `start_pipewire` let a test take the daemon away mid-run.

Why each piece (facts from xdg-desktop-portal 1.16 and PipeWire 0.3.65, Debian 12):
- The portal's Camera interface is only offered when some portal backend implements
  org.freedesktop.impl.portal.Access; a `.portal` file naming one (never called: the grant
  below is already there) in XDG_DESKTOP_PORTAL_DIR, matched through XDG_CURRENT_DESKTOP.
- The portal asks the permission store before it asks the user: the camera is granted to
  every app ("") in the store's `devices` table.
- D-Bus starts the portal on first use, with the bus's activation environment: the variables
  above go there with dbus-update-activation-environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DESKTOP = "segcamtest"
PROGRAMS = ("dbus-daemon", "pipewire", "wireplumber", "gdbus", "dbus-update-activation-environment",
            "gst-launch-1.0", "/usr/libexec/xdg-desktop-portal")
DEBIAN_PACKAGES = ("pipewire wireplumber gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base "
                   "gstreamer1.0-plugins-good dbus xdg-desktop-portal libglib2.0-bin")


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None and not Path(p).is_file()]


def _wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:g} s")
        time.sleep(0.05)


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class PipeWireDesk:
    """Start with `start()` (or `with`); `env` is what a program needs to join this desktop."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.runtime = self.folder / "run"
        self.bus = self.runtime / "bus"
        self.env: dict[str, str] = {}
        self._bus_daemon: subprocess.Popen | None = None
        self._pipewire: subprocess.Popen | None = None
        self._wireplumber: subprocess.Popen | None = None

    @property
    def pipewire_socket(self) -> Path:
        return self.runtime / "pipewire-0"

    def start(self) -> PipeWireDesk:
        self.runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        portals = self.folder / "portals"
        portals.mkdir(exist_ok=True)
        (portals / f"{DESKTOP}.portal").write_text(
            "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.segcamtest\n"
            f"Interfaces=org.freedesktop.impl.portal.Access;\nUseIn={DESKTOP}\n")
        bus_address = f"unix:path={self.bus}"
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime), "DBUS_SESSION_BUS_ADDRESS": bus_address,
                    "XDG_DESKTOP_PORTAL_DIR": str(portals), "XDG_CURRENT_DESKTOP": DESKTOP}
        self.env.pop("PIPEWIRE_REMOTE", None)
        self._bus_daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={bus_address}"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self._log("dbus"), start_new_session=True)
        _wait_for(lambda: _socket_answers(self.bus), 10, "the D-Bus session bus")
        self._run(["dbus-update-activation-environment", "XDG_RUNTIME_DIR", "XDG_DESKTOP_PORTAL_DIR",
                   "XDG_CURRENT_DESKTOP"])
        self.start_pipewire()
        self._run(["gdbus", "call", "--session", "--dest", "org.freedesktop.impl.portal.PermissionStore",
                   "--object-path", "/org/freedesktop/impl/portal/PermissionStore",
                   "--method", "org.freedesktop.impl.portal.PermissionStore.SetPermission",
                   "devices", "true", "camera", "", "['yes']"])
        return self

    def start_pipewire(self) -> None:
        self._pipewire = subprocess.Popen(["pipewire"], env=self.env, stdout=subprocess.DEVNULL,
                                          stderr=self._log("pipewire"), start_new_session=True)
        _wait_for(lambda: _socket_answers(self.pipewire_socket), 10, "the PipeWire daemon")
        self._wireplumber = subprocess.Popen(["wireplumber"], env=self.env, stdout=subprocess.DEVNULL,
                                             stderr=self._log("wireplumber"), start_new_session=True)

    def stop_pipewire(self) -> None:
        """The daemon goes away, as when a user's session restarts it."""
        for name in ("_wireplumber", "_pipewire"):
            _end(getattr(self, name))
            setattr(self, name, None)
        self.pipewire_socket.unlink(missing_ok=True)
        (self.runtime / "pipewire-0.lock").unlink(missing_ok=True)

    def nodes(self) -> list[dict]:
        """PipeWire's nodes' properties, as pw-dump reports them."""
        import json

        done = subprocess.run(["pw-dump"], env=self.env, capture_output=True, text=True, timeout=20)
        return [o["info"]["props"] for o in json.loads(done.stdout or "[]")
                if o.get("type", "").endswith(":Node") and o.get("info")]

    def stop(self) -> None:
        self.stop_pipewire()
        if self._bus_daemon is not None:
            # what D-Bus started for this desktop (the portal, the permission store) are its children
            for pid in _children(self._bus_daemon.pid):
                _kill(pid)
            _end(self._bus_daemon)
            self._bus_daemon = None

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, env=self.env, check=True, capture_output=True, timeout=30)

    def _log(self, name: str):
        return open(self.folder / f"{name}.log", "ab")

    def __enter__(self) -> PipeWireDesk:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _end(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/*/stat: this kernel may lack .../children)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found
