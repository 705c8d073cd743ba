"""The compositor stage: what replaces the background, given a frame and the person's alpha.

Each effect (none, blur, image, video, splash, solid) is one module of this package and
registers itself (see registry.py); so do the stages that run around compositing (mirror).
`Compositor` runs the chosen effect and the enabled stages.
"""

from segcam.effects.base import Effect, Stage, blend, corrected_person, grey
from segcam.effects.blur import blur_background
from segcam.effects.compositor import Compositor
from segcam.effects.registry import check, effects, get, keys_read, names, register, register_stage, stages

__all__ = ["Compositor", "Effect", "Stage", "blend", "blur_background", "check", "corrected_person", "effects",
           "get", "grey", "keys_read", "names", "register", "register_stage", "stages", "SETTINGS_CHECKS"]
# the checks settings.load and settings.read take: what only the effects know
SETTINGS_CHECKS = {"effect": check}
