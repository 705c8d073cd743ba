"""Generate segcam's default backgrounds and application icon.

Everything here is drawn from code (gradients, shapes, seeded noise), so the pictures are
the project's own and can ship under its licence. Run from anywhere:

    python assets/make_assets.py            # writes assets/backgrounds/*.jpg and assets/icon/*

The output is deterministic: the same code gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 720
JPEG_QUALITY = 84
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


# -- building blocks -------------------------------------------------------------------------

def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to 0..1."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return x / (WIDTH - 1), y / (HEIGHT - 1)


def _rgb(hex_colour: str) -> np.ndarray:
    value = hex_colour.lstrip("#")
    return np.array([int(value[i : i + 2], 16) for i in (0, 2, 4)], np.float32)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of two RGB colours by t (HxW) in 0..1."""
    return a * (1.0 - t[..., None]) + b * t[..., None]


def _vignette(image: np.ndarray, amount: float) -> np.ndarray:
    x, y = _grid()
    r = np.sqrt((x - 0.5) ** 2 * 1.2 + (y - 0.5) ** 2)
    return image * (1.0 - amount * np.clip(r / 0.75, 0, 1) ** 2)[..., None]


def _finish(image: np.ndarray, seed: int) -> np.ndarray:
    """Add a whisper of noise, which hides the banding a smooth gradient shows after JPEG."""
    noise = np.random.default_rng(seed).normal(0.0, 1.1, image.shape[:2]).astype(np.float32)
    return np.clip(image + noise[..., None], 0, 255).astype(np.uint8)


def _soft(image: np.ndarray, sigma: float) -> np.ndarray:
    """Depth-of-field: backgrounds look best slightly out of focus, like a real lens."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


# -- the backgrounds -------------------------------------------------------------------------

def office_warm() -> np.ndarray:
    """A sunlit wall: warm gradient, a bright window glow on the left, a desk edge below."""
    x, y = _grid()
    wall = _mix(_rgb("#e9dccb"), _rgb("#b99f84"), np.clip(x * 0.7 + y * 0.5, 0, 1))
    glow = np.exp(-(((x - 0.18) / 0.22) ** 2 + ((y - 0.35) / 0.45) ** 2))
    image = wall + glow[..., None] * (_rgb("#fff6e6") - wall) * 0.85
    # window frame: two soft vertical mullions inside the glow
    for cx in (0.12, 0.24):
        image -= (np.exp(-((x - cx) / 0.006) ** 2) * (y < 0.75) * 26)[..., None]
    desk = y > 0.82
    image[desk] = _mix(_rgb("#6e4f38"), _rgb("#4a3324"), y[desk] * 0 + x[desk])
    # a shelf with a few plant-like blobs on the right
    shelf = (np.abs(y - 0.42) < 0.008) & (x > 0.62) & (x < 0.93)
    image[shelf] = _rgb("#7a5a40")
    for cx, cy, r, colour in ((0.70, 0.36, 0.045, "#5f7f4f"), (0.76, 0.345, 0.06, "#6d8f58"),
                              (0.86, 0.37, 0.035, "#a26d4a")):
        blob = ((x - cx) / (r * HEIGHT / WIDTH)) ** 2 + ((y - cy) / r) ** 2 < 1
        image[blob] = _rgb(colour)
    return _finish(_vignette(_soft(image, 9), 0.25), 1)


def office_cool() -> np.ndarray:
    """A modern open office: glass partitions and ceiling lights, far out of focus."""
    x, y = _grid()
    image = _mix(_rgb("#c9d3de"), _rgb("#6f7f92"), y)
    for i, cx in enumerate(np.linspace(0.05, 0.95, 7)):
        panel = (np.abs(x - cx) < 0.055) & (y > 0.2) & (y < 0.85)
        image[panel] = image[panel] * 0.86 + _rgb("#dfe8f1" if i % 2 else "#9fb3c6") * 0.14
    for cx in np.linspace(0.1, 0.9, 5):
        light = np.exp(-(((x - cx) / 0.05) ** 2 + ((y - 0.08) / 0.025) ** 2))
        image += light[..., None] * 90
    floor = y > 0.86
    image[floor] = _mix(_rgb("#56606c"), _rgb("#3d454f"), (y[floor] - 0.86) / 0.14)
    return _finish(_vignette(_soft(image, 14), 0.3), 2)


def soft_bokeh() -> np.ndarray:
    """Evening city lights, out of focus: warm and cool discs on a deep blue."""
    x, y = _grid()
    base = _mix(_rgb("#18203a"), _rgb("#3a2446"), np.clip(0.6 * x + 0.4 * y, 0, 1))
    light = np.zeros_like(base)
    rng = np.random.default_rng(7)
    palette = [_rgb(c) for c in ("#ffcf7a", "#ff9f68", "#8fc7ff", "#ffe6b0", "#d79bff")]
    for _ in range(70):
        cx, cy = rng.uniform(-0.05, 1.05), rng.uniform(0.0, 0.9)
        r = rng.uniform(0.02, 0.09)
        disc = ((x - cx) / (r * HEIGHT / WIDTH)) ** 2 + ((y - cy) / r) ** 2
        # bokeh discs are flat with a slightly brighter rim, like a real aperture
        shape = np.clip(1.2 - disc, 0, 1) * (0.8 + 0.2 * np.clip(disc * 1.5, 0, 1))
        light += shape[..., None] * palette[rng.integers(len(palette))] * rng.uniform(0.15, 0.45)
    image = base + _soft(light, 3)
    return _finish(_vignette(image, 0.35), 3)


def bookshelf() -> np.ndarray:
    """A wall of books: shelves of spines in muted colours, softly out of focus."""
    rng = np.random.default_rng(11)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[:] = _rgb("#3b2b22")
    colours = [_rgb(c) for c in ("#8c3b32", "#2f4b6e", "#d2b48c", "#4f6b47", "#7b5c8f", "#c08a3e",
                                 "#e6ddd0", "#35454f", "#a4553a", "#5a7d8c")]
    shelf_rows = np.linspace(0.0, HEIGHT, 5).astype(int)
    for top, bottom in zip(shelf_rows[:-1], shelf_rows[1:]):
        board = bottom - 18
        image[board:bottom] = _rgb("#6b4a32")
        image[board : board + 3] = _rgb("#8a6446")
        x = int(rng.integers(0, 30))
        while x < WIDTH:
            w = int(rng.integers(14, 38))
            h = int(rng.integers(int((board - top) * 0.62), int((board - top) * 0.93)))
            if rng.random() < 0.08:  # the occasional gap, or a book lying flat
                x += int(rng.integers(20, 60))
                continue
            colour = colours[rng.integers(len(colours))] * rng.uniform(0.8, 1.1)
            image[board - h : board, x : x + w] = colour
            image[board - h + 8 : board - h + 12, x + 3 : x + w - 3] = colour * 0.7  # a title band
            x += w + int(rng.integers(1, 4))
    # light from above: brighter top shelves, darker bottom ones
    _, y = _grid()
    image *= (1.05 - 0.35 * y)[..., None]
    return _finish(_vignette(_soft(image, 4.5), 0.35), 4)


def plain(top: str, bottom: str, seed: int) -> np.ndarray:
    """A studio backdrop: one colour, lit a little brighter in the middle."""
    x, y = _grid()
    image = _mix(_rgb(top), _rgb(bottom), y)
    glow = np.exp(-(((x - 0.5) / 0.5) ** 2 + ((y - 0.4) / 0.55) ** 2))
    image = image * (0.9 + 0.18 * glow)[..., None]
    return _finish(image, seed)


BACKGROUNDS = {
    "office-warm": office_warm,
    "office-cool": office_cool,
    "soft-bokeh": soft_bokeh,
    "bookshelf": bookshelf,
    "plain-slate": lambda: plain("#5d6b7a", "#3e4955", 5),
    "plain-sage": lambda: plain("#a9b8a0", "#7f917a", 6),
    "plain-sand": lambda: plain("#e4d6c3", "#c3b29c", 8),
}


def write_backgrounds(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in BACKGROUNDS.items():
        rgb = make()
        path = folder / f"{name}.jpg"
        ok = cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        if not ok:
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


# -- the icon ----------------------------------------------------------------------------------

ICON_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <defs>
    <linearGradient id="backdrop" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#4f8cff"/>
      <stop offset="1" stop-color="#8a5cff"/>
    </linearGradient>
    <linearGradient id="person" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#ffffff"/>
      <stop offset="1" stop-color="#e4e9ff"/>
    </linearGradient>
  </defs>
  <rect x="12" y="12" width="232" height="232" rx="56" fill="url(#backdrop)"/>
  <!-- out-of-focus lights: the replaced background -->
  <circle cx="66" cy="70" r="24" fill="#ffffff" fill-opacity="0.20"/>
  <circle cx="196" cy="82" r="16" fill="#ffffff" fill-opacity="0.26"/>
  <circle cx="204" cy="150" r="26" fill="#ffffff" fill-opacity="0.14"/>
  <circle cx="52" cy="156" r="14" fill="#ffffff" fill-opacity="0.16"/>
  <!-- the person, kept sharp -->
  <circle cx="128" cy="108" r="40" fill="url(#person)"/>
  <path d="M70 244 C70 194 96 164 128 164 C160 164 186 194 186 244 Z" fill="url(#person)"/>
</svg>
"""


def write_icon(folder: Path) -> list[Path]:
    """The SVG, and PNGs of it rendered with Qt's SVG renderer (what the app itself uses)."""
    from PySide6.QtCore import QByteArray, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    folder.mkdir(parents=True, exist_ok=True)
    svg = folder / "segcam.svg"
    svg.write_text(ICON_SVG, encoding="utf-8")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1] + ["-platform", "offscreen"])
    renderer = QSvgRenderer(QByteArray(ICON_SVG.encode()))
    written = [svg]
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = folder / f"segcam-{size}.png"
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")
        written.append(path)
    del app
    return written


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else HERE
    files = write_backgrounds(out / "backgrounds") + write_icon(out / "icon")
    total = sum(f.stat().st_size for f in files)
    for f in files:
        print(f"{f.relative_to(out)}  {f.stat().st_size / 1024:.0f} KB")
    print(f"{len(files)} files, {total / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
