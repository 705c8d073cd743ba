"""Choosing the network: the weights a choice needs, getting them, and switching without a gap.

Only the weights of the model that will actually run are asked for: the one the Model box
names, or the one "Automatic" resolves to for the source's frame shape. A new model loads
beside the running one on the controller's thread; the pipeline switches only once it has
loaded, and when it cannot load, the old one simply goes on and the box goes back to it.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from segcam.capture import camera_index, open_source
from segcam.io import quiet_opencv
from segcam.errors import SegcamError
from segcam.models import registry
from segcam.settings import Settings
from segcam.ui.weights_dialog import WeightsDialog, active_download, installed


def source_shape(settings: Settings) -> tuple[int, int]:
    """(width, height) the source will deliver, as far as can be told without starting it.

    A camera is taken at the size asked of it; a file is opened and asked (its first frame
    read when it will not say); the asked size when nothing answers.
    """
    source = settings.source
    if camera_index(source.name) is not None or not Path(source.name.split("%")[0]).exists():
        return source.width, source.height
    try:
        with quiet_opencv():
            capture = open_source(source.name)
        try:
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            if not (width and height):
                ok, image = capture.read()
                height, width = image.shape[:2] if ok and image is not None else (0, 0)
        finally:
            capture.release()
    except Exception:  # noqa: BLE001 - a source that does not open is reported when it starts
        return source.width, source.height
    return (width, height) if width and height else (source.width, source.height)


class ModelSwitching:
    """Mixed into MainWindow: the model and device choices, and the weights they need.

    The window provides settings, running_settings, controller, model_panel, message_bar,
    change() and _refresh().
    """

    def _init_model_switching(self) -> None:
        self.weights_dialog: WeightsDialog | None = None
        self._pending_network: dict | None = None  # {model, device, quality} loading beside the running network
        self.controller.network_ready.connect(self._network_ready)
        self.controller.network_failed.connect(self._network_failed)

    def network_for(self, settings: Settings) -> str | None:
        """The registered model these settings run; None when the setting names none (the start says why)."""
        running = self.running_settings
        size = self.controller.frame_size if running is not None and running.source.name == settings.source.name \
            else None
        width, height = size or source_shape(settings)
        try:
            return registry.resolve(settings.model.name, width, height)
        except SegcamError:
            return None

    def needs_weights(self, settings: Settings) -> str | None:
        """The model to download before these settings can run, or None."""
        name = self.network_for(settings)
        return name if name is not None and not installed(name) else None

    def ask_for_model(self, name: str, on_ready, on_refused=None) -> WeightsDialog | None:
        """The download dialog for registered model `name`, non-blocking; on_ready runs once it is installed."""
        previous, self.weights_dialog = self.weights_dialog, None
        if previous is not None and previous.isVisible():
            previous.reject()  # superseded: its refusal is not the user's
        if installed(name):  # it arrived meanwhile (a download that went on in the background)
            on_ready()
            return None
        dialog = WeightsDialog(name, self)
        self.weights_dialog = dialog

        def ready() -> None:
            if self.weights_dialog is dialog:
                self.weights_dialog = None
            self.model_panel.mark_installed()
            self.message_bar.clear("model")
            on_ready()

        def refused() -> None:
            if self.weights_dialog is not dialog:
                return  # superseded by a newer dialog, not refused by the user
            self.weights_dialog = None
            if on_refused is not None:
                on_refused()

        dialog.accepted.connect(ready)
        dialog.rejected.connect(refused)
        dialog.open()
        return dialog

    # -- the first start -------------------------------------------------------------------

    def _first_start_needs_model(self) -> bool:
        """Ask for the weights the first start needs; True when it has to wait for them."""
        name = self.needs_weights(self.settings)
        if name is None:
            return False
        self.preview.clear("Waiting for the segmentation model…")
        self.ask_for_model(name, on_ready=self._start, on_refused=lambda: self._model_refused(name))
        return True

    def _model_refused(self, name: str) -> None:
        self._search_cameras_once()
        self.message_bar.show_message(
            "segcam needs its segmentation model to find you in the picture.", "warning",
            "Get model…", lambda: self.ask_for_model(name, on_ready=self._start,
                                                     on_refused=lambda: self._model_refused(name)), key="model")
        download = active_download()
        if download is not None:  # it goes on in the background: start when it lands
            download.finished.connect(self._start_if_ready)  # a method: called in the GUI thread

    def _start_if_ready(self, _error=None) -> None:
        if not self._model_ready and self.needs_weights(self.settings) is None:
            self.message_bar.clear("model")
            self._start()

    # -- choosing a model or device --------------------------------------------------------

    def set_model(self, model: str) -> None:
        self._switch_network(model=model)

    def set_device(self, device: str) -> None:
        self._switch_network(device=device)

    def set_quality(self, quality: str) -> None:
        self._switch_network(quality=quality)

    def _switch_network(self, **change) -> None:
        wanted = self.settings.replace(**change)
        if not self._model_ready:  # nothing runs yet: this choice is what the first start waits for
            self.change(**change)
            if not self._first_start_needs_model():
                if self.weights_dialog is not None:
                    self.weights_dialog, dialog = None, self.weights_dialog
                    dialog.reject()
                self._start()
            return
        name = self.needs_weights(wanted)
        if name is not None:
            self._pending_network = None
            self._refresh()  # the box shows what runs until the new model's weights are in
            self.ask_for_model(name, on_ready=lambda: self._switch_network(**change))
            return
        if not self.controller.running:
            self.change(**change)
            return
        self._pending_network = _network_of(wanted)
        self._refresh()
        running = self.running_settings
        self.model_panel.show_loading(self.network_for(wanted),
                                      self.network_for(running) if running is not None else "")
        self.controller.load_network(wanted)

    def _network_ready(self, settings: Settings) -> None:
        if self._pending_network != _network_of(settings):
            return  # a later choice is loading
        self._pending_network = None
        self.model_panel.show_loading(None)
        self.message_bar.clear("model")  # an earlier choice's failure no longer holds
        self.change(**_network_of(settings))

    def _network_failed(self, settings: Settings, error: Exception) -> None:
        if self._pending_network != _network_of(settings):
            return
        self._pending_network = None
        self.model_panel.show_loading(None)
        self._refresh()  # back to what runs
        running = self.network_for(self.running_settings or self.settings) or "the current model"
        self.message_bar.show_message(f"{self.network_for(settings) or settings.model.name} could not be loaded, so "
                                      f"{running} keeps running: {_as_sentence(error)}", "error", key="model")

    def manage_models(self) -> None:
        name = self.needs_weights(self.settings)
        if name is not None:
            self.ask_for_model(name, on_ready=self._start if not self._model_ready else lambda: None)
        else:
            self.message_bar.show_message("The model files segcam needs are installed.", "info", key="model")


def _as_sentence(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


def _network_of(settings: Settings) -> dict:
    """The settings that choose the network, as keys for `Settings.replace`."""
    return {"model": settings.model.name, "device": settings.model.device, "quality": settings.model.quality}
