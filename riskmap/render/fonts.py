"""The CJK font every label, legend and print uses: a real Chinese font or a clear error, never tofu boxes.

Noto Sans CJK (Debian package fonts-noto-cjk) is the default; `RISKMAP_FONT` names another file. A `.ttc`
collection holds several faces; the Simplified Chinese face is chosen by its family name, or by an index
given as `path#index` (e.g. `RISKMAP_FONT=/fonts/NotoSansCJK-Regular.ttc#2`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from riskmap.errors import RiskmapError

FONT_ENV = "RISKMAP_FONT"

# Where distributions put Noto Sans CJK (Debian/Ubuntu first: that is what the Docker image installs).
DEFAULT_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
# Characters a font must have to count as Chinese-capable: the level names and common map words.
_PROBE_TEXT = "重大较风险一般低区域单元"
_PREFERRED_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC")


@lru_cache(maxsize=1)
def _font_manager():
    """skia's font manager without fontconfig. riskmap opens every font by its path, so it needs no font
    lookup; skia's default manager on Linux starts fontconfig, and the copy bundled in the skia wheel is older
    than Debian's configuration and warns about it ("unknown element reset-dirs") on every start. The custom
    manager reads the files with FreeType only."""
    import skia

    return skia.FontMgr.New_Custom_Empty()


def typeface_from_file(path: str | Path, index: int = 0):
    """A skia typeface read from a font file (face `index` of a collection), or None when there is none."""
    return _font_manager().makeFromFile(str(path), index)


class FontError(RiskmapError, http_status=500):
    """The label font is missing or cannot draw Chinese: a set-up problem of the server, not of the request."""


@dataclass(frozen=True)
class FontSource:
    """A font file and the face inside it (collections hold several)."""

    path: Path
    index: int
    family: str


def _split_index(spec: str) -> tuple[str, int | None]:
    if "#" in spec:
        path, _, idx = spec.rpartition("#")
        if idx.isdigit():
            return path, int(idx)
    return spec, None


def _install_hint() -> str:
    return ("请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk）或用环境变量 RISKMAP_FONT 指定中文字体文件 / "
            "install fonts-noto-cjk (apt-get install fonts-noto-cjk) or point RISKMAP_FONT at a Chinese font file")


def _has_chinese(typeface) -> bool:
    import skia

    font = skia.Font(typeface, 12)
    return all(g != 0 for g in font.textToGlyphs(_PROBE_TEXT))


def _open_face(path: Path, index: int | None) -> tuple[object, int]:
    """The typeface to use from one file: the given face, else the preferred CJK SC face, else the first."""

    if index is not None:
        face = typeface_from_file(path, index)
        if face is None:
            raise FontError(f"字体文件 {path} 中没有第 {index} 个字体 / font file {path} has no face #{index}")
        return face, index
    faces = []
    for i in range(32):
        face = typeface_from_file(path, i)
        if face is None:
            break
        faces.append(face)
    if not faces:
        raise FontError(f"无法读取字体文件 {path} / cannot read font file {path}. {_install_hint()}")
    for family in _PREFERRED_FAMILIES:
        for i, face in enumerate(faces):
            if face.getFamilyName() == family:
                return face, i
    return faces[0], 0


@lru_cache(maxsize=8)
def _load(spec: str, from_env: bool) -> tuple[FontSource, object]:
    path_text, index = _split_index(spec)
    path = Path(path_text)
    if not path.is_file():
        where = f"环境变量 {FONT_ENV} 指定的" if from_env else "默认的"
        where_en = f"the font named by {FONT_ENV}" if from_env else "the default font"
        raise FontError(f"找不到{where}中文字体 {path} / {where_en} {path} does not exist. {_install_hint()}")
    face, index = _open_face(path, index)
    if not _has_chinese(face):
        raise FontError(f"字体 {path} 不含中文字形，标注会显示为方框 / font {path} has no Chinese glyphs "
                        f"(labels would show boxes). {_install_hint()}")
    return FontSource(path, index, face.getFamilyName()), face


def _spec() -> tuple[str, bool]:
    override = os.environ.get(FONT_ENV, "").strip()
    if override:
        return override, True
    for candidate in DEFAULT_FONT_PATHS:
        if Path(candidate).is_file():
            return candidate, False
    return DEFAULT_FONT_PATHS[0], False


def font_source() -> FontSource:
    """The label font's file and face index, for renderers other than skia (posters, PDF)."""
    spec, from_env = _spec()
    return _load(spec, from_env)[0]


def cjk_typeface():
    """The skia typeface for labels; raises FontError (with the fix) when no Chinese font is available."""
    spec, from_env = _spec()
    return _load(spec, from_env)[1]


_font_lock = threading.Lock()


@lru_cache(maxsize=64)
def _label_font(spec: str, from_env: bool, size: float):
    import skia

    font = skia.Font(_load(spec, from_env)[1], size)
    # Unhinted, subpixel, linear metrics: a label measures the same at @1x and @2x (up to scale), so label
    # placement and collisions agree between the two.
    font.setHinting(skia.FontHinting.kNone)
    font.setSubpixel(True)
    font.setLinearMetrics(True)
    font.setEdging(skia.Font.Edging.kAntiAlias)
    return font


def label_font(size_px: float):
    """A skia Font of the CJK face at a pixel size (cached)."""
    spec, from_env = _spec()
    with _font_lock:
        return _label_font(spec, from_env, round(float(size_px), 3))


def clear_cache() -> None:
    """Forget loaded fonts (tests switch RISKMAP_FONT)."""
    _load.cache_clear()
    _label_font.cache_clear()
