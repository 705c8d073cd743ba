"""Loss for one-map person segmentation: BCE on logits plus a soft Dice term.

BCE teaches every pixel; Dice looks at the overlap of the whole person, so small people
and thin limbs are not drowned out by the background. Both take soft targets, which is how
teacher masks (distillation) and alpha cut-outs enter. Each sample carries a weight:
teacher-labelled frames count less than labelled ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - Dice per sample, (N,), from logits (N,1,H,W) and targets in [0, 1].

    `eps` keeps an image without a person from giving 0/0 and rewards predicting nothing there.
    """
    probability = torch.sigmoid(logits.float()).flatten(1)
    target = target.float().flatten(1)
    overlap = (probability * target).sum(1)
    return 1.0 - (2.0 * overlap + eps) / (probability.sum(1) + target.sum(1) + eps)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                      dice_weight: float = 1.0) -> torch.Tensor:
    """Weighted mean over the batch of (BCE + dice_weight * Dice) per sample."""
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none").flatten(1).mean(1)
    per_sample = bce + dice_weight * soft_dice_loss(logits, target) if dice_weight else bce
    if weight is None:
        return per_sample.mean()
    weight = weight.to(per_sample)
    return (per_sample * weight).sum() / weight.sum().clamp_min(1e-8)
