"""The regulator's overview as an Excel workbook (one sheet of enterprises, one of totals): what the HTTP export and
the command line write, from rows riskmap.store.orgs.overview answers."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

LEVEL_ZH = {"major": "重大风险（红）", "significant": "较大风险（橙）", "general": "一般风险（黄）",
            "low": "低风险（蓝）", None: "无"}
COLUMNS = (
    ("name", "企业名称"), ("credit_code", "统一社会信用代码"), ("division", "行政区划"), ("park", "化工园区"),
    ("industry", "行业"), ("highest_level", "最高风险等级"), ("major_risks", "重大风险数"),
    ("significant_risks", "较大风险数"), ("open_major_hazards", "未整改重大隐患"),
    ("open_general_hazards", "未整改一般隐患"),
    ("overdue_major_hazards", "超期重大隐患"), ("overdue_general_hazards", "超期一般隐患"),
    ("inspection_completion", "近30天排查完成率"), ("listed_supervisions", "挂牌督办中"),
)
TOTALS = (("enterprises", "企业数"), ("major_risks", "重大风险数"), ("significant_risks", "较大风险数"),
          ("open_major_hazards", "未整改重大隐患"), ("open_general_hazards", "未整改一般隐患"),
          ("overdue_major_hazards", "超期重大隐患"), ("overdue_general_hazards", "超期一般隐患"),
          ("listed_supervisions", "挂牌督办中"))


def _cell(key: str, value):
    if key == "highest_level":
        return LEVEL_ZH.get(value, value)
    if key == "inspection_completion":
        return None if value is None else round(float(value) * 100, 1)
    return value


def overview_workbook(rows: Sequence[dict], totals: dict, title: str) -> bytes:
    """The workbook's bytes: sheet 企业 (one row per enterprise, COLUMNS) and sheet 汇总 (TOTALS and the count of
    enterprises per highest level)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "企业"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([zh for _, zh in COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    for row in rows:
        sheet.append([_cell(key, row.get(key)) for key, _ in COLUMNS])
    for i, (key, _) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 28 if key in ("name", "division", "credit_code") else 14
    sheet.freeze_panes = "B3"
    summary = book.create_sheet("汇总")
    summary.append([title])
    summary["A1"].font = Font(bold=True, size=14)
    for key, zh in TOTALS:
        summary.append([zh, totals.get(key, 0)])
    for level, count in totals.get("by_level", {}).items():
        summary.append([f"最高等级：{LEVEL_ZH.get(None if level == 'none' else level, level)}", count])
    summary.column_dimensions["A"].width = 30
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
