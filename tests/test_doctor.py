"""`segcam doctor`: each check against a fake machine (a fake /sys, /dev and /etc under a
temporary root, canned command output), plus the real report on this machine."""

import io
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from segcam import cli, doctor, system
from segcam.doctor import CheckResult, Host, TorchFacts

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
SECURE_BOOT_ON = bytes([6, 0, 0, 0, 1])  # EFI variable: 4 attribute bytes, then the value
SECURE_BOOT_OFF = bytes([6, 0, 0, 0, 0])


class FakeMachine:
    """A Linux machine's /sys, /dev and /etc under a temporary root, built up per test."""

    def __init__(self, root: Path):
        self.root = root
        self.commands: dict[tuple[str, ...], str] = {}
        self.writable: set[str] = set()
        self.user_groups = {"users"}
        self.device_group = "video"
        self.write("/etc/os-release", UBUNTU)

    def write(self, absolute: str, text: str | bytes) -> None:
        path = self.root / absolute.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    def load_module(self, exclusive_caps: str = "Y,N,N,N,N,N,N,N", version: str | None = "0.13.2") -> None:
        (self.root / "sys/module/v4l2loopback/parameters").mkdir(parents=True, exist_ok=True)
        if exclusive_caps is not None:
            self.write("/sys/module/v4l2loopback/parameters/exclusive_caps", exclusive_caps + "\n")
        if version is not None:
            self.write("/sys/module/v4l2loopback/version", version + "\n")

    def add_video(self, index: int, label: str, loopback: bool) -> None:
        self.write(f"/sys/class/video4linux/video{index}/name", label + "\n")
        if loopback:
            (self.root / f"sys/devices/virtual/video4linux/video{index}").mkdir(parents=True)
        else:
            (self.root / f"sys/devices/pci0000:00/0000:00:14.0/usb1/video4linux/video{index}").mkdir(parents=True)
        self.write(f"/dev/video{index}", "")

    def host(self) -> Host:
        return Host(
            root=self.root,
            system="Linux",
            run=lambda argv: self.commands.get(tuple(argv)),
            can_write=lambda path: str(path.relative_to(self.root)) in self.writable,
            groups=lambda: self.user_groups,
            owner_group=lambda path: self.device_group,
        )


@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path / "root")


def names(results):
    return [r.name for r in results]


# -- v4l2loopback ----------------------------------------------------------------------------

@pytest.mark.parametrize("os_release, package_command", [
    (UBUNTU, "sudo apt install v4l2loopback-dkms"),
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "sudo apt install v4l2loopback-dkms"),
    ("ID=fedora\n", "sudo dnf install akmod-v4l2loopback"),
    ("ID=manjaro\nID_LIKE=arch\n", "sudo pacman -S v4l2loopback-dkms"),
    ("ID=gentoo\n", "install your distribution's v4l2loopback package"),
])
def test_missing_module_gets_this_distros_install_command(machine, os_release, package_command):
    machine.write("/etc/os-release", os_release)
    result = doctor.check_v4l2loopback(machine.host())
    assert not result.ok
    assert result.detail == "not installed"
    assert result.fix.startswith(package_command)
    assert "exclusive_caps=1" in result.fix
    # the setup script knows the same distributions doctor does
    assert (doctor.SETUP_SCRIPT in result.fix) == ("gentoo" not in os_release)


def test_installed_but_unloaded_module_gets_modprobe(machine):
    machine.commands[("modinfo", "-F", "version", "v4l2loopback")] = "0.12.7\n"
    result = doctor.check_v4l2loopback(machine.host())
    assert not result.ok
    assert result.detail == "installed (0.12.7) but not loaded"
    assert result.fix.startswith(doctor.MODPROBE)


def test_no_virtual_camera_says_what_is_missing_with_doctors_fix(machine):
    """The sentence the command line and the app show (issue 16): the module not installed is
    installed first, and loaded with the options that make /dev/video10 as the README says."""
    reason = "No v4l2 loopback device found at /dev/video[0-99]."
    sentence = doctor.no_virtual_camera(reason, host=machine.host())
    assert sentence.startswith("No virtual camera (v4l2loopback: not installed): sudo apt install v4l2loopback-dkms")
    assert f"then {doctor.MODPROBE}" in sentence and "devices=1 video_nr=10" in doctor.MODPROBE
    assert "pyvirtualcam" not in sentence  # doctor knows better than pyvirtualcam here

    machine.commands[("modinfo", "-F", "version", "v4l2loopback")] = "0.12.7\n"
    assert doctor.no_virtual_camera(reason, host=machine.host()) == \
        f"No virtual camera (v4l2loopback: installed (0.12.7) but not loaded): {doctor.MODPROBE}; to load it at " \
        f"every boot, run {doctor.SETUP_SCRIPT}."

    machine.load_module(exclusive_caps="N")  # meeting apps would not list it, but it starts
    machine.add_video(10, "segcam", loopback=True)
    machine.writable.add("dev/video10")
    assert doctor.virtual_camera_problem(machine.host()) is None
    assert doctor.no_virtual_camera("device busy", host=machine.host()) == \
        "The virtual camera did not start, although segcam doctor finds its driver ready (pyvirtualcam: device busy)."
    machine.writable.clear()
    assert doctor.virtual_camera_problem(machine.host()).name == "Device access"


@pytest.mark.parametrize("system, listing, fix", [
    ("Darwin", "", "install OBS Studio 30 or newer"),
    ("Windows", None, "OBS Studio"),  # off Windows the registry cannot be read: the plain advice
    ("Plan 9", None, "use --output FILE.mp4"),
])
def test_no_virtual_camera_elsewhere(system, listing, fix):
    host = Host(system=system, run=lambda argv: listing)
    assert fix in doctor.no_virtual_camera("no camera", host=host)


def test_loaded_module_reports_its_version(machine):
    machine.load_module(version="0.13.2")
    assert doctor.check_v4l2loopback(machine.host()) == CheckResult("v4l2loopback", True, "loaded (0.13.2)")
    (machine.root / "sys/module/v4l2loopback/version").unlink()
    assert doctor.check_v4l2loopback(machine.host()).detail == "loaded (version not reported)"


def test_without_the_module_the_device_checks_are_left_out(machine):
    machine.add_video(0, "Integrated Camera", loopback=False)
    results = doctor.linux_checks(machine.host(), configured_device="/dev/video10")
    assert names(results) == ["v4l2loopback", "Secure Boot"]


def test_a_working_setup_passes_every_linux_check(machine):
    machine.load_module()
    machine.add_video(0, "Integrated Camera", loopback=False)
    machine.add_video(10, "segcam", loopback=True)
    machine.writable.add("dev/video10")
    results = doctor.linux_checks(machine.host(), configured_device="/dev/video10")
    assert names(results) == ["v4l2loopback", "Secure Boot", "exclusive_caps", "Loopback device",
                              "Device access", "Configured device"]
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_loopback_devices_are_told_from_real_cameras(machine):
    machine.add_video(0, "Integrated Camera", loopback=False)
    machine.add_video(2, "Integrated Camera", loopback=False)
    machine.add_video(10, "segcam", loopback=True)
    devices = doctor.video_devices(machine.host())
    assert [(d.dev, d.label, d.loopback) for d in devices] == [
        ("/dev/video0", "Integrated Camera", False),
        ("/dev/video2", "Integrated Camera", False),
        ("/dev/video10", "segcam", True),
    ]
    result = doctor.check_loopback_device(machine.host())
    assert result.ok and result.detail.startswith("/dev/video10 (segcam);")
    assert "/dev/video0" not in result.detail


def test_module_without_devices_fails(machine):
    machine.load_module()
    machine.add_video(0, "Integrated Camera", loopback=False)
    result = doctor.check_loopback_device(machine.host())
    assert not result.ok and result.fix == doctor.RELOAD


@pytest.mark.parametrize("raw, devices, ok", [
    ("Y,N,N,N,N,N,N,N", 1, True),  # only the created device's entry counts
    ("1", 1, True),
    ("N,N,N,N,N,N,N,N", 1, False),
    ("0", 1, False),
    ("Y,N,N,N,N,N,N,N", 2, False),  # the second device lacks it
    ("Y,Y,N,N,N,N,N,N", 2, True),
])
def test_exclusive_caps_per_created_device(machine, raw, devices, ok):
    machine.load_module(exclusive_caps=raw)
    for i in range(devices):
        machine.add_video(10 + i, f"segcam {i}", loopback=True)
    result = doctor.check_exclusive_caps(machine.host())
    assert result.ok is ok
    if not ok:
        assert "Chrome, Zoom and Teams will not list" in result.detail
        assert result.fix.startswith(doctor.RELOAD)
        assert "exclusive_caps=1" in result.fix


def test_exclusive_caps_missing_from_an_old_module(machine):
    machine.load_module(exclusive_caps=None)
    result = doctor.check_exclusive_caps(machine.host())
    assert not result.ok and "0.12 or newer" in result.fix


def test_unwritable_device_when_not_in_its_group(machine):
    machine.load_module()
    machine.add_video(10, "segcam", loopback=True)
    result = doctor.check_device_access(machine.host())
    assert not result.ok
    assert result.detail == "cannot write /dev/video10: you are not in the video group"
    assert result.fix == "sudo usermod -aG video $USER, then log out and back in"


def test_unwritable_device_despite_the_group(machine):
    machine.load_module()
    machine.add_video(10, "segcam", loopback=True)
    machine.user_groups = {"users", "video"}
    result = doctor.check_device_access(machine.host())
    assert not result.ok and result.fix.startswith("sudo chmod g+rw /dev/video10")


def test_writable_device(machine):
    machine.load_module()
    machine.add_video(10, "segcam", loopback=True)
    machine.writable.add("dev/video10")
    assert doctor.check_device_access(machine.host()) == CheckResult("Device access", True, "can write /dev/video10")


def test_configured_device_must_be_a_loopback_device(machine):
    machine.load_module()
    machine.add_video(0, "Integrated Camera", loopback=False)
    machine.add_video(10, "segcam", loopback=True)
    host = machine.host()
    wrong = doctor.check_configured_device(host, "/dev/video0")
    assert not wrong.ok and wrong.fix == "use --vcam-device /dev/video10"
    assert doctor.check_configured_device(host, "/dev/video10").ok
    assert doctor.check_configured_device(host, None) is None


# -- Secure Boot -------------------------------------------------------------------------------

def test_secure_boot_from_mokutil_blocks_an_unloaded_module(machine):
    machine.commands[("mokutil", "--sb-state")] = "SecureBoot enabled\n"
    result = doctor.check_secure_boot(machine.host())
    assert not result.ok
    assert "refuses unsigned modules" in result.detail
    assert "mokutil --import" in result.fix and "Secure Boot off" in result.fix


def test_secure_boot_read_from_the_efi_variable(machine):
    var = f"/sys/firmware/efi/efivars/{doctor.SECURE_BOOT_VAR}"
    assert doctor.secure_boot(machine.host()) is None
    machine.write(var, SECURE_BOOT_OFF)
    assert doctor.secure_boot(machine.host()) is False
    machine.write(var, SECURE_BOOT_ON)
    assert doctor.secure_boot(machine.host()) is True
    # mokutil's answer wins over the variable
    machine.commands[("mokutil", "--sb-state")] = "SecureBoot disabled\n"
    assert doctor.secure_boot(machine.host()) is False


def test_secure_boot_with_a_loaded_module_is_fine(machine):
    machine.write(f"/sys/firmware/efi/efivars/{doctor.SECURE_BOOT_VAR}", SECURE_BOOT_ON)
    machine.load_module()
    assert doctor.check_secure_boot(machine.host()).ok
    assert doctor.check_secure_boot(FakeMachine(machine.root.parent / "bare").host()).detail.startswith("not detected")


# -- Windows and macOS -------------------------------------------------------------------------

def test_windows_virtual_camera_from_registered_filters():
    assert doctor.check_windows_virtual_camera(["Integrated Webcam", "OBS Virtual Camera"]).ok
    assert doctor.check_windows_virtual_camera(["Unity Video Capture"]).ok
    missing = doctor.check_windows_virtual_camera(["Integrated Webcam"])
    assert not missing.ok and "Start Virtual Camera" in missing.fix


MACOS_LISTING = """1 extension(s)
--- com.apple.system_extension.cmio
enabled\tactive\tteamID\tbundleID (version)\tname\t[state]
*\t*\t2MMRE5MTB8\tcom.obsproject.obs-studio.mac-camera-extension (30.2.0/30.2.0)\tOBS Virtual Camera\t[{state}]
"""


def test_macos_obs_extension_states():
    assert doctor.check_macos_virtual_camera(MACOS_LISTING.format(state="activated enabled")).ok
    waiting = doctor.check_macos_virtual_camera(MACOS_LISTING.format(state="activated waiting for user"))
    assert not waiting.ok and "Camera Extensions" in waiting.fix
    absent = doctor.check_macos_virtual_camera("0 extension(s)\n")
    assert not absent.ok and "OBS Studio 30" in absent.fix
    assert doctor.check_macos_virtual_camera(None).detail == absent.detail


def test_macos_host_reads_systemextensionsctl(machine):
    host = machine.host()
    host.system = "Darwin"
    machine.commands[("systemextensionsctl", "list")] = MACOS_LISTING.format(state="activated enabled")
    assert [r.ok for r in doctor.virtual_camera_checks(host)] == [True]


def test_unknown_os_has_no_virtual_camera(machine):
    host = machine.host()
    host.system = "FreeBSD"
    [result] = doctor.virtual_camera_checks(host)
    assert not result.ok and "--output FILE.mp4" in result.fix


# -- Python, packages, torch, cameras -----------------------------------------------------------

def test_python_version():
    assert doctor.check_python((3, 11, 7), ">=3.10").ok
    old = doctor.check_python((3, 9, 18), ">=3.10")
    assert not old.ok and old.fix.startswith("install Python 3.10 or newer")


def test_packages_against_their_pins():
    versions = {"torch": "2.14.1+cu130", "numpy": "1.23.5"}
    result = doctor.check_packages(["torch>=2.2", "numpy>=1.24", "tqdm>=4.60"], versions.get)
    assert not result.ok
    assert result.detail == "torch 2.14.1+cu130, numpy 1.23.5 (needs >=1.24), tqdm missing"
    assert result.fix == 'pip install --upgrade "numpy>=1.24" "tqdm>=4.60"'
    assert doctor.check_packages(["torch>=2.2"], versions.get).ok
    assert doctor.check_packages(["torch >= 2.2, <3", "numpy"], versions.get).ok


def test_pins_of_every_kind_are_read_as_pip_reads_them():
    versions = {"a": "1.4.2", "b": "2.0", "c": "3.1+cu130", "d": "0.9"}

    def meets(requirement):
        return doctor.check_packages([requirement], versions.get).ok

    assert meets("a==1.4.2") and meets("a==1.4.*") and not meets("a==1.4.3") and not meets("a!=1.4.2")
    assert meets("a~=1.4") and meets("a~=1.4.0") and not meets("a~=1.3.0") and not meets("a~=1.5")
    assert meets("b<3") and meets("b<=2.0") and not meets("b<2") and not meets("b>2.0")
    assert meets("a>=1.2,<2") and not meets("a>=1.2,<1.4") and not meets("a >= 1.0, != 1.4.2")
    assert meets("c==3.1") and meets("c>=3.1") and not meets("c<3.1")  # the local "+cu130" set aside
    failed = doctor.check_packages(["a>=1.2,<1.4"], versions.get)
    assert failed.detail == "a 1.4.2 (needs <1.4,>=1.2)" and failed.fix == 'pip install --upgrade "a>=1.2,<1.4"'
    # a marker for another environment, or an extra, asks nothing of this one
    assert meets('d>=5; python_version < "3"') and meets('d>=5; extra == "dev"')
    assert not meets('d>=5; python_version >= "3"')
    assert not doctor.check_python((3, 14, 0), ">=3.10,<3.14").ok
    assert doctor.check_python((3, 13, 1), ">=3.10,<3.14").ok


def test_a_packaged_app_may_leave_packages_out():
    versions = {"torch": "2.13.0+cpu", "numpy": "1.23.5"}
    bundled = doctor.check_packages(["torch>=2.2", "torchvision>=0.17"], versions.get, frozen=True)
    assert bundled.ok and bundled.detail.endswith("torch 2.13.0+cpu, torchvision not bundled")
    too_old = doctor.check_packages(["numpy>=1.24"], versions.get, frozen=True)
    assert not too_old.ok and too_old.fix == "download the app again"


def test_this_install_meets_its_own_requirements():
    requirements = doctor.segcam_requirements()
    assert "torch>=2.2" in requirements
    assert not any("extra" in r for r in requirements)
    assert doctor.check_packages(requirements).ok


def test_torch_that_does_not_import():
    result = doctor.check_torch(TorchFacts(version=None, error="OSError: libcudart.so.13: cannot open"))
    assert not result.ok and "libcudart" in result.detail


def test_cpu_torch_on_a_machine_with_an_nvidia_gpu():
    facts = TorchFacts(version="2.13.0+cpu", cuda_build=None)
    assert doctor.check_torch(facts, nvidia_gpu=False).ok
    result = doctor.check_torch(facts, nvidia_gpu=True)
    assert not result.ok and "install a CUDA build of torch" in result.fix


def test_cuda_torch_with_a_driver_too_old():
    facts = TorchFacts(version="2.14.1+cu130", cuda_build="13.0")
    result = doctor.check_torch(facts, nvidia_gpu=True)
    assert not result.ok and "supports CUDA 13.0" in result.fix


def test_cuda_torch_on_a_machine_without_an_nvidia_gpu_says_what_the_cpu_build_saves():
    # issue 16: "✔ torch 2.14.1+cu130 (CUDA 13.0 build); no GPU usable" and nothing more, in a 6.1 GB venv
    facts = TorchFacts(version="2.14.1+cu130", cuda_build="13.0")
    result = doctor.check_torch(facts, nvidia_gpu=False)
    assert result.ok and result.detail == "2.14.1+cu130 (CUDA 13.0 build); no GPU usable; segcam will use ONNX " \
        "Runtime on the CPU"
    assert "the CPU build saves about 4.5 GB" in result.fix
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in result.fix
    assert "packaging/install.sh" in result.fix
    text = doctor.format_text([result])
    assert f"tip: {result.fix}" in text and "All checks passed." in text
    assert not doctor.check_torch(TorchFacts(version="2.13.0+cpu"), nvidia_gpu=False).fix  # nothing to save


def test_cuda_gpu_in_use():
    facts = TorchFacts(version="2.14.1+cu130", cuda_build="13.0", cuda_available=True,
                       gpu_name="NVIDIA RTX 4070", device="cuda")
    result = doctor.check_torch(facts, nvidia_gpu=True)
    assert result.ok and result.detail.endswith("CUDA GPU NVIDIA RTX 4070; segcam will use cuda")


def test_torch_facts_of_this_machine(machine):
    facts = doctor.torch_facts()
    assert facts.version == torch.__version__
    assert facts.cuda_available == torch.cuda.is_available()
    assert facts.device in ("cpu", "cuda", "mps")
    assert doctor.has_nvidia_driver(machine.host()) is False
    machine.commands[("nvidia-smi", "-L")] = "GPU 0: NVIDIA GeForce RTX 4070 (UUID: GPU-1)\n"
    assert doctor.has_nvidia_driver(machine.host()) is True
    del machine.commands[("nvidia-smi", "-L")]
    machine.write("/proc/driver/nvidia/version", "NVRM version: 580.95\n")
    assert doctor.has_nvidia_driver(machine.host()) is True


def test_cameras_leave_out_loopback_devices():
    result = doctor.check_cameras([0, 10], "Linux", loopback_indices=[10])
    assert result == CheckResult("Cameras", True, "found at --source 0")


@pytest.mark.parametrize("system, advice", [
    ("Linux", "usermod -aG video"),
    ("Windows", "Privacy & security > Camera"),
    ("Darwin", "Privacy & Security > Camera"),
])
def test_no_camera_advice_per_os(system, advice):
    result = doctor.check_cameras([10], system, loopback_indices=[10])
    assert not result.ok and advice in result.fix


# -- weights ---------------------------------------------------------------------------------

MEDIAPIPE = [f"Model {name}" for name in ("selfie_segmentation_landscape.tflite", "selfie_segmentation.tflite")]


def test_weights_absent():
    results = doctor.check_weights()
    assert names(results) == MEDIAPIPE + ["Model rvm/model.json", "Model rvm/group1-shard1of1.bin"]
    mediapipe, rvm = results[:2], results[2:]
    assert not any(r.ok for r in mediapipe)  # what `auto` falls back to must be there
    assert all("segcam models download" in r.fix and "segcam models import" in r.fix for r in mediapipe)
    assert all(r.ok and "optional" in r.detail and "segcam models download rvm" in r.detail for r in rvm)


def test_weights_present_and_damaged(models_installed, tmp_path, monkeypatch):
    assert all(r.ok and r.detail.endswith("sha256 matches") for r in doctor.check_weights()
               if r.name in MEDIAPIPE)
    copy = tmp_path / "data"
    shutil.copytree(models_installed, copy)
    with open(copy / "models" / "selfie_segmentation.tflite", "r+b") as f:
        f.seek(1000)
        f.write(b"\0\0\0\0")
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(copy))
    landscape, general = doctor.check_weights()[:2]
    assert not general.ok and "wrong sha256" in general.detail
    assert landscape.ok


def test_caches_none_yet():
    result = doctor.check_caches()
    assert result.ok and "none yet" in result.detail


def test_damaged_cache_is_reported_with_the_fix(own_models, capsys):
    from segcam.segmenter import Segmenter, _onnx_cache_path

    Segmenter("mediapipe-landscape", "cpu", runtime="onnxruntime")
    assert doctor.check_caches().ok
    onnx = _onnx_cache_path("mediapipe-landscape")
    onnx.write_bytes(onnx.read_bytes()[:1000])

    result = doctor.check_caches()
    assert not result.ok and f"onnx/{onnx.name}: its sha256 differs" in result.detail
    assert result.fix.startswith("segcam models download --force")
    assert cli.main(["models", "download", "--force"]) == 0  # the fix works
    assert doctor.check_caches().ok


def test_an_unrecorded_cache_that_does_not_load_is_damaged(own_models):
    from segcam.models import derived, weights

    pt = weights.models_dir() / "selfie_segmentation.pt"
    derived.record_path(pt).unlink()  # as an older segcam left it
    pt.write_bytes(pt.read_bytes()[:500])
    result = doctor.check_caches()
    assert not result.ok and "selfie_segmentation.pt: it does not load" in result.detail


# -- Qt --------------------------------------------------------------------------------------

def test_qt_probe_loads_offscreen(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert doctor.probe_qt() == (True, "offscreen")


def test_qt_probe_reports_qts_own_complaint():
    crash = ("import sys; sys.stderr.write('qt.qpa.plugin: Could not load the Qt platform plugin \"xcb\"\\n"
             "This application failed to start\\n'); sys.exit(134)")
    loaded, output = doctor.probe_qt([sys.executable, "-c", crash])
    assert not loaded and output == 'qt.qpa.plugin: Could not load the Qt platform plugin "xcb"'
    missing = doctor.probe_qt([sys.executable, "-c", "import PySide6_not_here"])
    assert missing == (False, "ModuleNotFoundError: No module named 'PySide6_not_here'")


def test_qt_failures_get_fixes():
    assert "pip install" in doctor.check_qt(False, "ModuleNotFoundError: No module named 'PySide6'", "Linux").fix
    headless = doctor.check_qt(False, "could not load xcb", "Linux", display=False)
    assert "no desktop session" in headless.detail and "QT_QPA_PLATFORM=offscreen" in headless.fix
    assert "libxcb-cursor0" not in headless.fix
    cursor = "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin."
    assert "sudo apt install libxcb-cursor0" in doctor.check_qt(False, cursor, "Linux", display=False).fix
    libraries = doctor.check_qt(False, "could not load xcb", "Linux", display=True)
    assert "libxcb-cursor0" in libraries.fix and "QT_QPA_PLATFORM=wayland" in libraries.fix
    assert system.has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") and not system.has_display({}, "linux")


# -- the report ------------------------------------------------------------------------------

RESULTS = [
    CheckResult("Python", True, "3.11.7"),
    CheckResult("v4l2loopback", False, "not installed", "sudo apt install v4l2loopback-dkms"),
]


def test_text_report_marks_and_fixes():
    lines = doctor.format_text(RESULTS).splitlines()
    assert lines[1].startswith("✔ Python ") and lines[1].endswith("3.11.7")
    assert lines[2].startswith("✘ v4l2loopback ") and lines[2].endswith("not installed")
    assert lines[3].strip() == "fix: sudo apt install v4l2loopback-dkms"
    assert lines[-1] == "1 of 2 checks failed."


def test_marks_fall_back_for_consoles_without_them():
    assert doctor.marks_for(io.TextIOWrapper(io.BytesIO(), encoding="cp1252")) == ("OK  ", "FAIL")
    assert doctor.marks_for(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")) == ("✔", "✘")


def test_json_report():
    report = json.loads(doctor.format_json(RESULTS))
    assert report["ok"] is False
    assert report["checks"][1] == {"name": "v4l2loopback", "ok": False, "detail": "not installed",
                                   "fix": "sudo apt install v4l2loopback-dkms"}
    assert report["segcam"] and report["python"]


def test_run_checks_on_a_fake_linux_machine(machine, models_installed):
    machine.load_module()
    machine.add_video(10, "segcam", loopback=True)
    machine.writable.add("dev/video10")
    results = doctor.run_checks(machine.host())
    by_name = {r.name: r for r in results}
    assert names(results)[:4] == ["Python", "Packages", "torch", "Cameras"]
    for name in ("v4l2loopback", "exclusive_caps", "Loopback device", "Device access", "Qt"):
        assert by_name[name].ok, by_name[name]
    assert by_name["Model selfie_segmentation.tflite"].ok
    assert by_name["Model caches"].ok, by_name["Model caches"]


def test_cli_doctor_json_on_this_machine(capsys):
    code = cli.main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == (0 if report["ok"] else 1)
    failed = [c for c in report["checks"] if not c["ok"]]
    assert all(c["fix"] for c in failed), failed
    # the test data dir is empty, so the weights checks must fail with a fix
    assert any(c["name"].startswith("Model ") for c in failed)


# -- the PipeWire camera ----------------------------------------------------------------------

PIPEWIRE_READY = doctor.PipeWireFacts("/run/user/1000/pipewire-0", answers=True, gst_launch=True, pipewiresink=True)


def test_pipewire_ready_tells_each_browsers_switch(machine):
    machine.write(doctor.PORTAL_SERVICE, "[D-BUS Service]\n")
    results = doctor.pipewire_checks(machine.host(), PIPEWIRE_READY)
    assert names(results) == ["PipeWire", "GStreamer", "Desktop portal", "Browsers"]
    assert all(r.ok for r in results)
    tip = results[-1].fix
    assert "chrome://flags/#enable-webrtc-pipewire-camera" in tip and "media.webrtc.camera.allow-pipewire" in tip
    assert "Zoom" in results[-1].detail


@pytest.mark.parametrize("os_release, package", [
    (UBUNTU, "sudo apt install pipewire wireplumber gstreamer1.0-pipewire"),
    ("ID=fedora\n", "sudo dnf install pipewire wireplumber pipewire-gstreamer"),
    ("ID=arch\n", "sudo pacman -S pipewire wireplumber gst-plugin-pipewire"),
])
def test_missing_pipewire_pieces_get_this_distributions_install_line(machine, os_release, package):
    machine.write("/etc/os-release", os_release)
    facts = doctor.PipeWireFacts("/run/user/1000/pipewire-0", answers=False, gst_launch=True, pipewiresink=False)
    by_name = {r.name: r for r in doctor.pipewire_checks(machine.host(), facts)}
    assert not by_name["PipeWire"].ok and "systemctl --user start pipewire wireplumber" in by_name["PipeWire"].fix
    assert by_name["GStreamer"].detail == "pipewiresink missing" and package in by_name["GStreamer"].fix
    assert not by_name["Desktop portal"].ok and package in by_name["Desktop portal"].fix
    assert "Browsers" not in by_name


def test_with_v4l2loopback_loaded_pipewire_is_one_line(machine):
    machine.load_module()
    (result,) = doctor.pipewire_checks(machine.host(), PIPEWIRE_READY)
    assert result.ok and "v4l2loopback is loaded" in result.detail
