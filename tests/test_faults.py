"""The engine under faults and over a long run: a camera that goes and comes back, a source
cut short while it is read, a background deleted in use, a full disk, stop signals, and
10,000 frames with memory, threads and open files watched.

Each fault must leave the run going, or stop it with one sentence, with nothing the user
made lost. The suite is marked `faults`; CI runs it with the rest.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import cv2
import pytest

from segcam import cli
from segcam.errors import OutputError, SourceError
from segcam.pipeline import Pipeline
from segcam.settings import Settings
from segcam.sinks import VideoFileSink

from helpers import next_line, read_video
from media import FailingFile, faststart_copy, leftovers, tiny_filesystem

pytestmark = pytest.mark.faults


def file_sink(path, **options):
    return lambda width, height, fps: [VideoFileSink(path, width, height, fps, **options)]


def run_to_end(pipeline: Pipeline, timeout: float = 120) -> Pipeline:
    pipeline.start()
    assert pipeline.wait(timeout=timeout), "the run did not end"
    pipeline.stop()
    return pipeline


# -- a camera that goes away and comes back ------------------------------------------------

class UnpluggableCamera:
    """A real clip read through cv2.VideoCapture at 30 fps, standing in for a camera; once
    `unplugged` is set it delivers nothing more."""

    def __init__(self, path, unplugged: threading.Event | None = None):
        self.capture = cv2.VideoCapture(str(path))
        self.unplugged = unplugged or threading.Event()

    def read(self):
        if self.unplugged.is_set():
            return False, None
        time.sleep(1 / 30)  # a camera waits for its next frame
        return self.capture.read()

    def __getattr__(self, name):  # isOpened, set, get, release
        return getattr(self.capture, name)


def test_camera_lost_and_back_mid_run(models_installed, hamilton_clip, tmp_path):
    """Camera 3 is unplugged after 15 frames, absent at the first retry, then back: the run
    keeps going and the file gets every frame processed, before and after."""
    calls, statuses, unplugged = [], set(), threading.Event()

    def opener(source):
        calls.append(source)
        if len(calls) == 1:
            return UnpluggableCamera(hamilton_clip, unplugged)
        if len(calls) == 2:
            return UnpluggableCamera(tmp_path / "still-unplugged.mp4")  # does not open
        return UnpluggableCamera(hamilton_clip)

    def on_result(result):
        statuses.add(pipeline.capture.status)
        if pipeline.stats.frames == 15:
            unplugged.set()

    out = tmp_path / "camera.mp4"
    settings = Settings(source="3", effect="blur", output=str(out), max_frames=40)
    pipeline = Pipeline(settings, make_sinks=file_sink(out), opener=opener, on_result=on_result)
    pipeline.start()
    while not pipeline.wait(timeout=0.02):
        statuses.add(pipeline.capture.status)
    pipeline.stop()
    assert pipeline.error is None
    assert pipeline.capture.reconnects == 1 and calls == [3, 3, 3]
    assert "reconnecting" in statuses
    assert pipeline.stats.frames == 40 and len(read_video(out)) == 40


# -- a source cut short while it is read ----------------------------------------------------

def test_source_truncated_while_read(models_installed, hamilton_clip, tmp_path):
    """The clip loses its second half after 20 frames: the run ends with the frames there
    were, the file has all of them, and the CLI's check says how many of how many."""
    source = faststart_copy(hamilton_clip, tmp_path / "download.mp4")
    out = tmp_path / "out.mp4"

    def cut_source(result):
        if pipeline.stats.frames == 20:
            os.truncate(source, source.stat().st_size // 2)

    settings = Settings(source=str(source), effect="splash", output=str(out))
    pipeline = Pipeline(settings, make_sinks=file_sink(out, audio_from=str(source)), on_result=cut_source,
                        realtime=False)
    run_to_end(pipeline)
    capture = pipeline.capture
    assert pipeline.error is None
    assert 20 < capture.frames_read < capture.frame_count == 275
    assert len(read_video(out)) == pipeline.stats.frames == capture.frames_read
    with pytest.raises(SourceError, match=rf"Read {capture.frames_read} of the 275 frames .* damaged") as error:
        cli._check_source_was_whole(pipeline, settings)
    assert f"{out} has the {capture.frames_read} frames read" in str(error.value)


# -- a background deleted while in use ------------------------------------------------------

@pytest.mark.parametrize("effect", ["image", "video"])
def test_background_deleted_while_in_use(effect, models_installed, hamilton_clip, carphone_clip, shared_dir, tmp_path):
    """The background file is deleted at frame 5; the run goes on to the end with it (a video
    background loops past its end after that)."""
    original = shared_dir / "data" / "backgrounds" / "images" / "anilsathyan_beach.jpg" if effect == "image" \
        else carphone_clip
    background = shutil.copy(original, tmp_path / f"background{original.suffix}")
    out = tmp_path / "out.mp4"

    def delete_background(result):
        if pipeline.stats.frames == 5:
            os.remove(background)

    key = "background" if effect == "image" else "background_video"
    settings = Settings(source=str(hamilton_clip), effect=effect, output=str(out), max_frames=150,
                        **{key: str(background)})
    pipeline = Pipeline(settings, make_sinks=file_sink(out), on_result=delete_background, realtime=False)
    run_to_end(pipeline)
    assert pipeline.error is None and not os.path.exists(background)
    assert pipeline.stats.frames == 150 and len(read_video(out)) == 150


# -- a full disk ----------------------------------------------------------------------------

def test_output_disk_full_in_the_engine(models_installed, hamilton_clip, tmp_path):
    """A disk that takes 300 kB: the run stops at the failed write with one sentence, and
    what was written plays under the output's name. Works without mounting anything."""
    out = tmp_path / "out.mp4"
    settings = Settings(source=str(hamilton_clip), effect="blur", output=str(out))
    opener = lambda path, mode: FailingFile(path, 300_000)
    pipeline = run_to_end(Pipeline(settings, make_sinks=file_sink(out, audio_from=str(hamilton_clip),
                                                                   open_file=opener), realtime=False))
    error = pipeline.error
    assert isinstance(error, OutputError)
    kept = int(re.search(r"holds the first (\d+) frames and plays", str(error)).group(1))
    assert str(error).startswith(f"The disk holding {out} is full: segcam stopped after ")
    assert 0 < kept < 275 and kept <= len(read_video(out)) < 275
    assert leftovers(tmp_path) == ["out.mp4"]


def test_output_disk_full_on_a_real_filesystem(models_installed, hamilton_clip, tmp_path, capsys):
    """`segcam run` onto a 300 kB tmpfs: exit 2, one sentence, a playable file, no temp file."""
    with tiny_filesystem(tmp_path / "tiny", "300k") as tiny:
        out = tiny / "out.mp4"
        code = cli.main(["run", "--quiet", "--source", str(hamilton_clip), "--effect", "blur", "--output", str(out)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "is full: segcam stopped after" in err and "plays" in err
        assert "Failed to write" not in err and "Done." not in err
        assert 0 < len(read_video(out)) < 275
        assert leftovers(tiny) == ["out.mp4"]


# -- stop signals ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_stop_signal_finishes_the_file(name, models_installed, hamilton_clip, tmp_path):
    """A real `python -m segcam run` on a looping clip, stopped by a signal: exit 0 and a file
    that plays with every frame the run says it made (SIGTERM/SIGHUP killed it before: 143/129)."""
    out = tmp_path / "stopped.mp4"
    env = {**os.environ, "SEGCAM_DATA_DIR": str(models_installed)}
    proc = subprocess.Popen([sys.executable, "-m", "segcam", "run", "--source", str(hamilton_clip), "--loop",
                             "--effect", "blur", "--output", str(out)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = next_line(proc.stderr, timeout=60)  # the start line, printed once frames flow
        assert "segcam:" in line, line
        time.sleep(1.0)
        proc.send_signal(getattr(signal, name))
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    stopped = re.search(r"Stopped( by (\w+))?\. (\d+) frames", err)
    assert stopped, err
    assert (stopped.group(2) or "SIGINT") == name
    assert len(read_video(out)) == int(stopped.group(3)) > 0
    assert leftovers(tmp_path) == ["stopped.mp4"]


# -- 10,000 frames --------------------------------------------------------------------------

def process_figures() -> tuple[int, int, int]:
    """(resident memory in bytes, threads, open file descriptors) of this process."""
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads memory, threads and files from /proc")
@pytest.mark.timeout(900)  # the run itself may take its 600 s
def test_soak_10000_frames(models_installed, hamilton_clip, tmp_path):
    """10,000 frames of a 128x72 looping clip (about 170 reopenings of the file) through the
    real network, blur and a video file: memory flat within 5% after warm-up, and no thread
    or file descriptor gained."""
    small = tmp_path / "small.avi"
    writer = cv2.VideoWriter(str(small), cv2.VideoWriter.fourcc(*"MJPG"), 30, (128, 72))
    for frame in read_video(hamilton_clip)[:60]:
        writer.write(cv2.resize(frame, (128, 72), interpolation=cv2.INTER_AREA))
    writer.release()
    out = tmp_path / "soak.mp4"
    total, warm_up, every = 10_000, 2_000, 250
    samples: dict[int, tuple[int, int, int]] = {}

    def sample(result):
        if pipeline.stats.frames % every == 0:
            samples[pipeline.stats.frames] = process_figures()

    start, python_threads, started = process_figures(), threading.active_count(), time.monotonic()
    settings = Settings(source=str(small), loop=True, effect="blur", output=str(out), max_frames=total)
    pipeline = Pipeline(settings, make_sinks=file_sink(out), on_result=sample, realtime=False)
    run_to_end(pipeline, timeout=600)
    assert pipeline.error is None and pipeline.stats.frames == total
    after = {n: figures for n, figures in samples.items() if n >= warm_up}
    rss = {n: figures[0] for n, figures in after.items()}
    mib = lambda n: f"{n / 2**20:.1f} MiB"
    print(f"\nsoak: {total} frames in {time.monotonic() - started:.0f} s; RSS {mib(start[0])} at start, "
          f"{mib(rss[warm_up])} after {warm_up} frames, {mib(rss[total])} at {total} (max {mib(max(rss.values()))}); "
          f"threads {start[1]} -> {samples[warm_up][1]} -> {samples[total][1]}; "
          f"fds {start[2]} -> {samples[warm_up][2]} -> {samples[total][2]}")
    assert max(rss.values()) <= 1.05 * rss[warm_up]
    # the reader reopens the file as it loops, so a sample may catch a descriptor in flight:
    # compare the fewest seen in the first and the last 2,000 frames (a leak raises those)
    early = [figures for n, figures in after.items() if n < warm_up + 2_000]
    late = [figures for n, figures in after.items() if n > total - 2_000]
    assert min(f[1] for f in late) <= min(f[1] for f in early)
    assert min(f[2] for f in late) <= min(f[2] for f in early)
    assert len(read_video(out)) == total
    assert threading.active_count() == python_threads  # the pipeline's own threads are gone
