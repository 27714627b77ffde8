"""Reading risk ledgers from Excel workbooks: riskmap's own export (lossless) and enterprise 表B/表C.

Hostile files are refused before any XML is parsed (not a zip, zip bombs) or while it streams (too many
rows, merges or columns); see riskmap.ledger.xlsx_xml for the reader itself.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.ledger.build import build_event, build_major_hazard, build_unit
from riskmap.ledger.check import finish
from riskmap.ledger.fields import clean_text, parse_kind, parse_method
from riskmap.ledger.headers import (
    ENTERPRISE_KEYS,
    Column,
    classify_event_column,
    classify_substance_column,
    classify_unit_column,
    display,
    header_hits,
    norm,
    resolve_severity,
)
from riskmap.ledger.model import (
    DEFAULT_PROFILE,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNCOMPRESSED,
    Ledger,
    Problems,
    Where,
    fatal,
)

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_SCANNED_ROWS = 1_100_000          # rows read including empty ones (Excel's own limit is 1,048,576)
MAX_MERGED_CELLS = 5_000_000
MAX_HEADER_SCAN = 25
MAX_HEADER_DEPTH = 4
GEOMETRY_SHEET = "单元几何"
GEOMETRY_MARK = "@单元几何"

_SKIP_SHEET_WORDS = ("说明", "代码表", "填写说明", "字典", "下拉", "选项")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

EVENT_FIELDS = frozenset({
    "event_id", "name", "hazard_factor", "hazard_code", "accident_type", "cause", "consequence", "impact_range",
    "location", "method", "input", "level", "level_colour", "existing_measures", "existing_part",
    "measure_effectiveness", "emergency_measures", "direct_rules", "override_level", "override_reason",
    "override_rule",
})
CONTROL_FIELDS = frozenset({"control", "control_column", "control_class", "tier", "department", "person"})
UNIT_FIELDS = frozenset({"unit_id", "unit_name", "unit_level"})
_TEXT_EVENT = ("hazard_factor", "hazard_code", "accident_type", "cause", "consequence", "impact_range", "location",
               "existing_measures", "measure_effectiveness", "emergency_measures")


# ------------------------------------------------------------------------------------------ the grid


@dataclass
class Grid:
    """One sheet's values (1-based rows and columns) with merged cells filled from their top-left cell."""

    name: str
    rows: list[list[Any] | tuple]        # an empty tuple for a row with no values
    merges: dict[tuple[int, int], tuple[int, int, int, int]] = field(default_factory=dict)
    formula_missing: set[tuple[int, int]] = field(default_factory=set)

    @property
    def n_rows(self) -> int:
        """The number of rows read, empty ones included."""
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        """The width of the widest row."""
        return max((len(r) for r in self.rows), default=0)

    def get(self, r: int, c: int) -> Any:
        """The value at 1-based (row, column), None outside the sheet; merged cells give their top-left value."""
        if 1 <= r <= len(self.rows):
            row = self.rows[r - 1]
            if 1 <= c <= len(row):
                return row[c - 1]
        return None

    def merge(self, r: int, c: int) -> tuple[int, int, int, int] | None:
        """The merged range (first row, first column, last row, last column) holding the cell, None when not merged."""
        return self.merges.get((r, c))

    def propagated(self, r: int, c: int) -> bool:
        """Whether the cell's value was copied from a merged range's top-left cell rather than written in it."""
        m = self.merges.get((r, c))
        return m is not None and (m[0], m[1]) != (r, c)

    def formula_without_value(self, r: int, c: int) -> bool:
        """Whether the cell (or its merged range) holds a formula without a cached result: unknown, not empty."""
        m = self.merges.get((r, c))
        origin = (m[0], m[1]) if m else (r, c)
        return origin in self.formula_missing


def _guard_file(p: Path) -> None:
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise fatal(f"无法读取文件 {p.name}：{exc.strerror} / cannot read {p}") from None
    if size > MAX_FILE_BYTES:
        raise fatal(f"Excel 文件过大（{size // 2**20} MB，上限 {MAX_FILE_BYTES // 2**20} MB） / workbook too large")
    if head == _OLE_MAGIC:
        raise fatal(f"{p.name} 是旧版 .xls 或加密的工作簿，请在 Excel 中另存为 .xlsx（不加密）后导入 / legacy .xls "
                    "or encrypted workbook: save it as an unencrypted .xlsx")
    if not zipfile.is_zipfile(p):
        raise fatal(f"{p.name} 不是有效的 Excel 工作簿（.xlsx/.xlsm） / not an Excel .xlsx/.xlsm file")


def _guard_zip(zf: zipfile.ZipFile, name: str) -> None:
    infos = zf.infolist()
    if len(infos) > 20_000:
        raise fatal(f"{name} 内部文件过多，拒绝读取 / too many parts in the workbook")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
        raise fatal(f"{name} 不是 Excel 工作簿（缺少 xl/workbook.xml） / not an Excel workbook")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 2**20 and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1):
            raise fatal(f"{name} 压缩比异常（{info.filename} 解压后 {info.file_size // 2**20} MB），疑似压缩炸弹，"
                        "拒绝读取 / suspicious compression ratio (zip bomb), refused")
    if total > MAX_XLSX_UNCOMPRESSED:
        raise fatal(f"{name} 解压后过大（{total // 2**20} MB，上限 {MAX_XLSX_UNCOMPRESSED // 2**20} MB） / workbook "
                    "too large when uncompressed")


def load_grids(path: str | os.PathLike) -> list[Grid]:
    """Every worksheet of a workbook as a Grid; a LedgerError for anything that is not a sane workbook."""
    from riskmap.ledger.xlsx_xml import XlsxError, read_workbook

    p = Path(path)
    _guard_file(p)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise fatal(f"{p.name} 不是有效的 Excel 工作簿 / not a valid .xlsx file") from None

    def limit(sheet: str, what: str) -> Exception:
        if what == "merges":
            return fatal(f"工作表 “{sheet}” 合并单元格过多，拒绝读取 / too many merged cells in {sheet!r}")
        if what == "used":
            return fatal(f"工作表 “{sheet}” 超过 {MAX_ROWS} 行，拒绝读取；请拆分台账 / sheet {sheet!r} has more "
                         f"than {MAX_ROWS} rows")
        return fatal(f"工作表 “{sheet}” 行数超过上限 / sheet {sheet!r} has too many rows")

    with zf:
        _guard_zip(zf, p.name)
        try:
            sheets = read_workbook(zf, max_rows=MAX_ROWS, max_cols=MAX_COLUMNS, max_scanned=MAX_SCANNED_ROWS,
                                   on_limit=limit)
        except XlsxError as exc:
            raise fatal(f"无法读取 Excel 工作簿 {p.name}：{exc} / cannot read the workbook") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError) as exc:
            raise fatal(f"Excel 工作簿 {p.name} 已损坏（{type(exc).__name__}） / the workbook is damaged") from None
    grids = []
    for sheet in sheets:
        grid = Grid(sheet.name, sheet.rows, formula_missing=sheet.formulas_without_value)
        _apply_merges(grid, sheet.merges)
        grids.append(grid)
    return grids


def _apply_merges(grid: Grid, merges: list[tuple[int, int, int, int]]) -> None:
    n_rows = grid.n_rows
    budget = MAX_MERGED_CELLS
    for r0, c0, r1, c1 in merges:
        if r0 > n_rows or c0 > MAX_COLUMNS:
            continue
        r1, c1 = min(r1, n_rows), min(c1, MAX_COLUMNS)
        budget -= (r1 - r0 + 1) * (c1 - c0 + 1)
        if budget < 0:
            raise fatal(f"工作表 “{grid.name}” 合并单元格过多，拒绝读取 / too many merged cells in {grid.name!r}")
        value = grid.get(r0, c0)
        span = (r0, c0, r1, c1)
        for r in range(r0, r1 + 1):
            row = grid.rows[r - 1]
            if value is not None and len(row) < c1:
                if not isinstance(row, list):
                    row = grid.rows[r - 1] = list(row)
                row.extend([None] * (c1 - len(row)))
            for c in range(c0, c1 + 1):
                grid.merges[(r, c)] = span
                if value is not None and (r, c) != (r0, c0):
                    row[c - 1] = value


# ----------------------------------------------------------------------------------------- headers


def find_header(grid: Grid) -> tuple[int, int] | None:
    """(first, last) header row: the first row naming two known columns, extended over merged header rows
    and sub-header rows (L/E/C, 工程技术/管理/…) that hold no numbers."""
    start = None
    for r in range(1, min(grid.n_rows, MAX_HEADER_SCAN) + 1):
        if header_hits(grid.rows[r - 1]) >= 2:
            start = r
            break
    if start is None:
        return None
    end = start
    while True:
        grown = end
        for c in range(1, grid.n_cols + 1):
            for r in range(start, end + 1):
                m = grid.merge(r, c)
                if m and m[0] >= start:
                    grown = max(grown, m[2])
        grown = min(grown, start + MAX_HEADER_DEPTH - 1)
        nxt = grown + 1
        if grown - start + 1 < MAX_HEADER_DEPTH and nxt <= grid.n_rows:
            row = grid.rows[nxt - 1]
            own = [v for c, v in enumerate(row, start=1) if not grid.propagated(nxt, c)]
            numeric = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in own)
            # Every filled cell must read as a header: a data row whose text happens to hold two header words
            # (a unit named "C" beside a kind "主单元") is data, not a sub-header.
            filled = [v for v in own if v is not None and str(v).strip()]
            if not numeric and header_hits(own) >= 2 and header_hits(own) == len(filled):
                grown = nxt
        if grown == end:
            return start, end
        end = grown


def header_paths(grid: Grid, start: int, end: int) -> list[list[str]]:
    """Each column's header path over the header rows (merged group texts, then its own), repeats collapsed."""
    paths = []
    for c in range(1, grid.n_cols + 1):
        path: list[str] = []
        for r in range(start, end + 1):
            v = grid.get(r, c)
            text = display(v) if isinstance(v, str) else (clean_text(v) if v is not None else None)
            if text and (not path or path[-1] != text):
                path.append(text)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------- sheet readers


@dataclass
class EventGroup:
    """Rows of an events sheet that make one risk event (continuation rows add control measures)."""

    sheet: str
    first_row: int
    last_row: int
    unit_key: Any
    unit_row_path: list[tuple[str, UnitKind | None, int]]
    unit_id: str | None
    raw: dict[str, Any]
    controls: list[dict[str, Any]]
    where: Where
    unit_extra: dict[str, Any]
    explicit_name: bool
    unit_row_values: list[Any] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)


class WorkbookReader:
    """One pass over a workbook's sheets, recognised by their headers (enterprise, units, substances, events,
    geometry), into a Ledger; every problem is collected before the read fails."""

    def __init__(self, grids: list[Grid], skip_bad: bool):
        self.grids = grids
        self.skip_bad = skip_bad
        self.problems = Problems()
        self.wheres: dict[int, Where] = {}
        self.profile: str | None = None
        self.enterprise_raw: dict[str, Any] = {}
        self.enterprise_where: Where | None = None
        self.kind_given: set[int] = set()
        self.stated_scores: dict[tuple[int, str], Any] = {}
        self.profile_where: Where | None = None
        self.has_unit_sheet = False

    # -- top level --------------------------------------------------------------------------------

    def read(self) -> Ledger:
        """The Ledger; LedgerError when no unit or event sheet is found, or listing all problems unless skip_bad."""
        roles: list[tuple[Grid, str, tuple[int, int] | None, list[Column]]] = []
        for grid in self.grids:
            roles.append(self._role(grid))
        if not any(role in ("units", "events") for _, role, _, _ in roles):
            raise fatal("工作簿中未找到评估单元表或表B/表C（未识别到表头，如“评估单元/风险点”“危险有害因素”"
                        "“事故类型”） / no unit sheet or 表B/表C found (no recognisable header row)")
        for grid, role, _, _ in roles:
            if role == "enterprise":
                self._read_enterprise(grid)
        geometry_chunks = {}
        for grid, role, header, _ in roles:
            if role == "geometry":
                geometry_chunks = self._read_geometry_chunks(grid, header)
        unit_sheets = [(g, h, cols) for g, role, h, cols in roles if role == "units"]
        units: list[AssessmentUnit] = []
        self.has_unit_sheet = bool(unit_sheets)
        for grid, header, cols in unit_sheets:
            units.extend(self._read_units(grid, header, cols, geometry_chunks))
        for grid, role, header, cols in roles:
            if role == "substances":
                self._read_substances(grid, header, cols, units)
        event_sheets = [(g, h, cols) for g, role, h, cols in roles if role == "events"]
        self._read_events(event_sheets, units)
        enterprise = self._enterprise()
        ledger = Ledger(units=units, enterprise=enterprise, profile=self.profile or DEFAULT_PROFILE)
        order = {g.name: i for i, g in enumerate(self.grids)}
        return finish(ledger, self.wheres, self.problems, self.skip_bad, stated_scores=self.stated_scores,
                      profile_where=self.profile_where,
                      sort_key=lambda p: (order.get(p.sheet, -1), p.row if isinstance(p.row, int) else 0))

    def _role(self, grid: Grid) -> tuple[Grid, str, tuple[int, int] | None, list[Column]]:
        name = grid.name
        if any(w in name for w in _SKIP_SHEET_WORDS):
            return grid, "skip", None, []
        if "企业信息" in name or self._looks_like_enterprise(grid):
            return grid, "enterprise", None, []
        if GEOMETRY_SHEET in name:
            return grid, "geometry", (1, 1), []
        header = find_header(grid)
        if header is None:
            return grid, "skip", None, []
        paths = header_paths(grid, *header)
        s_cols = [classify_substance_column(i, p) if p else Column(i, "", None) for i, p in enumerate(paths)]
        s_fields = {c.field for c in s_cols}
        if {"unit_id", "q", "Q"} <= s_fields:
            return grid, "substances", header, s_cols
        e_cols = [classify_event_column(i, p) if p else Column(i, "", None) for i, p in enumerate(paths)]
        resolve_severity(e_cols)
        e_fields = {c.field for c in e_cols}
        eventish = e_fields & {"hazard_factor", "name", "accident_type", "input", "control", "control_column",
                               "event_id"}
        u_cols = [classify_unit_column(i, p) if p else Column(i, "", None) for i, p in enumerate(paths)]
        u_fields = {c.field for c in u_cols}
        if not eventish and "id" in u_fields and ("parent" in u_fields or "kind" in u_fields):
            return grid, "units", header, u_cols
        if eventish:
            return grid, "events", header, e_cols
        return grid, "skip", None, []

    @staticmethod
    def _looks_like_enterprise(grid: Grid) -> bool:
        keys = 0
        for r in range(1, min(grid.n_rows, 12) + 1):
            v = grid.get(r, 1)
            if isinstance(v, str) and norm(v) in ENTERPRISE_KEYS:
                keys += 1
        return keys >= 2 and header_hits(grid.rows[0] if grid.rows else []) < 2

    # -- enterprise -------------------------------------------------------------------------------

    def _read_enterprise(self, grid: Grid) -> None:
        for r in range(1, grid.n_rows + 1):
            key = grid.get(r, 1)
            if not isinstance(key, str) or norm(key) not in ENTERPRISE_KEYS:
                continue
            name = ENTERPRISE_KEYS[norm(key)]
            where = Where(grid.name, r, {name: display(key)})
            try:
                value = clean_text(grid.get(r, 2))
            except ValueError as exc:
                self.problems.add(where, name, str(exc))
                continue
            if name == "profile":
                if value:
                    self.profile = parse_method(value)
                    self.profile_where = where
            elif value is not None:
                self.enterprise_raw[name] = value
                self.enterprise_where = self.enterprise_where or Where(grid.name, r, {"name": "企业名称"})

    def _enterprise(self):
        from riskmap.domain import Enterprise

        raw = self.enterprise_raw
        if not raw:
            return None
        if not raw.get("name"):
            self.problems.add(self.enterprise_where, "name", "企业名称为空 / enterprise name missing")
            return None
        return Enterprise(id=raw.get("id") or raw["name"], name=raw["name"], short_name=raw.get("short_name"),
                          supervision_phone=raw.get("supervision_phone"), report_phone=raw.get("report_phone"),
                          emergency_phone=raw.get("emergency_phone"))

    # -- unit sheet -------------------------------------------------------------------------------

    def _read_geometry_chunks(self, grid: Grid, header: tuple[int, int] | None) -> dict[str, str]:
        chunks: dict[str, list[tuple[int, str]]] = {}
        if header is None:
            return {}
        for r in range(header[1] + 1, grid.n_rows + 1):
            uid, seq, text = (clean_text(grid.get(r, c)) for c in (1, 2, 3))
            if uid and text:
                order = int(seq) if seq and seq.isdigit() else r
                chunks.setdefault(uid, []).append((order, text))
        return {uid: "".join(t for _, t in sorted(parts)) for uid, parts in chunks.items()}

    def _cell(self, grid: Grid, r: int, col: Column) -> Any:
        if grid.formula_without_value(r, col.index + 1):
            field_name = col.field or ""
            if col.field == "input":
                field_name = f"{'inherent_inputs' if col.which == 'inherent' else 'inputs'}.{col.key}"
            self.problems.add(None, field_name, "公式单元格没有计算结果：请在 Excel 中打开并保存后再导入，或改填数值"
                              " / formula cell without a cached value: open and save the file in Excel, or type "
                              "the value",
                              sheet=grid.name, row=r, column=col.label)
            return None
        return grid.get(r, col.index + 1)

    def _read_units(self, grid: Grid, header: tuple[int, int], cols: list[Column],
                    geometry_chunks: dict[str, str]) -> list[AssessmentUnit]:
        units = []
        known = [c for c in cols if c.field]
        labels = {c.field: c.label for c in known}
        columns = dict(labels)
        for src, dst in (("override_level", "override.level"), ("override_reason", "override.reason"),
                         ("override_rule", "override.rule"), ("people_500m", "major_hazard.people_500m")):
            if src in labels:
                columns[dst] = labels[src]
        for r in range(header[1] + 1, grid.n_rows + 1):
            values = {c.field: self._cell(grid, r, c) for c in known}
            if all(v is None or v == "" for v in values.values()):
                continue
            raw = {k: values.get(k) for k in ("id", "name", "kind", "parent", "feature", "geometry", "weight",
                                              "department", "responsible_person", "last_assessed", "work_content",
                                              "workplace")}
            if isinstance(raw["geometry"], str) and raw["geometry"].strip() == GEOMETRY_MARK:
                raw["geometry"] = geometry_chunks.get(clean_text(raw["id"]) or "")
            ov = {k: values.get(f"override_{k}") for k in ("level", "reason", "rule")}
            if any(v not in (None, "") for v in ov.values()):
                raw["override"] = ov
            if values.get("people_500m") not in (None, ""):
                raw["major_hazard"] = {"people_500m": values["people_500m"], "substances": []}
            where = Where(grid.name, r, columns)
            unit = build_unit(raw, where, self.problems)
            self.wheres[id(unit)] = where
            units.append(unit)
        return units

    def _read_substances(self, grid: Grid, header: tuple[int, int], cols: list[Column],
                         units: list[AssessmentUnit]) -> None:
        by_id = {}
        for u in units:
            by_id.setdefault(u.id, u)
        known = [c for c in cols if c.field]
        labels = {c.field: c.label for c in known}
        columns = {f"major_hazard.substances.{k}": v for k, v in labels.items()}
        for r in range(header[1] + 1, grid.n_rows + 1):
            values = {c.field: self._cell(grid, r, c) for c in known}
            if all(v is None or v == "" for v in values.values()):
                continue
            where = Where(grid.name, r, columns)
            uid = clean_text(values.get("unit_id"))
            unit = by_id.get(uid or "")
            if unit is None:
                self.problems.add(where, "", f"单元编号 “{uid or ''}” 不在评估单元表中 / unknown unit {uid!r}",
                                  column=labels.get("unit_id", "单元编号"))
                continue
            if unit.major_hazard is None:
                self.problems.add(where, "", f"单元 {uid} 在评估单元表中没有填写重大危险源 500 米内人数 / unit {uid} "
                                  "has substances but no people_500m", column=labels.get("unit_id", "单元编号"),
                                  unit=unit)
                continue
            sub = {k: values.get(k) for k in ("name", "q", "Q", "category", "beta")}
            before = len(self.problems)
            checked = build_major_hazard({"people_500m": 0, "substances": [sub]}, where, self.problems, unit=unit)
            if checked and checked["substances"] and len(self.problems) == before:
                unit.major_hazard["substances"].append(checked["substances"][0])

    # -- event sheets -----------------------------------------------------------------------------

    def _read_events(self, sheets: list[tuple[Grid, tuple[int, int], list[Column]]],
                     units: list[AssessmentUnit]) -> None:
        primary = [s for s in sheets if any(c.field == "input" for c in s[2])
                   or "表B" in s[0].name or "评价" in s[0].name]
        if not primary and sheets:
            primary = [sheets[0]]
        secondary = [s for s in sheets if s not in primary]
        self.units = units
        self.units_by_id: dict[str, AssessmentUnit] = {}
        for u in units:
            self.units_by_id.setdefault(u.id, u)
        self.units_by_name: dict[str, list[AssessmentUnit]] = {}
        for u in units:
            self.units_by_name.setdefault(u.name, []).append(u)
        self.derived: dict[tuple, AssessmentUnit] = {}
        self.derived_children: dict[str | None, int] = {}
        for grid, header, cols in primary:
            for group in self._groups(grid, header, cols, create_units=not self.has_unit_sheet):
                unit = self._unit_for(group, create=not self.has_unit_sheet)
                if unit is None:
                    continue
                ev = self._event(group, cols)
                unit.events.append(ev)
                self._apply_unit_extra(unit, group)
        for grid, header, cols in secondary:
            matched: set[int] = set()
            for group in self._groups(grid, header, cols, create_units=False):
                unit = self._unit_for(group, create=False)
                if unit is None:
                    continue
                ev = self._event(group, cols)
                target = self._match(unit, ev, group, matched)
                if target is None:
                    self.problems.add(group.where, "", "在表B中找不到对应的风险事件（按单元、事件编号或危险有害因素"
                                      "匹配） / no matching event in the assessment sheet",
                                      column=self._anchor_label(cols), event=ev)
                    continue
                matched.add(id(target))
                self._merge_into(target, ev)
        if not self.has_unit_sheet:
            self._generate_event_ids()

    def _anchor_label(self, cols: list[Column]) -> str:
        for f in ("event_id", "name", "hazard_factor"):
            for c in cols:
                if c.field == f:
                    return c.label
        return ""

    def _groups(self, grid: Grid, header: tuple[int, int], cols: list[Column], create_units: bool):
        known = [c for c in cols if c.field and c.field not in ("seq", "ignored", "score")]
        unit_cols = sorted([c for c in known if c.field in UNIT_FIELDS],
                           key=lambda c: (c.order if c.field == "unit_level" else (4 if c.field == "unit_name" else 9),
                                          c.index))
        event_cols = [c for c in known if c.field in EVENT_FIELDS]
        anchor = None
        for f in ("event_id", "name", "hazard_factor"):
            anchor = anchor or next((c for c in cols if c.field == f), None)
        columns = self._where_columns(cols)
        if not unit_cols:
            self.problems.add(None, "", "该表没有评估单元列（评估单元/风险点/单元编号），无法确定风险事件所属单元"
                              " / the sheet has no unit column", sheet=grid.name, row=header[0], column="")
            return
        prev: EventGroup | None = None
        prev_unit_values: list[Any] | None = None
        for r in range(header[1] + 1, grid.n_rows + 1):
            row = grid.rows[r - 1]
            if not row or self._section_row(grid, r):
                continue
            any_content = any(grid.get(r, c.index + 1) not in (None, "") for c in known
                              if c.field not in UNIT_FIELDS)
            unit_values = [self._cell(grid, r, c) for c in unit_cols]
            if all(v in (None, "") for v in unit_values):
                if not any_content:
                    continue
                unit_values = prev_unit_values or unit_values       # blank unit cells mean "as above"
            if not any_content:
                if any(v not in (None, "") and not grid.propagated(r, c.index + 1)
                       for v, c in zip(unit_values, unit_cols, strict=True)) and create_units:
                    self._unit_for(self._new_group(grid, r, cols, unit_cols, unit_values, columns), create=True)
                prev_unit_values = unit_values
                continue
            prev_unit_values = unit_values
            if prev is not None and self._continues(grid, r, prev, anchor, event_cols, cols, unit_values):
                prev.controls.extend(self._controls(grid, r, cols))
                prev.last_row = r
                continue
            group = self._new_group(grid, r, cols, unit_cols, unit_values, columns)
            if prev is not None:
                yield prev
            prev = group
        if prev is not None:
            yield prev

    @staticmethod
    def _section_row(grid: Grid, r: int) -> bool:
        """A heading row (一、储运系统) merged across the table: not data."""
        row = grid.rows[r - 1]
        spans = {grid.merge(r, c) for c, v in enumerate(row, start=1) if v not in (None, "")}
        if len(spans) != 1:
            return False
        span = next(iter(spans))
        return span is not None and span[3] - span[1] >= 2 and span[0] == span[2]

    def _continues(self, grid: Grid, r: int, prev: EventGroup, anchor: Column | None, event_cols: list[Column],
                   cols: list[Column], unit_values: list[Any]) -> bool:
        if prev.unit_row_values != unit_values:
            return False
        all_blank = True
        for c in event_cols:
            v = grid.get(r, c.index + 1)
            if v in (None, ""):
                continue
            all_blank = False
            m = grid.merge(r, c.index + 1)
            if m is None or m[0] > prev.last_row:
                return False
        if all_blank:
            return bool(self._controls(grid, r, cols))
        if anchor is None:
            return False
        m = grid.merge(r, anchor.index + 1)
        return m is not None and m[0] <= prev.last_row < r <= m[2]

    def _where_columns(self, cols: list[Column]) -> dict[str, str]:
        out: dict[str, str] = {}
        simple = {"event_id": "id", "name": "name", "method": "method", "direct_rules": "direct_rules",
                  "override_level": "override.level", "override_reason": "override.reason",
                  "override_rule": "override.rule", "control": "controls.description",
                  "control_class": "controls.class", "tier": "controls.tier", "department": "controls.department",
                  "person": "controls.person", "unit_kind": "unit.kind", "last_assessed": "unit.last_assessed"}
        for c in cols:
            if c.field is None:
                continue
            if c.field in _TEXT_EVENT:
                out.setdefault(c.field, c.label)
            elif c.field in simple:
                out.setdefault(simple[c.field], c.label)
            elif c.field == "input":
                prefix = "inherent_inputs" if c.which == "inherent" else "inputs"
                out.setdefault(f"{prefix}.{c.key}", c.label)
                out.setdefault(prefix, c.label.rsplit("/", 1)[0])
            elif c.field in ("level", "level_colour"):
                out.setdefault("inherent_level" if c.which == "inherent" else "level", c.label)
            elif c.field == "score":
                out.setdefault("inherent_score" if c.which == "inherent" else "score", c.label)
            elif c.field == "existing_part":
                out.setdefault("existing_measures", c.label)
            elif c.field == "unit_id":
                out["unit"] = c.label            # problems about the unit point at its id when there is one
            elif c.field in UNIT_FIELDS and "unit" not in out:
                out["unit"] = c.label
        return out

    def _new_group(self, grid: Grid, r: int, cols: list[Column], unit_cols: list[Column],  # noqa: C901 — a row's cells
                   unit_values: list[Any], columns: dict[str, str]) -> EventGroup:
        where = Where(grid.name, r, columns)
        raw: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        inherent: dict[str, Any] = {}
        existing_parts: list[str] = []
        unit_extra: dict[str, Any] = {}
        explicit_name = False
        levels: dict[str, Any] = {}
        colours: dict[str, Any] = {}
        scores: dict[str, Any] = {}
        for c in cols:
            if c.field == "score" and not grid.formula_without_value(r, c.index + 1):
                v = grid.get(r, c.index + 1)
                if isinstance(v, float):
                    v = f"{v:.12g}"          # Excel caches 0.1·3·100 as 30.000000000000004
                if v not in (None, ""):
                    scores.setdefault(c.which, v)
                continue
            if c.field is None or c.field in ("seq", "ignored", "score") or c.field in UNIT_FIELDS:
                continue
            v = self._cell(grid, r, c)
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            f = c.field
            if f == "input":
                (inherent if c.which == "inherent" else inputs)[c.key] = v
            elif f == "level":
                levels.setdefault(c.which, v)
            elif f == "level_colour":
                colours.setdefault(c.which, v)
            elif f == "existing_part":
                existing_parts.append(f"{c.key}：{clean_text(v)}")
            elif f == "event_id":
                raw["id"] = v
            elif f == "name":
                raw["name"] = v
                explicit_name = True
            elif f in _TEXT_EVENT or f in ("method", "direct_rules"):
                raw.setdefault(f, v)
            elif f.startswith("override_"):
                raw.setdefault("override", {})[f.split("_", 1)[1]] = v
            elif f in ("unit_kind", "last_assessed"):
                unit_extra[f] = v
            elif f in ("department", "person"):
                unit_extra.setdefault(f, v)
        if existing_parts and "existing_measures" not in raw:
            raw["existing_measures"] = "；".join(existing_parts)
        for which, key in (("residual", "level"), ("inherent", "inherent_level")):
            value = levels.get(which, colours.get(which))
            if value is not None:
                raw[key] = value
        raw["inputs"] = inputs
        raw["inherent_inputs"] = inherent
        path = []
        unit_id = None
        for c, v in zip(unit_cols, unit_values, strict=True):
            if v in (None, ""):
                continue
            try:
                text = clean_text(v)
            except ValueError:
                text = None
            if text is None:
                continue
            if c.field == "unit_id":
                unit_id = text
            else:
                path.append((text, c.kind, c.order if c.field == "unit_level" else 4))
        group = EventGroup(sheet=grid.name, first_row=r, last_row=r, unit_key=(unit_id, tuple(path)),
                           unit_row_path=path, unit_id=unit_id, raw=raw, controls=self._controls(grid, r, cols),
                           where=where, unit_extra=unit_extra, explicit_name=explicit_name,
                           unit_row_values=unit_values, scores=scores)
        return group

    def _controls(self, grid: Grid, r: int, cols: list[Column]) -> list[dict[str, Any]]:
        row: dict[str, Any] = {}
        descs: list[dict[str, Any]] = []
        for c in cols:
            if c.field not in CONTROL_FIELDS:
                continue
            v = grid.get(r, c.index + 1)
            if v in (None, ""):
                continue
            if c.field == "control_column":
                descs.append({"description": v, "class": c.key})
            elif c.field == "control":
                descs.insert(0, {"description": v})
            else:
                row.setdefault({"control_class": "class"}.get(c.field, c.field), v)
        out = []
        for d in descs:
            item = dict(d)
            for key in ("class", "tier", "department", "person"):
                if key in row and key not in item:
                    item[key] = row[key]
            out.append(item)
        return out

    def _event(self, group: EventGroup, cols: list[Column]) -> RiskEvent:
        raw = dict(group.raw)
        raw["controls"] = group.controls
        ev = build_event(raw, group.where, self.problems)
        self.wheres[id(ev)] = group.where
        for which, value in group.scores.items():
            self.stated_scores[(id(ev), "inherent_" if which == "inherent" else "")] = value
        for p in self.problems.items:     # cell problems found before the event existed (e.g. formulas)
            if p.unit is None and p.event is None and p.sheet == group.sheet \
                    and isinstance(p.row, int) and group.first_row <= p.row <= group.last_row:
                p.event = ev
        if ev.method is None and ev.inputs:
            keys = set(ev.inputs)
            if "E" not in keys and any(k.startswith("S") for k in keys) and (self.profile or "lec") == "lec":
                ev.method = "ls"
        return ev

    def _unit_for(self, group: EventGroup, create: bool) -> AssessmentUnit | None:
        unit_label = group.where.column("unit")
        if self.has_unit_sheet:
            if group.unit_id is not None:
                unit = self.units_by_id.get(group.unit_id)
                if unit is None:
                    self.problems.add(group.where, "unit", f"单元编号 “{group.unit_id}” 不在评估单元表中 / "
                                      f"unknown unit {group.unit_id!r}", column=unit_label)
                return unit
            name = group.unit_row_path[-1][0] if group.unit_row_path else None
            found = self.units_by_name.get(name or "", [])
            if len(found) == 1:
                return found[0]
            msg = (f"评估单元 “{name}” 不在评估单元表中 / unknown unit {name!r}" if not found else
                   f"评估单元名称 “{name}” 在评估单元表中不唯一，请填写单元编号 / unit name {name!r} is ambiguous")
            self.problems.add(group.where, "unit", msg, column=unit_label)
            return None
        parent_id: str | None = None
        unit = None
        path = group.unit_row_path
        if not path and group.unit_id is not None:
            path = [(group.unit_id, None, 4)]
        key: tuple = ()
        for depth, (name, kind, _order) in enumerate(path):
            key = (*key, name)
            leaf = depth == len(path) - 1
            unit = self.derived.get(key)
            if unit is None:
                if not create:
                    self.problems.add(group.where, "unit", f"评估单元 “{'/'.join(key)}” 在表B中不存在 / unit "
                                      f"{'/'.join(key)!r} not in the assessment sheet", column=unit_label)
                    return None
                n = self.derived_children.get(parent_id, 0) + 1
                self.derived_children[parent_id] = n
                generated = f"{parent_id}-{n:02d}" if parent_id else f"U{n:02d}"
                uid = group.unit_id if leaf and group.unit_id else generated
                if kind is None:
                    kind = UnitKind.POST if leaf else (UnitKind.MAIN, UnitKind.SUB, UnitKind.SUBSUB)[min(depth, 2)]
                unit = AssessmentUnit(id=uid, name=name, kind=kind, parent_id=parent_id)
                self.derived[key] = unit
                self.units.append(unit)
                self.wheres[id(unit)] = Where(group.sheet, group.first_row, {
                    "id": group.where.column("unit"), "name": group.where.column("unit"),
                    "kind": group.where.column("unit.kind"), "last_assessed": group.where.column("unit.last_assessed")})
            elif leaf and group.unit_id and unit.id != group.unit_id:
                self.problems.add(group.where, "unit", f"同一评估单元 “{name}” 出现不同的单元编号 {unit.id} 与 "
                                  f"{group.unit_id} / unit {name!r} has two ids", column=unit_label)
            parent_id = unit.id
        return unit

    def _apply_unit_extra(self, unit: AssessmentUnit, group: EventGroup) -> None:
        if self.has_unit_sheet:
            return
        extra = group.unit_extra
        row_where = Where(group.sheet, group.first_row, group.where.columns)
        if extra.get("unit_kind") not in (None, "") and id(unit) not in self.kind_given:
            try:
                unit.kind = parse_kind(extra["unit_kind"])
                self.kind_given.add(id(unit))
            except ValueError as exc:
                self.problems.add(row_where, "unit.kind", str(exc), unit=unit)
        if extra.get("last_assessed") not in (None, "") and unit.last_assessed is None:
            from riskmap.ledger.fields import parse_date

            try:
                unit.last_assessed = parse_date(extra["last_assessed"])
            except ValueError as exc:
                self.problems.add(row_where, "unit.last_assessed", str(exc), unit=unit)
        if not group.controls:
            unit.department = unit.department or clean_text(extra.get("department"))
            unit.responsible_person = unit.responsible_person or clean_text(extra.get("person"))

    def _match(self, unit: AssessmentUnit, ev: RiskEvent, group: EventGroup, matched: set[int]) -> RiskEvent | None:
        for cand in unit.events:
            if id(cand) in matched:
                continue
            if ev.id is not None and cand.id is not None:
                if ev.id == cand.id:
                    return cand
                continue
            if ev.hazard_factor != cand.hazard_factor:
                continue
            if group.explicit_name and ev.name != cand.name:
                continue
            return cand
        return None

    def _merge_into(self, target: RiskEvent, ev: RiskEvent) -> None:
        for p in self.problems.items:
            if p.event is ev:
                p.event = target
        already = list(target.controls)      # the same measure listed in 表B and 表C counts once
        for c in ev.controls:
            if c in already:
                already.remove(c)
            else:
                target.controls.append(c)
        for key in ("hazard_code", "cause", "consequence", "impact_range", "location", "existing_measures",
                    "measure_effectiveness", "emergency_measures"):
            if getattr(target, key) is None and getattr(ev, key) is not None:
                setattr(target, key, getattr(ev, key))
        if target.accident_type is None and ev.accident_type is not None:
            target.accident_type, target.accident_type_2025 = ev.accident_type, ev.accident_type_2025

    def _generate_event_ids(self) -> None:
        used = {ev.id for u in self.units for ev in u.events if ev.id}
        for unit in self.units:
            n = 0
            for ev in unit.events:
                if ev.id is None:
                    n += 1
                    candidate = f"{unit.id}-E{n:02d}"
                    while candidate in used:
                        n += 1
                        candidate = f"{unit.id}-E{n:02d}"
                    ev.id = candidate
                    used.add(candidate)


def read_ledger_excel(path: str | os.PathLike, *, skip_bad: bool = False) -> Ledger:
    """A Ledger from a workbook: riskmap's own export (with its 评估单元 sheet) or an enterprise 表B/表C."""
    return WorkbookReader(load_grids(path), skip_bad).read()
