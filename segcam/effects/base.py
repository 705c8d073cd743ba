"""What an effect and a stage are, and the blending they share. No registry here (see registry.py).

Everything works on uint8 BGR frames with OpenCV, which on a CPU is several times faster than
float numpy for full-HD blends. `alpha` is float32 in [0, 1] at frame size, 1 = person.
Effects and stages read the `effect` section of the settings (segcam.settings.EffectSettings),
by the keys they list in `reads`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np

if TYPE_CHECKING:
    from segcam.settings import EffectSettings


class Effect:
    """One way to show the background. An effect is one module in this package: a subclass
    decorated with `registry.register`, which the compositor, the command line and the app
    all find there.

    Subclasses set the class facts and override `background` (and `prepare` when they load
    something). An instance serves one set of settings; the compositor makes a new one when
    a setting in `reloads` changes, and hands it the others through `update`.
    """

    name: ClassVar[str]  # the `effect` setting's value, e.g. "blur"
    label: ClassVar[str]  # for buttons and menus
    hint: ClassVar[str]  # one line on what it does, for tooltips
    guide: ClassVar[str] = ""  # what to do next, shown under the hint in the app's Adjust panel
    order: ClassVar[int] = 100  # place among the effects: buttons, menus, Ctrl+1, Ctrl+2 ...
    reads: ClassVar[tuple[str, ...]] = ()  # the setting keys it reads; the app shows their controls
    needs: ClassVar[str | None] = None  # the key of a file it cannot run without: "background", ...
    reloads: ClassVar[tuple[str, ...]] = ()  # keys whose change needs a new `prepare` (a file to load)
    uses_mask: ClassVar[bool] = True  # False: the mask settings (edge, smoothing, the guard) change nothing
    # True: the background holds nothing of the room (a picture, a colour), so the privacy guard
    # may show it alone; False: the guard shows the room blurred beyond recognition instead
    replaces_room: ClassVar[bool] = False

    def __init__(self, settings: EffectSettings):
        self.settings = settings
        self.prepare(settings)

    def prepare(self, settings: EffectSettings) -> None:
        """Load what the effect needs; raise a SegcamError (BackgroundError...) saying why it cannot."""

    def update(self, settings: EffectSettings) -> None:
        """New values for keys outside `reloads`."""
        self.settings = settings

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
        """The picture shown where there is no person; None shows the frame as it is."""
        return None

    def close(self) -> None:
        """Release what `prepare` opened."""

    @classmethod
    def label_for(cls, settings: EffectSettings) -> str:
        """The label for these settings (an effect may name itself after them)."""
        return cls.label


class Stage:
    """A step around compositing that is not an effect: it runs whichever effect is chosen,
    when `enabled` says so. "before" stages change the frame and alpha the effect sees (a
    brighter face, a mask limited to one person); "after" stages change the composited output
    (mirroring, framing). A stage is one module here, decorated with `registry.register_stage`."""

    name: ClassVar[str]
    where: ClassVar[str] = "after"  # "before" or "after" compositing
    order: ClassVar[int] = 100  # among the stages of the same place
    reads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: EffectSettings):
        self.settings = settings

    @classmethod
    def enabled(cls, settings: EffectSettings) -> bool:
        return False

    def update(self, settings: EffectSettings) -> None:
        self.settings = settings

    def before(self, frame: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return frame, alpha

    def after(self, frame: np.ndarray, alpha: np.ndarray, output: np.ndarray) -> np.ndarray:
        return output

    def reset(self) -> None:
        """Forget the frames seen (a new source, model or scene); the processor calls it."""

    def close(self) -> None:
        pass


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
