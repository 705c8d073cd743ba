import json

import pytest

from segcam import settings as settings_module
from segcam.errors import SettingsError
from segcam.settings import Settings


def test_defaults_are_valid():
    assert Settings().validate().effect.name == "blur"


@pytest.mark.parametrize("change", [{"device": "tpu"}, {"blur_strength": 2.0}, {"width": 0}, {"color": (300, 0, 0)},
                                    {"threshold": 1.5}, {"blur_style": "tilt"}])
def test_invalid_values_are_refused(change):
    with pytest.raises(SettingsError):
        Settings(**change).validate()


def test_an_unknown_effect_is_refused_by_the_effects_that_own_the_names():
    from segcam.processor import validated

    Settings(effect="sparkle").validate()  # a plain string to the settings, which never import the effects
    with pytest.raises(SettingsError, match="Unknown effect 'sparkle'") as error:
        validated(Settings(effect="sparkle"))  # what the pipeline, the processor and the command line run
    assert error.value.setting == "effect"


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    original = Settings(effect="image", background="/x/y.png", color=(1, 2, 3), blur_strength=0.7)
    settings_module.save(original, path)
    loaded, warnings = settings_module.load(path)
    assert loaded == original and warnings == []


def test_broken_file_gives_defaults_a_warning_and_is_kept(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    loaded, warnings = settings_module.load(path)
    assert loaded == Settings()
    assert warnings and "could not be read" in warnings[0]
    assert (tmp_path / "settings.json.broken").read_text() == "{ not json"


def test_wrong_types_fall_back_per_key(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"effect": "splash", "blur_strength": "lots", "mirror": "yes"}))
    loaded, warnings = settings_module.load(path)
    assert loaded.effect.name == "splash"
    assert loaded.effect.blur_strength == Settings().effect.blur_strength
    assert loaded.effect.mirror is False
    assert len(warnings) == 2


def test_out_of_range_values_fall_back_to_defaults_but_keep_user_backgrounds(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"effect": "nope", "user_backgrounds": ["/a.png"]}))
    from segcam import effects

    loaded, warnings = settings_module.load(path, checks=effects.SETTINGS_CHECKS)  # as the front ends load
    assert loaded.effect == Settings().effect
    assert loaded.app.user_backgrounds == ["/a.png"]
    assert warnings


def test_config_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGCAM_CONFIG_DIR", str(tmp_path))
    assert settings_module.config_path() == tmp_path / "settings.json"


def test_broken_file_is_reported_on_stderr_too(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text("[1, 2")
    with caplog.at_level("WARNING", logger="segcam.settings"):
        _, warnings = settings_module.load(path)
    assert [r.getMessage() for r in caplog.records] == warnings


def test_an_earlier_broken_file_is_never_overwritten(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("first garbage")
    settings_module.load(path)
    path.write_text("second garbage")
    _, warnings = settings_module.load(path)
    assert (tmp_path / "settings.json.broken").read_text() == "first garbage"
    assert (tmp_path / "settings.json.broken.1").read_text() == "second garbage"
    assert "settings.json.broken.1" in warnings[0]


def test_keep_broken_moves_garbage_aside_before_a_save(tmp_path):
    path = tmp_path / "settings.json"
    assert settings_module.keep_broken(path) is None  # nothing there yet
    settings_module.save(Settings(effect="splash"), path)
    assert settings_module.keep_broken(path) is None  # good settings stay where they are
    path.write_bytes(b"\x00\xff garbage")
    warning = settings_module.keep_broken(path)
    assert warning and "replaced by something unreadable" in warning and "settings.json.broken" in warning
    assert (tmp_path / "settings.json.broken").read_bytes() == b"\x00\xff garbage" and not path.exists()


def _random_json(rng, depth=0):
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 255, 256, 10**30, -10**30, rng.randint(-10**6, 10**6)])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), rng.random()])
    if kind == "str":
        return rng.choice(["", "0", "blur", "auto", "cuda", "1e400", "nan", "\u00e9\u2603", "x" * 500])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(FIELDS + ["junk"]): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


FIELDS = list(settings_module.FIELDS)  # the keys of a flat (version 1) settings file


def test_load_survives_random_json_and_random_bytes(tmp_path):
    """A seeded fuzz (hypothesis is not installed): never a traceback; always usable settings."""
    import random

    from segcam import effects
    from segcam.processor import validated

    rng = random.Random(20240611)
    path = tmp_path / "settings.json"
    for case in range(600):
        if case % 3 == 0:
            blob = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        elif case % 3 == 1:  # a settings object with random values for real keys
            data = {name: _random_json(rng) for name in rng.sample(FIELDS, rng.randint(1, len(FIELDS)))}
            blob = json.dumps(data).encode()
        else:
            blob = json.dumps(_random_json(rng)).encode()
        if case == 5:
            blob = b"[" * 100000  # deeper than the parser's recursion limit
        path.write_bytes(blob)
        for leftover in tmp_path.glob("settings.json.broken*"):
            leftover.unlink()
        loaded, warnings = settings_module.load(path, checks=effects.SETTINGS_CHECKS)  # as the front ends load
        validated(loaded)  # whatever was there, what comes back can run
        try:
            data = json.loads(blob.decode("utf-8"))
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):  # garbage: the defaults, a warning, and the file kept aside
            assert loaded == Settings() and len(warnings) == 1, (case, blob[:80])
            assert (tmp_path / "settings.json.broken").read_bytes() == blob
        else:
            assert all(isinstance(w, str) and "\n" not in w for w in warnings)


# -- sections, keys and the file's versions ------------------------------------------------------

def test_each_stage_has_its_section_and_every_setting_one_key():
    s = Settings(source="talk.mp4", model="rvm", smoothing=0.2, effect="splash", output="out.mp4",
                 user_backgrounds=["/a.png"])
    assert (s.source.name, s.model.name, s.mask.smoothing, s.effect.name, s.output.target) == \
        ("talk.mp4", "rvm", 0.2, "splash", "out.mp4")
    assert s.app.user_backgrounds == ["/a.png"]
    assert [s.get(key) for key in ("source", "model", "smoothing", "effect", "output")] == \
        ["talk.mp4", "rvm", 0.2, "splash", "out.mp4"]
    changed = s.replace(effect="blur", blur_strength=0.9)
    assert changed.effect.name == "blur" and changed.source is s.source and s.effect.name == "splash"
    with pytest.raises(TypeError):
        Settings(sparkle=1)


def test_errors_name_the_setting_and_the_option_that_sets_it():
    with pytest.raises(SettingsError) as error:
        Settings(blur_strength=2.0).validate()
    assert error.value.setting == "blur_strength"
    assert settings_module.flag("blur_strength") == "--blur-strength"
    assert settings_module.flag("width") == "--size" and settings_module.flag("background_video") == "--background"
    assert settings_module.flag("guard") == "--no-guard"  # on by default: its option turns it off
    with pytest.raises(SettingsError, match="Unknown blur style 'tilt'; choose one of gaussian, lens") as error:
        Settings(blur_style="tilt").validate()
    assert error.value.setting == "blur_style"


def test_a_saved_feature_setting_out_of_range_falls_back_and_the_rest_is_kept(tmp_path):
    path = tmp_path / "settings.json"
    saved = Settings(blur_style="lens", only_me=True, guard=False).to_dict()
    assert saved["effect"]["only_me"] is True and saved["mask"]["guard"] is False
    path.write_text(json.dumps(saved))
    assert settings_module.load(path)[0] == Settings(blur_style="lens", only_me=True, guard=False)
    saved["effect"]["blur_style"] = "tilt"
    path.write_text(json.dumps(saved))
    loaded, warnings = settings_module.load(path)
    assert loaded.effect.blur_style == "gaussian" and loaded.mask.guard is False  # its section alone falls back
    assert any("effect settings that were out of range" in w for w in warnings)


def test_a_flat_file_of_an_earlier_version_is_read_and_saved_by_section(tmp_path):
    path = tmp_path / "settings.json"
    flat = {"source": "/videos/talk.mp4", "width": 640, "height": 360, "fps": 25.0, "loop": True,
            "effect": "image", "background": "/x/beach.jpg", "background_video": "", "color": [1, 2, 3],
            "blur_strength": 0.7, "splash_strength": 0.4, "edge_softness": 0.1, "smoothing": 0.9,
            "threshold": None, "mirror": True, "model": "auto", "device": "cpu", "quality": "best",
            "output": "none", "vcam_backend": None, "vcam_device": "/dev/video10", "max_frames": None,
            "user_backgrounds": ["/x/beach.jpg"], "preview_mirror": False, "window_geometry": "AAA="}
    path.write_text(json.dumps(flat))  # what segcam wrote before settings had sections
    loaded, warnings = settings_module.load(path)
    assert warnings == []
    assert {key: loaded.get(key) for key in flat} == {**flat, "color": (1, 2, 3)}
    settings_module.save(loaded, path)
    saved = json.loads(path.read_text())
    assert saved["version"] == 2 and set(saved) == {"version", "source", "model", "mask", "effect", "output", "app"}
    assert saved["effect"]["blur_strength"] == 0.7 and saved["source"]["source"] == "/videos/talk.mp4"
    assert settings_module.load(path) == (loaded, [])


def test_a_section_out_of_range_falls_back_alone(tmp_path):
    path = tmp_path / "settings.json"
    data = Settings(effect="splash", smoothing=0.9).to_dict()
    data["source"]["width"] = -5
    data["mask"] = "not a section"
    path.write_text(json.dumps(data))
    loaded, warnings = settings_module.load(path)
    assert loaded.source == Settings().source and loaded.mask == Settings().mask
    assert loaded.effect.name == "splash"  # the other sections are kept
    assert len(warnings) == 2 and any("source" in w for w in warnings) and any("mask" in w for w in warnings)


def test_a_settings_file_named_by_the_user_is_never_moved(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text("{ not json")
    with pytest.raises(SettingsError, match="Cannot read settings file") as error:
        settings_module.read(path)
    assert error.value.setting == "settings" and path.read_text() == "{ not json"
    assert list(tmp_path.iterdir()) == [path]


def test_the_file_dialogs_folders_are_kept_and_bad_ones_dropped(tmp_path):
    path = tmp_path / "settings.json"
    settings_module.save(Settings(recent_folders={"backgrounds": "/pictures"}), path)
    assert settings_module.load(path)[0].app.recent_folders == {"backgrounds": "/pictures"}
    data = json.loads(path.read_text())
    data["app"]["recent_folders"] = ["/pictures"]  # not a mapping of kinds to folders
    path.write_text(json.dumps(data))
    loaded, warnings = settings_module.load(path)
    assert loaded.app.recent_folders == {} and warnings == ["Ignored setting recent_folders=['/pictures']: wrong type."]
