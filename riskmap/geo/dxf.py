"""DXF drawings → RawLayout (features in the drawing's own coordinates, roles from a layer map).

Two readers feed one vectorized geometry builder:

* a numpy tag scanner for the entity types that make up nearly all of a plant layout (LWPOLYLINE,
  POLYLINE/VERTEX, LINE, ARC, CIRCLE, POINT, TEXT, MTEXT, ATTRIB, INSERT, SOLID, TRACE, 3DFACE). ezdxf
  builds a Python object of some fifty attributes per entity; on a 50,000-entity drawing that alone takes
  longer than GDAL's whole ogr2ogr run, so the scanner reads the numbers straight into arrays;
* ezdxf for everything else (HATCH, SPLINE, ELLIPSE, meshes, dimensions, ...) and for whole files the
  scanner does not trust (binary DXF, broken structure: ezdxf's recover mode).

Both readers fill the same raw tables in DXF terms (vertices with bulges, circle centres, insert
parameters, each with its OCS extrusion), so a drawing gives the same features whichever reader saw an
entity; `engine="ezdxf"` forces the second reader for everything and the tests compare the two.
Blocks are expanded from the inside out with numpy: each block's content is built once and copied with a
4×4 transform per INSERT (and per MINSERT cell).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import itertools
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import GeometryType

from riskmap.errors import LayoutImportError
from riskmap.geo.layermap import IGNORE, LayerMap
from riskmap.geo.model import ALWAYS_POINT_ROLES, POINT_ROLES, RawLayout

__all__ = ["read_dxf", "ExplodeBudget", "CHORD_TOLERANCE_M", "MAX_BLOCK_DEPTH"]

# Arcs and circles become chords no further than this from the true curve (at the drawing's scale).
CHORD_TOLERANCE_M = 0.01
# ... but never more than this many segments per full turn (the 1 cm bound holds up to a radius of about
# 4 km; garbage radii cannot blow up the vertex count) and never fewer than this many (a tiny circle stays
# a polygon).
MAX_SEGMENTS_PER_TURN = 4096
MIN_SEGMENTS_PER_TURN = 8
# Blocks nested deeper than this are refused: real drawings stay far below, a broken one may not.
MAX_BLOCK_DEPTH = 32
# Exploding blocks may not produce more coordinates than this (about 0.5 GB of numbers).
MAX_COORDINATES = 20_000_000
# An INSERT on an equipment layer (or an assembly point / emergency store layer) whose block is at most this big
# (or has no closed shape) is a symbol: one point at the insertion point rather than its exploded line work.
# INSERTs on hydrant, extinguisher, eyewash and exit layers are points whatever their size.
SYMBOL_SIZE_M = 2.0

_MODEL = 0  # container id of model space; blocks get 1, 2, ...

_KNOWN_SECTIONS = frozenset({"HEADER", "CLASSES", "TABLES", "BLOCKS", "ENTITIES", "OBJECTS",
                             "THUMBNAILIMAGE", "ACDSDATA"})

# Entity type ids used by the scanner; 0 is "leave it to ezdxf".
(_LWPOLYLINE, _LINE, _CIRCLE, _ARC, _POINT, _TEXT, _MTEXT, _ATTRIB, _INSERT, _SOLID, _TRACE, _3DFACE,
 _ATTDEF, _SEQEND, _BLOCK, _ENDBLK, _VERTEX, _POLYLINE) = range(1, 19)
_TID = {"LWPOLYLINE": _LWPOLYLINE, "LINE": _LINE, "CIRCLE": _CIRCLE, "ARC": _ARC, "POINT": _POINT,
        "TEXT": _TEXT, "MTEXT": _MTEXT, "ATTRIB": _ATTRIB, "INSERT": _INSERT, "SOLID": _SOLID,
        "TRACE": _TRACE, "3DFACE": _3DFACE, "ATTDEF": _ATTDEF, "SEQEND": _SEQEND, "BLOCK": _BLOCK,
        "ENDBLK": _ENDBLK, "VERTEX": _VERTEX, "POLYLINE": _POLYLINE}
# old-style POLYLINE flags: 8 = 3D polyline, 16 = polygon mesh, 64 = polyface mesh; VERTEX 16 = spline frame
_PL_3D, _PL_MESHES, _VX_FRAME = 8, 16 | 64, 16
_SCANNED = np.array([_LWPOLYLINE, _LINE, _CIRCLE, _ARC, _POINT, _TEXT, _MTEXT, _INSERT, _SOLID, _TRACE,
                     _3DFACE, _ATTDEF])

# Polyline record kinds.
_AUTO, _POLYGON, _LINESTRING = 0, 1, 2

# Attribute tags whose value names an equipment symbol.
_NAME_TAGS = frozenset({"name", "名称", "设备名称", "设备名", "tag", "位号", "编号", "title"})


@dataclass(frozen=True)
class ExplodeBudget:
    """How many entities and vertices exploding a drawing's blocks may produce beyond those the file holds.

    Counted while blocks are exploded, before each copy is made, so that memory stays bounded whatever the file:
    a few kilobytes of nested INSERTs (ten per level, six levels) would otherwise ask for a million polygons.
    """

    entities: int
    vertices: int

    @classmethod
    def default(cls) -> ExplodeBudget:
        """The budget of riskmap.settings.Settings when nothing else is given (its declared defaults)."""
        from riskmap.settings import Settings

        fields = Settings.model_fields
        return cls(fields["dxf_max_exploded_entities"].default, fields["dxf_max_exploded_vertices"].default)


# --------------------------------------------------------------------------------------------------------
# Errors users read


def _fail(zh: str, en: str) -> LayoutImportError:
    return LayoutImportError(f"{zh} / {en}")


class _EzdxfLog(logging.Handler):
    """Collects what ezdxf logs while this thread reads a file, instead of letting Python print it to stderr
    (a CLI error must stay one line); the import report summarises it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _ezdxf_log(warnings: list[str]):
    logger = logging.getLogger("ezdxf")
    handler = _EzdxfLog()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        if handler.messages:
            first = handler.messages[0].splitlines()[0][:160]
            warnings.append(f"ezdxf 报告了 {len(handler.messages)} 处文件格式问题（已跳过或修正），第一处：{first} / "
                            f"ezdxf reported {len(handler.messages)} format problems (skipped or fixed), "
                            f"the first: {first}")


class _Unclean(Exception):
    """The scanner does not trust this file; ezdxf reads it whole."""


# --------------------------------------------------------------------------------------------------------
# Bytes → text


_HEADER_PATTERNS = {
    "$ACADVER": re.compile(rb"\$ACADVER[ \t]*\r?\n[ \t]*1[ \t]*\r?\n([^\r\n]*)"),
    "$DWGCODEPAGE": re.compile(rb"\$DWGCODEPAGE[ \t]*\r?\n[ \t]*3[ \t]*\r?\n([^\r\n]*)"),
    "$INSUNITS": re.compile(rb"\$INSUNITS[ \t]*\r?\n[ \t]*70[ \t]*\r?\n[ \t]*(-?\d+)"),
}


def _header_vars(data: bytes) -> dict[str, str]:
    """The few header variables needed before decoding, read from the bytes of the HEADER section."""
    end = data.find(b"ENDSEC")
    head = data[: end if end > 0 else 200_000]
    found = {}
    for name, pattern in _HEADER_PATTERNS.items():
        match = pattern.search(head)
        if match:
            found[name] = match.group(1).decode("ascii", "replace").strip()
    return found


def _units_m(insunits: Any) -> float | None:
    """Metres per drawing unit from $INSUNITS (None when unitless or unknown)."""
    from ezdxf.units import METER_FACTOR

    try:
        code = int(insunits)
    except (TypeError, ValueError):
        return None
    if 0 < code < len(METER_FACTOR) and METER_FACTOR[code]:
        return 1.0 / METER_FACTOR[code]
    return None


def _decode(data: bytes, header: dict[str, str], warnings: list[str]) -> str:
    """Text of an ASCII DXF: UTF-8 from R2007 on, else the $DWGCODEPAGE code page (ANSI_936 → GBK).

    Older files that declare a code page but hold valid UTF-8 (common from converters) are read as
    UTF-8: GBK or cp1252 text almost never forms valid UTF-8 by accident.
    """
    from ezdxf.tools.codepage import toencoding

    version = header.get("$ACADVER", "")
    if version >= "AC1021":
        encoding = "utf-8"
    else:
        encoding = toencoding(header.get("$DWGCODEPAGE", "ANSI_1252"))
        if codecs.lookup(encoding).name != "utf-8" and not data.isascii():
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                warnings.append(f"文件声明编码为 {header.get('$DWGCODEPAGE', 'ANSI_1252')}，但内容是 UTF-8，"
                                f"已按 UTF-8 读取 / the file declares code page "
                                f"{header.get('$DWGCODEPAGE', 'ANSI_1252')} but holds UTF-8 text; read as UTF-8")
                return text.removeprefix("\ufeff")
    text = data.decode(encoding, errors="replace")
    if "\ufffd" in text:
        warnings.append(f"部分字符无法按 {encoding} 解码，已替换为 � / some bytes are not valid {encoding} "
                        f"and were replaced by �")
    return text.removeprefix("\ufeff")


def _sniff(text: str) -> None:
    """Refuse what is not an ASCII DXF at all, before any parser sees it."""
    lines = iter(text.split("\n", 64))
    for code in lines:
        if not code.strip():
            continue
        value = next(lines, "")
        try:
            number = int(code)
        except ValueError:
            break
        if number == 999:
            continue
        if number == 0 and value.strip().upper() == "SECTION":
            return
        break
    raise _fail("文件不是 DXF 格式（应以组码 0、SECTION 开头）",
                "not a DXF file (it must start with the tags 0, SECTION)")


def _check_complete(text: str, warnings: list[str]) -> None:
    """A file that stops inside a section was cut off: refuse it rather than import half a plant."""
    tail = text.rstrip(" \t\n\x00\x1a")
    last_lines = tail[-80:].split("\n")
    if last_lines[-1].strip() == "EOF" and len(last_lines) >= 2 and last_lines[-2].strip() == "0":
        return
    opened = max(text.rfind("\nSECTION\n"), text.rfind("\nSECTION "), text.rfind("\nSECTION\t"))
    closed = max(text.rfind("\nENDSEC\n"), text.rfind("\nENDSEC "), text.rfind("\nENDSEC\t"),
                 len(text) - 7 if tail.endswith("\nENDSEC") else -1)
    if closed < opened:
        raise _fail("DXF 文件不完整：在某一节中途结束（缺少 ENDSEC 和 EOF），可能在传输中被截断",
                    "truncated DXF: the file ends inside a section (no ENDSEC and no EOF)")
    warnings.append("DXF 文件缺少结束标记 EOF / the DXF file has no EOF marker")


def _dstr(value: str) -> str:
    r"""Decode the DXF escapes \U+XXXX (Unicode) and \M+NXXXX (multibyte, e.g. GB2312 in R12 files)."""
    if "\\" in value:
        from ezdxf.lldxf.encoding import decode_dxf_unicode, decode_mif_to_unicode

        if "\\U+" in value:
            value = decode_dxf_unicode(value)
        if "\\M+" in value:
            value = decode_mif_to_unicode(value)
    return value


def _plain_text(raw: str) -> str:
    """TEXT/ATTRIB content without %%-codes."""
    text = _dstr(raw)
    if "%%" in text:
        from ezdxf.tools.text import plain_text

        text = plain_text(text)
    return _clean_label(text)


_MTEXT_CODES = re.compile(r"[\\{}^%]")


def _plain_mtext(raw: str) -> str:
    """MTEXT content without formatting codes (\\P, {\\f...;}, \\S...;, ...)."""
    text = _dstr(raw)
    if _MTEXT_CODES.search(text):
        from ezdxf.tools.text import fast_plain_mtext

        text = fast_plain_mtext(text)
    return _clean_label(text)


_LABEL_MESS = re.compile(r"[\r\n\t]|  ")


def _clean_label(text: str) -> str:
    """One line: line breaks vanish between CJK characters and become spaces elsewhere."""
    if not _LABEL_MESS.search(text):
        return text.strip()
    parts = [p.strip() for p in re.split(r"[\r\n]+", text) if p.strip()]
    if not parts:
        return ""
    out = parts[0]
    for part in parts[1:]:
        joiner = "" if (not out[-1].isascii() and not part[0].isascii()) else " "
        out += joiner + part
    return re.sub(r"[ \t]+", " ", out)


# --------------------------------------------------------------------------------------------------------
# Raw tables, filled by both readers


class _Table:
    """Columns filled in chunks (scanner) or row by row (ezdxf walker), in order."""

    def __init__(self, **dtypes: Any):
        self.dtypes = dtypes
        self.chunks: dict[str, list[np.ndarray]] = {k: [] for k in dtypes}
        self.rows: list[tuple] = []

    def add(self, size: int, /, **cols: Any) -> None:
        self._flush()
        for key, dtype in self.dtypes.items():
            value = cols[key]
            if isinstance(value, np.ndarray | list):
                arr = np.asarray(value, dtype=dtype)
            else:
                arr = np.full(size, value, dtype=dtype)
            self.chunks[key].append(arr)

    def row(self, *values: Any) -> None:
        self.rows.append(values)

    def _flush(self) -> None:
        if self.rows:
            columns = list(zip(*self.rows, strict=True))
            for (key, dtype), column in zip(self.dtypes.items(), columns, strict=True):
                arr = np.empty(len(column), dtype=object) if dtype is object else None
                if arr is not None:
                    arr[:] = column
                else:
                    arr = np.asarray(column, dtype=dtype)
                self.chunks[key].append(arr)
            self.rows = []

    def finish(self) -> dict[str, np.ndarray]:
        self._flush()
        return {k: (np.concatenate(v) if v else np.zeros(0, dtype=self.dtypes[k])) for k, v in self.chunks.items()}


def _tables() -> dict[str, _Table]:
    f, o, i = np.float64, object, np.int64
    return {
        # polylines, lines, solids, faces: one row per entity, vertices in "vtx"
        "pl": _Table(cont=i, n=i, kind=np.int8, closed=bool, ex=f, ey=f, ez=f, handle=o, layer=o, etype=o),
        "vtx": _Table(x=f, y=f, z=f, b=f),
        "circ": _Table(cont=i, cx=f, cy=f, cz=f, r=f, a0=f, a1=f, arc=bool, ex=f, ey=f, ez=f, handle=o,
                       layer=o, etype=o),
        "pt": _Table(cont=i, x=f, y=f, z=f, handle=o, layer=o, etype=o),
        # texts: the anchor, and the box the text covers (width, height, rotation in radians, where the anchor
        # lies in it as fractions of width and height), all in the text's OCS
        "txt": _Table(cont=i, x=f, y=f, z=f, ex=f, ey=f, ez=f, text=o, handle=o, layer=o, owner=o, tag=o,
                      etype=o, bw=f, bh=f, brot=f, bfx=f, bfy=f),
        "ins": _Table(cont=i, block=o, x=f, y=f, z=f, sx=f, sy=f, sz=f, rot=f, ex=f, ey=f, ez=f, cols=i,
                      rows=i, cs=f, rs=f, handle=o, layer=o),
        "geo": _Table(cont=i, geom=o, handle=o, layer=o, etype=o),
    }


def _is_layout_block(folded_name: str) -> bool:
    """Model and paper space blocks (R12 spells them $MODEL_SPACE, $PAPER_SPACE)."""
    return folded_name.startswith(("*paper_space", "$paper_space")) or folded_name in ("*model_space",
                                                                                        "$model_space")


class _Registry:
    """Containers: model space is 0, each block definition gets an id by its case-folded name."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"*model_space": _MODEL}
        self.names: list[str] = ["*Model_Space"]
        self.base: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        self.skip: list[bool] = [False]

    def add(self, name: str, base: tuple[float, float, float]) -> int:
        key = name.casefold()
        if key in self.ids:
            return self.ids[key]
        self.ids[key] = len(self.names)
        self.names.append(name)
        self.base.append(base)
        self.skip.append(_is_layout_block(key))
        return self.ids[key]

    def lookup(self, name: str) -> int:
        return self.ids.get(str(name).casefold(), -1)


# --------------------------------------------------------------------------------------------------------
# The scanner


@dataclass
class _Tags:
    lines: list[str]
    codes: np.ndarray           # int64, one per tag
    vobj: np.ndarray            # object array of the value strings
    sections: dict[str, tuple[int, int]]   # name -> (first tag after the name, ENDSEC tag)
    ntags: int                  # tags up to EOF
    junk: np.ndarray            # tags to leave out when ezdxf reads the rest


def _scan(text: str) -> _Tags:
    """Split into (code, value) tags and check the section structure; anything odd → _Unclean."""
    lines = text.split("\n")
    k = len(lines)
    while k and not lines[k - 1].strip():
        k -= 1
    if k % 2:
        raise _Unclean("odd number of lines")
    code_lines = lines[0:k:2]
    try:
        # few distinct spellings ("  0", " 10", "100", ...): parse each once
        parsed = {c: int(c) for c in set(code_lines)}
    except ValueError:
        raise _Unclean("bad group code") from None
    codes = np.fromiter(map(parsed.__getitem__, code_lines), dtype=np.int64, count=k // 2)
    vobj = np.empty(k // 2, dtype=object)
    vobj[:] = lines[1:k:2]
    zero = np.flatnonzero(codes == 0)
    zval = vobj[zero]
    eof = zero[zval == "EOF"]
    n = int(eof[0]) if len(eof) else len(codes)
    starts = zero[(zval == "SECTION") & (zero < n)]
    ends = zero[(zval == "ENDSEC") & (zero < n)]
    dropped = np.zeros(0, dtype=np.int64)
    if len(starts) == len(ends) + 1 and starts[-1] == n - 1:
        # An empty, unnamed section opened just before EOF (seen in the wild): nothing to read.
        dropped, starts = starts[-1:], starts[:-1]
    if len(starts) == 0 or len(starts) != len(ends):
        raise _Unclean("unbalanced sections")
    if not (np.all(starts < ends) and np.all(ends[:-1] < starts[1:])):
        raise _Unclean("interleaved sections")
    outside = np.ones(n, dtype=bool)
    for s, e in zip(starts, ends, strict=True):
        outside[s:e + 1] = False
    outside[dropped] = False
    if np.any(codes[:n][outside] != 999):
        raise _Unclean("tags outside sections")
    sections: dict[str, tuple[int, int]] = {}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if s + 1 >= e or codes[s + 1] != 2:
            raise _Unclean("section without a name")
        name = vobj[s + 1].strip()
        if name not in _KNOWN_SECTIONS or name in sections:
            raise _Unclean(f"unknown or repeated section {name}")
        if name in ("ENTITIES", "BLOCKS") and s + 2 < e and codes[s + 2] != 0:
            raise _Unclean("section content does not start with an entity")
        sections[name] = (s + 2, e)
    return _Tags(lines, codes, vobj, sections, n, dropped)


class _Section:
    """Per-entity access to one ENTITIES or BLOCKS section of the scanned tags."""

    def __init__(self, tags: _Tags, a: int, b: int):
        self.a, self.b = a, b
        codes = tags.codes[a:b]
        vobj = tags.vobj[a:b]
        self.vobj = vobj
        zs = np.flatnonzero(codes == 0)
        self.zs = zs
        self.n = n = len(zs)
        self.lens = np.diff(np.append(zs, b - a))
        self.names = vobj[zs]
        self.tid = np.fromiter((_TID.get(x, 0) for x in self.names), dtype=np.int64, count=n)
        self.tag_ent = np.repeat(np.arange(n), self.lens)
        # Tags that are entity data: not XDATA, not inside an embedded object (code 101, e.g. MTEXT
        # columns) and not inside an application group (102 "{ACAD_REACTORS" ... 102 "}").
        valid = (codes < 1000) & (codes != 0)
        emb = codes == 101
        if emb.any():
            count = np.cumsum(emb)
            valid &= (count - count[zs][self.tag_ent]) == 0
        grp = np.flatnonzero(codes == 102)
        if len(grp):
            gval = [str(v).strip() for v in vobj[grp]]
            step = np.zeros(len(codes), dtype=np.int64)
            step[grp[[v.startswith("{") for v in gval]]] = 1
            step[grp[[v == "}" for v in gval]]] = -1
            depth = np.cumsum(step)
            if np.any(depth[zs] != 0) or np.any(depth < 0):
                raise _Unclean("unbalanced 102 groups")
            valid &= (depth == 0) & (codes != 102)
        self.valid = valid
        self.codes = codes

    def select(self, ents_mask: np.ndarray) -> None:
        """Restrict value look-ups to the tags of these entities."""
        cand = np.flatnonzero(self.valid & ents_mask[self.tag_ent])
        self.cand = cand
        self.cc = self.codes[cand]
        self.ce = self.tag_ent[cand]
        self._firsts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._floats: dict[int, np.ndarray] = {}

    def all(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """Every (entity, tag) with this group code, in file order."""
        m = self.cc == code
        return self.ce[m], self.cand[m]

    def first(self, code: int) -> tuple[np.ndarray, np.ndarray]:
        """The first (entity, tag) of this group code in each entity that has one."""
        hit = self._firsts.get(code)
        if hit is None:
            ent, tag = self.all(code)
            if len(ent) > 1:
                keep = np.empty(len(ent), dtype=bool)
                keep[0] = True
                np.not_equal(ent[1:], ent[:-1], out=keep[1:])
                ent, tag = ent[keep], tag[keep]
            hit = self._firsts[code] = (ent, tag)
        return hit

    def floats(self, code: int, default: float) -> np.ndarray:
        out = np.full(self.n, default, dtype=np.float64)
        ent, tag = self.first(code)
        if len(ent):
            values = self._floats.get(code)
            if values is None:
                values = self._floats[code] = _to_floats(self.vobj[tag])
            out[ent] = values
        return out

    def ints(self, code: int, default: int) -> np.ndarray:
        values = self.floats(code, default)
        values[~np.isfinite(values)] = default
        return np.clip(values, -(2**62), 2**62).astype(np.int64)

    def strs(self, code: int, default: str) -> np.ndarray:
        out = np.full(self.n, default, dtype=object)
        ent, tag = self.first(code)
        if len(ent):
            out[ent] = self.vobj[tag]
        return out


def _to_floats(values: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        raise _Unclean("bad number") from None


def _decode_names(values: np.ndarray) -> np.ndarray:
    """Apply `_dstr` once per distinct string."""
    if not len(values):
        return values
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    decoded = np.empty(len(uniq), dtype=object)
    decoded[:] = [_dstr(u) for u in uniq.tolist()]
    return decoded[inverse.ravel()]


def _scan_entities(tags: _Tags, name: str, reg: _Registry, T: dict[str, _Table], stats: Counter) -> np.ndarray:  # noqa: C901 — one case per DXF entity type, read in one pass
    """Read the scanned entity types of one section into the raw tables.

    Returns the tag mask of what ezdxf must still read (everything else in this section is done).
    """
    a, b = tags.sections[name]
    keep_tags = np.ones(b - a, dtype=bool)
    if a >= b:
        return keep_tags
    sec = _Section(tags, a, b)
    n, tid = sec.n, sec.tid
    idx = np.arange(n)

    # Sub-entities belong to the entity before them: ATTRIB/SEQEND after an INSERT are scanned with it,
    # VERTEX/SEQEND after a POLYLINE go to ezdxf with their POLYLINE.
    is_main = ~np.isin(tid, (_ATTRIB, _SEQEND, _VERTEX))
    main = np.maximum.accumulate(np.where(is_main, idx, -1))
    main_tid = np.where(main >= 0, tid[np.maximum(main, 0)], -1)
    # 2D and 3D polylines are scanned, meshes are left to ezdxf (which reports them as unsupported)
    sec.select(tid == _POLYLINE)
    pl_flags = sec.ints(70, 0)
    simple_pl = (tid == _POLYLINE) & ((pl_flags & _PL_MESHES) == 0)
    main_simple_pl = np.where(main >= 0, simple_pl[np.maximum(main, 0)], False)
    scanned = (np.isin(tid, _SCANNED) | simple_pl | (np.isin(tid, (_ATTRIB, _SEQEND)) & (main_tid == _INSERT))
               | (np.isin(tid, (_VERTEX, _SEQEND)) & main_simple_pl))
    structural = np.isin(tid, (_BLOCK, _ENDBLK))

    # Containers.
    if name == "BLOCKS":
        blk = np.flatnonzero(tid == _BLOCK)
        endblk = np.flatnonzero(tid == _ENDBLK)
        if (len(blk) != len(endblk) or (n and tid[0] != _BLOCK) or not np.all(blk < endblk)
                or not np.all(endblk[:-1] < blk[1:])):
            raise _Unclean("unbalanced BLOCK/ENDBLK")
        owner = np.searchsorted(blk, idx, side="right") - 1
        if np.any(idx > endblk[owner]):
            raise _Unclean("entity between blocks")
        sec.select(tid == _BLOCK)
        bnames = sec.strs(2, "")[blk]
        bx, by, bz = sec.floats(10, 0.0)[blk], sec.floats(20, 0.0)[blk], sec.floats(30, 0.0)[blk]
        ids = []
        for bname, x, y, z in zip(_decode_names(bnames).tolist(), bx.tolist(), by.tolist(), bz.tolist(),
                                  strict=True):
            if not bname:
                raise _Unclean("block without a name")
            if bname.casefold() in reg.ids and bname.casefold() != "*model_space":
                raise _Unclean(f"block {bname} defined twice")
            ids.append(reg.add(bname, (x, y, z)))
        cont = np.asarray(ids, dtype=np.int64)[owner]
        paper = np.asarray(reg.skip, dtype=bool)[cont] & ~structural
    else:
        cont = np.zeros(n, dtype=np.int64)
        paper = np.zeros(n, dtype=bool)

    sec.select(scanned)
    handle = sec.strs(5, "")
    no_handle = handle == ""
    if no_handle.any():
        handle[no_handle] = [f"#{name[0]}{i}" for i in np.flatnonzero(no_handle).tolist()]
    layer = _decode_names(sec.strs(8, "0"))
    invisible = sec.ints(60, 0) == 1
    if name == "ENTITIES":
        paper |= sec.ints(67, 0) == 1
    ex, ey, ez = sec.floats(210, 0.0), sec.floats(220, 0.0), sec.floats(230, 1.0)

    counted = scanned & ~np.isin(tid, (_SEQEND, _ATTRIB, _VERTEX))
    stats["paper space"] += int(np.count_nonzero(paper & counted))
    stats["invisible"] += int(np.count_nonzero(invisible & counted & ~paper))
    live = scanned & ~paper & ~invisible
    etype = sec.names

    def rows(t: int | tuple[int, ...]) -> np.ndarray:
        return np.flatnonzero(live & np.isin(tid, t))

    f = sec.floats

    # LWPOLYLINE: vertices 10/20 in pairs, bulge 42 after its vertex.
    lw = rows(_LWPOLYLINE)
    if len(lw):
        is_lw = np.zeros(n, dtype=bool)
        is_lw[lw] = True
        e10, t10 = sec.all(10)
        e20, t20 = sec.all(20)
        k10, k20 = is_lw[e10], is_lw[e20]
        e10, t10, e20, t20 = e10[k10], t10[k10], e20[k20], t20[k20]
        if len(e10) != len(e20) or not np.array_equal(e10, e20) or np.any(t20 < t10) \
                or np.any(t10[1:] < t20[:-1]):
            raise _Unclean("LWPOLYLINE vertices out of order")
        bulge = np.zeros(len(t10))
        e42, t42 = sec.all(42)
        k42 = is_lw[e42]
        e42, t42 = e42[k42], t42[k42]
        if len(t42):
            j = np.searchsorted(t10, t42, side="right") - 1
            ok = (j >= 0) & (e10[np.maximum(j, 0)] == e42)
            bulge[j[ok]] = _to_floats(sec.vobj[t42[ok]])
        counts = np.bincount(e10, minlength=n)[lw]
        elevation = f(38, 0.0)
        T["pl"].add(len(lw), cont=cont[lw], n=counts, kind=_AUTO, closed=(sec.ints(70, 0)[lw] & 1) == 1,
                    ex=ex[lw], ey=ey[lw], ez=ez[lw], handle=handle[lw], layer=layer[lw], etype="LWPOLYLINE")
        T["vtx"].add(len(t10), x=_to_floats(sec.vobj[t10]), y=_to_floats(sec.vobj[t20]),
                     z=np.repeat(elevation[lw], counts), b=bulge)

    # POLYLINE (R12 style): VERTEX entities follow; 2D ones are in OCS at the POLYLINE's elevation (its 30),
    # 3D ones in WCS. Spline frame points are not drawn, unless there is nothing else.
    op = rows(_POLYLINE)
    if len(op):
        vx_rows = np.flatnonzero((tid == _VERTEX) & main_simple_pl & live[np.maximum(main, 0)])
        owner_pl = main[vx_rows]
        frame = (sec.ints(70, 0)[vx_rows] & _VX_FRAME) != 0
        drawn = np.bincount(owner_pl[~frame], minlength=n)
        vx_rows = vx_rows[~frame | (drawn[owner_pl] == 0)]
        owner_pl = main[vx_rows]
        counts = np.bincount(owner_pl, minlength=n)[op]
        is3d = (pl_flags[op] & _PL_3D) != 0
        own3d = np.repeat(is3d, counts)
        T["pl"].add(len(op), cont=cont[op], n=counts, kind=_AUTO, closed=(pl_flags[op] & 1) == 1,
                    ex=np.where(is3d, 0.0, ex[op]), ey=np.where(is3d, 0.0, ey[op]), ez=np.where(is3d, 1.0, ez[op]),
                    handle=handle[op], layer=layer[op], etype="POLYLINE")
        T["vtx"].add(len(vx_rows), x=f(10, 0.0)[vx_rows], y=f(20, 0.0)[vx_rows],
                     z=np.where(own3d, f(30, 0.0)[vx_rows], np.repeat(f(30, 0.0)[op], counts)),
                     b=np.where(own3d, 0.0, f(42, 0.0)[vx_rows]))

    # LINE: two WCS points.
    ln = rows(_LINE)
    if len(ln):
        xs = np.column_stack([f(10, 0.0)[ln], f(11, 0.0)[ln]]).ravel()
        ys = np.column_stack([f(20, 0.0)[ln], f(21, 0.0)[ln]]).ravel()
        zs = np.column_stack([f(30, 0.0)[ln], f(31, 0.0)[ln]]).ravel()
        T["pl"].add(len(ln), cont=cont[ln], n=2, kind=_LINESTRING, closed=False, ex=0.0, ey=0.0, ez=1.0,
                    handle=handle[ln], layer=layer[ln], etype="LINE")
        T["vtx"].add(len(xs), x=xs, y=ys, z=zs, b=0.0)

    # CIRCLE, ARC: centre in OCS.
    ca = rows((_CIRCLE, _ARC))
    if len(ca):
        T["circ"].add(len(ca), cont=cont[ca], cx=f(10, 0.0)[ca], cy=f(20, 0.0)[ca], cz=f(30, 0.0)[ca],
                      r=f(40, 0.0)[ca], a0=f(50, 0.0)[ca], a1=f(51, 360.0)[ca], arc=tid[ca] == _ARC,
                      ex=ex[ca], ey=ey[ca], ez=ez[ca], handle=handle[ca], layer=layer[ca], etype=etype[ca])

    # SOLID, TRACE (OCS, corners drawn 1-2-4-3) and 3DFACE (WCS, corners 1-2-3-4).
    sf = rows((_SOLID, _TRACE, _3DFACE))
    if len(sf):
        p = {c: f(c, np.nan)[sf] for c in (10, 11, 12, 20, 21, 22, 30, 31, 32)}
        x3 = np.where(np.isfinite(f(13, np.nan)[sf]), f(13, np.nan)[sf], p[12])
        y3 = np.where(np.isfinite(f(23, np.nan)[sf]), f(23, np.nan)[sf], p[22])
        z3 = np.where(np.isfinite(f(33, np.nan)[sf]), f(33, np.nan)[sf], p[32])
        face = tid[sf] == _3DFACE
        xs = np.column_stack([p[10], p[11], np.where(face, p[12], x3), np.where(face, x3, p[12])])
        ys = np.column_stack([p[20], p[21], np.where(face, p[22], y3), np.where(face, y3, p[22])])
        z0 = np.nan_to_num(p[30])
        zs = np.where(face[:, None],
                      np.column_stack([z0, np.nan_to_num(p[31]), np.nan_to_num(p[32]), np.nan_to_num(z3)]),
                      z0[:, None])
        T["pl"].add(len(sf), cont=cont[sf], n=4, kind=_POLYGON, closed=True, ex=np.where(face, 0.0, ex[sf]),
                    ey=np.where(face, 0.0, ey[sf]), ez=np.where(face, 1.0, ez[sf]), handle=handle[sf],
                    layer=layer[sf], etype=etype[sf])
        T["vtx"].add(4 * len(sf), x=xs.ravel(), y=ys.ravel(), z=zs.ravel(), b=0.0)

    # POINT: WCS.
    po = rows(_POINT)
    if len(po):
        T["pt"].add(len(po), cont=cont[po], x=f(10, 0.0)[po], y=f(20, 0.0)[po], z=f(30, 0.0)[po],
                    handle=handle[po], layer=layer[po], etype="POINT")

    # TEXT and ATTRIB: OCS; the alignment point counts when the text is aligned.
    te = rows((_TEXT, _ATTRIB))
    if len(te):
        attrib_flags = sec.ints(70, 0)
        te = te[~((tid[te] == _ATTRIB) & ((attrib_flags[te] & 1) == 1))]
        halign = sec.ints(72, 0)[te]
        valign = np.where(tid[te] == _ATTRIB, sec.ints(74, 0)[te], sec.ints(73, 0)[te])
        x, y, z = f(10, 0.0)[te], f(20, 0.0)[te], f(30, 0.0)[te]
        ax, ay, az = f(11, np.nan)[te], f(21, np.nan)[te], f(31, np.nan)[te]
        bw, bh, bfx, bfy = None, f(40, 1.0)[te], *_text_fractions(ax, ay, halign, valign)
        span = np.hypot(ax - x, ay - y)
        x, y, z = _text_anchor(x, y, z, ax, ay, az, halign, valign)
        raw = sec.strs(1, "")[te]
        texts = [_plain_text(s) for s in raw.tolist()]
        bw = np.where(np.isin(halign, (3, 5)) & np.isfinite(span) & (span > 0), span,
                      _text_widths(texts, bh, f(41, 1.0)[te]))
        is_attrib = tid[te] == _ATTRIB
        owner = np.where(is_attrib, handle[main[te]], "")
        tag = np.where(is_attrib, sec.strs(2, "")[te], "")
        T["txt"].add(len(te), cont=cont[te], x=x, y=y, z=z, ex=ex[te], ey=ey[te], ez=ez[te],
                     text=np.asarray(texts, dtype=object), handle=handle[te], layer=layer[te], owner=owner,
                     tag=tag, etype=etype[te], bw=bw, bh=bh, brot=np.radians(f(50, 0.0)[te]), bfx=bfx, bfy=bfy)

    # MTEXT: WCS insertion point; the text is the 3-chunks then the 1.
    mt = rows(_MTEXT)
    if len(mt):
        is_mt = np.zeros(n, dtype=bool)
        is_mt[mt] = True
        m = is_mt[sec.ce] & ((sec.cc == 1) | (sec.cc == 3))
        ents, tagpos, tcodes = sec.ce[m], sec.cand[m], sec.cc[m]
        order = np.lexsort((tcodes == 1, ents))  # 3-chunks before the 1, file order kept within
        pieces: dict[int, list[str]] = {}
        for e, t in zip(ents[order].tolist(), tagpos[order].tolist(), strict=True):
            pieces.setdefault(e, []).append(sec.vobj[t])
        texts = [_plain_mtext("".join(pieces.get(e, ()))) for e in mt.tolist()]
        direction = np.arctan2(f(21, np.nan)[mt], f(11, np.nan)[mt])
        rot = np.where(np.isfinite(direction), direction, f(50, 0.0)[mt])     # MTEXT's 50 is in radians
        bw, bh, bfx, bfy = _mtext_box(texts, f(40, 1.0)[mt], f(41, 0.0)[mt], sec.ints(71, 1)[mt])
        T["txt"].add(len(mt), cont=cont[mt], x=f(10, 0.0)[mt], y=f(20, 0.0)[mt], z=f(30, 0.0)[mt], ex=0.0,
                     ey=0.0, ez=1.0, text=np.asarray(texts, dtype=object), handle=handle[mt], layer=layer[mt],
                     owner="", tag="", etype="MTEXT", bw=bw, bh=bh, brot=rot, bfx=bfx, bfy=bfy)

    # INSERT (and MINSERT).
    it = rows(_INSERT)
    if len(it):
        T["ins"].add(len(it), cont=cont[it], block=_decode_names(sec.strs(2, "")[it]), x=f(10, 0.0)[it],
                     y=f(20, 0.0)[it], z=f(30, 0.0)[it], sx=f(41, 1.0)[it], sy=f(42, 1.0)[it],
                     sz=f(43, 1.0)[it], rot=f(50, 0.0)[it], ex=ex[it], ey=ey[it], ez=ez[it],
                     cols=sec.ints(70, 1)[it], rows=sec.ints(71, 1)[it], cs=f(44, 0.0)[it], rs=f(45, 0.0)[it],
                     handle=handle[it], layer=layer[it])

    done = scanned & ~structural
    keep_tags[done[sec.tag_ent]] = False
    return keep_tags


def _text_anchor(x, y, z, ax, ay, az, halign, valign):
    """Where a TEXT stands: its alignment point when aligned, the middle of both points for aligned/fit."""
    has_align = np.isfinite(ax) & np.isfinite(ay) & ((halign != 0) | (valign != 0))
    both = has_align & np.isin(halign, (3, 5)) & (valign == 0)
    az = np.where(np.isfinite(az), az, z)
    nx = np.where(both, (x + ax) / 2, np.where(has_align, ax, x))
    ny = np.where(both, (y + ay) / 2, np.where(has_align, ay, y))
    nz = np.where(has_align, az, z)
    return nx, ny, nz


# Advance of a character as a fraction of the text height, for the box a label covers: CAD fonts draw CJK
# characters about one height wide and Latin ones about 0.6. An estimate, on the small side, so that a label is
# never judged larger than it is.
_WIDE_ADVANCE, _NARROW_ADVANCE = 1.0, 0.6
_MTEXT_LINE = 1.67          # AutoCAD's default MTEXT line spacing, in heights


def _text_widths(texts, heights: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Estimated widths of one-line texts (drawing units)."""
    import unicodedata

    ems = np.array([sum(_WIDE_ADVANCE if unicodedata.east_asian_width(ch) in "WF" else _NARROW_ADVANCE
                        for ch in str(t)) for t in texts], dtype=np.float64)
    factors = np.where(np.isfinite(factors) & (factors > 0), factors, 1.0)
    return ems * np.abs(heights) * factors


def _text_fractions(ax, ay, halign, valign) -> tuple[np.ndarray, np.ndarray]:
    """Where a TEXT's anchor (see _text_anchor) lies in its box, as fractions of its width and height."""
    has_align = np.isfinite(ax) & np.isfinite(ay) & ((halign != 0) | (valign != 0))
    fx = np.select([halign == 1, halign == 2, np.isin(halign, (3, 4, 5))], [0.5, 1.0, 0.5], 0.0)
    fy = np.select([valign == 2, valign == 3, halign == 4], [0.5, 1.0, 0.5], 0.0)
    return np.where(has_align, fx, 0.0), np.where(has_align, fy, 0.0)


def _mtext_box(texts, heights, ref_widths, attach) -> tuple[np.ndarray, ...]:
    """Width, height and anchor fractions of MTEXTs: their lines wrap at the reference width when one is set."""
    heights = np.abs(heights)
    one_line = _text_widths(texts, heights, np.ones(len(texts)))
    wraps = np.isfinite(ref_widths) & (ref_widths > 0) & (one_line > ref_widths)
    lines = np.where(wraps, np.ceil(one_line / np.where(wraps, ref_widths, 1.0)), 1.0)
    widths = np.where(wraps, ref_widths, one_line)
    box_h = heights * (1 + _MTEXT_LINE * (lines - 1))
    col = (np.asarray(attach) - 1) % 3
    row = (np.asarray(attach) - 1) // 3
    return widths, box_h, col / 2.0, np.select([row == 0, row == 1], [1.0, 0.5], 0.0)


# --------------------------------------------------------------------------------------------------------
# The ezdxf reader


def _ezdxf_load(text: str | None, data: bytes, warnings: list[str], path: Path | None = None):
    """ezdxf's strict loader, then its recover mode; anything else is the user's broken file.

    `text` is the decoded ASCII DXF; binary DXF comes as `path` (ezdxf reads it from the file).
    """
    import ezdxf
    from ezdxf import recover

    try:
        if text is not None:
            return ezdxf.read(io.StringIO(text))
        if path is not None:
            return ezdxf.readfile(path)
    except Exception:  # noqa: BLE001 - fall through to recover mode, which reports what it fixed
        pass
    try:
        if text is None and path is not None:
            doc, auditor = recover.readfile(path)
        else:
            doc, auditor = recover.read(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any parser failure on untrusted bytes is a bad file
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise _fail(f"无法解析 DXF 文件：{detail}", f"cannot parse the DXF file: {detail}") from None
    if auditor.has_errors or auditor.has_fixes:
        warnings.append(f"DXF 文件结构有误，已按恢复模式读取（{len(auditor.errors)} 个错误，"
                        f"{len(auditor.fixes)} 处修复） / broken DXF structure read in recover mode "
                        f"({len(auditor.errors)} errors, {len(auditor.fixes)} fixes)")
    return doc


def _walk_ezdxf(doc, reg: _Registry, T: dict[str, _Table], stats: Counter, tol: float) -> int:
    """Read every entity ezdxf holds into the raw tables; returns how many entities it saw."""
    msp = doc.modelspace()
    containers = [(_MODEL, msp)]
    for block in doc.blocks:
        name = _dstr(block.name)
        if _is_layout_block(name.casefold()):
            continue
        cid = reg.lookup(name)
        if cid < 0:
            base = block.block.dxf.get("base_point", (0.0, 0.0, 0.0))
            cid = reg.add(name, (float(base[0]), float(base[1]), float(base[2])))
        containers.append((cid, block))
    seen = 0
    for layout in doc.layouts:
        if layout.name != "Model" and layout.is_any_paperspace:
            n_paper = sum(1 for e in layout if e.dxftype() not in ("ATTRIB", "SEQEND", "VERTEX"))
            stats["paper space"] += n_paper
            seen += n_paper
    for cid, layout in containers:
        for entity in layout:
            seen += 1
            kind = entity.dxftype()
            try:
                _ingest(entity, kind, cid, T, stats, tol)
            except Exception:  # noqa: BLE001 - one malformed entity must not sink the drawing
                stats[f"unreadable {kind}"] += 1
    return seen


def _xyz(v: Any) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2]) if len(v) > 2 else 0.0


_EZDXF_KINDS = frozenset({"LWPOLYLINE", "LINE", "CIRCLE", "ARC", "SOLID", "TRACE", "3DFACE", "POLYLINE", "POINT",
                          "TEXT", "ATTRIB", "MTEXT", "INSERT", "HATCH", "MPOLYGON", "ELLIPSE", "SPLINE"})


def _get(dxf, key: str, default: Any) -> Any:
    """A DXF attribute, or the default when absent or not defined for this entity type."""
    try:
        value = dxf.get(key, default)
    except Exception:  # noqa: BLE001 - ezdxf raises for attributes its entity type does not define
        return default
    return default if value is None else value


def _ingest(e, kind: str, cid: int, T: dict[str, _Table], stats: Counter, tol: float) -> None:  # noqa: C901 — one case per entity kind
    dxf = e.dxf
    if kind == "ATTDEF":
        return
    if kind not in _EZDXF_KINDS:
        stats[f"unsupported entity type {kind}"] += 1
        return
    if _get(dxf, "invisible", 0):
        stats["invisible"] += 1
        return
    handle = _get(dxf, "handle", "")
    layer = _dstr(_get(dxf, "layer", "0") or "0")
    ex, ey, ez = _xyz(_get(dxf, "extrusion", (0.0, 0.0, 1.0)))
    if kind == "LWPOLYLINE":
        pts = np.asarray(e.get_points("xyb"), dtype=np.float64).reshape(-1, 3)
        elevation = float(dxf.get("elevation", 0.0))
        T["pl"].row(cid, len(pts), _AUTO, bool(e.closed), ex, ey, ez, handle, layer, kind)
        T["vtx"].add(len(pts), x=pts[:, 0], y=pts[:, 1], z=elevation, b=pts[:, 2])
    elif kind == "LINE":
        s, t = _xyz(dxf.get("start", (0, 0, 0))), _xyz(dxf.get("end", (0, 0, 0)))
        T["pl"].row(cid, 2, _LINESTRING, False, 0.0, 0.0, 1.0, handle, layer, kind)
        T["vtx"].add(2, x=[s[0], t[0]], y=[s[1], t[1]], z=[s[2], t[2]], b=0.0)
    elif kind in ("CIRCLE", "ARC"):
        c = _xyz(dxf.get("center", (0, 0, 0)))
        T["circ"].row(cid, c[0], c[1], c[2], float(_get(dxf, "radius", 0.0)), float(_get(dxf, "start_angle", 0.0)),
                      float(_get(dxf, "end_angle", 360.0)), kind == "ARC", ex, ey, ez, handle, layer, kind)
    elif kind in ("SOLID", "TRACE", "3DFACE"):
        v = [dxf.get(f"vtx{i}") for i in range(4)]
        if v[3] is None:
            v[3] = v[2]
        if any(p is None for p in v):
            stats["degenerate"] += 1
            return
        corners = [_xyz(p) for p in (v if kind == "3DFACE" else (v[0], v[1], v[3], v[2]))]
        if kind != "3DFACE":
            corners = [(x, y, corners[0][2]) for x, y, _ in corners]
        else:
            ex, ey, ez = 0.0, 0.0, 1.0
        arr = np.asarray(corners)
        T["pl"].row(cid, 4, _POLYGON, True, ex, ey, ez, handle, layer, kind)
        T["vtx"].add(4, x=arr[:, 0], y=arr[:, 1], z=arr[:, 2], b=0.0)
    elif kind == "POLYLINE":
        _ingest_polyline(e, cid, T, stats, handle, layer, (ex, ey, ez))
    elif kind == "POINT":
        p = _xyz(dxf.get("location", (0, 0, 0)))
        T["pt"].row(cid, p[0], p[1], p[2], handle, layer, kind)
    elif kind in ("TEXT", "ATTRIB"):
        _ingest_text(e, kind, cid, T, handle, layer, "", (ex, ey, ez))
    elif kind == "MTEXT":
        p = _xyz(dxf.get("insert", (0, 0, 0)))
        text = _plain_mtext(e.text)
        d = dxf.get("text_direction")
        rot = math.atan2(float(d[1]), float(d[0])) if d is not None else float(dxf.get("rotation", 0.0))
        box = _mtext_box([text], np.array([float(dxf.get("char_height", 1.0))]),
                         np.array([float(dxf.get("width", 0.0))]), np.array([int(dxf.get("attachment_point", 1))]))
        T["txt"].row(cid, p[0], p[1], p[2], 0.0, 0.0, 1.0, text, handle, layer, "", "", kind,
                     *(float(v[0]) for v in box[:2]), rot, *(float(v[0]) for v in box[2:]))
    elif kind == "INSERT":
        p = _xyz(dxf.get("insert", (0, 0, 0)))
        T["ins"].row(cid, _dstr(dxf.get("name", "")), p[0], p[1], p[2], float(dxf.get("xscale", 1.0)),
                     float(dxf.get("yscale", 1.0)), float(dxf.get("zscale", 1.0)), float(dxf.get("rotation", 0.0)),
                     ex, ey, ez, int(dxf.get("column_count", 1)), int(dxf.get("row_count", 1)),
                     float(dxf.get("column_spacing", 0.0)), float(dxf.get("row_spacing", 0.0)), handle, layer)
        for attrib in e.attribs:
            if attrib.dxf.get("invisible", 0):
                continue
            a_ext = _xyz(attrib.dxf.get("extrusion", (0.0, 0.0, 1.0)))
            _ingest_text(attrib, "ATTRIB", cid, T, attrib.dxf.get("handle") or "",
                         _dstr(attrib.dxf.get("layer", "0") or "0"), handle, a_ext)
    elif kind in ("HATCH", "MPOLYGON"):
        geom = _hatch_polygon(e, tol)
        if geom is None:
            stats["degenerate"] += 1
        else:
            T["geo"].row(cid, geom, handle, layer, kind)
    elif kind in ("ELLIPSE", "SPLINE"):
        geom = _curve_geometry(e, kind, tol)
        if geom is None:
            stats["degenerate"] += 1
        else:
            T["geo"].row(cid, geom, handle, layer, kind)


def _ingest_text(e, kind, cid, T, handle, layer, owner, extrusion) -> None:
    dxf = e.dxf
    if kind == "ATTRIB" and (int(dxf.get("flags", 0)) & 1):
        return
    p = _xyz(dxf.get("insert", (0, 0, 0)))
    a = dxf.get("align_point")
    a = _xyz(a) if a is not None else (np.nan, np.nan, np.nan)
    halign, valign = np.array([int(dxf.get("halign", 0))]), np.array([int(dxf.get("valign", 0))])
    x, y, z = _text_anchor(np.array([p[0]]), np.array([p[1]]), np.array([p[2]]), np.array([a[0]]),
                           np.array([a[1]]), np.array([a[2]]), halign, valign)
    fx, fy = _text_fractions(np.array([a[0]]), np.array([a[1]]), halign, valign)
    text = _plain_text(dxf.get("text", "") or "")
    tag = dxf.get("tag", "") if kind == "ATTRIB" else ""
    height = float(dxf.get("height", 1.0))
    span = math.hypot(a[0] - p[0], a[1] - p[1]) if math.isfinite(a[0]) else 0.0
    width = span if int(halign[0]) in (3, 5) and span > 0 else \
        float(_text_widths([text], np.array([height]), np.array([float(dxf.get("width", 1.0))]))[0])
    T["txt"].row(cid, float(x[0]), float(y[0]), float(z[0]), *extrusion, text, handle, layer, owner, tag, kind,
                 width, height, math.radians(float(dxf.get("rotation", 0.0))), float(fx[0]), float(fy[0]))


def _ingest_polyline(e, cid, T, stats, handle, layer, extrusion) -> None:
    if e.is_2d_polyline:
        verts = [v for v in e.vertices if not (int(v.dxf.get("flags", 0)) & 16)] or list(e.vertices)
        elevation = float(e.dxf.get("elevation", (0.0, 0.0, 0.0))[2])
        pts = [(float(v.dxf.location[0]), float(v.dxf.location[1]), elevation, float(v.dxf.get("bulge", 0.0)))
               for v in verts]
        ex, ey, ez = extrusion
    elif e.is_3d_polyline:
        verts = [v for v in e.vertices if not (int(v.dxf.get("flags", 0)) & 16)] or list(e.vertices)
        pts = [(*_xyz(v.dxf.location), 0.0) for v in verts]
        ex, ey, ez = 0.0, 0.0, 1.0
    else:
        stats["unsupported entity type POLYLINE (mesh)"] += 1
        return
    arr = np.asarray(pts, dtype=np.float64).reshape(-1, 4)
    T["pl"].row(cid, len(arr), _AUTO, bool(e.is_closed), ex, ey, ez, handle, layer, "POLYLINE")
    T["vtx"].add(len(arr), x=arr[:, 0], y=arr[:, 1], z=arr[:, 2], b=arr[:, 3])


def _path_points(path, tol: float) -> np.ndarray:
    return np.asarray([(v.x, v.y, v.z) for v in path.flattening(tol, segments=8)], dtype=np.float64)


def _hatch_polygon(e, tol: float):
    """Boundary loops under the even-odd rule: a loop inside another is a hole, inside that an island."""
    from ezdxf import path as ezpath

    rings = []
    for path in ezpath.from_hatch(e):
        pts = _path_points(path, tol)
        if len(pts) >= 3 and np.all(np.isfinite(pts)):
            rings.append(pts)
    if not rings:
        return None
    z = float(np.mean(np.concatenate(rings)[:, 2]))
    polys = []
    for ring in rings:
        poly = shapely.make_valid(shapely.Polygon(ring[:, :2]))
        parts = [p for p in shapely.get_parts(poly) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
        if parts:
            polys.append(shapely.union_all(parts))
    if not polys:
        return None
    area = reduce(shapely.symmetric_difference, polys)
    parts = [p for p in shapely.get_parts(area) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return None
    return shapely.force_3d(shapely.MultiPolygon(parts), z)


def _curve_geometry(e, kind: str, tol: float):
    from ezdxf import path as ezpath

    pts = _path_points(ezpath.make_path(e), tol)
    if len(pts) < 2 or not np.all(np.isfinite(pts)):
        return None
    span = float(np.ptp(pts[:, :2], axis=0).max())
    closes = np.allclose(pts[0, :2], pts[-1, :2], rtol=0, atol=max(span, 1.0) * 1e-9)
    if kind == "SPLINE":
        closed = closes or bool(e.closed)
    else:
        sweep = (float(e.dxf.end_param) - float(e.dxf.start_param)) % (2 * math.pi)
        closed = closes or math.isclose(sweep, 0.0, abs_tol=1e-9)
    if closed and len(pts) >= 3:
        poly = shapely.Polygon(pts)
        if poly.area > 0:
            return shapely.MultiPolygon([poly])
        return None
    line = shapely.LineString(pts)
    return line if line.length > 0 else None


# --------------------------------------------------------------------------------------------------------
# Vectorized geometry


def _ocs_axes(ex: np.ndarray, ey: np.ndarray, ez: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OCS x, y, z axes in WCS by the DXF arbitrary axis algorithm, one row per extrusion vector."""
    norm = np.sqrt(ex * ex + ey * ey + ez * ez)
    bad = ~(norm > 1e-12)
    norm = np.where(bad, 1.0, norm)
    az = np.column_stack([np.where(bad, 0.0, ex / norm), np.where(bad, 0.0, ey / norm),
                          np.where(bad, 1.0, ez / norm)])
    near_z = (np.abs(az[:, 0]) < 1 / 64) & (np.abs(az[:, 1]) < 1 / 64)
    ax = np.where(near_z[:, None],
                  np.column_stack([az[:, 2], np.zeros(len(az)), -az[:, 0]]),      # Wy × Az
                  np.column_stack([-az[:, 1], az[:, 0], np.zeros(len(az))]))      # Wz × Az
    ax /= np.linalg.norm(ax, axis=1)[:, None]
    ay = np.cross(az, ax)
    return ax, ay, az


def _is_wcs(ex: np.ndarray, ey: np.ndarray, ez: np.ndarray) -> np.ndarray:
    return ((np.abs(ex) < 1e-12) & (np.abs(ey) < 1e-12) & (ez > 0)) | ~(np.abs(ex) + np.abs(ey) + np.abs(ez) > 0)


def _to_wcs(pts: np.ndarray, ent_of_pt: np.ndarray, ex, ey, ez) -> np.ndarray:
    """OCS points (n, 3) of entities with these extrusions → WCS, in place where needed."""
    ocs = ~_is_wcs(ex, ey, ez)
    if not ocs.any():
        return pts
    ax, ay, az = _ocs_axes(ex[ocs], ey[ocs], ez[ocs])
    slot = np.full(len(ex), -1)
    slot[ocs] = np.arange(int(ocs.sum()))
    sel = np.flatnonzero(ocs[ent_of_pt])
    s = slot[ent_of_pt[sel]]
    p = pts[sel]
    pts[sel] = p[:, :1] * ax[s] + p[:, 1:2] * ay[s] + p[:, 2:3] * az[s]
    return pts


def _circles_as_polylines(c: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """CIRCLE → two half-circle bulges (closed); ARC → start, middle, end with quarter-sweep bulges."""
    arc = c["arc"]
    r = c["r"]
    a0 = np.radians(c["a0"])
    sweep = np.radians(np.mod(c["a1"] - c["a0"], 360.0))
    sweep = np.where(sweep <= 1e-12, 2 * np.pi, sweep)
    # Circles: (c + r, c - r); arcs: (start, middle, end).
    ang = np.where(arc[:, None], a0[:, None] + sweep[:, None] * np.array([0.0, 0.5, 1.0]),
                   np.array([0.0, np.pi, 0.0]))
    bulge = np.where(arc, np.tan(sweep / 8), 1.0)
    counts = np.where(arc, 3, 2)
    take = np.arange(3)[None, :] < counts[:, None]
    xs = (c["cx"][:, None] + r[:, None] * np.cos(ang))[take]
    ys = (c["cy"][:, None] + r[:, None] * np.sin(ang))[take]
    zs = np.repeat(c["cz"], counts)
    bs = np.where(np.arange(3)[None, :] < (counts - 1)[:, None] + (~arc)[:, None], bulge[:, None], 0.0)[take]
    ents = {"cont": c["cont"], "n": counts, "kind": np.where(arc, _LINESTRING, _POLYGON).astype(np.int8),
            "closed": ~arc, "ex": c["ex"], "ey": c["ey"], "ez": c["ez"], "handle": c["handle"],
            "layer": c["layer"], "etype": c["etype"]}
    bad = ~(r > 0) | ~np.isfinite(r)
    if bad.any():
        ents["n"] = np.where(bad, 0, counts)
        keep_v = np.repeat(~bad, counts)
        xs, ys, zs, bs = xs[keep_v], ys[keep_v], zs[keep_v], bs[keep_v]
    return ents, {"x": xs, "y": ys, "z": zs, "b": bs}


def _densify(vx, vy, vz, vb, counts, closed, tol) -> tuple[np.ndarray, np.ndarray]:
    """Polylines with bulges → points (n, 3) and per-entity offsets; arcs become chords within `tol`.

    `tol` is per entity (blocks scaled up by their inserts get a finer one).
    """
    E = len(counts)
    vstart = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if E else np.zeros(0, np.int64)
    nseg = np.where(counts >= 2, counts - 1 + closed.astype(np.int64), 0)
    S = int(nseg.sum())
    seg_ent = np.repeat(np.arange(E), nseg)
    seg_first = np.concatenate([[0], np.cumsum(nseg)[:-1]]) if E else np.zeros(0, np.int64)
    j = np.arange(S) - np.repeat(seg_first, nseg)
    s = vstart[seg_ent] + j
    e = vstart[seg_ent] + (j + 1) % np.maximum(counts[seg_ent], 1)
    x0, y0, z0, x1, y1, z1 = vx[s], vy[s], vz[s], vx[e], vy[e], vz[e]
    b = vb[s]
    dx, dy = x1 - x0, y1 - y0
    chord = np.hypot(dx, dy)
    is_arc = (b != 0) & (chord > 0) & np.isfinite(b)
    theta = 4 * np.arctan(np.where(is_arc, b, 0.0))
    half = np.abs(np.sin(theta / 2))
    r = np.where(is_arc, chord / (2 * np.where(half > 0, half, 1.0)), 0.0)
    seg_tol = tol[seg_ent] if S else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where(r > seg_tol, 2 * np.arccos(np.clip(1 - seg_tol / np.where(r > 0, r, 1.0), -1, 1)), np.pi)
        turns = np.abs(theta) / (2 * np.pi)
        nsub = np.ceil(np.abs(theta) / np.where(step > 0, step, np.pi))
        nsub = np.clip(nsub, np.ceil(turns * MIN_SEGMENTS_PER_TURN), np.ceil(turns * MAX_SEGMENTS_PER_TURN))
    nsub = np.where(is_arc & np.isfinite(nsub), np.maximum(nsub, 1), 1).astype(np.int64)
    # centre = midpoint + s * perp(chord), s = (1/b - b) / 4
    sb = np.where(is_arc, (1 / np.where(is_arc, b, 1.0) - b) / 4, 0.0)
    cx, cy = x0 + dx / 2 - sb * dy, y0 + dy / 2 + sb * dx
    a0 = np.arctan2(y0 - cy, x0 - cx)

    P = int(nsub.sum())
    pt_seg = np.repeat(np.arange(S), nsub)
    seg_pt_first = np.concatenate([[0], np.cumsum(nsub)[:-1]]) if S else np.zeros(0, np.int64)
    k = np.arange(P) - np.repeat(seg_pt_first, nsub)
    t = k / nsub[pt_seg]
    ang = a0[pt_seg] + theta[pt_seg] * t
    arc_pt = is_arc[pt_seg] & (k > 0)
    px = np.where(arc_pt, cx[pt_seg] + r[pt_seg] * np.cos(ang), x0[pt_seg])
    py = np.where(arc_pt, cy[pt_seg] + r[pt_seg] * np.sin(ang), y0[pt_seg])
    pz = z0[pt_seg] + (z1[pt_seg] - z0[pt_seg]) * t

    # Each entity: its segment points, then the closing point (first vertex) or the last vertex.
    pts_per_ent = np.bincount(seg_ent, weights=nsub, minlength=E).astype(np.int64) + (counts >= 1)
    off = np.concatenate([[0], np.cumsum(pts_per_ent)]).astype(np.int64)
    out = np.empty((int(off[-1]), 3))
    ent_of_pt = seg_ent[pt_seg]
    # position of each segment point: entity offset + (points before it in the same entity)
    ent_first_pt = np.concatenate([[0], np.cumsum(np.bincount(seg_ent, weights=nsub, minlength=E))[:-1]]) \
        .astype(np.int64) if E else np.zeros(0, np.int64)
    pos = off[ent_of_pt] + (np.arange(P) - ent_first_pt[ent_of_pt])
    out[pos, 0], out[pos, 1], out[pos, 2] = px, py, pz
    last = np.flatnonzero(counts >= 1)
    src = np.where(closed[last], vstart[last], vstart[last] + counts[last] - 1)
    out[off[last + 1] - 1] = np.column_stack([vx[src], vy[src], vz[src]])
    return out, off


@dataclass
class _Bucket:
    """Geometries of one kind as ragged arrays (3-D coordinates) with per-geometry attributes.

    `offs` runs innermost first: polygons (rings→coords, polygons→rings, geometries→polygons), lines
    (geometries→coords), points and texts none (one coordinate each).
    """

    coords: np.ndarray
    offs: tuple[np.ndarray, ...]
    attrs: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.attrs["handle"])

    def take(self, idx: np.ndarray) -> _Bucket:
        sel = np.asarray(idx, dtype=np.int64)
        new_offs = []
        for off in reversed(self.offs):
            sel, noff = _take_ranges(off, sel)
            new_offs.append(noff)
        return _Bucket(self.coords[sel], tuple(reversed(new_offs)), {k: v[idx] for k, v in self.attrs.items()})

    @staticmethod
    def concat(parts: list[_Bucket]) -> _Bucket:
        parts = [p for p in parts if p.n] or parts[:1]
        if len(parts) == 1:
            return parts[0]
        coords = np.concatenate([p.coords for p in parts])
        offs = []
        for level in range(len(parts[0].offs)):
            pieces, shift = [], 0
            for p in parts:
                pieces.append(p.offs[level][:-1] + shift)
                shift += len(p.coords) if level == 0 else len(p.offs[level - 1]) - 1
            pieces.append(np.array([shift]))
            offs.append(np.concatenate(pieces).astype(np.int64))
        attrs = {k: np.concatenate([p.attrs[k] for p in parts]) for k in parts[0].attrs}
        return _Bucket(coords, tuple(offs), attrs)

    def replicate(self, mats: np.ndarray) -> _Bucket:
        """k copies, copy i transformed by the 4×4 matrix mats[i] (column vectors)."""
        k = len(mats)
        coords = (np.einsum("kij,nj->kni", mats[:, :3, :3], self.coords) + mats[:, None, :3, 3]).reshape(-1, 3)
        offs = []
        for level, off in enumerate(self.offs):
            child = len(self.coords) if level == 0 else len(self.offs[level - 1]) - 1
            body = (off[:-1][None, :] + child * np.arange(k)[:, None]).ravel()
            offs.append(np.append(body, k * child).astype(np.int64))
        attrs = {key: np.tile(v, k) for key, v in self.attrs.items()}
        return _Bucket(coords, tuple(offs), attrs)


def _take_ranges(off: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = off[idx]
    lens = off[idx + 1] - starts
    new_off = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_off[1:])
    flat = np.repeat(starts - new_off[:-1], lens) + np.arange(new_off[-1])
    return flat, new_off


_KINDS = ("poly", "line", "point", "text")
_TEXT_ATTRS = ("text", "owner", "tag")
_BOX_ATTRS = tuple(f"box{i}{axis}" for i in range(4) for axis in "xy")


def _text_corners(tx: dict[str, np.ndarray], anchors: np.ndarray) -> dict[str, np.ndarray]:
    """The four corners of each text's box in its container's coordinates (box0x, box0y, … box3y)."""
    n = len(anchors)
    if not n:
        return {k: np.zeros(0) for k in _BOX_ATTRS}
    u = np.column_stack([np.cos(tx["brot"]), np.sin(tx["brot"])])
    v = np.column_stack([-u[:, 1], u[:, 0]])
    w, h = tx["bw"][:, None], tx["bh"][:, None]
    origin = anchors[:, :2] - tx["bfx"][:, None] * w * u - tx["bfy"][:, None] * h * v
    out = {}
    for i, corner in enumerate((origin, origin + w * u, origin + w * u + h * v, origin + h * v)):
        pts = _to_wcs(np.column_stack([corner, anchors[:, 2]]), np.arange(n), tx["ex"], tx["ey"], tx["ez"])
        out[f"box{i}x"], out[f"box{i}y"] = pts[:, 0], pts[:, 1]
    return out


def _build(T: dict[str, _Table], cont_tol: np.ndarray, stats: Counter) -> dict[str, tuple[_Bucket, np.ndarray]]:
    """Raw tables → buckets of finished geometry (in each container's own coordinates) with container ids."""
    pl, vtx = T["pl"].finish(), T["vtx"].finish()
    circ = T["circ"].finish()
    if len(circ["r"]):
        c_ent, c_vtx = _circles_as_polylines(circ)
        pl = {k: np.concatenate([pl[k], np.asarray(c_ent[k], dtype=pl[k].dtype)]) for k in pl}
        vtx = {k: np.concatenate([vtx[k], c_vtx[k]]) for k in vtx}
    out: dict[str, tuple[_Bucket, np.ndarray]] = {}

    # Polylines → rings and lines.
    counts = pl["n"]
    tol = cont_tol[pl["cont"]] if len(counts) else np.zeros(0)
    pts, off = _densify(vtx["x"], vtx["y"], vtx["z"], vtx["b"], counts, pl["closed"], tol)
    ent_of_pt = np.repeat(np.arange(len(counts)), np.diff(off))
    pts = _to_wcs(pts, ent_of_pt, pl["ex"], pl["ey"], pl["ez"])
    npts = np.diff(off)
    finite = np.ones(len(counts), dtype=bool)
    if len(pts):
        bad_pt = ~np.all(np.isfinite(pts), axis=1)
        if bad_pt.any():
            finite = np.bincount(ent_of_pt[bad_pt], minlength=len(counts)) == 0
    stats["non-finite coordinates"] += int(np.count_nonzero(~finite & (npts > 0)))
    first = np.where(npts > 0, off[:-1], 0)
    lastp = np.where(npts > 0, off[1:] - 1, 0)
    span = np.ones(len(counts))
    if len(pts):
        safe = np.where(np.isfinite(pts[:, :2]), pts[:, :2], 0.0)
        has = npts > 0
        starts = off[:-1][has]
        lo, hi = np.minimum.reduceat(safe, starts, axis=0), np.maximum.reduceat(safe, starts, axis=0)
        span[has] = np.maximum((hi - lo).max(axis=1), 1e-300)
        ends_meet = np.all(np.abs(pts[first, :2] - pts[lastp, :2]) <= 1e-9 * span[:, None], axis=1)
    else:
        ends_meet = np.zeros(len(counts), dtype=bool)
    is_poly = (pl["kind"] == _POLYGON) | ((pl["kind"] == _AUTO) & (pl["closed"] | (ends_meet & (npts >= 4))))
    # Shoelace area per ring (open polylines whose ends meet are rings too).
    if len(pts):
        x, y = np.nan_to_num(pts[:, 0]), np.nan_to_num(pts[:, 1])
        nxt = np.arange(1, len(pts) + 1)
        nxt[off[1:][npts > 0] - 1] = off[:-1][npts > 0]
        cross = x * y[nxt] - x[nxt] * y
        area = np.abs(np.bincount(ent_of_pt, weights=cross, minlength=len(counts))) / 2
        seglen = np.hypot(x[nxt] - x, y[nxt] - y)
        seglen[off[1:][npts > 0] - 1] = 0.0
        length = np.bincount(ent_of_pt, weights=seglen, minlength=len(counts))
    else:
        area = length = np.zeros(len(counts))
    good_poly = is_poly & finite & (npts >= 4) & (area > 1e-12 * span * span)
    good_line = ~is_poly & finite & (npts >= 2) & (length > 0)
    stats["degenerate"] += int(np.count_nonzero(finite & ~good_poly & ~good_line))

    def attrs_of(table: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"handle": table["handle"][rows], "layer": table["layer"][rows], "etype": table["etype"][rows],
                "block": np.full(len(rows), "", dtype=object)}

    all_rings = _Bucket(pts, (off,), attrs_of(pl, np.arange(len(counts))))
    prow = np.flatnonzero(good_poly)
    ring_b = all_rings.take(prow)
    one = np.arange(len(prow) + 1, dtype=np.int64)
    polys = _Bucket(ring_b.coords, (ring_b.offs[0], one, one), ring_b.attrs)
    poly_cont = pl["cont"][prow]
    lrow = np.flatnonzero(good_line)
    lines = all_rings.take(lrow)
    line_cont = pl["cont"][lrow]

    # Ready-made geometries (hatches, splines, ellipses) from ezdxf.
    geo = T["geo"].finish()
    if len(geo["geom"]):
        gtype = shapely.get_type_id(geo["geom"])
        for kind, type_id in (("poly", 6), ("line", 1)):
            rows = np.flatnonzero(gtype == type_id)
            if not len(rows):
                continue
            _, coords, offsets = shapely.to_ragged_array(geo["geom"][rows], include_z=True)
            extra = _Bucket(np.asarray(coords, dtype=np.float64), tuple(np.asarray(o, np.int64) for o in offsets),
                            attrs_of(geo, rows))
            if kind == "poly":
                polys = _Bucket.concat([polys, extra])
                poly_cont = np.concatenate([poly_cont, geo["cont"][rows]])
            else:
                lines = _Bucket.concat([lines, extra])
                line_cont = np.concatenate([line_cont, geo["cont"][rows]])
    out["poly"] = (polys, poly_cont)
    out["line"] = (lines, line_cont)

    pt = T["pt"].finish()
    pcoords = np.column_stack([pt["x"], pt["y"], pt["z"]]) if len(pt["x"]) else np.zeros((0, 3))
    ok = np.all(np.isfinite(pcoords), axis=1)
    stats["non-finite coordinates"] += int(np.count_nonzero(~ok))
    rows = np.flatnonzero(ok)
    out["point"] = (_Bucket(pcoords[rows], (), attrs_of(pt, rows)), pt["cont"][rows])

    tx = T["txt"].finish()
    tcoords = np.column_stack([tx["x"], tx["y"], tx["z"]]) if len(tx["x"]) else np.zeros((0, 3))
    corners = _text_corners(tx, tcoords)
    tcoords = _to_wcs(tcoords, np.arange(len(tcoords)), tx["ex"], tx["ey"], tx["ez"])
    ok = np.all(np.isfinite(tcoords), axis=1) & (tx["text"] != "")
    rows = np.flatnonzero(ok)
    tattrs = attrs_of(tx, rows)
    tattrs.update({k: tx[k][rows] for k in _TEXT_ATTRS})
    tattrs.update({k: v[rows] for k, v in corners.items()})
    out["text"] = (_Bucket(tcoords[rows], (), tattrs), tx["cont"][rows])
    return out


# --------------------------------------------------------------------------------------------------------
# Blocks


def _insert_matrices(ins: dict[str, np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4×4 block→parent transforms (before the block base point) for these INSERT rows, and their OCS."""
    ax, ay, az = _ocs_axes(ins["ex"][rows], ins["ey"][rows], ins["ez"][rows])
    R = np.stack([ax, ay, az], axis=2)                              # columns are the OCS axes
    rot = np.radians(ins["rot"][rows])
    c, s = np.cos(rot), np.sin(rot)
    k = len(rows)
    RzS = np.zeros((k, 3, 3))
    RzS[:, 0, 0], RzS[:, 0, 1] = c * ins["sx"][rows], -s * ins["sy"][rows]
    RzS[:, 1, 0], RzS[:, 1, 1] = s * ins["sx"][rows], c * ins["sy"][rows]
    RzS[:, 2, 2] = ins["sz"][rows]
    M = np.zeros((k, 4, 4))
    M[:, :3, :3] = R @ RzS
    p = np.column_stack([ins["x"][rows], ins["y"][rows], ins["z"][rows]])
    M[:, :3, 3] = np.einsum("kij,kj->ki", R, p)
    M[:, 3, 3] = 1.0
    return M, R


class _Expander:
    """Flattens block references, each block built once and copied per reference."""

    def __init__(self, reg: _Registry, built: dict[str, tuple[_Bucket, np.ndarray]], ins: dict[str, np.ndarray],
                 stats: Counter, warnings: list[str], max_features: int, budget: ExplodeBudget):
        self.reg, self.stats, self.warnings, self.max_features = reg, stats, warnings, max_features
        self.budget = budget
        self.produced = [0, 0]               # entities and vertices made by copying blocks so far
        ncont = len(reg.names)
        self.own: dict[str, tuple[_Bucket, np.ndarray]] = {}
        self.own_coords = np.zeros(ncont, dtype=np.int64)
        for kind, (bucket, cont) in built.items():
            order = np.argsort(cont, kind="stable")
            bounds = np.searchsorted(cont[order], np.arange(ncont + 1))
            sorted_bucket = bucket.take(order)
            self.own[kind] = (sorted_bucket, bounds)
            first_coord = np.arange(sorted_bucket.n + 1)
            for off in reversed(sorted_bucket.offs):     # geometry → polygon → ring → coordinate
                first_coord = off[first_coord]
            self.own_coords += np.diff(first_coord[bounds])
        self.ins = ins
        child = np.fromiter((reg.lookup(b) for b in ins["block"].tolist()), dtype=np.int64, count=len(ins["block"]))
        self.child = child
        missing = child < 0
        if missing.any():
            names = sorted({str(b) for b in ins["block"][missing]})
            stats["INSERT of an undefined block"] += int(missing.sum())
            warnings.append(f"{int(missing.sum())} 个图块参照指向不存在的图块（{'、'.join(names[:5])}）/ "
                            f"{int(missing.sum())} INSERTs name undefined blocks ({', '.join(names[:5])})")
        skip = np.asarray(reg.skip, dtype=bool)
        usable = (child >= 0) & ~np.where(child >= 0, skip[np.maximum(child, 0)], False)
        self.cols = np.where(np.abs(ins["cs"]) > 0, np.maximum(ins["cols"], 1), 1)
        self.rows_ = np.where(np.abs(ins["rs"]) > 0, np.maximum(ins["rows"], 1), 1)
        self.cells = self.cols * self.rows_
        order = np.flatnonzero(usable)[np.argsort(ins["cont"][usable], kind="stable")]
        self.ins_order = order
        self.ins_bounds = np.searchsorted(ins["cont"][order], np.arange(ncont + 1))
        self.memo: dict[int, dict[str, _Bucket]] = {}
        self.file_size = (sum(bucket.n for bucket, _ in self.own.values()), int(self.own_coords.sum()))

    def charge(self, entities: int, vertices: int) -> None:
        """Count a copy about to be made; refuse the drawing (before making it) when it would pass the budget."""
        produced = [self.produced[0] + entities, self.produced[1] + vertices]
        limits = (self.file_size[0] + self.budget.entities, self.file_size[1] + self.budget.vertices)
        if produced[0] > limits[0] or produced[1] > limits[1]:
            n_file, v_file = self.file_size
            raise _fail(f"展开图块将产生至少 {produced[0]:,} 个图元、{produced[1]:,} 个顶点，超过上限：文件本身的 "
                        f"{n_file:,} 个图元、{v_file:,} 个顶点再加展开预算 {self.budget.entities:,} 个图元、"
                        f"{self.budget.vertices:,} 个顶点（RISKMAP_DXF_MAX_EXPLODED_ENTITIES、"
                        f"RISKMAP_DXF_MAX_EXPLODED_VERTICES）",
                        f"exploding the blocks would produce at least {produced[0]:,} entities and "
                        f"{produced[1]:,} vertices, over the limit of the file's own {n_file:,} entities and "
                        f"{v_file:,} vertices plus a budget of {self.budget.entities:,} entities and "
                        f"{self.budget.vertices:,} vertices (RISKMAP_DXF_MAX_EXPLODED_ENTITIES, "
                        f"RISKMAP_DXF_MAX_EXPLODED_VERTICES)")
        self.produced = produced

    def inserts_of(self, cid: int) -> np.ndarray:
        return self.ins_order[self.ins_bounds[cid]:self.ins_bounds[cid + 1]]

    def own_bucket(self, kind: str, cid: int) -> _Bucket:
        bucket, bounds = self.own[kind]
        return bucket.take(np.arange(bounds[cid], bounds[cid + 1]))

    def check(self) -> None:
        """Refuse recursive or absurdly deep nesting, and drawings that explode past the limit."""
        # block -> (features once exploded, coordinates once exploded, nesting levels below)
        known: dict[int, tuple[int, int, int]] = {}

        def count(cid: int, chain: list[int]) -> tuple[int, int, int]:
            if cid in chain:
                loop = " → ".join(self.reg.names[c] for c in chain[chain.index(cid):] + [cid])
                raise _fail(f"图块递归引用自身：{loop}", f"a block inserts itself: {loop}")
            if cid not in known:
                chain.append(cid)
                total = sum(int(self.own[k][1][cid + 1] - self.own[k][1][cid]) for k in _KINDS)
                coords, height = int(self.own_coords[cid]), 0
                rows = self.inserts_of(cid)
                for child, cells in zip(self.child[rows].tolist(), self.cells[rows].tolist(), strict=True):
                    sub, sub_coords, sub_height = count(child, chain)
                    total += sub * int(cells)
                    coords += sub_coords * int(cells)
                    height = max(height, sub_height + 1)
                    if total > self.max_features or coords > MAX_COORDINATES:
                        raise _fail(f"展开图块后图元超过上限（{self.max_features:,} 个图元、"
                                    f"{MAX_COORDINATES:,} 个坐标点）",
                                    f"more than {self.max_features:,} entities or {MAX_COORDINATES:,} "
                                    f"coordinates once blocks are exploded")
                chain.pop()
                known[cid] = (total, coords, height)
            if len(chain) + known[cid][2] > MAX_BLOCK_DEPTH:
                raise _fail(f"图块嵌套超过 {MAX_BLOCK_DEPTH} 层", f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels")
            return known[cid]

        count(_MODEL, [])

    def cell_matrices(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One transform per INSERT cell (MINSERT arrays expanded), with its INSERT row and a fid prefix."""
        ins = self.ins
        M, R = _insert_matrices(ins, rows)
        cells = self.cells[rows]
        rep = np.repeat(np.arange(len(rows)), cells)
        M = M[rep]
        handles = ins["handle"][rows]
        prefix = handles[rep]
        multi = cells > 1
        if multi.any():
            first = np.concatenate([[0], np.cumsum(cells)[:-1]])
            k = np.arange(int(cells.sum())) - np.repeat(first, cells)
            cols = self.cols[rows][rep]
            r_i, c_i = k // cols, k % cols
            rot = np.radians(ins["rot"][rows][rep])
            ox, oy = c_i * ins["cs"][rows][rep], r_i * ins["rs"][rows][rep]
            # The grid is rotated with the INSERT but not scaled, in its OCS.
            off = np.column_stack([ox * np.cos(rot) - oy * np.sin(rot), ox * np.sin(rot) + oy * np.cos(rot),
                                   np.zeros(len(k))])
            M[:, :3, 3] += np.einsum("kij,kj->ki", R[rep], off)
            m = multi[rep]
            prefix = prefix.copy()
            prefix[m] = [f"{h}[{r},{c}]" for h, r, c in zip(prefix[m].tolist(), r_i[m].tolist(), c_i[m].tolist(),
                                                           strict=True)]
        return M, rows[rep], prefix

    def expand(self, cid: int) -> dict[str, _Bucket]:
        """The content of a block in its own coordinates, nested blocks included."""
        if cid in self.memo:
            return self.memo[cid]
        parts = {kind: [self.own_bucket(kind, cid)] for kind in _KINDS}
        rows = self.inserts_of(cid)
        self._add_children(rows, parts)
        result = {kind: _Bucket.concat(p) for kind, p in parts.items()}
        self.memo[cid] = result
        return result

    def _add_children(self, rows: np.ndarray, parts: dict[str, list[_Bucket]]) -> None:
        if not len(rows):
            return
        M, cell_rows, prefix = self.cell_matrices(rows)
        child = self.child[cell_rows]
        order = np.argsort(child, kind="stable")
        bounds = np.flatnonzero(np.diff(child[order])) + 1
        for group in np.split(order, bounds):
            c = int(child[group[0]])
            sub = self.expand(c)
            base = np.asarray(self.reg.base[c])
            mats = M[group].copy()
            mats[:, :3, 3] -= np.einsum("kij,j->ki", mats[:, :3, :3], base)
            layers = self.ins["layer"][cell_rows[group]]
            self.charge(sum(b.n for b in sub.values()) * len(mats),
                        sum(len(b.coords) for b in sub.values()) * len(mats))
            for kind, bucket in sub.items():
                if bucket.n:
                    parts[kind].append(_adopt(bucket.replicate(mats), prefix[group], layers, self.reg.names[c],
                                              bucket.n))

    def model(self, layer_map: LayerMap, symbol_size: float) -> tuple[dict[str, _Bucket], _Bucket | None]:
        """Model space flattened, INSERTs of small equipment symbols (and of emergency facilities) kept as
        points."""
        parts = {kind: [self.own_bucket(kind, _MODEL)] for kind in _KINDS}
        rows = self.inserts_of(_MODEL)
        symbols = None
        if len(rows):
            roles = np.array([layer_map.role_for(str(v)) for v in self.ins["layer"][rows].tolist()], dtype=object)
            equip = np.isin(roles, list(POINT_ROLES))
            always = np.isin(roles[equip], list(ALWAYS_POINT_ROLES))
            if equip.any():
                is_symbol = np.zeros(len(rows), dtype=bool)
                eq_rows = rows[equip]
                M, cell_rows, prefix = self.cell_matrices(eq_rows)
                sym_cells = np.zeros(len(cell_rows), dtype=bool)
                for c in np.unique(self.child[eq_rows]).tolist():
                    content = self.expand(c)
                    in_c = self.child[cell_rows] == c
                    coords = np.concatenate([content[k].coords for k in ("poly", "line", "point")])
                    if not content["poly"].n or not len(coords):
                        sym_cells[in_c] = True
                        continue
                    lo, hi = coords.min(axis=0), coords.max(axis=0)
                    corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))
                    mats = M[in_c]
                    moved = np.einsum("kij,nj->kni", mats[:, :3, :3], corners)
                    size = (moved.max(axis=1) - moved.min(axis=1))[:, :2].max(axis=1)
                    sym_cells[np.flatnonzero(in_c)[size <= symbol_size]] = True
                # A hydrant, extinguisher, eyewash or exit block is a symbol whatever its drawn size.
                sym_cells |= always[np.searchsorted(eq_rows, cell_rows)]
                # An INSERT is a symbol when all of its cells are.
                per_row = np.ones(len(eq_rows), dtype=bool)
                np.logical_and.at(per_row, np.searchsorted(eq_rows, cell_rows), sym_cells)
                is_symbol[np.flatnonzero(equip)[per_row]] = True
                sel = sym_cells & per_row[np.searchsorted(eq_rows, cell_rows)]
                if sel.any():
                    symbols = self._symbol_points(M[sel], cell_rows[sel], prefix[sel])
                rows = rows[~is_symbol]
        self._add_children(rows, parts)
        return {kind: _Bucket.concat(p) for kind, p in parts.items()}, symbols

    def _symbol_points(self, M: np.ndarray, rows: np.ndarray, prefix: np.ndarray) -> _Bucket:
        ins = self.ins
        coords = M[:, :3, 3].copy()
        attrs = {"handle": prefix, "layer": ins["layer"][rows], "etype": np.full(len(rows), "INSERT", dtype=object),
                 "block": np.asarray([self.reg.names[c] for c in self.child[rows].tolist()], dtype=object)}
        return _Bucket(coords, (), attrs)


def _adopt(bucket: _Bucket, prefix: np.ndarray, layers: np.ndarray, block: str, n: int) -> _Bucket:
    """Copies of a block's content take the INSERT's fid prefix, layer (for layer-0 entities) and name."""
    a = bucket.attrs
    rep_prefix = np.repeat(prefix, n)
    a["handle"] = rep_prefix + ("/" + a["handle"])
    a["layer"] = np.where(a["layer"] == "0", np.repeat(layers, n), a["layer"])
    a["block"] = np.where(a["block"] == "", block, a["block"])
    if "owner" in a:
        a["owner"] = np.where(a["owner"] != "", rep_prefix + ("/" + a["owner"]), "")
    return bucket


# --------------------------------------------------------------------------------------------------------
# Names, roles, output


def _fid_key(fid: str) -> tuple[int, str]:
    return (len(fid), fid)


def _text_boxes(texts: _Bucket) -> np.ndarray:
    """Each text's box as a polygon, or None where it is not known: texts copied out of blocks (their handle
    carries the INSERT's prefix) keep their block's own box, which the block's transform did not move."""
    boxes = np.full(texts.n, None, dtype=object)
    a = texts.attrs
    if not texts.n or "box0x" not in a:
        return boxes
    ring = np.stack([np.column_stack([a[f"box{i}x"], a[f"box{i}y"]]) for i in range(4)], axis=1)
    from_block = np.char.find(a["handle"].astype(str), "/") >= 0
    usable = np.isfinite(ring).all(axis=(1, 2)) & ~from_block
    if usable.any():
        made = shapely.polygons(ring[usable])
        usable_idx = np.flatnonzero(usable)
        good = shapely.area(made) > 0
        boxes[usable_idx[good]] = made[good]
    return boxes


def _names_from_texts(polys: np.ndarray, roles: np.ndarray, texts: _Bucket) -> tuple[np.ndarray, list]:
    """Each text names the smallest closed shape that holds it (shapes of a known role before "other" ones); a
    shape with several texts takes the first by handle and lists them all.

    "Holds" looks at the text's box (from its height, characters, rotation and alignment): the shape must hold
    its insertion point or the whole box, and more than half of the box (the box is an estimate, so "whole" would
    refuse labels that a real font keeps inside). So a 9 m wide label whose insertion point falls on a 4 m² pump
    or the centre of a small tank names the region around it, not the symbol. Texts without a known box (those
    copied out of blocks) keep the insertion-point rule."""
    names = np.full(len(polys), None, dtype=object)
    extra: list = [None] * len(polys)
    if not len(polys) or not texts.n:
        return names, extra
    tree = shapely.STRtree(polys)
    area = shapely.area(polys)
    boxes = _text_boxes(texts)
    known = np.flatnonzero(boxes != None)  # noqa: E711 - elementwise on an object array
    t_idx, p_idx = tree.query(shapely.points(texts.coords[:, :2]), predicate="covered_by")
    if len(known):
        box_t, box_p = tree.query(boxes[known], predicate="covered_by")
        t_idx, p_idx = np.concatenate([t_idx, known[box_t]]), np.concatenate([p_idx, box_p])
        pairs = np.unique(np.column_stack([t_idx, p_idx]).astype(np.int64), axis=0)
        t_idx, p_idx = pairs[:, 0], pairs[:, 1]
        has_box = boxes[t_idx] != None  # noqa: E711
        ok = np.ones(len(t_idx), dtype=bool)
        if has_box.any():
            tb, pb = t_idx[has_box], p_idx[has_box]
            shapes = polys[pb]
            shapes = np.where(shapely.is_valid(shapes), shapes, shapely.make_valid(shapes))
            held = shapely.area(shapely.intersection(shapes, boxes[tb].astype(object)))
            ok[has_box] = held > 0.5 * shapely.area(boxes[tb].astype(object))
        t_idx, p_idx = t_idx[ok], p_idx[ok]
    if not len(t_idx):
        return names, extra
    other = (roles == "other").astype(np.int8)
    order = np.lexsort((area[p_idx], other[p_idx], t_idx))
    t_idx, p_idx = t_idx[order], p_idx[order]
    first = np.ones(len(t_idx), dtype=bool)
    first[1:] = t_idx[1:] != t_idx[:-1]
    # the best shape per text, and any others just as small (a hatch and its outline, say)
    best = np.flatnonzero(first)[np.cumsum(first) - 1]
    same = (other[p_idx] == other[p_idx[best]]) & (area[p_idx] <= area[p_idx[best]] * (1 + 1e-9))
    t_idx, p_idx = t_idx[same], p_idx[same]
    # texts in handle order (shorter hex first, so "FF" before "100"), then grouped by shape
    fids = texts.attrs["handle"].tolist()
    rank = np.empty(len(fids), dtype=np.int64)
    rank[sorted(range(len(fids)), key=lambda i: _fid_key(fids[i]))] = np.arange(len(fids))
    order = np.lexsort((rank[t_idx], p_idx))
    t_idx, p_idx = t_idx[order], p_idx[order]
    lead = np.ones(len(p_idx), dtype=bool)
    lead[1:] = p_idx[1:] != p_idx[:-1]
    strings = texts.attrs["text"]
    names[p_idx[lead]] = strings[t_idx[lead]]
    starts = np.flatnonzero(lead)
    ends = np.append(starts[1:], len(p_idx))
    for a, b in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist(), strict=True):
        extra[int(p_idx[a])] = [str(v) for v in strings[t_idx[a:b]]]
    return names, extra


def _symbol_names(symbols: _Bucket, texts: _Bucket) -> tuple[np.ndarray, list]:
    """An equipment symbol takes its name from an attribute such as NAME/名称/位号, and keeps them all."""
    names = np.full(symbols.n, None, dtype=object)
    attribs: list = [None] * symbols.n
    owners = texts.attrs["owner"]
    has_owner = np.flatnonzero(owners != "")
    if not len(has_owner):
        return names, attribs
    slot = {h: i for i, h in enumerate(symbols.attrs["handle"].tolist())}
    for t in has_owner.tolist():
        owner = str(owners[t])
        i = slot.get(owner)
        if i is None:
            # MINSERT cells are "handle[r,c]"; their attributes belong to the first cell
            i = slot.get(f"{owner}[0,0]")
        if i is None:
            continue
        tag, value = str(texts.attrs["tag"][t]), str(texts.attrs["text"][t])
        if attribs[i] is None:
            attribs[i] = {}
        attribs[i][tag] = value
        if names[i] is None and tag.casefold() in _NAME_TAGS and value:
            names[i] = value
    return names, attribs


def _assemble(model: dict[str, _Bucket], symbols: _Bucket | None, layer_map: LayerMap, stats: Counter):
    """Buckets → GeoDataFrame rows; roles, names, properties; drops what the layer map does not want."""
    import geopandas as gpd
    import pandas as pd

    layers_all = np.concatenate([model["poly"].attrs["layer"], model["line"].attrs["layer"],
                                 model["point"].attrs["layer"]]
                                + ([symbols.attrs["layer"]] if symbols is not None else []))
    uniq = sorted({str(v) for v in layers_all.tolist()})
    resolved = {layer: layer_map.resolve(layer) for layer in uniq}

    def roles_of(bucket: _Bucket) -> np.ndarray:
        if not bucket.n:
            return np.zeros(0, dtype=object)
        codes, layers = pd.factorize(bucket.attrs["layer"])
        return np.asarray([resolved[str(v)][0] for v in layers], dtype=object)[codes]

    pb, lb, ptb = (_finite_only(model[k], stats) for k in ("poly", "line", "point"))
    if symbols is not None:
        symbols = _finite_only(symbols, stats)
    polys = np.empty(pb.n, dtype=object)
    if pb.n:
        # one-part shapes straight to Polygons, the rest (hatches with islands) to MultiPolygons
        single = np.diff(pb.offs[2]) == 1
        for mask, kind in ((single, GeometryType.POLYGON), (~single, GeometryType.MULTIPOLYGON)):
            rows = np.flatnonzero(mask)
            if len(rows):
                part = pb.take(rows)
                offs = part.offs[:2] if kind == GeometryType.POLYGON else part.offs
                polys[rows] = shapely.from_ragged_array(kind, np.ascontiguousarray(part.coords[:, :2]), offs)
    lines = np.zeros(0, dtype=object)
    if lb.n:
        lines = shapely.from_ragged_array(GeometryType.LINESTRING, np.ascontiguousarray(lb.coords[:, :2]), lb.offs)
    points = shapely.points(ptb.coords[:, :2]) if ptb.n else np.zeros(0, dtype=object)

    poly_roles, line_roles, point_roles = roles_of(pb), roles_of(lb), roles_of(ptb)
    keep_poly = poly_roles != IGNORE
    texts = texts_all = _finite_only(model["text"], Counter())
    if symbols is not None and symbols.n and texts.n:
        # A symbol's attributes name the symbol, not the area around it.
        owners = {h.split("[", 1)[0] for h in symbols.attrs["handle"].tolist()}
        texts = texts.take(np.flatnonzero([o not in owners for o in texts.attrs["owner"].tolist()]))
    names, texts_in = _names_from_texts(polys[keep_poly], poly_roles[keep_poly], texts)
    poly_names = np.full(pb.n, None, dtype=object)
    poly_names[keep_poly] = names
    poly_texts: list = [None] * pb.n
    for i, t in zip(np.flatnonzero(keep_poly).tolist(), texts_in, strict=True):
        poly_texts[i] = t

    frames = []

    def add(bucket: _Bucket, geoms, roles, names_, extra, extra_key, mask) -> None:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        a = bucket.attrs
        props = [{"entity": e, "block": b} if b else {"entity": e}
                 for e, b in zip(a["etype"][rows].tolist(), a["block"][rows].tolist(), strict=True)]
        if extra is not None:
            for i, r in enumerate(rows.tolist()):
                if extra[r] is not None:
                    props[i][extra_key] = extra[r]
        frames.append({"fid": a["handle"][rows], "name": names_[rows], "role": roles[rows],
                       "layer": a["layer"][rows], "properties": props, "geometry": geoms[rows]})

    stats["ignored layer (text/annotation)"] += int(np.count_nonzero(poly_roles == IGNORE)) \
        + int(np.count_nonzero(line_roles == IGNORE)) + int(np.count_nonzero(point_roles == IGNORE))
    add(pb, polys, poly_roles, poly_names, poly_texts, "texts", keep_poly)
    add(lb, lines, line_roles, np.full(lb.n, None, dtype=object), None, "", line_roles != IGNORE)
    point_ok = np.isin(point_roles, list(POINT_ROLES))
    stats["point not on an equipment layer"] += int(np.count_nonzero((point_roles != IGNORE) & ~point_ok))
    add(ptb, points, point_roles, np.full(ptb.n, None, dtype=object), None, "", point_ok)
    if symbols is not None and symbols.n:
        s_names, s_attribs = _symbol_names(symbols, texts_all)
        add(symbols, shapely.points(symbols.coords[:, :2]), roles_of(symbols), s_names, s_attribs, "attribs",
            np.ones(symbols.n, dtype=bool))

    columns = ("fid", "name", "role", "layer", "properties", "geometry")
    if frames:
        data = {c: np.concatenate([np.asarray(f[c], dtype=object) if c != "properties"
                                   else _obj(f[c]) for f in frames]) for c in columns}
    else:
        data = {c: np.zeros(0, dtype=object) for c in columns}
    geometry = data.pop("geometry")
    data["fid"] = _unique_fids(pd.Series(data["fid"], dtype=str))
    data["name"] = pd.Series(data["name"], dtype=object)       # None for unnamed, not NaN
    gdf = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry), crs=None)
    matched = [layer for layer, (_, hit) in resolved.items() if hit]
    return gdf, uniq, matched


def _finite_only(bucket: _Bucket, stats: Counter) -> _Bucket:
    """Drop geometries with NaN or infinite coordinates (garbage numbers, absurd INSERT scales)."""
    bad = ~np.isfinite(bucket.coords).all(axis=1)
    if not bad.any():
        return bucket
    owner = np.flatnonzero(bad)
    for off in bucket.offs:                 # coordinate → ring → polygon → geometry
        owner = np.searchsorted(off, owner, side="right") - 1
    broken = np.zeros(bucket.n, dtype=bool)
    broken[owner] = True
    stats["non-finite coordinates"] += int(broken.sum())
    return bucket.take(np.flatnonzero(~broken))


def _obj(items: list) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def _unique_fids(fids):
    dup = fids.duplicated(keep="first")
    if dup.any():
        rank = fids.groupby(fids).cumcount()
        fids = fids.where(~dup, fids + "~" + rank.astype(str))
    return fids.to_numpy(dtype=object)


# --------------------------------------------------------------------------------------------------------
# Entry point


def read_dxf(path: str | Path, layer_map: LayerMap | str | Path | Mapping | None = None, *,
             max_entities: int = 2_000_000, engine: str = "auto", symbol_size_m: float = SYMBOL_SIZE_M,
             explode_budget: ExplodeBudget | None = None) -> RawLayout:
    """Read a DXF drawing into a RawLayout in the drawing's own coordinates (crs None).

    `layer_map`: a LayerMap, a `--layer-map` file, its data, or None for the built-in rules (a bad map
    file is an InputError). `max_entities` caps both the entities in the file and the features once blocks
    are exploded. `engine`: "auto" (scanner for common entities, ezdxf for the rest) or "ezdxf" (ezdxf for
    all; slower, kept as the reference). `symbol_size_m`: INSERTs on equipment layers up to this size
    become points. `explode_budget`: how much exploding blocks may add (default: the settings' defaults). Bad
    input raises LayoutImportError with a Chinese-first message.
    """
    if engine not in ("auto", "ezdxf"):
        raise ValueError(f"engine must be 'auto' or 'ezdxf', not {engine!r}")
    lmap = LayerMap.coerce(layer_map)
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(f"找不到文件 {path}", f"file not found: {path}") from None
    except OSError as exc:
        raise _fail(f"无法读取文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}") from None
    if not data.strip(b" \t\r\n\x00"):
        raise _fail(f"文件为空：{path.name}", f"empty file: {path.name}")

    warnings: list[str] = []
    budget = explode_budget or ExplodeBudget.default()
    # Garbage numbers (1e300, inf, NaN) are dropped with a count in `dropped`; numpy's warnings about them on the
    # way are noise on the user's terminal.
    with _ezdxf_log(warnings), np.errstate(all="ignore"):
        return _read(path, data, lmap, warnings, max_entities, engine, symbol_size_m, budget)


def _read(path: Path, data: bytes, lmap: LayerMap, warnings: list[str], max_entities: int, engine: str,
          symbol_size_m: float, budget: ExplodeBudget) -> RawLayout:
    stats: Counter = Counter()
    T = _tables()
    reg = _Registry()
    if data.startswith(b"AutoCAD Binary DXF"):
        doc = _ezdxf_load(None, data, warnings, path)
        units_m = _units_m(doc.header.get("$INSUNITS", 0))
        seen = _walk_ezdxf(doc, reg, T, stats, _tolerance(units_m))
        _check_count(seen, max_entities)
    else:
        header = _header_vars(data)
        text = _decode(data, header, warnings)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        _sniff(text)
        _check_complete(text, warnings)
        units_m = _units_m(header.get("$INSUNITS"))
        tol = _tolerance(units_m)
        done = False
        if engine == "auto":
            with contextlib.suppress(_Unclean):
                done = _read_scanned(text, reg, T, stats, warnings, max_entities, tol)
        if not done:
            T, reg, stats = _tables(), _Registry(), Counter()
            doc = _ezdxf_load(text, data, warnings)
            seen = _walk_ezdxf(doc, reg, T, stats, tol)
            _check_count(seen, max_entities)

    return _finish(path, T, reg, stats, warnings, lmap, units_m, max_entities, symbol_size_m, budget)


def _tolerance(units_m: float | None) -> float:
    return CHORD_TOLERANCE_M / units_m if units_m else CHORD_TOLERANCE_M


def _check_count(n: int, max_entities: int) -> None:
    if n > max_entities:
        raise _fail(f"图元数量 {n:,} 超过上限 {max_entities:,}", f"{n:,} entities exceed the limit of {max_entities:,}")


def _read_scanned(text: str, reg: _Registry, T: dict[str, _Table], stats: Counter, warnings: list[str],
                  max_entities: int, tol: float) -> bool:
    """The scanner path; False when ezdxf must read the whole file instead."""
    tags = _scan(text)
    n_entities = 0
    for name in ("BLOCKS", "ENTITIES"):
        if name in tags.sections:
            a, b = tags.sections[name]
            n_entities += int(np.count_nonzero(tags.codes[a:b] == 0))
    _check_count(n_entities, max_entities)
    keep = np.ones(tags.ntags, dtype=bool)
    for name in ("BLOCKS", "ENTITIES"):
        if name in tags.sections:
            a, b = tags.sections[name]
            keep[a:b] = _scan_entities(tags, name, reg, T, stats)
    rest = 0
    for name in ("BLOCKS", "ENTITIES"):
        if name in tags.sections:
            a, b = tags.sections[name]
            z = np.flatnonzero((tags.codes[a:b] == 0) & keep[a:b])
            names = tags.vobj[a:b][z]
            rest += int(np.count_nonzero(~np.isin(names, ("BLOCK", "ENDBLK"))))
    if not rest:
        return True
    # ezdxf reads what the scanner left: the file minus the scanned entities.
    keep[tags.ntags:] = False
    keep[tags.junk] = False
    line_mask = np.repeat(keep, 2)
    reduced = "\n".join(itertools.compress(tags.lines, line_mask.tolist())) + "\n  0\nEOF\n"
    try:
        import ezdxf

        doc = ezdxf.read(io.StringIO(reduced))
    except Exception:  # noqa: BLE001 - the whole file then goes to ezdxf, strict or recover
        return False
    _walk_ezdxf(doc, reg, T, stats, tol)
    return True


def _finish(path: Path, T, reg: _Registry, stats: Counter, warnings: list[str], lmap: LayerMap,
            units_m: float | None, max_entities: int, symbol_size_m: float, budget: ExplodeBudget) -> RawLayout:
    ins = T["ins"].finish()
    # Blocks scaled up by their INSERTs get a finer chord tolerance, so the error stays ≤ 1 cm in model space.
    base_tol = _tolerance(units_m)
    cont_tol = np.full(len(reg.names), base_tol)
    if len(ins["block"]):
        scale = np.maximum(np.abs(ins["sx"]), np.abs(ins["sy"]))
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        child = np.fromiter((reg.lookup(b) for b in ins["block"].tolist()), dtype=np.int64, count=len(scale))
        ok = child >= 0
        child, parent, scale = child[ok], ins["cont"][ok], scale[ok]
        # the largest scale at which each block reaches model space, nested inserts multiplied
        biggest = np.ones(len(reg.names))
        for _ in range(MAX_BLOCK_DEPTH + 1):
            before = biggest.copy()
            np.maximum.at(biggest, child, np.minimum(scale * biggest[parent], 1e6))
            if np.array_equal(before, biggest):
                break
        cont_tol = base_tol / biggest
    built = _build(T, cont_tol, stats)
    expander = _Expander(reg, built, ins, stats, warnings, max_entities, budget)
    expander.check()
    symbol_size = symbol_size_m / units_m if units_m else symbol_size_m
    model, symbols = expander.model(lmap, symbol_size)
    gdf, layers, matched = _assemble(model, symbols, lmap, stats)

    dropped = {k: int(v) for k, v in sorted(stats.items()) if v}
    if layers and not matched:
        shown = "、".join(layers[:30]) + ("…" if len(layers) > 30 else "")
        if not lmap.is_default:
            raise _fail(f"图层映射没有匹配任何图层（全部落入默认角色）；图纸中的图层：{shown}",
                        f"the layer map matches none of the drawing's layers: {', '.join(layers[:30])}")
        warnings.append(f"没有图层匹配默认的图层映射，全部归为“其他”；图层：{shown} / no layer matched the "
                        f"default layer map, all features are 'other'; layers: {', '.join(layers[:30])}")
    if not len(gdf):
        detail = "; ".join(f"{k}: {v}" for k, v in dropped.items())
        raise _fail(f"DXF 文件中没有可用的图元（{detail or '文件中没有图元'}）",
                    f"no usable entity in the DXF file ({detail or 'it has no entities'})")
    for key, value in dropped.items():
        if key.startswith("unsupported entity type"):
            warnings.append(f"跳过 {value} 个不支持的图元（{key.removeprefix('unsupported entity type ')}）/ "
                            f"skipped {value} {key}")
    return RawLayout(features=gdf, crs=None, source_name=path.name, source_format="dxf", warnings=warnings,
                     dropped=dropped, drawing_units_m=units_m)
