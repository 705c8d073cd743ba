"""Weight files: the real download code against a loopback server, the wheel fallback, imports."""

import contextlib
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest
import torch

from segcam.errors import WeightsError
from segcam.models import derived, weights

from helpers import file_server

GENERAL = "selfie_segmentation.tflite"
LANDSCAPE = "selfie_segmentation_landscape.tflite"
REAL_FETCH_WHEEL = weights.fetch_wheel


@pytest.fixture(autouse=True)
def no_real_pip(monkeypatch):
    """No test may run pip for real; tests that need the fallback install a fake."""

    def fetch_wheel(dest):
        raise WeightsError("pip is switched off in tests")

    monkeypatch.setattr(weights, "fetch_wheel", fetch_wheel)


@pytest.fixture
def serve(monkeypatch):
    """serve(folder): point SEGCAM_WEIGHTS_URL at a loopback HTTP server for that folder."""
    with contextlib.ExitStack() as servers:
        def start(folder: Path) -> str:
            server = servers.enter_context(file_server(folder))
            monkeypatch.setenv("SEGCAM_WEIGHTS_URL", server.url)
            return server.url

        yield start


@pytest.fixture
def fake_converter(monkeypatch):
    """Stand in for segcam.models.mediapipe so these tests check files, not the port."""
    converted = []

    def from_tflite(path):
        converted.append(Path(path))
        return torch.nn.Linear(1, 1)

    module = types.ModuleType("segcam.models.mediapipe")
    module.from_tflite = from_tflite
    monkeypatch.setitem(sys.modules, "segcam.models.mediapipe", module)
    return converted


@pytest.fixture
def fake_pip(monkeypatch, shared_models):
    """Replace the pip download with a small wheel holding the real files; records calls."""
    calls = []

    def fetch_wheel(dest: Path) -> Path:
        calls.append(dest)
        wheel = dest / "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name in (GENERAL, LANDSCAPE):
                zf.write(shared_models / name, weights.WHEEL_MODELS_DIR + name)
        return wheel

    monkeypatch.setattr(weights, "fetch_wheel", fetch_wheel)
    return calls


def cache_contents() -> list[str]:
    folder = weights.models_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(tmp_path))
    assert weights.data_dir() == tmp_path
    assert weights.models_dir() == tmp_path / "models"
    monkeypatch.delenv("SEGCAM_DATA_DIR")
    assert weights.data_dir().name.lower() == "segcam"


def test_download_caches_verified_file(serve, shared_models, fake_converter, capfd, monkeypatch):
    serve(shared_models)
    path = weights.download(GENERAL, progress=False)

    assert path == weights.models_dir() / GENERAL
    assert weights.verify(GENERAL)
    assert cache_contents() == ["selfie_segmentation.pt", "selfie_segmentation.pt.sha256", GENERAL]
    assert fake_converter == [path]
    assert capfd.readouterr().err == ""  # progress off: no bar
    [record] = weights.installed()
    assert (record.name, record.size, record.sha256_ok) == (GENERAL, path.stat().st_size, True)

    # a good copy is never fetched again
    monkeypatch.setenv("SEGCAM_WEIGHTS_URL", "http://127.0.0.1:9/")
    assert weights.download(GENERAL, progress=False) == path
    assert len(fake_converter) == 1


def test_download_refuses_wrong_bytes_and_caches_nothing(serve, tmp_path, fake_converter):
    (tmp_path / GENERAL).write_bytes(b"not a model" * 1000)
    serve(tmp_path)
    with pytest.raises(WeightsError, match="sha256"):
        weights.download(GENERAL, progress=False)
    assert cache_contents() == []
    assert fake_converter == []


def test_download_http_error_names_url_and_status(serve, tmp_path, fake_pip):
    url = serve(tmp_path)  # an empty folder: every file is a 404
    with pytest.raises(WeightsError, match="404") as raised:
        weights.download(GENERAL, progress=False)
    assert url + GENERAL in str(raised.value)
    assert fake_pip == []  # the host answered, so no fallback
    assert cache_contents() == []


def test_unreachable_host_falls_back_to_wheel(fake_pip, fake_converter):
    # conftest points SEGCAM_WEIGHTS_URL at a closed loopback port: connection refused
    path = weights.download(LANDSCAPE, progress=False)

    assert len(fake_pip) == 1
    assert path == weights.models_dir() / LANDSCAPE
    # the wheel holds both models; the other one is kept rather than fetched again later
    assert weights.verify(LANDSCAPE) and weights.verify(GENERAL)
    assert not any(name.endswith(".part") for name in cache_contents())


@pytest.mark.parametrize("failure", ["pip fails", "wheel holds wrong bytes"])
def test_unreachable_host_without_wheel_says_how_to_get_weights(monkeypatch, tmp_path, failure):
    def fetch_wheel(dest: Path) -> Path:
        if failure == "pip fails":
            raise WeightsError("pip could not download mediapipe==0.10.14: no network")
        wheel = dest / "mediapipe.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name in (GENERAL, LANDSCAPE):
                zf.writestr(weights.WHEEL_MODELS_DIR + name, b"wrong")
        return wheel

    monkeypatch.setattr(weights, "fetch_wheel", fetch_wheel)
    with pytest.raises(WeightsError) as raised:
        weights.download(GENERAL, progress=False)
    message = str(raised.value)
    assert "`segcam models download`" in message
    assert "`segcam models import FILE.tflite`" in message
    assert "mediapipe==0.10.14" in message and weights.DEFAULT_WEIGHTS_URL + GENERAL in message
    assert cache_contents() == []


def test_fetch_wheel_asks_pip_for_a_fixed_target(monkeypatch, tmp_path):
    seen = []

    def run(cmd, **kwargs):
        seen.append(cmd)
        (tmp_path / "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(b"")

    monkeypatch.setattr(subprocess, "run", run)  # pip runs through segcam.models.fetch.run_tool
    assert REAL_FETCH_WHEEL(tmp_path).name.startswith("mediapipe-0.10.14-")
    [cmd] = seen
    for flag in ("--no-deps", "--only-binary=:all:", "mediapipe==0.10.14"):
        assert flag in cmd
    for option, value in (("--python-version", "3.11"), ("--platform", "manylinux_2_17_x86_64"),
                          ("--implementation", "cp"), ("--dest", str(tmp_path))):
        assert cmd[cmd.index(option) + 1] == value


def test_import_file_identifies_model_by_hash(shared_models, tmp_path, fake_converter):
    copy = tmp_path / "my-downloads" / "model (1).bin"
    copy.parent.mkdir()
    shutil.copyfile(shared_models / LANDSCAPE, copy)

    path = weights.import_file(copy)
    assert path == weights.models_dir() / LANDSCAPE
    assert weights.verify(LANDSCAPE)
    assert (weights.models_dir() / "selfie_segmentation_landscape.pt").exists()


@pytest.mark.parametrize("kind", ["wrong file", "missing file", "folder"])
def test_import_file_refuses_unknown_or_unreadable(tmp_path, kind):
    path = tmp_path / "model.tflite"
    if kind == "wrong file":
        path.write_bytes(b"\0" * 4096)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(WeightsError, match="model.tflite"):
        weights.import_file(path)
    assert cache_contents() == []


def test_changed_cached_file_counts_as_absent(shared_models, fake_converter, fake_pip):
    weights.import_file(shared_models / GENERAL)
    (weights.models_dir() / "selfie_segmentation.pt").unlink()
    with open(weights.models_dir() / GENERAL, "r+b") as f:
        f.write(b"XXXX")

    assert not weights.verify(GENERAL)
    [record] = weights.installed()
    assert record.name == GENERAL and not record.sha256_ok
    with pytest.raises(WeightsError, match="segcam models import"):
        weights.torch_weights_path(GENERAL, download=False)
    # and a download replaces it (by the wheel fallback: the URL is a closed port)
    assert weights.torch_weights_path(GENERAL, progress=False).exists()
    assert weights.verify(GENERAL)


def test_torch_weights_path_without_download_says_how_to_get_weights():
    with pytest.raises(WeightsError, match="segcam models download.*segcam models import"):
        weights.torch_weights_path(GENERAL, download=False)


def test_unknown_model_name_is_refused():
    with pytest.raises(WeightsError, match="Unknown model file"):
        weights.download("other.tflite")


# The two tests below run the real port (segcam.models.mediapipe.from_tflite).


def test_conversion_saves_state_dict_once(shared_models):
    from segcam.models.mediapipe import from_tflite

    weights.import_file(shared_models / GENERAL)
    pt = weights.torch_weights_path(GENERAL, download=False)
    assert pt == weights.models_dir() / "selfie_segmentation.pt"

    saved = torch.load(pt, weights_only=True)
    expected = from_tflite(shared_models / GENERAL).state_dict()
    assert saved.keys() == expected.keys()
    assert all(torch.equal(saved[k], expected[k]) for k in expected)
    assert not any(name.endswith(".part") for name in cache_contents())

    mtime = pt.stat().st_mtime_ns
    assert weights.torch_weights_path(GENERAL, download=False) == pt
    assert pt.stat().st_mtime_ns == mtime


def test_torch_weights_path_converts_a_cached_tflite(serve, shared_models):
    serve(shared_models)
    pt = weights.torch_weights_path(LANDSCAPE, progress=False)
    assert pt == weights.models_dir() / "selfie_segmentation_landscape.pt"
    assert weights.verify(LANDSCAPE)
    assert len(torch.load(pt, weights_only=True)) > 0


# -- the converted .pt is a derived file: checked on every use, converted again when damaged


def truncate(path: Path, size: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize("record", ["recorded", "from an older segcam, unrecorded"])
def test_truncated_pt_is_converted_again(shared_models, caplog, record):
    weights.import_file(shared_models / GENERAL)
    pt = weights.models_dir() / "selfie_segmentation.pt"
    good = torch.load(pt, weights_only=True)
    if record != "recorded":
        derived.record_path(pt).unlink()
    truncate(pt)

    assert weights.torch_weights_path(GENERAL, download=False) == pt
    saved = torch.load(pt, weights_only=True)
    assert all(torch.equal(saved[k], good[k]) for k in good)
    assert derived.check(pt).ok
    assert "converting selfie_segmentation.tflite again" in caplog.text
    assert not any(name.endswith(".part") for name in cache_contents())


def test_a_pt_that_verifies_is_used_as_it_is(shared_models, fake_converter):
    weights.import_file(shared_models / GENERAL)
    pt = weights.torch_weights_path(GENERAL, download=False)
    stamp = pt.stat().st_mtime_ns
    assert weights.torch_weights_path(GENERAL, download=False) == pt
    assert pt.stat().st_mtime_ns == stamp and len(fake_converter) == 1


def test_import_and_download_replace_a_damaged_pt(shared_models, serve, fake_converter):
    weights.import_file(shared_models / LANDSCAPE)
    pt = weights.models_dir() / "selfie_segmentation_landscape.pt"
    truncate(pt, 10)
    weights.import_file(shared_models / LANDSCAPE)
    assert derived.check(pt).ok and len(fake_converter) == 2

    truncate(pt, 10)
    serve(shared_models)
    weights.download(LANDSCAPE, progress=False)
    assert derived.check(pt).ok and len(fake_converter) == 3


def test_damaged_pt_and_damaged_tflite_offline_say_how_to_get_the_file(shared_models, fake_converter):
    weights.import_file(shared_models / GENERAL)
    truncate(weights.models_dir() / "selfie_segmentation.pt")
    truncate(weights.models_dir() / GENERAL)
    with pytest.raises(WeightsError) as raised:
        weights.torch_weights_path(GENERAL, download=False)
    message = str(raised.value)
    assert message.startswith(f"Model file {GENERAL} is damaged:")
    assert "`segcam models download`" in message and "`segcam models import FILE.tflite`" in message
    assert not (weights.models_dir() / "selfie_segmentation.pt").exists()  # useless, so gone
