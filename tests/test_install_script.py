"""packaging/install.sh: which torch it installs on which machine, without installing anything.

The script reads two facts of the machine (an `nvidia-smi` command, /proc/driver/nvidia);
tests point them at fakes. The dry runs check the decision; the real runs use a stand-in
venv whose pip and python only record what they are asked, to check the fallback.
"""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "packaging" / "install.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def machine(tmp_path):
    """Environment for a Linux machine without NVIDIA; `nvidia()` adds a driver."""
    proc = tmp_path / "proc"
    proc.mkdir()
    env = {**os.environ, "SEGCAM_PROC": str(proc), "SEGCAM_NVIDIA_SMI": str(tmp_path / "no-nvidia-smi")}

    class Machine:
        def __init__(self):
            self.env = env

        def nvidia(self, how: str) -> None:
            if how == "nvidia-smi":
                env["SEGCAM_NVIDIA_SMI"] = str(executable(tmp_path / "bin" / "nvidia-smi", "exit 0\n"))
            else:
                (proc / "driver" / "nvidia").mkdir(parents=True)

        def run(self, *args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess:
            return subprocess.run(["sh", str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=60)

    return Machine()


def commands(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_without_nvidia_the_cpu_torch_comes_first(machine):
    done = machine.run("--dry-run")
    assert commands(done) == [
        "python3 -m venv .venv",
        f".venv/bin/pip install --index-url {CPU_INDEX} torch torchvision",
        f".venv/bin/pip install {REPO}",
    ]
    assert "no NVIDIA driver" in done.stderr


@pytest.mark.parametrize("how", ["nvidia-smi", "/proc/driver/nvidia"])
def test_with_an_nvidia_driver_the_default_torch(machine, how):
    machine.nvidia(how)
    done = machine.run("--dry-run")
    assert commands(done) == ["python3 -m venv .venv", f".venv/bin/pip install {REPO}"]
    assert "NVIDIA driver is present" in done.stderr


def test_options_overrule_the_guess_and_pip_arguments_pass_through(machine):
    machine.nvidia("nvidia-smi")
    cpu = commands(machine.run("--dry-run", "--cpu", "--venv", "env dir", "-q", "-e", ".[dev]"))
    assert cpu == [
        "python3 -m venv 'env dir'",
        f"'env dir/bin/pip' install --index-url {CPU_INDEX} torch torchvision",
        "'env dir/bin/pip' install -q -e '.[dev]'",
    ]
    assert not any("--index-url" in line for line in commands(machine.run("--dry-run", "--cuda")))


@pytest.fixture
def stand_in_venv(tmp_path):
    """A venv whose python answers the CPU-index probe as told and whose pip records its arguments."""
    log = tmp_path / "calls.txt"
    venv = tmp_path / "venv"

    def make(index_reachable: bool, cpu_install_works: bool = True) -> Path:
        executable(tmp_path / "python3", f'echo "python3 $*" >> {log}\n')
        executable(venv / "bin" / "python", f"cat > /dev/null\nexit {0 if index_reachable else 1}\n")
        failing = "exit 1" if not cpu_install_works else "exit 0"
        executable(venv / "bin" / "pip", f'echo "pip $*" >> {log}\ncase "$*" in *--index-url*) {failing};; esac\n')
        return log

    return make


def run_for_real(machine, tmp_path, log: Path) -> tuple[list[str], str]:
    machine.env["PYTHON"] = str(tmp_path / "python3")
    done = machine.run("--venv", str(tmp_path / "venv"))
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines(), done.stderr


def test_unreachable_cpu_index_falls_back_to_plain_pip_with_one_line(machine, tmp_path, stand_in_venv):
    calls, err = run_for_real(machine, tmp_path, stand_in_venv(index_reachable=False))
    assert calls == [f"python3 -m venv {tmp_path / 'venv'}", f"pip install {REPO}"]
    assert [line for line in err.splitlines() if "cannot be reached" in line] == [
        f"install.sh: PyTorch's CPU index ({CPU_INDEX}) cannot be reached, so torch comes from your default "
        "index (the CUDA build on Linux)."]


def test_reachable_cpu_index_installs_the_cpu_torch_first(machine, tmp_path, stand_in_venv):
    calls, err = run_for_real(machine, tmp_path, stand_in_venv(index_reachable=True))
    assert calls[1:] == [f"pip install --index-url {CPU_INDEX} torch torchvision", f"pip install {REPO}"]
    assert "cannot be reached" not in err and "did not install" not in err


def test_a_failed_cpu_install_still_installs_segcam(machine, tmp_path, stand_in_venv):
    calls, err = run_for_real(machine, tmp_path, stand_in_venv(index_reachable=True, cpu_install_works=False))
    assert calls[-1] == f"pip install {REPO}"
    assert "did not install" in err
