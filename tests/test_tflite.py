"""The .tflite reader: structure of the two MediaPipe graphs, constant data, broken files."""

from collections import Counter

import numpy as np
import pytest

from segcam.errors import WeightsError
from segcam.models.tflite import read_model

GENERAL = "selfie_segmentation.tflite"
LANDSCAPE = "selfie_segmentation_landscape.tflite"


@pytest.fixture(scope="module")
def general(shared_models):
    return read_model(shared_models / GENERAL)


@pytest.fixture(scope="module")
def landscape(shared_models):
    return read_model(shared_models / LANDSCAPE)


def test_general_graph_structure(general):
    assert len(general.tensors) == 360
    assert len(general.operators) == 246
    assert general.tensors[general.inputs[0]].shape == (1, 256, 256, 3)
    assert general.tensors[general.outputs[0]].shape == (1, 256, 256, 1)
    assert Counter(op.op for op in general.operators) == {
        "DEQUANTIZE": 110, "CONV_2D": 43, "RELU": 22, "ADD": 14, "HARD_SWISH": 11,
        "DEPTHWISE_CONV_2D": 11, "LOGISTIC": 11, "AVERAGE_POOL_2D": 10, "MUL": 10,
        "RESIZE_BILINEAR": 3, "Convolution2DTransposeBias": 1,
    }


def test_landscape_uses_mean_for_global_pooling(landscape):
    assert len(landscape.tensors) == 370
    assert landscape.tensors[landscape.inputs[0]].shape == (1, 144, 256, 3)
    means = [op for op in landscape.operators if op.op == "MEAN"]
    assert len(means) == 10
    assert not any(op.op == "AVERAGE_POOL_2D" for op in landscape.operators)
    for op in means:
        assert op.options == {"keep_dims": True}
        assert landscape.constant(op.inputs[1]).tolist() == [1, 2]  # over H and W of NHWC


def test_operator_options(general):
    stem = general.operators[2]  # after the two DEQUANTIZEs of its weight and bias
    assert stem.op == "CONV_2D"
    assert stem.options == {"padding": "SAME", "stride_w": 2, "stride_h": 2,
                            "activation": None, "dilation_w": 1, "dilation_h": 1}
    depthwise = next(op for op in general.operators if op.op == "DEPTHWISE_CONV_2D")
    assert depthwise.options["depth_multiplier"] == 1
    pool = next(op for op in general.operators if op.op == "AVERAGE_POOL_2D")
    assert (pool.options["filter_h"], pool.options["filter_w"], pool.options["padding"]) == (
        64, 64, "VALID")
    for resize in (op for op in general.operators if op.op == "RESIZE_BILINEAR"):
        assert resize.options == {"align_corners": False, "half_pixel_centers": True}
    transpose = general.operators[-2]
    assert transpose.op == "Convolution2DTransposeBias"
    # raw TfLiteTransposeConvParams: padding SAME (1), stride_w 2, stride_h 2
    assert np.frombuffer(transpose.custom_options, "<i4").tolist() == [1, 2, 2]


def test_float16_weights_behind_dequantize(general):
    halves = [t for t in general.tensors if t.dtype == np.float16]
    assert len(halves) == 110
    assert all(t.data is not None for t in halves)
    assert sum(t.data.size for t in halves) == 106_401
    dequantize = general.operators[0]
    assert dequantize.op == "DEQUANTIZE"
    weight = general.constant(dequantize.outputs[0])
    assert weight.dtype == np.float32 and weight.shape == (16, 3, 3, 3)
    np.testing.assert_array_equal(weight, general.tensors[dequantize.inputs[0]].data)
    assert general.tensors[dequantize.outputs[0]].data is None


def test_tensors_match_the_reference_interpreter(shared_models, landscape):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(shared_models / LANDSCAPE))
    details = interpreter.get_tensor_details()
    assert [(d["name"], tuple(d["shape"]), np.dtype(d["dtype"])) for d in details] == [
        (t.name, t.shape, t.dtype) for t in landscape.tensors]
    constants = [i for i, t in enumerate(landscape.tensors) if t.data is not None]
    assert len(constants) == 123
    for i in constants:
        np.testing.assert_array_equal(interpreter.get_tensor(i), landscape.tensors[i].data)


def test_computed_tensor_is_not_a_constant(general):
    with pytest.raises(WeightsError, match="computed"):
        general.constant(general.inputs[0])


def _one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message[0].isupper() and message.endswith(".") and "\n" not in message
    return message


@pytest.mark.parametrize("data", [b"", b"TFL3", b"not a model at all, just text",
                                  b"\x00\x00\x00\x00TFL3" + bytes(range(256)) * 4])
def test_garbage_raises_weights_error(data):
    with pytest.raises(WeightsError) as error:
        read_model(data)
    _one_sentence(error)


@pytest.mark.parametrize("fraction", [0.01, 0.25, 0.5, 0.9])
def test_truncated_file_raises_weights_error(shared_models, tmp_path, fraction):
    data = (shared_models / GENERAL).read_bytes()
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(WeightsError, match="truncated or corrupt") as error:
        read_model(truncated)
    assert str(truncated) in _one_sentence(error)


def test_missing_file_raises_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="cannot be read") as error:
        read_model(tmp_path / "absent.tflite")
    _one_sentence(error)
