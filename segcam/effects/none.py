"""No effect: the camera as it is (mirroring and the other stages still apply)."""

from segcam.effects.base import Effect
from segcam.effects.registry import register


@register
class NoEffect(Effect):
    name = "none"
    label = "None"
    hint = "Your camera as it is"
    order = 0
    uses_mask = False
