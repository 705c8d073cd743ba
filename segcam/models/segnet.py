"""segcam's own person segmentation network, trained from scratch with `segcam train`.

A MobileNetV3-style encoder built from torchvision's blocks, a light context head at 1/16
of the input, and a decoder that upsamples with ConvTranspose2d and merges an encoder skip
at every scale. One output map, person probability. About 0.2 M parameters: the same CPU
class as MediaPipe's selfie models, so it fits the real-time budget of `segcam run`.

The network is fully convolutional; it runs at any input whose sides 16 divides. The size
it was trained at travels in its model file (see `segcam.models.modelfile`).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
from torchvision.ops.misc import Conv2dNormActivation

ARCHITECTURE = "segnet"
# the size segcam trains it at: 16:9, the webcam's shape, at MediaPipe landscape's cost
DEFAULT_INPUT_SIZE = (144, 256)
# ImageNet statistics: the usual normalisation for MobileNetV3-style networks with BatchNorm
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# torchvision's MobileNetV3 uses momentum 0.01; a short CPU run has only a few thousand
# steps, and running statistics that lag the weights make validation look broken early on
_BatchNorm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.1)

# encoder stages, as torchvision InvertedResidualConfig rows:
# (in, kernel, expanded, out, squeeze-excite, activation, stride); each stage ends a skip
_STAGES = [
    [(16, 3, 16, 16, True, "RE", 2)],  # 1/4
    [(16, 3, 64, 24, False, "RE", 2),
     (24, 3, 72, 24, False, "RE", 1)],  # 1/8
    [(24, 5, 96, 40, True, "HS", 2),
     (40, 5, 120, 40, True, "HS", 1),
     (40, 5, 120, 40, True, "HS", 1),
     (40, 5, 120, 48, True, "HS", 1),
     (48, 5, 144, 48, True, "HS", 1)],  # 1/16
]
_STEM_CHANNELS = 16
_HEAD_CHANNELS = 64
_DECODER_CHANNELS = (32, 16, 16)  # after merging the 1/8, 1/4 and 1/2 skips


def _stage(rows) -> nn.Sequential:
    return nn.Sequential(*(
        InvertedResidual(InvertedResidualConfig(i, k, e, o, se, act, s, 1, 1.0), _BatchNorm)
        for i, k, e, o, se, act, s in rows))


class ContextHead(nn.Module):
    """LR-ASPP-style head: features gated per channel by the whole image's mean.

    The gate tells the decoder whether the scene holds a person at all, which a 5x5 view
    of a 9x16 map cannot.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.features = Conv2dNormActivation(in_channels, out_channels, 1, norm_layer=_BatchNorm,
                                             activation_layer=nn.ReLU)
        self.gate = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))


class UpStage(nn.Module):
    """2x learned upsampling (ConvTranspose2d), plus the encoder skip, then a depthwise-separable refinement."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)
        self.up_norm = _BatchNorm(out_channels)
        self.skip = Conv2dNormActivation(skip_channels, out_channels, 1, norm_layer=_BatchNorm,
                                         activation_layer=None)
        self.refine = nn.Sequential(
            Conv2dNormActivation(out_channels, out_channels, 3, groups=out_channels,
                                 norm_layer=_BatchNorm, activation_layer=nn.ReLU),
            Conv2dNormActivation(out_channels, out_channels, 1, norm_layer=_BatchNorm,
                                 activation_layer=nn.ReLU),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        merged = torch.relu(self.up_norm(self.up(x)) + self.skip(skip))
        return merged + self.refine(merged)


class SegNet(nn.Module):
    """(N,3,H,W) normalised RGB -> (N,1,H,W) person probability; H and W multiples of 16.

    The last layer is named `output` and its result goes through a sigmoid, as in the
    MediaPipe port: training reads the logits there (see `segcam.train.loop`).
    """

    def __init__(self):
        super().__init__()
        self.stem = Conv2dNormActivation(3, _STEM_CHANNELS, 3, stride=2, norm_layer=_BatchNorm,
                                         activation_layer=nn.Hardswish)
        self.encoder = nn.ModuleList(_stage(rows) for rows in _STAGES)
        skip_channels = [_STEM_CHANNELS] + [rows[-1][3] for rows in _STAGES[:-1]]  # 1/2, 1/4, 1/8
        self.head = ContextHead(_STAGES[-1][-1][3], _HEAD_CHANNELS)
        ins = (_HEAD_CHANNELS,) + _DECODER_CHANNELS[:-1]
        self.decoder = nn.ModuleList(
            UpStage(i, s, o) for i, s, o in zip(ins, reversed(skip_channels), _DECODER_CHANNELS))
        self.output = nn.ConvTranspose2d(_DECODER_CHANNELS[-1], 1, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for stage in self.encoder:
            skips.append(stage(skips[-1]))
        y = self.head(skips.pop())
        for stage, skip in zip(self.decoder, reversed(skips)):
            y = stage(y, skip)
        return torch.sigmoid(self.output(y))


def parameter_count(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())
