"""Small building blocks the panels share: cards, a toggle switch, a labelled slider, message banners,
a label that elides."""

from __future__ import annotations

from PySide6.QtCore import (Property, QEasingCurve, QEvent, QObject, QPropertyAnimation, QRectF, QSize, Qt, QTimer,
                            Signal)
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QFormLayout, QFrame,
                               QHBoxLayout, QLabel, QPushButton, QScrollBar, QSizePolicy, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from segcam.ui import theme


def label(text: str = "", role: str | None = None, wrap: bool = False) -> QLabel:
    widget = QLabel(text)
    if role:
        widget.setProperty("role", role)
    widget.setWordWrap(wrap)
    return widget


def restyle(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property (role, state, level) changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class WheelNeedsFocus(QObject):
    """The mouse wheel changes a value control (slider, combo box, spin box) only once it has
    focus (clicked, or reached with Tab). Over one without focus the wheel goes on to the panel
    underneath, which scrolls: scrolling the settings must not change them (a slider swept to
    0%, the Camera box landing on "Open video file…"). Installed on the application, so every
    control of every window and dialog is covered, those made later too."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.Wheel and _is_value_control(watched) and not watched.hasFocus():
            event.ignore()  # ignored, the event goes on to the control's parents
            return True
        if kind == QEvent.Type.Polish and _is_value_control(watched):
            # Qt gives focus on a wheel turn to a control that takes it that way (combo boxes do)
            watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return False


def _is_value_control(obj: QObject) -> bool:
    return isinstance(obj, (QAbstractSlider, QComboBox, QAbstractSpinBox)) and not isinstance(obj, QScrollBar)


def form(*rows: tuple[str, QWidget]) -> QFormLayout:
    """Label-and-field rows with the app's spacing."""
    layout = QFormLayout()
    layout.setHorizontalSpacing(12)
    layout.setVerticalSpacing(8)
    for text, field in rows:
        layout.addRow(text, field)
    return layout


def compact_combo(kind: type[QComboBox] = QComboBox) -> QComboBox:
    """A combo box that does not widen its panel to fit a long entry (a file name)."""
    combo = kind()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


class Card(QFrame):
    """A rounded panel with a small uppercase title."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("Card")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(16, 14, 16, 16)
        self.body.setSpacing(10)
        self.title = label(title.upper(), "title")
        self.body.addWidget(self.title)


class ToggleSwitch(QAbstractButton):
    """An on/off switch that slides, for settings that take effect at once."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setCheckable(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._offset = 0.0
        self._animation = QPropertyAnimation(self, b"offset", self)
        self._animation.setDuration(120)
        self._animation.setEasingCurve(QEasingCurve.Type.OutCubic)
        self.toggled.connect(self._slide)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(46, 26)

    def _get_offset(self) -> float:
        return self._offset

    def _set_offset(self, value: float) -> None:
        self._offset = value
        self.update()

    offset = Property(float, _get_offset, _set_offset)

    def _slide(self, checked: bool) -> None:
        self._animation.stop()
        self._animation.setEndValue(1.0 if checked else 0.0)
        self._animation.start()

    def setChecked(self, checked: bool) -> None:  # noqa: N802 - jump there when set from code
        super().setChecked(checked)
        self._animation.stop()
        self._set_offset(1.0 if checked else 0.0)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(1, 1, self.width() - 2, self.height() - 2)
        off, on = QColor("#3a404c"), QColor(theme.ACCENT)
        if not self.isEnabled():
            on = QColor("#3a4a70")
        track = QColor(
            round(off.red() + (on.red() - off.red()) * self._offset),
            round(off.green() + (on.green() - off.green()) * self._offset),
            round(off.blue() + (on.blue() - off.blue()) * self._offset),
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        knob = rect.height() - 6
        x = rect.left() + 3 + (rect.width() - knob - 6) * self._offset
        painter.setBrush(QColor("#ffffff"))
        painter.drawEllipse(QRectF(x, rect.top() + 3, knob, knob))


class LabeledSlider(QWidget):
    """A 0..1 setting as a slider with its name and a percentage."""

    changed = Signal(float)

    def __init__(self, name: str, tooltip: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.name = label(name)
        self.value_label = label("", "value")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.name)
        top.addStretch(1)
        top.addWidget(self.value_label)
        layout.addLayout(top)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setAccessibleName(name)
        layout.addWidget(self.slider)
        if tooltip:
            self.setToolTip(tooltip)
        self.slider.valueChanged.connect(self._moved)

    def value(self) -> float:
        return self.slider.value() / 100.0

    def set_value(self, value: float) -> None:
        """Show a value without emitting changed (it came from the settings, not the user)."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 100))
        self.slider.blockSignals(False)
        self.value_label.setText(f"{round(value * 100)}%")

    def _moved(self, position: int) -> None:
        self.value_label.setText(f"{position}%")
        self.changed.emit(position / 100.0)


class ElidedLabel(QLabel):
    """One line that shortens itself with "…" instead of widening its panel (a long file name).

    The whole text is in the tooltip.
    """

    def __init__(self, text: str = "", role: str | None = None, elide=Qt.TextElideMode.ElideMiddle,
                 parent: QWidget | None = None):
        super().__init__(parent)
        if role:
            self.setProperty("role", role)
        self._full = ""
        self._elide = elide
        # wants its whole text, makes do with little: only the minimum decides how narrow a panel may be
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name
        self._full = text
        self.setToolTip(text)
        self._fit()

    def text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:  # noqa: N802
        margins = self.contentsMargins()
        width = QFontMetrics(self.font()).horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # the stylesheet's font arrived
            self.updateGeometry()
            self._fit()

    def _fit(self) -> None:
        room = max(self.contentsRect().width(), 0)
        super().setText(QFontMetrics(self.font()).elidedText(self._full, self._elide, room))


class MessageBar(QFrame):
    """One banner that tells the user what went wrong (or right) without a modal box.

    An optional action button offers the fix ("Retry", "Get model…"). A MessageStack holds
    the window's banners.
    """

    dismissed = Signal()  # cleared: by its close button, its action, a timeout or the code

    ICONS = {"error": "✕", "warning": "!", "info": "i"}
    INFO_SECONDS = 6
    COLOURS = {"error": theme.ERROR, "warning": theme.WARNING, "info": theme.ACCENT_STRONG}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(10)
        self.icon = QLabel()
        self.icon.setFixedSize(22, 22)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = label(wrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        close = QToolButton()
        close.setText("✕")
        close.setProperty("role", "flat")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._callback = None
        self.action.clicked.connect(self._act)
        self.level = ""
        # good news goes away by itself; problems stay until fixed or dismissed
        self._fade = QTimer(self, singleShot=True, interval=self.INFO_SECONDS * 1000, timeout=self._expire)
        self.hide()

    def show_message(self, text: str, level: str = "error", action: str = "", callback=None) -> None:
        self.level = level
        self.setProperty("level", level)
        restyle(self)
        self.icon.setText(self.ICONS[level])
        self.icon.setStyleSheet(f"color: {self.COLOURS[level]}; font-weight: 700; border-radius: 11px;"
                                f"border: 1.5px solid {self.COLOURS[level]};")
        self.message.setText(text)
        self._callback = callback
        self.action.setText(action)
        self.action.setVisible(bool(action and callback))
        self.show()
        if level == "info" and not action:
            self._fade.start()
        else:
            self._fade.stop()

    def text(self) -> str:
        return self.message.text()  # empty once cleared

    def clear(self) -> None:
        self.message.setText("")
        self.level = ""
        self._callback = None
        self._fade.stop()
        self.hide()
        self.dismissed.emit()

    def _expire(self) -> None:
        if self.level == "info":
            self.clear()

    def _act(self) -> None:
        callback = self._callback
        self.clear()
        if callback is not None:
            callback()


class MessageStack(QWidget):
    """The window's banners, stacked over the top edge of `host` rather than in the layout.

    Showing or dismissing a banner never moves the rest of the window, and a second message
    stacks under the first instead of replacing it. Each message has a key saying what it is
    about: a new message with the same key replaces the old one, and clear(key) takes it away
    once it no longer holds, leaving the others.
    """

    MARGIN = 10
    SEVERITY = ("", "info", "warning", "error")

    def __init__(self, host: QWidget):
        super().__init__(host)
        self._host = host
        self._bars: dict[str, MessageBar] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        host.installEventFilter(self)
        self.hide()

    def show_message(self, text: str, level: str = "error", action: str = "", callback=None,
                     key: str = "general") -> MessageBar:
        bar = self._bars.get(key)
        if bar is None:
            bar = MessageBar(self)
            bar.dismissed.connect(lambda b=bar: self._remove(b))
            self._bars[key] = bar
            self.layout().addWidget(bar)
        bar.show_message(text, level, action, callback)
        self._place()
        return bar

    def clear(self, key: str | None = None) -> None:
        """Take one message away (or every one)."""
        for name in [key] if key is not None else list(self._bars):
            bar = self._bars.get(name)
            if bar is not None:
                bar.clear()

    def bar(self, key: str) -> MessageBar | None:
        return self._bars.get(key)

    def messages(self) -> list[tuple[str, str, str]]:
        """(key, level, text) of every message shown, oldest first."""
        return [(key, bar.level, bar.text()) for key, bar in self._bars.items()]

    def text(self) -> str:
        """Every message shown, one a line; empty when none is."""
        return "\n".join(bar.text() for bar in self._bars.values())

    @property
    def level(self) -> str:
        """The most severe level shown: "error", "warning", "info", or "" when none."""
        return max((bar.level for bar in self._bars.values()), key=self.SEVERITY.index, default="")

    def _remove(self, bar: MessageBar) -> None:
        for key, shown in list(self._bars.items()):
            if shown is bar:
                del self._bars[key]
                self.layout().removeWidget(bar)
                bar.deleteLater()
        self._place()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        if not self._bars:
            self.hide()
            return
        width = max(self._host.width() - 2 * self.MARGIN, 1)
        layout = self.layout()
        layout.activate()
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
        self.setGeometry(self.MARGIN, self.MARGIN, width, min(height, max(self._host.height() - self.MARGIN, 1)))
        self.show()
        self.raise_()
