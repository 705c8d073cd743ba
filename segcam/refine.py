"""Mask refiner: steadies the network's mask over time and softens its edge.

The network's mask arrives at model resolution (e.g. 256x144) together with the network's
input image of the same size. All refinement happens there, where it is cheap, and only the
final result is upsampled to the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam import edges
from segcam.settings import Settings

# Temporal smoothing blends each new mask into the previous result after moving that result
# along the image's optical flow, so a moving person is followed without a trail while a
# still edge is averaged over several frames. Where the picture moves (pooled flow of
# _MOVING_PX model pixels a frame or more) or the new mask disagrees with the moved one by a
# pooled _MOTION or more (a turn, a hand entering, a scene cut), the new mask is taken at
# once; below that its weight falls off quadratically to the still weight,
# _STILL_WEIGHT_HALF ** (2 * smoothing): 0.1 at the default smoothing 0.5.
# Measured with `segcam eval --motion` on people/split_val60 (moving ground truth): without
# the flow-speed gate the blend cost 0.011 IoU on fast motion (10-30 px a frame) and raised
# the temporal error (dtSSD) by 8%, because flow is least reliable where things move fast;
# with it the refiner costs no IoU on talking or fast clips and lowers dtSSD on both. The
# numbers are in the README's "Mask quality" section.
_MOTION = 0.8
_MOVING_PX = 2.0  # model pixels a frame
_MOTION_POOL_SIGMA = 2.0  # model pixels
_STILL_WEIGHT_HALF = 0.1
_MAX_FEATHER_SIGMA = 2.0  # in model pixels, at edge_softness 1.0
_INVISIBLE = 1e-4  # alpha below this is less than 1/40 of a grey level
_MIN_FLOW_SIZE = 12  # DIS needs an image at least this wide or high


class FlowWarp:
    """Moves an image from the previous frame to the current one along the optical flow.

    DIS optical flow at its fastest preset: about 0.3 ms at 256x144 on one core.
    """

    def __init__(self):
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, previous: np.ndarray, grey: np.ndarray,
                 previous_grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """`previous` moved to the current frame, and how far each pixel moved (None: unknown)."""
        height, width = grey.shape
        if max(height, width) < _MIN_FLOW_SIZE:
            return previous, None  # too small for DIS to find any motion
        if self._grid is None or self._grid[0].shape != grey.shape:
            self._grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        # flow from the current frame back to the previous one: where each pixel came from
        flow = self._flow.calc(grey, previous_grey, None)
        map_x = self._grid[0] + flow[..., 0]
        map_y = self._grid[1] + flow[..., 1]
        moved = cv2.remap(previous, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return moved, cv2.magnitude(flow[..., 0], flow[..., 1])


class MaskRefiner:
    """Temporal smoothing, optional threshold, feathering, and upsampling to frame size."""

    def __init__(self, settings: Settings, matte: bool = False):
        self._previous: np.ndarray | None = None
        self._previous_grey: np.ndarray | None = None
        self._warp = FlowWarp()
        self.matte = matte
        self.update(settings)

    def update(self, settings: Settings, matte: bool | None = None) -> None:
        """Take the user's settings. For a matting network (`matte`: RVM) the temporal smoothing
        and the feathering are off: its alpha is already soft at the edge and steadied by its
        own recurrent state, and on `eval --motion` both only cost (RVM at 256 px, 20 talking
        clips: IoU 0.9678 raw, 0.9648 with the default smoothing; dtSSD 0.0819 raw, 0.0860
        smoothed, 0.0844 feathered alone). The threshold still applies."""
        if matte is not None:
            self.matte = matte
        self.smoothing = 0.0 if self.matte else settings.smoothing
        self.threshold = settings.threshold
        self.edge_softness = 0.0 if self.matte else settings.edge_softness
        self.edge_refine = settings.edge_refine

    def reset(self) -> None:
        """Forget the past, e.g. after a camera switch."""
        self._previous = None
        self._previous_grey = None

    def smooth(self, mask: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Motion-compensated exponential smoothing: strong on still edges, off where the shape changes.

        `image` is the frame at the mask's size (the network's input, BGR or grey).
        """
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        if grey.shape != mask.shape:
            raise ValueError(f"image {grey.shape} and mask {mask.shape} differ in size")
        previous, previous_grey = self._previous, self._previous_grey
        self._previous_grey = grey
        if previous is None or previous.shape != mask.shape or self.smoothing <= 0:
            self._previous = mask
            return mask
        moved, speed = self._warp(previous, grey, previous_grey)
        change = cv2.GaussianBlur(cv2.absdiff(mask, moved), (0, 0), _MOTION_POOL_SIGMA)
        motion = np.minimum(change * (1.0 / _MOTION), 1.0)
        if speed is not None:
            moving = cv2.GaussianBlur(speed, (0, 0), _MOTION_POOL_SIGMA) * (1.0 / _MOVING_PX)
            motion = np.minimum(np.maximum(motion, moving), 1.0)
        # weight of the new mask: the still weight where it agrees, rising to 1 where it does not
        still_weight = _STILL_WEIGHT_HALF ** (2.0 * self.smoothing)
        weight = motion * motion * (1.0 - still_weight) + still_weight
        smoothed = moved + weight * (mask - moved)
        # repeated blending and warping decays far background values into denormal floats,
        # which made every later float operation on the alpha several times slower (+3 ms a
        # 720p frame); below _INVISIBLE nothing shows, so they become exact zeros
        smoothed = cv2.threshold(smoothed, _INVISIBLE, 0.0, cv2.THRESH_TOZERO)[1]
        self._previous = smoothed
        return smoothed

    def shape(self, mask: np.ndarray) -> np.ndarray:
        """Threshold (as a narrow ramp, never a jagged cut) and feather the edge."""
        if self.threshold is not None:
            # a ramp 0.1 wide keeps the edge anti-aliased after upsampling
            mask = np.clip((mask - self.threshold) * 10.0 + 0.5, 0.0, 1.0)
        if self.edge_softness > 0:
            sigma = self.edge_softness * _MAX_FEATHER_SIGMA
            mask = cv2.GaussianBlur(mask, (0, 0), sigma)
        return mask

    def refine_lowres(self, mask: np.ndarray, image: np.ndarray) -> np.ndarray:
        return self.shape(self.smooth(mask.astype(np.float32, copy=False), image))

    def finish(self, smoothed: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """Threshold and feather a smoothed model-resolution mask; float32 alpha at frame size."""
        height, width = frame_shape[:2]
        return cv2.resize(self.shape(smoothed), (width, height), interpolation=cv2.INTER_LINEAR)

    def refine(self, mask: np.ndarray, image: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """Refine a model-resolution mask and return float32 alpha at the frame's size, lifted
        by plain bilinear upsampling (what `refine_frame` does with edge refinement off)."""
        return self.finish(self.smooth(mask.astype(np.float32, copy=False), image), frame_shape)

    def refine_frame(self, mask: np.ndarray, image: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """Refine a model-resolution mask for `frame` (BGR uint8): float32 alpha at its size.

        With edge refinement on (segcam.edges) the alpha follows the frame's own edges and
        does not reach out into the room; off, it is lifted bilinearly. (A grey-guided filter
        had been measured on people/split_val60 as no better in IoU, 0.871 -> 0.869; what the
        colour-guided one is for is the edge's colour over a new background, which IoU does not
        see: segcam.edge_eval.)
        """
        smoothed = self.smooth(mask.astype(np.float32, copy=False), image)
        if not self.edge_refine:
            return self.finish(smoothed, frame.shape)
        return edges.lift(self.shape(smoothed), frame)
