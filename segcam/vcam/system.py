"""Which virtual camera this machine can offer, and what a person does to get one.

Linux has two ways: a v4l2loopback device (a kernel module; every app that reads V4L2 sees it,
Zoom included) and a PipeWire camera (no module; browsers and apps that ask the desktop portal
see it, with a switch turned on). v4l2loopback stays first where it is loaded; PipeWire is the
way where it is not and a PipeWire daemon answers.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

GST_LAUNCH = "gst-launch-1.0"
GST_INSPECT = "gst-inspect-1.0"

# what to install for the PipeWire camera, by distribution (os-release ID / ID_LIKE words)
PIPEWIRE_INSTALL = {
    "Debian/Ubuntu": "sudo apt install pipewire wireplumber gstreamer1.0-pipewire gstreamer1.0-tools "
                     "gstreamer1.0-plugins-base xdg-desktop-portal",
    "Fedora": "sudo dnf install pipewire wireplumber pipewire-gstreamer gstreamer1-plugins-base-tools "
              "gstreamer1-plugins-base xdg-desktop-portal",
    "Arch": "sudo pacman -S pipewire wireplumber gst-plugin-pipewire gstreamer gst-plugins-base xdg-desktop-portal",
}
_DISTRO_WORDS = {"Debian/Ubuntu": {"debian", "ubuntu"}, "Fedora": {"fedora"}, "Arch": {"arch"}}

# how each app gets to see a PipeWire camera
PIPEWIRE_SWITCHES = (
    "Chrome, Chromium, Edge: turn on chrome://flags/#enable-webrtc-pipewire-camera",
    "Firefox: set media.webrtc.camera.allow-pipewire to true in about:config (on already in Fedora 41 and newer)",
    "Zoom and other apps that read V4L2 only: they need v4l2loopback",
)


def distribution(os_release: str | None = None) -> str | None:
    """"Debian/Ubuntu", "Fedora" or "Arch" from /etc/os-release; None for others."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            os_release = ""
    words: set[str] = set()
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            words.update(value.strip().strip('"').split())
    return next((name for name, known in _DISTRO_WORDS.items() if words & known), None)


def install_line(os_release: str | None = None) -> str:
    """One sentence: what to install for the PipeWire camera here."""
    distro = distribution(os_release)
    if distro is not None:
        return f"install PipeWire's GStreamer pieces with `{PIPEWIRE_INSTALL[distro]}`"
    return ("install PipeWire, WirePlumber, GStreamer's tools and base plugins and its PipeWire plugin "
            "(Debian/Ubuntu: gstreamer1.0-pipewire, Fedora: pipewire-gstreamer, Arch: gst-plugin-pipewire)")


def pipewire_socket() -> Path:
    """Where clients find the daemon: $PIPEWIRE_REMOTE, else pipewire-0 in $XDG_RUNTIME_DIR."""
    remote = os.environ.get("PIPEWIRE_REMOTE", "pipewire-0")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(remote) if os.path.isabs(remote) else Path(runtime) / remote


def pipewire_socket_identity() -> tuple[int, int] | None:
    """(inode, change time) of the daemon's socket: a restarted daemon makes a new one."""
    try:
        stat = pipewire_socket().stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_ctime_ns


def pipewire_answers() -> bool:
    """A PipeWire daemon accepts connections on its socket (a stale file left by a killed one does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(pipewire_socket()))
        except OSError:
            return False
    return True


def gstreamer_element(name: str) -> bool:
    if shutil.which(GST_INSPECT) is None:
        return False
    try:
        # not --exists: it also asks for GStreamer's own version, which the PipeWire plugin's (0.3) is not
        return subprocess.run([GST_INSPECT, name], capture_output=True, timeout=30,
                              env=child_environment()).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def child_environment() -> dict[str, str]:
    """GStreamer's environment: a frozen build's library path is kept from the system's programs."""
    env = dict(os.environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)  # PyInstaller keeps the user's value here
    if original is not None:
        env["LD_LIBRARY_PATH"] = original
    elif getattr(sys, "frozen", False):
        env.pop("LD_LIBRARY_PATH", None)
    return env


def pipewire_problem() -> str | None:
    """Why a PipeWire camera cannot start here, in one sentence with its fix; None when it can."""
    if platform.system() != "Linux":
        return "the PipeWire camera is for Linux"
    if shutil.which(GST_LAUNCH) is None:
        return f"GStreamer's gst-launch-1.0 is not installed: {install_line()}"
    if not pipewire_answers():
        return (f"no PipeWire daemon answers at {pipewire_socket()} (start it with "
                "`systemctl --user start pipewire wireplumber`, or log in to a desktop that runs it)")
    if not gstreamer_element("pipewiresink"):
        return f"GStreamer's PipeWire plugin (pipewiresink) is not installed: {install_line()}"
    return None


def v4l2loopback_loaded() -> bool:
    return Path("/sys/module/v4l2loopback").is_dir()


def choose_backend(backend: str | None) -> str | None:
    """The backend a virtual camera uses: the one asked for, else on Linux PipeWire where
    v4l2loopback is not loaded and a PipeWire daemon answers, and v4l2loopback otherwise (its
    failure is the one doctor explains); elsewhere None lets pyvirtualcam choose."""
    if backend or platform.system() != "Linux":
        return backend
    if not v4l2loopback_loaded() and pipewire_answers():
        return "pipewire"
    return "v4l2loopback"


# how meeting apps find a v4l2loopback (or OBS) camera: every one of them lists it
HOW_TO_USE = "In Zoom, Meet or Teams, open the video settings and choose this camera."


def how_to_use(backend: str | None) -> str:
    """One sentence: how meeting apps find a camera of this backend (the app and the command line say it)."""
    if backend == "pipewire":
        return ("Browsers see it once their PipeWire camera switch is on (Chrome: turn on "
                "chrome://flags/#enable-webrtc-pipewire-camera; Firefox: media.webrtc.camera.allow-pipewire in "
                "about:config); Zoom reads V4L2 only and needs v4l2loopback")
    return HOW_TO_USE
