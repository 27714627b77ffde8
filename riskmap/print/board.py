"""Notice boards (安全风险公告栏, 表D) that a plant hangs on its walls: one sheet per area (each production region
or workshop, with all its risks) and the factory-level board of its significant and major risks.

A board is read standing a metre away, so its body text is 12 pt at least (`BODY_PT`), whatever the paper:
cells wrap, they never shrink. An area board is one sheet; the risks that do not fit on it are named at its foot
(most severe first, so what is left out is the least severe), never printed smaller. The factory board continues
on further sheets with its header row repeated.

Every board carries the level colour band (colours from layers/levels.yaml through riskmap.levels; grey and the
level's hatch in greyscale mode), the risk point's location, and the enterprise's report, supervision and
emergency phones. A row's validity period (有效期, riskmap.validity: the same rule as the "validity_expired"
re-assessment flag) that has ended is printed in red with "已过期" and counted in the band. A unit forced to a
level (direct determination) keeps its events' fields in their columns; the reason goes to a numbered note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import skia

from riskmap.clock import local_date
from riskmap.clock import today as beijing_today
from riskmap.domain import RESIDUAL, AssessmentUnit, RiskEvent, UnitTree
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, load_palette
from riskmap.print import fonts, output
from riskmap.print.fonts import colour_int
from riskmap.print.paper import Paper, mm, paper, stamp_of
from riskmap.print.table import Cell, Table
from riskmap.validity import validity

BOARD_PAPERS = ("A1", "A2", "A3", "A4")
BOARD_LEVELS = (Level.MAJOR, Level.SIGNIFICANT)
SCOPES = ("all", "factory", "areas")
BODY_PT = 12.0                 # the smallest body text of a board, read from a metre
TEXT = "#1A1A1A"
MUTED = "#555555"
EXPIRED = "#C00000"            # an ended validity period: red, as a warning (not a level colour)
EXPIRED_NOTE = "已过期，需重新评估"
# The factory board is 表D: every field. An area board leaves out consequence and impact range (the factory board
# has them for the risks that matter most) so that more of the area's risks fit on its one sheet.
COLUMNS: tuple[tuple[str, float], ...] = (
    ("序号", 0.5), ("风险点（位置）", 1.35), ("危险有害因素", 1.9), ("事故类型", 0.95), ("可能后果", 1.35),
    ("影响范围", 1.1), ("风险等级", 0.85), ("管控措施", 2.6), ("应急措施", 2.1), ("责任人", 1.1), ("有效期", 1.05),
)
AREA_LEAVES_OUT = ("可能后果", "影响范围")
AREA_COLUMNS = tuple(c for c in COLUMNS if c[0] not in AREA_LEAVES_OUT)


@dataclass(frozen=True)
class BoardRow:
    """One row of a board as printed (texts already cleaned); `expired` prints the validity in red."""

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
    expired: bool = False
    note: str | None = None            # why the unit was forced to its level (printed as a numbered note)


@dataclass
class Board:
    """One board: the factory's (significant and major risks) or one area's (all its risks)."""

    kind: str                          # "factory" | "area"
    title: str
    rows: list[BoardRow]
    level: Level | None = None         # the area's level (its band); None for the factory board
    region_id: str | None = None
    levels: tuple[Level, ...] = field(default=tuple(LEVELS_HIGH_TO_LOW))


# ---------------------------------------------------------------------------------------------- rows


def unit_location(tree: UnitTree, unit: AssessmentUnit) -> str:
    """Where a unit is: its chain of units below the top system (e.g. 罐区·甲醇储罐T-104)."""
    chain = [a.name for a in reversed(tree.ancestors(unit.id))] + [unit.name]
    if len(chain) > 2:
        chain = chain[1:]
    return "·".join(fonts.clean(c) for c in chain if c)


def accident_text(event: RiskEvent) -> str:
    """The accident type as the ledger wrote it, with its GB 6441-2025 name beside it when that differs."""
    text = fonts.clean(event.accident_type)
    new = fonts.clean(event.accident_type_2025)
    if new and new != text:
        return f"{text}（GB 6441-2025：{new}）" if text else new
    return text


def numbered(items: Sequence[str]) -> str:
    """Items as one cell: "1. … 2. …" on separate lines when several, the item alone when one, "—" when none."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return items[0] if items else "—"
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))


def unique(values) -> list[str]:
    """The printable texts of some values, blanks and repeats dropped, first occurrence order kept."""
    out: list[str] = []
    for v in values:
        text = fonts.clean(v).strip()
        if text and text not in out:
            out.append(text)
    return out


def controls_text(event: RiskEvent) -> str:
    """An event's control measures for a board cell; the existing measures stand in when it lists no controls."""
    items = unique(c.description for c in event.controls)
    if not items and event.existing_measures:
        items = [fonts.clean(event.existing_measures)]
    return numbered(items)


def responsible_text(unit: AssessmentUnit, level: Level, tiers: dict) -> str:
    """Who controls a risk: department and person, then the control tier the level calls for (e.g. 公司(厂)级管控)."""
    who = " ".join(fonts.clean(v) for v in (unit.department, unit.responsible_person) if v)
    tier_key = load_palette().styles[level].control_tier
    tier = (tiers.get(tier_key) or {}).get("zh", "")
    return "\n".join(t for t in (who or "—", f"{tier}管控" if tier else "") if t)


def _validity(unit: AssessmentUnit, months: int, today) -> tuple[str, bool]:
    period = validity(unit.last_assessed, months)
    if period is None:
        return "未记录评估日期", False
    return period.text(), period.expired(today)


def board_rows(plant, which: str = RESIDUAL, validity_months: int = 12, *, today=None,
               units: Sequence[AssessmentUnit] | None = None,
               levels: Sequence[Level] = BOARD_LEVELS) -> list[BoardRow]:
    """Rows of the risks at `levels` of `units` (all the plant's by default), most severe first, then in ledger
    order. A unit forced above its events' levels is a row of its own with its events' fields."""
    tree = UnitTree(plant.units)
    tiers = load_palette().control_tiers
    today = today or beijing_today()
    rows: list[tuple[int, int, BoardRow]] = []
    for unit in plant.units if units is None else units:
        period, expired = _validity(unit, validity_months, today)
        listed = [ev.level(which) for ev in unit.events]
        top = max((lv.rank for lv in listed if lv is not None), default=0)
        ov = unit.override
        if ov is not None and ov.level in levels and ov.level.rank > top:
            events = unit.events
            rows.append((-ov.level.rank, len(rows), BoardRow(
                location=unit_location(tree, unit),
                hazard=numbered(unique(ev.hazard_factor or ev.name for ev in events)),
                accident="、".join(unique(accident_text(ev) for ev in events)) or "—",
                consequence=numbered(unique(ev.consequence for ev in events)),
                impact="、".join(unique(ev.impact_range for ev in events)) or "—",
                level=ov.level,
                controls=numbered(unique(c.description for ev in events for c in ev.controls)),
                emergency=numbered(unique(ev.emergency_measures for ev in events)),
                responsible=responsible_text(unit, ov.level, tiers), validity=period, expired=expired,
                unit_id=unit.id, note=fonts.clean(ov.reason) or "直接判定")))
        for event in unit.events:
            level = event.level(which)
            if level not in levels:
                continue
            rows.append((-level.rank, len(rows), BoardRow(
                location=fonts.clean(event.location) or unit_location(tree, unit),
                hazard=fonts.clean(event.hazard_factor) or fonts.clean(event.name),
                accident=accident_text(event) or "—",
                consequence=fonts.clean(event.consequence) or "—",
                impact=fonts.clean(event.impact_range) or "—",
                level=level,
                controls=controls_text(event),
                emergency=fonts.clean(event.emergency_measures) or "—",
                responsible=responsible_text(unit, level, tiers),
                validity=period, expired=expired,
                unit_id=unit.id,
            )))
    rows.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in rows]


def boards(plant, *, scope: str = "all", regions: Sequence[str] | None = None, which: str = RESIDUAL,
           validity_months: int = 12, today=None) -> list[Board]:
    """The factory board, then one board per region (most severe first, then by name), as `scope` says;
    `regions` (ids or names) picks areas."""
    if scope not in SCOPES:
        raise InputError(f"范围应为 {'、'.join(SCOPES)}，得到 “{str(scope)[:20]}” / scope must be one of "
                         f"{', '.join(SCOPES)}")
    name = fonts.clean(plant.enterprise.name)
    out: list[Board] = []
    if scope in ("all", "factory") and not regions:
        out.append(Board("factory", f"{name}　安全风险公告栏", board_rows(plant, which, validity_months, today=today),
                         levels=BOARD_LEVELS))
    if scope == "factory" and not regions:
        return out
    by_id = {u.id: u for u in plant.units}
    risks = plant.region_risk(which=which)
    if regions:
        wanted = {str(r) for r in regions}
        known = {r.region_id for r in risks} | {r.name for r in risks}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise NotFoundError(f"没有这些区域：{'、'.join(m[:40] for m in missing[:10])} / unknown regions "
                                f"{[m[:40] for m in missing[:10]]}")
        risks = [r for r in risks if r.region_id in wanted or r.name in wanted]
    risks = sorted(risks, key=lambda r: (-(r.level.rank if r.level is not None else 0), r.name, r.region_id))
    for risk in risks:
        members = [by_id[c.unit_id] for c in risk.contributing if c.unit_id in by_id]
        order = {u.id: i for i, u in enumerate(plant.units)}
        members.sort(key=lambda u: order[u.id])
        rows = board_rows(plant, which, validity_months, today=today, units=members, levels=LEVELS_HIGH_TO_LOW)
        out.append(Board("area", f"{fonts.clean(risk.name)}　安全风险公告栏", rows, level=risk.level,
                         region_id=risk.region_id))
    if not out:
        raise InputError("没有可打印的公告栏（布局中没有区域）/ no board to print (the layout has no regions)")
    return out


# ---------------------------------------------------------------------------------------------- drawing


def level_cell(level: Level, grey: bool, mark: str = "") -> Cell:
    """A level's cell: its colour (text in black or white, whichever reads), or its grey and hatch."""
    style = load_palette().styles[level]
    fill = style.grey if grey else style.fill
    return Cell(level.zh + (f"\n{mark}" if mark else ""), fill=fill,
                hatch=style.hatch if grey and style.hatch else None, colour=readable_on(fill), align="centre",
                valign="middle", bold=True)


def readable_on(fill: str) -> str:
    """Black or white, whichever reads on `fill` (#RRGGBB): white text on red, black on yellow."""
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


def body_size(p: Paper) -> float:
    """The body text of a board on this paper: 12 pt at A3 and smaller sheets, larger on larger ones."""
    a3 = paper("A3").factor
    return max(BODY_PT, BODY_PT * p.factor / a3)


def board_pdf(plant, *, paper_name: str = "A3", landscape: bool = True, grey: bool = False,
              which: str = RESIDUAL, validity_months: int | None = None, scope: str = "all",
              regions: Sequence[str] | None = None, now: datetime | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> bytes:
    """The boards as one PDF: the factory board's sheets, then one sheet per area (as `scope` says).
    `validity_months` defaults to the ledger profile's `reassessment_months`, the period the flags use."""
    months = check_validity_months(plant, validity_months)
    p = paper(paper_name, landscape, BOARD_PAPERS)
    fonts.faces()
    moment = plant.as_of if getattr(plant, "as_of", None) is not None else now
    today = local_date(moment) if moment is not None else beijing_today()
    made = boards(plant, scope=scope, regions=regions, which=which, validity_months=months, today=today)
    pages = board_pages(plant, made, p, grey, now, progress)
    return output.pdf_bytes(pages, title=f"{plant.enterprise.name} 安全风险公告栏", subject="安全风险公告栏（表D）",
                            author=plant.enterprise.name)


def check_validity_months(plant, validity_months: int | None) -> int:
    """The validity period in months: the profile's reassessment_months when not given (as the flags use), else
    1–120 checked (InputError otherwise)."""
    if validity_months is None:
        from riskmap.store.flags import reassessment_months

        return reassessment_months(getattr(plant, "profile", None))
    if isinstance(validity_months, bool) or not isinstance(validity_months, int) or not 1 <= validity_months <= 120:
        raise InputError("有效期应为 1–120 个月 / validity must be 1–120 months")
    return validity_months


@dataclass
class _Sheet:
    """Measures shared by every sheet of a print."""

    p: Paper
    body: float
    margin: float
    title: float
    band: float
    small: float

    @property
    def width(self) -> float:
        return self.p.width - 2 * self.margin


def board_pages(plant, made: Sequence[Board], p: Paper, grey: bool, now: datetime | None = None,
                progress=None) -> list[output.Page]:
    """The boards drawn as pages (an area board one sheet, the factory board continuing), not yet a PDF."""
    body = body_size(p)
    sheet = _Sheet(p, body, mm(10) * p.factor, body * 2.0, body * 1.25, body * 0.8)
    stamp = stamp_of(plant, now)
    plans: list[tuple[Board, list, list, list[BoardRow]]] = []
    for board in made:
        plans.extend(_plan(plant, board, sheet, grey))
    total = len(plans)
    pages = []
    for n, (board, cells, pieces, left_out) in enumerate(plans, 1):
        if progress is not None:
            progress(n - 1, total, f"第 {n} 张")
        pages.append(_draw_sheet(plant, board, sheet, grey, cells, pieces, left_out, stamp, n, total,
                                 continued=any(pl[0] is board for pl in plans[:n - 1])))
    if progress is not None:
        progress(total, total, "")
    return pages


def columns_of(board: Board) -> tuple[tuple[str, float], ...]:
    """The columns of a board: all of 表D on the factory board, fewer on an area board so more of its risks fit."""
    return COLUMNS if board.kind == "factory" else AREA_COLUMNS


def _table(sheet: _Sheet, board: Board) -> Table:
    columns = columns_of(board)
    return Table([t for t, _ in columns], [w for _, w in columns], sheet.width, sheet.body,
                 hatch_drawer=hatch_drawer(sheet.body))


def _cells(rows: Sequence[BoardRow], grey: bool, board: Board) -> list[list[Cell]]:
    titles = [t for t, _ in COLUMNS]
    keep = [i for i, (t, _) in enumerate(COLUMNS) if (t, _) in columns_of(board)]
    return [[row[i] for i in keep] for row in _all_cells(rows, grey)] if len(keep) < len(titles) \
        else _all_cells(rows, grey)


def _all_cells(rows: Sequence[BoardRow], grey: bool) -> list[list[Cell]]:
    cells, notes = [], 0
    for i, r in enumerate(rows, 1):
        mark = ""
        if r.note:
            notes += 1
            mark = f"※{notes}"
        validity_cell = Cell(f"{r.validity}\n{EXPIRED_NOTE}", colour=EXPIRED, bold=True) if r.expired \
            else Cell(r.validity)
        cells.append([Cell(str(i), align="centre", valign="middle"), Cell(r.location), Cell(r.hazard),
                      Cell(r.accident), Cell(r.consequence), Cell(r.impact), level_cell(r.level, grey, mark),
                      Cell(r.controls), Cell(r.emergency), Cell(r.responsible), validity_cell])
    return cells


def _notes(rows: Sequence[BoardRow], shown: set[int] | None = None) -> list[str]:
    """The numbered reasons of forced levels (※k as in the level cells), of the rows shown."""
    out, k = [], 0
    for i, r in enumerate(rows):
        if r.note:
            k += 1
            if shown is None or i in shown:
                out.append(f"※{k} {r.location}：{r.level.zh}，{r.note}")
    return out


def _header_height(sheet: _Sheet) -> float:
    return (fonts.line_height(sheet.title, 1.25) + sheet.band * 2.0 + fonts.line_height(sheet.body * 1.1, 1.6)
            + mm(2) * sheet.p.factor)


def _footer_height(sheet: _Sheet) -> float:
    return fonts.line_height(sheet.small, 1.8)


def _text_block_height(lines: int, size: float) -> float:
    return lines * fonts.line_height(size, 1.35) + (mm(2) if lines else 0)


def _plan(plant, board: Board, sheet: _Sheet, grey: bool):
    """The sheets of one board: (board, cells, pieces of rows on the sheet, rows left out) per sheet."""
    table = _table(sheet, board)
    cells = _cells(board.rows, grey, board)
    space = sheet.p.height - 2 * sheet.margin - _header_height(sheet) - _footer_height(sheet)
    notes = _wrapped(_notes(board.rows), sheet.body, sheet.width)
    space_notes = space - _text_block_height(len(notes), sheet.body)
    if not cells:
        return [(board, cells, [], [])]
    if board.kind == "factory":
        # the factory board goes on over as many sheets as it needs; its notes sit under the last piece
        layout = table.paginate(cells, space_notes, space_notes)
        return [(board, cells, pieces, []) for pieces in layout]
    layout = table.paginate(cells, space_notes, space_notes)
    if len(layout) == 1:
        return [(board, cells, layout[0], [])]
    # one sheet: whole rows, most severe first, as far as they go; the rest is named at the foot
    for reserve_lines in (2, 3, 4, 6, 8):
        room = space_notes - _text_block_height(reserve_lines, sheet.body)
        first = table.paginate(cells, room, room)[0]
        kept = []
        for pc in first:
            if pc.row != len(kept) or not _complete(cells[pc.row], pc):
                break
            kept.append(pc)
        left_out = board.rows[len(kept):]
        if len(_wrapped([_left_out_text(left_out)], sheet.body, sheet.width)) <= reserve_lines:
            return [(board, cells, kept, left_out)]
    return [(board, cells, kept, left_out)]


def _complete(row: Sequence[Cell], piece) -> bool:
    """Whether a piece holds every line of its row (rows are wrapped by paginate)."""
    return piece.start == 0 and piece.end == max(len(c.lines) for c in row)


def _wrapped(texts: Sequence[str], size: float, width: float) -> list[str]:
    out: list[str] = []
    for text in texts:
        if text:
            out.extend(fonts.wrap(text, size, width))
    return out


def _left_out_text(rows: Sequence[BoardRow]) -> str:
    if not rows:
        return ""
    counts = [(lv, sum(r.level is lv for r in rows)) for lv in LEVELS_HIGH_TO_LOW]
    by_level = "、".join(f"{lv.zh} {n} 项" for lv, n in counts if n)
    names = unique(f"{r.location}（{r.level.zh}）" for r in rows)
    shown = "；".join(names[:12]) + (f" 等 {len(names)} 处" if len(names) > 12 else "")
    return (f"本栏位置有限，另有 {len(rows)} 项风险未列出（{by_level}）：{shown}。完整内容见本企业风险分级管控清单 / "
            f"{len(rows)} more risks do not fit on this sheet: see the enterprise's risk register.")


def _draw_band(canvas, board: Board, sheet: _Sheet, x: float, y: float, grey: bool) -> tuple[float, int]:
    """The level colour band under the title: the area's level, or the factory's levels with their counts."""
    palette = load_palette()
    h = sheet.band * 1.7
    w = sheet.width
    expired = sum(r.expired for r in board.rows)
    counts = {lv: sum(r.level is lv for r in board.rows) for lv in LEVELS_HIGH_TO_LOW}
    if board.kind == "factory":
        segments = [(lv, f"{lv.zh} {counts[lv]} 项") for lv in BOARD_LEVELS]
    elif board.level is not None:
        listed = "、".join(f"{lv.zh} {counts[lv]}" for lv in LEVELS_HIGH_TO_LOW if counts[lv])
        detail = f"　（本区域风险 {len(board.rows)} 项：{listed}）" if board.rows else ""
        segments = [(board.level, f"区域风险等级：{board.level.zh}{detail}")]
    else:
        segments = [(None, "区域风险等级：未评估")]
    seg_w = w / len(segments)
    for k, (level, text) in enumerate(segments):
        rect = skia.Rect(x + k * seg_w, y, x + (k + 1) * seg_w, y + h)
        if level is None:
            fill, hatch = "#BDBDBD", ""
        else:
            style = palette.styles[level]
            fill, hatch = (style.grey, style.hatch) if grey else (style.fill, "")
        canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=colour_int(fill)))
        if hatch:
            path = skia.Path()
            path.addRect(rect)
            hatch_drawer(sheet.band)(canvas, path, hatch)
        a, d = fonts.metrics(sheet.band)
        label = fonts.fit_line(text, sheet.band, seg_w - sheet.band)
        if hatch:       # a plate of the band's grey keeps the text clear of the hatch
            tw = fonts.width(label, sheet.band)
            cx = rect.centerX()
            canvas.drawRect(skia.Rect(cx - tw / 2 - 4, y + h * 0.15, cx + tw / 2 + 4, y + h * 0.85),
                            skia.Paint(AntiAlias=True, Color=colour_int(fill)))
        fonts.draw_text(canvas, label, rect.centerX(), y + (h - (a + d)) / 2 + a, sheet.band, readable_on(fill),
                        align="centre", bold=True)
    y += h
    if expired:
        y += mm(1)
    return y, expired


def _draw_sheet(plant, board: Board, sheet: _Sheet, grey: bool, cells, pieces, left_out, stamp, n: int,
                total: int, continued: bool) -> output.Page:
    p, m, body = sheet.p, sheet.margin, sheet.body
    W, H = p.width, p.height
    ent = plant.enterprise
    recorder = output.PageRecorder(W, H)
    table = _table(sheet, board)
    with recorder as canvas:
        canvas.drawRect(skia.Rect(0, 0, W, H), skia.Paint(Color=skia.ColorWHITE))
        y = m
        a, _ = fonts.metrics(sheet.title)
        title = board.title if board.kind == "area" else board.title + "（厂级：重大和较大风险）"
        if continued:
            title += "（续）"
        fonts.draw_text(canvas, fonts.fit_line(title, sheet.title, sheet.width), W / 2, y + a, sheet.title, TEXT,
                        align="centre", bold=True)
        y += fonts.line_height(sheet.title, 1.25)
        y, expired = _draw_band(canvas, board, sheet, m, y, grey)
        phones = [("举报电话", ent.report_phone), ("监督电话", ent.supervision_phone),
                  ("应急电话", ent.emergency_phone)]
        phone_line = "　　".join(f"{k}：{fonts.clean(v) or '—'}" for k, v in phones)
        if expired:
            phone_line += f"　　有效期已过 {expired} 项（红字），已列入重新评估"
        ps = body * 1.1
        pa, _ = fonts.metrics(ps)
        y += mm(1.5) * p.factor
        fonts.draw_text(canvas, fonts.fit_line(phone_line, ps, sheet.width), m, y + pa, ps, TEXT, bold=True)
        y = m + _header_height(sheet)
        if cells:
            bottom = table.draw(canvas, m, y, cells, pieces)
        else:
            bottom = table.draw(canvas, m, y, [], [])
            ea, _ = fonts.metrics(body * 1.3)
            empty = ("本企业目前没有较大及以上安全风险 / no significant or major risks" if board.kind == "factory"
                     else "本区域没有登记的安全风险 / no risks registered in this area")
            fonts.draw_text(canvas, empty, W / 2, y + table.header_h + mm(8) * p.factor + ea, body * 1.3, MUTED,
                            align="centre")
        ty = bottom + mm(2)
        last_piece = not pieces or board.kind == "area" or pieces[-1].row == len(cells) - 1
        shown_rows = {pc.row for pc in pieces} if board.kind == "area" else None
        texts = (_notes(board.rows, shown_rows) if last_piece else []) + \
            ([_left_out_text(left_out)] if left_out else [])
        ba, _ = fonts.metrics(body)
        for line in _wrapped(texts, body, sheet.width):
            fonts.draw_text(canvas, line, m, ty + ba, body, TEXT)
            ty += fonts.line_height(body, 1.35)
        baseline = H - m + _footer_height(sheet) * 0.3
        fonts.draw_text(canvas, fonts.fit_line(stamp.text(), sheet.small, sheet.width * 0.8), m, baseline, sheet.small,
                        MUTED)
        fonts.draw_text(canvas, f"第 {n} / {total} 张", W - m, baseline, sheet.small, MUTED, align="right")
    page = recorder.page
    shown = sorted({pc.row for pc in pieces})
    page.meta.update(kind=board.kind, region_id=board.region_id, body_pt=body, table_bottom=bottom,
                     notes_bottom=ty, table_limit=H - m - _footer_height(sheet), rows=shown,
                     unit_ids=[board.rows[r].unit_id for r in shown], left_out=len(left_out))
    return page
