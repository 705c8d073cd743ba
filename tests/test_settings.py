import json

import pytest

from segcam import settings as settings_module
from segcam.errors import SettingsError
from segcam.settings import Settings


def test_defaults_are_valid():
    assert Settings().validate().effect == "blur"


@pytest.mark.parametrize("change", [{"effect": "sparkle"}, {"device": "tpu"}, {"blur_strength": 2.0},
                                    {"width": 0}, {"color": (300, 0, 0)}, {"threshold": 1.5}])
def test_invalid_values_are_refused(change):
    with pytest.raises(SettingsError):
        Settings(**change).validate()


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
    assert loaded.effect == "splash"
    assert loaded.blur_strength == Settings().blur_strength
    assert loaded.mirror is False
    assert len(warnings) == 2


def test_out_of_range_values_fall_back_to_defaults_but_keep_user_backgrounds(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"effect": "nope", "user_backgrounds": ["/a.png"]}))
    loaded, warnings = settings_module.load(path)
    assert loaded.effect == Settings().effect
    assert loaded.user_backgrounds == ["/a.png"]
    assert warnings


def test_config_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGCAM_CONFIG_DIR", str(tmp_path))
    assert settings_module.config_path() == tmp_path / "settings.json"
