import cv2
import numpy as np
import pytest

from segcam.backgrounds import VideoBackground, fill, load_image
from segcam.effects import Compositor, blend, blur_background
from segcam.errors import BackgroundError, SettingsError
from segcam.processor import validated
from segcam.settings import Settings

H, W = 120, 160


def effect_settings(**keys):
    """The compositor's section of the settings these keys make."""
    return Settings(**keys).effect


@pytest.fixture
def scene():
    """A colourful frame and a person alpha: left half person, right half background."""
    rng = np.random.default_rng(1)
    frame = cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    frame[:, : W // 2] = (30, 80, 220)  # a reddish person
    alpha = np.zeros((H, W), np.float32)
    alpha[:, : W // 2] = 1.0
    return frame, alpha


def test_blend_takes_person_where_alpha_is_one_and_background_elsewhere(scene):
    frame, alpha = scene
    background = np.full_like(frame, 7)
    out = blend(frame, background, alpha)
    assert np.array_equal(out[:, : W // 2], frame[:, : W // 2])
    assert np.all(out[:, W // 2 :] == 7)


def test_blend_half_alpha_is_the_mean():
    a = np.full((4, 4, 3), 200, np.uint8)
    b = np.full((4, 4, 3), 100, np.uint8)
    out = blend(a, b, np.full((4, 4), 0.5, np.float32))
    assert np.all(np.abs(out.astype(int) - 150) <= 1)


def test_splash_greys_background_and_keeps_person_colour(scene):
    frame, alpha = scene
    out = Compositor(effect_settings(effect="splash")).compose(frame, alpha)
    background = out[:, W // 2 :].astype(int)
    assert np.all(np.abs(background[..., 0] - background[..., 1]) <= 1)
    assert np.all(np.abs(background[..., 1] - background[..., 2]) <= 1)
    assert np.array_equal(out[:, : W // 2], frame[:, : W // 2])


def test_splash_strength_zero_keeps_colour(scene):
    frame, alpha = scene
    out = Compositor(effect_settings(effect="splash", splash_strength=0.0)).compose(frame, alpha)
    assert np.abs(out.astype(int) - frame).max() <= 1


def test_solid_uses_rgb_colour(scene):
    frame, alpha = scene
    out = Compositor(effect_settings(effect="solid", color=(0, 177, 64))).compose(frame, alpha)
    assert tuple(out[5, W - 5]) == (64, 177, 0)  # BGR
    assert np.array_equal(out[:, : W // 2], frame[:, : W // 2])


def test_solid_colour_change_is_applied(scene):
    frame, alpha = scene
    compositor = Compositor(effect_settings(effect="solid", color=(255, 0, 0)))
    compositor.compose(frame, alpha)
    compositor.update(effect_settings(effect="solid", color=(0, 0, 255)))
    assert tuple(compositor.compose(frame, alpha)[5, W - 5]) == (255, 0, 0)


def test_blur_leaves_no_person_halo(scene):
    """Background pixels next to the person must not take the person's colour."""
    frame, alpha = scene
    frame[:, W // 2 :] = (200, 200, 200)  # plain light background
    blurred = blur_background(frame, alpha, strength=1.0)
    near_edge = blurred[:, W // 2 + 2 : W // 2 + 10].astype(int)
    assert np.abs(near_edge - 200).max() <= 3
    # whereas a naive blur of the whole frame bleeds the person in
    naive = cv2.GaussianBlur(frame, (0, 0), 8)[:, W // 2 + 2 : W // 2 + 10].astype(int)
    assert np.abs(naive - 200).max() > 20


def test_blur_keeps_person_and_changes_background(scene):
    frame, alpha = scene
    out = Compositor(effect_settings(effect="blur", blur_strength=1.0)).compose(frame, alpha)
    assert np.array_equal(out[:, : W // 2], frame[:, : W // 2])
    assert np.abs(out[:, W // 2 + 10 :].astype(int) - frame[:, W // 2 + 10 :]).mean() > 5


def test_mirror_flips_output(scene):
    frame, alpha = scene
    out = Compositor(effect_settings(effect="none", mirror=True)).compose(frame, alpha)
    assert np.array_equal(out, frame[:, ::-1])


def test_image_background_fills_and_is_cached(tmp_path, scene):
    frame, alpha = scene
    image = np.zeros((50, 300, 3), np.uint8)
    image[:, :, 1] = 255
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), image)
    compositor = Compositor(effect_settings(effect="image", background=str(path)))
    out = compositor.compose(frame, alpha)
    assert np.all(out[:, W // 2 :] == (0, 255, 0))
    first = compositor.background(frame, alpha)
    assert compositor.background(frame, alpha) is first  # resized once per frame size


def test_fill_covers_without_distortion():
    image = np.zeros((100, 400, 3), np.uint8)
    image[:, 150:250] = 255  # a centred white band, 100 wide
    out = fill(image, 100, 100)
    assert out.shape == (100, 100, 3)
    assert out[50, 50].tolist() == [255, 255, 255]
    assert out[50, 0].tolist() == [255, 255, 255] and out[50, 99].tolist() == [255, 255, 255]


def test_missing_background_is_a_clear_error(tmp_path):
    with pytest.raises(BackgroundError, match="does not exist"):
        Compositor(effect_settings(effect="image", background=str(tmp_path / "nope.jpg")))


def test_non_image_background_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture")
    with pytest.raises(BackgroundError, match="not an image"):
        load_image(path)


def test_image_effect_without_background_is_a_clear_error():
    with pytest.raises(BackgroundError, match="needs a background image"):
        Compositor(effect_settings(effect="image"))


def test_bad_background_update_changes_nothing(tmp_path, scene):
    frame, alpha = scene
    compositor = Compositor(effect_settings(effect="splash"))
    before = compositor.compose(frame, alpha)
    with pytest.raises(BackgroundError):
        compositor.update(effect_settings(effect="image", background=str(tmp_path / "missing.png")))
    assert compositor.settings.name == "splash"
    assert np.array_equal(compositor.compose(frame, alpha), before)


def test_huge_background_image_is_decoded_small(tmp_path):
    path = tmp_path / "huge.png"
    cv2.imwrite(str(path), np.full((10000, 10000, 3), 90, np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    image = load_image(path)
    assert max(image.shape[:2]) <= 2500
    assert image[0, 0].tolist() == [90, 90, 90]
    assert fill(image, 1280, 720).shape == (720, 1280, 3)


def test_video_background_loops(tmp_path):
    path = tmp_path / "bg.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for value in (0, 120, 250):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    video = VideoBackground(path)
    levels = [int(video.next_frame(32, 24).mean()) for _ in range(6)]
    video.close()
    assert levels[:3] == levels[3:]  # looped
    assert levels[0] < 20 and levels[1] > 100


def test_video_background_rejects_non_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(BackgroundError, match="not a video"):
        VideoBackground(path)


def test_shared_backgrounds_load_and_fill_the_frame_undistorted(shared_dir):
    folder = shared_dir / "data" / "backgrounds" / "images"
    for path in sorted(folder.glob("*"))[:5]:  # portrait, landscape, 4000 px wide among them
        image = load_image(path)
        np.testing.assert_array_equal(image, cv2.imread(str(path)))
        filled = fill(image, 1280, 720)
        assert filled.shape == (720, 1280, 3)
        # the picture's middle at the frame's shape, scaled: nothing stretched, nothing bare
        h, w = image.shape[:2]
        crop_w, crop_h = min(w, round(h * 16 / 9)), min(h, round(w * 9 / 16))
        x, y = (w - crop_w) // 2, (h - crop_h) // 2
        shrinking = crop_w > 1280
        middle = cv2.resize(image[y: y + crop_h, x: x + crop_w], (1280, 720),
                            interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        assert np.abs(filled.astype(int) - middle).mean() < 3, path.name  # stretched: 16-41


# -- the registry ----------------------------------------------------------------------------------

def test_the_registry_knows_every_effect_in_order_and_what_each_reads():
    from segcam import effects

    assert effects.names() == ["none", "blur", "image", "video", "splash", "solid"]
    assert effects.get("blur").reads == ("blur_strength", "blur_style")
    assert effects.get("video").needs == "background_video"
    # only me before low light (the exposure judged on the main person); framing before the mirror
    assert [stage.name for stage in effects.stages("before")] == ["only_me", "low_light"]
    assert [stage.name for stage in effects.stages("after")] == ["frame_me", "mirror"]
    with pytest.raises(SettingsError, match="Unknown effect 'sparkle'") as error:
        effects.get("sparkle")
    assert error.value.setting == "effect"


def test_a_new_effect_and_a_new_stage_need_only_their_own_class(scene):
    """What one new module in segcam/effects/ does: register; the compositor, the command line's
    choices and the app's buttons then find it."""
    from segcam import cli, effects
    from segcam.effects import registry

    frame, alpha = scene

    @effects.register
    class Inverse(effects.Effect):
        name, label, hint, order, reads = "inverse", "Inverse", "The room in negative", 60, ("splash_strength",)

        def background(self, frame, alpha):
            return 255 - frame

    @effects.register_stage
    class Darker(effects.Stage):
        name, where, order = "darker", "before", 10

        @classmethod
        def enabled(cls, settings):
            return settings.splash_strength < 0.5

        def before(self, frame, alpha):
            return frame // 2, alpha

    try:
        out = Compositor(effect_settings(effect="inverse")).compose(frame, alpha)
        assert np.array_equal(out[:, W // 2:], 255 - frame[:, W // 2:])
        darker = Compositor(effect_settings(effect="inverse", splash_strength=0.2)).compose(frame, alpha)
        assert np.array_equal(darker[:, : W // 2], frame[:, : W // 2] // 2)  # the stage ran before the effect
        assert "inverse" in effects.names() and validated(Settings(effect="inverse")).effect.name == "inverse"
        assert "inverse" in cli.build_parser().parse_args(["run", "--effect", "inverse"]).effect
    finally:
        registry._EFFECTS.pop("inverse")
        registry._STAGES.pop("darker")


def test_an_effect_change_that_fails_keeps_the_loaded_background(tmp_path, scene):
    frame, alpha = scene
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), np.full((50, 80, 3), 77, np.uint8))
    compositor = Compositor(effect_settings(effect="image", background=str(path)))
    before = compositor.compose(frame, alpha)
    with pytest.raises(BackgroundError):
        compositor.update(effect_settings(effect="video", background_video=str(tmp_path / "missing.mp4")))
    assert compositor.settings.name == "image" and np.array_equal(compositor.compose(frame, alpha), before)
