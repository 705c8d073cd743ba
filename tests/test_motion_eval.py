"""`segcam eval --motion`: moving clips made from labelled stills, scored against moving truth."""

import json

import cv2
import numpy as np
import pytest

from segcam import evaluate, motion_eval
from segcam.cli import main
from segcam.evaluate import iou, pair_by_stem


def person_still(size=(120, 90)):
    """A bright 'person' block on a dark picture, and its mask."""
    height, width = size
    image = np.full((height, width, 3), 40, np.uint8)
    truth = np.zeros((height, width), bool)
    truth[30:, 30:60] = True
    image[truth] = (200, 180, 160)
    return image, truth


def test_moving_clip_moves_the_person_and_the_truth_together():
    image, truth = person_still()
    background = np.full((50, 80, 3), (10, 200, 10), np.uint8)
    frames, truths = motion_eval.moving_clip(image, truth, background, np.random.default_rng(0), frames=20)
    assert len(frames) == len(truths) == 20
    assert frames[0].shape == (360, 640, 3) and truths[0].shape == (360, 640)
    centres = [np.nonzero(t)[1].mean() for t in truths]
    assert max(centres) - min(centres) > 10  # the person sways
    for frame, t in zip(frames, truths):
        inside = frame[t].astype(float).mean(axis=0)
        outside = frame[~t].astype(float).mean(axis=0)
        assert inside[2] > 140 and outside[1] > 150  # person where the truth says, background elsewhere


def test_fast_clip_moves_10_to_30_pixels_a_frame_and_changes_shape():
    people_like = np.full((200, 160, 3), 40, np.uint8)
    truth = np.zeros((200, 160), bool)
    truth[60:, 55:105] = True  # the torso
    truth[70:150, 10:30] = truth[70:150, 130:150] = True  # two arms, well beside it
    people_like[truth] = (200, 180, 160)
    background = np.full((50, 80, 3), (10, 200, 10), np.uint8)
    _, truths = motion_eval.moving_clip(people_like, truth, background, np.random.default_rng(3),
                                        frames=45, motion="fast")
    centres = np.array([np.nonzero(t)[1].mean() for t in truths])
    speeds = np.abs(np.diff(centres))
    assert 10 <= speeds.max() <= 40 and speeds.mean() > 5
    # not only moved: the shape changes (arms swing, the body turns), so no shift of one
    # frame's truth matches the next
    worst = 1.0
    for before, after in zip(truths, truths[1:]):
        shift = int(round(np.nonzero(after)[1].mean() - np.nonzero(before)[1].mean()))
        worst = min(worst, iou(np.roll(before, shift, axis=1), after))
    assert worst < 0.9
    with pytest.raises(ValueError):
        motion_eval.moving_clip(people_like, truth, background, np.random.default_rng(3), motion="dance")


def test_dtssd_counts_lag_and_not_following():
    image, truth = person_still()
    _, truths = motion_eval.moving_clip(image, truth, image, np.random.default_rng(1), frames=10)
    exact = [t.astype(np.float32) for t in truths]
    assert evaluate.dtssd(exact, truths) == 0.0
    frozen = [exact[0]] * len(exact)  # a mask that never moves
    lagging = [exact[0]] + exact[:-1]  # one frame behind
    assert evaluate.dtssd(frozen, truths) > 0.01
    assert evaluate.dtssd(lagging, truths) > 0.01


@pytest.mark.parametrize("motion", motion_eval.MOTIONS)
def test_refined_masks_keep_up_with_a_moving_person(motion, models_installed, shared_dir):
    from segcam.processor import FrameProcessor
    from segcam.settings import Settings

    people = shared_dir / "data" / "people"
    names = [line.strip() for line in (people / "split_val60.txt").read_text().split()][:4]
    pairs, problems = pair_by_stem(people / "images", people / "masks", names)
    assert not problems and len(pairs) == 4
    backgrounds = sorted((shared_dir / "data" / "backgrounds" / "images").glob("*.jpg"))[:4]
    processor = FrameProcessor(Settings(model="mediapipe-landscape", device="cpu"))
    report = motion_eval.evaluate_motion(processor, pairs, backgrounds, model="mediapipe-landscape", motion=motion)
    assert report.clips == 4 and report.motion == motion
    assert 0.7 < report.iou_raw <= 1.0
    # steadier than the raw mask without trailing the person: no IoU lost (within noise),
    # and the temporal error against the moving truth is lower
    assert report.flicker_refined < report.flicker_raw
    assert report.iou_refined > report.iou_raw - 0.002
    assert report.dtssd_refined < report.dtssd_raw


def test_cli_motion_json(models_installed, shared_dir, tmp_path, capsys):
    people = shared_dir / "data" / "people"
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for name in ("vs_011", "vs_013"):
        (images / f"{name}.jpg").write_bytes((people / "images" / f"{name}.jpg").read_bytes())
        (masks / f"{name}.png").write_bytes((people / "masks" / f"{name}.png").read_bytes())
    backgrounds = tmp_path / "backgrounds"
    backgrounds.mkdir()
    cv2.imwrite(str(backgrounds / "wall.png"), np.full((360, 640, 3), 90, np.uint8))
    (backgrounds / "notes.txt").write_text("not a picture")
    code = main(["eval", "--images", str(images), "--masks", str(masks), "--motion", str(backgrounds),
                 "--json", "--device", "cpu"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    motion = data["motion"]
    assert motion["clips"] == 2 and motion["model"] == data["model"]
    assert set(motion) >= {"iou_raw", "iou_refined", "dtssd_raw", "dtssd_refined", "flicker_truth"}
    assert 0 < motion["flicker_truth"] < 0.1 and 0 < motion["dtssd_refined"] < 1


@pytest.mark.parametrize("make", ["missing", "empty", "unreadable"])
def test_cli_motion_without_usable_backgrounds(make, models_installed, tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    image, truth = person_still()
    cv2.imwrite(str(images / "block.png"), image)
    cv2.imwrite(str(masks / "block.png"), truth.astype(np.uint8) * 255)
    folder = tmp_path / "bg"
    if make != "missing":
        folder.mkdir()
    if make == "unreadable":
        (folder / "broken.jpg").write_bytes(b"not a jpeg")
    code = main(["eval", "--images", str(images), "--masks", str(masks), "--motion", str(folder)])
    assert code == 2
    assert "--motion" in capsys.readouterr().err


@pytest.fixture
def labelled_sequence(shared_dir, tmp_path):
    """Eight frames of a person talking, written as numbered images with their true masks."""
    people = shared_dir / "data" / "people"
    pair = pair_by_stem(people / "images", people / "masks", ["vs_011"])[0][0]
    image, truth = evaluate.load_pair(pair)
    background = cv2.imread(str(sorted((shared_dir / "data" / "backgrounds" / "images").glob("*.jpg"))[0]))
    frames, truths = motion_eval.moving_clip(image, truth, background, np.random.default_rng(2), frames=8)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for index, (frame, true) in enumerate(zip(frames, truths)):
        cv2.imwrite(str(images / f"frame{index:03d}.png"), frame)
        cv2.imwrite(str(masks / f"frame{index:03d}.png"), true.astype(np.uint8) * 255)
    return images, masks


@pytest.mark.parametrize("model", ["mediapipe-landscape", "rvm"])
def test_cli_sequence_scores_iou_and_temporal_error(model, rvm_installed, labelled_sequence, capsys):
    images, masks = labelled_sequence
    assert main(["eval", "--images", str(images), "--masks", str(masks), "--sequence", "--model", model,
                 "--json", "--device", "cpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == model and data["frames"] == 8 and not data["problems"]
    assert 0.7 < data["mean_iou"] <= 1 and 0.7 < data["mean_iou_refined"] <= 1
    assert 0 < data["dtssd"] < 0.3 and 0 < data["dtssd_refined"] < 0.3
    assert main(["eval", "--images", str(images), "--masks", str(masks), "--sequence", "--model", model]) == 0
    assert "8 frames in sequence" in capsys.readouterr().out
