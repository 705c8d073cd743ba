"""The privacy guard in the running pipeline: synthetic sequences (a real person cut-out over real
room photos) through MediaPipe, the real pipeline and the recording virtual camera, checking the
pixels the camera received. The splash effect keeps the room sharp (in grey), so any frame of
the room that got through unguarded is measurable."""

import cv2
import numpy as np
import pytest

from segcam import guard
from segcam.pipeline import Pipeline
from segcam.processor import MAX_FAILURES
from segcam.segmenter import Segmenter
from segcam.settings import Settings
from segcam.sinks import VirtualCameraSink

from recording_backend import RecordingBackend, registered

W, H = 640, 360
ROOMS = ("bgmatting_plate_0001.png", "bgmatting_plate_0002.png")  # rooms MediaPipe sees no one in


@pytest.fixture(scope="module")
def rooms(shared_dir):
    folder = shared_dir / "data" / "backgrounds" / "images"
    return [cv2.resize(cv2.imread(str(folder / name)), (W, H), interpolation=cv2.INTER_AREA) for name in ROOMS]


@pytest.fixture(scope="module")
def person(shared_dir):
    cutout = cv2.imread(str(shared_dir / "data" / "cutouts" / "rgba" / "1_0.png"), cv2.IMREAD_UNCHANGED)
    return cv2.resize(cutout, None, fx=1.6, fy=1.6, interpolation=cv2.INTER_LINEAR)


def with_person(room: np.ndarray, cutout: np.ndarray, x: int) -> np.ndarray:
    """The room with the cut-out standing at x (its centre), feet at the bottom."""
    from segcam.train.datasets import _paste

    image, truth = room.astype(np.float32), np.zeros((H, W), np.float32)
    _paste(image, truth, cutout, H - cutout.shape[0], x - cutout.shape[1] // 2)
    return image.astype(np.uint8)


def detail(image: np.ndarray) -> float:
    """Fine detail: mean absolute Laplacian of the grey picture."""
    return float(np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F)).mean())


def run(tmp_path, frames, pause=None, **settings):
    """The frames (an image-sequence source) through the pipeline with the splash effect: what the
    recording virtual camera received, the results, and the pipeline (stopped)."""
    folder = tmp_path / "frames"
    folder.mkdir(exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    results = []
    chosen = Settings(source=str(folder), effect="splash", model="mediapipe-landscape", output="vcam")
    with registered() as backend:
        pipeline = Pipeline(chosen.replace(**settings),
                            make_sinks=lambda w, h, fps: [VirtualCameraSink(w, h, fps, backend=backend)],
                            on_result=results.append, realtime=False)
        pipeline.pause(pause)
        pipeline.start()
        assert pipeline.wait(timeout=120)
        pipeline.stop()
        received = RecordingBackend.instances[0].images()
    return received, results, pipeline


def check_nothing_of_the_room_while_held(frames, received, results) -> list[int]:
    """The promise: every frame the guard held shows no more of the room than its safe frame,
    16 blocks of colour across. Returns the indices of the held frames."""
    assert len(received) == len(results) == len(frames)
    held = [i for i, result in enumerate(results) if result.guard.holding]
    for i in held:
        assert detail(received[i]) < 0.1 * detail(frames[i]), i
        assert np.abs(received[i].astype(int) - guard.safe_frame(frames[i])).mean() < 1.0, i
    return held


def test_the_first_frames_are_held_then_the_person_is_shown(models_installed, tmp_path, rooms, person):
    frames = [with_person(rooms[0], person, W // 2)] * 16
    received, results, _ = run(tmp_path, frames)
    held = check_nothing_of_the_room_while_held(frames, received, results)
    assert held[0] == 0 and results[0].guard.reason == guard.STARTING
    assert results[-1].guard.amount == 0.0  # released: the effect itself is sent
    assert detail(received[-1]) > 0.5 * detail(frames[-1])
    # without the guard, the first frame is already the composite, the room sharp in it
    unguarded, _, _ = run(tmp_path, frames[:2], guard=False)
    assert detail(unguarded[0]) > 0.5 * detail(frames[0])


def test_a_person_who_leaves_is_held_until_back_and_steady(models_installed, tmp_path, rooms, person):
    there = with_person(rooms[0], person, W // 2)
    frames = [there] * 16 + [rooms[0]] * 10 + [there] * 16
    received, results, _ = run(tmp_path, frames)
    held = check_nothing_of_the_room_while_held(frames, received, results)
    assert not results[15].guard.holding
    assert all(i in held for i in range(16, 26))  # the empty room: held from the frame they are gone
    assert results[16].guard.reason in (guard.COLLAPSED, guard.NO_PERSON)
    assert 26 in held and not results[-1].guard.holding  # back: held until the mask is steady again


def test_a_scene_cut_is_held_from_its_first_frame(models_installed, tmp_path, rooms, person):
    frames = [with_person(rooms[0], person, W // 3)] * 16 + [with_person(rooms[1], person, 2 * W // 3)] * 16
    received, results, _ = run(tmp_path, frames)
    held = check_nothing_of_the_room_while_held(frames, received, results)
    assert not results[15].guard.holding
    assert 16 in held and results[16].guard.reason == guard.SCENE_CUT
    assert not results[-1].guard.holding


def test_a_segmenter_that_raises_gets_the_safe_frame_and_the_run_goes_on(models_installed, tmp_path, rooms, person,
                                                                          monkeypatch):
    frames = [with_person(rooms[0], person, W // 2)] * 30
    failing = {16, 17}  # the calls (one a frame) on which the network fails
    calls = []
    matte = Segmenter.matte

    def sometimes_failing(self, model_input):
        calls.append(len(calls))
        if calls[-1] in failing:
            raise RuntimeError("the network failed on this frame")
        return matte(self, model_input)

    monkeypatch.setattr(Segmenter, "matte", sometimes_failing)
    received, results, pipeline = run(tmp_path, frames)
    assert pipeline.error is None
    held = check_nothing_of_the_room_while_held(frames, received, results)
    assert not results[15].guard.holding
    assert [results[i].guard.reason for i in (16, 17)] == [guard.FAILED] * 2
    assert all(i in held for i in range(16, 22)) and not results[-1].guard.holding

    # without the guard, the error ends the run, as it always did
    calls.clear()
    received, results, pipeline = run(tmp_path, frames, guard=False)
    assert isinstance(pipeline.error, RuntimeError) and len(received) == 16


def test_a_segmenter_that_keeps_failing_ends_the_run(models_installed, tmp_path, rooms, person, monkeypatch):
    frames = [with_person(rooms[0], person, W // 2)] * (MAX_FAILURES + 10)

    def failing(self, model_input):
        raise RuntimeError("the network is broken")

    monkeypatch.setattr(Segmenter, "matte", failing)
    received, results, pipeline = run(tmp_path, frames)
    assert isinstance(pipeline.error, RuntimeError)
    assert len(received) == MAX_FAILURES  # each of them the safe frame
    check_nothing_of_the_room_while_held(frames[:MAX_FAILURES], received, results)


def test_the_pause_blur_is_the_guards_safe_frame_mirrored_like_the_output(models_installed, tmp_path, rooms, person):
    frames = [with_person(rooms[0], person, W // 3)] * 3
    received, _, _ = run(tmp_path, frames, pause="blur", mirror=True)
    assert np.array_equal(received[-1], guard.safe_frame(frames[-1], mirror=True))
    assert detail(received[-1]) < 0.1 * detail(frames[-1])
