"""Robust Video Matting (Lin et al., WACV 2022), MobileNetV3-Large variant, as torch modules.

The network sees a frame at a reduced size, carries four recurrent states from frame to frame
and gives foreground colour and alpha; a guided-filter refiner lifts both to the full frame.
The modules are pure: every recurrent state goes in and comes out as an argument, so the
network exports to ONNX with the states as plain inputs and outputs.

Two layouts share the code. `batchnorm=True` is RVM's training layout: convolutions without
bias followed by BatchNorm, with RVM's parameter names (what `rvm_mobilenetv3.pth` holds).
`batchnorm=False` (the default, what the loaders return) has each BatchNorm folded into the
convolution before it, as RVM's TF.js export stores it: a convolution with a bias, and an
Identity in the BatchNorm's place so the parameter names stay the same.

Loaders for RVM's weight files are in `segcam.models.rvm_weights`.
"""

from __future__ import annotations

import math
import os
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
from torchvision.ops.misc import Conv2dNormActivation

from segcam.errors import SettingsError

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
STATE_CHANNELS = (16, 20, 40, 64)  # r1..r4, at 1/2, 1/4, 1/8 and 1/16 of the low-res size

# MobileNetV3-Large blocks as torchvision configures them (input, kernel, expanded, output,
# squeeze-excite, activation, stride, dilation), with RVM's change: the last stage keeps
# 1/16 resolution and dilates instead of striding.
_ENCODER_BLOCKS = [
    (16, 3, 16, 16, False, "RE", 1, 1),
    (16, 3, 64, 24, False, "RE", 2, 1),
    (24, 3, 72, 24, False, "RE", 1, 1),
    (24, 5, 72, 40, True, "RE", 2, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 3, 240, 80, False, "HS", 2, 1),
    (80, 3, 200, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 480, 112, True, "HS", 1, 1),
    (112, 3, 672, 112, True, "HS", 1, 1),
    (112, 5, 672, 160, True, "HS", 2, 2),
    (160, 5, 960, 160, True, "HS", 1, 2),
    (160, 5, 960, 160, True, "HS", 1, 2),
]
# features[i] whose outputs are the decoder's skips f1 (1/2), f2 (1/4), f3 (1/8); f4 is the last
_SKIPS = (1, 3, 6)
_THIRD = float(np.float32(1 / 3))  # the export's box-filter tap


def lowres_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """The size the network runs at: int(H*r) x int(W*r), in float32 like RVM's export."""
    r = np.float32(ratio)
    size = int(np.float32(height) * r), int(np.float32(width) * r)
    if min(size) < 3:  # the fast guided filter's unpadded 3x3 box needs 3 pixels
        raise SettingsError(f"A downsample ratio of {ratio:g} leaves {size[1]}x{size[0]} of a "
                            f"{width}x{height} frame; the matting network needs at least 3x3.")
    return size


def state_shapes(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Shapes (N=1, C, H, W) of r1..r4 for a low-res input of height x width."""
    return [(1, c, math.ceil(height / 2 ** k), math.ceil(width / 2 ** k))
            for k, c in enumerate(STATE_CHANNELS, start=1)]


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class Encoder(nn.Module):
    """MobileNetV3-Large features from torchvision's blocks; normalises RGB in [0, 1] itself."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) if batchnorm else None
        layers = [Conv2dNormActivation(3, 16, 3, stride=2, norm_layer=norm,
                                       activation_layer=nn.Hardswish)]
        layers += [InvertedResidual(InvertedResidualConfig(*block, width_mult=1.0), norm)
                   for block in _ENCODER_BLOCKS]
        layers.append(Conv2dNormActivation(160, 960, 1, norm_layer=norm,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        # not in state_dict (RVM's checkpoint has no such entries); the TF.js loader sets them
        # to the export's own (uint8-rounded) constants
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1 / torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = (x - self.mean) * self.inv_std
        skips = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _SKIPS:
                skips.append(x)
        return skips[0], skips[1], skips[2], x


class LRASPP(nn.Module):
    """Lite R-ASPP: features gated per channel by their global average."""

    def __init__(self, in_channels: int, out_channels: int, batchnorm: bool = False):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=not batchnorm),
                                   _norm(out_channels, batchnorm), nn.ReLU(inplace=True))
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                   nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    """Convolutional GRU; the state may be any shape that broadcasts to the input's."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(channels * 2, channels * 2, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(channels * 2, channels, 3, padding=1), nn.Tanh())

    def forward(self, x: Tensor, h: Tensor | None) -> Tensor:
        # RVM starts from None (torch) or a [1,1,1,1] zero (its exports); both mean zeros
        h = torch.zeros_like(x) if h is None else torch.broadcast_to(h, x.shape)
        reset, update = self.ih(torch.cat([x, h], dim=1)).split(self.channels, dim=1)
        candidate = self.hh(torch.cat([x, reset * h], dim=1))
        return (1 - update) * h + update * candidate


class BottleneckBlock(nn.Module):
    """At 1/16: the second half of the channels goes through a ConvGRU."""

    def __init__(self, channels: int):
        super().__init__()
        self.half = channels // 2
        self.gru = ConvGRU(self.half)

    def forward(self, x: Tensor, r: Tensor | None) -> tuple[Tensor, Tensor]:
        a, b = x.split(self.half, dim=1)
        r = self.gru(b, r)
        return torch.cat([a, r], dim=1), r


def _upsample_to(x: Tensor, like: Tensor) -> Tensor:
    """Bilinear x2, cropped to `like`'s size (odd sizes round up on the way down)."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, :like.shape[2], :like.shape[3]]


class UpsamplingBlock(nn.Module):
    """x2 upsample, join the encoder skip and the pooled image, conv, ConvGRU on half."""

    def __init__(self, in_channels: int, skip_channels: int, src_channels: int, out_channels: int,
                 batchnorm: bool = False):
        super().__init__()
        self.half = out_channels // 2
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels + src_channels, out_channels, 3, padding=1,
                      bias=not batchnorm),
            _norm(out_channels, batchnorm), nn.ReLU(inplace=True))
        self.gru = ConvGRU(self.half)
        self.zero_channels = 0  # see align_channels

    def forward(self, x: Tensor, skip: Tensor, src: Tensor, r: Tensor | None) -> tuple[Tensor, Tensor]:
        x = self.conv(_joined([_upsample_to(x, skip), skip, src], self.zero_channels))
        a, b = x.split(self.half, dim=1)
        r = self.gru(b, r)
        return torch.cat([a, r], dim=1), r


class OutputBlock(nn.Module):
    """x2 upsample to the low-res input size, join the image, two convs."""

    def __init__(self, in_channels: int, src_channels: int, out_channels: int, batchnorm: bool = False):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels + src_channels, out_channels, 3, padding=1, bias=not batchnorm),
            _norm(out_channels, batchnorm), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=not batchnorm),
            _norm(out_channels, batchnorm), nn.ReLU(inplace=True))
        self.zero_channels = 0  # see align_channels

    def forward(self, x: Tensor, src: Tensor) -> Tensor:
        return self.conv(_joined([_upsample_to(x, src), src], self.zero_channels))


def _joined(parts: list[Tensor], zero_channels: int) -> Tensor:
    joined = torch.cat(parts, dim=1)
    return F.pad(joined, (0, 0, 0, 0, 0, zero_channels)) if zero_channels else joined


def align_channels(network: nn.Module, multiple: int = 8) -> nn.Module:
    """Give each decoder convolution that joins the image's 3 channels a multiple of `multiple`
    input channels, the extra ones zero (in the input and in the weights): the same output.
    ONNX Runtime runs a convolution in its blocked (NCHWc) kernels only when the input channels
    are a multiple of the vector width (8 floats with AVX2); the joins of 35, 59, 107 and 171
    channels ran in its generic kernel at about 1.3x the time of 40, 64, 112 and 176."""
    for block in network.modules():
        if isinstance(block, (UpsamplingBlock, OutputBlock)) and not block.zero_channels:
            conv = block.conv[0]
            extra = -conv.in_channels % multiple
            if extra:
                wider = nn.Conv2d(conv.in_channels + extra, conv.out_channels, conv.kernel_size,
                                  padding=conv.padding, bias=conv.bias is not None)
                with torch.no_grad():
                    wider.weight.zero_()
                    wider.weight[:, :conv.in_channels] = conv.weight
                    if conv.bias is not None:
                        wider.bias.copy_(conv.bias)
                block.conv[0] = wider.to(conv.weight.device, conv.weight.dtype)
                block.zero_channels = extra
    return network


class RecurrentDecoder(nn.Module):
    """From 1/16 back to the low-res size, with a ConvGRU at 1/16, 1/8, 1/4 and 1/2."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()
        # average pooling that rounds odd sizes up, like the encoder's strided convolutions
        self.avgpool = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
        self.decode4 = BottleneckBlock(128)
        self.decode3 = UpsamplingBlock(128, 40, 3, 80, batchnorm)
        self.decode2 = UpsamplingBlock(80, 24, 3, 40, batchnorm)
        self.decode1 = UpsamplingBlock(40, 16, 3, 32, batchnorm)
        self.decode0 = OutputBlock(32, 3, 16, batchnorm)

    def forward(self, s0: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor,
                r1: Tensor | None, r2: Tensor | None, r3: Tensor | None, r4: Tensor | None):
        s1 = self.avgpool(s0)
        s2 = self.avgpool(s1)
        s3 = self.avgpool(s2)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), r1, r2, r3, r4


class Projection(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def _gray_appended(rgb: Tensor) -> Tensor:
    return torch.cat([rgb, rgb.mean(1, keepdim=True)], dim=1)


class FastGuidedFilter(nn.Module):
    """Guided-filter upsampling with no learned weights (what RVM's TF.js export uses).

    The guide is the image (RGB + grey); the filtered signal is (fgr residual, alpha), each
    channel guided by its own: R, G, B for the foreground, grey for alpha. As in the export,
    the 3x3 box filter has no padding: the low-res linear coefficients A and b are
    (h-2) x (w-2), stretched to the full frame.
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor,
                base_hid: Tensor | None = None) -> tuple[Tensor, Tensor]:
        a, b = self._coefficients(_gray_appended(base_src), torch.cat([base_fgr, base_pha], dim=1))
        return _apply_coefficients(a, b, fine_src)

    def refine_alpha(self, fine_src: Tensor, base_src: Tensor, base_pha: Tensor) -> Tensor:
        """Only the alpha of forward (unclamped), for a quarter of the full-size work."""
        a, b = self._coefficients(base_src.mean(1, keepdim=True), base_pha)
        size = fine_src.shape[2:]
        return _stretch(a, size) * fine_src.mean(1, keepdim=True) + _stretch(b, size)

    def _coefficients(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        mean_x, mean_y = _box(x), _box(y)
        cov_xy = _box(x * y) - mean_x * mean_y
        var_x = _box(x * x) - mean_x * mean_x
        a = cov_xy / (var_x + self.eps)
        return a, mean_y - a * mean_x


def _box(x: Tensor) -> Tensor:
    """3x3 mean without padding: 3 tall, then 3 wide, each tap weighted 1/3 as in the export's
    depthwise convolutions (their rounding order matters: A divides by a variance near 0).
    Shifted slices are many times faster than avg_pool2d on the CPU for so few channels."""
    x = x * _THIRD
    rows = (x[:, :, :-2] + x[:, :, 1:-1] + x[:, :, 2:]) * _THIRD
    return rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]


def _stretch(x: Tensor, size) -> Tensor:
    return F.interpolate(x, size, mode="bilinear", align_corners=False)


def _apply_coefficients(a: Tensor, b: Tensor, fine_src: Tensor) -> tuple[Tensor, Tensor]:
    """The guided filter's output at full size: A x guide + b, A and b stretched bilinearly."""
    size = fine_src.shape[2:]
    out = _stretch(a, size) * _gray_appended(fine_src) + _stretch(b, size)
    return out[:, :3], out[:, 3:]


class DeepGuidedFilter(nn.Module):
    """RVM's default refiner: the guided filter's A comes from a small learned network that
    also sees the decoder's hidden features; the box filter is a learned 3x3 (padded)."""

    def __init__(self, hidden_channels: int = 16, batchnorm: bool = False):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        nn.init.constant_(self.box_filter.weight, 1 / 9)
        self.conv = nn.Sequential(
            nn.Conv2d(4 * 2 + hidden_channels, hidden_channels, 1, bias=not batchnorm),
            _norm(hidden_channels, batchnorm), nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, hidden_channels, 1, bias=not batchnorm),
            _norm(hidden_channels, batchnorm), nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, 4, 1, bias=True))

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor,
                base_hid: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if base_hid is None:
            raise ValueError("the deep guided filter needs the decoder's hidden features")
        x, y = _gray_appended(base_src), torch.cat([base_fgr, base_pha], dim=1)
        mean_x, mean_y = self.box_filter(x), self.box_filter(y)
        cov_xy = self.box_filter(x * y) - mean_x * mean_y
        var_x = self.box_filter(x * x) - mean_x * mean_x
        a = self.conv(torch.cat([cov_xy, var_x, base_hid], dim=1))
        b = mean_y - a * mean_x
        return _apply_coefficients(a, b, fine_src)


REFINERS = ("fast_guided_filter", "deep_guided_filter")


class MattingNetwork(nn.Module):
    """RVM with the MobileNetV3-Large encoder. Images are NCHW RGB floats in [0, 1]."""

    def __init__(self, refiner: str = "fast_guided_filter", batchnorm: bool = False):
        super().__init__()
        if refiner not in REFINERS:
            raise ValueError(f"unknown refiner {refiner!r}; choose one of {REFINERS}")
        self.refiner_name = refiner
        self.backbone = Encoder(batchnorm)
        self.aspp = LRASPP(960, 128, batchnorm)
        self.decoder = RecurrentDecoder(batchnorm)
        self.project_mat = Projection(16, 4)
        self.refiner = (FastGuidedFilter() if refiner == "fast_guided_filter"
                        else DeepGuidedFilter(batchnorm=batchnorm))

    def forward(self, src: Tensor, r1: Tensor | None = None, r2: Tensor | None = None,
                r3: Tensor | None = None, r4: Tensor | None = None,
                downsample_ratio: float = 1.0):
        """The whole graph -> (fgr, pha, r1o, r2o, r3o, r4o), fgr and pha at src's size."""
        if downsample_ratio != 1:
            small = downsample(src, downsample_ratio)
        else:
            small = src
        fgr_residual, pha, hidden, *states = self.forward_lowres(small, r1, r2, r3, r4)
        if downsample_ratio != 1:
            fgr_residual, pha = self.refiner(src, small, fgr_residual, pha, hidden)
        fgr = (fgr_residual + src).clamp(0.0, 1.0)
        return (fgr, pha.clamp(0.0, 1.0), *states)

    def forward_lowres(self, small: Tensor, r1: Tensor | None = None, r2: Tensor | None = None,
                       r3: Tensor | None = None, r4: Tensor | None = None):
        """The low-res pass -> (fgr_residual, pha, hidden, r1o, r2o, r3o, r4o) at small's size.

        Nothing is clamped: the refiner wants the raw values. Used on its own, the foreground
        is clamp(small + fgr_residual, 0, 1) and the alpha clamp(pha, 0, 1).
        """
        f1, f2, f3, f4 = self.backbone(small)
        f4 = self.aspp(f4)
        hidden, r1, r2, r3, r4 = self.decoder(small, f1, f2, f3, f4, r1, r2, r3, r4)
        fgr_residual, pha = self.project_mat(hidden).split([3, 1], dim=1)
        return fgr_residual, pha, hidden, r1, r2, r3, r4

    def initial_state(self, height: int, width: int) -> list[Tensor]:
        """Zero states r1..r4 for a low-res input of height x width (the start of a video)."""
        like = next(self.parameters())
        return [torch.zeros(shape, dtype=like.dtype, device=like.device)
                for shape in state_shapes(height, width)]


def downsample(src: Tensor, ratio: float) -> Tensor:
    """Bilinear (half-pixel centres, no antialiasing) to lowres_size, like RVM's export."""
    return F.interpolate(src, lowres_size(src.shape[2], src.shape[3], ratio), mode="bilinear",
                         align_corners=False)


class LowResPass(nn.Module):
    """The low-res pass alone, for export: the states in and out, hidden only if the refiner
    needs it."""

    def __init__(self, network: MattingNetwork):
        super().__init__()
        self.network = network
        self.with_hidden = isinstance(network.refiner, DeepGuidedFilter)

    def forward(self, small: Tensor, r1: Tensor, r2: Tensor, r3: Tensor, r4: Tensor):
        fgr_residual, pha, hidden, *states = self.network.forward_lowres(small, r1, r2, r3, r4)
        return (fgr_residual, pha, *([hidden] if self.with_hidden else []), *states)

    @property
    def output_names(self) -> list[str]:
        return ["fgr_residual", "pha", *(["hidden"] if self.with_hidden else []),
                "r1o", "r2o", "r3o", "r4o"]


class FullPass(nn.Module):
    """The whole graph at one fixed downsample ratio, for export."""

    output_names = ["fgr", "pha", "r1o", "r2o", "r3o", "r4o"]

    def __init__(self, network: MattingNetwork, downsample_ratio: float):
        super().__init__()
        self.network = network
        self.downsample_ratio = float(downsample_ratio)

    def forward(self, src: Tensor, r1: Tensor, r2: Tensor, r3: Tensor, r4: Tensor):
        return self.network(src, r1, r2, r3, r4, self.downsample_ratio)


def export_onnx(network: MattingNetwork, path: str | os.PathLike, height: int, width: int,
                downsample_ratio: float | None = None) -> Path:
    """Write `network` as ONNX (opset 17) for one input size; returns the path.

    With no ratio, the low-res pass (LowResPass) for a height x width low-res input; with a
    ratio, the whole graph (FullPass) for a height x width frame. Inputs are `src` (NCHW RGB
    in [0, 1]) and the states `r1i`..`r4i`; outputs are named as the wrapper's output_names.
    """
    path = Path(path)
    module = (LowResPass(network) if downsample_ratio is None
              else FullPass(network, downsample_ratio)).eval()
    small = (height, width) if downsample_ratio is None else lowres_size(height, width, downsample_ratio)
    like = next(network.parameters())
    example = (torch.zeros(1, 3, height, width, dtype=like.dtype, device=like.device),
               *network.initial_state(*small))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on traced shapes are not for users
        torch.onnx.export(module, example, str(tmp), dynamo=False, opset_version=17,
                          input_names=["src", "r1i", "r2i", "r3i", "r4i"],
                          output_names=module.output_names)
    tmp.replace(path)
    return path
