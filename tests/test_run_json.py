"""`segcam run --realtime` (a video file delivered at its own frame rate, as a camera would) and
`segcam run --json` (the run's numbers as one JSON object on stdout). The synthetic videos and
the small random network need no ../shared; the singer's clip does."""

import json

import cv2
import numpy as np
import pytest

from segcam import cli
from segcam.models import modelfile
from segcam.models.segnet import MEAN, STD
from segcam.pipeline import Durations

from test_segnet import random_segnet

KEYS = {"read", "processed", "dropped", "guard_held", "model", "model_reason", "ms_p50", "ms_p99", "learned"}


@pytest.fixture(scope="module")
def network_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("run-json-net")
    modelfile.save(base / "tiny.pt", random_segnet(5), "segnet", (32, 64), MEAN, STD)
    return base


@pytest.fixture
def model(network_dir, monkeypatch):
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(network_dir / "data"))  # one ONNX export for the module
    return str(network_dir / "tiny.pt")


def write_video(path, frames: int, fps: float, size=(640, 360)):
    """A textured room with a blob moving across it, at `fps` frames a second."""
    width, height = size
    rng = np.random.default_rng(1)
    room = cv2.resize(rng.integers(40, 220, (9, 16, 3), dtype=np.uint8), size, interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        frame = room.copy()
        cv2.ellipse(frame, (width // 3 + 3 * i, height // 2), (width // 8, height // 3), 0, 0, 360, (60, 90, 200), -1)
        writer.write(frame)
    writer.release()
    return str(path)


def run_json(capsys, *args) -> dict:
    assert cli.main(["run", "--quiet", "--output", "none", "--json", *map(str, args)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)  # stdout holds the JSON object and nothing else
    assert KEYS <= summary.keys()
    assert summary["read"] == summary["processed"] + summary["dropped"]
    return summary


def test_realtime_drops_what_the_pipeline_cannot_take(model, tmp_path, capsys):
    # 960 frames a second: no pipeline takes a 640x360 frame through segment, refine and the blur in
    # about a millisecond, so a file delivered as a camera would loses frames, and says how many
    video = write_video(tmp_path / "fast.avi", 60, 960)
    summary = run_json(capsys, "--source", video, "--model", model, "--effect", "blur", "--realtime")
    assert summary["read"] == 60  # every frame of the file came, and was either processed or dropped
    assert summary["dropped"] > 0 and summary["processed"] < 60
    assert summary["learned"] is None  # nothing learns during a run yet


def test_without_realtime_every_frame_is_processed(model, tmp_path, capsys):
    video = write_video(tmp_path / "fast.avi", 60, 960)
    summary = run_json(capsys, "--source", video, "--model", model, "--effect", "blur")
    assert (summary["read"], summary["processed"], summary["dropped"]) == (60, 60, 0)
    assert 0 < summary["ms_p50"] <= summary["ms_p99"]
    assert summary["model"].startswith("tiny-") and "chosen on the command line" in summary["model_reason"]


def test_realtime_with_loop(model, tmp_path, capsys):
    video = write_video(tmp_path / "short.avi", 8, 960)
    summary = run_json(capsys, "--source", video, "--model", model, "--realtime", "--loop", "--max-frames", "30")
    assert summary["processed"] == 30
    assert summary["read"] > 8  # it went round the 8-frame file, and kept its count across the rewinds
    assert summary["dropped"] > 0


def test_realtime_starts_the_clock_when_the_network_is_ready(network_dir, tmp_path, monkeypatch, capsys):
    # a fresh data folder: the network is exported to ONNX as the run starts, which takes a second
    # or more. The file, at 15 fps, gives a frame every 66 ms, ample for this network at 160x90;
    # had its clock started when it was opened, the frames due meanwhile would all be dropped
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(tmp_path / "fresh-data"))
    video = write_video(tmp_path / "slow.avi", 20, 15, size=(160, 90))
    summary = run_json(capsys, "--source", video, "--model", network_dir / "tiny.pt", "--realtime")
    assert (summary["read"], summary["processed"], summary["dropped"]) == (20, 20, 0)


def test_json_of_a_real_clip(models_installed, hamilton_clip, capsys):
    summary = run_json(capsys, "--source", hamilton_clip, "--realtime", "--max-frames", "40")
    assert summary["processed"] == 40
    assert summary["model"] == "mediapipe-landscape"
    assert 0 <= summary["guard_held"] <= 40
    assert 0 < summary["ms_p50"] <= summary["ms_p99"]
    plain = run_json(capsys, "--source", hamilton_clip, "--max-frames", "40")
    assert (plain["read"], plain["processed"], plain["dropped"]) == (40, 40, 0)
    # the guard holds on the clip's opening frames while it learns the mask (and at its scene cut)
    assert plain["guard_held"] > 0


def test_durations_percentiles_are_right_to_one_percent():
    durations = Durations()
    assert durations.percentile(0.5) is None
    for ms in range(1, 101):  # 1 .. 100 ms
        durations.add(float(ms))
    assert durations.count == 100
    assert durations.percentile(0.5) == pytest.approx(50, rel=0.01)
    assert durations.percentile(0.99) == pytest.approx(99, rel=0.01)
    assert durations.percentile(1.0) == pytest.approx(100, rel=0.01)
