"""File dialogs that open in the folder last used for the same kind of file.

Each kind (background pictures, a background video, a video as the camera, model files) has
its own folder, remembered in the settings (app.recent_folders) so that it survives a
restart. A kind never used opens in the home folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

KINDS = ("backgrounds", "background_video", "source_video", "model_files")


class RemembersFolders:
    """Mixed into MainWindow: the folders its settings remember. The window provides settings
    and _save_timer."""

    def recent_folder(self, kind: str) -> str:
        folder = self.settings.app.recent_folders.get(kind, "")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def remember_folder(self, kind: str, folder: str) -> None:
        if self.settings.app.recent_folders.get(kind) == folder:
            return
        self.settings = self.settings.replace(recent_folders={**self.settings.app.recent_folders, kind: folder})
        self._save_timer.start()


def ask_files(parent: QWidget, kind: str, caption: str, filters: str, many: bool = False) -> list[str]:
    """The files the user picked (none when cancelled), in a dialog that opens where this kind
    was last found; the folder of the pick is remembered by the window `parent` belongs to."""
    assert kind in KINDS, kind
    keeper = _keeper(parent)
    folder = keeper.recent_folder(kind) if keeper is not None else str(Path.home())
    if many:
        paths, _ = QFileDialog.getOpenFileNames(parent, caption, folder, filters)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, caption, folder, filters)
        paths = [path] if path else []
    if paths and keeper is not None:
        keeper.remember_folder(kind, str(Path(paths[0]).parent))
    return paths


def _keeper(widget: QWidget | None) -> RemembersFolders | None:
    """The window that keeps the settings: `widget` or the nearest of its parents (a dialog's owner)."""
    while widget is not None and not isinstance(widget, RemembersFolders):
        widget = widget.parentWidget()
    return widget
