"""`segcam doctor`: checks what segcam needs on this machine and says how to fix what is missing.

Each check is a small function that reads the OS facts it needs through a `Host` (a root
for /sys, /dev, /proc and /etc, a way to run commands, a write test, the user's groups), or
takes the facts as arguments, so tests run every check against a fake machine.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from segcam import __version__
from segcam.system import has_display

MODULE_OPTIONS = 'devices=1 video_nr=10 card_label="segcam" exclusive_caps=1'
MODPROBE = f"sudo modprobe v4l2loopback {MODULE_OPTIONS}"
RELOAD = f"sudo modprobe -r v4l2loopback && {MODPROBE}"
SETUP_SCRIPT = "packaging/linux/setup-virtual-camera.sh"
SECURE_BOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"  # the EFI global variable
# DirectShow's video input category: every virtual camera on Windows registers under it
WINDOWS_CAMERA_CATEGORY = r"CLSID\{860BB310-5D01-11d0-BD3B-00A0C911CE86}\Instance"
WINDOWS_VIRTUAL_CAMERAS = ("OBS Virtual Camera", "Unity Video Capture")
MACOS_OBS_EXTENSION = "com.obsproject.obs-studio.mac-camera-extension"
COMMAND_TIMEOUT_S = 30


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to do, for this platform; for a check that passes, a tip (or empty)


def _default_run(argv: Sequence[str]) -> str | None:
    """A command's stdout, or None when it is missing, fails or hangs."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _group_name(gid: int) -> str:
    import grp  # POSIX only; the Linux checks are the only callers

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _default_groups() -> set[str]:
    return {_group_name(gid) for gid in os.getgroups()}


def _default_owner_group(path: Path) -> str:
    try:
        return _group_name(path.stat().st_gid)
    except OSError:
        return "video"  # what udev gives /dev/video* on every common distribution


@dataclass
class Host:
    """The OS facts the checks read. Tests replace each part with a fake."""

    root: Path = Path("/")
    system: str = field(default_factory=platform.system)
    run: Callable[[Sequence[str]], str | None] = _default_run
    can_write: Callable[[Path], bool] = lambda path: os.access(path, os.W_OK)
    groups: Callable[[], set[str]] = _default_groups  # the groups this user is in
    owner_group: Callable[[Path], str] = _default_owner_group  # the group a device file belongs to

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        return _read(self.path(absolute))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


# -- Python and packages -------------------------------------------------------------------

def _meets(version: str, specifier: SpecifierSet) -> bool:
    """Whether `version` is one `specifier` allows (PEP 440: "2.14.1+cu130" meets ">=2.2" and
    "==2.14.1"); a version that is not PEP 440 meets none but an empty specifier."""
    try:
        return specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return not specifier


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3]), requires: str | None = None) -> CheckResult:
    if requires is None:
        requires = _segcam_metadata("Requires-Python") or ">=3.10"
    shown = ".".join(map(str, version))
    if _meets(shown, SpecifierSet(requires)):
        return CheckResult("Python", True, f"{shown} (segcam needs {requires})")
    minimums = [spec.version for spec in SpecifierSet(requires) if spec.operator in (">=", "~=")]
    wanted = f"Python {minimums[0]} or newer" if len(minimums) == 1 and "<" not in requires else \
        f"a Python that segcam supports ({requires})"
    return CheckResult("Python", False, f"{shown}, but segcam needs {requires}",
                       f"install {wanted} and reinstall segcam in a virtual environment made with it")


def _segcam_metadata(key: str) -> str | None:
    try:
        return metadata.metadata("segcam")[key]
    except metadata.PackageNotFoundError:
        return None


def segcam_requirements() -> list[str]:
    """segcam's install requirements ("torch>=2.2", ...) for this machine: extras left out, and
    those whose marker is for another environment (`python_version < "3.11"`)."""
    try:
        requires = metadata.requires("segcam") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in requires if _applies(Requirement(r))]


def _applies(requirement: Requirement) -> bool:
    """Whether a requirement holds here: no marker, or one this environment meets with no extra."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_packages(requirements: list[str], version_of: Callable[[str], str | None] = installed_version,
                   frozen: bool = False) -> CheckResult:
    """Every requirement installed in a version its specifier allows (any PEP 508 requirement:
    "numpy>=1.24", "torch>=2.2,<3", "onnx==1.15.*", markers); one not for this environment is skipped.

    A packaged (frozen) app carries only what segcam imports, and pip cannot change it, so
    there a requirement it left out is shown but is not a failure.
    """
    if not requirements:
        return CheckResult("Packages", False, "segcam's package metadata is missing",
                           "reinstall segcam: pip install --force-reinstall segcam")
    shown, problems = [], []
    for requirement in requirements:
        parsed = Requirement(requirement)
        if not _applies(parsed):
            continue
        name = parsed.name
        found = version_of(name)
        if found is None:
            shown.append(f"{name} not bundled" if frozen else f"{name} missing")
            if not frozen:
                problems.append(requirement)
        elif not _meets(found, parsed.specifier):
            problems.append(requirement)
            shown.append(f"{name} {found} (needs {parsed.specifier})")
        else:
            shown.append(f"{name} {found}")
    detail = ", ".join(shown)
    if problems:
        quoted = " ".join(f'"{r}"' for r in problems)
        fix = "download the app again" if frozen else f"pip install --upgrade {quoted}"
        return CheckResult("Packages", False, detail, fix)
    return CheckResult("Packages", True, f"segcam {__version__}; " + detail)


# -- torch and the device ------------------------------------------------------------------

@dataclass
class TorchFacts:
    version: str | None  # None: torch did not import
    error: str = ""
    cuda_build: str | None = None  # the CUDA version torch was built for; None for a CPU build
    cuda_available: bool = False
    gpu_name: str = ""
    mps_available: bool = False
    device: str = "cpu"  # what segcam's device "auto" picks


def torch_facts() -> TorchFacts:
    try:
        import torch

        from segcam.segmenter import pick_device
        from segcam.system import cuda_available, mps_available
    except Exception as exc:  # a broken torch raises more than ImportError (OSError for a missing .so)
        return TorchFacts(version=None, error=f"{type(exc).__name__}: {exc}")
    cuda, mps = cuda_available(), mps_available()
    return TorchFacts(version=torch.__version__, cuda_build=torch.version.cuda, cuda_available=cuda,
                      gpu_name=torch.cuda.get_device_name(0) if cuda else "", mps_available=mps,
                      device=pick_device("auto"))


def has_nvidia_driver(host: Host) -> bool:
    # /proc tells on Linux at no cost; nvidia-smi comes with the driver on Linux and Windows
    return host.path("/proc/driver/nvidia/version").exists() or host.run(["nvidia-smi", "-L"]) is not None


def check_torch(facts: TorchFacts, nvidia_gpu: bool = False) -> CheckResult:
    if facts.version is None:
        return CheckResult("torch", False, f"does not import ({facts.error})",
                           'pip install --force-reinstall "torch>=2.2"')
    build = f"CUDA {facts.cuda_build} build" if facts.cuda_build else "CPU build"
    gpu = (f"CUDA GPU {facts.gpu_name}" if facts.cuda_available else
           "Apple MPS" if facts.mps_available else "no GPU usable")
    where = "ONNX Runtime on the CPU" if facts.device == "cpu" else facts.device
    detail = f"{facts.version} ({build}); {gpu}; segcam will use {where}"
    if nvidia_gpu and not facts.cuda_available:
        # the app works, but many times slower than it could: worth a ✘
        if facts.cuda_build:
            fix = ("this machine has an NVIDIA driver that this CUDA build cannot use: update the NVIDIA driver "
                   f"to one that supports CUDA {facts.cuda_build} (`nvidia-smi` shows the driver's CUDA version)")
        else:
            fix = ("this machine has an NVIDIA GPU: install a CUDA build of torch (pytorch.org's install "
                   "selector gives the pip command for your OS and driver)")
        return CheckResult("torch", False, detail, fix)
    if facts.cuda_build and not nvidia_gpu:
        # it works, on the CPU; but the CUDA libraries it brought are dead weight here
        return CheckResult("torch", True, detail, CPU_TORCH_TIP)
    return CheckResult("torch", True, detail)


# measured for the README: a venv with the default (CUDA) torch 6.0 GB, with the CPU build 1.5 GB.
# pip keeps an installed torch (and the NVIDIA libraries beside it), so the way is a new venv.
CPU_TORCH_TIP = ("without an NVIDIA GPU this CUDA build's libraries are of no use: the CPU build saves about "
                 "4.5 GB. pip keeps an installed torch, so make a new venv: delete this one and run "
                 "`sh packaging/install.sh` (it takes the CPU build where there is no NVIDIA driver), or in the new "
                 "venv run `pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu` "
                 "before installing segcam")


# -- cameras -------------------------------------------------------------------------------

def check_cameras(found: list[int], system: str, loopback_indices: Sequence[int] = ()) -> CheckResult:
    """Real cameras among the indices that open; a loopback device is segcam's output, not a camera."""
    cameras = [i for i in found if i not in set(loopback_indices)]
    if cameras:
        return CheckResult("Cameras", True, "found at " + ", ".join(f"--source {i}" for i in cameras))
    fixes = {
        "Linux": ("connect a webcam; if one is connected, check `ls -l /dev/video*`, that you are in the "
                  "video group (sudo usermod -aG video $USER, then log in again) and that no other app holds it"),
        "Windows": "connect a webcam, and allow desktop apps in Settings > Privacy & security > Camera",
        "Darwin": ("connect a webcam, and allow your terminal (or segcam) in System Settings > "
                   "Privacy & Security > Camera"),
    }
    fix = fixes.get(system, "connect a webcam")
    return CheckResult("Cameras", False, "none found (video files still work: --source FILE)", fix)


def camera_indices() -> list[int]:
    from segcam.capture import list_cameras

    return list_cameras()


# -- Linux: v4l2loopback -------------------------------------------------------------------

@dataclass(frozen=True)
class VideoDevice:
    index: int
    label: str
    loopback: bool

    @property
    def dev(self) -> str:
        return f"/dev/video{self.index}"


def video_devices(host: Host) -> list[VideoDevice]:
    """Every V4L2 device; loopback ones live under /sys/devices/virtual, real cameras under a bus."""
    devices = []
    for entry in sorted(host.path("/sys/class/video4linux").glob("video*")):
        number = entry.name[len("video"):]
        if not number.isdigit():
            continue
        loopback = host.path(f"/sys/devices/virtual/video4linux/{entry.name}").exists()
        devices.append(VideoDevice(int(number), _read(entry / "name") or "", loopback))
    return sorted(devices, key=lambda d: d.index)


def _distro(host: Host) -> set[str]:
    """The distribution's ID and ID_LIKE words from /etc/os-release."""
    words: set[str] = set()
    for line in (host.read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            words.update(value.strip().strip('"').split())
    return words


def install_command(host: Host) -> str | None:
    """The package install for the distributions setup-virtual-camera.sh knows; None for others."""
    distro = _distro(host)
    if distro & {"debian", "ubuntu"}:
        return "sudo apt install v4l2loopback-dkms v4l2loopback-utils linux-headers-$(uname -r)"
    if "fedora" in distro:  # RHEL and CentOS name fedora in ID_LIKE
        return "sudo dnf install akmod-v4l2loopback (from RPM Fusion free)"
    if "arch" in distro:
        return "sudo pacman -S v4l2loopback-dkms linux-headers"
    return None


def module_loaded(host: Host) -> bool:
    return host.path("/sys/module/v4l2loopback").is_dir()


def secure_boot(host: Host) -> bool | None:
    """True/False when known: mokutil's answer, else the EFI variable (4 attribute bytes, then 1 = on)."""
    answer = host.run(["mokutil", "--sb-state"])
    if answer and "enabled" in answer.lower():
        return True
    if answer and "disabled" in answer.lower():
        return False
    try:
        data = host.path(f"/sys/firmware/efi/efivars/{SECURE_BOOT_VAR}").read_bytes()
    except OSError:
        return None
    return len(data) >= 5 and data[4] == 1


def check_v4l2loopback(host: Host) -> CheckResult:
    if module_loaded(host):
        version = host.read("/sys/module/v4l2loopback/version") or "version not reported"
        return CheckResult("v4l2loopback", True, f"loaded ({version})")
    installed = host.run(["modinfo", "-F", "version", "v4l2loopback"])
    if installed is not None:
        return CheckResult("v4l2loopback", False, f"installed ({installed.strip() or 'no version'}) but not loaded",
                           f"{MODPROBE}; to load it at every boot, run {SETUP_SCRIPT}")
    install = install_command(host)
    if install is None:
        return CheckResult("v4l2loopback", False, "not installed",
                           f"install your distribution's v4l2loopback package, then {MODPROBE}")
    return CheckResult("v4l2loopback", False, "not installed",
                       f"{install}, then {MODPROBE} (or run {SETUP_SCRIPT}, which does both)")


def check_secure_boot(host: Host) -> CheckResult:
    state = secure_boot(host)
    if state is None:
        return CheckResult("Secure Boot", True, "not detected (no EFI, or no mokutil)")
    if not state:
        return CheckResult("Secure Boot", True, "off")
    if module_loaded(host):
        return CheckResult("Secure Boot", True, "on, and v4l2loopback is loaded (signed)")
    return CheckResult("Secure Boot", False,
                       "on: the kernel refuses unsigned modules such as a DKMS-built v4l2loopback",
                       "enroll the DKMS signing key (Debian/Ubuntu: sudo mokutil --import "
                       "/var/lib/dkms/mok.pub, then reboot and choose Enroll MOK), or turn Secure Boot off "
                       "in the firmware settings")


def _flag_on(value: str) -> bool:
    return value.strip().upper() in ("Y", "1", "TRUE")


def check_exclusive_caps(host: Host) -> CheckResult:
    """Chrome and Zoom list a loopback device only when it is created with exclusive_caps=1."""
    raw = host.read("/sys/module/v4l2loopback/parameters/exclusive_caps")
    if raw is None:
        return CheckResult("exclusive_caps", False, "not reported by this v4l2loopback (too old?)",
                           f"update v4l2loopback to 0.12 or newer, then {RELOAD}")
    loopbacks = [d for d in video_devices(host) if d.loopback]
    # the parameter has one entry per possible device; only the created ones matter
    values = raw.split(",")[: max(1, len(loopbacks))]
    if all(_flag_on(v) for v in values):
        return CheckResult("exclusive_caps", True, f"on ({raw})")
    return CheckResult("exclusive_caps", False, f"off ({raw}): Chrome, Zoom and Teams will not list the camera",
                       f"{RELOAD} (close every app using the camera first)")


def check_loopback_device(host: Host) -> CheckResult:
    loopbacks = [d for d in video_devices(host) if d.loopback]
    if not loopbacks:
        return CheckResult("Loopback device", False, "the module is loaded but made no /dev/video* device",
                           RELOAD)
    shown = ", ".join(f"{d.dev} ({d.label or 'no label'})" for d in loopbacks)
    return CheckResult("Loopback device", True, f"{shown}; segcam takes the first free one unless --vcam-device says")


def check_device_access(host: Host) -> CheckResult:
    loopbacks = [d for d in video_devices(host) if d.loopback]
    if not loopbacks:
        return CheckResult("Device access", False, "no loopback device to write to", RELOAD)
    blocked = [d for d in loopbacks if not host.can_write(host.path(d.dev))]
    if not blocked:
        return CheckResult("Device access", True, "can write " + ", ".join(d.dev for d in loopbacks))
    group = host.owner_group(host.path(blocked[0].dev))
    detail = f"cannot write {', '.join(d.dev for d in blocked)}"
    if group not in host.groups():
        return CheckResult("Device access", False, f"{detail}: you are not in the {group} group",
                           f"sudo usermod -aG {group} $USER, then log out and back in")
    return CheckResult("Device access", False, f"{detail} although you are in the {group} group",
                       f"sudo chmod g+rw {blocked[0].dev}, or reload the module: {RELOAD}")


def check_configured_device(host: Host, configured: str | None) -> CheckResult | None:
    """The saved --vcam-device must be a loopback device, not a camera or a stale number."""
    if not configured:
        return None
    loopbacks = [d.dev for d in video_devices(host) if d.loopback]
    if configured in loopbacks:
        return CheckResult("Configured device", True, f"{configured} is a loopback device")
    suggestion = f"--vcam-device {loopbacks[0]}" if loopbacks else "no --vcam-device (segcam finds the device)"
    return CheckResult("Configured device", False, f"settings send to {configured}, which is not a loopback device",
                       f"use {suggestion}")


def linux_checks(host: Host, configured_device: str | None = None) -> list[CheckResult]:
    results = [check_v4l2loopback(host), check_secure_boot(host)]
    if module_loaded(host):  # the rest only mean something once the module is in
        results += [check_exclusive_caps(host), check_loopback_device(host), check_device_access(host)]
        configured = check_configured_device(host, configured_device)
        if configured is not None:
            results.append(configured)
    return results


# -- Linux: the PipeWire camera (no kernel module; browsers only) ------------------------------

PORTAL_SERVICE = "/usr/share/dbus-1/services/org.freedesktop.portal.Desktop.service"


@dataclass(frozen=True)
class PipeWireFacts:
    socket: str  # where the daemon's socket is looked for
    answers: bool  # a daemon accepts connections there
    gst_launch: bool  # gst-launch-1.0 is on PATH
    pipewiresink: bool  # GStreamer's PipeWire plugin is installed


def pipewire_facts() -> PipeWireFacts:
    import shutil

    from segcam.vcam import system

    return PipeWireFacts(str(system.pipewire_socket()), system.pipewire_answers(),
                         shutil.which(system.GST_LAUNCH) is not None, system.gstreamer_element("pipewiresink"))


def pipewire_checks(host: Host, facts: PipeWireFacts) -> list[CheckResult]:
    """The PipeWire camera's daemon, GStreamer pieces and portal, with this distribution's install
    line; once all are there, each browser's switch as a tip. Where v4l2loopback is loaded segcam
    uses it, and this is one line."""
    from segcam.vcam import system

    if module_loaded(host):
        return [CheckResult("PipeWire camera", True, "not needed: v4l2loopback is loaded, and every app sees it")]
    install = system.install_line(host.read("/etc/os-release") or "")
    daemon = CheckResult("PipeWire", facts.answers, f"daemon answers at {facts.socket}" if facts.answers else
                         f"no daemon answers at {facts.socket}",
                         "" if facts.answers else "start it with `systemctl --user start pipewire wireplumber` "
                         "(desktops of the last few years run it), or use v4l2loopback")
    pieces = facts.gst_launch and facts.pipewiresink
    missing = [name for name, there in (("gst-launch-1.0", facts.gst_launch), ("pipewiresink", facts.pipewiresink))
               if not there]
    gstreamer = CheckResult("GStreamer", pieces, "gst-launch-1.0 and pipewiresink found" if pieces else
                            f"{' and '.join(missing)} missing", "" if pieces else install)
    portal_there = host.path(PORTAL_SERVICE).exists()
    portal = CheckResult("Desktop portal", portal_there, "xdg-desktop-portal installed" if portal_there else
                         "xdg-desktop-portal is not installed: browsers reach cameras through it",
                         "" if portal_there else install)
    results = [daemon, gstreamer, portal]
    if all(r.ok for r in results):
        results.append(CheckResult("Browsers", True, "see segcam's PipeWire camera once switched on (Zoom does not: "
                                   "it reads V4L2 only)", "; ".join(system.PIPEWIRE_SWITCHES[:2])))
    return results


# -- Windows and macOS: OBS Virtual Camera ---------------------------------------------------

def windows_capture_filters() -> list[str]:
    """Names of the DirectShow video sources registered on this Windows machine."""
    import winreg

    names = []
    with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, WINDOWS_CAMERA_CATEGORY) as instances:
        for i in itertools.count():
            try:
                key = winreg.EnumKey(instances, i)
            except OSError:
                break
            try:
                with winreg.OpenKey(instances, key) as entry:
                    names.append(winreg.QueryValueEx(entry, "FriendlyName")[0])
            except OSError:
                continue
    return names


def check_windows_virtual_camera(filters: list[str]) -> CheckResult:
    found = [name for name in WINDOWS_VIRTUAL_CAMERAS if name in filters]
    if found:
        return CheckResult("Virtual camera", True, ", ".join(found) + " registered")
    return CheckResult("Virtual camera", False, "neither OBS Virtual Camera nor Unity Capture is registered",
                       "install OBS Studio 26 or newer, open it once and click Start Virtual Camera, then "
                       "Stop Virtual Camera and close OBS (or install Unity Capture)")


def check_macos_virtual_camera(extensions_listing: str | None) -> CheckResult:
    """From `systemextensionsctl list`: OBS's camera extension must be activated and enabled."""
    lines = [line for line in (extensions_listing or "").splitlines() if MACOS_OBS_EXTENSION in line]
    if any("[activated enabled]" in line for line in lines):
        return CheckResult("Virtual camera", True,
                           "OBS camera extension activated (it takes 1280x720 only: keep the default --size)")
    if lines:
        return CheckResult("Virtual camera", False, "OBS camera extension installed but not activated",
                           "allow it in System Settings > General > Login Items & Extensions > Camera "
                           "Extensions, then click Start Virtual Camera in OBS once")
    return CheckResult("Virtual camera", False, "OBS camera extension not installed",
                       "install OBS Studio 30 or newer into /Applications, click Start Virtual Camera once "
                       "and allow the extension when macOS asks")


def virtual_camera_checks(host: Host, configured_device: str | None = None) -> list[CheckResult]:
    if host.system == "Linux":
        return linux_checks(host, configured_device)
    if host.system == "Windows":
        try:
            filters = windows_capture_filters()
        except OSError:
            filters = []
        return [check_windows_virtual_camera(filters)]
    if host.system == "Darwin":
        return [check_macos_virtual_camera(host.run(["systemextensionsctl", "list"]))]
    return [CheckResult("Virtual camera", False, f"no virtual camera driver for {host.system}",
                        "use --output FILE.mp4 to process video files")]


# -- the virtual camera's advice: one source for doctor, the command line and the app --------

# the checks whose failure keeps the virtual camera from starting at all (exclusive_caps off
# still starts it: meeting apps just do not list it)
_BLOCKING = ("v4l2loopback", "Loopback device", "Device access", "Virtual camera")


def virtual_camera_problem(host: Host | None = None) -> CheckResult | None:
    """The first failed check that keeps the virtual camera from starting on this machine, with
    doctor's fix for it; None when nothing does. Runs commands (modinfo, mokutil): call it off
    a GUI thread."""
    try:
        checks = virtual_camera_checks(host or Host())
    except Exception:  # noqa: BLE001 - a check that cannot run still leaves the plain advice
        return CheckResult("Virtual camera", False, "could not be checked", _plain_fix((host or Host()).system))
    return next((check for check in checks if not check.ok and check.fix and check.name in _BLOCKING), None)


def _plain_fix(system: str) -> str:
    if system == "Linux":
        return f"install your distribution's v4l2loopback package, then {MODPROBE}"
    if system in ("Windows", "Darwin"):
        return "install OBS Studio and click its Start Virtual Camera button once"
    return "use --output FILE.mp4 to process video files"


def no_virtual_camera(reason: str = "", problem: CheckResult | None = None, host: Host | None = None) -> str:
    """The one sentence the command line and the app say when the virtual camera cannot start:
    what is missing on this machine and the fix `segcam doctor` gives for it (`problem`, or
    found now); pyvirtualcam's own words (`reason`) when doctor finds nothing missing."""
    problem = problem or virtual_camera_problem(host)
    if problem is None:
        said = f" (pyvirtualcam: {reason})" if reason else ""
        return f"The virtual camera did not start, although segcam doctor finds its driver ready{said}."
    return f"No virtual camera ({problem.name}: {problem.detail}): {problem.fix}."


# -- model weights -------------------------------------------------------------------------

def check_weights() -> list[CheckResult]:
    """The weights of each model segcam offers by default: there, and matching their pins.

    The fast models `auto` falls back to must be there; a missing optional one (RVM) is
    reported as such, not as a failure.
    """
    from segcam.models import registry

    results = []
    for spec in registry.specs():
        if not spec.default_download:
            continue
        needed = spec.name in registry.FALLBACK_MODELS
        for label, path, state in spec.weights.files():
            name = f"Model {label}"
            if state == "ok":
                results.append(CheckResult(name, True, f"{path} ({path.stat().st_size // 1024} KiB), sha256 matches"))
            elif state == "damaged":
                results.append(CheckResult(name, False, f"{path} has the wrong sha256 (damaged or replaced)",
                                           f"segcam models download {spec.name} (it replaces the file), or "
                                           "segcam models import FILE"))
            elif needed:
                results.append(CheckResult(name, False, f"not in {path.parent}",
                                           spec.weights.how_to_get("install it").split(": ", 1)[1]))
            else:
                results.append(CheckResult(name, True, f"not installed (optional, for {spec.name}: "
                                           f"`segcam models download {spec.name}`)"))
    return results


def check_auto_model(width: int = 1280, height: int = 720) -> CheckResult:
    """Which model `--model auto` runs for a 720p camera at 30 fps here, and why (measured once)."""
    from segcam import model_choice
    from segcam.errors import SegcamError
    from segcam.processor import time_model
    from segcam.settings import Settings

    try:
        choice = model_choice.choose(width, height, Settings(), model_choice.kept(time_model))
    except SegcamError as exc:  # a model that is installed but cannot run: its own check says more
        return CheckResult("Model (auto)", False, str(exc), "segcam models download --force")
    return CheckResult("Model (auto)", True, f"at {width}x{height}, 30 fps: {choice.reason.removeprefix('auto: ')}")


def check_caches() -> CheckResult:
    """The files segcam derives from the weights (converted .pt, ONNX exports, torchvision's)."""
    from segcam.models import install, weights

    statuses = [cache.check() for cache in install.all_derived()]
    damaged = [s for s in statuses if s.state == "damaged"]
    if damaged:
        shown = "; ".join(f"{s.path.relative_to(weights.models_dir())}: {s.detail}" for s in damaged)
        return CheckResult("Model caches", False, f"{len(damaged)} of {len(statuses)} do not verify ({shown})",
                           "segcam models download --force (it deletes them and makes them again); segcam "
                           "also makes a damaged one again by itself when it next needs it")
    if not statuses:
        return CheckResult("Model caches", True, "none yet (made from the weights on first use)")
    return CheckResult("Model caches", True, f"{len(statuses)} in {weights.models_dir()}, each matches the "
                       "sha256 recorded when it was made")


# -- Qt ------------------------------------------------------------------------------------

def qt_probe_command() -> list[str]:
    """The child process that tries Qt: a broken platform plugin aborts the process, and this one
    never imports Qt itself (only segcam.ui does). It runs segcam.ui.probe; in a frozen app, where
    there is no `python -m`, through `segcam doctor --qt-probe`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "doctor", "--qt-probe"]
    return [sys.executable, "-m", "segcam.ui.probe"]


def probe_qt(command: Sequence[str] | None = None) -> tuple[bool, str]:
    """(loaded, platform name or the error's last lines)."""
    try:
        done = subprocess.run(list(command or qt_probe_command()), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode == 0 and done.stdout.strip():
        return True, done.stdout.strip().splitlines()[-1]
    lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    if not lines:
        return False, f"exit code {done.returncode}"
    # a Python error ends with its message; Qt's own complaint leads and the rest is boilerplate
    return False, lines[-1] if lines[0].startswith("Traceback") else lines[0]


def check_qt(loaded: bool, output: str, system: str, display: bool = True) -> CheckResult:
    if loaded:
        return CheckResult("Qt", True, f"platform plugin {output!r} loads")
    if "No module named" in output:
        return CheckResult("Qt", False, "PySide6 is not installed", 'pip install "PySide6-Essentials>=6.6"')
    libraries = ("install Qt's system libraries (Debian/Ubuntu: sudo apt install libxcb-cursor0 libxkbcommon-x11-0 "
                 "libegl1 libgl1; Fedora: sudo dnf install xcb-util-cursor libxkbcommon-x11)")
    if system == "Linux" and not display:
        # without a session nothing loads anyway, but a missing library Qt names still needs installing
        first = f"{libraries}, and " if "xcb-cursor" in output else ""
        return CheckResult("Qt", False, "no desktop session (DISPLAY and WAYLAND_DISPLAY are unset), so the "
                           f"app's window cannot open: {output}",
                           f"{first}start segcam from a desktop session, or set QT_QPA_PLATFORM=offscreen for "
                           "headless tests; `segcam run` needs no window")
    if system == "Linux":
        fix = f"{libraries}, or try QT_QPA_PLATFORM=wayland; the command line works without Qt"
    else:
        fix = 'reinstall PySide6: pip install --force-reinstall "PySide6-Essentials>=6.6"'
    return CheckResult("Qt", False, f"the platform plugin does not load: {output}", fix)


# -- all of it -----------------------------------------------------------------------------

def configured_vcam_device() -> str | None:
    from segcam import settings

    return settings.load()[0].output.vcam_device


def run_checks(host: Host | None = None) -> list[CheckResult]:
    host = host or Host()
    results = [check_python(), check_packages(segcam_requirements(), frozen=getattr(sys, "frozen", False))]
    results.append(check_torch(torch_facts(), nvidia_gpu=has_nvidia_driver(host)))
    loopbacks = [d.index for d in video_devices(host) if d.loopback] if host.system == "Linux" else []
    results.append(check_cameras(camera_indices(), host.system, loopbacks))
    results += virtual_camera_checks(host, configured_vcam_device())
    if host.system == "Linux":  # the other way to a camera, where v4l2loopback is not loaded
        results += pipewire_checks(host, pipewire_facts())
    results += check_weights()
    results.append(check_caches())
    results.append(check_auto_model())
    results.append(check_qt(*probe_qt(), host.system, has_display()))  # display matters on Linux only
    return results


def format_text(results: list[CheckResult], marks: tuple[str, str] = ("✔", "✘")) -> str:
    good, bad = marks
    width = min(max((len(r.name) for r in results), default=0), 16)  # long names just push their line
    lines = [f"segcam doctor: segcam {__version__}, {platform.system()} {platform.release()} ({platform.machine()})"]
    for r in results:
        lines.append(f"{good if r.ok else bad} {r.name:<{width}}  {r.detail}")
        if r.fix:
            lines.append(f"  {' ' * width}  {'tip' if r.ok else 'fix'}: {r.fix}")
    failed = sum(not r.ok for r in results)
    lines.append("All checks passed." if not failed else f"{failed} of {len(results)} checks failed.")
    return "\n".join(lines)


def format_json(results: list[CheckResult]) -> str:
    report = {
        "segcam": __version__,
        "python": platform.python_version(),
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "frozen": bool(getattr(sys, "frozen", False)),
        "ok": all(r.ok for r in results),
        "checks": [dataclasses.asdict(r) for r in results],
    }
    return json.dumps(report, indent=2)


def marks_for(stream) -> tuple[str, str]:
    """✔/✘ where the terminal can show them, else plain words (an old Windows console)."""
    try:
        "✔✘".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ("OK  ", "FAIL")
    return ("✔", "✘")
