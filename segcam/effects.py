"""The compositor: what replaces the background, given a frame and the person's alpha.

Everything works on uint8 BGR frames with OpenCV, which on a CPU is several times faster than
float numpy for full-HD blends. `alpha` is float32 in [0, 1] at frame size, 1 = person.
"""

from __future__ import annotations

import cv2
import numpy as np

from segcam.backgrounds import VideoBackground, fill, load_image
from segcam.errors import BackgroundError
from segcam.imageops import shrink
from segcam.settings import Settings

# Blur radius as a fraction of the frame height, at strength 0 and the added amount at 1.
_BLUR_MIN, _BLUR_RANGE = 0.004, 0.05
# The blur runs on a frame shrunk until the radius is about this many pixels: a wide
# Gaussian is the same picture at lower resolution, and far cheaper there.
_BLUR_WORKING_SIGMA = 2.5


def blend(person: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """person * alpha + background * (1 - alpha), per pixel, in uint8."""
    return cv2.blendLinear(person, background, alpha, 1.0 - alpha)


def corrected_person(frame: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """The frame with a matting network's colour correction added (RGB, in 0..1 units, at the
    network's resolution): hair and edges lose the background's colour that shone through.

    The correction travels as uint8 around 128 so the lift to frame size and the addition
    are single cheap uint8 operations; corrections beyond half the range are clipped.
    """
    h, w = frame.shape[:2]
    # clipped first: convertScaleAbs would turn a correction below -128 into its absolute value
    small = cv2.convertScaleAbs(cv2.cvtColor(np.clip(foreground, -0.5, 0.5), cv2.COLOR_RGB2BGR),
                                alpha=255.0, beta=128.0)
    return cv2.addWeighted(frame, 1.0, cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), 1.0, -128.0)


def grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def blur_background(frame: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """Blur the frame using only background pixels, so the person leaves no halo.

    A plain blur smears the person's colours into the surrounding background, which shows
    as a glow around them. Here the person is weighted out before blurring and the result
    is divided by the blurred weights (normalised convolution): each blurred pixel is an
    average of background pixels only.
    """
    h, w = frame.shape[:2]
    sigma = h * (_BLUR_MIN + _BLUR_RANGE * strength)
    limit = int(max(1, min(sigma / _BLUR_WORKING_SIGMA, h / 24)))
    # a factor that divides the frame exactly keeps the shrink on OpenCV's fast path
    factor = next((d for d in range(limit, 1, -1) if w % d == 0 and h % d == 0), limit)
    small_size = (max(1, w // factor), max(1, h // factor))
    small = shrink(frame, small_size).astype(np.float32)
    weight = 1.0 - cv2.resize(alpha, small_size, interpolation=cv2.INTER_LINEAR)
    sigma /= factor
    blurred = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    # norm is tiny only deep inside the person, where alpha hides the background anyway
    result = cv2.convertScaleAbs(blurred / np.maximum(norm, 0.02)[..., None])  # saturates to uint8
    return cv2.resize(result, (w, h), interpolation=cv2.INTER_LINEAR)


PAUSE_MODES = ("freeze", "blank", "blur")


def privacy_frame(mode: str, frame: np.ndarray, last_output: np.ndarray | None) -> np.ndarray:
    """What is sent while the user has paused: the last frame, a dark frame, or a blur so
    coarse nobody can be recognised."""
    h, w = frame.shape[:2]
    if mode == "freeze" and last_output is not None and last_output.shape == frame.shape:
        return last_output
    if mode == "blur":
        tiny = cv2.resize(frame, (16, 9), interpolation=cv2.INTER_AREA)
        return cv2.resize(tiny, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.full_like(frame, 24)


class Compositor:
    """Applies the chosen effect. Backgrounds are loaded once and resized once per frame size."""

    def __init__(self, settings: Settings):
        self._image_path: str | None = None
        self._image: np.ndarray | None = None
        self._filled: dict[tuple[int, int], np.ndarray] = {}  # the image, sized per frame size
        self._solid: tuple[tuple, np.ndarray] | None = None  # (size and colour, picture)
        self._video: VideoBackground | None = None
        self.settings = settings
        self.update(settings)

    def update(self, settings: Settings) -> None:
        """Take new settings; loads a new background now, so errors surface to the caller.

        On error the previous settings stay in force, so a bad file changes nothing.
        """
        if settings.effect == "image":
            if not settings.background:
                raise BackgroundError("The image effect needs a background image; choose one with --background.")
            self._load_image(settings.background)
        if settings.effect == "video":
            if not settings.background_video:
                raise BackgroundError("The video effect needs a background video; choose one with --background.")
            if self._video is None or str(self._video.path) != str(settings.background_video):
                video = VideoBackground(settings.background_video)
                self.close()
                self._video = video
        self.settings = settings

    def _load_image(self, path: str) -> None:
        if path != self._image_path:
            image = load_image(path)
            self._image_path, self._image, self._filled = path, image, {}

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The picture shown where there is no person."""
        s = self.settings
        h, w = frame.shape[:2]
        if s.effect == "blur":
            return blur_background(frame, alpha, s.blur_strength)
        if s.effect == "image":
            if (w, h) not in self._filled:
                self._filled = {(w, h): fill(self._image, w, h)}
            return self._filled[(w, h)]
        if s.effect == "video":
            return self._video.next_frame(w, h)
        if s.effect == "splash":
            if s.splash_strength >= 1.0:
                return grey(frame)
            return cv2.addWeighted(grey(frame), s.splash_strength, frame, 1.0 - s.splash_strength, 0)
        if s.effect == "solid":
            key = (w, h, tuple(s.color))
            if self._solid is None or self._solid[0] != key:
                r, g, b = s.color
                self._solid = (key, np.full((h, w, 3), (b, g, r), np.uint8))
            return self._solid[1]
        return frame

    def compose(self, frame: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None = None) -> np.ndarray:
        """The output frame; `foreground`, when the network gives one, corrects the person's edge colour."""
        s = self.settings
        if s.effect == "none":
            out = frame
        else:
            person = frame if foreground is None else corrected_person(frame, foreground)
            out = blend(person, self.background(frame, alpha), alpha)
        return cv2.flip(out, 1) if s.mirror else out

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video = None
