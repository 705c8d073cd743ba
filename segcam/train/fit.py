"""Fine-tuning in memory within a time budget: the training behind `segcam calibrate`.

`segcam train` (loop.py) runs epochs over large data sets and writes checkpoints; calibration
needs the opposite: a few hundred steps on one person's frames, stopped by the clock or a
cancel, nothing written. The pieces are the same (LogitsOf, BCE + Dice, AdamW, warm-up then
cosine), except that the cosine follows whichever runs out first, the steps or the time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from segcam.train.loop import LogitsOf, Trainable
from segcam.train.losses import segmentation_loss


class Stopped(Exception):
    """`should_stop` said so between two steps; the network is left half-trained."""


@dataclass
class FitResult:
    steps: int
    seconds: float
    first_loss: float  # mean over the first tenth of the steps
    last_loss: float  # mean over the last tenth


def learning_rate_factor(progress: float, step: int, warmup_steps: int) -> float:
    """Linear warm-up over the first steps, then cosine to 0 as progress goes 0 -> 1."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def fine_tune(model: Trainable, data: Dataset, *, max_steps: int, budget_s: float, batch_size: int = 8,
              lr: float = 1e-3, weight_decay: float = 1e-4, device: str = "cpu", seed: int = 0,
              frozen: tuple[str, ...] = (), on_step: Callable[[int, float, float], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> FitResult:
    """Train `model.network` in place on `data` until `max_steps` or `budget_s` seconds, whichever
    comes first; the parameters whose names start with a `frozen` prefix stay as they are.
    on_step(step, progress 0..1, loss) after each step; Stopped when should_stop()."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = model.network.to(device).train()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=len(data) > batch_size,
                        num_workers=0, generator=generator)
    logits_model = LogitsOf(network)
    trained = [p for name, p in network.named_parameters() if not name.startswith(frozen)]
    for name, parameter in network.named_parameters():
        parameter.requires_grad_(not name.startswith(frozen))
    optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=weight_decay)
    warmup = max(1, min(20, max_steps // 10))
    amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    mean = torch.tensor(model.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(model.std, device=device).view(1, 3, 1, 1)
    losses: list[float] = []
    started = time.monotonic()
    step, progress = 0, 0.0
    try:
        while progress < 1.0:
            for batch in loader:
                if should_stop is not None and should_stop():
                    raise Stopped
                for group in optimizer.param_groups:
                    group["lr"] = lr * learning_rate_factor(progress, step, warmup)
                images = batch["image"].to(device, non_blocking=True)
                target = batch["target"].to(device, non_blocking=True)
                weight = batch["weight"].to(device, torch.float32)
                with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                    logits = logits_model((images - mean) / std)
                loss = segmentation_loss(logits, target, weight)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                step += 1
                losses.append(loss.item())
                progress = max(step / max_steps, (time.monotonic() - started) / budget_s)
                if on_step is not None:
                    on_step(step, min(1.0, progress), losses[-1])
                if progress >= 1.0:
                    break
    finally:
        logits_model.detach_hook()
        network.requires_grad_(True).eval()
    tenth = max(1, len(losses) // 10)
    return FitResult(step, time.monotonic() - started, sum(losses[:tenth]) / tenth, sum(losses[-tenth:]) / tenth)
