"""Which network runs, and where: the model and device pickers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QPushButton, QWidget

from segcam import system
from segcam.models import registry
from segcam.settings import Settings
from segcam.ui.widgets import Card, compact_combo, form, label

NOT_INSTALLED = "not installed"


def available_devices() -> list[tuple[str, str]]:
    """(setting, label) for every device this machine can run the network on; GPUs by name."""
    import torch

    devices = [("auto", "Automatic (GPU if present)"), ("cpu", "CPU")]
    if system.cuda_available():
        devices.append(("cuda", f"GPU — {torch.cuda.get_device_name(0)}"))
    if system.mps_available():
        devices.append(("mps", "Apple GPU (Metal)"))
    return devices


class _ModelCombo(QComboBox):
    """A compact combo that says, each time it opens, which models still need a download."""

    about_to_open = Signal()

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        self.about_to_open.emit()
        super().showPopup()


QUALITY_LABELS = {"fast": "Fast", "balanced": "Balanced", "best": "Best"}  # settings.QUALITIES


class ModelPanel(Card):
    model_chosen = Signal(str)
    device_chosen = Signal(str)
    quality_chosen = Signal(str)
    manage_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Model", parent)
        self.model = compact_combo(_ModelCombo)
        self.model.addItem("Automatic", "auto")
        self.model.setItemData(0, "The best model this computer keeps up with: a model you calibrated for this camera "
                               "at this size, else Robust Video Matting where it runs it at the camera's frame "
                               "rate (measured once), else MediaPipe for the frame's shape; the status bar's "
                               "model says which runs and why", Qt.ItemDataRole.ToolTipRole)
        for name in registry.names():
            self.model.addItem(name, name)
        self.device = compact_combo()
        for value, text in available_devices():
            self.device.addItem(text, value)
        self.quality = compact_combo()
        for value, text in QUALITY_LABELS.items():
            self.quality.addItem(text, value)
        self.quality.setToolTip("How much of the picture Robust Video Matting looks at: more detail at the edges "
                                "costs more time a frame (MediaPipe always sees its own fixed size)")
        self.body.addLayout(form(("Model", self.model), ("Detail", self.quality), ("Runs on", self.device)))
        self.loading = label("", "hint", wrap=True)
        self.loading.hide()
        self.body.addWidget(self.loading)
        manage = QPushButton("Model files…")
        manage.setToolTip("Download model weights, or import a file you have")
        manage.clicked.connect(self.manage_requested)
        self.body.addWidget(manage, 0, Qt.AlignmentFlag.AlignLeft)
        self.model.activated.connect(lambda i: self.model_chosen.emit(self.model.itemData(i)))
        self.model.about_to_open.connect(self.mark_installed)
        self.device.activated.connect(lambda i: self.device_chosen.emit(self.device.itemData(i)))
        self.quality.activated.connect(lambda i: self.quality_chosen.emit(self.quality.itemData(i)))
        self.mark_installed()

    def mark_installed(self) -> None:
        """List models registered meanwhile (a calibration kept), and name every registered model
        whose weights are not on this machine yet."""
        listed = {self.model.itemData(i) for i in range(self.model.count())}
        for name in registry.names():
            if name not in listed:
                self.model.addItem(name, name)
        for i in range(self.model.count()):
            name = self.model.itemData(i)
            if name not in registry.names():
                continue
            spec = registry.get(name)
            ready = spec.installed()
            self.model.setItemText(i, name if ready else f"{name} ({NOT_INSTALLED})")
            self.model.setItemData(i, spec.description + ("" if ready else "; choosing it offers the download"),
                                   Qt.ItemDataRole.ToolTipRole)

    def show_loading(self, name: str | None, running: str = "") -> None:
        """While a chosen network loads beside the running one, say so; None when done."""
        self.loading.setVisible(bool(name))
        if name:
            self.loading.setText(f"Loading {name}…" + (f" {running} keeps running until it is ready." if running
                                                       else ""))

    def show_settings(self, settings: Settings) -> None:
        for combo, value in ((self.model, settings.model.name), (self.device, settings.model.device),
                             (self.quality, settings.model.quality)):
            index = combo.findData(value)
            if index < 0:  # e.g. a device saved on another machine: show it rather than lie
                combo.addItem(value, value)
                index = combo.count() - 1
            combo.setCurrentIndex(index)
