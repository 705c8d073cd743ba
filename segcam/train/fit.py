"""Fine-tuning in memory within a time budget: the training behind `segcam calibrate` and the
online learner (segcam.learn).

`segcam train` (loop.py) runs epochs over large data sets and writes checkpoints; these need
the opposite: a few hundred steps on one person's frames, stopped by the clock or a cancel,
nothing written. The step and the schedule are step.py's, shared with loop.py; here the
cosine follows whichever runs out first, the steps or the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from segcam.train.loop import Trainable
from segcam.train.step import Stepper, learning_rate_factor


class Stopped(Exception):
    """`should_stop` said so between two steps; the network is left half-trained."""


@dataclass
class FitResult:
    steps: int
    seconds: float
    first_loss: float  # mean over the first tenth of the steps
    last_loss: float  # mean over the last tenth


def fine_tune(model: Trainable, data: Dataset, *, max_steps: int, budget_s: float, batch_size: int = 8,
              lr: float = 1e-3, weight_decay: float = 1e-4, device: str = "cpu", seed: int = 0,
              frozen: tuple[str, ...] = (), on_step: Callable[[int, float, float], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              clock: Callable[[], float] = time.monotonic) -> FitResult:
    """Train `model.network` in place on `data` until `max_steps` or `budget_s` seconds, whichever
    comes first (seconds of `clock`: the online learner counts its own CPU time, not the time it
    waited); the parameters whose names start with a `frozen` prefix stay as they are.
    on_step(step, progress 0..1, loss) after each step; Stopped when should_stop()."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = model.network.to(device).train()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=len(data) > batch_size,
                        num_workers=0, generator=generator)
    stepper = Stepper(network, model.mean, model.std, lr=lr, weight_decay=weight_decay, device=device, frozen=frozen)
    warmup = max(1, min(20, max_steps // 10))
    losses: list[float] = []
    started = clock()
    step, progress = 0, 0.0
    try:
        while progress < 1.0:
            for batch in loader:
                if should_stop is not None and should_stop():
                    raise Stopped
                stepper.set_lr_factor(learning_rate_factor(progress, step, warmup))
                losses.append(stepper.step(batch))
                step += 1
                progress = max(step / max_steps, (clock() - started) / budget_s)
                if on_step is not None:
                    on_step(step, min(1.0, progress), losses[-1])
                if progress >= 1.0:
                    break
    finally:
        stepper.close()
    tenth = max(1, len(losses) // 10)
    return FitResult(step, clock() - started, sum(losses[:tenth]) / tenth, sum(losses[-tenth:]) / tenth)
