"""Training: data sources, augmentation, loss, and tiny real runs that write usable model files."""

import json

import cv2
import numpy as np
import pytest
import torch

from segcam.cli import main
from segcam.models import modelfile
from segcam.train import augment, datasets
from segcam.train.loop import TrainConfig, train
from segcam.train.losses import segmentation_loss, soft_dice_loss

SIZE = (32, 64)  # tiny, so a few steps take well under a second


def write_blob_set(root, count=6, size=(48, 80)):
    """Images with a bright ellipse (the "person") on a dark textured background, and its mask."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        image = rng.integers(0, 60, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        center = (int(rng.integers(20, size[1] - 20)), int(rng.integers(15, size[0] - 10)))
        cv2.ellipse(mask, center, (12, 18), 0, 0, 360, 255, -1)
        image[mask > 0] = (200, 180, 160)
        cv2.imwrite(str(root / "images" / f"s{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"s{i}.png"), mask)
    return root


# -- loss -------------------------------------------------------------------------------

def test_loss_prefers_the_right_answer_and_respects_weights():
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1.0
    right, wrong = (target * 2 - 1) * 6, (1 - target * 2) * 6
    assert segmentation_loss(right, target) < 0.05 < segmentation_loss(wrong, target)
    assert float(soft_dice_loss(right, target).max()) < 0.01
    mixed = torch.cat([right[:1], wrong[1:]])
    # a sample with weight 0 does not count at all
    assert segmentation_loss(mixed, target, torch.tensor([1.0, 0.0])) == pytest.approx(
        float(segmentation_loss(right[:1], target[:1])), rel=1e-5)
    soft = torch.full_like(target, 0.3)  # a teacher's soft target is matched by its own logit
    at_target = segmentation_loss(torch.logit(soft), soft, dice_weight=0.0)
    assert at_target < segmentation_loss(torch.logit(soft) + 1, soft, dice_weight=0.0)


# -- augmentation -----------------------------------------------------------------------

def test_augmentation_moves_image_and_mask_together():
    torch.manual_seed(0)
    mask = np.zeros((120, 200), np.float32)
    cv2.ellipse(mask, (90, 70), (40, 50), 0, 0, 360, 1.0, -1)
    image = np.where(mask[..., None] > 0, 230, 20).astype(np.uint8).repeat(3, axis=2)
    transform = augment.training_transform((72, 128))
    for _ in range(10):
        out = transform(datasets.make_sample(image, mask))
        assert out["image"].shape == (3, 72, 128) and out["image"].dtype == torch.float32
        assert out["target"].shape == (1, 72, 128)
        bright = out["image"].mean(0) > out["image"].mean()
        agree = (bright == (out["target"][0] > 0.5)).float().mean()
        assert agree > 0.95  # colour changes never move the person away from its mask


# -- data sources -----------------------------------------------------------------------

def test_folder_dataset_and_list_file(tmp_path):
    root = write_blob_set(tmp_path / "set")
    (root / "split.txt").write_text("s0\ns2\nmissing\n")
    data = datasets.folder_dataset(root / "split.txt")
    assert len(data) == 2
    sample = data[0]
    assert sample["image"].dtype == torch.uint8 and sample["image"].shape == (3, 48, 80)
    assert set(torch.unique(sample["target"]).tolist()) == {0.0, 1.0}
    assert len(datasets.folder_dataset(root)) == 6


def test_cutout_composites_label_what_was_pasted(tmp_path):
    cutouts, backgrounds = tmp_path / "cutouts", tmp_path / "backgrounds"
    cutouts.mkdir()
    backgrounds.mkdir()
    person = np.zeros((60, 30, 4), np.uint8)
    person[..., :3] = (0, 0, 255)
    person[5:55, 5:25, 3] = 255  # opaque body, transparent margin
    cv2.imwrite(str(cutouts / "p.png"), person)
    cv2.imwrite(str(backgrounds / "b.png"), np.full((90, 160, 3), (0, 255, 0), np.uint8))
    data = datasets.CutoutComposites(cutouts, backgrounds, length=5, canvas=(72, 128))
    torch.manual_seed(0)
    for i in range(5):
        sample = data[i]
        rgb, target = sample["image"].numpy(), sample["target"][0].numpy()
        assert rgb.shape == (3, 72, 128) and target.max() == 1.0
        red, green = rgb[0] > 200, rgb[1] > 200
        assert red[target > 0.95].all() and green[target < 0.05].all()  # the label is the paste


def write_coco(root):
    """A two-image COCO file: people as polygon and crowd RLE, a dog, and an image without people."""
    from pycocotools import mask as mask_utils

    (root / "images").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(root / "images" / name), np.full((40, 60, 3), 128, np.uint8))
    crowd = np.zeros((40, 60), np.uint8, order="F")
    crowd[30:40, 0:10] = 1
    rle = mask_utils.encode(crowd)
    rle["counts"] = rle["counts"].decode()
    instances = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 40, "width": 60},
                   {"id": 2, "file_name": "b.jpg", "height": 40, "width": 60}],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 200, "bbox": [10, 5, 20, 10],
             "segmentation": [[10, 5, 30, 5, 30, 15, 10, 15]]},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 100, "bbox": [0, 30, 10, 10],
             "segmentation": rle},
            {"id": 12, "image_id": 1, "category_id": 18, "iscrowd": 0, "area": 100, "bbox": [40, 20, 10, 10],
             "segmentation": [[40, 20, 50, 20, 50, 30, 40, 30]]},
            {"id": 13, "image_id": 2, "category_id": 18, "iscrowd": 0, "area": 100, "bbox": [0, 0, 10, 10],
             "segmentation": [[0, 0, 10, 0, 10, 10, 0, 10]]},
        ],
    }
    path = root / "instances.json"
    path.write_text(json.dumps(instances))
    return path


def test_coco_reader_takes_people_only(tmp_path):
    annotations = write_coco(tmp_path)
    data = datasets.CocoPeople(annotations, tmp_path / "images")
    assert len(data) == 1  # the image with only a dog is not used
    target = data[0]["target"][0].numpy()
    assert target[10, 20] == 1.0  # inside the polygon
    assert target[35, 5] == 1.0  # inside the crowd region
    assert target[25, 45] == 0.0  # the dog
    assert target[2, 55] == 0.0
    assert 200 <= target.sum() <= 300  # polygon (~20x10, edges rasterised) + crowd (10x10)


# -- training runs ----------------------------------------------------------------------

def tiny_config(tmp_path, root, **changes):
    config = TrainConfig(out_dir=str(tmp_path / "run"), model="segnet", input_size=SIZE, folders=[str(root)],
                         val=str(root), epochs=6, batch_size=3, lr=1e-2, warmup_steps=1, augment=False,
                         progress=False)
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def test_tiny_training_run_lowers_the_loss_and_writes_a_usable_model(tmp_path):
    root = write_blob_set(tmp_path / "set")
    lines = []
    result = train(tiny_config(tmp_path, root), report=lines.append)
    losses = [record["loss"] for record in result.history]
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0]
    assert all("val_iou" in record for record in result.history)
    assert result.best_iou == max(record["val_iou"] for record in result.history)
    network, info = modelfile.load(result.model_file)
    assert info.architecture == "segnet" and info.input_size == SIZE
    assert info.provenance["metrics"]["val_iou"] == pytest.approx(result.best_iou)
    assert info.provenance["epochs"] == result.best_epoch and info.provenance["data"]
    assert any(line.startswith("epoch 6/6: loss") for line in lines)
    history = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert len(history) == 6


def test_resume_continues_where_it_stopped(tmp_path):
    root = write_blob_set(tmp_path / "set")
    first = train(tiny_config(tmp_path, root, epochs=4, steps_per_epoch=1))
    assert len(first.history) == 4
    config = tiny_config(tmp_path, root, epochs=4, steps_per_epoch=1, resume=True)
    again = train(config)  # all epochs done: nothing more to do
    assert again.history == first.history
    with pytest.raises(Exception, match="Nothing to resume"):
        train(tiny_config(tmp_path, root, out_dir=str(tmp_path / "elsewhere"), resume=True))


def test_training_can_continue_from_a_model_file(tmp_path):
    root = write_blob_set(tmp_path / "set")
    first = train(tiny_config(tmp_path, root, epochs=2, steps_per_epoch=1))
    second = train(tiny_config(tmp_path, root, model=str(first.model_file), input_size=None,
                               out_dir=str(tmp_path / "more"), epochs=1, steps_per_epoch=1))
    _, info = modelfile.load(second.model_file)
    assert info.input_size == SIZE  # kept from the file it continued from
    assert info.provenance["base"].startswith("model file best.pt")
    assert info.provenance["base_provenance"]["epochs"] == first.best_epoch


def test_trained_file_runs_in_segcam_run(tmp_path, capsys):
    root = write_blob_set(tmp_path / "set")
    assert main(["train", "--out", str(tmp_path / "run"), "--folder", str(root), "--input-size", "64x32",
                 "--epochs", "1", "--batch-size", "3", "--quiet"]) == 0
    model = tmp_path / "run" / "best.pt"
    assert f"segcam run --model {model}" in capsys.readouterr().out
    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 90))
    for i in range(6):
        writer.write(np.full((90, 160, 3), 40 * i, np.uint8))
    writer.release()
    out = tmp_path / "out.avi"
    assert main(["run", "--model", str(model), "--source", str(video), "--output", str(out), "--size", "160x90",
                 "--effect", "blur", "--quiet"]) == 0
    capture = cv2.VideoCapture(str(out))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert frames == 6


def test_fine_tune_mediapipe_changes_its_weights(models_installed, tmp_path):
    from segcam.models import registry

    root = write_blob_set(tmp_path / "set", count=4, size=(72, 128))
    config = tiny_config(tmp_path, root, model="mediapipe-landscape", input_size=None, epochs=1,
                         steps_per_epoch=2, batch_size=2, lr=1e-3, val="")
    result = train(config)
    network, info = modelfile.load(result.model_file)
    assert info.architecture == "mediapipe-selfie" and info.options == {"variant": "landscape"}
    assert info.input_size == (144, 256) and "mediapipe-landscape weights" in info.provenance["base"]
    original = registry.create_model("mediapipe-landscape").state_dict()
    tuned = network.state_dict()
    assert tuned.keys() == original.keys()
    assert any(not torch.equal(tuned[k], original[k]) for k in tuned)


def test_teacher_labels_are_the_teachers_soft_masks(models_installed, carphone_clip):
    from segcam.segmenter import Segmenter

    frames = datasets.unlabelled_frames(carphone_clip, every=60)
    data = datasets.teacher_dataset(frames, "mediapipe-general", weight=0.5, device="cpu")
    assert len(data) == 2 and data[0]["weight"] == 0.5
    expected = Segmenter("mediapipe-general", device="cpu").segment(frames[0])
    np.testing.assert_allclose(data[0]["target"][0].numpy(), expected, atol=1e-6)
    assert 0.0 < float(data[0]["target"].mean()) < 1.0


def test_torchrun_two_processes_on_the_cpu(tmp_path):
    """DistributedDataParallel through torchrun (gloo on the CPU): one report, one model file."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = write_blob_set(tmp_path / "set")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [str(torchrun), "--standalone", "--nproc-per-node", "2", "--module", "segcam", "train",
               "--out", str(tmp_path / "run"), "--folder", str(root), "--val", str(root),
               "--input-size", "64x32", "--epochs", "2", "--batch-size", "2", "--quiet"]
    # its own process group, so a hang cannot leave torchrun's workers behind
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "on cpu x2" in done.stderr
    assert done.stdout.count("best.pt") == 2 and len(done.stdout.strip().splitlines()) == 1
    network, info = modelfile.load(tmp_path / "run" / "best.pt")
    assert info.provenance["epochs"] >= 1


def test_one_schedule_warms_up_then_falls_to_zero_for_train_and_calibrate():
    from segcam.train import fit, loop, step

    assert fit.learning_rate_factor is step.learning_rate_factor  # calibrate and the learner train through fit
    warmup = [step.learning_rate_factor(0.0, s, 10) for s in range(10)]
    assert warmup == sorted(warmup) and warmup[-1] == 1.0
    assert step.learning_rate_factor(0.5, 50, 10) == pytest.approx(0.5)
    assert step.learning_rate_factor(1.0, 99, 10) == pytest.approx(0.0)
    # `train` runs the same curve by steps, the cosine starting after its warm-up
    by_steps = loop._schedule(110, 10)
    assert by_steps(5) == step.learning_rate_factor(0.0, 5, 10)
    assert by_steps(60) == pytest.approx(0.5) and by_steps(110) == pytest.approx(0.0)
