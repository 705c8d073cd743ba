"""Only me, framing, low light and lens blur through the processor: each turned on by its setting,
run by the compositor as a stage (or as the blur's style), and reset with the rest of the
temporal state. MediaPipe on real person cut-outs over real room photos."""

import cv2
import numpy as np
import pytest

from segcam.effects import Compositor, blend
from segcam.effects.blur import blur_background, lens_blur
from segcam.effects.low_light import LowLight
from segcam.guard import SCENE_CUT, SWITCHED
from segcam.io import video_frames
from segcam.processor import FrameProcessor
from segcam.settings import Settings

W, H = 640, 360


@pytest.fixture(scope="module")
def rooms(shared_dir):
    folder = shared_dir / "data" / "backgrounds" / "images"
    return [cv2.resize(cv2.imread(str(folder / name)), (W, H), interpolation=cv2.INTER_AREA)
            for name in ("bgmatting_plate_0001.png", "bgmatting_plate_0002.png")]


@pytest.fixture(scope="module")
def cutouts(shared_dir):
    folder = shared_dir / "data" / "cutouts" / "rgba"
    return [cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED) for name in ("1_0.png", "r_0.png", "1_10.png")]


def scene(room, people) -> tuple[np.ndarray, list[np.ndarray]]:
    """The room with each (cut-out, scale, centre x) standing on the floor; the frame and each one's true mask."""
    from segcam.train.datasets import _paste

    image, masks = room.astype(np.float32), []
    for cutout, scale, x in people:
        cutout = cv2.resize(cutout, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        mask = np.zeros((H, W), np.float32)
        _paste(image, mask, cutout, H - cutout.shape[0], x - cutout.shape[1] // 2)
        masks.append(mask)
    return image.astype(np.uint8), masks


def last_output(settings: Settings, frames) -> tuple[np.ndarray, FrameProcessor]:
    processor = FrameProcessor(settings.replace(model="mediapipe-landscape"), choose_by_speed=False)
    for frame in frames:
        result = processor.process(frame)
    return result.output, processor


def test_only_me_makes_the_other_person_part_of_the_room(models_installed, rooms, cutouts):
    frame, (me, other) = scene(rooms[0], [(cutouts[1], 1.6, W // 2), (cutouts[2], 1.1, 5 * W // 6)])
    green = np.array([64, 177, 0])  # the solid effect's colour, BGR
    them = cv2.erode((other > 0.9).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    mine = cv2.erode((me > 0.9).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0

    def green_share(output, where):
        return float((np.abs(output.astype(int) - green).sum(axis=2) < 40)[where].mean())

    everyone, _ = last_output(Settings(effect="solid"), [frame] * 12)
    only_me, processor = last_output(Settings(effect="solid", only_me=True), [frame] * 12)
    assert green_share(everyone, them) < 0.3  # both are shown by default
    assert green_share(only_me, them) > 0.9  # the one behind becomes the room
    assert np.abs(only_me[mine].astype(int) - everyone[mine]).mean() < 1.0  # the main person as they were
    assert processor.process(frame).alpha[them].mean() < 0.1  # what is composited (and the mask view shows)


def test_framing_keeps_the_size_and_the_mirror_flips_the_framed_picture(models_installed, hamilton_clip):
    frames = video_frames(hamilton_clip, limit=16)  # the wide shot: the singer small, right of centre
    plain, _ = last_output(Settings(effect="none"), frames)
    framed, processor = last_output(Settings(effect="none", frame_me=True), frames)
    mirrored, _ = last_output(Settings(effect="none", frame_me=True, mirror=True), frames)
    assert framed.shape == plain.shape == (H, W, 3)
    crop = processor.compositor._stages["frame_me"].framer.crop
    assert crop.height < 0.7 * H and crop.cx > 0.6 * W  # zoomed in on his head and shoulders
    assert np.array_equal(mirrored, framed[:, ::-1])  # mirrored after framing: the same picture, flipped


def test_low_light_brightens_a_dim_room_before_compositing(models_installed, rooms, cutouts):
    frame, (me,) = scene(rooms[0], [(cutouts[0], 1.6, W // 2)])
    dim = cv2.convertScaleAbs(frame, alpha=0.3)
    person = me > 0.9
    room = cv2.erode((me < 0.01).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    as_is, _ = last_output(Settings(effect="blur", guard=False), [dim] * 6)
    lifted, _ = last_output(Settings(effect="blur", guard=False, low_light=True), [dim] * 6)
    assert lifted[person].mean() > 1.5 * as_is[person].mean()
    assert lifted[room].mean() > 1.3 * as_is[room].mean()  # the blurred room is of the brightened frame


def test_lens_blur_is_a_style_of_the_blur_effect():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    alpha = np.zeros((H, W), np.float32)
    alpha[100:, 250:400] = 1.0
    lens = Compositor(Settings(effect="blur", blur_style="lens", blur_strength=0.7).effect)
    gaussian = Compositor(Settings(effect="blur", blur_strength=0.7).effect)
    assert np.array_equal(lens.compose(frame, alpha), blend(frame, lens_blur(frame, alpha, 0.7), alpha))
    assert np.array_equal(gaussian.compose(frame, alpha), blend(frame, blur_background(frame, alpha, 0.7), alpha))
    lens.update(Settings(effect="blur", blur_style="gaussian", blur_strength=0.7).effect)  # switched live
    assert np.array_equal(lens.compose(frame, alpha), gaussian.compose(frame, alpha))


def test_the_stages_are_reset_with_the_rest_of_the_temporal_state(models_installed, rooms, cutouts):
    settings = Settings(effect="blur", only_me=True, frame_me=True, low_light=True)
    frame, _ = scene(rooms[0], [(cutouts[0], 1.6, W // 3)])
    dim = cv2.convertScaleAbs(frame, alpha=0.3)
    _, processor = last_output(settings, [dim] * 8)
    stages = processor.compositor._stages
    assert stages["only_me"].only_me._last_main is not None and stages["frame_me"].framer.crop.height < H
    assert stages["low_light"].low_light.gamma < 1.0
    processor.reset()  # a new source
    assert stages["only_me"].only_me._last_main is None and stages["frame_me"].framer.crop is None
    assert stages["low_light"].low_light.gamma is None and processor.guard.reason == SWITCHED

    # a scene cut resets them too: a bright new room takes its exposure at once, not eased over frames
    for _ in range(8):
        processor.process(dim)
    bright, _ = scene(rooms[1], [(cutouts[0], 1.6, 2 * W // 3)])
    result = processor.process(bright)
    assert processor.guard.reason == SCENE_CUT
    assert stages["low_light"].low_light.gamma == LowLight().wanted_gamma(bright, result.alpha) > 0.5


def test_the_screenshot_tool_renders_a_features_strip(rvm_installed, shared_dir, tmp_path):
    from segcam.ui import resources
    from tools import feature_strips

    bookshelf = next(p for p in resources.default_backgrounds() if p.stem == "bookshelf")
    (path,) = feature_strips.render_features(tmp_path, shared_dir, str(bookshelf), strips=("lens",))
    strip = cv2.imread(str(path))
    assert path.name == "feature-lens.jpg" and strip.shape == (2 * (feature_strips.BANNER + 180), 3 * 320, 3)
