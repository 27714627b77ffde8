"""The regulator's image: the four-colour total plan as one PNG or JPEG of at most 5 MB, or as a base64 data
URL, the form provincial platforms accept (one image per enterprise).

The image is the total-plan poster (title, legend, north arrow, scale bar) on A3, in the orientation that shows
the plan largest (riskmap.print.poster). It starts at 300 dpi; when the file is too big, a PNG is reduced to a
256-colour palette (maps are flat colours) and then to lower resolutions, a JPEG to lower qualities and then
resolutions, until it fits; below a readable size it fails with a clear message.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from riskmap.errors import InputError, TooLargeError
from riskmap.print import fonts, output
from riskmap.print.poster import PosterOptions, poster_pages

MAX_UPLOAD_BYTES = 5_000_000           # "5 MB", read strictly (decimal megabytes)
FORMATS = ("png", "jpeg")
DPI_STEPS = (300, 240, 200, 160, 130, 110, 90, 75)
JPEG_QUALITIES = (92, 85, 75, 65)
MIN_LONG_SIDE_PX = 1200                # below this the plan's labels are no longer readable


@dataclass(frozen=True)
class UploadImage:
    """The regulator's image as made: bytes and MIME type, pixel size, the dpi and JPEG quality it took to fit."""

    data: bytes
    mime: str
    width: int
    height: int
    dpi: int
    quality: int | None                # JPEG quality, None for PNG
    palette: bool = False              # PNG reduced to 256 colours

    @property
    def extension(self) -> str:
        """The file extension for the image ("png" or "jpg")."""
        return "png" if self.mime == "image/png" else "jpg"

    def data_url(self) -> str:
        """The image as a base64 data URL, the form platforms accept as text."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def normalise_format(fmt: str) -> str:
    """"png" or "jpeg" from what a user types (JPG, .jpeg …); InputError for anything else."""
    key = str(fmt or "").strip().lower().lstrip(".")
    key = {"jpg": "jpeg"}.get(key, key)
    if key not in FORMATS:
        raise InputError(f"上传图片格式应为 png 或 jpeg，得到 “{key[:10]}” / the upload image must be png or jpeg")
    return key


def _encoded_size(data: bytes, data_url: bool, mime: str) -> int:
    if not data_url:
        return len(data)
    return len(f"data:{mime};base64,") + 4 * ((len(data) + 2) // 3)


def upload_image(plant, fmt: str = "png", *, data_url: bool = False, max_bytes: int = MAX_UPLOAD_BYTES,
                 hatch: bool = False, min_long_side: int = MIN_LONG_SIDE_PX, now: datetime | None = None,
                 progress=None) -> UploadImage:
    """The total plan as an image within `max_bytes` (counted on the data URL text when `data_url`), never with
    a long side below `min_long_side` pixels."""
    fmt = normalise_format(fmt)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise InputError("大小上限应为正整数（字节）/ max_bytes must be a positive integer")
    fonts.faces()
    pages = poster_pages(plant, PosterOptions(paper="A3", hatch=hatch), now=now)
    page = pages[0]
    mime = "image/png" if fmt == "png" else "image/jpeg"
    tried = []
    for step, dpi in enumerate(DPI_STEPS):
        width, height = output.raster_size(page, dpi)
        if max(width, height) < min_long_side:
            break
        if progress is not None:
            progress(step, len(DPI_STEPS), f"{dpi} dpi")
        rgb = output.rasterize(page, dpi)
        image = Image.fromarray(rgb, "RGB")
        for data, quality, palette in _encodings(image, fmt, dpi):
            size = _encoded_size(data, data_url, mime)
            tried.append((dpi, quality, size))
            if size <= max_bytes:
                return UploadImage(data, mime, width, height, dpi, quality, palette)
    smallest = min(tried, key=lambda t: t[2]) if tried else None
    detail = f"（最小 {smallest[2] / 1e6:.2f} MB，{smallest[0]} dpi）" if smallest else ""
    detail_en = f" (smallest {smallest[2] / 1e6:.2f} MB at {smallest[0]} dpi)" if smallest else ""
    raise TooLargeError(
        f"无法把总平面图压缩到 {max_bytes / 1e6:.2f} MB 以内而仍保持可读{detail}；请改用 JPEG 或联系管理员 / the plan "
        f"cannot be made smaller than {max_bytes / 1e6:.2f} MB and stay readable{detail_en}")


def _encodings(image: Image.Image, fmt: str, dpi: int):
    """Encodings of one resolution, largest (best) first."""
    if fmt == "jpeg":
        for quality in JPEG_QUALITIES:
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=quality, optimize=True, dpi=(dpi, dpi), subsampling=0 if quality >= 85
                       else 2)
            yield buf.getvalue(), quality, False
        return
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=6, dpi=(dpi, dpi))
    yield buf.getvalue(), None, False
    buf = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        buf, "PNG", optimize=True, dpi=(dpi, dpi))
    yield buf.getvalue(), None, True
