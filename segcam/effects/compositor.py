"""The compositor: the chosen effect, with the enabled stages before and after it.

It reads the `effect` section of the settings and nothing else. Effects and stages are made
when chosen, kept while their files stay the same, and closed with the compositor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from segcam.effects import registry
from segcam.effects.base import Effect, Stage, blend, corrected_person

if TYPE_CHECKING:
    from segcam.settings import EffectSettings


class Compositor:
    def __init__(self, settings: EffectSettings):
        self._effects: dict[str, tuple[tuple, Effect]] = {}  # per effect: (its reloads' values, instance)
        self._stages: dict[str, Stage] = {}
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
            if stage.enabled(settings):
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
        stages = [self._stages[s.name] for s in registry.stages() if s.name in self._stages]
        for stage in stages:
            if stage.where == "before":
                frame, alpha = stage.before(frame, alpha)
        background = self.effect.background(frame, alpha)
        if background is None:
            output = frame
        else:
            person = frame if foreground is None else corrected_person(frame, foreground)
            output = blend(person, background, alpha)
        for stage in stages:
            if stage.where == "after":
                output = stage.after(frame, alpha, output)
        return output

    def close(self) -> None:
        for _, effect in self._effects.values():
            effect.close()
        for stage in self._stages.values():
            stage.close()
        self._effects.clear()
        self._stages.clear()

