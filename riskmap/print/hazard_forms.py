"""The two papers of a hazard's loop, as PDF: the rectification notice (隐患整改通知单) that goes with an assignment,
and the acceptance record (隐患整改验收记录) signed when the work is accepted.

Each is an A4 sheet drawn with the prints' fonts and ruled table (riskmap.print.fonts, riskmap.print.table): a
title, the enterprise and the hazard's id, a two-column table of the record's fields (it flows over pages when the
texts are long), the photos (before rectification on the notice, after on the record; EXIF-free copies), the
signature lines to sign by hand and a footer with the hazard's version and the Beijing time of printing.
`form_pdf` reads the hazard (riskmap.store.hazards) and draws; `notice_pages` / `acceptance_pages` draw from the
hazard as the store answers it, so they are tested without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import skia

from riskmap import clock
from riskmap.errors import RiskmapError
from riskmap.hazards import PLAN_PARTS
from riskmap.print import fonts, output
from riskmap.print.fonts import colour_int
from riskmap.print.paper import mm, paper
from riskmap.print.table import Cell, Table

if TYPE_CHECKING:
    from riskmap.store.repository import Store

KINDS = {"notice": ("隐患整改通知单", "Rectification notice"),
         "acceptance": ("隐患整改验收记录", "Acceptance record of a rectification")}
MARGIN = mm(15)
TEXT_SIZE = 10.0
MAX_PHOTOS = 3
PHOTO_H = mm(32)
# States in which each paper can be issued: a notice once the work is assigned (it names who and by when), an
# acceptance record once the work is accepted.
ISSUED_FROM = {"notice": ("assigned", "rectifying", "awaiting_acceptance", "accepted", "closed"),
               "acceptance": ("accepted", "closed")}


class FormStateError(RiskmapError, http_status=409):
    """A paper asked for before the hazard reached the state it records (a notice before assignment, an acceptance
    record before acceptance)."""


@dataclass(frozen=True)
class Photo:
    """A photo to print: its bytes (EXIF removed) and its stage."""

    data: bytes
    stage: str


# ---------------------------------------------------------------------------------------------- the fields


def _moment(value: str | None) -> str:
    if not value:
        return ""
    try:
        return clock.local_text(datetime.fromisoformat(value), seconds=False)
    except ValueError:
        return str(value)


def _step(hazard: dict[str, Any], *actions: str) -> dict[str, Any] | None:
    """The last timeline step of these actions."""
    found = [s for s in hazard.get("timeline") or [] if s["action"] in actions]
    return found[-1] if found else None


def _label(value: str | None, zh: bool = True) -> str:
    return (value or "").split(" / ")[0] if zh else (value or "")


def _place(hazard: dict[str, Any]) -> str:
    bits = []
    if hazard.get("unit_id"):
        bits.append(f"评估单元 {hazard['unit_id']}")
    if hazard.get("risk_event"):
        bits.append(f"风险事件 {hazard['risk_event']}")
    if hazard.get("fid"):
        bits.append(f"要素 {hazard['fid']}")
    loc = hazard.get("location")
    if loc and loc.get("type") == "Point":
        lon, lat = loc["coordinates"][:2]
        bits.append(f"经纬度 {lon:.6f}, {lat:.6f}")
    elif loc:
        bits.append("见地图（面）")
    return "；".join(bits)


def _level(hazard: dict[str, Any]) -> str:
    text = _label(hazard.get("level_label")) or ("重大隐患" if hazard.get("major") else "一般隐患")
    if hazard.get("item"):
        text += f"（判定依据：{hazard.get('item_document') or ''} {hazard['item']} {hazard.get('item_text') or ''}）"
    return text


def _money(value: str | None) -> str:
    return f"{value} 元" if value not in (None, "") else ""


def notice_rows(hazard: dict[str, Any]) -> list[tuple[str, str]]:
    """The notice's (label, value) rows."""
    assigned = _step(hazard, "assign", "fix_on_spot")
    rows = [
        ("隐患名称", hazard["name"]), ("隐患编号", hazard["id"]), ("隐患等级", _level(hazard)),
        ("隐患来源", _label(hazard.get("source_label"))), ("隐患类型", _label(hazard.get("hazard_type_label"))),
        ("所在位置", _place(hazard)), ("隐患描述", hazard.get("description") or ""),
        ("隐患原因", hazard.get("cause") or ""),
        ("发现（登记）", f"{hazard.get('registrant') or ''}  {_moment(hazard.get('registered_at'))}"),
        ("责任部门", hazard.get("department") or ""), ("整改责任人", hazard.get("liable_person") or ""),
        ("整改人", hazard.get("rectifier") or ""),
        ("整改要求及措施", hazard.get("rectification_measures") or ""),
        ("整改资金", _money(hazard.get("cost"))), ("整改期限", hazard.get("deadline") or ""),
    ]
    if hazard.get("major"):
        plan = hazard.get("plan") or {}
        rows += [(f"整改方案：{zh}", plan.get(key, "")) for key, (zh, _) in PLAN_PARTS.items()]
    if hazard.get("extension"):
        rows.append(("待批准的延期", f"申请延至 {hazard['extension'].get('deadline')}"))
    if assigned is not None:
        rows.append(("签发（指派）", f"{assigned.get('author') or ''}  {_moment(assigned.get('at'))}"))
    return rows


def acceptance_rows(hazard: dict[str, Any]) -> list[tuple[str, str]]:
    """The acceptance record's (label, value) rows."""
    submitted = _step(hazard, "submit", "fix_on_spot")
    deadline = hazard.get("deadline") or ""
    accepted_at = hazard.get("accept_at")
    late = ""
    if deadline and accepted_at:
        late = "是" if clock.local_date(datetime.fromisoformat(accepted_at)).isoformat() > deadline else "否"
    send_backs = [s for s in hazard.get("timeline") or [] if s["action"] == "send_back"]
    rows = [
        ("隐患名称", hazard["name"]), ("隐患编号", hazard["id"]), ("隐患等级", _level(hazard)),
        ("所在位置", _place(hazard)), ("隐患描述", hazard.get("description") or ""),
        ("责任部门", hazard.get("department") or ""), ("整改责任人", hazard.get("liable_person") or ""),
        ("整改人", hazard.get("rectifier") or ""),
        ("整改措施", hazard.get("rectification_measures") or ""),
        ("整改完成情况", hazard.get("rectification_note") or ""),
        ("提交验收", f"{(submitted or {}).get('author') or ''}  {_moment((submitted or {}).get('at'))}"),
        ("整改资金", _money(hazard.get("cost"))), ("整改期限", deadline), ("是否超期验收", late),
        ("退回整改次数", str(len(send_backs))),
        ("验收意见", hazard.get("accept_comment") or ""),
        ("验收人", hazard.get("accept_person") or ""), ("验收时间", _moment(accepted_at)),
        ("国家接口状态", f"dangerState {hazard.get('danger_state')}"),
    ]
    return rows


# ---------------------------------------------------------------------------------------------- drawing


def _image(data: bytes):
    try:
        return skia.Image.MakeFromEncoded(skia.Data.MakeWithCopy(data))
    except Exception:            # a file that no longer decodes is left out, never a failed print
        return None


def _photos_height(photos: Sequence[Photo]) -> float:
    return PHOTO_H + fonts.line_height(TEXT_SIZE) * 2 if photos else 0.0


def _draw_photos(canvas, photos: Sequence[Photo], x: float, y: float, width: float, title: str) -> float:
    if not photos:
        return y
    fonts.draw_text(canvas, title, x, y + TEXT_SIZE, TEXT_SIZE, bold=True)
    y += fonts.line_height(TEXT_SIZE) * 1.5
    gap = mm(4)
    slot = (width - gap * (MAX_PHOTOS - 1)) / MAX_PHOTOS
    frame = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#4D4D4D"), StrokeWidth=0.5)
    for k, photo in enumerate(photos[:MAX_PHOTOS]):
        image = _image(photo.data)
        left = x + k * (slot + gap)
        if image is None:
            continue
        scale = min(slot / image.width(), PHOTO_H / image.height())
        w, h = image.width() * scale, image.height() * scale
        rect = skia.Rect(left + (slot - w) / 2, y, left + (slot + w) / 2, y + h)
        canvas.drawImageRect(image, rect, skia.SamplingOptions(skia.FilterMode.kLinear))
        canvas.drawRect(rect, frame)
    return y + PHOTO_H + mm(3)


def _signatures(kind: str) -> list[str]:
    if kind == "notice":
        return ["签发人（签字）：", "接收人 / 整改责任人（签字）：", "日期：    年    月    日"]
    return ["验收人（签字）：", "整改责任人（签字）：", "日期：    年    月    日"]


def _signature_height() -> float:
    return fonts.line_height(TEXT_SIZE) * 2.2 * 2 + mm(4)


def _draw_signatures(canvas, kind: str, x: float, y: float, width: float) -> None:
    lines = _signatures(kind)
    step = fonts.line_height(TEXT_SIZE) * 2.2
    y += mm(4)
    ink = skia.Paint(AntiAlias=True, Color=colour_int("#1A1A1A"), StrokeWidth=0.6)
    for k, text in enumerate(lines[:2]):
        left = x + k * width / 2
        base = y + TEXT_SIZE
        used = fonts.draw_text(canvas, text, left, base, TEXT_SIZE)
        canvas.drawLine(left + used + 2, base + 2, left + width / 2 - mm(6), base + 2, ink)
    fonts.draw_text(canvas, lines[2], x + width / 2, y + step + TEXT_SIZE, TEXT_SIZE)


def form_pages(kind: str, hazard: dict[str, Any], enterprise: str, photos: Sequence[Photo] = (),
               now: datetime | None = None) -> list[output.Page]:
    """The pages of a notice or an acceptance record of `hazard` (as riskmap.store.hazards.get answers it)."""
    if kind not in KINDS:
        raise ValueError(kind)
    if hazard["state"] not in ISSUED_FROM[kind]:
        zh, en = KINDS[kind]
        state = hazard.get("state_label") or hazard["state"]
        raise FormStateError(f"隐患当前为“{_label(state)}”，还不能出具{zh} / the hazard is {state.split(' / ')[-1]}: "
                             f"no {en.lower()} yet")
    now = now or clock.now()
    sheet = paper("A4")
    width = sheet.width - 2 * MARGIN
    rows = notice_rows(hazard) if kind == "notice" else acceptance_rows(hazard)
    table = Table(["项目", "内容"], [1.15, 3.6], width, TEXT_SIZE)
    cells = [[Cell(label, fill="#F2F2F2", bold=True), Cell(fonts.clean(value))] for label, value in rows]
    head_h = mm(24)
    foot_h = mm(8)
    page_space = sheet.height - 2 * MARGIN - foot_h
    pieces = table.paginate(cells, page_space - head_h, page_space)
    zh, en = KINDS[kind]
    tail = _photos_height(photos) + _signature_height()
    bottom_of = sheet.height - MARGIN - foot_h
    # where the table ends on its last page, and whether photos and signatures still fit there
    last_end = MARGIN + (head_h if len(pieces) == 1 else 0) + table.header_h + sum(p.height for p in pieces[-1])
    extra_page = last_end + mm(6) + tail > bottom_of
    count = len(pieces) + (1 if extra_page else 0)
    stage_title = ("整改前照片 / photos before rectification" if kind == "notice"
                   else "整改后照片 / photos after rectification")

    def draw(number: int):
        def paint(canvas) -> None:
            canvas.clear(skia.ColorWHITE)
            y = MARGIN
            if number == 0:
                fonts.draw_text(canvas, zh, sheet.width / 2, y + 20, 20, align="centre", bold=True)
                fonts.draw_text(canvas, en, sheet.width / 2, y + 36, 10, "#4D4D4D", align="centre")
                info = f"企业 / enterprise：{enterprise}    编号 / no.：{hazard['id'][:8].upper()}    " \
                       f"出具日期 / issued：{clock.local_date(now).isoformat()}"
                fonts.draw_text(canvas, fonts.fit_line(info, 9, width), MARGIN, y + 54, 9)
                y += head_h
            if number < len(pieces):
                y = table.draw(canvas, MARGIN, y, cells, pieces[number]) + mm(6)
            if number == count - 1:
                y = _draw_photos(canvas, photos, MARGIN, y, width, stage_title)
                _draw_signatures(canvas, kind, MARGIN, y, width)
            footer = (f"riskmap · {zh} · 隐患 {hazard['id']} · 版本 v{hazard['version']} · 生成时间 generated "
                      f"{clock.local_text(now)}")
            pages_text = f"第 {number + 1} 页 / 共 {count} 页"
            used = fonts.draw_text(canvas, pages_text, MARGIN + width, sheet.height - MARGIN, 7, "#4D4D4D",
                                   align="right")
            fonts.draw_text(canvas, fonts.fit_line(footer, 7, width - used - mm(4)), MARGIN, sheet.height - MARGIN,
                            7, "#4D4D4D")
        return paint

    return [output.record(sheet.width, sheet.height, draw(n)) for n in range(count)]


def form_pdf(store: Store, enterprise: str, hazard_id: str, kind: str, media_folder: Path | None, *,
             withheld: bool = False, now: datetime | None = None) -> bytes:
    """The notice or acceptance record of a stored hazard as PDF bytes (404 for a hazard not found or withheld
    from this caller, 409 before the state the paper records); photos from `media_folder` (None: without)."""
    from riskmap.store import hazards as store_hazards

    hazard = store_hazards.get(store, enterprise, hazard_id, now, withheld=withheld)
    stage = "before" if kind == "notice" else "after"
    photos = []
    if media_folder is not None:
        for pic in hazard["photos"]:
            if pic["stage"] == stage and len(photos) < MAX_PHOTOS:
                try:
                    data, _ = store_hazards.photo_file(store, enterprise, hazard_id, pic["id"], media_folder,
                                                       withheld=withheld)
                except RiskmapError:          # a file gone from the media folder: printed without it
                    continue
                photos.append(Photo(data, stage))
    pages = form_pages(kind, hazard, enterprise, photos, now)
    zh, en = KINDS[kind]
    return output.pdf_bytes(pages, title=f"{zh} {hazard['name']}", subject=en, author=enterprise)
