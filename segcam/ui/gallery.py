"""The background gallery: segcam's own pictures, then the user's, as clickable thumbnails.

The gallery only shows and reports; adding, checking and remembering backgrounds is the
window's job, so the file dialog, drag-and-drop and tests all go through one path.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QListView, QListWidget, QListWidgetItem, QMenu,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from segcam.backgrounds import load_image
from segcam.errors import BackgroundError
from segcam.ui import icons
from segcam.ui.images import thumbnail_pixmap
from segcam.ui.widgets import label

THUMB = QSize(112, 63)
PATH_ROLE = Qt.ItemDataRole.UserRole
USER_ROLE = Qt.ItemDataRole.UserRole + 1


class BackgroundGallery(QWidget):
    chosen = Signal(str)  # a background was clicked
    add_requested = Signal()
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        header = QHBoxLayout()
        header.addWidget(label("BACKGROUNDS", "title"))
        hint = label("Click to use · drop your own pictures anywhere on the window", "hint")
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # may be cut, never widens
        header.addWidget(hint, 1)
        self.add_button = QPushButton(icons.icon("plus"), "Add picture…")
        self.add_button.setToolTip("Add your own background pictures (or drop them on the window)")
        self.add_button.clicked.connect(self.add_requested)
        header.addWidget(self.add_button)
        layout.addLayout(header)

        self.list = QListWidget()
        self.list.setObjectName("Gallery")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(THUMB)
        self.list.setSpacing(2)
        self.list.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setFixedHeight(THUMB.height() + 40)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemClicked.connect(lambda item: self.chosen.emit(item.data(PATH_ROLE)))
        layout.addWidget(self.list)
        self._thumbs: dict[str, QIcon] = {}

    def paths(self) -> list[str]:
        return [self.list.item(i).data(PATH_ROLE) for i in range(self.list.count())]

    def set_backgrounds(self, defaults: list[Path], user: list[str], selected: str) -> None:
        """Show segcam's backgrounds then the user's (skipping files that have gone), and mark one."""
        self.list.blockSignals(True)
        self.list.clear()
        for path, mine in [(str(p), False) for p in defaults] + [(p, True) for p in user]:
            thumb = self._thumbnail(path)
            if thumb is None:
                continue
            item = QListWidgetItem(thumb, Path(path).stem.replace("-", " ").replace("_", " "))
            item.setData(PATH_ROLE, path)
            item.setData(USER_ROLE, mine)
            item.setToolTip(path + ("\nRight-click to remove it from the gallery" if mine else ""))
            item.setSizeHint(QSize(THUMB.width() + 12, THUMB.height() + 30))
            self.list.addItem(item)
        self.select(selected)
        self.list.blockSignals(False)

    def select(self, path: str) -> None:
        """Highlight the background in use (none when the image effect is off)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(bool(path) and item.data(PATH_ROLE) == path)

    def _thumbnail(self, path: str) -> QIcon | None:
        if path not in self._thumbs:
            try:
                self._thumbs[path] = QIcon(thumbnail_pixmap(load_image(path), THUMB))
            except BackgroundError:
                return None
        return self._thumbs[path]

    def _context_menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None or not item.data(USER_ROLE):
            return
        menu = QMenu(self)
        remove = menu.addAction("Remove from gallery")
        if menu.exec(self.list.mapToGlobal(position)) is remove:
            self.remove_requested.emit(item.data(PATH_ROLE))
