"""The import contracts in .importlinter hold: only segcam.ui imports Qt, and no module imports
one of a layer above its own (front ends > session > pipeline and tools > processor > stages >
models and I/O). CI runs this with the other tests, so a broken layer fails the build."""

import configparser
import importlib.util
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import segcam

REPO = Path(__file__).resolve().parents[1]


def contracts() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    return config


def test_the_import_contracts_hold():
    if importlib.util.find_spec("importlinter") is None:
        pytest.skip("needs import-linter (pip install -e '.[dev]')")
    # import-linter's own command, from the Python running the tests
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())"]
    done = subprocess.run([*command, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


def test_every_module_but_the_ui_is_kept_from_qt():
    listed = contracts()["importlinter:contract:qt"]["source_modules"].split()
    modules = sorted(f"segcam.{m.name}" for m in pkgutil.iter_modules(segcam.__path__)
                     if m.name not in ("ui", "__main__"))
    assert sorted(listed) == modules


def test_every_module_has_a_layer():
    layers = contracts()["importlinter:contract:layers"]["layers"]
    placed = {name.strip() for line in layers.splitlines() for name in line.split(":") if name.strip()}
    modules = {f"segcam.{m.name}" for m in pkgutil.iter_modules(segcam.__path__) if m.name != "__main__"}
    assert modules - placed == set()
