"""Writing the ledger as a workbook enterprises recognise (表B, 表C with merged Chinese headers) that riskmap
reads back losslessly (the 评估单元 and 企业信息 sheets carry what 表B/表C have no column for); and the blank
template with instructions and drop-down lists."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.drawings import feature_cell
from riskmap.ledger.fields import canonical_number, geometry_to_json
from riskmap.ledger.model import Ledger
from riskmap.ledger.xlsx_read import GEOMETRY_MARK, GEOMETRY_SHEET
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, tier_zh
from riskmap.reference import ACCIDENT_TYPES_1986, ACCIDENT_TYPES_2025, CONTROL_CLASSES, CONTROL_COLUMNS_GENERAL

SHEET_INFO = "说明"
SHEET_ENTERPRISE = "企业信息"
SHEET_UNITS = "评估单元"
SHEET_B = "表B 风险评价表"
SHEET_C = "表C 分级管控表"
SHEET_SUBSTANCES = "重大危险源物质"
SHEET_CODES = "代码表"
MAX_CELL_TEXT = 32_000
TEMPLATE_ROWS = 500

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEAD_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)

UNIT_HEADERS = ("单元编号", "单元名称", "单元类型", "上级单元编号", "关联图层要素", "几何（GeoJSON）", "权重",
                "责任部门", "责任人", "最近评估日期", "作业内容", "作业场所", "调整等级", "调整理由", "调整规则",
                "重大危险源500米内人数")
SUBSTANCE_HEADERS = ("单元编号", "物质名称", "实际存在量 q（t）", "临界量 Q（t）", "类别", "校正系数 β")
_INPUT_ORDER = ("L", "E", "C", "S", "S1", "S2", "S3", "S4", "S5")


def _text(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


_STYLE_TEXT = "riskmap 台账文本"
_STYLE_CENTRE = "riskmap 台账居中"


def _register_styles(wb: Workbook) -> None:
    """Named styles: one lookup per cell instead of hashing a border and an alignment for each."""
    from openpyxl.styles import NamedStyle

    for name, alignment in ((_STYLE_TEXT, _WRAP), (_STYLE_CENTRE, _CENTRE)):
        if name not in wb.named_styles:
            wb.add_named_style(NamedStyle(name=name, border=_BORDER, alignment=alignment))


def _put(ws, r: int, c: int, value: Any, *, style: str = "wrap"):
    """One styled cell. Empty cells are not written at all: they are half of a big ledger's cells and of its
    writing time; the sheets print with grid lines instead."""
    if value is None or value == "":
        return None
    cell = ws.cell(row=r, column=c)
    value = _text(value)
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"          # text, never a formula
    cell.style = _STYLE_CENTRE if style == "centre" else _STYLE_TEXT
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def _number(value: Any) -> Any:
    return canonical_number(value)


def _head(ws, r: int, c: int, text: str):
    cell = ws.cell(row=r, column=c, value=text)
    cell.font = _HEAD_FONT
    cell.fill = _HEAD_FILL
    cell.border = _BORDER
    cell.alignment = _CENTRE
    return cell


def _palette_fills() -> dict[Level, PatternFill]:
    try:
        from riskmap.levels import load_palette

        palette = load_palette()
        return {lv: PatternFill("solid", fgColor=palette.colour(lv).lstrip("#").upper()) for lv in Level}
    except (OSError, KeyError, ValueError):
        return {}


# --------------------------------------------------------------------------------------- header layout


def _layout_headers(ws, top: int, spec: list[tuple[str, list[str] | None]]) -> dict[str, int]:
    """Write a two-row header: plain columns merged over both rows, groups merged across their children.

    Returns {"group/child" or "name": column number}.
    """
    cols: dict[str, int] = {}
    c = 1
    for name, children in spec:
        if not children:
            _head(ws, top, c, name)
            _head(ws, top + 1, c, name)
            ws.merge_cells(start_row=top, start_column=c, end_row=top + 1, end_column=c)
            cols[name] = c
            c += 1
        else:
            _head(ws, top, c, name)
            for k, child in enumerate(children):
                _head(ws, top + 1, c + k, child)
                cols[f"{name}/{child}"] = c + k
            if len(children) > 1:
                ws.merge_cells(start_row=top, start_column=c, end_row=top, end_column=c + len(children) - 1)
            c += len(children)
    return cols


def _title(ws, text: str, width: int) -> None:
    cell = ws.cell(row=1, column=1, value=text)
    cell.font = Font(bold=True, size=14)
    cell.alignment = Alignment(horizontal="center", vertical="center")
    if width > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.row_dimensions[1].height = 26


def _titled_sheet(wb: Workbook, sheet: str, title: str, spec: list[tuple[str, list[str] | None]]):
    """A new sheet with its title across the columns of `spec` and its two header rows: (sheet, columns)."""
    ws = wb.create_sheet(sheet)
    _title(ws, title, sum(len(children) if children else 1 for _, children in spec))
    return ws, _layout_headers(ws, 2, spec)


def _widths(ws, widths: dict[int, float]) -> None:
    for c, w in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = w


def _merge_runs(ws, col: int, runs: Iterable[tuple[int, int]]) -> None:
    """Merge cells down a column. openpyxl's merge_cells checks every earlier merge and restyles the borders
    each time (quadratic); these never overlap and are already styled, so only the range is recorded."""
    for first, last in runs:
        if last > first:
            ws.merged_cells.ranges.add(CellRange(min_col=col, min_row=first, max_col=col, max_row=last))
            for r in range(first + 1, last + 1):
                ws.cell(row=r, column=col).value = None


# ------------------------------------------------------------------------------------------- sheets


def _input_keys(events: list[RiskEvent], attr: str) -> list[str]:
    seen: list[str] = []
    for ev in events:
        for key in getattr(ev, attr):
            if key not in seen:
                seen.append(key)
    ordered = [k for k in _INPUT_ORDER if k in seen]
    return ordered + sorted(k for k in seen if k not in _INPUT_ORDER)


def _enterprise_sheet(wb: Workbook, ledger: Ledger) -> None:
    ws = wb.create_sheet(SHEET_ENTERPRISE)
    _head(ws, 1, 1, "项目")
    _head(ws, 1, 2, "内容")
    ent = ledger.enterprise
    rows = [("企业名称", ent.name if ent else None)]
    if ent is not None and ent.id and ent.id != ent.name:
        rows.append(("企业编号", ent.id))
    rows += [("企业简称", ent.short_name if ent else None),
             ("监管电话", ent.supervision_phone if ent else None),
             ("举报电话", ent.report_phone if ent else None),
             ("应急电话", ent.emergency_phone if ent else None),
             ("默认评价方法", ledger.profile)]
    for r, (key, value) in enumerate(rows, start=2):
        _put(ws, r, 1, key)
        _put(ws, r, 2, value)
    _widths(ws, {1: 16, 2: 40})


def _unit_sheet(wb: Workbook, units: list[AssessmentUnit]) -> dict[str, str]:
    ws = wb.create_sheet(SHEET_UNITS)
    for c, h in enumerate(UNIT_HEADERS, start=1):
        _head(ws, 1, c, h)
    long_geometries: dict[str, str] = {}
    for r, u in enumerate(units, start=2):
        geometry = None
        if u.geometry is not None:
            geometry = json.dumps(geometry_to_json(u.geometry), ensure_ascii=False, separators=(",", ":"))
            if len(geometry) > MAX_CELL_TEXT:
                long_geometries[u.id] = geometry
                geometry = GEOMETRY_MARK
        ov = u.override
        mh = u.major_hazard or {}
        values = (u.id, u.name, u.kind.zh, u.parent_id, feature_cell(u.feature_ref, u.placements), geometry,
                  None if u.weight == 1 else _number(u.weight), u.department, u.responsible_person,
                  u.last_assessed, u.work_content, u.workplace, ov.level.zh if ov else None,
                  ov.reason if ov else None, ov.rule if ov else None,
                  _number(mh["people_500m"]) if u.major_hazard and mh.get("people_500m") is not None else None)
        for c, v in enumerate(values, start=1):
            _put(ws, r, c, v)
    ws.freeze_panes = "C2"
    _widths(ws, {1: 12, 2: 22, 3: 10, 4: 12, 5: 16, 6: 24, 7: 8, 8: 14, 9: 10, 10: 13, 11: 24, 12: 16, 13: 10,
                 14: 24, 15: 12, 16: 12})
    return long_geometries


def _substance_sheet(wb: Workbook, units: list[AssessmentUnit]) -> None:
    rows = [(u.id, s) for u in units if u.major_hazard for s in (u.major_hazard.get("substances") or [])]
    if not rows:
        return
    ws = wb.create_sheet(SHEET_SUBSTANCES)
    for c, h in enumerate(SUBSTANCE_HEADERS, start=1):
        _head(ws, 1, c, h)
    for r, (uid, s) in enumerate(rows, start=2):
        for c, v in enumerate((uid, s.get("name"), _number(s.get("q")), _number(s.get("Q")), s.get("category"),
                               _number(s.get("beta"))), start=1):
            _put(ws, r, c, v)
    _widths(ws, {1: 12, 2: 18, 3: 16, 4: 14, 5: 16, 6: 12})


def _geometry_sheet(wb: Workbook, long_geometries: dict[str, str]) -> None:
    if not long_geometries:
        return
    ws = wb.create_sheet(GEOMETRY_SHEET)
    for c, h in enumerate(("单元编号", "片段序号", "GeoJSON 片段"), start=1):
        _head(ws, 1, c, h)
    r = 2
    for uid, text in long_geometries.items():
        for k in range(0, len(text), MAX_CELL_TEXT):
            ws.cell(row=r, column=1, value=uid)
            ws.cell(row=r, column=2, value=k // MAX_CELL_TEXT + 1)
            ws.cell(row=r, column=3, value=text[k:k + MAX_CELL_TEXT])
            r += 1


def _b_spec(residual_keys: list[str], inherent_keys: list[str] | None) -> list[tuple[str, list[str] | None]]:
    spec: list[tuple[str, list[str] | None]] = [
        ("序号", None), ("单元编号", None), ("评估单元", None), ("事件编号", None), ("风险事件", None),
        ("危险有害因素", None), ("危险有害因素代码", None), ("事故类型", None), ("事故类型（GB 6441-2025）", None),
        ("原因", None), ("可能导致的后果", None), ("影响范围", None), ("位置（场所/部位/环节）", None),
        ("现有控制措施", None), ("现有措施有效性", None), ("评价方法", None),
        ("风险评价", [*residual_keys, "风险值", "风险等级"]),
    ]
    if inherent_keys is not None:
        spec.append(("固有风险评价", [*inherent_keys, "风险值", "风险等级"]))
    spec += [("直接判定", None), ("调整等级", None), ("调整理由", None), ("调整规则", None), ("应急措施", None)]
    return spec


def _level_cell(ws, r: int, c: int, level: Level | None, fills: dict[Level, PatternFill]) -> None:
    cell = _put(ws, r, c, level.zh if level else None, style="centre")
    if cell is not None and level in fills:
        cell.fill = fills[level]
        if level in (Level.MAJOR, Level.LOW):
            cell.font = Font(color="FFFFFF", bold=True)


def _shown_level(ev: RiskEvent, inherent: bool) -> Level | None:
    """What the level column shows: a level given directly, else (for events with inputs) the evaluation's."""
    if inherent:
        if ev.inherent_level is not None:
            return ev.inherent_level
        return ev.inherent.level if ev.inherent is not None and ev.inherent_inputs else None
    if ev.residual_level is not None:
        return ev.residual_level
    return ev.residual.level if ev.residual is not None and ev.inputs else None


def _sheet_b(wb: Workbook, units: list[AssessmentUnit], fills: dict[Level, PatternFill]) -> None:
    events = [ev for u in units for ev in u.events]
    residual_keys = _input_keys(events, "inputs") or ["L", "E", "C"]
    has_inherent = any(ev.inherent_inputs or ev.inherent_level for ev in events)
    inherent_keys = (_input_keys(events, "inherent_inputs") or ["L", "E", "C"]) if has_inherent else None
    ws, cols = _titled_sheet(wb, SHEET_B, "安全风险评价表（表B）", _b_spec(residual_keys, inherent_keys))
    r = 4                         # one row per event, below the title and the two header rows
    for unit in units:
        first = r
        for ev in unit.events:
            _put(ws, r, cols["序号"], r - 3, style="centre")
            if r == first:
                _put(ws, r, cols["单元编号"], unit.id)
                _put(ws, r, cols["评估单元"], unit.name)
            for name, value in (("事件编号", ev.id), ("风险事件", ev.name), ("危险有害因素", ev.hazard_factor),
                                ("危险有害因素代码", ev.hazard_code), ("事故类型", ev.accident_type),
                                ("事故类型（GB 6441-2025）", ev.accident_type_2025), ("原因", ev.cause),
                                ("可能导致的后果", ev.consequence), ("影响范围", ev.impact_range),
                                ("位置（场所/部位/环节）", ev.location), ("现有控制措施", ev.existing_measures),
                                ("现有措施有效性", ev.measure_effectiveness), ("评价方法", ev.method),
                                ("直接判定", "、".join(ev.direct_rules) or None),
                                ("调整等级", ev.override.level.zh if ev.override else None),
                                ("调整理由", ev.override.reason if ev.override else None),
                                ("调整规则", ev.override.rule if ev.override else None),
                                ("应急措施", ev.emergency_measures)):
                _put(ws, r, cols[name], value)
            groups = [("风险评价", residual_keys, ev.inputs, ev.residual, False)]
            if inherent_keys is not None:
                groups.append(("固有风险评价", inherent_keys, ev.inherent_inputs, ev.inherent, True))
            for group, keys, inputs, evaluation, inherent in groups:
                for key in keys:
                    _put(ws, r, cols[f"{group}/{key}"], _number(inputs.get(key)), style="centre")
                score = evaluation.score if evaluation is not None and inputs else None
                _put(ws, r, cols[f"{group}/风险值"], _number(score) if score is not None else None, style="centre")
                _level_cell(ws, r, cols[f"{group}/风险等级"], _shown_level(ev, inherent), fills)
            r += 1
        for name in ("单元编号", "评估单元"):
            _merge_runs(ws, cols[name], [(first, r - 1)])
    ws.freeze_panes = ws.cell(row=4, column=cols["风险事件"])
    ws.print_options.gridLines = True
    ws.print_title_rows = "2:3"
    _widths(ws, {c: 6 if h == "序号" else (7 if "/" in h and h.split("/")[1] in _INPUT_ORDER else 16)
                 for h, c in cols.items()})


def _sheet_c(wb: Workbook, units: list[AssessmentUnit], fills: dict[Level, PatternFill]) -> None:
    spec: list[tuple[str, list[str] | None]] = [
        ("序号", None), ("单元编号", None), ("评估单元", None), ("事件编号", None), ("风险事件", None),
        ("危险有害因素", None), ("事故类型", None), ("风险等级", None),
        ("管控措施", ["措施内容", "措施类别", "管控层级", "责任部门", "责任人"]),
    ]
    ws, cols = _titled_sheet(wb, SHEET_C, "安全风险分级管控表（表C）", spec)
    r = 4
    seq = 0
    for unit in units:
        unit_first = r
        for ev in unit.events:
            seq += 1
            first = r
            for control in ev.controls or [None]:
                if r == first:                     # merged down the event's rows below
                    if r == unit_first:
                        _put(ws, r, cols["单元编号"], unit.id)
                        _put(ws, r, cols["评估单元"], unit.name)
                    _put(ws, r, cols["序号"], seq, style="centre")
                    _put(ws, r, cols["事件编号"], ev.id)
                    _put(ws, r, cols["风险事件"], ev.name)
                    _put(ws, r, cols["危险有害因素"], ev.hazard_factor)
                    _put(ws, r, cols["事故类型"], ev.accident_type)
                    _level_cell(ws, r, cols["风险等级"], ev.level(), fills)
                values = (control.description, control.cls, tier_zh(control.tier), control.department, control.person) \
                    if control is not None else (None,) * 5
                for child, v in zip(("措施内容", "措施类别", "管控层级", "责任部门", "责任人"), values, strict=True):
                    _put(ws, r, cols[f"管控措施/{child}"], v)
                r += 1
            for name in ("序号", "事件编号", "风险事件", "危险有害因素", "事故类型", "风险等级"):
                _merge_runs(ws, cols[name], [(first, r - 1)])
        for name in ("单元编号", "评估单元"):
            _merge_runs(ws, cols[name], [(unit_first, r - 1)])
    ws.freeze_panes = ws.cell(row=4, column=cols["风险事件"])
    ws.print_options.gridLines = True
    ws.print_title_rows = "2:3"
    _widths(ws, {1: 6, 2: 12, 3: 18, 4: 12, 5: 22, 6: 22, 7: 14, 8: 10, 9: 40, 10: 12, 11: 14, 12: 14, 13: 10})


def write_ledger_excel(ledger: Ledger, path: str | os.PathLike) -> None:
    """The ledger as a workbook: 企业信息, 评估单元, 表B, 表C (and 重大危险源物质 when any); reading it back with
    `read_ledger_excel` gives the same JSON form."""
    wb = Workbook()
    _register_styles(wb)
    info = wb.active
    info.title = SHEET_INFO
    info["A1"] = ("本工作簿由 riskmap 导出：表B 为风险评价表，表C 为分级管控表；“评估单元”表保存单元树"
                  "（编号、上级、图层要素等），修改后可直接重新导入。")
    info["A1"].alignment = _WRAP
    info.column_dimensions["A"].width = 100
    fills = _palette_fills()
    _enterprise_sheet(wb, ledger)
    long_geometries = _unit_sheet(wb, ledger.units)
    _sheet_b(wb, ledger.units, fills)
    _sheet_c(wb, ledger.units, fills)
    _substance_sheet(wb, ledger.units)
    _geometry_sheet(wb, long_geometries)
    wb.save(Path(path))


# ------------------------------------------------------------------------------------------ template


def _profile_values(name: str, key: str) -> list[str]:
    from riskmap.criteria import format_decimal, load_profile

    profile = load_profile(name)
    for spec in profile.inputs:
        if spec.key == key:
            return [format_decimal(v) for v in spec.values]
    return []


def template_lists() -> dict[str, list[str]]:
    """The drop-down lists of the template, by title (also written to its 代码表 sheet)."""
    from riskmap.criteria import CATEGORY_ZH, DIRECT_RULES, list_profiles
    from riskmap.levels import load_palette

    accident = list(ACCIDENT_TYPES_1986) + [a for a in ACCIDENT_TYPES_2025 if a not in ACCIDENT_TYPES_1986]
    lec_l = _profile_values("lec", "L")
    ls_l = _profile_values("ls", "L")
    l_values = sorted(set(lec_l) | set(ls_l), key=lambda v: -float(v))
    tiers = [t["zh"] for t in load_palette().control_tiers.values()]
    classes = [f"{k} {v}" for k, v in CONTROL_CLASSES.items()] + list(CONTROL_COLUMNS_GENERAL)
    return {
        "风险等级": [lv.zh for lv in LEVELS_HIGH_TO_LOW],
        "事故类型（GB 6441-1986 与 2025）": accident,
        "事故类型 GB 6441-1986": list(ACCIDENT_TYPES_1986),
        "事故类型 GB 6441-2025": list(ACCIDENT_TYPES_2025),
        "评价方法": list_profiles(),
        "单元类型": [k.zh for k in UnitKind],
        "L 可能性": l_values,
        "E 暴露频繁程度": _profile_values("lec", "E"),
        "C 后果": _profile_values("lec", "C"),
        "S 严重性（LS）": _profile_values("ls", "S"),
        "直接判定": [r.get("short_zh") or name for name, r in DIRECT_RULES.items()],
        "管控层级": tiers,
        "措施类别": classes,
        "物质类别": [f"{k}" for k in CATEGORY_ZH],
    }


_INSTRUCTIONS = """风险分级管控台账模板（riskmap）

本工作簿用于填写企业的安全风险分级管控台账，填好后用 `riskmap import-ledger 文件.xlsx` 导入。导入时逐格校验，
所有错误一次列出（工作表、行号、列名、原因），有错误时不导入任何内容（加 --skip-bad 可跳过有错的行）。

一、各工作表
1. 企业信息：企业名称、监管电话、举报电话、应急电话、默认评价方法（lec / lec-upper-inclusive / ls，
   或自定义准则配置名）。
2. 评估单元：单元树，一行一个单元。单元编号唯一；上级单元编号填上级单元的编号（主单元留空）；
   单元类型：主单元、分单元、子单元、岗位、设备设施、作业活动；关联图层要素填平面图中区域、建筑或设备的编号
   或名称（没有时按上级单元定位）；权重用于区域综合加权（如暴露人数，默认 1）；最近评估日期格式 2025-03-01；
   调整等级与调整理由用于直接指定单元等级（须写明理由）；涉及重大危险源的单元填写 500 米内人数，
   物质填在“重大危险源物质”表。
3. 表B 风险评价表：一行一个风险事件。单元编号须在“评估单元”表中（也可只填评估单元名称，须唯一）。
   事故类型按 GB 6441-1986 或 GB 6441-2025 填写，多个用顿号分隔（如 火灾、其他爆炸），导入时保留原值并对应到
   2025 版。评价方法留空时用企业默认方法。
   LEC 法：D = L × E × C；L ∈ {10, 6, 3, 1, 0.5, 0.2, 0.1}，E ∈ {10, 6, 3, 2, 1, 0.5}，C ∈ {100, 40, 15, 7, 3, 1}；
   D > 320（含边界时取高档）重大风险，160–320 较大风险，70–160 一般风险，70 以下低风险。
   LS 法（风险矩阵）：R = L × S，L、S 取 1–5；R 20–25 重大，15–19 较大，9–14 一般，1–8 低。
   风险值与风险等级可不填，导入时计算；若填写，须与 L、E、C（或 L、S）的计算结果一致，否则报错。
   “固有风险评价”为不考虑现有措施时的评价，可不填。直接判定填规则名（可多项），命中即判为重大风险并记录原因。
4. 表C 分级管控表：一行一条管控措施；同一风险事件有多条措施时，可将事件各列合并单元格或在下一行只填措施列。
   管控层级：公司(厂)级、部门(车间)级、班组级、岗位级。措施类别可填 1-1 工艺控制 等代码或
   工程技术、管理、培训教育、个体防护、应急处置。
5. 重大危险源物质：单元编号、物质名称、实际存在量 q（t）、临界量 Q（t）、类别（见代码表）或校正系数 β。
6. 代码表：各下拉列表的取值。

二、常见问题
- 合并单元格可以使用：合并的“序号”“评估单元”等单元格会按合并范围向下填充。
- 列的顺序可以调整，常见的列名写法都能识别（如 风险点 / 评估单元；危险有害因素 / 危险源；可能性 / L）。
- 公式单元格读取 Excel 保存时的计算结果；若文件未经 Excel 保存过，请填写数值。
- 低风险为蓝色（不是绿色）。
"""


def _add_list_validation(ws, codes_ws, codes_col: int, n: int, target: str, *, strict: bool = True,
                         title: str = "") -> DataValidation:
    letter = get_column_letter(codes_col)
    dv = DataValidation(type="list", formula1=f"'{codes_ws.title}'!${letter}$2:${letter}${n + 1}",
                        allow_blank=True, showDropDown=False)
    dv.errorStyle = "stop" if strict else "warning"
    dv.error = f"请从下拉列表中选择{title} / choose a value from the list"
    dv.errorTitle = "取值不在列表中"
    dv.promptTitle = title
    dv.prompt = "从下拉列表中选择"
    dv.showErrorMessage = True
    dv.showInputMessage = bool(title)
    ws.add_data_validation(dv)
    dv.add(target)
    return dv


def write_template(path: str | os.PathLike) -> None:
    """A blank ledger workbook: 说明 (instructions), the sheets to fill, and drop-down lists of the allowed
    values (levels, accident types of both GB 6441 lists, methods, unit kinds, L/E/C/S values)."""
    wb = Workbook()
    _register_styles(wb)
    info = wb.active
    info.title = SHEET_INFO
    for r, line in enumerate(_INSTRUCTIONS.splitlines(), start=1):
        info.cell(row=r, column=1, value=line)
    info["A1"].font = Font(bold=True, size=14)
    info.column_dimensions["A"].width = 120

    empty = Ledger(units=[], enterprise=None)
    _enterprise_sheet(wb, empty)
    _unit_sheet(wb, [])
    fills: dict[Level, PatternFill] = {}
    every_input = ["L", "E", "C", "S"]
    ws_b, cols_b = _titled_sheet(wb, SHEET_B, "安全风险评价表（表B）", _b_spec(every_input, every_input))
    ws_b.freeze_panes = "F4"
    _sheet_c(wb, [], fills)
    ws_c = wb[SHEET_C]
    sub = wb.create_sheet(SHEET_SUBSTANCES)
    for c, h in enumerate(SUBSTANCE_HEADERS, start=1):
        _head(sub, 1, c, h)

    codes = wb.create_sheet(SHEET_CODES)
    lists = template_lists()
    where: dict[str, tuple[int, int]] = {}
    for c, (title, values) in enumerate(lists.items(), start=1):
        _head(codes, 1, c, title)
        for r, v in enumerate(values, start=2):
            codes.cell(row=r, column=c, value=v)
        codes.column_dimensions[get_column_letter(c)].width = max(12, len(title) * 2)
        where[title] = (c, len(values))

    last_b = 3 + TEMPLATE_ROWS

    def col_range(ws, col: int, first: int, last: int) -> str:
        letter = get_column_letter(col)
        return f"{letter}{first}:{letter}{last}"

    def lst(ws, title: str, target: str, strict: bool = True) -> None:
        c, n = where[title]
        _add_list_validation(ws, codes, c, n, target, strict=strict, title=title)

    units_ws = wb[SHEET_UNITS]
    lst(units_ws, "单元类型", f"C2:C{TEMPLATE_ROWS + 1}")
    lst(units_ws, "风险等级", f"M2:M{TEMPLATE_ROWS + 1}")
    date_dv = DataValidation(type="date", operator="greaterThan", formula1="DATE(1990,1,1)", allow_blank=True)
    date_dv.error = "日期格式如 2025-03-01 / a date such as 2025-03-01"
    date_dv.showErrorMessage = True
    units_ws.add_data_validation(date_dv)
    date_dv.add(f"J2:J{TEMPLATE_ROWS + 1}")
    for col_letter in ("G", "P"):
        num = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
        num.error = "应为不小于 0 的数 / a number ≥ 0"
        num.showErrorMessage = True
        units_ws.add_data_validation(num)
        num.add(f"{col_letter}2:{col_letter}{TEMPLATE_ROWS + 1}")

    lst(ws_b, "事故类型（GB 6441-1986 与 2025）", col_range(ws_b, cols_b["事故类型"], 4, last_b), strict=False)
    lst(ws_b, "评价方法", col_range(ws_b, cols_b["评价方法"], 4, last_b), strict=False)
    lst(ws_b, "直接判定", col_range(ws_b, cols_b["直接判定"], 4, last_b), strict=False)
    lst(ws_b, "风险等级", col_range(ws_b, cols_b["调整等级"], 4, last_b))
    for group in ("风险评价", "固有风险评价"):
        lst(ws_b, "L 可能性", col_range(ws_b, cols_b[f"{group}/L"], 4, last_b))
        lst(ws_b, "E 暴露频繁程度", col_range(ws_b, cols_b[f"{group}/E"], 4, last_b))
        lst(ws_b, "C 后果", col_range(ws_b, cols_b[f"{group}/C"], 4, last_b))
        lst(ws_b, "S 严重性（LS）", col_range(ws_b, cols_b[f"{group}/S"], 4, last_b))
        lst(ws_b, "风险等级", col_range(ws_b, cols_b[f"{group}/风险等级"], 4, last_b))
        cl, ce, cc, cs = (get_column_letter(cols_b[f"{group}/{k}"]) for k in ("L", "E", "C", "S"))
        cd = cols_b[f"{group}/风险值"]
        for r in range(4, last_b + 1):
            ws_b.cell(row=r, column=cd, value=(
                f'=IF(COUNT({cl}{r},{ce}{r},{cc}{r})=3,{cl}{r}*{ce}{r}*{cc}{r},'
                f'IF(COUNT({cl}{r},{cs}{r})=2,{cl}{r}*{cs}{r},""))'))
    _widths(ws_b, {c: 6 if h == "序号" else (7 if "/" in h and h.split("/")[1] in _INPUT_ORDER else 16)
                   for h, c in cols_b.items()})

    last_c = 3 + TEMPLATE_ROWS
    lst(ws_c, "事故类型（GB 6441-1986 与 2025）", f"G4:G{last_c}", strict=False)
    lst(ws_c, "风险等级", f"H4:H{last_c}")
    lst(ws_c, "措施类别", f"J4:J{last_c}", strict=False)
    lst(ws_c, "管控层级", f"K4:K{last_c}", strict=False)
    lst(sub, "物质类别", f"E2:E{TEMPLATE_ROWS + 1}", strict=False)
    wb.save(Path(path))
