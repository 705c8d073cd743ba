"""A minimal reader of .tflite files: tensors, constant data and operators of the main graph.

Enough of the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs) to rebuild a
small convolutional network elsewhere; nothing here runs a graph. Field numbers below are
the schema's field order, which is what a flatbuffer vtable is indexed by.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from os import PathLike

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from segcam.errors import WeightsError

# TensorType enum -> numpy dtype (only the types a float or int8 model uses)
_DTYPES = {
    0: np.dtype("float32"), 1: np.dtype("float16"), 2: np.dtype("int32"), 3: np.dtype("uint8"),
    4: np.dtype("int64"), 6: np.dtype("bool"), 7: np.dtype("int16"), 9: np.dtype("int8"),
}

# BuiltinOperator enum -> name, for the operators that image networks use
BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC",
    17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE",
    23: "RESIZE_BILINEAR", 25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 34: "PAD", 39: "TRANSPOSE",
    40: "MEAN", 41: "SUB", 42: "DIV", 67: "TRANSPOSE_CONV", 97: "RESIZE_NEAREST_NEIGHBOR",
    117: "HARD_SWISH",
}

_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATION = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

# Options table layout per operator: (option name, field number, flatbuffer type, default).
_I, _B = N.Int32Flags, N.Int8Flags
_CONV = [("padding", 0, _B, 0), ("stride_w", 1, _I, 1), ("stride_h", 2, _I, 1),
         ("activation", 3, _B, 0), ("dilation_w", 4, _I, 1), ("dilation_h", 5, _I, 1)]
_DEPTHWISE = [("padding", 0, _B, 0), ("stride_w", 1, _I, 1), ("stride_h", 2, _I, 1),
              ("depth_multiplier", 3, _I, 0), ("activation", 4, _B, 0),
              ("dilation_w", 5, _I, 1), ("dilation_h", 6, _I, 1)]
_POOL = [("padding", 0, _B, 0), ("stride_w", 1, _I, 1), ("stride_h", 2, _I, 1),
         ("filter_w", 3, _I, 1), ("filter_h", 4, _I, 1), ("activation", 5, _B, 0)]
_ACTIVATION_ONLY = [("activation", 0, _B, 0)]
_OPTIONS = {
    "CONV_2D": _CONV, "DEPTHWISE_CONV_2D": _DEPTHWISE,
    "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL,
    "ADD": _ACTIVATION_ONLY, "MUL": _ACTIVATION_ONLY, "SUB": _ACTIVATION_ONLY,
    "DIV": _ACTIVATION_ONLY, "CONCATENATION": [("axis", 0, _I, 0), ("activation", 1, _B, 0)],
    "RESIZE_BILINEAR": [("align_corners", 2, N.BoolFlags, False),
                        ("half_pixel_centers", 3, N.BoolFlags, False)],
    "MEAN": [("keep_dims", 0, N.BoolFlags, False)],
}


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None  # constant contents (read-only view, stored dtype), None if computed


@dataclass
class Operator:
    op: str  # builtin name ("CONV_2D"), or the custom code for CUSTOM ops
    inputs: list[int]  # tensor indices; -1 marks an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)  # padding/activation as names ("SAME", "RELU")
    custom_options: bytes = b""


@dataclass
class TFLiteModel:
    tensors: list[Tensor]
    operators: list[Operator]  # in execution order
    inputs: list[int]
    outputs: list[int]
    description: str = ""

    def producer(self, tensor: int) -> Operator | None:
        """The operator that writes `tensor`, or None for graph inputs and constants."""
        return next((op for op in self.operators if tensor in op.outputs), None)

    def constant(self, tensor: int) -> np.ndarray:
        """The data of a constant tensor; float16 weights behind a DEQUANTIZE come as float32."""
        data = self.tensors[tensor].data
        if data is None:
            source = self.producer(tensor)
            if source is None or source.op != "DEQUANTIZE":
                name = self.tensors[tensor].name
                raise WeightsError(f"The model's tensor {name!r} should be a weight, not computed.")
            data = self.constant(source.inputs[0]).astype(np.float32)
        return data


class _Fields:
    """Field access on one flatbuffer table, by schema field number."""

    def __init__(self, buf: bytes, pos: int):
        self._t = Table(buf, pos)

    def _slot(self, number: int) -> int:
        return self._t.Offset(4 + 2 * number)

    def scalar(self, number: int, flags, default):
        slot = self._slot(number)
        return self._t.Get(flags, self._t.Pos + slot) if slot else default

    def string(self, number: int) -> str:
        slot = self._slot(number)
        return self._t.String(self._t.Pos + slot).decode("utf-8") if slot else ""

    def table(self, number: int) -> _Fields | None:
        slot = self._slot(number)
        return _Fields(self._t.Bytes, self._t.Indirect(self._t.Pos + slot)) if slot else None

    def array(self, number: int, flags) -> np.ndarray:
        slot = self._slot(number)
        if not slot:
            return np.zeros(0, N.to_numpy_type(flags))
        return self._t.GetVectorAsNumpy(flags, slot)

    def tables(self, number: int) -> list[_Fields]:
        slot = self._slot(number)
        if not slot:
            return []
        start, count = self._t.Vector(slot), self._t.VectorLen(slot)
        return [_Fields(self._t.Bytes, self._t.Indirect(start + 4 * i)) for i in range(count)]


def read_model(source: str | PathLike | bytes) -> TFLiteModel:
    """Parse a .tflite file (path or bytes); raise WeightsError if it is not a readable one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf, what = bytes(source), "The model data"
    else:
        what = f"The model file {source}"
        try:
            with open(source, "rb") as f:
                buf = f.read()
        except OSError as e:
            raise WeightsError(f"{what} cannot be read: {e.strerror}.") from e
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise WeightsError(f"{what} is not a TensorFlow Lite model.")
    try:
        return _parse(buf)
    except (IndexError, KeyError, TypeError, ValueError, struct.error, UnicodeDecodeError) as e:
        # the cause stays chained for whoever debugs; the person gets one actionable sentence
        raise WeightsError(f"{what} is truncated or corrupt; download it again.") from e


def _parse(buf: bytes) -> TFLiteModel:
    model = _Fields(buf, struct.unpack_from("<I", buf, 0)[0])
    op_codes = [_op_name(code) for code in model.tables(1)]
    buffers = [_buffer_bytes(buf, b) for b in model.tables(4)]
    subgraphs = model.tables(2)
    if not subgraphs:
        raise ValueError("the model has no graph")
    graph = subgraphs[0]
    tensors = [_tensor(t, buffers) for t in graph.tables(0)]
    operators = [_operator(o, op_codes) for o in graph.tables(3)]
    inputs, outputs = graph.array(1, N.Int32Flags).tolist(), graph.array(2, N.Int32Flags).tolist()
    # check every tensor reference once here, so users of the model can index without care
    references = inputs + outputs + [i for op in operators for i in op.inputs + op.outputs]
    if not inputs or any(not -1 <= i < len(tensors) for i in references):
        raise ValueError("a tensor index is out of range")
    return TFLiteModel(tensors, operators, inputs, outputs, model.string(3))


def _op_name(code: _Fields) -> str:
    # builtin codes above 127 live in a newer int32 field; the old int8 one stays for old files
    builtin = max(code.scalar(0, N.Int8Flags, 0), code.scalar(3, N.Int32Flags, 0))
    if builtin == 32:
        return code.string(1)
    return BUILTIN_OPS.get(builtin, f"BUILTIN_{builtin}")


def _buffer_bytes(buf: bytes, buffer: _Fields) -> bytes:
    data = buffer.array(0, N.Uint8Flags)
    if data.size:
        return data.tobytes()
    # models over 2 GB keep buffers after the flatbuffer, by offset and size (offset 0 or 1: none)
    offset, size = buffer.scalar(1, N.Uint64Flags, 0), buffer.scalar(2, N.Uint64Flags, 0)
    if offset > 1 and offset + size > len(buf):
        raise ValueError("a weight buffer runs past the end of the file")
    return buf[offset:offset + size] if offset > 1 else b""


def _tensor(t: _Fields, buffers: list[bytes]) -> Tensor:
    shape = tuple(t.array(0, N.Int32Flags).tolist())
    type_code = t.scalar(1, N.Int8Flags, 0)
    dtype = _DTYPES.get(type_code)
    if dtype is None:
        raise ValueError(f"unsupported tensor type {type_code}")
    raw = buffers[t.scalar(2, N.Uint32Flags, 0)]
    data = None
    if raw:
        if len(raw) != int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"tensor {t.string(3)!r} has {len(raw)} bytes for shape {shape}")
        data = np.frombuffer(raw, dtype).reshape(shape)
    return Tensor(t.string(3), shape, dtype, data)


def _operator(o: _Fields, op_codes: list[str]) -> Operator:
    name = op_codes[o.scalar(0, N.Uint32Flags, 0)]
    options = {}
    table = o.table(4)
    for key, number, flags, default in _OPTIONS.get(name, []):
        options[key] = table.scalar(number, flags, default) if table else default
    if "padding" in options:
        options["padding"] = _PADDING[options["padding"]]
    if "activation" in options:
        options["activation"] = _ACTIVATION[options["activation"]]
    return Operator(name, o.array(1, N.Int32Flags).tolist(), o.array(2, N.Int32Flags).tolist(),
                    options, o.array(5, N.Uint8Flags).tobytes())
