"""A minimal reader of TensorFlow.js graph models: model.json plus its binary weight shards.

model.json holds the graph (`modelTopology.node`, TensorFlow NodeDefs as JSON) and a
`weightsManifest`: groups of weights, each group stored back to back in the concatenation of
its shard files, every weight `shape` x its stored dtype. Quantised weights store uint8 or
uint16 codes with a per-tensor `min` and `scale` (value = min + code * scale), or float16.
Nothing here runs a graph.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from segcam.errors import WeightsError

_STORED = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("bool"),
           "uint8": np.dtype("uint8"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


@dataclass
class GraphModel:
    weights: dict[str, np.ndarray]  # name -> float32 (dequantised), int32 or bool array
    nodes: list[dict] = field(default_factory=list)  # modelTopology.node, as in the JSON
    signature: dict = field(default_factory=dict)  # inputs and outputs by name
    converted_by: str = ""

    def node(self, name: str) -> dict | None:
        return next((n for n in self.nodes if n.get("name") == name), None)


def read_graph_model(model_json: str | PathLike, shards: list[str | PathLike] | None = None) -> GraphModel:
    """Read model.json and its weights; `shards` replaces the manifest's file names (in order).

    WeightsError with one sentence when a file is missing, truncated or not a TF.js graph model.
    """
    model_json = Path(model_json)
    try:
        spec = json.loads(model_json.read_text(encoding="utf-8"))
    except OSError as e:
        raise WeightsError(f"Cannot read {model_json}: {e.strerror or e}.") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{model_json} is not a TensorFlow.js model.json (not JSON).") from e
    if (not isinstance(spec, dict) or spec.get("format") != "graph-model"
            or not isinstance(spec.get("modelTopology"), dict)
            or not isinstance(spec.get("weightsManifest"), list)):
        raise WeightsError(f"{model_json} is not a TensorFlow.js graph model.")
    groups = spec["weightsManifest"]
    try:
        paths = [[model_json.parent / p for p in group["paths"]] for group in groups]
        if shards is not None:
            if len(shards) != sum(len(p) for p in paths):
                raise WeightsError(f"{model_json} names {sum(len(p) for p in paths)} weight "
                                   f"file(s), but {len(shards)} were given.")
            it = iter(Path(s) for s in shards)
            paths = [[next(it) for _ in group] for group in paths]
        weights = {}
        for group, files in zip(groups, paths):
            weights.update(_read_group(group["weights"], files))
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"{model_json} has a damaged weights manifest ({type(e).__name__}: {e}).") from e
    return GraphModel(weights, list(spec["modelTopology"].get("node", [])),
                      dict(spec.get("signature") or {}), str(spec.get("convertedBy", "")))


def _read_group(entries: list[dict], files: list[Path]) -> dict[str, np.ndarray]:
    chunks = []
    for path in files:
        try:
            chunks.append(path.read_bytes())
        except OSError as e:
            raise WeightsError(f"Cannot read the model's weight file {path}: {e.strerror or e}.") from e
    data = b"".join(chunks)
    where = files[0] if len(files) == 1 else f"the weight files {', '.join(map(str, files))}"
    out, offset = {}, 0
    for entry in entries:
        name, shape, dtype = entry["name"], [int(d) for d in entry["shape"]], entry["dtype"]
        quant = entry.get("quantization")
        stored = _STORED.get(quant["dtype"] if quant else dtype)
        if dtype not in ("float32", "int32", "bool") or stored is None:
            raise WeightsError(f"The model's weight {name!r} has a type segcam cannot read "
                               f"({quant['dtype'] if quant else dtype}).")
        count = int(np.prod(shape))
        size = count * stored.itemsize
        if offset + size > len(data):
            raise WeightsError(f"{where} is truncated (it ends inside weight {name!r}); "
                               "download it again.")
        raw = np.frombuffer(data, stored, count, offset)
        offset += size
        out[name] = _decode(raw, dtype, quant).reshape(shape)
    if offset != len(data):
        raise WeightsError(f"{where} is {len(data)} bytes where its model.json describes "
                           f"{offset}; it belongs to another model.")
    return out


def _decode(raw: np.ndarray, dtype: str, quant: dict | None) -> np.ndarray:
    if quant is None:
        return raw.copy()
    if quant["dtype"] == "float16":
        return raw.astype(np.float32)
    # TF.js computes code * scale + min in doubles and stores the result in the weight's dtype
    values = raw.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    return np.round(values).astype(np.int32) if dtype == "int32" else values.astype(np.float32)
