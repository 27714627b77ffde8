"""Risk notice cards (告知卡, 表E): a post gets the 岗位风险告知卡 with its work content (作业内容), a piece of
equipment the 设备设施风险告知卡 with its own fields (location, inspection and maintenance), batch-printable on
A4 or A5, one, two or four to a sheet.

Each card has the level colour band (riskmap.levels), the fields, the protective equipment to wear (controls of
class 4-2 个体防护), the safety signs that apply by their GB 2894 names (riskmap.print.signs; the general
warning sign is the only pictogram, being simple enough to draw faithfully), the emergency phone, the
responsible person, the footer stamp and a QR code of the unit's short link `/u/{id}` with the address written
under it. A card whose address is a loopback one (127.0.0.1, localhost) says so in red: nobody's phone opens it.

Body text is 8 pt or more (`MIN_BODY_PT`). The number of cards per sheet is chosen so that every card keeps
that size; asked for more cards per sheet than that allows, the print is refused with the count that works.
With one card per sheet, what still does not fit is cut with a note that the QR code leads to the full record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import numpy as np
import skia

from riskmap.domain import RESIDUAL, AssessmentUnit, UnitKind, UnitTree
from riskmap.emergency import EmergencyIndex, card_text
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, load_palette
from riskmap.links import is_loopback, unit_url
from riskmap.print import fonts, output
from riskmap.print.board import accident_text, hatch_drawer, numbered, readable_on, unique, unit_location
from riskmap.print.fonts import colour_int
from riskmap.print.mapview import plan_crs
from riskmap.print.paper import Paper, Stamp, mm, paper, stamp_of
from riskmap.print.signs import signs_for, signs_text
from riskmap.print.table import Cell, Table

CARD_PAPERS = ("A4", "A5")
PER_SHEET = (1, 2, 4)
CARD_KINDS = (UnitKind.POST, UnitKind.EQUIPMENT)
MIN_BODY_PT = 8.0
TEXT = "#1A1A1A"
MUTED = "#555555"
WARN = "#C00000"
NO_LEVEL_FILL = "#BDBDBD"
CUT_NOTE = "…（内容较多，扫码查看完整信息）"
PPE_CLASSES = ("4-2", "个体防护")                 # DOMAIN.md §6: the class code, or the column name outside chemicals
MAINTENANCE_PREFIX = "2-"                         # 维护保养 (2-1 动设备, 2-2 静设备)
CARD_TITLES = {UnitKind.POST: "岗位风险告知卡", UnitKind.EQUIPMENT: "设备设施风险告知卡",
               UnitKind.ACTIVITY: "作业活动风险告知卡"}
LOOPBACK_WARNING = "警告：二维码指向本机地址，其他设备扫码无法打开"


@dataclass(frozen=True)
class CardContent:
    """What one card shows, gathered from the unit and its events before any layout; `loopback` prints a warning."""

    unit_id: str
    kind_title: str                    # 岗位风险告知卡 | 设备设施风险告知卡 | …
    title: str
    level: Level | None
    fields: tuple[tuple[str, str], ...]
    phone: str
    responsible: str
    url: str
    loopback: bool = False


def check_base_url(base_url: str) -> str:
    """The base address of the QR codes, checked to be http(s)://host[/path] (InputError otherwise), without "/"."""
    text = str(base_url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise InputError(f"基础地址应为 http(s)://主机[:端口][/路径]，得到 “{text[:80]}” / base URL must be "
                         "http(s)://host[:port][/path]")
    return text.rstrip("/")


def _is_ppe(cls: str | None) -> bool:
    return (cls or "").strip() in PPE_CLASSES


def card_content(plant, unit: AssessmentUnit, tree: UnitTree, base_url: str, which: str = RESIDUAL,
                 emergency_index: EmergencyIndex | None = None) -> CardContent:
    """A unit's card: equipment gets location and inspection/maintenance fields, a post its work content; protective
    equipment (class 4-2) is listed apart from the other measures. A post's card names the nearest assembly point
    and escape route of the layout (`emergency_index`, made once per batch), or says none is recorded."""
    enterprise = plant.enterprise
    events = unit.events
    controls = [c for ev in events for c in ev.controls]
    hazards = unique(ev.hazard_factor or ev.name for ev in events)
    accidents = unique(accident_text(ev) for ev in events)
    ppe = unique(c.description for c in controls if _is_ppe(c.cls))
    emergency = unique(ev.emergency_measures for ev in events)
    location = fonts.clean(unit.workplace) or unit_location(tree, unit)
    signs = signs_for([ev.accident_type for ev in events] + [ev.accident_type_2025 for ev in events],
                      hazards + ppe)
    if unit.kind is UnitKind.EQUIPMENT:
        upkeep = unique(c.description for c in controls if (c.cls or "").startswith(MAINTENANCE_PREFIX))
        other = unique(c.description for c in controls
                       if not _is_ppe(c.cls) and not (c.cls or "").startswith(MAINTENANCE_PREFIX))
        if not other and not upkeep:
            other = unique(ev.existing_measures for ev in events)
        fields = (("设备设施", f"{fonts.clean(unit.name)}（编号 {fonts.clean(unit.id)}）"),
                  ("所在位置", location or "—"),
                  ("危险有害因素", numbered(hazards)),
                  ("事故类型", "、".join(accidents) or "—"),
                  ("安全措施", numbered(other)),
                  ("检查维护", numbered(upkeep)))
    else:
        measures = unique(c.description for c in controls if not _is_ppe(c.cls)) or \
            unique(ev.existing_measures for ev in events)
        fields = (("作业内容", fonts.clean(unit.work_content) or "—"),
                  ("作业场所", location or "—"),
                  ("危险有害因素", numbered(hazards)),
                  ("事故类型", "、".join(accidents) or "—"),
                  ("管控措施", numbered(measures)))
    fields += (("个体防护", "、".join(ppe) or "—"),
               ("应急措施", numbered(emergency)))
    # a schematic drawing (process flow diagram) has no place on the earth: no distances to print from it
    schematic = bool(getattr(getattr(plant, "drawing", None), "schematic", False))
    if unit.kind is UnitKind.POST and not schematic:
        index = emergency_index or EmergencyIndex(plant.features, plan_crs(plant)[0])
        fields += (("应急疏散", fonts.clean(card_text(index.nearest(tree.located_geometry(unit.id)[0])))),)
    fields += (("安全标志", signs_text(signs) or "注意安全"),)
    responsible = " ".join(fonts.clean(v) for v in (unit.department, unit.responsible_person) if v)
    title = CARD_TITLES.get(unit.kind, "风险告知卡")
    return CardContent(unit.id, title, fonts.clean(unit.name), unit.level(which), fields,
                       fonts.clean(enterprise.emergency_phone) or "—", responsible or "—",
                       unit_url(base_url, unit.id), is_loopback(base_url))


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


def cards_pdf(plant, *, paper_name: str = "A4", per_sheet: int | None = None, unit_ids: Sequence[str] | None = None,
              base_url: str = "http://127.0.0.1:8000", grey: bool = False, which: str = RESIDUAL,
              now: datetime | None = None, progress: Callable[[int, int, str], None] | None = None) -> bytes:
    """The cards as one PDF, `per_sheet` (1, 2 or 4; None: as many as keep the body ≥ 8 pt) to a sheet."""
    pages = cards_pages(plant, paper_name=paper_name, per_sheet=per_sheet, unit_ids=unit_ids, base_url=base_url,
                        grey=grey, which=which, now=now, progress=progress)
    return pdf_of(plant, pages)


def pdf_of(plant, pages: Sequence[output.Page]) -> bytes:
    """The cards' pages as one PDF with the enterprise as author and title."""
    return output.pdf_bytes(pages, title=f"{plant.enterprise.name} 风险告知卡",
                            subject="岗位/设备设施风险告知卡（表E）", author=plant.enterprise.name)


def cards_pages(plant, *, paper_name: str = "A4", per_sheet: int | None = None,
                unit_ids: Sequence[str] | None = None, base_url: str = "http://127.0.0.1:8000", grey: bool = False,
                which: str = RESIDUAL, now: datetime | None = None, progress=None) -> list[output.Page]:
    """The cards laid out as pages (checks as cards_pdf), so a caller can report progress and count cards before
    writing the PDF with pdf_of; each page's meta names its units, cards per sheet and body size."""
    if per_sheet is not None and (isinstance(per_sheet, bool) or per_sheet not in PER_SHEET):
        raise InputError(f"每张纸的卡片数应为 1、2 或 4，得到 {str(per_sheet)[:10]} / --per-sheet must be 1, 2 or 4")
    sheet = paper(paper_name, False, CARD_PAPERS)
    base_url = check_base_url(base_url)
    fonts.faces()
    units = select_units(plant, unit_ids)
    tree = UnitTree(plant.units)
    stamp = stamp_of(plant, now)
    index = EmergencyIndex(plant.features, plan_crs(plant)[0])
    contents = [card_content(plant, u, tree, base_url, which, index) for u in units]
    per_sheet = choose_per_sheet(contents, sheet, per_sheet)
    slots = _slots(sheet, per_sheet)
    pages = []
    total = (len(contents) + per_sheet - 1) // per_sheet
    for n in range(total):
        if progress is not None:
            progress(n, total, f"第 {n + 1} 页")
        recorder = output.PageRecorder(sheet.width, sheet.height)
        sizes = []
        on_sheet = contents[n * per_sheet:(n + 1) * per_sheet]
        with recorder as canvas:
            canvas.drawRect(skia.Rect(0, 0, sheet.width, sheet.height), skia.Paint(Color=skia.ColorWHITE))
            for slot, content in zip(slots, on_sheet, strict=False):
                sizes.append(_draw_card(canvas, content, slot, stamp, grey))
            _cut_lines(canvas, sheet, per_sheet)
        page = recorder.page
        page.meta.update(per_sheet=per_sheet, body_pt=min(s["body"] for s in sizes),
                         stamp_tops=[s["stamp_top"] for s in sizes], unit_ids=[c.unit_id for c in on_sheet],
                         cut=[s["cut"] for s in sizes], base_url=base_url)
        pages.append(page)
    if progress is not None:
        progress(total, total, "")
    return pages


def choose_per_sheet(contents: Sequence[CardContent], sheet: Paper, wanted: int | None) -> int:
    """The cards per sheet: as many as keep every card's body at 8 pt or more (`wanted`, when it does)."""
    def misfits(n: int) -> list[CardContent]:
        slot = _slots(sheet, n)[0]
        return [c for c in contents if not _layout(c, slot).fits]

    if wanted is not None:
        if wanted == 1:
            return 1
        bad = misfits(wanted)
        if not bad:
            return wanted
        works = next((n for n in sorted(PER_SHEET, reverse=True) if n < wanted and not misfits(n)), 1)
        names = "、".join(c.title for c in bad[:5]) + (f" 等 {len(bad)} 张" if len(bad) > 5 else "")
        raise InputError(f"每张纸 {wanted} 张卡片时，{names} 的正文将小于 {MIN_BODY_PT:g} pt，无法在一米内看清；请用 "
                         f"--per-sheet {works}（或不指定，自动选择）/ at {wanted} cards per sheet the body of "
                         f"{len(bad)} card(s) would be smaller than {MIN_BODY_PT:g} pt: use --per-sheet {works} "
                         "(or leave it out to choose automatically)")
    return next((n for n in sorted(PER_SHEET, reverse=True) if not misfits(n)), 1)


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
    """The general warning sign (注意安全, GB 2894): a yellow triangle with a black border and exclamation mark."""
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


# ---------------------------------------------------------------------------------------------- one card


@dataclass
class _Layout:
    """Where the parts of a card go, and at what size its fields fit (or not, at 8 pt)."""

    cf: float
    box: tuple[float, float, float, float]          # inner box x0, y0, x1, y1
    fields_box: tuple[float, float, float, float]   # x, y, width, height
    contact_box: tuple[float, float, float, float]
    qr_box: tuple[float, float, float]              # x, y, size
    caption_box: tuple[float, float, float]         # x, y, width of the lines under the QR code
    side: bool                                      # contact and QR in a column on the right
    size: float                                     # the fields' text size
    fits: bool
    stamp_top: float


def _sizes(cf: float) -> dict[str, float]:
    """Text sizes of a card, none below MIN_BODY_PT except the footer stamp."""
    floor = MIN_BODY_PT
    return {"title": max(floor * 1.6, 17 * cf), "name": max(floor, 10.5 * cf), "band": max(floor * 1.2, 12 * cf),
            "body": max(floor, 10 * cf), "label": max(floor, 8.5 * cf), "phone": max(floor * 1.4, 13 * cf),
            "stamp": max(5.0, 5.2 * cf)}


def _table(width: float, size: float) -> Table:
    # labels of up to six characters on one line; tight padding, as printed cards have it
    return Table(["项目", "内容"], [1.35, 4.2], width, size, header_fill="#EFEFEF", leading=1.3, pad=0.3)


def _rows(c: CardContent, texts: Sequence[str]) -> list[list[Cell]]:
    return [[Cell(k, fill="#F7F7F7", align="centre", valign="middle"), Cell(v)]
            for (k, _), v in zip(c.fields, texts, strict=True)]


def _layout(c: CardContent, slot) -> _Layout:
    x0, y0, x1, y1 = slot
    w, h = x1 - x0, y1 - y0
    cf = (min(w, h) / mm(148)) ** 0.5
    s = _sizes(cf)
    m = mm(6) * cf
    inner = mm(3) * cf
    ix0, iy0, ix1, iy1 = x0 + m + inner, y0 + m + inner, x1 - m - inner, y1 - m - inner
    width = ix1 - ix0
    y = iy0 + fonts.line_height(s["title"], 1.3) + fonts.line_height(s["name"], 1.5) + s["band"] * 1.6 + mm(2) * cf
    stamp_h = fonts.line_height(s["stamp"], 1.5)
    gap = mm(2) * cf
    side = w > h * 1.15
    if side:
        side_w = max(mm(28), min(mm(40) * cf, width * 0.3))
        caption_h = len(caption_lines(c, s["label"], side_w)) * fonts.line_height(s["label"], 1.25)
        qr_size = side_w
        qy = iy1 - stamp_h - caption_h - qr_size
        qr_box = (ix1 - side_w, qy, qr_size)
        caption = (ix1 - side_w, qy + qr_size, side_w)
        contact = (ix1 - side_w, y, side_w, qy - gap - y)
        fields = (ix0, y, width - side_w - gap, iy1 - stamp_h - gap - y)
    else:
        caption_h = len(caption_lines(c, s["label"], width)) * fonts.line_height(s["label"], 1.25)
        qr_size = max(mm(22), min(mm(34) * cf, width * 0.3))
        by = iy1 - stamp_h - caption_h - qr_size
        qr_box = (ix1 - qr_size, by, qr_size)
        caption = (ix0, by + qr_size, width)
        contact = (ix0, by, width - qr_size - gap, qr_size)
        fields = (ix0, y, width, by - gap - y)
    size, fits = _fit_size(c, fields[2], fields[3], s["body"])
    return _Layout(cf, (ix0, iy0, ix1, iy1), fields, contact, qr_box, caption, side, size, fits, iy1 - stamp_h)


def _fit_size(c: CardContent, width: float, space: float, preferred: float) -> tuple[float, bool]:
    """The largest size from `preferred` down to MIN_BODY_PT at which the fields fit `space` (and whether any
    does)."""
    size = preferred
    texts = [v for _, v in c.fields]
    while True:
        table = _table(width, size)
        if space > 0 and len(table.paginate(_rows(c, texts), space, space)) == 1:
            return size, True
        if size <= MIN_BODY_PT:
            return MIN_BODY_PT, False
        size = max(MIN_BODY_PT, size * 0.93)


def _draw_card(canvas, c: CardContent, slot, stamp: Stamp, grey: bool) -> dict:
    lay = _layout(c, slot)
    s = _sizes(lay.cf)
    x0, y0, x1, y1 = slot
    cf = lay.cf
    m = mm(6) * cf
    palette = load_palette()
    if c.level is not None:
        style = palette.styles[c.level]
        band_fill = style.grey if grey else style.fill
        band_hatch = style.hatch if grey else ""
        level_text = f"风险等级：{c.level.zh}"
    else:
        band_fill, band_hatch, level_text = NO_LEVEL_FILL, "", "风险等级：未评估"
    border = band_fill if not grey else "#333333"
    canvas.drawRect(skia.Rect(x0 + m, y0 + m, x1 - m, y1 - m),
                    skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(border),
                               StrokeWidth=2.2 * cf))
    ix0, iy0, ix1, iy1 = lay.box
    width = ix1 - ix0

    a, _ = fonts.metrics(s["title"])
    fonts.draw_text(canvas, c.kind_title, (ix0 + ix1) / 2, iy0 + a, s["title"], TEXT, align="centre", bold=True)
    y = iy0 + fonts.line_height(s["title"], 1.3)
    na, _ = fonts.metrics(s["name"])
    fonts.draw_text(canvas, fonts.fit_line(f"{c.title} · 编号 {c.unit_id}", s["name"], width), (ix0 + ix1) / 2,
                    y + na, s["name"], TEXT, align="centre")
    y += fonts.line_height(s["name"], 1.5)

    band_h = s["band"] * 1.6
    rect = skia.Rect(ix0, y, ix1, y + band_h)
    canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=colour_int(band_fill)))
    if band_hatch:
        path = skia.Path()
        path.addRect(rect)
        hatch_drawer(10 * cf)(canvas, path, band_hatch)
    ba, bd = fonts.metrics(s["band"])
    if band_hatch:          # a plate of the band's grey keeps the text clear of the hatch
        tw = fonts.width(level_text, s["band"])
        canvas.drawRRect(skia.RRect.MakeRectXY(skia.Rect((ix0 + ix1 - tw) / 2 - 3 * cf, y + band_h * 0.14,
                                                         (ix0 + ix1 + tw) / 2 + 3 * cf, y + band_h * 0.86),
                                               2 * cf, 2 * cf), skia.Paint(AntiAlias=True, Color=colour_int(band_fill)))
    fonts.draw_text(canvas, level_text, (ix0 + ix1) / 2, y + (band_h - (ba + bd)) / 2 + ba, s["band"],
                    readable_on(band_fill), align="centre", bold=True)

    fonts.draw_text(canvas, fonts.fit_line(stamp.text(), s["stamp"], width), ix0, iy1 - s["stamp"] * 0.3,
                    s["stamp"], MUTED)
    qx, qy, qsize = lay.qr_box
    canvas.drawPath(qr_path(c.url, qx, qy, qsize), skia.Paint(AntiAlias=False, Color=skia.ColorBLACK))
    _qr_caption(canvas, c, lay.caption_box, s["label"])
    _contact(canvas, c, lay.contact_box, cf, s)
    cut = _fields(canvas, c, lay)
    return {"body": lay.size, "stamp_top": lay.stamp_top, "cut": cut}


def caption_lines(c: CardContent, size: float, width: float) -> list[tuple[str, str]]:
    """The lines under the QR code: what scanning does, the whole address it holds (wrapped, never cut), and a
    warning in red when that address is this machine's own."""
    lines = [("扫码查看单元风险详情", MUTED)] + [(t, TEXT) for t in fonts.wrap(c.url, size, width)]
    if c.loopback:
        lines += [(t, WARN) for t in fonts.wrap(LOOPBACK_WARNING, size, width)]
    return lines


def _qr_caption(canvas, c: CardContent, box, size: float) -> None:
    x, y, width = box
    a, _ = fonts.metrics(size)
    for text, colour in caption_lines(c, size, width):
        fonts.draw_text(canvas, text, x + width, y + a, size, colour, align="right", bold=colour == WARN)
        y += fonts.line_height(size, 1.25)


def _contact(canvas, c: CardContent, box, cf: float, s: dict) -> None:
    """The general warning sign, the emergency phone and the responsible person."""
    x, y, width, height = box
    stacked = width < mm(55) * cf           # a narrow column: the sign above the text
    sign = min(height * 0.45, mm(16) * cf, width * 0.4)
    _warning_sign(canvas, x + sign / 2, y + sign * 0.55, sign)
    if stacked:
        y += sign * 1.2
        height -= sign * 1.2
    text_x = x if stacked else x + sign + mm(3) * cf
    avail = x + width - text_x
    label = s["label"]
    fonts.draw_text(canvas, fonts.fit_line("应急电话", label, avail), text_x, y + fonts.metrics(label)[0], label, MUTED)
    py = y + fonts.line_height(label, 1.25)
    size = s["phone"]
    while fonts.width(c.phone, size) > avail and size > MIN_BODY_PT:
        size = max(MIN_BODY_PT, size * 0.92)
    fonts.draw_text(canvas, fonts.fit_line(c.phone, size, avail), text_x, py + fonts.metrics(size)[0], size, WARN,
                    bold=True)
    py += fonts.line_height(size, 1.35)
    if not stacked:
        py = max(py, y + sign * 1.15)
    for line in fonts.wrap(f"责任人：{c.responsible}", label, width)[:2]:
        if py + fonts.line_height(label, 1.3) > y + height:
            break
        fonts.draw_text(canvas, line, x, py + fonts.metrics(label)[0], label, TEXT)
        py += fonts.line_height(label, 1.3)


def _fields(canvas, c: CardContent, lay: _Layout) -> bool:
    """Draw the fields table at the layout's size; returns whether text had to be cut (one card per sheet)."""
    x, y, width, space = lay.fields_box
    table = _table(width, lay.size)
    texts = [v for _, v in c.fields]
    rows = _rows(c, texts)
    pages = table.paginate(rows, space, space)
    cut = len(pages) > 1
    if cut:
        texts = _cut(texts, table, space, lay.size)
        rows = _rows(c, texts)
        pages = table.paginate(rows, space, space)
    table.draw(canvas, x, y, rows, pages[0])
    return cut


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
