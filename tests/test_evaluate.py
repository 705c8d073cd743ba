"""`segcam eval`: IoU on image folders (known answers) and flicker on video."""

import json

import cv2
import numpy as np
import pytest

from segcam import evaluate
from segcam.cli import main


def brightness_predictor(image: np.ndarray) -> np.ndarray:
    """A stand-in network: bright pixels are the person."""
    return (image.mean(axis=2) / 255.0).astype(np.float32)


def square_image(left: int, size=(60, 80)) -> np.ndarray:
    image = np.zeros((*size, 3), np.uint8)
    image[10:50, left:left + 40] = 255
    return image


def square_mask(left: int, size=(60, 80)) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    mask[10:50, left:left + 40] = 255
    return mask


@pytest.fixture
def synthetic_set(tmp_path):
    """Two good pairs (IoU 1 and 1/3) and four that cannot be evaluated, each for its own reason."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    cv2.imwrite(str(images / "exact.jpg"), square_image(10))
    cv2.imwrite(str(masks / "exact.png"), square_mask(10))
    # truth shifted 20 px: intersection 40x20, union 40x60 -> IoU 1/3
    cv2.imwrite(str(images / "shifted.png"), square_image(10))
    cv2.imwrite(str(masks / "shifted.png"), square_mask(30))
    cv2.imwrite(str(images / "no_mask.png"), square_image(0))
    cv2.imwrite(str(masks / "no_image.png"), square_mask(0))
    cv2.imwrite(str(images / "colour_mask.png"), square_image(0))
    cv2.imwrite(str(masks / "colour_mask.png"), cv2.cvtColor(square_mask(0), cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(images / "broken.png"), square_image(0))
    (masks / "broken.png").write_bytes(b"\x89PNG not really")
    cv2.imwrite(str(images / "wrong_size.png"), square_image(0))
    cv2.imwrite(str(masks / "wrong_size.png"), square_mask(0, size=(30, 40)))
    return images, masks


def test_iou():
    a = np.zeros((10, 10), bool)
    b = a.copy()
    assert evaluate.iou(a, b) == 1.0  # nobody, and nobody found
    a[:5] = True
    assert evaluate.iou(a, b) == 0.0
    b[:, :5] = True
    assert evaluate.iou(a, b) == pytest.approx(25 / 75)


def test_known_iou_and_every_problem_reported(synthetic_set):
    images, masks = synthetic_set
    pairs, problems = evaluate.pair_by_stem(images, masks)
    report = evaluate.evaluate_images(brightness_predictor, pairs, 0.5, "bright", problems)
    assert dict(report.per_image) == pytest.approx({"exact": 1.0, "shifted": 1 / 3})
    assert report.mean_iou == pytest.approx(2 / 3) and report.median_iou == pytest.approx(2 / 3)
    reasons = "\n".join(report.problems)
    assert len(report.problems) == 5
    for expected in ("no_mask: no mask", "no_image: no image", "colour_mask: cannot read",
                     "broken: cannot read", "wrong_size: mask is 40x30 but image is 80x60"):
        assert expected in reasons


def test_threshold_counts(synthetic_set):
    images, masks = synthetic_set
    pairs, _ = evaluate.pair_by_stem(images, masks, ["exact"])
    # a grey square is "person" at threshold 0.4, nothing at 0.6
    cv2.imwrite(str(pairs[0].image), square_image(10) // 2)
    assert evaluate.evaluate_images(brightness_predictor, pairs, 0.4).mean_iou == 1.0
    assert evaluate.evaluate_images(brightness_predictor, pairs, 0.6).mean_iou == 0.0


def test_list_file_picks_names_and_reports_missing(synthetic_set, tmp_path):
    images, masks = synthetic_set
    listing = tmp_path / "split.txt"
    listing.write_text("exact\nshifted.jpg\n\n# a comment\nabsent\n")
    pairs, problems = evaluate.pair_by_stem(images, masks, evaluate.read_list(listing))
    assert [p.name for p in pairs] == ["exact", "shifted"]
    assert problems == ["absent: neither image nor mask found"]


def test_flicker():
    zeros, ones = np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)
    assert evaluate.flicker([zeros, ones, zeros]) == 1.0
    assert evaluate.flicker([ones] * 5) == 0.0
    assert evaluate.flicker([ones]) == 0.0


def known_iou_from_the_model(models_installed, shared_dir, tmp_path):
    """Masks made from MediaPipe's own output, one with half the person removed: IoU known exactly."""
    from segcam.segmenter import Segmenter

    segmenter = Segmenter("mediapipe-general", device="cpu")
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    expected = {}
    for stem in ("vs_011", "vs_013", "vs_016"):
        image = cv2.imread(str(shared_dir / "data" / "people" / "images" / f"{stem}.jpg"))
        cv2.imwrite(str(images / f"{stem}.png"), image)  # lossless, so eval sees the same pixels
        predicted = segmenter.segment(image) >= 0.5
        truth = predicted.copy()
        if stem == "vs_013":
            rows = np.nonzero(truth.any(axis=1))[0]
            truth[rows[len(rows) // 2]:] = False  # keep the upper half of the person
        cv2.imwrite(str(masks / f"{stem}.png"), truth.astype(np.uint8) * 255)
        expected[stem] = truth.sum() / predicted.sum()
    return images, masks, expected


def test_cli_json_and_per_image(models_installed, shared_dir, tmp_path, capsys):
    images, masks, expected = known_iou_from_the_model(models_installed, shared_dir, tmp_path)
    cv2.imwrite(str(images / "orphan.png"), np.zeros((8, 8, 3), np.uint8))
    code = main(["eval", "--images", str(images), "--masks", str(masks), "--model", "mediapipe-general",
                 "--json", "--per-image", "--device", "cpu"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "mediapipe-general" and data["images"] == 3
    assert data["per_image"] == pytest.approx(expected, abs=1e-9)
    assert data["per_image"]["vs_011"] == 1.0 and data["per_image"]["vs_013"] < 0.8
    assert data["mean_iou"] == pytest.approx(np.mean(list(expected.values())))
    assert data["median_iou"] == pytest.approx(np.median(list(expected.values())))
    assert data["problems"] == [f"orphan: no mask in {masks}"]


def test_cli_text_lists_problems(synthetic_set, models_installed, capsys):
    images, masks = synthetic_set
    assert main(["eval", "--images", str(images), "--masks", str(masks), "--model", "mediapipe-landscape"]) == 0
    captured = capsys.readouterr()
    assert "mediapipe-landscape: mean IoU" in captured.out and "5 not evaluated" in captured.out
    assert captured.err.count("not evaluated:") == 5


def test_cli_needs_images_and_masks_or_video(capsys):
    assert main(["eval", "--images", "somewhere"]) == 2
    assert "needs --images DIR and --masks DIR" in capsys.readouterr().err


def test_video_flicker_is_cut_by_the_refiner(models_installed, carphone_clip, hamilton_clip, capsys):
    # measured 0.70-0.83 of the raw flicker on these clips: the refiner follows real movement
    # (which counts as flicker here) and steadies what is still. It smoothed more (0.60-0.74)
    # before it stopped smoothing where the picture moves, which cost IoU on moving people
    # (see test_motion_eval.py, where lag and noise are measured against moving truth)
    for clip in (carphone_clip, hamilton_clip):
        assert main(["eval", "--video", str(clip), "--json", "--device", "cpu"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert set(data) >= {"model", "flicker_raw", "flicker_refined"}
        assert data["model"].startswith("mediapipe-")  # auto: picked by frame shape, as `segcam run` does
        assert 0 < data["flicker_refined"] <= 0.9 * data["flicker_raw"]
