"""The session both front ends drive, without Qt and without ../shared: synthetic frames in an
image-sequence folder, a small random segcam network from a model file, the real pipeline,
sinks and threads, and the recording virtual camera."""

import threading

import cv2
import numpy as np
import pytest

from segcam import backgrounds, doctor, session as session_module
from segcam.effects import Compositor
from segcam.errors import BackgroundError
from segcam.io import video_frames
from segcam.models import modelfile
from segcam.models.segnet import MEAN, STD
from segcam.session import Listener, Session
from segcam.settings import Settings

from recording_backend import RecordingBackend, registered
from test_segnet import random_segnet

WAIT_S = 60


@pytest.fixture(scope="module")
def network_dir(tmp_path_factory):
    """A small random network as a segcam model file, and a data folder its ONNX export is kept in."""
    base = tmp_path_factory.mktemp("session-net")
    path = base / "tiny.pt"
    modelfile.save(path, random_segnet(3), "segnet", (32, 64), MEAN, STD)
    return base


@pytest.fixture
def model(network_dir, monkeypatch):
    monkeypatch.setenv("SEGCAM_DATA_DIR", str(network_dir / "data"))  # one export for the whole module
    return str(network_dir / "tiny.pt")


def frames_folder(folder, count: int = 12, size=(128, 72)):
    """A person-like blob moving over a textured room, as numbered PNGs: an image-sequence source."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = np.random.default_rng(0)
    room = cv2.resize(rng.integers(40, 220, (9, 16, 3), dtype=np.uint8), size, interpolation=cv2.INTER_CUBIC)
    for i in range(count):
        frame = room.copy()
        cv2.ellipse(frame, (width // 3 + 2 * i, height // 2), (width // 8, height // 3), 0, 0, 360, (60, 90, 200), -1)
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    return str(folder)


class Recorder(Listener):
    """Every report, in order, with events to wait on."""

    def __init__(self):
        self.events: list[tuple] = []
        self.changed = threading.Condition()
        self.frames = 0

    def _note(self, *event) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, name: str, count: int = 1) -> list[tuple]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.of(name)) >= count, WAIT_S), (name, self.events)
            return self.of(name)

    def of(self, name: str) -> list[tuple]:
        return [event for event in self.events if event[0] == name]

    def frame_ready(self):
        with self.changed:
            self.frames += 1
            self.changed.notify_all()

    def stats_ready(self, stats):
        self._note("stats", stats)

    def applied(self, settings):
        self._note("applied", settings)

    def failed(self, settings, error):
        self._note("failed", settings, error)

    def paused(self, mode):
        self._note("paused", mode)

    def vcam_started(self, description, hint=""):
        self._note("vcam_started", description)

    def vcam_failed(self, error):
        self._note("vcam_failed", error)

    def vcam_stopped(self):
        self._note("vcam_stopped")

    def stopped(self, error):
        self._note("stopped", error)

    def backgrounds_checked(self, pictures, videos, problems):
        self._note("backgrounds", pictures, videos, problems)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def session(recorder):
    made = []

    def make(**options):
        made.append(Session(recorder, **options))
        return made[-1]

    yield make
    for each in made:
        each.shutdown()


def newest_frame(session, recorder, check=lambda result: True):
    """The next frame handed out that passes check."""
    found = []

    def ready():
        result = session.take_frame()
        if result is not None and check(result):
            found.append(result)
        return bool(found)

    with recorder.changed:
        assert recorder.changed.wait_for(ready, WAIT_S)
    return found[0]


def test_start_processes_every_frame_of_a_file_into_the_output_it_names(model, tmp_path, session):
    source = frames_folder(tmp_path / "frames", count=9)
    out = tmp_path / "out.mp4"
    run = session(realtime=False)
    pipeline = run.start(Settings(source=source, model=model, effect="solid", color=(255, 0, 255), output=str(out)))
    assert [sink.describe().split(" (")[0] for sink in pipeline.sinks] == [f"Writing {out}"]
    assert run.wait(WAIT_S)
    run.stop()
    assert pipeline.error is None and pipeline.stats.frames == 9
    written = video_frames(out)
    assert len(written) == 9 and written[0].shape == (72, 128, 3)


def test_only_the_newest_of_quick_changes_is_applied(model, tmp_path, recorder, session):
    run = session(loop_files=True)
    first = Settings(source=frames_folder(tmp_path / "frames"), model=model, effect="none", output="none")
    hold = threading.Event()
    original = recorder.applied

    def applied(settings):  # the first answer holds the control thread, as a slow start would
        original(settings)
        if settings is first:
            hold.wait(WAIT_S)

    recorder.applied = applied
    run.apply(first)
    recorder.wait_for("applied")
    middle, newest = first.replace(effect="blur"), first.replace(effect="splash", splash_strength=0.5)
    run.apply(middle)
    run.apply(newest)  # a slider dragged on: only this one counts
    hold.set()
    recorder.wait_for("applied", 2)
    assert [event[1] for event in recorder.of("applied")] == [first, newest]
    assert run.pipeline.settings.effect == newest.effect


def test_refused_settings_leave_the_pipeline_running_and_name_the_setting(model, tmp_path, recorder, session):
    run = session(loop_files=True)
    good = Settings(source=frames_folder(tmp_path / "frames"), model=model, effect="splash", output="none")
    run.apply(good)
    recorder.wait_for("applied")
    bad = good.replace(effect="image", background=str(tmp_path / "missing.png"))
    run.apply(bad)
    (_, refused, error), = recorder.wait_for("failed")
    assert refused is bad and isinstance(error, BackgroundError) and error.setting == "background"
    assert run.running and run.pipeline.settings.effect.name == "splash"
    seen = recorder.frames
    with recorder.changed:
        run.take_frame()
        assert recorder.changed.wait_for(lambda: recorder.frames > seen, WAIT_S)  # still running


def test_pause_is_one_state_the_pipeline_follows(model, tmp_path, recorder, session):
    run = session(loop_files=True)
    run.apply(Settings(source=frames_folder(tmp_path / "frames"), model=model, effect="none", output="none"))
    recorder.wait_for("applied")
    newest_frame(run, recorder)
    run.pause("blank")
    assert recorder.wait_for("paused")[-1] == ("paused", "blank")
    assert run.pause_mode == "blank" and run.pipeline.pause_mode == "blank"
    blank = newest_frame(run, recorder, lambda r: r.output.max() == r.output.min())
    assert not np.array_equal(blank.output, blank.frame)  # the camera runs on underneath
    run.pause(None)
    recorder.wait_for("paused", 2)
    assert run.pause_mode is None and run.pipeline.pause_mode is None
    newest_frame(run, recorder, lambda r: np.array_equal(r.output, r.frame))


def test_virtual_camera_attaches_resizes_with_the_source_and_detaches(model, tmp_path, recorder, session):
    small = frames_folder(tmp_path / "small", size=(128, 72))
    large = frames_folder(tmp_path / "large", size=(160, 96))
    run = session(loop_files=True)
    with registered() as backend:
        run.apply(Settings(source=small, model=model, effect="none", output="none"))
        recorder.wait_for("applied")
        run.set_virtual_camera(True, backend)
        assert recorder.wait_for("vcam_started")[0][1].endswith("as 128x72 @30")
        camera = RecordingBackend.instances[0]
        run.apply(Settings(source=large, model=model, effect="none", output="none"))  # another size
        recorder.wait_for("vcam_started", 2)
        resized = RecordingBackend.instances[-1]
        assert camera.closed and (resized.width, resized.height) == (160, 96)
        newest_frame(run, recorder, lambda r: r.output.shape == (96, 160, 3))
        with recorder.changed:
            assert recorder.changed.wait_for(lambda: len(resized.frames) > 2, WAIT_S)
        run.set_virtual_camera(False)
        recorder.wait_for("vcam_stopped")
        assert resized.closed and not run.pipeline.sinks


def test_a_machine_without_the_driver_hears_it_before_the_first_picture(recorder, session):
    problem = doctor.virtual_camera_problem()
    if problem is None:
        pytest.skip("this machine has a virtual camera driver")
    run = session()
    run.set_virtual_camera(True)  # the app at its first start: no pipeline yet, the default backend
    (_, error), = recorder.wait_for("vcam_failed")
    assert str(error) == doctor.no_virtual_camera(problem=problem)
    assert run.pipeline is None and not recorder.of("vcam_started")


def test_a_file_that_ends_is_reported_and_released(model, tmp_path, recorder, session):
    run = session(realtime=False)  # no looping: the file plays once
    run.apply(Settings(source=frames_folder(tmp_path / "frames", count=5), model=model, output="none"))
    assert recorder.wait_for("stopped") == [("stopped", None)]
    with recorder.changed:
        assert recorder.changed.wait_for(lambda: run.pipeline is None, WAIT_S)  # released on the control thread


def test_frames_and_stats_are_handed_out_without_piling_up(model, tmp_path, recorder, session, monkeypatch):
    monkeypatch.setattr(session_module, "STATS_INTERVAL_S", 3600.0)
    # a machine booted two minutes ago: its monotonic clock reads less than the interval
    run = session(realtime=False, clock=lambda: 120.0)
    pipeline = run.start(Settings(source=frames_folder(tmp_path / "frames", count=10), model=model, output="none"))
    assert run.wait(WAIT_S)
    assert pipeline.stats.frames == 10
    assert recorder.frames == 1  # nobody took the first frame: no more announcements
    assert len(recorder.of("stats")) == 1  # one report per interval, however many frames
    assert run.take_frame() is not None and run.take_frame() is not None  # the newest stays readable


def test_a_picture_is_decoded_once_wherever_it_is_used(tmp_path, recorder, session):
    picture, broken, video = tmp_path / "beach.png", tmp_path / "notes.jpg", tmp_path / "room.avi"
    cv2.imwrite(str(picture), np.full((90, 160, 3), (40, 90, 250), np.uint8))
    broken.write_text("not a picture")
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 36))
    for value in (10, 200):
        writer.write(np.full((36, 64, 3), value, np.uint8))
    writer.release()
    before = backgrounds.PICTURES.decoded
    session().check_backgrounds([str(picture), str(broken), str(video)])
    (_, pictures, videos, problems), = recorder.wait_for("backgrounds")
    assert pictures == [str(picture)] and videos == [str(video)]
    assert len(problems) == 1 and "notes.jpg is not an image" in problems[0]
    decoded = backgrounds.PICTURES.decoded
    # the compositor, the app's gallery and the effect thumbnails all take the checked picture
    compositor = Compositor(Settings(effect="image", background=str(picture)).effect)
    backgrounds.load_image(picture)
    compositor.close()
    assert backgrounds.PICTURES.decoded == decoded == before + 1  # the broken one failed, the picture once
