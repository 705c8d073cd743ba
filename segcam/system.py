"""Facts about this machine that more than one part of segcam asks: a desktop to open windows
on, the GPUs torch can use, and what a speed figure was measured on. One answer each, so the
CLI, `doctor`, `bench`, `--model auto` and the app agree."""

from __future__ import annotations

import os
import platform
import subprocess
import sys


def has_display(environ=os.environ, system: str = sys.platform) -> bool:
    """Whether Qt can open a window: always on Windows and macOS; on Linux and the BSDs only
    in a desktop session, or with a platform chosen by hand (QT_QPA_PLATFORM=offscreen...)."""
    if system.startswith(("win", "darwin")):
        return True
    return any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def mps_available() -> bool:
    """Apple's Metal GPU, on a torch built with it (older torch has no torch.backends.mps)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def cpu_model(system: str = sys.platform, cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's model name, e.g. "Intel(R) Core(TM) i7-1165G7 @ 2.80GHz": from
    /proc/cpuinfo on Linux (platform.processor() is empty there), sysctl on macOS, platform's
    answer elsewhere; "" when nothing says."""
    if system.startswith("linux"):
        try:
            with open(cpuinfo, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    key, _, value = line.partition(":")
                    if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                        return " ".join(value.split())  # Arm boards name it Model or Hardware
        except OSError:
            pass
    elif system == "darwin":
        try:
            done = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5)
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or ""


def cpu_count() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def machine(cpu: str | None = None, cores: int | None = None) -> str:
    """What a speed figure was measured on: architecture, processor model and cores, e.g.
    "x86_64, Intel(R) Xeon(R) Processor, 2 cores". Figures kept for one machine must never
    be read on another; the architecture alone ("x86_64") named nearly every one alike."""
    cpu = cpu_model() if cpu is None else cpu
    cores = cpu_count() if cores is None else cores
    return ", ".join(part for part in (platform.machine(), cpu or "unknown processor", f"{cores} cores") if part)
