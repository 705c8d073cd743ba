"""One training step and one learning-rate schedule, for every way segcam trains.

`segcam train` (loop.py: epochs over large data sets), `segcam calibrate` and the online
learner (fit.py: a few hundred steps within a time budget) all train the same way: logits read
before the network's final sigmoid (LogitsOf), BCE + soft Dice, AdamW, AMP on CUDA, a linear
warm-up and then a cosine to zero. Only how they measure progress differs: loop.py by steps,
fit.py by whichever runs out first, the steps or the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from segcam.errors import SettingsError
from segcam.train.losses import segmentation_loss


class LogitsOf(nn.Module):
    """The network's logits: the output of its layer named `output`, before the final sigmoid.

    Both trainable architectures end in `sigmoid(self.output(...))`; reading the logits there
    keeps BCE numerically sound without a second forward path in the networks.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        output = getattr(network, "output", None)
        if not isinstance(output, nn.Module):
            raise SettingsError(f"{type(network).__name__} has no `output` layer to train against.")
        self.network = network
        self._logits: torch.Tensor | None = None
        self._hook = output.register_forward_hook(self._keep)

    def _keep(self, module, inputs, result) -> None:
        self._logits = result

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.network(x)
        logits, self._logits = self._logits, None
        return logits

    def detach_hook(self) -> None:
        self._hook.remove()


def learning_rate_factor(progress: float, step: int, warmup_steps: int) -> float:
    """Linear warm-up over the first `warmup_steps` steps, then a cosine from 1 to 0 as
    `progress` (the share of the run done) goes 0 -> 1."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


class Stepper:
    """AdamW over a network's trainable parameters, and the step that trains it on one batch.

    Parameters whose names start with a `frozen` prefix are not trained. `wrap` wraps the logits
    model (DistributedDataParallel under torchrun). `close` ends training: the network is left in
    eval mode with every parameter trainable again.
    """

    def __init__(self, network: nn.Module, mean, std, *, lr: float, weight_decay: float = 1e-4,
                 device: str = "cpu", frozen: tuple[str, ...] = (), dice_weight: float = 1.0,
                 wrap: Callable[[nn.Module], nn.Module] | None = None):
        self.network = network
        self.lr = lr
        self.device = device
        self.dice_weight = dice_weight
        self._logits_of = LogitsOf(network)
        self.logits_model = wrap(self._logits_of) if wrap is not None else self._logits_of
        for name, parameter in network.named_parameters():
            parameter.requires_grad_(not name.startswith(frozen) if frozen else True)
        trained = [p for p in network.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=weight_decay)
        self.amp = device.startswith("cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    def set_lr_factor(self, factor: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * factor

    def step(self, batch: dict) -> float:
        """One optimiser step on a batch of {image (N,3,H,W) in [0,1], target, weight}; the loss."""
        device = self.device
        images = batch["image"].to(device, non_blocking=True)
        target = batch["target"].to(device, non_blocking=True)
        weight = batch["weight"].to(device, torch.float32)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            logits = self.logits_model((images - self.mean) / self.std)
        loss = segmentation_loss(logits, target, weight, self.dice_weight)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item()

    def close(self) -> None:
        self._logits_of.detach_hook()
        self.network.requires_grad_(True).eval()
