"""A streaming reader of the parts of an .xlsx that a ledger needs: cell values (with Excel's cached results
of formulas and which cells hold formulas), merged ranges and sheet names.

Why not openpyxl here: its read-only mode hides merged cells and gives either formulas or their cached values
(two passes), and it builds an object per cell; this reads each sheet once with expat callbacks. openpyxl
still writes workbooks, and its number-format helpers decide which numbers are dates.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]+)$")
# Built-in formats that are dates in East Asian locales (Excel shows them as 2025年3月1日 and so on).
_CJK_DATE_FORMATS = frozenset(range(27, 37)) | frozenset(range(50, 59))
_CHUNK = 1 << 20
_NO_ROW: tuple = ()


class XlsxError(Exception):
    """The file is not a workbook this reader understands (message is Chinese / English)."""


@dataclass
class Sheet:
    """One sheet as read: rows of values, merged ranges (first row, first column, last row, last column; 1-based) and
    the cells whose formula has no cached result."""

    name: str
    rows: list[list[Any]] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    """The tag without namespace or prefix (x:c and c alike); cached, it is asked for every element."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
        if len(_LOCAL_NAMES) < 1000:
            _LOCAL_NAMES[tag] = name
    return name


def col_number(letters: str) -> int:
    """The 1-based column number of Excel's letters: A → 1, Z → 26, AA → 27."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def cell_ref(ref: str) -> tuple[int, int]:
    """(row, column), 1-based, of a cell reference such as "B7" or "$B$7"; ValueError for anything else."""
    m = _REF.match(ref)
    if not m:
        raise ValueError(ref)
    return int(m.group(2)), col_number(m.group(1))


def _no_doctype(*_args) -> None:
    raise XlsxError("工作簿中含有 DTD 声明，拒绝读取 / DTD in a workbook part, refused")


def _parser() -> expat.XMLParserType:
    p = expat.ParserCreate()
    p.StartDoctypeDeclHandler = _no_doctype
    p.EntityDeclHandler = _no_doctype
    p.buffer_text = True
    return p


def _feed(parser, zf: zipfile.ZipFile, member: str) -> None:
    with zf.open(member) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            parser.Parse(chunk, False)
        parser.Parse(b"", True)


def _xml(zf: zipfile.ZipFile, member: str) -> ET.Element:
    from riskmap.xmlguard import DTDFound, NotWellFormed, refuse_dtd

    data = zf.read(member)
    try:
        refuse_dtd([data])              # the whole part, as decoded: a DTD after padding or in UTF-16 too
    except DTDFound:
        _no_doctype()
    except NotWellFormed as exc:
        raise XlsxError(f"工作簿部件 {member} 不是格式正确的 XML（第 {exc.line} 行） / workbook part {member} is not "
                        f"well-formed XML (line {exc.line}: {exc})") from None
    return ET.fromstring(data)


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """{Id: (Type, absolute part name)} of a part's relationships."""
    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", name + ".rels")
    if rels_name not in zf.NameToInfo:
        return {}
    out = {}
    for rel in _xml(zf, rels_name):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        full = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id", "")] = (rel.get("Type", ""), full)
    return out


def _workbook_part(zf: zipfile.ZipFile) -> str:
    for typ, target in _rels(zf, "").values():
        if typ.endswith("/officeDocument"):
            return target
    return "xl/workbook.xml"


def _shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    if not part or part not in zf.NameToInfo:
        return []
    strings: list[str] = []
    buf: list[str] = []
    state = {"t": False, "rph": 0}

    def start(tag, _attrs):
        name = _local(tag)
        if name == "si":
            buf.clear()
        elif name == "t" and not state["rph"]:
            state["t"] = True
        elif name == "rPh":
            state["rph"] += 1

    def end(tag):
        name = _local(tag)
        if name == "si":
            strings.append("".join(buf))
        elif name == "t":
            state["t"] = False
        elif name == "rPh":
            state["rph"] -= 1

    def text(data):
        if state["t"]:
            buf.append(data)

    p = _parser()
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, text
    _feed(p, zf, part)
    return strings


def _date_styles(zf: zipfile.ZipFile, part: str | None) -> set[int]:
    """Indices of the cell formats (cellXfs) that show numbers as dates."""
    if not part or part not in zf.NameToInfo:
        return set()
    root = _xml(zf, part)
    custom: dict[int, str] = {}
    xfs: list[int] = []
    for el in root:
        name = _local(el.tag)
        if name == "numFmts":
            for fmt in el:
                try:
                    custom[int(fmt.get("numFmtId", "-1"))] = fmt.get("formatCode", "")
                except ValueError:
                    continue
        elif name == "cellXfs":
            for xf in el:
                try:
                    xfs.append(int(xf.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)
    dates = set()
    for index, fmt_id in enumerate(xfs):
        code = custom.get(fmt_id, BUILTIN_FORMATS.get(fmt_id))
        if fmt_id in _CJK_DATE_FORMATS and fmt_id not in custom or (code and is_date_format(code)):
            dates.add(index)
    return dates


class _SheetHandler:
    """expat callbacks that fill a Sheet; values typed as Excel stored them."""

    def __init__(self, sheet: Sheet, strings: list[str], date_styles: set[int], epoch, max_rows: int,
                 max_cols: int, max_scanned: int, on_limit: Callable[[str], Exception]):
        self.sheet, self.strings, self.date_styles, self.epoch = sheet, strings, date_styles, epoch
        self.max_rows, self.max_cols, self.max_scanned, self.on_limit = max_rows, max_cols, max_scanned, on_limit
        self.row = 0
        self.col = 0
        self.used_rows = 0
        self.cell_type = "n"
        self.style = 0
        self.has_formula = False
        self.value_text: list[str] | None = None
        self.inline: list[str] | None = None
        self.collect: list[str] | None = None
        self.rph = 0

    def start(self, tag, attrs):
        name = _local(tag)
        if name == "c":
            ref = attrs.get("r")
            if ref:
                try:
                    r, c = cell_ref(ref)
                except ValueError:
                    r, c = self.row, self.col + 1
                self.row, self.col = r, c
            else:
                self.col += 1
            self.cell_type = attrs.get("t", "n")
            try:
                self.style = int(attrs.get("s", 0))
            except ValueError:
                self.style = 0
            self.has_formula = False
            self.value_text = None
            self.inline = None
        elif name == "v":
            self.value_text = []
            self.collect = self.value_text
        elif name == "f":
            self.has_formula = True
        elif name == "is":
            self.inline = []
        elif name == "t" and self.inline is not None and not self.rph:
            self.collect = self.inline
        elif name == "rPh":
            self.rph += 1
        elif name == "row":
            r = attrs.get("r")
            try:
                self.row = int(r) if r else self.row + 1
            except ValueError:
                self.row += 1
            self.col = 0
            if self.row > self.max_scanned:
                raise self.on_limit("rows")
        elif name == "mergeCell":
            ref = attrs.get("ref", "")
            try:
                a, _, b = ref.partition(":")
                r0, c0 = cell_ref(a)
                r1, c1 = cell_ref(b) if b else (r0, c0)
            except ValueError:
                return
            self.sheet.merges.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))
            if len(self.sheet.merges) > 200_000:
                raise self.on_limit("merges")

    def end(self, tag):
        name = _local(tag)
        if name == "c":
            self._store()
        elif name in ("v", "t"):
            self.collect = None
        elif name == "rPh":
            self.rph -= 1

    def text(self, data):
        if self.collect is not None:
            self.collect.append(data)

    def _value(self) -> Any:
        t = self.cell_type
        raw = "".join(self.value_text) if self.value_text is not None else None
        if t == "inlineStr":
            return "".join(self.inline or [])
        if raw is None or raw == "":
            return None
        if t == "s":
            try:
                return self.strings[int(raw)]
            except (ValueError, IndexError):
                return None
        if t in ("str", "e"):
            return raw
        if t == "b":
            return raw.strip() in ("1", "true")
        if t == "d":
            from datetime import datetime

            try:
                return datetime.fromisoformat(raw.strip())
            except ValueError:
                return raw
        try:
            number = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
        except ValueError:
            return raw
        if self.style in self.date_styles:
            try:
                return from_excel(number, self.epoch)
            except (ValueError, OverflowError, TypeError):
                return number
        return number

    def _store(self) -> None:
        r, c = self.row, self.col
        if c > self.max_cols or r < 1 or c < 1:
            return
        value = self._value()
        if self.has_formula and value is None:
            self.sheet.formulas_without_value.add((r, c))
        if value is None or value == "":
            return
        rows = self.sheet.rows
        if len(rows) < r:           # skipped rows share one empty tuple (a lone cell at row 1,000,000 is cheap)
            rows.extend([_NO_ROW] * (r - len(rows)))
        row = rows[r - 1]
        if not row:
            self.used_rows += 1
            if self.used_rows > self.max_rows:
                raise self.on_limit("used")
            row = rows[r - 1] = []
        if len(row) < c:
            row.extend([None] * (c - len(row)))
        row[c - 1] = value


def read_workbook(zf: zipfile.ZipFile, *, max_rows: int, max_cols: int, max_scanned: int,
                  on_limit: Callable[[str, str], Exception]) -> list[Sheet]:
    """Every worksheet (not chartsheets), in workbook order. Raises XlsxError for a broken workbook and
    whatever `on_limit(sheet_name, what)` returns when a sheet passes a limit."""
    try:
        wb_part = _workbook_part(zf)
        if wb_part not in zf.NameToInfo:
            raise XlsxError("不是 Excel 工作簿（缺少 workbook.xml） / not an Excel workbook")
        wb = _xml(zf, wb_part)
        rels = _rels(zf, wb_part)
    except (ET.ParseError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise XlsxError(f"工作簿结构损坏（{type(exc).__name__}） / the workbook structure is damaged") from None
    epoch = CALENDAR_WINDOWS_1900
    sheets_meta: list[tuple[str, str]] = []
    for el in wb.iter():
        name = _local(el.tag)
        if name == "workbookPr" and el.get("date1904", "").lower() in ("1", "true"):
            epoch = CALENDAR_MAC_1904
        elif name == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
            typ, target = rels.get(rid or "", ("", ""))
            if typ.endswith("/worksheet") and target in zf.NameToInfo:
                sheets_meta.append((el.get("name", ""), target))
    strings_part = styles_part = None
    for typ, target in rels.values():
        if typ.endswith("/sharedStrings"):
            strings_part = target
        elif typ.endswith("/styles"):
            styles_part = target
    try:
        strings = _shared_strings(zf, strings_part)
        date_styles = _date_styles(zf, styles_part)
    except (expat.ExpatError, ET.ParseError) as exc:
        raise XlsxError(f"共享字符串或样式部件损坏（{exc}） / damaged shared strings or styles") from None
    out = []
    for title, member in sheets_meta:
        sheet = Sheet(title)
        handler = _SheetHandler(sheet, strings, date_styles, epoch, max_rows, max_cols, max_scanned,
                                lambda what, t=title: on_limit(t, what))
        p = _parser()
        p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = handler.start, handler.end, handler.text
        try:
            _feed(p, zf, member)
        except expat.ExpatError as exc:
            raise XlsxError(f"工作表 “{title}” 的 XML 损坏（{expat.errors.messages.get(exc.code, exc)}） / "
                            f"sheet {title!r} has broken XML") from None
        while sheet.rows and not sheet.rows[-1]:
            sheet.rows.pop()
        out.append(sheet)
    return out
