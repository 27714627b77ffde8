"""The regulator's image: PNG or JPEG of at most 5 MB (or a base64 data URL), reduced until it fits, refused
clearly when it cannot fit and stay readable."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from printkit import demo_url
from typer.testing import CliRunner

from riskmap.cli import app
from riskmap.errors import InputError, TooLargeError
from riskmap.levels import Level, load_palette
from riskmap.print.upload_image import MAX_UPLOAD_BYTES, upload_image


@pytest.fixture(scope="module")
def png(plant):
    return upload_image(plant, "png")


def _has_colour(rgb: np.ndarray, colour: str) -> int:
    """Pixels of exactly this colour (region outlines are opaque level colours; PNG is lossless)."""
    packed = (rgb[:, :, 0].astype(np.uint32) << 16) | (rgb[:, :, 1].astype(np.uint32) << 8) | rgb[:, :, 2]
    return int((packed == int(colour[1:], 16)).sum())


def test_png_within_5_mb_shows_the_four_colours(png):
    assert MAX_UPLOAD_BYTES == 5_000_000
    assert len(png.data) <= MAX_UPLOAD_BYTES and png.mime == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.format == "PNG" and image.size == (png.width, png.height)
    assert png.width > png.height                        # the demo plant is wide: landscape A3
    assert png.dpi == 300 and (png.width, png.height) == (4961, 3508)
    rgb = np.asarray(image.convert("RGB"))
    palette = load_palette()
    for level in Level:
        assert _has_colour(rgb, palette.colour(level)) > 100, level


def test_jpeg_as_a_data_url(plant):
    made = upload_image(plant, "jpg", data_url=True)
    text = made.data_url()
    assert text.startswith("data:image/jpeg;base64,") and len(text) <= MAX_UPLOAD_BYTES
    raw = base64.b64decode(text.split(",", 1)[1], validate=True)
    assert raw == made.data
    image = Image.open(io.BytesIO(raw))
    assert image.format == "JPEG" and made.quality is not None


def test_reduced_until_it_fits(plant, png):
    limit = len(png.data) // 3
    smaller = upload_image(plant, "png", max_bytes=limit)
    assert len(smaller.data) <= limit
    assert smaller.palette or smaller.dpi < png.dpi
    image = Image.open(io.BytesIO(smaller.data))
    assert image.size == (smaller.width, smaller.height)
    # the data URL's limit counts its text (base64 is a third longer than the bytes)
    as_url = upload_image(plant, "png", max_bytes=limit, data_url=True)
    assert len(as_url.data_url()) <= limit < len(base64.b64encode(png.data))


def test_impossible_limit_is_a_clear_error(plant):
    with pytest.raises(TooLargeError) as err:
        upload_image(plant, "jpeg", max_bytes=20_000, min_long_side=3000)
    assert err.value.http_status == 413
    assert "MB" in err.value.message and "无法" in err.value.message and " / " in err.value.message


def test_bad_format(plant):
    for bad in ("gif", "", "pdf"):
        with pytest.raises(InputError):
            upload_image(plant, bad)


def test_cli_upload_image(tmp_path_factory, tmp_path):
    url = demo_url(tmp_path_factory)
    out = tmp_path / "plan.txt"
    result = CliRunner().invoke(app, ["upload-image", str(out), "--data-url", "--db", url])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="ascii")
    assert text.startswith("data:image/png;base64,") and len(text) <= MAX_UPLOAD_BYTES
    assert "4961×3508" in result.output
    jpg = tmp_path / "plan.jpg"
    result = CliRunner().invoke(app, ["upload-image", str(jpg), "--db", url])
    assert result.exit_code == 0 and Image.open(jpg).format == "JPEG"
    bad = CliRunner().invoke(app, ["upload-image", str(tmp_path / "plan.gif"), "--db", url])
    assert isinstance(bad.exception, InputError)
