"""The shipped assets: made by assets/make_assets.py, small, and usable by the app as they are."""

import importlib.util

import cv2
import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer

from segcam.backgrounds import load_image
from segcam.ui import resources

ASSETS = resources.assets_dir()


@pytest.fixture(scope="module")
def make_assets():
    spec = importlib.util.spec_from_file_location("make_assets", ASSETS / "make_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_backgrounds_are_readable_hd_and_small():
    backgrounds = resources.default_backgrounds()
    assert len(backgrounds) >= 5
    for path in backgrounds:
        image = load_image(path)  # what the app and the compositor use
        assert image.shape == (720, 1280, 3)
        assert image.std() > 2  # a picture, not a blank
    assert sum(p.stat().st_size for p in backgrounds) < 500 * 1024


def test_icon_svg_and_every_png_size(qapp):
    svg = ASSETS / "icon" / "segcam.svg"
    assert QSvgRenderer(str(svg)).isValid()
    pngs = [p for p in resources.icon_files() if p.suffix == ".png"]
    sizes = sorted(QImage(str(p)).width() for p in pngs)
    assert sizes == [16, 24, 32, 48, 64, 128, 256, 512]
    for p in pngs:
        image = QImage(str(p))
        assert image.width() == image.height() and image.hasAlphaChannel()


def test_generator_reproduces_the_committed_files(make_assets, tmp_path, qapp):
    written = make_assets.write_backgrounds(tmp_path / "backgrounds")
    assert sorted(p.name for p in written) == sorted(p.name for p in resources.default_backgrounds())
    for path in written:
        committed = cv2.imread(str(ASSETS / "backgrounds" / path.name)).astype(int)
        fresh = cv2.imread(str(path)).astype(int)
        # the same drawing; JPEG encoders of other OpenCV builds may differ by a level or two
        assert np.abs(committed - fresh).mean() < 1.0
    icons = make_assets.write_icon(tmp_path / "icon")
    assert (tmp_path / "icon" / "segcam.svg").read_text() == (ASSETS / "icon" / "segcam.svg").read_text()
    assert len(icons) == 1 + len(make_assets.ICON_SIZES)
