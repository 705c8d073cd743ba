"""Exceptions a person can act on.

Every error segcam shows to a user is one of these; its message is one clear sentence.
The CLI prints it and exits with code 2, the app shows it inline and keeps running.
"""


class SegcamError(Exception):
    """Base class: a problem with the user's input or machine, not a bug.

    `setting` names the setting the problem is about (a key of `segcam.settings.FIELDS`, such
    as "background" or "blur_strength"), or is None. The message itself names no command-line
    flag and no widget: each front end says where that setting is changed in its own terms
    (the CLI its flag, the app its control).
    """

    def __init__(self, message: str = "", setting: str | None = None):
        super().__init__(message)
        self.setting = setting


class SourceError(SegcamError):
    """The camera, video file or image sequence cannot be opened or read."""


class BackgroundError(SegcamError):
    """A background image or video cannot be used."""


class WeightsError(SegcamError):
    """Model weights are missing, corrupt, or cannot be fetched."""


class VirtualCameraError(SegcamError):
    """The virtual camera cannot be started (usually: no driver installed)."""


class NoVirtualCamera(VirtualCameraError):
    """pyvirtualcam could not open a virtual camera: no driver, or its device is missing or not
    writable. `reason` is pyvirtualcam's own words; the session adds what to do on this machine
    (segcam.doctor.no_virtual_camera), which the sinks' layer cannot know."""

    def __init__(self, reason: str):
        super().__init__(f"Cannot start the virtual camera (pyvirtualcam: {reason}).")
        self.reason = reason


class SettingsError(SegcamError):
    """A setting has a value segcam cannot use."""


class OutputError(SegcamError):
    """The output file cannot be written: it exists, it is an input, or the disk is full."""
