"""Fonts and text for prints: TrueType CJK faces that skia's PDF backend embeds as subset CID TrueType fonts.

skia writes CFF-flavoured OpenType (Noto Sans CJK, .otf/.ttc) and any stroked or emboldened text as Type 3
fonts, which prepress and archiving reject and from which text cannot be copied reliably. So prints use a
TrueType (glyf) CJK face: WenQuanYi Micro Hei (Debian fonts-wqy-microhei) by default, or the file named by
RISKMAP_PRINT_FONT (`path` or `path#index`); RISKMAP_FONT is used when it is TrueType. Characters the main
face lacks fall back to further TrueType faces. Text halos and bold are drawn as glyph outlines (paths) under
or over real text, so text stays text: searchable, copyable, and never Type 3.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import skia

from riskmap.render.draw import skia_colour as colour_int  # noqa: F401  (prints colour with the tiles' code)
from riskmap.render.fonts import FontError, typeface_from_file

PRINT_FONT_ENV = "RISKMAP_PRINT_FONT"
LABEL_FONT_ENV = "RISKMAP_FONT"

# TrueType CJK faces from Debian packages, in order of preference.
CJK_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",        # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",          # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",            # fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
# For characters a CJK face lacks (symbols, Latin in faces without it).
FALLBACK_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_PROBE = "重大较风险一般低区域单元安全告知卡"
_GLYF = int.from_bytes(b"glyf", "big")
_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MISSING = "?"


def install_hint() -> str:
    """How to install a TrueType Chinese font or point RISKMAP_PRINT_FONT at one, appended to every FontError."""
    return ("请安装 TrueType 中文字体 fonts-wqy-microhei（apt-get install fonts-wqy-microhei），或用环境变量 "
            f"{PRINT_FONT_ENV} 指定 TrueType 中文字体文件 / install fonts-wqy-microhei (apt-get install "
            f"fonts-wqy-microhei) or point {PRINT_FONT_ENV} at a TrueType Chinese font")


@dataclass(frozen=True)
class Face:
    """One font file (path, index in a collection) with its skia typeface; compared by file, not by typeface object."""

    typeface: object = field(compare=False, hash=False)
    path: str = ""
    index: int = 0
    family: str = ""


def _split(spec: str) -> tuple[str, int]:
    if "#" in spec:
        path, _, idx = spec.rpartition("#")
        if idx.isdigit():
            return path, int(idx)
    return spec, 0


def _is_truetype(typeface) -> bool:
    return _GLYF in set(typeface.getTableTags())


def _covers(typeface, text: str) -> bool:
    return all(g != 0 for g in skia.Font(typeface, 12).textToGlyphs(text))


def _open(spec: str) -> Face | None:
    path, index = _split(spec)
    if not Path(path).is_file():
        return None
    face = typeface_from_file(path, index)
    if face is None:
        return None
    return Face(face, path, index, face.getFamilyName())


@lru_cache(maxsize=4)
def _chain(print_spec: str, label_spec: str) -> tuple[Face, ...]:
    main: Face | None = None
    if print_spec:
        main = _open(print_spec)
        if main is None:
            raise FontError(f"找不到环境变量 {PRINT_FONT_ENV} 指定的字体 {print_spec} / the font named by "
                            f"{PRINT_FONT_ENV} ({print_spec}) cannot be read. {install_hint()}")
        if not _is_truetype(main.typeface):
            raise FontError(f"字体 {print_spec} 不是 TrueType 字体：PDF 中会成为 Type 3 字体 / {print_spec} is not a "
                            f"TrueType font (it would become a Type 3 font in PDFs). {install_hint()}")
        if not _covers(main.typeface, _PROBE):
            raise FontError(f"字体 {print_spec} 不含中文字形 / {print_spec} has no Chinese glyphs. {install_hint()}")
    if main is None and label_spec:
        face = _open(label_spec)
        if face is not None and _is_truetype(face.typeface) and _covers(face.typeface, _PROBE):
            main = face
    if main is None:
        for candidate in CJK_CANDIDATES:
            face = _open(candidate)
            if face is not None and _is_truetype(face.typeface) and _covers(face.typeface, _PROBE):
                main = face
                break
    if main is None:
        raise FontError("找不到可嵌入 PDF 的中文字体（TrueType），打印件中的中文无法显示 / no TrueType Chinese font "
                        f"for prints was found. {install_hint()}")
    chain = [main]
    for candidate in FALLBACK_CANDIDATES:
        face = _open(candidate)
        if face is not None and face.path != main.path and _is_truetype(face.typeface):
            chain.append(face)
    return tuple(chain)


_ACTIVE: list[tuple[Face, ...]] = []


def faces() -> tuple[Face, ...]:
    """The print faces, main first, read again from the environment; raises FontError (with the fix) when no
    TrueType Chinese font exists. Every print calls this first; text measuring then reuses the answer."""
    chain = _chain(os.environ.get(PRINT_FONT_ENV, "").strip(), os.environ.get(LABEL_FONT_ENV, "").strip())
    _ACTIVE[:] = [chain]
    return chain


def _active() -> tuple[Face, ...]:
    return _ACTIVE[0] if _ACTIVE else faces()


def clear_cache() -> None:
    """Forget the chosen faces and measured text, so that a changed RISKMAP_PRINT_FONT takes effect (tests)."""
    _ACTIVE.clear()
    _chain.cache_clear()
    _font.cache_clear()
    _runs.cache_clear()
    _drawable.cache_clear()
    _width.cache_clear()


_lock = threading.Lock()


@lru_cache(maxsize=256)
def _font(face_index: int, size: float, chain: tuple[Face, ...]) -> skia.Font:
    font = skia.Font(chain[face_index].typeface, size)
    font.setHinting(skia.FontHinting.kNone)
    font.setSubpixel(True)
    font.setLinearMetrics(True)
    font.setEdging(skia.Font.Edging.kAntiAlias)
    return font


def font(size: float, face_index: int = 0) -> skia.Font:
    """A skia font of one face of the chain at `size` pt, shaped for PDF (no hinting, linear metrics)."""
    chain = _active()
    with _lock:
        return _font(face_index, round(float(size), 3), chain)


def clean(value: object) -> str:
    """Printable text of a value: None → "", control characters dropped, tabs and line ends kept as such."""
    if value is None:
        return ""
    text = str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in _CONTROL)


@lru_cache(maxsize=65536)
def _drawable(face: Face, glyph: int) -> bool:
    """Whether a glyph has an outline: some faces map characters to empty glyphs (WenQuanYi's ℃)."""
    path = skia.Font(face.typeface, 12).getPath(glyph)
    return path is not None and path.countPoints() > 0


@lru_cache(maxsize=32768)
def _runs(text: str, chain: tuple[Face, ...]) -> tuple[tuple[int, str], ...]:
    """The text split into runs of one face each; characters no face has become MISSING."""
    if not text:
        return ()
    glyph_sets = [skia.Font(face.typeface, 12).textToGlyphs(text) for face in chain]
    n = len(text)
    faces_of = []
    chars = []
    for i, ch in enumerate(text):
        chosen = 0
        for k, glyphs in enumerate(glyph_sets):
            if len(glyphs) == n and glyphs[i] != 0 and (ch.isspace() or _drawable(chain[k], int(glyphs[i]))):
                chosen = k
                break
        else:
            ch = MISSING if not ch.isspace() else " "
        faces_of.append(chosen)
        chars.append(ch)
    runs: list[tuple[int, str]] = []
    for k, ch in zip(faces_of, chars, strict=True):
        if runs and runs[-1][0] == k:
            runs[-1] = (k, runs[-1][1] + ch)
        else:
            runs.append((k, ch))
    return tuple(runs)


def runs(text: str) -> tuple[tuple[int, str], ...]:
    """The text split into runs of one face each (main face first, then fallbacks); a character no face can draw
    becomes MISSING ("?") rather than an empty box."""
    return _runs(text, _active())


@lru_cache(maxsize=65536)
def _width(text: str, size: float, chain: tuple[Face, ...]) -> float:
    return float(sum(font(size, k).measureText(part) for k, part in _runs(text, chain)))


def width(text: str, size: float) -> float:
    """Advance width of one line of text at `size` pt."""
    return _width(text, round(float(size), 3), _active())


def metrics(size: float) -> tuple[float, float]:
    """(ascent, descent) of the main face at `size`, both positive, pt."""
    m = font(size).getMetrics()
    return -float(m.fAscent), float(m.fDescent)


def line_height(size: float, leading: float = 1.3) -> float:
    """The distance between baselines, in pt, for text of `size` pt (`leading` times the size)."""
    return size * leading


def _outline(text: str, size: float, x: float, y: float) -> skia.Path:
    """The glyph outlines of a line of text, positioned (for halos and bold strokes)."""
    path = skia.Path()
    cursor = x
    for k, part in runs(text):
        f = font(size, k)
        glyphs = f.textToGlyphs(part)
        xs = f.getXPos(glyphs, cursor)
        for glyph_path, gx in zip(f.getPaths(glyphs), xs, strict=True):
            if glyph_path is not None and not glyph_path.isEmpty():
                path.addPath(glyph_path, gx, y)
        cursor += f.measureText(part)
    return path


def draw_text(canvas, text: str, x: float, y: float, size: float, colour: str = "#000000", *,
              align: str = "left", bold: bool = False, halo: tuple[str, float] | None = None) -> float:
    """Draw one line with its baseline at y; `align` left, centre or right of x. Returns the width."""
    text = clean(text).replace("\n", " ")
    if not text:
        return 0.0
    w = width(text, size)
    if align == "centre":
        x -= w / 2
    elif align == "right":
        x -= w
    if halo is not None and halo[1] > 0:
        paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(halo[0]),
                           StrokeWidth=2 * halo[1], StrokeJoin=skia.Paint.kRound_Join)
        canvas.drawPath(_outline(text, size, x, y), paint)
    fill = skia.Paint(AntiAlias=True, Color=colour_int(colour))
    cursor = x
    for k, part in runs(text):
        f = font(size, k)
        canvas.drawString(part, cursor, y, f, fill)
        cursor += f.measureText(part)
    if bold:
        paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(colour),
                           StrokeWidth=size * 0.045, StrokeJoin=skia.Paint.kRound_Join)
        canvas.drawPath(_outline(text, size, x, y), paint)
    return w


# ---------------------------------------------------------------------------------------------- wrapping

# Characters that must not begin a line (Chinese line-breaking rules, 避头) or end one (避尾).
_NO_START = set("，。、；：？！）》」』】〕〉”’…—·%％,.;:?!)]}")
_NO_END = set("（《「『【〔〈“‘([{")


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(line: str) -> list[str]:
    """Break opportunities: each wide (CJK) character alone, Latin words and numbers whole, spaces alone."""
    out: list[str] = []
    word = ""
    for ch in line:
        if ch == " " or _is_wide(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    return out


def wrap(text: object, size: float, max_width: float) -> list[str]:
    """Lines of `text` no wider than `max_width` pt (paragraphs at line ends kept; over-long words split)."""
    lines: list[str] = []
    for paragraph in clean(text).split("\n"):
        if not paragraph.strip():
            lines.append("")
            continue
        current, current_w = "", 0.0
        for token in _tokens(paragraph):
            token_w = width(token, size)
            if current_w + token_w <= max_width or not current.strip():
                if token_w > max_width and not current.strip():
                    # a word wider than the line: split it by characters
                    for ch in token:
                        ch_w = width(ch, size)
                        if current and current_w + ch_w > max_width:
                            lines.append(current)
                            current, current_w = "", 0.0
                        current += ch
                        current_w += ch_w
                else:
                    current += token
                    current_w += token_w
                continue
            if token == " ":
                lines.append(current.rstrip())
                current, current_w = "", 0.0
                continue
            if token[0] in _NO_START:
                # keep the punctuation with the previous character (slightly over-wide is allowed)
                current += token
                current_w += token_w
                continue
            if len(current) > 1 and current[-1] in _NO_END:
                lines.append(current[:-1].rstrip())
                current = current[-1] + token
            else:
                lines.append(current.rstrip())
                current = token.lstrip()
            current_w = width(current, size)
        lines.append(current.rstrip())
    while len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def fit_line(text: object, size: float, max_width: float) -> str:
    """One line cut with an ellipsis to fit `max_width`."""
    text = clean(text).replace("\n", " ")
    if width(text, size) <= max_width:
        return text
    while text and width(text + "…", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"
