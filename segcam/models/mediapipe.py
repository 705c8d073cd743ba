"""MediaPipe Selfie Segmentation (general and landscape) as a torch module.

The architecture is written out here, so a network can be built without the .tflite file and
filled from cached torch weights; `from_tflite` fills it from the official file instead.
Both variants share one architecture and differ only in input size (and in how the .tflite
graph spells a global average: AVERAGE_POOL_2D in one, MEAN in the other; both are a mean).
"""

from __future__ import annotations

import struct
from os import PathLike

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segcam.errors import WeightsError
from segcam.models.tflite import Operator, TFLiteModel, read_model

# variant -> native input size (height, width); the graphs run only at these sizes
VARIANTS = {"general": (256, 256), "landscape": (144, 256)}

# encoder blocks: (in, expanded, out, kernel, stride, activation, squeeze channels or 0)
_BLOCKS = [
    (16, 16, 16, 3, 2, nn.ReLU, 8),
    (16, 72, 24, 3, 2, nn.ReLU, 0),
    (24, 88, 24, 3, 1, nn.ReLU, 0),
    (24, 96, 32, 5, 2, nn.Hardswish, 24),
    (32, 128, 32, 5, 1, nn.Hardswish, 32),
    (32, 128, 32, 5, 1, nn.Hardswish, 32),
    (32, 96, 32, 5, 1, nn.Hardswish, 24),
    (32, 96, 32, 5, 1, nn.Hardswish, 24),
]
# which blocks make each encoder stage; a stage's output is a skip connection for the decoder
_STAGES = [slice(0, 1), slice(1, 3), slice(3, 8)]  # outputs at 1/4, 1/8, 1/16 of the input


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's SAME padding (for inputs that the stride divides).

    With stride 2, TensorFlow pads one pixel more at the bottom and right than at the top and
    left; nn.Conv2d pads symmetrically, so such convolutions pad explicitly first.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1):
        symmetric = stride == 1
        super().__init__(in_channels, out_channels, kernel, stride,
                         padding=kernel // 2 if symmetric else 0, groups=groups)
        before = (kernel - stride) // 2
        after = kernel - stride - before
        self.pad = nn.Identity() if symmetric else nn.ZeroPad2d((before, after, before, after))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad(x))


class SqueezeExcite(nn.Module):
    """Per-channel gate in [0, 1] from the global mean of a feature map."""

    def __init__(self, channels: int, squeezed: int):
        super().__init__()
        self.squeeze = nn.Conv2d(channels, squeezed, 1)
        self.excite = nn.Conv2d(squeezed, channels, 1)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean((2, 3), keepdim=True)
        return torch.sigmoid(self.excite(F.relu(self.squeeze(pooled))))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand, depthwise, optional squeeze-excite, 1x1 project."""

    def __init__(self, in_channels, expanded, out_channels, kernel, stride, activation, squeezed):
        super().__init__()
        self.expand = nn.Conv2d(in_channels, expanded, 1)
        self.depthwise = SameConv2d(expanded, expanded, kernel, stride, groups=expanded)
        self.se = SqueezeExcite(expanded, squeezed) if squeezed else None
        self.project = nn.Conv2d(expanded, out_channels, 1)
        self.activation = activation()
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.activation(self.expand(x))
        y = self.activation(self.depthwise(y))
        if self.se is not None:
            y = y * self.se.gate(y)
        y = self.project(y)
        return x + y if self.residual else y


class DecoderStage(nn.Module):
    """Merge upsampled features with an encoder skip, then a light residual refinement."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.project = nn.Conv2d(in_channels, out_channels, 1)
        self.se = SqueezeExcite(out_channels, out_channels)
        self.conv = nn.Conv2d(out_channels, out_channels, 1)
        self.depthwise = SameConv2d(out_channels, out_channels, 3, groups=out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        y = self.project(x)
        # the gate is computed from skip + y but scales only the skip
        merged = skip * self.se.gate(skip + y) + y
        z = F.relu(self.conv(merged))
        return z + F.relu(self.depthwise(z))


class SelfieSegmentation(nn.Module):
    """Person segmentation: (N,3,H,W) RGB in [0,1] at `input_size` -> (N,1,H,W) probability.

    Submodules are registered in the order the .tflite graph runs its weighted operators;
    `from_tflite` relies on that order to pair graph weights with layers.
    """

    def __init__(self, variant: str = "general"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
        self.variant = variant
        self.input_size = VARIANTS[variant]
        self.stem = SameConv2d(3, 16, 3, stride=2)
        blocks = [InvertedResidual(*config) for config in _BLOCKS]
        self.encoder = nn.ModuleList(nn.Sequential(*blocks[s]) for s in _STAGES)
        self.head = nn.Conv2d(32, 128, 1)
        self.head_gate = nn.Conv2d(32, 128, 1)  # one conv on the global mean, no squeeze
        self.decoder = nn.ModuleList(
            [DecoderStage(128, 24), DecoderStage(24, 16), DecoderStage(16, 16)])
        # MediaPipe's custom Convolution2DTransposeBias: 2x2, stride 2, SAME (= no padding)
        self.output = nn.ConvTranspose2d(16, 1, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [F.hardswish(self.stem(x))]  # 1/2 of the input
        for stage in self.encoder:
            skips.append(stage(skips[-1]))
        deepest = skips.pop()  # 1/16
        y = F.relu(self.head(deepest)) * torch.sigmoid(
            self.head_gate(deepest.mean((2, 3), keepdim=True)))
        for stage, skip in zip(self.decoder, reversed(skips)):
            # RESIZE_BILINEAR with half_pixel_centers, i.e. align_corners=False
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
            y = stage(y, skip)
        return torch.sigmoid(self.output(y))


# tflite operators that carry weights: inputs are (features, weight, bias)
_WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "Convolution2DTransposeBias")


def from_tflite(source: str | PathLike | bytes) -> SelfieSegmentation:
    """Build the network from an official selfie_segmentation*.tflite file, in eval mode."""
    graph = read_model(source)
    shape = graph.tensors[graph.inputs[0]].shape  # NHWC
    variant = next((name for name, size in VARIANTS.items() if shape[1:3] == size), None)
    if len(shape) != 4 or variant is None:
        raise WeightsError(f"The model's input shape {shape} fits neither MediaPipe selfie "
                           "segmentation variant.")
    net = SelfieSegmentation(variant)
    net.load_state_dict(_state_dict(graph, net))
    return net.eval()


def _state_dict(graph: TFLiteModel, net: SelfieSegmentation) -> dict[str, torch.Tensor]:
    """Pair the graph's weighted operators with the network's layers, in execution order."""
    ops = [op for op in graph.operators if op.op in _WEIGHTED_OPS]
    layers = [(name, m) for name, m in net.named_modules()
              if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    if not _same_design(graph, ops, len(layers)):
        raise WeightsError("The .tflite file is not a MediaPipe selfie segmentation model.")
    state = {}
    for op, (name, layer) in zip(ops, layers):
        weight, bias = graph.constant(op.inputs[1]), graph.constant(op.inputs[2])
        if weight.ndim == 4:
            weight = _torch_layout(op.op, weight)
        if (weight.shape != layer.weight.shape or bias.shape != layer.bias.shape
                or _stride(op) != layer.stride):
            layer_name = graph.tensors[op.outputs[0]].name
            raise WeightsError(f"The .tflite layer {layer_name!r} does not fit {name}, so the "
                               "file is not a MediaPipe selfie segmentation model.")
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        state[f"{name}.bias"] = torch.from_numpy(bias.copy())
    return state


def _same_design(graph: TFLiteModel, weighted_ops: list[Operator], layer_count: int) -> bool:
    """Whether the graph matches what the module hard-codes, beyond each layer's shape."""
    resizes = [op.options for op in graph.operators if op.op == "RESIZE_BILINEAR"]
    return (len(weighted_ops) == layer_count
            and all(len(op.inputs) == 3 and min(op.inputs) >= 0 for op in weighted_ops)
            # activations are separate ops in these graphs, never fused into a convolution
            and all(op.options.get("activation") is None for op in weighted_ops)
            and all(op.options.get("dilation_h", 1) == op.options.get("dilation_w", 1) == 1
                    for op in weighted_ops)
            and len(resizes) == 3
            and all(o["half_pixel_centers"] and not o["align_corners"] for o in resizes))


def _torch_layout(op: str, weight: np.ndarray) -> np.ndarray:
    """TFLite keeps filters channels-last: conv OHWI, depthwise 1HWC, transposed conv OHWI."""
    if op == "CONV_2D":
        return weight.transpose(0, 3, 1, 2)  # -> (out, in, h, w)
    # depthwise -> (channels, 1, h, w); transposed conv -> (in, out, h, w) as torch wants
    return weight.transpose(3, 0, 1, 2)


def _stride(op: Operator) -> tuple[int, int]:
    if op.op == "Convolution2DTransposeBias":
        # MediaPipe stores TfLiteTransposeConvParams raw: int32 padding, stride_w, stride_h
        if len(op.custom_options) < 12:
            raise WeightsError("The .tflite transposed convolution has no stride options.")
        _, stride_w, stride_h = struct.unpack_from("<3i", op.custom_options)
        return stride_h, stride_w
    return op.options["stride_h"], op.options["stride_w"]
