"""Virtual camera backends of segcam's own, each a pyvirtualcam backend beside pyvirtualcam's
(v4l2loopback, OBS, Unity Capture): importing this package registers them, so a sink names them
like any other. `system` says which one this machine can offer."""

import platform

from segcam.vcam import pipewire, system  # noqa: F401 - system: for those who import the package

if platform.system() == "Linux":  # elsewhere pyvirtualcam's own search must not try it
    pipewire.register()
