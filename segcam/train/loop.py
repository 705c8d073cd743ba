"""The training loop behind `segcam train`: from scratch (segcam's own network) or fine-tuning.

The step and the schedule (AdamW, BCE + Dice, warm-up then cosine, AMP on CUDA) are
step.py's, shared with calibration and the online learner; a checkpoint after every epoch
(`resume` continues from it), validation IoU after every epoch, and the best epoch exported
as a segcam model file. Under `torchrun` it runs DistributedDataParallel, one process per
GPU; a plain single process on a CPU works too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset
from tqdm import tqdm

from segcam import evaluate
from segcam.errors import SettingsError
from segcam.models import architectures, modelfile, registry
from segcam.train import augment, datasets
from segcam.train.step import Stepper, learning_rate_factor

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
HISTORY = "history.jsonl"
FINE_TUNABLE = ("mediapipe-general", "mediapipe-landscape")


@dataclass
class TrainConfig:
    out_dir: str
    model: str = "segnet"  # "segnet" from scratch, a MediaPipe name to fine-tune, or a model file
    input_size: tuple[int, int] | None = None  # segnet only; default segnet.DEFAULT_INPUT_SIZE
    folders: list[str] = field(default_factory=list)  # labelled folders or list files in them
    coco: list[tuple[str, str]] = field(default_factory=list)  # (instances JSON, images folder)
    cutouts: str = ""  # RGBA cut-outs folder, with `backgrounds`, for `synthetic` composites per epoch
    backgrounds: str = ""
    synthetic: int = 0
    teacher_images: list[str] = field(default_factory=list)  # unlabelled image folders
    teacher_videos: list[str] = field(default_factory=list)  # unlabelled videos
    teacher: str = "mediapipe-general"
    teacher_weight: float = 0.5
    video_every: int = 3  # every n-th frame of a teacher video (neighbours are near duplicates)
    val: str = ""  # labelled folder or list file for validation IoU
    threshold: float = 0.5
    epochs: int = 10
    batch_size: int = 16
    lr: float | None = None  # default: 3e-3 from scratch, 3e-4 when fine-tuning
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    warmup_steps: int = 50
    augment: bool = True
    steps_per_epoch: int | None = None  # cap (for quick runs); default: one pass over the data
    workers: int | None = None  # default 0 on a CPU (its cores are busy training), 4 on a GPU
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    progress: bool = True


@dataclass
class TrainResult:
    model_file: Path
    best_iou: float | None
    best_epoch: int
    history: list[dict]
    parameters: int


@dataclass
class Trainable:
    """A network ready to train, and what its model file must say about it."""

    network: nn.Module
    architecture: str
    options: dict
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    base: str  # where the starting weights came from
    base_provenance: dict = field(default_factory=dict)  # when continuing from a model file


def trainable(config: TrainConfig) -> Trainable:
    from segcam.models import segnet

    if config.model == "segnet":
        size = tuple(config.input_size or segnet.DEFAULT_INPUT_SIZE)
        if size[0] % 16 or size[1] % 16:
            raise SettingsError(f"segnet needs an input size that 16 divides, got {size[1]}x{size[0]}.")
        return Trainable(architectures.build("segnet"), "segnet", {}, size, segnet.MEAN, segnet.STD,
                         "random initialisation")
    if config.input_size:
        raise SettingsError("--input-size applies to segnet only; the other networks keep theirs.")
    if config.model in FINE_TUNABLE:
        spec = registry.get(config.model)
        variant = config.model.split("-", 1)[1]
        return Trainable(registry.create_model(config.model), "mediapipe-selfie", {"variant": variant},
                         spec.input_size, spec.mean, spec.std, f"{config.model} weights ({spec.license})")
    if modelfile.looks_like_model_file(config.model):
        info = modelfile.read(config.model)
        return Trainable(info.build(), info.architecture, info.options, info.input_size, info.mean, info.std,
                         f"model file {Path(config.model).name} (sha256 {info.sha256[:12]})", info.provenance)
    raise SettingsError(f"Cannot train {config.model!r}: choose segnet, {', '.join(FINE_TUNABLE)}, "
                        "or a segcam model file to continue from.")


def build_training_data(config: TrainConfig, size: tuple[int, int], device: str) -> ConcatDataset:
    sources: list[Dataset] = [datasets.folder_dataset(path) for path in config.folders]
    sources += [datasets.CocoPeople(ann, images) for ann, images in config.coco]
    if config.synthetic:
        if not (config.cutouts and config.backgrounds):
            raise SettingsError("Synthetic pairs need both --cutouts and --backgrounds.")
        sources.append(datasets.CutoutComposites(config.cutouts, config.backgrounds, config.synthetic))
    unlabelled = [(datasets.unlabelled_images(p), p) for p in config.teacher_images]
    unlabelled += [(datasets.unlabelled_frames(p, config.video_every), p) for p in config.teacher_videos]
    for images, origin in unlabelled:
        sources.append(datasets.teacher_dataset(
            images, config.teacher, config.teacher_weight, device="cpu" if device == "cpu" else "auto",
            description=f"{origin} ({len(images)} frames labelled by {config.teacher})"))
    if not sources:
        raise SettingsError("No training data: give --folder, --coco, --synthetic or --teacher-* sources.")
    transform = augment.training_transform(size) if config.augment else augment.validation_transform(size)
    for source in sources:
        source.transform = transform
    return ConcatDataset(sources)


def _schedule(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """step.py's schedule by steps: the cosine runs over the steps after the warm-up."""
    def factor(step: int) -> float:
        return learning_rate_factor((step - warmup_steps) / max(1, total_steps - warmup_steps), step, warmup_steps)

    return factor


def _distributed_context() -> tuple[int, int, int]:
    """(world size, rank, local rank) as torchrun sets them; (1, 0, 0) for a plain process."""
    return (int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
            int(os.environ.get("LOCAL_RANK", 0)))


def train(config: TrainConfig, report: Callable[[str], None] = lambda line: print(line, file=sys.stderr)
          ) -> TrainResult:
    from segcam.models.segnet import parameter_count
    from segcam.segmenter import pick_device

    world, rank, local_rank = _distributed_context()
    distributed = world > 1
    device = pick_device(config.device)
    if distributed:
        import torch.distributed as dist

        if device == "cuda":
            torch.cuda.set_device(local_rank)
            device = f"cuda:{local_rank}"
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    main_process = rank == 0
    say = report if main_process else (lambda line: None)
    torch.manual_seed(config.seed + rank)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    model = trainable(config)
    network = model.network.to(device)
    if distributed and device.startswith("cuda"):
        network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
    train_set = build_training_data(config, model.input_size, device)
    val_pairs, val_problems = _validation_pairs(config.val)
    for problem in val_problems:
        say(f"validation: left out {problem}")

    sampler = None
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed)
    workers = config.workers if config.workers is not None else (0 if device == "cpu" else 4)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=workers, drop_last=len(train_set) > config.batch_size,
                        pin_memory=device.startswith("cuda"), persistent_workers=workers > 0)
    steps_per_epoch = min(len(loader), config.steps_per_epoch or len(loader))
    fine_tuning = model.base != "random initialisation"
    lr = config.lr if config.lr is not None else (3e-4 if fine_tuning else 3e-3)
    wrap = None
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        def wrap(module: nn.Module) -> nn.Module:
            return DistributedDataParallel(module, device_ids=[local_rank] if device.startswith("cuda") else None)
    stepper = Stepper(network, model.mean, model.std, lr=lr, weight_decay=config.weight_decay, device=device,
                      dice_weight=config.dice_weight, wrap=wrap)
    optimizer, scaler = stepper.optimizer, stepper.scaler
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(total_steps, min(config.warmup_steps, total_steps // 5)))

    state = {"epoch": 0, "best_iou": None, "best_epoch": 0, "history": []}
    checkpoint_path = out_dir / CHECKPOINT
    if config.resume:
        state = _resume(checkpoint_path, model, network, optimizer, scheduler, scaler)
        say(f"resumed from {checkpoint_path} after epoch {state['epoch']}")
    sources = [getattr(d, "description", type(d).__name__) for d in train_set.datasets]
    if state["epoch"] == 0:
        say(f"training {config.model} ({model.architecture}, {parameter_count(network):,} parameters) at "
            f"{model.input_size[1]}x{model.input_size[0]} on {device}{f' x{world}' if distributed else ''}: "
            f"{len(train_set)} samples per epoch from " + "; ".join(sources))

    best_file = out_dir / BEST
    for epoch in range(state["epoch"], config.epochs):
        started = time.monotonic()
        if sampler is not None:
            sampler.set_epoch(epoch)
        network.train()
        losses = []
        bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not (config.progress and main_process), file=sys.stderr, leave=False)
        for step, batch in enumerate(bar):
            if step >= steps_per_epoch:
                break
            loss = stepper.step(batch)
            scheduler.step()
            losses.append(loss)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.4f}")
        bar.close()
        record = {"epoch": epoch + 1, "loss": sum(losses) / max(1, len(losses)),
                  "lr": scheduler.get_last_lr()[0], "seconds": round(time.monotonic() - started, 1)}
        if main_process:
            improved = True
            if val_pairs:
                predict = evaluate.network_predictor(network, model.input_size, model.mean, model.std, device)
                record["val_iou"] = evaluate.evaluate_images(predict, val_pairs, config.threshold).mean_iou
                improved = state["best_iou"] is None or record["val_iou"] > state["best_iou"]
            if improved:
                state["best_iou"], state["best_epoch"] = record.get("val_iou"), epoch + 1
            state["epoch"] = epoch + 1
            state["history"].append(record)
            if improved:
                _export(best_file, config, model, network, state, sources, lr)
            _save_checkpoint(checkpoint_path, config, model, network, optimizer, scheduler, scaler, state)
            with open(out_dir / HISTORY, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            val = f", val IoU {record['val_iou']:.4f} (best {state['best_iou']:.4f} @ {state['best_epoch']})" \
                if "val_iou" in record else ""
            say(f"epoch {epoch + 1}/{config.epochs}: loss {record['loss']:.4f}{val}, "
                f"lr {record['lr']:.2e}, {record['seconds']:.0f} s")
        if distributed:
            torch.distributed.barrier()
    if distributed:
        torch.distributed.destroy_process_group()
    stepper.close()
    return TrainResult(best_file, state["best_iou"], state["best_epoch"], state["history"],
                       parameter_count(network))


def _validation_pairs(val: str) -> tuple[list[evaluate.Pair], list[str]]:
    if not val:
        return [], []
    images_dir, masks_dir, names = datasets.folder_layout(val)
    return evaluate.pair_by_stem(images_dir, masks_dir, names)


def _plain(network: nn.Module) -> dict:
    """State dict without SyncBatchNorm/DDP wrappers' traces (the keys match the plain network)."""
    return {k: v.detach().cpu() for k, v in network.state_dict().items()}


def _export(path: Path, config: TrainConfig, model: Trainable, network: nn.Module, state: dict,
            sources: list[str], lr: float) -> None:
    metrics = {"val_iou": state["best_iou"]} if state["best_iou"] is not None else {}
    metrics["threshold"] = config.threshold
    provenance = {
        "base": model.base,
        "data": sources,
        "validation": config.val or "none",
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "metrics": metrics,
        "loss": f"BCE + {config.dice_weight} x soft Dice; teacher labels ({config.teacher}) "
                f"weighted {config.teacher_weight}",
        "optimizer": f"AdamW lr {lr:g} wd {config.weight_decay:g}, cosine, batch {config.batch_size}",
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if model.base_provenance:
        provenance["base_provenance"] = model.base_provenance
    # the exported weights are rebuilt into a plain network so the file loads anywhere
    plain = architectures.build(model.architecture, **model.options)
    plain.load_state_dict(_plain(network))
    modelfile.save(path, plain, model.architecture, model.input_size, model.mean, model.std,
                   options=model.options, provenance=provenance)


def _save_checkpoint(path: Path, config: TrainConfig, model: Trainable, network: nn.Module, optimizer,
                     scheduler, scaler, state: dict) -> None:
    checkpoint = {
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "architecture": model.architecture,
        "network": _plain(network),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "state": state,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)  # a crash mid-save leaves the previous checkpoint intact


def _resume(path: Path, model: Trainable, network: nn.Module, optimizer, scheduler, scaler) -> dict:
    if not path.exists():
        raise SettingsError(f"Nothing to resume: {path} does not exist.")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint["architecture"] != model.architecture:
        raise SettingsError(f"{path} trains {checkpoint['architecture']}, not {model.architecture}.")
    network.load_state_dict(checkpoint["network"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    scaler.load_state_dict(checkpoint["scaler"])
    return checkpoint["state"]
