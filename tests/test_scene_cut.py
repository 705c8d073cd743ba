"""The processor's scene-cut detector: the Hamilton clip's three cuts, and no cut in fast motion."""

import cv2
import numpy as np

from segcam.imageops import shrink
from segcam.io import read_image, video_frames
from segcam.motion_eval import moving_clip
from segcam.processor import SceneCut

NETWORK_INPUT = (256, 144)  # what the processor hands it at 640x360 (MediaPipe's, and RVM's)


def cuts_in(frames, size=NETWORK_INPUT) -> list[int]:
    detector = SceneCut()
    return [i for i, frame in enumerate(frames) if detector(shrink(frame, size))]


def test_the_hamilton_clips_three_cuts_are_found_and_nothing_else(hamilton_clip):
    # the first frames of its shots (the singer, the close-up, the audience); the mean change
    # over 40 grey levels, used before, found none of them
    assert cuts_in(video_frames(hamilton_clip)) == [20, 82, 211]


def test_the_carphone_clip_has_no_cut(carphone_clip):
    assert cuts_in(video_frames(carphone_clip), (256, 256)) == []


def test_fast_motion_is_no_cut(shared_dir):
    """eval --motion --fast's clips: a person crossing the frame at up to 30 px a frame, turning,
    swinging their arms."""
    people = shared_dir / "data" / "people"
    backgrounds = sorted((shared_dir / "data" / "backgrounds" / "images").iterdir())
    rng = np.random.default_rng(3)
    for index, name in enumerate((people / "split_val60.txt").read_text().split()[:8]):
        image = read_image(people / "images" / f"{name}.jpg")
        truth = cv2.imread(str(people / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        frames, _ = moving_clip(image, truth, read_image(backgrounds[5 * index]), rng, motion="fast")
        assert cuts_in(frames) == [], name


def test_a_new_picture_is_a_cut_and_a_small_change_is_not():
    rng = np.random.default_rng(0)
    room = cv2.resize(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), NETWORK_INPUT, interpolation=cv2.INTER_CUBIC)
    other = cv2.resize(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), NETWORK_INPUT, interpolation=cv2.INTER_CUBIC)
    moved = room.copy()
    moved[:, 100:160] = other[:, 100:160]  # a quarter of the picture changes: someone walks by
    detector = SceneCut()
    assert [detector(f) for f in (room, room, moved, room, other)] == [False, False, False, False, True]
    detector.reset()
    assert not detector(other)  # after a reset, the first picture has nothing to differ from
