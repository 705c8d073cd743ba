"""fileio.replacing and derived files: whole files only, a record after each, damage found and mended."""

import logging

import pytest
import torch

from segcam import fileio
from segcam.models import derived


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_replacing_writes_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    fileio.write_bytes(target, b"first")
    with pytest.raises(RuntimeError):
        with fileio.replacing(target) as tmp:
            tmp.write_bytes(b"half of the sec")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"first"
    assert leftovers(target.parent) == ["file.bin"]  # no temporary file left behind
    with pytest.raises(FileNotFoundError):  # a writer that wrote nothing replaces nothing
        with fileio.replacing(target):
            pass
    assert leftovers(target.parent) == ["file.bin"] and target.read_bytes() == b"first"


def test_write_records_the_sha256_after_the_file(tmp_path):
    path = derived.write(tmp_path / "net.pt", lambda tmp: torch.save({"w": torch.ones(2)}, tmp))
    assert leftovers(tmp_path) == ["net.pt", "net.pt.sha256"]
    # sha256sum's format: `sha256sum -c net.pt.sha256` checks it from that folder
    assert derived.record_path(path).read_text() == f"{fileio.sha256_of(path)}  net.pt\n"
    assert derived.check(path).ok


@pytest.mark.parametrize("damage", ["truncated", "one byte changed"])
def test_a_changed_file_is_damaged_and_made_again(tmp_path, caplog, damage):
    made = []

    def make(tmp):
        made.append(tmp)
        with open(tmp, "wb") as f:  # a file object: the archive's inner name does not follow tmp's
            torch.save({"w": torch.arange(1000.0)}, f)

    path = derived.ensure(tmp_path / "net.pt", make, derived.loads_as_state_dict)
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[:100])
    else:
        path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # still loads: only the record can tell
    status = derived.check(path, derived.loads_as_state_dict)
    assert status.state == derived.DAMAGED and "recorded" in status.detail

    with caplog.at_level(logging.WARNING):
        assert derived.ensure(path, make, derived.loads_as_state_dict) == path
    assert len(made) == 2 and path.read_bytes() == good
    assert derived.check(path).ok and "is damaged" in caplog.text
    assert leftovers(tmp_path) == ["net.pt", "net.pt.sha256"]


def test_an_unrecorded_file_is_taken_when_it_loads_and_recorded(tmp_path):
    older = tmp_path / "older.pt"  # as an older segcam wrote it: no record
    torch.save({"w": torch.ones(3)}, older)
    assert derived.check(older).state == derived.DAMAGED  # no way to tell without a load check
    assert derived.check(older, derived.loads_as_state_dict).ok
    assert derived.record_path(older).exists() and derived.check(older).ok

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(older.read_bytes()[:200])
    status = derived.check(truncated, derived.loads_as_state_dict)
    assert status.state == derived.DAMAGED and "does not load" in status.detail
    assert not derived.record_path(truncated).exists()


def test_a_garbled_record_counts_as_none(tmp_path):
    path = derived.write(tmp_path / "net.pt", lambda tmp: torch.save({"w": torch.ones(1)}, tmp))
    derived.record_path(path).write_text("not a digest\n")
    assert derived.check(path).state == derived.DAMAGED
    assert derived.check(path, derived.loads_as_state_dict).ok  # loads, so recorded afresh
    assert derived.check(path).ok


def test_a_failing_make_leaves_no_file_and_no_record(tmp_path):
    def make(tmp):
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        derived.ensure(tmp_path / "net.onnx", make, derived.loads_as_onnx)
    assert leftovers(tmp_path) == []
    assert derived.check(tmp_path / "net.onnx").state == derived.MISSING


def test_discard_removes_file_and_record(tmp_path):
    path = derived.write(tmp_path / "x.pt", lambda tmp: torch.save({}, tmp))
    derived.discard(path)
    derived.discard(path)  # twice is fine
    assert leftovers(tmp_path) == []
