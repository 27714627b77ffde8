"""Post risk notice cards (岗位风险告知卡, 表E): one per post or equipment unit, batch-printable on A4 or A5,
one, two or four to a sheet.

Each card has the level colour band, every 表E field (work content, workplace, hazard factors, accident
type, control measures, emergency measures, emergency phone), the responsible person, a warning sign, the
footer stamp, and a QR code that opens the unit on riskmap's web map. Text shrinks to fit its card; what still
does not fit is cut with a note that the QR code leads to the full record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

import numpy as np
import skia

from riskmap.domain import RESIDUAL, AssessmentUnit, UnitKind, UnitTree
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, load_palette
from riskmap.print import fonts, output
from riskmap.print.board import accident_text, hatch_drawer, readable_on, unit_location
from riskmap.print.fonts import colour_int
from riskmap.print.paper import Paper, Stamp, mm, paper, stamp_of
from riskmap.print.table import Cell, Table

CARD_PAPERS = ("A4", "A5")
PER_SHEET = (1, 2, 4)
CARD_KINDS = (UnitKind.POST, UnitKind.EQUIPMENT)
TEXT = "#1A1A1A"
MUTED = "#555555"
NO_LEVEL_FILL = "#BDBDBD"
CUT_NOTE = "…（内容较多，扫码查看完整信息）"


@dataclass(frozen=True)
class CardContent:
    unit_id: str
    title: str
    level: Level | None
    fields: tuple[tuple[str, str], ...]
    phone: str
    responsible: str
    url: str


def unit_url(base_url: str, unit_id: str, enterprise: str) -> str:
    """The web map page of one unit (the QR code's target)."""
    return f"{base_url.rstrip('/')}/map?{urlencode({'unit': unit_id, 'enterprise': enterprise})}"


def check_base_url(base_url: str) -> str:
    text = str(base_url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise InputError(f"基础地址应为 http(s)://主机[:端口][/路径]，得到 “{text[:80]}” / base URL must be "
                         "http(s)://host[:port][/path]")
    return text.rstrip("/")


def _numbered(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return items[0] if items else "—"
    return "\n".join(f"{k}. {t}" for k, t in enumerate(items, 1))


def _unique(values) -> list[str]:
    out: list[str] = []
    for v in values:
        text = fonts.clean(v).strip()
        if text and text not in out:
            out.append(text)
    return out


def card_content(plant, unit: AssessmentUnit, tree: UnitTree, base_url: str, which: str = RESIDUAL) -> CardContent:
    enterprise = plant.enterprise
    level = unit.level(which)
    events = unit.events
    hazards = _unique(ev.hazard_factor or ev.name for ev in events)
    accidents = _unique(accident_text(ev) for ev in events)
    controls = _unique(c.description for ev in events for c in ev.controls)
    if not controls:
        controls = _unique(ev.existing_measures for ev in events)
    emergency = _unique(ev.emergency_measures for ev in events)
    workplace = fonts.clean(unit.workplace) or unit_location(tree, unit)
    fields = (
        ("作业内容", fonts.clean(unit.work_content) or "—"),
        ("作业场所", workplace or "—"),
        ("危险有害因素", _numbered(hazards)),
        ("事故类型", "、".join(accidents) or "—"),
        ("管控措施", _numbered(controls)),
        ("应急措施", _numbered(emergency)),
    )
    responsible = " ".join(fonts.clean(v) for v in (unit.department, unit.responsible_person) if v)
    kind = unit.kind.zh if unit.kind is not None else ""
    return CardContent(unit.id, f"{fonts.clean(unit.name)}（{kind}）" if kind else fonts.clean(unit.name), level,
                       fields, fonts.clean(enterprise.emergency_phone) or "—", responsible or "—",
                       unit_url(base_url, unit.id, enterprise.name))


def select_units(plant, unit_ids: Sequence[str] | None = None) -> list[AssessmentUnit]:
    """The units to print: those named (in the order given), else every post and equipment unit with risks."""
    if unit_ids:
        by_id = {u.id: u for u in plant.units}
        missing = [u for u in unit_ids if u not in by_id]
        if missing:
            raise NotFoundError(f"没有这些单元：{'、'.join(str(m)[:40] for m in missing[:10])} / unknown unit ids "
                                f"{[str(m)[:40] for m in missing[:10]]}")
        seen, out = set(), []
        for uid in unit_ids:
            if uid not in seen:
                seen.add(uid)
                out.append(by_id[uid])
        return out
    units = [u for u in plant.units if u.kind in CARD_KINDS and u.events]
    if not units:
        raise InputError("没有可制卡的岗位或设备单元（需有风险事件），可用 --unit 指定单元 / no post or equipment unit "
                         "with risks: name units with --unit")
    return units


def cards_pdf(plant, *, paper_name: str = "A4", per_sheet: int = 1, unit_ids: Sequence[str] | None = None,
              base_url: str = "http://127.0.0.1:8000", grey: bool = False, which: str = RESIDUAL,
              now: datetime | None = None, progress: Callable[[int, int, str], None] | None = None) -> bytes:
    """The cards as one PDF, `per_sheet` (1, 2 or 4) to a sheet of A4 or A5."""
    pages = cards_pages(plant, paper_name=paper_name, per_sheet=per_sheet, unit_ids=unit_ids, base_url=base_url,
                        grey=grey, which=which, now=now, progress=progress)
    return output.pdf_bytes(pages, title=f"{plant.enterprise.name} 岗位风险告知卡", subject="岗位风险告知卡（表E）",
                            author=plant.enterprise.name)


def cards_pages(plant, *, paper_name: str = "A4", per_sheet: int = 1, unit_ids: Sequence[str] | None = None,
                base_url: str = "http://127.0.0.1:8000", grey: bool = False, which: str = RESIDUAL,
                now: datetime | None = None, progress=None) -> list[output.Page]:
    if isinstance(per_sheet, bool) or per_sheet not in PER_SHEET:
        raise InputError(f"每张纸的卡片数应为 1、2 或 4，得到 {str(per_sheet)[:10]} / --per-sheet must be 1, 2 or 4")
    sheet = paper(paper_name, False, CARD_PAPERS)
    base_url = check_base_url(base_url)
    fonts.faces()
    units = select_units(plant, unit_ids)
    tree = UnitTree(plant.units)
    stamp = stamp_of(plant, now)
    contents = [card_content(plant, u, tree, base_url, which) for u in units]
    slots = _slots(sheet, per_sheet)
    pages = []
    total = (len(contents) + per_sheet - 1) // per_sheet
    for n in range(total):
        if progress is not None:
            progress(n, total, f"第 {n + 1} 页")
        recorder = output.PageRecorder(sheet.width, sheet.height)
        with recorder as canvas:
            canvas.drawRect(skia.Rect(0, 0, sheet.width, sheet.height), skia.Paint(Color=skia.ColorWHITE))
            for slot, content in zip(slots, contents[n * per_sheet:(n + 1) * per_sheet], strict=False):
                _draw_card(canvas, content, slot, stamp, grey)
            _cut_lines(canvas, sheet, per_sheet)
        pages.append(recorder.page)
    if progress is not None:
        progress(total, total, "")
    return pages


def _slots(sheet: Paper, per_sheet: int) -> list[tuple[float, float, float, float]]:
    W, H = sheet.width, sheet.height
    if per_sheet == 1:
        return [(0, 0, W, H)]
    if per_sheet == 2:
        return [(0, 0, W, H / 2), (0, H / 2, W, H)]
    return [(0, 0, W / 2, H / 2), (W / 2, 0, W, H / 2), (0, H / 2, W / 2, H), (W / 2, H / 2, W, H)]


def _cut_lines(canvas, sheet: Paper, per_sheet: int) -> None:
    if per_sheet == 1:
        return
    paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#9E9E9E"), StrokeWidth=0.4,
                       PathEffect=skia.DashPathEffect.Make([4.0, 3.0], 0.0))
    W, H = sheet.width, sheet.height
    canvas.drawLine(0, H / 2, W, H / 2, paint)
    if per_sheet == 4:
        canvas.drawLine(W / 2, 0, W / 2, H, paint)


def qr_path(text: str, x: float, y: float, size: float) -> skia.Path:
    """A QR code (error correction M, quiet zone included in `size`) as one vector path of module runs."""
    import segno

    qr = segno.make(text, error="m", micro=False)
    matrix = np.array([list(row) for row in qr.matrix_iter(scale=1, border=4)], dtype=bool)
    n = matrix.shape[0]
    cell = size / n
    path = skia.Path()
    for r in range(n):
        row = matrix[r]
        edges = np.flatnonzero(np.diff(np.concatenate([[False], row, [False]]).astype(np.int8)))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            path.addRect(skia.Rect(x + start * cell, y + r * cell, x + end * cell, y + (r + 1) * cell))
    return path


def _warning_sign(canvas, cx: float, cy: float, size: float) -> None:
    """The general warning sign (注意安全): a yellow triangle with a black border and exclamation mark."""
    h = size * 0.866
    tri = skia.Path()
    tri.moveTo(cx, cy - h / 2)
    tri.lineTo(cx + size / 2, cy + h / 2)
    tri.lineTo(cx - size / 2, cy + h / 2)
    tri.close()
    canvas.drawPath(tri, skia.Paint(AntiAlias=True, Color=colour_int("#FFD400")))
    canvas.drawPath(tri, skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#000000"),
                                    StrokeWidth=size * 0.07, StrokeJoin=skia.Paint.kRound_Join))
    bar = skia.Paint(AntiAlias=True, Color=colour_int("#000000"))
    canvas.drawRRect(skia.RRect.MakeRectXY(skia.Rect(cx - size * 0.045, cy - h * 0.18, cx + size * 0.045,
                                                     cy + h * 0.2), size * 0.04, size * 0.04), bar)
    canvas.drawCircle(cx, cy + h * 0.32, size * 0.055, bar)


def _draw_card(canvas, c: CardContent, slot, stamp: Stamp, grey: bool) -> None:
    x0, y0, x1, y1 = slot
    w, h = x1 - x0, y1 - y0
    cf = (min(w, h) / mm(148)) ** 0.5
    m = mm(6) * cf
    left, top, right, bottom = x0 + m, y0 + m, x1 - m, y1 - m
    palette = load_palette()
    if c.level is not None:
        style = palette.styles[c.level]
        band_fill = style.grey if grey else style.fill
        band_hatch = style.hatch if grey else ""
        level_text = f"风险等级：{c.level.zh}"
    else:
        band_fill, band_hatch, level_text = NO_LEVEL_FILL, "", "风险等级：未评估"
    border = band_fill if not grey else "#333333"
    canvas.drawRect(skia.Rect(left, top, right, bottom), skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                                                    Color=colour_int(border), StrokeWidth=2.2 * cf))
    inner = mm(3) * cf
    ix0, iy0, ix1, iy1 = left + inner, top + inner, right - inner, bottom - inner
    width = ix1 - ix0

    # title and unit
    title_size = 17 * cf
    a, _ = fonts.metrics(title_size)
    fonts.draw_text(canvas, "岗位风险告知卡", (ix0 + ix1) / 2, iy0 + a, title_size, TEXT, align="centre", bold=True)
    y = iy0 + fonts.line_height(title_size, 1.3)
    name_size = 10 * cf
    na, _ = fonts.metrics(name_size)
    fonts.draw_text(canvas, fonts.fit_line(f"{c.title} · 编号 {c.unit_id}", name_size, width), (ix0 + ix1) / 2,
                    y + na, name_size, TEXT, align="centre")
    y += fonts.line_height(name_size, 1.5)

    # level band
    band_h = 10 * cf * 1.9
    rect = skia.Rect(ix0, y, ix1, y + band_h)
    canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=colour_int(band_fill)))
    if band_hatch:
        path = skia.Path()
        path.addRect(rect)
        hatch_drawer(10 * cf)(canvas, path, band_hatch)
    ba, bd = fonts.metrics(12 * cf)
    if band_hatch:          # a plate of the band's grey keeps the text clear of the hatch
        tw = fonts.width(level_text, 12 * cf)
        canvas.drawRRect(skia.RRect.MakeRectXY(skia.Rect((ix0 + ix1 - tw) / 2 - 3 * cf, y + band_h * 0.14,
                                                         (ix0 + ix1 + tw) / 2 + 3 * cf, y + band_h * 0.86),
                                               2 * cf, 2 * cf), skia.Paint(AntiAlias=True, Color=colour_int(band_fill)))
    fonts.draw_text(canvas, level_text, (ix0 + ix1) / 2, y + (band_h - (ba + bd)) / 2 + ba, 12 * cf,
                    readable_on(band_fill), align="centre", bold=True)
    y += band_h + mm(2) * cf

    stamp_size = 5.2 * cf
    stamp_h = fonts.line_height(stamp_size, 1.5)
    fonts.draw_text(canvas, fonts.fit_line(stamp.text(), stamp_size, width), ix0, iy1 - stamp_size * 0.3,
                    stamp_size, MUTED)
    gap = mm(2) * cf
    if w > h * 1.15:
        # landscape card: the fields on the left, a column of sign, phone and QR code on the right
        side_w = max(mm(24), min(mm(40) * cf, width * 0.3))
        sx = ix1 - side_w
        qr_size = side_w
        qy = iy1 - stamp_h - qr_size
        canvas.drawPath(qr_path(c.url, sx, qy, qr_size), skia.Paint(AntiAlias=False, Color=skia.ColorBLACK))
        _contact(canvas, c, sx, y, side_w, qy - gap - y, cf)
        _fields(canvas, c, ix0, y, width - side_w - gap, iy1 - stamp_h - gap - y, cf)
        return
    # portrait card: the fields, then a row of sign, phone and QR code
    qr_size = max(mm(24), min(mm(34) * cf, width * 0.3))
    by = iy1 - stamp_h - qr_size
    canvas.drawPath(qr_path(c.url, ix1 - qr_size, by, qr_size), skia.Paint(AntiAlias=False, Color=skia.ColorBLACK))
    _contact(canvas, c, ix0, by, width - qr_size - gap, qr_size, cf)
    _fields(canvas, c, ix0, y, width, by - gap - y, cf)


def _contact(canvas, c: CardContent, x: float, y: float, width: float, height: float, cf: float) -> None:
    """The warning sign, the emergency phone and the responsible person, in a box of the card."""
    stacked = width < mm(55) * cf           # a narrow column: the sign above the text
    sign = min(height * 0.5, mm(16) * cf, width * 0.4)
    _warning_sign(canvas, x + sign / 2, y + sign * 0.55, sign)
    if stacked:
        y += sign * 1.2
        height -= sign * 1.2
    text_x = x if stacked else x + sign + mm(3) * cf
    avail = x + width - text_x
    label = 8 * cf
    fonts.draw_text(canvas, fonts.fit_line("应急电话", label, avail), text_x, y + fonts.metrics(label)[0], label, MUTED)
    py = y + fonts.line_height(label, 1.25)
    size = 13 * cf
    while fonts.width(c.phone, size) > avail and size > 6 * cf:
        size *= 0.9
    fonts.draw_text(canvas, c.phone, text_x, py + fonts.metrics(size)[0], size, "#C00000", bold=True)
    py += fonts.line_height(size, 1.35)
    if not stacked:
        py = max(py, y + sign * 1.15)
    small = 7.5 * cf
    for line in fonts.wrap(f"责任人：{c.responsible}", small, width)[:2]:
        fonts.draw_text(canvas, line, x, py + fonts.metrics(small)[0], small, TEXT)
        py += fonts.line_height(small, 1.3)
    caption = 5.5 * cf
    if py + fonts.line_height(caption, 1.3) <= y + height:
        fonts.draw_text(canvas, fonts.fit_line("注意安全 · 扫码查看单元风险详情", caption, width), x,
                        y + height - 1, caption, MUTED)


def _fields(canvas, c: CardContent, x: float, y: float, width: float, space: float, cf: float) -> None:
    size = 9.5 * cf
    min_size = 5.5 * cf
    texts = [v for _, v in c.fields]
    while True:
        table = Table(["项目", "内容"], [1, 4.2], width, size, header_fill="#EFEFEF")
        rows = [[Cell(k, fill="#F7F7F7", align="centre", valign="middle"), Cell(v)]
                for (k, _), v in zip(c.fields, texts, strict=True)]
        pages = table.paginate(rows, space, space)
        if len(pages) == 1 or size <= min_size:
            break
        size = max(min_size, size * 0.9)
    if len(pages) > 1:
        # still too long at the smallest size: cut the longest fields, keeping the first lines of each
        texts = _cut(texts, table, space, size)
        rows = [[Cell(k, fill="#F7F7F7", align="centre", valign="middle"), Cell(v)]
                for (k, _), v in zip(c.fields, texts, strict=True)]
        pages = table.paginate(rows, space, space)
    table.draw(canvas, x, y, rows, pages[0])


def _cut(texts: list[str], table: Table, space: float, size: float) -> list[str]:
    width = table.widths[1] - 2 * table.pad
    lines = [fonts.wrap(t, size, width) for t in texts]
    budget = int((space - table.header_h) // table.line_h) - len(texts) * 1   # one line of padding per row
    while sum(len(ls) for ls in lines) > budget:
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        if len(lines[longest]) <= 1:
            break
        lines[longest] = lines[longest][:-1]
    out = []
    for original, kept in zip(texts, lines, strict=True):
        full = fonts.wrap(original, size, width)
        if len(kept) < len(full):
            kept = kept[:-1] + [fonts.fit_line(kept[-1] + CUT_NOTE, size, width)] if kept else [CUT_NOTE]
            if CUT_NOTE not in kept[-1]:
                kept[-1] = fonts.fit_line(kept[-1][: max(0, len(kept[-1]) - 12)] + CUT_NOTE, size, width * 3)
        out.append("\n".join(kept))
    return out
