"""numpy frames to Qt images. Called in the GUI thread only."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap


def bgr_to_qimage(frame: np.ndarray) -> QImage:
    """A QImage that owns a copy of a BGR uint8 frame (the engine may hand the array on)."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_BGR888).copy()


def mask_to_qimage(alpha: np.ndarray) -> QImage:
    """The person mask as grey: white is person."""
    grey = np.ascontiguousarray(np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8))
    h, w = grey.shape
    return QImage(grey.data, w, h, grey.strides[0], QImage.Format.Format_Grayscale8).copy()


def cover(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop a frame to exactly width x height (for thumbnails)."""
    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
    x, y = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


def thumbnail_pixmap(frame: np.ndarray, size: QSize, radius: float = 8.0) -> QPixmap:
    """A rounded-corner thumbnail of a BGR frame."""
    from PySide6.QtGui import QPainter, QPainterPath

    image = bgr_to_qimage(cover(frame, size.width(), size.height()))
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(0, 0, size.width(), size.height(), radius, radius)
    painter.setClipPath(path)
    painter.drawImage(0, 0, image)
    painter.end()
    return pixmap
