"""The notice board (安全风险公告栏, 表D): the company's significant and major risks with every field the
publication asks for, as a PDF whose table flows over pages with its header repeated.

One row per risk event of level 较大 or 重大 (most severe first, then in ledger order): location, hazard
factors, accident type, consequence, impact range, level (a coloured cell; grey with the level's hatch in
greyscale mode), control measures, emergency measures, responsible person, validity period. The report and
supervision phones head every page; the footer says what the board was made from and when.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import skia

from riskmap.domain import RESIDUAL, AssessmentUnit, RiskEvent, UnitTree
from riskmap.errors import InputError
from riskmap.levels import Level, load_palette
from riskmap.print import fonts, output
from riskmap.print.paper import Paper, mm, paper, stamp_of
from riskmap.print.table import Cell, Table

BOARD_PAPERS = ("A2", "A3", "A4")
BOARD_LEVELS = (Level.MAJOR, Level.SIGNIFICANT)
TEXT = "#1A1A1A"
MUTED = "#555555"
COLUMNS: tuple[tuple[str, float], ...] = (
    ("序号", 0.45), ("风险点（位置）", 1.35), ("危险有害因素", 1.9), ("事故类型", 0.95), ("可能后果", 1.35),
    ("影响范围", 1.1), ("风险等级", 0.8), ("管控措施", 2.6), ("应急措施", 2.1), ("责任人", 1.1), ("有效期", 1.0),
)


@dataclass(frozen=True)
class BoardRow:
    location: str
    hazard: str
    accident: str
    consequence: str
    impact: str
    level: Level
    controls: str
    emergency: str
    responsible: str
    validity: str
    unit_id: str


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def unit_location(tree: UnitTree, unit: AssessmentUnit) -> str:
    """Where a unit is: its chain of units below the top system (e.g. 罐区·甲醇储罐T-104)."""
    chain = [a.name for a in reversed(tree.ancestors(unit.id))] + [unit.name]
    if len(chain) > 2:
        chain = chain[1:]
    return "·".join(fonts.clean(c) for c in chain if c)


def accident_text(event: RiskEvent) -> str:
    text = fonts.clean(event.accident_type)
    new = fonts.clean(event.accident_type_2025)
    if new and new != text:
        return f"{text}（GB 6441-2025：{new}）" if text else new
    return text


def controls_text(event: RiskEvent) -> str:
    items = [fonts.clean(c.description) for c in event.controls if c.description]
    if not items and event.existing_measures:
        items = [fonts.clean(event.existing_measures)]
    if len(items) == 1:
        return items[0]
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))


def responsible_text(unit: AssessmentUnit, level: Level, tiers: dict) -> str:
    who = " ".join(fonts.clean(v) for v in (unit.department, unit.responsible_person) if v)
    tier_key = load_palette().styles[level].control_tier
    tier = (tiers.get(tier_key) or {}).get("zh", "")
    return "\n".join(t for t in (who or "—", f"{tier}管控" if tier else "") if t)


def validity_text(unit: AssessmentUnit, months: int) -> str:
    if unit.last_assessed is None:
        return "未记录评估日期"
    end = add_months(unit.last_assessed, months) - (date.resolution)
    return f"{unit.last_assessed.isoformat()} 至 {end.isoformat()}"


def _numbered_controls(unit: AssessmentUnit) -> str:
    items: list[str] = []
    for ev in unit.events:
        for c in ev.controls:
            text = fonts.clean(c.description)
            if text and text not in items:
                items.append(text)
    if len(items) <= 1:
        return items[0] if items else "—"
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))


def _unit_emergency(unit: AssessmentUnit) -> str:
    items: list[str] = []
    for ev in unit.events:
        text = fonts.clean(ev.emergency_measures)
        if text and text not in items:
            items.append(text)
    return "\n".join(items) or "—"


def board_rows(plant, which: str = RESIDUAL, validity_months: int = 12) -> list[BoardRow]:
    """The board's rows: every risk event of level 重大 or 较大, most severe first, then in ledger order."""
    tree = UnitTree(plant.units)
    tiers = load_palette().control_tiers
    rows: list[tuple[int, int, BoardRow]] = []
    for unit in plant.units:
        listed = [ev.level(which) for ev in unit.events]
        top = max((lv.rank for lv in listed if lv is not None), default=0)
        if unit.override is not None and unit.override.level in BOARD_LEVELS and unit.override.level.rank > top:
            # the unit was forced to its level (e.g. 直接判定): that is a board item of its own
            ov = unit.override
            rows.append((-ov.level.rank, len(rows), BoardRow(
                location=unit_location(tree, unit), hazard=fonts.clean(ov.reason), accident="—", consequence="—",
                impact="—", level=ov.level,
                controls=_numbered_controls(unit), emergency=_unit_emergency(unit),
                responsible=responsible_text(unit, ov.level, tiers), validity=validity_text(unit, validity_months),
                unit_id=unit.id)))
        for event in unit.events:
            level = event.level(which)
            if level not in BOARD_LEVELS:
                continue
            location = fonts.clean(event.location) or unit_location(tree, unit)
            rows.append((-level.rank, len(rows), BoardRow(
                location=location,
                hazard=fonts.clean(event.hazard_factor) or fonts.clean(event.name),
                accident=accident_text(event),
                consequence=fonts.clean(event.consequence),
                impact=fonts.clean(event.impact_range),
                level=level,
                controls=controls_text(event),
                emergency=fonts.clean(event.emergency_measures),
                responsible=responsible_text(unit, level, tiers),
                validity=validity_text(unit, validity_months),
                unit_id=unit.id,
            )))
    rows.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in rows]


def level_cell(level: Level, grey: bool) -> Cell:
    """A level's cell: its colour (text in black or white, whichever reads), or its grey and hatch."""
    style = load_palette().styles[level]
    fill = style.grey if grey else style.fill
    return Cell(level.zh, fill=fill, hatch=style.hatch if grey and style.hatch else None,
                colour=readable_on(fill), align="centre", valign="middle")


def readable_on(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#FFFFFF" if luminance < 0.45 else "#000000"


def hatch_drawer(size: float) -> Callable:
    """Draw a level hatch in a table cell, with the regions layer's hatch rule."""
    from riskmap.print.mapview import draw_hatch
    from riskmap.render.style import load_layer_style

    style = load_layer_style("regions")

    def draw(canvas, path, name):
        draw_hatch(canvas, path, name, style, size / 10)

    return draw


def board_pdf(plant, *, paper_name: str = "A3", landscape: bool = True, grey: bool = False,
              which: str = RESIDUAL, validity_months: int = 12, now: datetime | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> bytes:
    """The notice board as PDF bytes."""
    if isinstance(validity_months, bool) or not isinstance(validity_months, int) or not 1 <= validity_months <= 120:
        raise InputError("有效期应为 1–120 个月 / validity must be 1–120 months")
    p = paper(paper_name, landscape, BOARD_PAPERS)
    fonts.faces()
    rows = board_rows(plant, which, validity_months)
    pages = board_pages(plant, rows, p, grey, now, progress)
    return output.pdf_bytes(pages, title=f"{plant.enterprise.name} 安全风险公告栏", subject="安全风险公告栏（表D）",
                            author=plant.enterprise.name)


def board_pages(plant, rows: list[BoardRow], p: Paper, grey: bool, now: datetime | None = None,
                progress=None) -> list[output.Page]:
    f = p.factor
    W, H = p.width, p.height
    margin = mm(10) * f
    size = 7.5 * f
    title_size = 20 * f
    stamp = stamp_of(plant, now)
    enterprise = plant.enterprise
    phones = [("举报电话", enterprise.report_phone), ("监督电话", enterprise.supervision_phone),
              ("应急电话", enterprise.emergency_phone)]
    phone_line = "　　".join(f"{k}：{fonts.clean(v) or '—'}" for k, v in phones)
    intro = (f"本公司较大及以上安全风险 {len(rows)} 项（重大风险 {sum(r.level is Level.MAJOR for r in rows)} 项、"
             f"较大风险 {sum(r.level is Level.SIGNIFICANT for r in rows)} 项），现予公告，接受全体员工和社会监督。")
    header_h = fonts.line_height(title_size, 1.3) + 2 * fonts.line_height(size * 1.15, 1.45) + mm(2) * f
    footer_h = fonts.line_height(size * 0.85, 1.8)
    table = Table([t for t, _ in COLUMNS], [w for _, w in COLUMNS], W - 2 * margin, size,
                  hatch_drawer=hatch_drawer(size))
    cells = []
    for i, r in enumerate(rows, 1):
        cells.append([Cell(str(i), align="centre", valign="middle"), Cell(r.location), Cell(r.hazard), Cell(r.accident),
                      Cell(r.consequence), Cell(r.impact), level_cell(r.level, grey), Cell(r.controls),
                      Cell(r.emergency), Cell(r.responsible), Cell(r.validity)])
    space = H - 2 * margin - header_h - footer_h
    layout = table.paginate(cells, space, space) if cells else [[]]
    total = len(layout)
    pages = []
    for n, pieces in enumerate(layout, 1):
        if progress is not None:
            progress(n - 1, total, f"第 {n} 页")
        recorder = output.PageRecorder(W, H)
        with recorder as canvas:
            canvas.drawRect(skia.Rect(0, 0, W, H), skia.Paint(Color=skia.ColorWHITE))
            y = margin
            a, _ = fonts.metrics(title_size)
            title = f"{fonts.clean(enterprise.name)}　安全风险公告栏"
            fonts.draw_text(canvas, fonts.fit_line(title, title_size, W - 2 * margin), W / 2, y + a, title_size,
                            TEXT, align="centre", bold=True)
            y += fonts.line_height(title_size, 1.3)
            sa, _ = fonts.metrics(size * 1.15)
            fonts.draw_text(canvas, fonts.fit_line(intro, size * 1.15, W - 2 * margin), margin, y + sa, size * 1.15,
                            TEXT)
            y += fonts.line_height(size * 1.15, 1.45)
            fonts.draw_text(canvas, phone_line, margin, y + sa, size * 1.15, TEXT)
            y = margin + header_h
            if cells:
                bottom = table.draw(canvas, margin, y, cells, pieces)
            else:
                bottom = table.draw(canvas, margin, y, [], [])
                ea, _ = fonts.metrics(size * 1.3)
                fonts.draw_text(canvas, "本企业目前没有较大及以上安全风险 / no significant or major risks",
                                W / 2, y + table.header_h + mm(8) * f + ea, size * 1.3, MUTED, align="centre")
            baseline = H - margin + footer_h * 0.3
            fonts.draw_text(canvas, stamp.text(), margin, baseline, size * 0.85, MUTED)
            fonts.draw_text(canvas, f"第 {n} / {total} 页", W - margin, baseline, size * 0.85, MUTED, align="right")
        page = recorder.page
        page.meta.update(table_bottom=bottom, table_limit=H - margin - footer_h,
                         rows=sorted({p.row for p in pieces}))
        pages.append(page)
    if progress is not None:
        progress(total, total, "")
    return pages
