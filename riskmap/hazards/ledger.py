"""The hazard ledger (隐患台账) as Excel: written with the national codes as drop-downs, read back in one pass
that lists every bad cell (sheet, row, column, message) before anything is stored.

A code cell holds "code name" (e.g. "9 管控措施失效", what the drop-down offers) or the bare code; reading takes
the leading number. Reading gives the fields of new reports (riskmap.hazards.workflow.REPORT_FIELDS); the states
of exported rows are the record's and are not imported (a hazard's loop is only walked by its transitions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from riskmap.errors import LedgerError, TooLargeError
from riskmap.hazards import reference

SHEET = "隐患台账"
CODES_SHEET = "代码表"
MAX_ROWS = 20_000
# (header, field, code table or None, width); the first block is what an import reads.
INPUT_COLUMNS: list[tuple[str, str, str | None, int]] = [
    ("隐患名称*", "name", None, 30), ("隐患等级", "level", "dangerLevel", 12),
    ("重大隐患判定条目", "item", None, 18), ("隐患来源", "source", "dangerSrc", 20),
    ("隐患类型", "hazard_type", "hazardDangerType", 12), ("登记人类别", "category", "hazardCategory", 16),
    ("隐患管理分类", "management_classification", "managementClassification", 16),
    ("隐患描述", "description", None, 36), ("隐患原因", "cause", None, 24),
    ("评估单元编号", "unit_code", None, 16), ("风险事件", "risk_event_code", None, 16),
    ("管控措施序号", "control_index", None, 10), ("责任部门", "department", None, 14),
    ("经度", "lon", None, 12), ("纬度", "lat", None, 12), ("整改措施", "rectification_measures", None, 30),
    ("整改资金（元）", "cost", None, 12), ("整改责任人", "liable_person", None, 12), ("备注", "comments", None, 20),
]
OUTPUT_COLUMNS: list[tuple[str, str, int]] = [
    ("隐患编号", "id", 34), ("状态", "state_label", 14), ("治理状态 dangerState", "danger_state", 10),
    ("整改期限", "deadline", 12), ("是否逾期", "overdue", 8), ("登记人", "registrant", 12),
    ("登记时间", "registered_at", 20), ("整改人", "rectifier", 12), ("验收人", "accept_person", 12),
    ("验收时间", "accept_at", 20), ("验收意见", "accept_comment", 24),
]
_LEADING = re.compile(r"\s*(\d+)")


def _code_text(table: str, code: int | None) -> str | None:
    if code is None:
        return None
    return f"{code} {reference.codes()[table][code][0]}"


def write_ledger(hazards: Iterable[dict[str, Any]], path: Path, enterprise: str) -> int:
    """Write hazards (as riskmap.store.hazards.hazard_dict gives them) to an .xlsx ledger; how many rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    codes_ws = wb.create_sheet(CODES_SHEET)
    headers = [h for h, _, _, _ in INPUT_COLUMNS] + [h for h, _, _ in OUTPUT_COLUMNS]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = "B2"
    count = 0
    for h in hazards:
        location = h.get("location") or {}
        lon, lat = (location.get("coordinates") or [None, None])[:2] if location.get("type") == "Point" \
            else (None, None)
        record = dict(h, unit_code=h.get("unit_id"), risk_event_code=h.get("risk_event"), lon=lon, lat=lat)
        row = [_code_text(table, record.get(field)) if table else record.get(field)
               for _, field, table, _ in INPUT_COLUMNS]
        row += ["是" if record.get(f) is True else "否" if record.get(f) is False else record.get(f)
                for _, f, _ in OUTPUT_COLUMNS]
        ws.append(row)
        count += 1
    column = 1
    for table in reference.CODE_TABLES:
        options = [_code_text(table, c) for c in reference.codes()[table]]
        codes_ws.cell(1, column, table).font = Font(bold=True)
        for i, text in enumerate(options, start=2):
            codes_ws.cell(i, column, text)
        codes_ws.column_dimensions[get_column_letter(column)].width = 24
        for index, (_, _, name, _) in enumerate(INPUT_COLUMNS, start=1):
            if name == table:
                letter = get_column_letter(column)
                rule = DataValidation(type="list", formula1=f"'{CODES_SHEET}'!${letter}$2:${letter}$"
                                                             f"{len(options) + 1}", allow_blank=True)
                rule.error = "请从列表中选择 / choose from the list"
                ws.add_data_validation(rule)
                rule.add(f"{get_column_letter(index)}2:{get_column_letter(index)}{MAX_ROWS + 1}")
        column += 1
    for index, (_, _, _, width) in enumerate(INPUT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    for index, (_, _, width) in enumerate(OUTPUT_COLUMNS, start=len(INPUT_COLUMNS) + 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    wb.properties.title = f"{enterprise} 隐患台账"
    wb.save(path)
    return count


def _cell_code(table: str, value: Any) -> tuple[int | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        code = int(value)
    else:
        match = _LEADING.match(str(value))
        if not match:
            by_name = {v[0]: k for k, v in reference.codes()[table].items()}
            if str(value).strip() in by_name:
                return by_name[str(value).strip()], None
            return None, f"“{str(value)[:40]}”不是 {table} 的代码 / not a code of {table}"
        code = int(match.group(1))
    if code not in reference.codes()[table]:
        return None, f"{code} 不是 {table} 的代码 / not a code of {table}"
    return code, None


def _text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None and str(value).strip() else None


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """The rows of a ledger as report fields; LedgerError listing every bad cell, nothing partial."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise LedgerError(f"无法读取 Excel 文件：{str(exc)[:200]} / cannot read the workbook") from None
    try:
        if SHEET not in wb.sheetnames:
            raise LedgerError(f"缺少工作表“{SHEET}” / the sheet {SHEET!r} is missing")
        rows = wb[SHEET].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        where = {h: i for i, h in enumerate(header)}
        missing = [h for h, _, _, _ in INPUT_COLUMNS if h not in where]
        if missing:
            raise LedgerError(f"缺少列：{'、'.join(missing)} / missing columns", details=[
                {"sheet": SHEET, "row": 1, "column": h, "message": "缺少列 / missing column"} for h in missing])
        out, problems = [], []
        for number, raw in enumerate(rows, start=2):
            if number > MAX_ROWS + 1:
                raise TooLargeError(f"台账超过 {MAX_ROWS} 行 / the ledger has more than {MAX_ROWS} rows")
            if raw is None or all(v is None or str(v).strip() == "" for v in raw):
                continue
            row, bad = _row(raw, where)
            problems += [{"sheet": SHEET, "row": number, "column": col, "message": msg} for col, msg in bad]
            out.append(row)
    finally:
        wb.close()
    if problems:
        raise LedgerError(f"隐患台账有 {len(problems)} 处错误 / the hazard ledger has {len(problems)} problems",
                          details=problems)
    return out


def _row(raw: tuple, where: dict[str, int]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    row: dict[str, Any] = {}
    bad: list[tuple[str, str]] = []
    for header, field, table, _ in INPUT_COLUMNS:
        value = raw[where[header]] if where[header] < len(raw) else None
        if table is not None:
            code, problem = _cell_code(table, value)
            if problem:
                bad.append((header, problem))
            elif code is not None:
                row[field] = code
        elif field in ("lon", "lat", "control_index"):
            if value is not None and str(value).strip() != "":
                try:
                    row[field] = float(value) if field != "control_index" else int(str(value).strip())
                except ValueError:
                    bad.append((header, f"应为数字，而不是 “{str(value)[:40]}” / must be a number"))
        else:
            text = _text(value)
            if text is not None:
                row[field] = text
    if "name" not in row:
        bad.append(("隐患名称*", "隐患名称不能为空 / the name is required"))
    lon, lat = row.pop("lon", None), row.pop("lat", None)
    if (lon is None) != (lat is None):
        bad.append(("经度", "经度和纬度需同时填写 / give both longitude and latitude"))
    elif lon is not None:
        row["location"] = {"type": "Point", "coordinates": [lon, lat]}
    return row, bad
