"""The compositor: the chosen effect, with the enabled stages before and after it.

It reads the `effect` section of the settings and nothing else. Effects and stages are made
when chosen, kept while their files stay the same, and closed with the compositor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from segcam.effects import registry
from segcam.effects.base import Effect, Stage, blend, corrected_person
from segcam.guard import safe_frame, shield

if TYPE_CHECKING:
    from segcam.settings import EffectSettings


class Compositor:
    def __init__(self, settings: EffectSettings, stages: bool = True):
        """`stages`: False runs the effect alone (the app's effect buttons show each effect so)."""
        self._effects: dict[str, tuple[tuple, Effect]] = {}  # per effect: (its reloads' values, instance)
        self._stages: dict[str, Stage] = {}
        self._with_stages = stages
        self.settings: EffectSettings | None = None
        self.effect: Effect | None = None
        self.update(settings)

    def update(self, settings: EffectSettings) -> None:
        """Take new settings; loads a new background now, so errors surface to the caller.

        On error the previous settings stay in force, so a bad file changes nothing.
        """
        kind = registry.get(settings.name)
        reloads = tuple(getattr(settings, key) for key in kind.reloads)  # keys of this section are its fields
        cached = self._effects.get(kind.name)
        if cached is None or cached[0] != reloads:
            effect = kind(settings)  # may raise: nothing has changed yet
            if cached is not None:
                cached[1].close()
            self._effects[kind.name] = (reloads, effect)
        effect = self._effects[kind.name][1]
        effect.update(settings)
        for stage in registry.stages():
            if self._with_stages and stage.enabled(settings):
                if stage.name not in self._stages:
                    self._stages[stage.name] = stage(settings)
                self._stages[stage.name].update(settings)
            elif stage.name in self._stages:
                self._stages.pop(stage.name).close()
        self.settings, self.effect = settings, effect

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
        """The picture the effect shows where there is no person (None: the frame itself)."""
        return self.effect.background(frame, alpha)

    def compose(self, frame: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None = None) -> np.ndarray:
        """The output frame; `foreground`, when the network gives one, corrects the person's edge colour."""
        return self.run(frame, alpha, foreground)[0]

    def run(self, frame: np.ndarray, alpha: np.ndarray | None, foreground: np.ndarray | None = None,
            hold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The output frame and the alpha it was composited with (the stages before compositing
        may change it: only the main person).

        `hold` (the privacy guard's amount, 0..1) fades the composite toward the safe frame: the
        effect's own background where it replaces the room, else the room blurred beyond
        recognition. `alpha` None (no mask: the segmenter failed) shows the safe frame alone.
        The stages after compositing (framing, mirror) apply to the safe frame too.
        """
        stages = [self._stages[s.name] for s in registry.stages() if s.name in self._stages]
        if alpha is None:
            alpha, hold = np.zeros(frame.shape[:2], np.float32), 1.0
        else:
            for stage in stages:
                if stage.where == "before":
                    frame, alpha = stage.before(frame, alpha)
        if hold >= 1.0 and not self.effect.replaces_room:  # the room alone: no need to composite
            output = safe_frame(frame)
        else:
            background = self.effect.background(frame, alpha)
            if background is None:
                output = frame
            elif hold >= 1.0:
                output = background
            else:
                person = frame if foreground is None else corrected_person(frame, foreground)
                output = blend(person, background, alpha)
            if 0.0 < hold < 1.0:
                output = shield(output, background if self.effect.replaces_room else safe_frame(frame), hold)
        for stage in stages:
            if stage.where == "after":
                output = stage.after(frame, alpha, output)
        return output, alpha

    def reset(self) -> None:
        """Forget the frames seen: the stages that follow the picture start afresh."""
        for stage in self._stages.values():
            stage.reset()

    def close(self) -> None:
        for _, effect in self._effects.values():
            effect.close()
        for stage in self._stages.values():
            stage.close()
        self._effects.clear()
        self._stages.clear()
