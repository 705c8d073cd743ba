"""RVM's weight files -> `rvm.MattingNetwork` (BatchNorm folded, eval mode).

- `from_tfjs`: RVM's TensorFlow.js export (uint8 weights, fast guided filter). Its graph has
  every BatchNorm already folded into the convolution before it (TF.js's fused convolutions),
  so the network is built in the folded layout and filled through one table, `tfjs_table()`.
  The export's float constants (ImageNet mean and 1/std, rounded to uint8 steps) fill the
  encoder's normalisation buffers; the architecture's fixed constants (hard-swish 3 and 1/6,
  the GRU's 1, the clamp bounds, the filter's epsilon and box kernels) are checked, not loaded.
- `from_checkpoint`: RVM's float PyTorch checkpoint `rvm_mobilenetv3.pth` (deep guided
  filter), checked name by name and shape by shape against RVM's layout, then folded.

Folding (conv weight x gamma/sqrt(var+eps), bias beta - mean x that factor) loses nothing at
inference, is what the export did, and gives both loaders one layout to run and export.
"""

from __future__ import annotations

import io
from collections import Counter
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from segcam.errors import WeightsError
from segcam.models import rvm, tfjs

_PREFIX = "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/"
_FOLDED = "ConstantFolding/" + _PREFIX  # constants TensorFlow's optimiser computed ahead
_ENC = "mobile_net_v3_encoder/"
_DEC = "recurrent_decoder/"


def _head_rows() -> list[tuple[str, str, str | None, str | None]]:
    """LR-ASPP, decoder and projection rows: few enough to write out.

    A row: (torch conv, TF.js kernel, TF.js bias or None, TF.js per-channel BatchNorm scale or
    None), TF.js names below _PREFIX. A fused conv's bias is its folded BatchNorm's offset.
    """
    def fused(torch_name: str, scope: str):
        return (torch_name, scope + "/Conv2D_weights", scope + "/Conv2D_bn_offset", None)

    def plain(torch_name: str, scope: str, bias: bool = True):
        return (torch_name, scope + "/Conv2D/ReadVariableOp",
                scope + "/BiasAdd/ReadVariableOp" if bias else None, None)

    bottleneck = _DEC + "bottleneck_block/conv_gru/"
    rows = [fused("aspp.aspp1.0", "lraspp/sequential_15/conv2d_47"),
            plain("aspp.aspp2.1", "lraspp/conv2d_48", bias=False),
            plain("decoder.decode4.gru.ih.0", bottleneck + "conv2d_49"),
            plain("decoder.decode4.gru.hh.0", bottleneck + "conv2d_50")]
    # decoder.decodeK: Keras scope, its Sequential, conv number, GRU scope, the GRU's first conv
    for block, scope, sequential, conv, gru, ih in [
            ("decode3", "upsampling_block", "sequential_16", 51, "conv_gru_1", 52),
            ("decode2", "upsampling_block_1", "sequential_17", 54, "conv_gru_2", 55),
            ("decode1", "upsampling_block_2", "sequential_18", 57, "conv_gru_3", 58)]:
        base = f"{_DEC}{scope}/"
        rows += [fused(f"decoder.{block}.conv.0", f"{base}{sequential}/conv2d_{conv}"),
                 plain(f"decoder.{block}.gru.ih.0", f"{base}{gru}/conv2d_{ih}"),
                 plain(f"decoder.{block}.gru.hh.0", f"{base}{gru}/conv2d_{ih + 1}")]
    out = _DEC + "output_block/sequential_19/"
    return rows + [fused("decoder.decode0.conv.0", out + "conv2d_60"),
                   fused("decoder.decode0.conv.3", out + "conv2d_61"),
                   plain("project_mat.conv", "conv2d_62")]


# Buffers filled from the export's constants (full TF.js names).
_BUFFERS = [("backbone.mean", _PREFIX + _ENC + "Const"),
            ("backbone.inv_std", _FOLDED + _ENC + "truediv_recip")]

# The architecture's fixed constants outside the encoder (full TF.js names) -> expected value.
_GRAPH_INPUTS = "Func/" + _PREFIX + "input/"
_REFINER = _PREFIX + "cond_1/else/_663/cond_1/fast_guided_filter_refiner/fast_guided_filter/"
_FIXED_HEAD = {
    _PREFIX + "clip_by_value/Minimum/y": 1.0, _PREFIX + "clip_by_value/y": 0.0,
    _PREFIX + "clip_by_value_1/Minimum/y": 1.0, _PREFIX + "clip_by_value_1/y": 0.0,
    _PREFIX + "x": 1.0, _PREFIX + "x_1": 1.0,  # the graph's "downsample_ratio == 1" tests
    _REFINER + "add/y": 1e-5,  # the guided filter's epsilon
    _GRAPH_INPUTS + "_644": np.full((3, 1, 4, 1), 1 / 3),  # its box filter: 3 tall, then 3 wide
    _GRAPH_INPUTS + "_645": np.full((1, 3, 4, 1), 1 / 3),
    **{f"{_PREFIX}{_DEC}{scope}/{gru}/sub/x": 1.0  # the GRU's (1 - z)
       for scope, gru in [("bottleneck_block", "conv_gru"), ("upsampling_block", "conv_gru_1"),
                          ("upsampling_block_1", "conv_gru_2"), ("upsampling_block_2", "conv_gru_3")]},
}


def _encoder_rows() -> tuple[list[tuple], dict[str, object]]:
    """The encoder's rows and fixed constants, named the way Keras named RVM's TF layers.

    Keras numbers each layer class in creation order (conv2d, conv2d_1, ...); RVM's TF encoder
    creates, per block: an expand ConvBNActivation (conv2d, BN, activation) unless the block does
    not expand, a depthwise one, the squeeze-excite (two conv2d), the projection.
    """
    count = Counter()

    def name(kind: str) -> str:
        n = count[kind]
        count[kind] += 1
        return kind if n == 0 else f"{kind}_{n}"

    rows, fixed = [], {}

    def conv_bn_act(torch_name: str, scope: str, depthwise: bool, dilated: bool, activation: str | None):
        cba = name("conv_bn_activation")
        layer, bn = name("depthwise_conv2d" if depthwise else "conv2d"), name("batch_normalization")
        base = f"{_ENC}{scope}{cba}/{layer}/"
        if dilated:  # TensorFlow does not fuse a dilated depthwise conv with its BatchNorm
            bn_base = f"{_ENC}{scope}{cba}/{bn}/FusedBatchNormV3/"
            rows.append((torch_name, base + "depthwise/ReadVariableOp", bn_base + "Offset",
                         bn_base + "Scaled"))
        else:
            kind = "depthwise" if depthwise else "Conv2D"
            rows.append((torch_name, f"{base}{kind}_weights", f"{base}{kind}_bn_offset", None))
        if activation == "HS":
            act = f"{_ENC}{scope}{cba}/{name('hardswish')}/"
            fixed[_PREFIX + act + "add/y"] = 3.0
            fixed[_FOLDED + act + "truediv_recip"] = 1 / 6

    conv_bn_act("backbone.features.0.0", "", False, False, "HS")
    for i, (cin, _, expanded, _, use_se, act, _, dilation) in enumerate(rvm._ENCODER_BLOCKS, start=1):
        scope = f"{name('inverted_residual')}/{name('sequential')}/"
        position = 0
        if expanded != cin:
            conv_bn_act(f"backbone.features.{i}.block.0.0", scope, False, False, act)
            position = 1
        conv_bn_act(f"backbone.features.{i}.block.{position}.0", scope, True, dilation > 1, act)
        if use_se:
            se = f"{_ENC}{scope}{name('squeeze_excitation')}/"
            for fc in ("fc1", "fc2"):
                conv = se + name("conv2d")
                rows.append((f"backbone.features.{i}.block.{position + 1}.{fc}",
                             conv + "/Conv2D/ReadVariableOp", conv + "/BiasAdd/ReadVariableOp", None))
            fixed[_PREFIX + se + "add/y"] = 3.0
            fixed[_FOLDED + se + "truediv_recip"] = 1 / 6
            position += 1
        conv_bn_act(f"backbone.features.{i}.block.{position + 1}.0", scope, False, False, None)
    conv_bn_act("backbone.features.16.0", "", False, False, "HS")
    return rows, fixed


def tfjs_table() -> tuple[list[tuple[str, str, str | None, str | None]], list[tuple[str, str]],
                          dict[str, object]]:
    """The one mapping from TF.js weight names to the network: (conv rows with full TF.js
    names, buffer rows, fixed constants by full TF.js name)."""
    encoder_rows, fixed = _encoder_rows()
    rows = [(torch_name, *(None if n is None else _PREFIX + n for n in tf_names))
            for torch_name, *tf_names in encoder_rows + _head_rows()]
    return rows, list(_BUFFERS), {**fixed, **_FIXED_HEAD}


def from_tfjs(model_json: str | PathLike, shard: str | PathLike | None = None) -> rvm.MattingNetwork:
    """Build RVM from its TF.js export (model.json; `shard`: the .bin if named otherwise)."""
    graph = tfjs.read_graph_model(model_json, None if shard is None else [shard])
    what = f"{Path(model_json).name} is not RVM's MobileNetV3 TF.js export"
    net = rvm.MattingNetwork("fast_guided_filter")
    rows, buffers, fixed = tfjs_table()

    def take(tf_name: str) -> np.ndarray:
        if tf_name not in graph.weights:
            raise WeightsError(f"{what}: it has no weight {tf_name!r}.")
        return graph.weights[tf_name]

    state = {}
    for torch_name, kernel, bias, scale in rows:
        depthwise = net.get_submodule(torch_name).groups > 1
        w = take(kernel)
        if w.ndim != 4:
            raise WeightsError(f"{what}: its weight {kernel!r} is not a convolution kernel.")
        # TF kernels are HWIO, depthwise ones H W C 1; torch wants O I H W (depthwise C 1 H W)
        w = w.transpose((2, 3, 0, 1) if depthwise else (3, 2, 0, 1))
        if scale is not None:
            factor = take(scale)
            if factor.shape != (w.shape[0],):
                raise WeightsError(f"{what}: its weight {scale!r} has shape {factor.shape}.")
            w = w * factor.reshape(-1, 1, 1, 1)
        state[torch_name + ".weight"] = w
        if bias is not None:
            state[torch_name + ".bias"] = take(bias)
    for torch_name, tf_name in buffers:
        state[torch_name] = take(tf_name).reshape(1, 3, 1, 1)
    for tf_name, expected in fixed.items():
        value = take(tf_name)
        if np.shape(value) != np.shape(expected) or not np.allclose(value, expected, rtol=1e-6, atol=1e-9):
            raise WeightsError(f"{what}: its constant {tf_name!r} differs from RVM's.")
    used = {n for row in rows for n in row[1:] if n} | {n for _, n in buffers} | set(fixed)
    extra = sorted(n for n, v in graph.weights.items() if v.dtype == np.float32 and n not in used)
    if extra:
        raise WeightsError(f"{what}: it has weights this network lacks, e.g. {extra[0]!r}.")
    _load(net, state, what)
    return net.eval()


def _load(net: torch.nn.Module, state: dict[str, np.ndarray | torch.Tensor], what: str) -> None:
    own = {**dict(net.named_parameters()), **dict(net.named_buffers())}
    for name, value in state.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise WeightsError(f"{what}: {name} has shape {tuple(value.shape)} where the network "
                               f"has {tuple(own[name].shape)}.")
    missing = sorted(set(net.state_dict()) - set(state))
    if missing:  # a gap in the table, not in the user's file
        raise RuntimeError(f"nothing fills {missing[0]}")
    with torch.no_grad():
        for name, value in state.items():
            own[name].copy_(torch.as_tensor(np.asarray(value, np.float32))
                            if isinstance(value, np.ndarray) else value)


# ------------------------------------------------------------------ RVM's PyTorch checkpoint

# entries of RVM's checkpoint that inference does not use: the segmentation head of its
# training, and BatchNorm's step counters (present or not depending on the torch that saved it)
_UNUSED_HEAD = {"project_seg.conv.weight": (1, 16, 1, 1), "project_seg.conv.bias": (1,)}


def _reference() -> rvm.MattingNetwork:
    """RVM's own layout (BatchNorm unfolded, deep guided filter), which its checkpoint fills."""
    return rvm.MattingNetwork("deep_guided_filter", batchnorm=True)


def checkpoint_layout() -> dict[str, tuple[int, ...]]:
    """Every tensor `rvm_mobilenetv3.pth` holds (but the optional BatchNorm step counters):
    RVM's parameter names -> shapes."""
    reference = _reference()
    layout = {name: tuple(t.shape) for name, t in reference.state_dict().items()
              if not name.endswith("num_batches_tracked")}
    return {**layout, **_UNUSED_HEAD}


def from_checkpoint(pth: str | PathLike) -> rvm.MattingNetwork:
    """Build RVM (deep guided filter) from RVM's official float checkpoint, checked by structure."""
    pth = Path(pth)
    try:
        data = pth.read_bytes()
    except OSError as e:
        raise WeightsError(f"Cannot read {pth}: {e.strerror or e}.") from e
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # zip, pickle and unpickler errors all mean "not a checkpoint"
        raise WeightsError(f"{pth} is not a PyTorch checkpoint ({type(e).__name__}).") from e
    what = f"{pth.name} is not RVM's MobileNetV3 checkpoint"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{what}: it holds no plain state dict of tensors.")
    layout = checkpoint_layout()
    for name, shape in layout.items():
        if name not in state:
            raise WeightsError(f"{what}: it lacks {name}.")
        if tuple(state[name].shape) != shape:
            raise WeightsError(f"{what}: {name} has shape {tuple(state[name].shape)} where RVM "
                               f"has {shape}.")
    for name in state:
        if name not in layout and not (name.endswith(".num_batches_tracked")
                                       and name.replace("num_batches_tracked", "running_mean") in layout):
            raise WeightsError(f"{what}: it has an unexpected entry {name}.")
    net = rvm.MattingNetwork("deep_guided_filter")
    folded = fold_batchnorm({k: v.float() for k, v in state.items() if k not in _UNUSED_HEAD})
    _load(net, folded, what)
    return net.eval()


def fold_batchnorm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A batchnorm=True state dict -> the folded layout's: each BatchNorm (at Sequential index
    i) folded into the convolution at index i - 1."""
    eps_of = {name: m.eps for name, m in _reference().named_modules()
              if isinstance(m, torch.nn.BatchNorm2d)}
    out = {k: v for k, v in state.items()
           if not k.endswith((".running_mean", ".running_var", ".num_batches_tracked"))}
    for key in state:
        if not key.endswith(".running_mean"):
            continue
        bn = key[: -len(".running_mean")]
        parent, index = bn.rsplit(".", 1)
        conv = f"{parent}.{int(index) - 1}"
        factor = out.pop(bn + ".weight") / torch.sqrt(state[bn + ".running_var"] + eps_of[bn])
        shift = out.pop(bn + ".bias") - state[bn + ".running_mean"] * factor
        weight = out[conv + ".weight"]
        out[conv + ".weight"] = weight * factor.view(-1, *([1] * (weight.dim() - 1)))
        out[conv + ".bias"] = shift + out.get(conv + ".bias", 0) * factor
    return out
