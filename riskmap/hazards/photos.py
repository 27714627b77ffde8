"""Photos of a hazard (before and after): checked by decoding them, their EXIF location read as data, and the
copies people download stripped of EXIF.

A phone photo carries where and when it was taken (useful evidence, kept as data in the photo's row) and often
much more (device, owner); what riskmap serves is the picture alone, re-encoded without metadata. A file is
taken only if Pillow decodes it as PNG or JPEG whatever its name says, within a byte and a pixel limit checked
from the header before the pixels are decoded, so a small file that would unpack into gigabytes (a
decompression bomb) is refused before it costs memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, ImageOps, UnidentifiedImageError

from riskmap.errors import InputError, TooLargeError

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}
STAGES = {"before": ("整改前", "before"), "after": ("整改后", "after")}
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003


class PhotoError(InputError):
    """A file that is not a PNG or JPEG photo Pillow can decode."""


@dataclass(frozen=True)
class PhotoInfo:
    """What a checked photo is: its media type, size in pixels, EXIF location and time when it has them."""

    media_type: str
    width: int
    height: int
    gps: dict | None
    taken_at: str | None


def check(data: bytes, *, max_bytes: int, max_pixels: int) -> PhotoInfo:
    """The photo's facts, or PhotoError / TooLargeError: not an image, another format, a truncated file, over
    `max_bytes`, or more than `max_pixels` pixels (read from the header, before decoding)."""
    if len(data) > max_bytes:
        raise TooLargeError(f"照片过大（{len(data) / 1048576:.1f} MB，上限 {max_bytes / 1048576:g} MB）/ the photo is "
                            f"larger than {max_bytes / 1048576:g} MB")
    if not data:
        raise PhotoError("照片是空文件 / the photo is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                kind = im.format
                width, height = im.size
                if kind not in MEDIA_TYPES:
                    raise PhotoError(f"照片应为 PNG 或 JPEG，而不是 {kind} / a photo must be PNG or JPEG, not {kind}")
                if width * height > max_pixels:
                    raise TooLargeError(f"照片像素过多（{width}×{height}，上限 {max_pixels:,} 像素）/ the photo has "
                                        f"more than {max_pixels:,} pixels ({width}×{height})")
                exif = im.getexif()
                im.load()                       # decode every pixel: a truncated or broken file fails here
    except (PhotoError, TooLargeError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLargeError("照片像素过多（疑似解压炸弹）/ the photo has too many pixels (a decompression bomb)") \
            from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoError("无法识别为 PNG 或 JPEG 图片（文件损坏或不是图片）/ not a PNG or JPEG image (broken or not "
                         "an image)") from None
    return PhotoInfo(MEDIA_TYPES[kind], width, height, _gps(exif), _taken_at(exif))


def stripped(data: bytes) -> bytes:
    """The picture alone, turned upright, without EXIF or any other metadata (what downloads get)."""
    with Image.open(io.BytesIO(data)) as im:
        kind = im.format
        upright = ImageOps.exif_transpose(im)
        clean = Image.new(upright.mode, upright.size)
        clean.paste(upright)
        out = io.BytesIO()
        if kind == "JPEG":
            clean.convert("RGB").save(out, "JPEG", quality=90)
        else:
            clean.save(out, "PNG")
    return out.getvalue()


def _number(value) -> float | None:
    try:
        return float(Fraction(value)) if not isinstance(value, tuple) else float(value[0]) / float(value[1])
    except (TypeError, ValueError, ZeroDivisionError):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


def _degrees(parts, ref) -> float | None:
    try:
        d, m, s = (_number(p) for p in parts)
    except (TypeError, ValueError):
        return None
    if d is None or m is None or s is None:
        return None
    value = d + m / 60 + s / 3600
    return -value if str(ref).strip().upper() in ("S", "W") else value


def _gps(exif) -> dict | None:
    """The EXIF location as {"lon", "lat"} (and "alt" in metres) when the photo has a plausible one."""
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat, lon = _degrees(gps.get(2), gps.get(1, "N")), _degrees(gps.get(4), gps.get(3, "E"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    out = {"lon": round(lon, 7), "lat": round(lat, 7)}
    alt = _number(gps.get(6)) if 6 in gps else None
    if alt is not None:
        out["alt"] = round(-alt if gps.get(5) in (1, b"\x01") else alt, 2)
    return out


def _taken_at(exif) -> str | None:
    try:
        value = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(0x0132)
    except Exception:
        return None
    return str(value).strip()[:32] or None if value else None
