"""packaging/: the Linux files, the v4l2loopback setup script, licences, and (opt-in) a real
PyInstaller build of the app with a smoke run of the built binary."""

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import pytest

from segcam import __version__, doctor

from helpers import need_tool

REPO = Path(__file__).resolve().parents[1]
LINUX = REPO / "packaging" / "linux"
SETUP = LINUX / "setup-virtual-camera.sh"
APP_ID = "io.github.segcam.segcam"


# -- modprobe files ----------------------------------------------------------------------------

def test_modprobe_options_match_what_doctor_recommends():
    lines = [line for line in (LINUX / "v4l2loopback-segcam.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == [f"options v4l2loopback {doctor.MODULE_OPTIONS}"]
    assert lines[0] == 'options v4l2loopback devices=1 video_nr=10 card_label="segcam" exclusive_caps=1'


def test_modules_load_file_names_the_module():
    lines = [line for line in (LINUX / "segcam-modules-load.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["v4l2loopback"]


# -- setup-virtual-camera.sh ---------------------------------------------------------------------

@pytest.fixture
def fake_bin(tmp_path):
    """A PATH folder whose modinfo says the module is not installed, as on a fresh machine."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "modinfo").write_text("#!/bin/sh\nexit 1\n")
    (folder / "modinfo").chmod(0o755)
    return folder


def run_setup(tmp_path, fake_bin, os_release: str, *args: str) -> subprocess.CompletedProcess:
    release = tmp_path / "os-release"
    release.write_text(os_release)
    env = {**os.environ, "SEGCAM_OS_RELEASE": str(release), "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SETUP), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize("os_release, install", [
    ("ID=debian\n", "apt-get install -y v4l2loopback-dkms v4l2loopback-utils linux-headers-"),
    ('ID=pop\nID_LIKE="ubuntu debian"\n', "apt-get install -y v4l2loopback-dkms"),
    ("ID=fedora\n", "dnf install -y akmod-v4l2loopback v4l2loopback"),
    ("ID=endeavouros\nID_LIKE=arch\n", "pacman -S --needed --noconfirm v4l2loopback-dkms linux-headers"),
])
def test_setup_plan_per_distribution(tmp_path, fake_bin, os_release, install):
    done = run_setup(tmp_path, fake_bin, os_release, "--dry-run")
    assert done.returncode == 0, done.stderr
    plan = [line.strip().removeprefix("sudo ") for line in done.stdout.splitlines() if line.startswith("  ")]
    assert any(step.startswith(install) for step in plan), plan
    assert f"install -m 644 '{LINUX}/v4l2loopback-segcam.conf' /etc/modprobe.d/v4l2loopback-segcam.conf" in plan
    assert f"install -m 644 '{LINUX}/segcam-modules-load.conf' /etc/modules-load.d/segcam.conf" in plan
    assert plan[-1] == "modprobe v4l2loopback" or plan[-2] == "modprobe v4l2loopback"  # usermod may follow
    assert done.stdout.rstrip().endswith("(dry run: nothing was changed)")


def test_setup_warns_about_secure_boot(tmp_path, fake_bin):
    (fake_bin / "mokutil").write_text("#!/bin/sh\necho 'SecureBoot enabled'\n")
    (fake_bin / "mokutil").chmod(0o755)
    done = run_setup(tmp_path, fake_bin, "ID=ubuntu\n", "--dry-run")
    assert done.returncode == 0
    assert "Secure Boot is on" in done.stdout and "mokutil --import" in done.stdout


def test_setup_refuses_unknown_distributions(tmp_path, fake_bin):
    done = run_setup(tmp_path, fake_bin, "ID=gentoo\n", "--dry-run")
    assert done.returncode == 1
    assert "gentoo is none of them" in done.stderr


def test_setup_does_not_act_without_being_asked(tmp_path, fake_bin):
    done = run_setup(tmp_path, fake_bin, "ID=debian\n")  # no --yes, and no terminal to ask on
    assert done.returncode == 1
    assert "run again with --yes" in done.stderr
    assert "+ " not in done.stdout  # no step ran


def test_setup_rejects_unknown_options(tmp_path, fake_bin):
    assert run_setup(tmp_path, fake_bin, "ID=debian\n", "--frobnicate").returncode == 2


@pytest.mark.parametrize("script", ["packaging/linux/setup-virtual-camera.sh", "packaging/linux/install-desktop-entry.sh",
                                    "packaging/install.sh", ".ci/run"])
def test_shell_scripts_are_shellcheck_clean(script):
    done = subprocess.run([need_tool("shellcheck", "shellcheck"), str(REPO / script)], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "")


# -- desktop entry, metainfo, icon ---------------------------------------------------------------

def test_desktop_entry():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(LINUX / "segcam.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Exec"] == "segcam"
    assert section["Icon"] == APP_ID
    assert "AudioVideo" in section["Categories"].split(";")


def test_desktop_entry_passes_desktop_file_validate():
    validate = need_tool("desktop-file-validate", "desktop-file-utils")
    done = subprocess.run([validate, str(LINUX / "segcam.desktop")], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "")  # no error, warning or hint


def test_metainfo():
    path = LINUX / f"{APP_ID}.metainfo.xml"
    root = ET.parse(path).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("project_license") == "GPL-3.0-or-later"
    assert root.findtext("launchable") == "segcam.desktop"
    assert root.find("releases/release").get("version") == __version__


def test_metainfo_passes_appstreamcli_validate():
    appstreamcli = need_tool("appstreamcli", "appstream")
    done = subprocess.run([appstreamcli, "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_icon_is_an_svg():
    root = ET.parse(LINUX / f"{APP_ID}.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_desktop_entry_installs_for_a_user(tmp_path):
    done = subprocess.run(["bash", str(LINUX / "install-desktop-entry.sh")], capture_output=True, text=True,
                          env={**os.environ, "PREFIX": str(tmp_path)}, timeout=60)
    assert done.returncode == 0, done.stderr
    share = tmp_path / "share"
    assert (share / "applications" / "segcam.desktop").read_bytes() == (LINUX / "segcam.desktop").read_bytes()
    assert (share / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").is_file()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()


# -- licences ------------------------------------------------------------------------------------

def test_license_is_the_full_gpl3():
    text = (REPO / "LICENSE").read_text()
    assert text.split()[:6] == ["GNU", "GENERAL", "PUBLIC", "LICENSE", "Version", "3,"]
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 30000
    system_copy = Path("/usr/share/common-licenses/GPL-3")
    if system_copy.exists():
        assert text == system_copy.read_text()


def test_third_party_notices_carry_the_mediapipe_licence(shared_models):
    notices = (REPO / "THIRD_PARTY_NOTICES.md").read_text()
    assert (shared_models / "LICENSE-mediapipe.txt").read_text() in notices
    for library in ("PyTorch", "ONNX Runtime", "OpenCV", "pyvirtualcam", "PySide6", "NumPy"):
        assert library in notices


# -- the PyInstaller build -----------------------------------------------------------------------

SLOW = os.environ.get("SEGCAM_SLOW_TESTS") == "1"


def test_pyinstaller_spec_asks_for_the_app_it_must_build():
    """The spec run as PyInstaller runs it, its four build steps recorded: what it hands them is
    what the bundle gets (the slow test below builds it for real). CI runs this in its packaging
    step, where PyInstaller is installed."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed: pip install -e '.[package]'")
    import pkgutil

    from types import SimpleNamespace

    import segcam.effects
    import segcam.models
    from segcam.models import families

    steps = {}

    def step(name):
        def record(*args, **kwargs):
            steps[name] = (args, kwargs)
            return SimpleNamespace(pure=[], scripts=[], binaries=[], datas=[])
        return record

    spec = REPO / "packaging/pyinstaller/segcam.spec"
    exec(compile(spec.read_text(), str(spec), "exec"),
         {"SPECPATH": str(spec.parent), **{name: step(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT")}})

    (scripts,), analysis = steps["Analysis"]
    assert scripts == [str(REPO / "segcam" / "__main__.py")]
    # every module of the two packages that register themselves by name
    by_name = {m.name for package in (segcam.effects, segcam.models)
               for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")}
    assert by_name >= {"segcam.effects.blur", *families.MODULES}
    assert by_name - set(analysis["hiddenimports"]) == set()
    # the metadata `segcam doctor` reads, and the app's pictures where segcam.ui.resources looks
    destinations = {dest for _, dest in analysis["datas"]}
    for dist in ("segcam", "torch", "numpy", "onnxruntime", "pyvirtualcam"):
        # a .dist-info folder, or segcam's own .egg-info where the build runs from a checkout
        # with an editable install (its folder comes first on sys.path)
        assert any(d.lower().startswith((dist + "-", dist + ".")) and d.endswith((".dist-info", ".egg-info"))
                   for d in destinations), dist
    for part in ("backgrounds", "icon"):
        if any((REPO / "assets" / part).glob("*")):
            assert (str(REPO / "assets" / part), f"assets/{part}") in analysis["datas"]
    assert "pytest" in analysis["excludes"]
    _, exe = steps["EXE"]
    assert exe["name"] == "segcam" and exe["console"] and exe["exclude_binaries"]
    assert steps["COLLECT"][1]["name"] == "segcam"


def test_the_bundle_takes_every_module_that_is_imported_by_name():
    """Effects and model families register themselves when imported by name: PyInstaller cannot
    see those imports, so the spec must collect their packages."""
    import re

    from segcam.models import families

    collected = re.findall(r'collect_submodules\("([\w.]+)"\)', (REPO / "packaging/pyinstaller/segcam.spec").read_text())
    by_name = ["segcam.effects.blur", *families.MODULES]
    assert [m for m in by_name if not any(m.startswith(package + ".") for package in collected)] == []


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="builds the whole app (minutes, 1-5 GB): set SEGCAM_SLOW_TESTS=1")
@pytest.mark.timeout(4800)  # the build may take its hour, then the app runs
def test_pyinstaller_app_builds_and_runs(tmp_path, models_installed, carphone_clip):
    # the build may use another venv (one with a CPU-only torch makes a far smaller app)
    python = os.environ.get("SEGCAM_BUILD_PYTHON", sys.executable)
    if subprocess.run([python, "-c", "import PyInstaller"], capture_output=True).returncode != 0:
        pytest.skip(f"PyInstaller is not installed for {python}: pip install -e '.[package]'")
    started = time.monotonic()
    build = subprocess.run(
        [python, "-m", "PyInstaller", "--noconfirm", "--distpath", str(tmp_path / "dist"),
         "--workpath", str(tmp_path / "work"), str(REPO / "packaging/pyinstaller/segcam.spec")],
        capture_output=True, text=True, timeout=3600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    app = tmp_path / "dist" / "segcam"
    binary = app / ("segcam.exe" if sys.platform == "win32" else "segcam")
    # symlinked libraries would count twice
    size_mb = sum(f.stat().st_size for f in app.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    print(f"built {app} in {time.monotonic() - started:.0f} s, {size_mb:.0f} MB")

    for part in ("backgrounds", "icon"):  # the app's shipped pictures, when the checkout has them
        shipped = sorted(p.name for p in (REPO / "assets" / part).glob("*.*"))
        assert sorted(p.name for p in (app / "_internal" / "assets" / part).glob("*.*")) == shipped

    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == f"segcam {__version__}"

    # a fresh data dir with the weights but no ONNX file, so the app also exports the network itself
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    for weights in (models_installed / "models").glob("*.*"):
        if weights.suffix in (".tflite", ".pt"):
            shutil.copy(weights, data / "models")
    env = {**os.environ, "SEGCAM_DATA_DIR": str(data)}
    out = tmp_path / "out.mp4"
    run = subprocess.run([str(binary), "run", "--source", str(carphone_clip), "--output", str(out),
                          "--max-frames", "10"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Done. 10 frames" in run.stderr
    assert frame_count(out) == 10
    assert list((data / "models" / "onnx").glob("*.onnx"))

    # doctor in the frozen app: package metadata and the Qt child process must work there too
    report = subprocess.run([str(binary), "doctor", "--json"], capture_output=True, text=True, env=env, timeout=300)
    checks = {c["name"]: c for c in json.loads(report.stdout)["checks"]}
    assert checks["Packages"]["ok"], checks["Packages"]
    assert checks["Qt"]["ok"], checks["Qt"]
    assert checks["Model selfie_segmentation.tflite"]["ok"]
