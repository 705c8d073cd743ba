"""Segmenter: runs a registered network on a frame and returns the person probability.

Frames go in as BGR uint8 at any size; the network sees them resized to its input size.
The mask comes back at model resolution (`predict`), which is what the refiner wants, or
at frame size (`segment`).

On CUDA and MPS the network runs in torch (fp16 on CUDA). On a CPU it runs in ONNX
Runtime, exported once from the same torch network: for these small networks that measured
about 3x faster than eager torch on 2 cores (see `segcam bench`). The export is a derived
file (see `derived`): checked on every start and exported again when it does not verify.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from segcam.errors import SettingsError
from segcam.imageops import shrink
from segcam.models import derived, registry

log = logging.getLogger(__name__)


def pick_device(requested: str = "auto") -> str:
    """auto -> CUDA, then Apple MPS, then CPU. An explicit device must exist."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested == "cuda" and not cuda:
        raise SettingsError("--device cuda was asked for, but torch sees no CUDA GPU; use --device auto or cpu.")
    if requested == "mps" and not mps:
        raise SettingsError("--device mps was asked for, but Apple MPS is not available; use --device auto or cpu.")
    if requested not in ("cpu", "cuda", "mps"):
        raise SettingsError(f"Unknown device {requested!r}; choose auto, cpu, cuda or mps.")
    return requested


class FrameInput(nn.Module):
    """Wraps a network so it takes a resized BGR uint8 frame (1, H, W, 3) and returns (H, W).

    Doing the channel swap, scaling and normalisation inside the graph keeps the per-frame
    numpy work to a single resize.
    """

    def __init__(self, network: nn.Module, mean, std, dtype=torch.float32):
        super().__init__()
        self.network = network
        self.dtype = dtype
        mean, std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        # (rgb / 255 - mean) / std, folded into one multiply and one subtract
        self.register_buffer("scale", (1.0 / (255.0 * std)).to(dtype))
        self.register_buffer("offset", (mean / std).to(dtype))
        # a buffer, not a Python list: indexing with a list copies it to the GPU on every
        # call, which a CUDA graph cannot record
        self.register_buffer("bgr_to_rgb", torch.tensor([2, 1, 0]))

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        rgb = frame.permute(0, 3, 1, 2).index_select(1, self.bgr_to_rgb).to(self.dtype)
        x = rgb * self.scale - self.offset
        return self.network(x)[0, 0]


class TorchRunner:
    """The network in torch: fp16 on CUDA (replayed as a CUDA graph when it has no state)."""

    def __init__(self, network: nn.Module, spec: registry.ModelSpec, device: str, input_size: tuple[int, int]):
        dtype = torch.float16 if device == "cuda" else torch.float32
        self.device = torch.device(device)
        self.dtype = dtype
        module = frame_module(network, spec, dtype)
        self.module = module.to(self.device, dtype).eval().to(memory_format=torch.channels_last)
        self.recurrent = spec.recurrent
        self._graph = None
        if self.device.type == "cuda" and not self.recurrent:
            self._capture_graph(input_size)

    def initial_state(self, shapes: list[tuple[int, ...]]) -> tuple:
        return tuple(torch.zeros(shape, dtype=self.dtype, device=self.device) for shape in shapes)

    @torch.inference_mode()
    def _capture_graph(self, input_size: tuple[int, int]) -> None:
        """Record the network once as a CUDA graph and replay it per frame.

        These networks are a few hundred tiny kernels; launching them one by one costs
        more than running them, and a graph replay launches them all at once.
        """
        height, width = input_size
        try:
            self._input = torch.zeros(1, height, width, 3, dtype=torch.uint8, device=self.device)
            self._host = torch.empty_like(self._input, device="cpu").pin_memory()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up kernels and the allocator outside the graph
                    self.module(self._input)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._output = self.module(self._input).float()
            self._graph = graph
        except RuntimeError as exc:  # an older driver or an op that cannot be captured
            log.info("CUDA graph capture failed (%s); running the network eagerly", exc)
            self._graph = None

    @torch.inference_mode()
    def __call__(self, resized_bgr: np.ndarray, state: tuple) -> tuple[np.ndarray, np.ndarray | None, tuple]:
        if self._graph is not None:
            self._host[0].numpy()[...] = resized_bgr
            self._input.copy_(self._host, non_blocking=True)
            self._graph.replay()
            return self._output.cpu().numpy(), None, ()
        frame = torch.from_numpy(resized_bgr).to(self.device, non_blocking=True).unsqueeze(0)
        if not self.recurrent:
            return self.module(frame).float().cpu().numpy(), None, ()
        alpha, foreground, *state = self.module(frame, *state)
        return alpha.float().cpu().numpy(), foreground.float().cpu().numpy(), tuple(state)


def frame_module(network: nn.Module, spec: registry.ModelSpec, dtype=torch.float32) -> nn.Module:
    """The network wrapped to take a BGR uint8 frame (and, if recurrent, its states)."""
    if spec.frame_module is not None:
        return spec.frame_module(network, dtype)
    return FrameInput(network, spec.mean, spec.std, dtype)



class OnnxRunner:
    """The network in ONNX Runtime. Inputs: the frame, then the states; outputs: alpha, then
    (recurrent networks) the foreground correction and the states."""

    def __init__(self, onnx_path: Path | bytes, threads: int | None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        model = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)  # bytes: the learner's, in memory
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name
        self.state_names = [i.name for i in inputs[1:]]

    def initial_state(self, shapes: list[tuple[int, ...]]) -> tuple:
        return tuple(np.zeros(shape, np.float32) for shape in shapes)

    def __call__(self, resized_bgr: np.ndarray, state: tuple) -> tuple[np.ndarray, np.ndarray | None, tuple]:
        feed = {self.input_name: resized_bgr[None], **dict(zip(self.state_names, state))}
        outputs = self.session.run(None, feed)
        if not self.state_names:
            return outputs[0], None, ()
        return outputs[0], outputs[1], tuple(outputs[2:])


def export_onnx(network: nn.Module, spec: registry.ModelSpec, path: Path,
                input_size: tuple[int, int] | None = None) -> Path:
    """Export the wrapped network to ONNX at `path`, written whole, with its sha256 recorded."""
    return derived.write(path, lambda tmp: _export_to(network, spec, tmp, input_size or spec.input_size))


def _export_to(network: nn.Module, spec: registry.ModelSpec, target: Path, input_size: tuple[int, int]) -> None:
    """One export for any input size when the network's input follows the frame: ONNX Runtime
    ran RVM's dynamic-size graph as fast as a fixed-size one (31.4 vs 30.9 ms at 192x108)."""
    height, width = input_size
    module = frame_module(network, spec).eval()
    example = (torch.zeros(1, height, width, 3, dtype=torch.uint8),)
    inputs, outputs = ["frame"], ["mask"]
    if spec.recurrent:
        shapes = spec.state_shapes(height, width)
        example += tuple(torch.zeros(shape) for shape in shapes)
        inputs += [f"state{i}" for i in range(len(shapes))]
        outputs = ["alpha", "foreground", *(f"state{i}_out" for i in range(len(shapes)))]
    dynamic = None
    if spec.sized_for is not None:
        dynamic = {"frame": {1: "height", 2: "width"},
                   **{name: {2: f"{name}_height", 3: f"{name}_width"} for name in inputs[1:]}}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on constant folding are not for users
        torch.onnx.export(module, example, str(target), dynamo=False, opset_version=17,
                          input_names=inputs, output_names=outputs, dynamic_axes=dynamic)


def _onnx_dir() -> Path:
    from segcam.models import weights

    return weights.models_dir() / "onnx"


def _onnx_cache_path(name: str, revision: int = 1) -> Path:
    # one export per torch version (a newer exporter may write a different, better graph) and
    # per revision of the graph segcam exports
    version = torch.__version__.split("+")[0]
    return _onnx_dir() / (f"{name}-torch{version}.onnx" if revision == 1 else f"{name}-torch{version}-r{revision}.onnx")


def onnx_path_for(spec: registry.ModelSpec) -> Path:
    """Where a registered model's ONNX export is kept (for this torch version)."""
    return _onnx_cache_path(spec.name, spec.export_revision)


def onnx_caches(name: str | None = None) -> list[derived.Derived]:
    """The ONNX exports on this machine, of every torch version: of model `name`, or of all."""
    pattern = re.compile(rf"{re.escape(name)}-torch[^-]*(-r\d+)?\.onnx" if name else r".+\.onnx")
    folder = _onnx_dir()
    paths = sorted(p for p in folder.glob("*.onnx") if pattern.fullmatch(p.name)) if folder.is_dir() else []
    return [derived.Derived(p, derived.loads_as_onnx) for p in paths]


@dataclass
class Matte:
    """What a network says about one frame, at its own resolution."""

    alpha: np.ndarray  # float32 (h, w) in [0, 1]: 1 = person
    # a matting network's correction of the person's colour (RGB, to add to the frame in [0, 1]
    # units): it takes the background's colour out of hair and edges; None for masks only
    foreground: np.ndarray | None = None


# Networks this light run on one ONNX Runtime thread. On 2 cores the landscape model took
# 1.43 ms on one thread against 1.78 ms on two (2.65 vs 2.98 ms for the general one), and
# the other core stays free for capture and compositing. Two threads are faster only while
# they spin between runs, which burnt 28 ms of CPU per frame at 30 fps. Heavier networks
# (RVM) take every core.
_ONE_THREAD_PIXELS = 256 * 256


class Segmenter:
    """Person alpha for frames, with one network on one device, and the network's recurrent
    state (carried from frame to frame; `reset` starts a new video)."""

    def __init__(self, model: str = "mediapipe-landscape", device: str = "auto",
                 runtime: str = "auto", download: bool = True,
                 frame_size: tuple[int, int] | None = None, quality: str = "balanced", threads: int | None = None):
        """`threads`: ONNX Runtime's threads (default: one for light networks, every core for
        heavy ones); the online learner's teacher runs on one, at low priority."""
        self.spec = registry.lookup(model)
        self.threads = threads
        self.weights = "its own"  # or the online learner's: see use_runner
        if frame_size is None and self.spec.input_size is None:
            raise ValueError(f"{self.spec.name} sizes its input by the frame: give frame_size")
        self.input_size = self.spec.input_size_for(*frame_size, quality) if frame_size else self.spec.input_size
        self.device = pick_device(device)
        self.runtime = self._choose_runtime(runtime)
        if self.runtime == "onnxruntime":
            self._run = self._open_onnx(download, asked=runtime)
        if self.runtime == "torch":
            network = registry.create_model(self.spec.name, download=download)
            self._run = TorchRunner(network, self.spec, self.device, self.input_size)
        self.reset()

    def _open_onnx(self, download: bool, asked: str) -> OnnxRunner | None:
        """ONNX Runtime on the export, made (again) when it is missing or does not verify."""
        path = onnx_path_for(self.spec)
        # the torch network is needed only to export it
        derived.ensure(path, lambda tmp: _export_to(registry.create_model(self.spec.name, download=download),
                                                    self.spec, tmp, self.input_size), derived.loads_as_onnx)
        light = not self.spec.recurrent and self.input_size[0] * self.input_size[1] <= _ONE_THREAD_PIXELS
        try:
            return OnnxRunner(path, self.threads or (1 if light else None))
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own errors, on a file that verifies
            problem = f"ONNX Runtime cannot load {path} ({(str(exc).strip().splitlines() or ['?'])[0][:200]})"
            if asked == "onnxruntime":
                raise SettingsError(f"{problem}; use --runtime torch, or another onnxruntime version.") from exc
            log.warning("%s; running the network in torch instead", problem)
            self.runtime = "torch"
            return None

    def _choose_runtime(self, runtime: str) -> str:
        if runtime == "auto":
            if self.device != "cpu":
                return "torch"
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                log.info("onnxruntime is not installed; running the network in torch on the CPU")
                return "torch"
            return "onnxruntime"
        if runtime == "onnxruntime" and self.device != "cpu":
            raise SettingsError("ONNX Runtime is used for the CPU only; pick --device cpu for it.")
        if runtime not in ("torch", "onnxruntime"):
            raise SettingsError(f"Unknown runtime {runtime!r}; choose auto, torch or onnxruntime.")
        return runtime

    @property
    def name(self) -> str:
        return self.spec.name

    def runner_for(self, onnx: bytes | None, state: dict):
        """A runner like this one's with other weights of the same network (the online learner's):
        from their ONNX export in ONNX Runtime, else from the state dict in torch. Slow: build it
        off the live path, then `use_runner` swaps it in between frames."""
        if self.recurrent:
            raise ValueError(f"{self.name} carries a recurrent state; its weights are not swapped")
        if self.runtime == "onnxruntime":
            if onnx is None:
                raise ValueError("an ONNX Runtime segmenter needs the weights' ONNX export")
            light = self.input_size[0] * self.input_size[1] <= _ONE_THREAD_PIXELS
            return OnnxRunner(onnx, self.threads or (1 if light else None))
        network = registry.create_model(self.spec.name, download=False)
        network.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        return TorchRunner(network, self.spec, self.device, self.input_size)

    def use_runner(self, runner, weights: str) -> None:
        """Run other weights of the same network from the next frame on (`weights` names them).
        Not a model switch: nothing about the scene is forgotten."""
        self._run = runner
        self.weights = weights

    @property
    def recurrent(self) -> bool:
        return self.spec.recurrent

    def reset(self) -> None:
        """Forget the recurrent state: the next frame starts a new video (a new source, a cut)."""
        shapes = self.spec.state_shapes(*self.input_size) if self.spec.recurrent else []
        self.state = self._run.initial_state(shapes)

    def resize_input(self, frame: np.ndarray) -> np.ndarray:
        height, width = self.input_size
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame, got shape {frame.shape} {frame.dtype}")
        # area averaging uses every source pixel: no aliasing when shrinking a 1080p frame 7x
        return shrink(frame, (width, height))

    def predict(self, frame: np.ndarray) -> np.ndarray:
        """Person probability at model resolution, float32 (H, W) in [0, 1]."""
        return self.infer(self.resize_input(frame))

    def infer(self, model_input: np.ndarray) -> np.ndarray:
        """Like predict, for a frame already made the network's size by resize_input."""
        return self.matte(model_input).alpha

    def matte(self, model_input: np.ndarray) -> Matte:
        """Alpha (and a matting network's foreground correction) for a resized frame; the
        recurrent state moves on by one frame."""
        alpha, foreground, self.state = self._run(model_input, self.state)
        return Matte(alpha, foreground)

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """Person probability at the frame's own size."""
        mask = self.predict(frame)
        return cv2.resize(mask, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
