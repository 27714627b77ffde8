"""The demo plant's hidden hazards: a realistic set (general and major, every state, some overdue, a failed control
measure, a pending extension, 即查即改) with generated photos, written through the same workflow and store
functions as real ones, by the demo's accounts, at moments spread over the past weeks.

Each hazard is a script of steps (action, days before now, fields). Hazards whose loop ends (accepted, closed)
are placed by their location only, not by a unit, so the demo's re-assessment flags and risk colours stay as the
ledger makes them; open ones name their unit (and the failed control) so the unit popup and card can show them.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from riskmap import clock
from riskmap.hazards import Actor

PLAN = {"goal": "消除隐患，恢复本质安全条件", "methods": "按设计文件整改，整改后专项检查",
        "funds": "列入本年度安全投入，专款专用", "organisation": "设备部牵头，储运部配合，安全环保部监督",
        "schedule": "按整改期限完成，每周报告进度", "safety": "整改期间落实作业许可、监护和临时监测措施",
        "emergency": "执行储罐区泄漏专项应急预案，应急物资到位"}
FIVE = {"liable_person": "王设备（设备部经理）", "rectification_measures": "按整改方案实施", "cost": "86000",
        "plan": PLAN}
# (key, unit (None: placed by location), report fields, steps [(action, days ago, fields, reason)], photos)
SCRIPTS: list[tuple[str, str | None, dict[str, Any], list[tuple], list[str]]] = [
    ("breather", "CY-01-02", {"name": "T-102 呼吸阀阻火器锈蚀", "source": 1, "hazard_type": 7,
                              "description": "呼吸阀阻火器外壳锈蚀，阻火网未见检查记录", "department": "储运部"},
     [], ["before"]),
    ("control-room", "CY-03-02", {"name": "装卸控制室面向装置一侧为普通玻璃窗", "source": 3, "hazard_type": 6,
                                  "item": "chem-2017-121:13", "department": "储运部",
                                  "description": "控制室东侧窗面向装卸区，未采取防火防爆措施"}, [], []),
    ("static", "CY-03-01-03", {"name": "液氨卸车鹤位静电接地报警器失灵", "source": 9, "hazard_type": 3,
                               "risk_event": "#1", "control_index": 0, "department": "储运部"},
     [("confirm", 2, {}, None)], ["before"]),
    ("seal", "CY-01-07-01", {"name": "甲醇输送泵 P-101A 机封渗漏", "source": 1, "hazard_type": 7,
                             "department": "储运部", "cause": "机封磨损"},
     [("confirm", 3, {}, None), ("assign", 3, {"deadline": 5}, None)], ["before"]),
    ("gas-alarm", "CY-04-01", {"name": "甲类仓库可燃气体报警器超期未标定", "source": 2, "hazard_type": 4,
                               "department": "储运部"},
     [("confirm", 12, {}, None), ("assign", 12, {"deadline": -3}, None)], []),
    ("cutoff", "CY-01-05", {"name": "液氨储罐区未实现紧急切断功能", "source": 8, "hazard_type": 2,
                            "item": "chem-2017-121:5", "department": "储运部",
                            "description": "液氨储罐进出料管线未设置紧急切断阀，构成二级重大危险源"},
     [("confirm", 20, {}, None), ("assign", 19, {"deadline": 25}, None), ("rectify", 15, FIVE, None)], ["before"]),
    ("safety-valve", "SC-01-01-01", {"name": "合成反应器 R-201 安全阀校验过期", "source": 3, "hazard_type": 7,
                                     "item": "chem-2017-121:15", "department": "合成车间"},
     [("confirm", 30, {}, None), ("assign", 30, {"deadline": -2}, None), ("rectify", 28, FIVE, None),
      ("request_extension", 3, {"deadline": 20}, "备用安全阀到货延迟，需停车更换")], []),
    ("blind-plate", "SC-01-06", {"name": "盲板抽堵作业票填写不全", "source": 1, "hazard_type": 1,
                                 "department": "设备部"},
     [("confirm", 6, {}, None), ("assign", 6, {"deadline": 4}, None), ("rectify", 5, {}, None),
      ("submit", 1, {"note": "已对作业人员重新培训，作业票补填完整"}, None)], ["before", "after"]),
    ("insulation", None, {"name": "脱氨塔 C-301 保温层破损", "source": 4, "hazard_type": 7, "department": "精馏车间"},
     [("confirm", 18, {}, None), ("assign", 18, {"deadline": 10}, None), ("rectify", 16, {}, None),
      ("submit", 10, {"note": "更换破损保温层 6 米"}, None), ("accept", 9, {"note": "现场复查，保温完好"}, None)],
     ["before", "after"]),
    ("dike-valve", None, {"name": "中间罐区围堰排水阀常开", "source": 1, "hazard_type": 1, "department": "储运部"},
     [("confirm", 25, {}, None), ("assign", 25, {"deadline": 3}, None), ("rectify", 24, {}, None),
      ("submit", 23, {"note": "排水阀关闭并挂牌，纳入交接班检查"}, None), ("accept", 22, {"note": "验收合格"}, None),
      ("close", 21, {}, None)], ["after"]),
    ("lamp", None, {"name": "罐区照明灯不亮", "source": 1, "hazard_type": 3, "department": "储运部"},
     [("reject", 7, {}, "已列入日常维修，不属于隐患")], []),
]
ON_SPOT = ("extinguisher", {"name": "物流门岗灭火器压力不足", "source": 1, "hazard_type": 5, "department": "行政部",
                            "note": "当场更换合格灭火器"}, 4)


def _actors(store, enterprise: str) -> dict[str, Actor]:
    from riskmap.people import permissions_of
    from riskmap.store import accounts

    out = {}
    for role in ("inspector", "safety_manager", "rectifier"):
        found = accounts.get_account(store, enterprise, f"demo-{role}")
        out[role] = Actor(found["name"], found["id"], permissions_of(found["roles"]))
    return out


def photo(title_colour: tuple[int, int, int], seed: int, gps: tuple[float, float] | None) -> bytes:
    """A generated site photo (JPEG, 640×480): a scene of pipes and a marked spot, with EXIF location."""
    im = Image.new("RGB", (640, 480), (176, 186, 196))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 330, 640, 480), fill=(120, 118, 110))
    for i in range(4):
        y = 120 + 50 * i + seed % 17
        draw.rectangle((0, y, 640, y + 18), fill=(150 + 20 * i, 150, 140))
    draw.rectangle((380 + seed % 60, 150, 520 + seed % 60, 330), fill=(200, 200, 205), outline=(90, 90, 90), width=4)
    cx, cy = 300 + (seed * 37) % 200, 200 + (seed * 13) % 120
    draw.ellipse((cx - 48, cy - 48, cx + 48, cy + 48), outline=title_colour, width=8)
    exif = Image.Exif()
    exif[0x0110] = "riskmap demo"
    if gps is not None:
        lon, lat = gps

        def dms(value: float):
            d = int(value)
            m = int((value - d) * 60)
            return (float(d), float(m), round(((value - d) * 60 - m) * 60, 3))

        exif.get_ifd(0x8825).update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def _prefixes(code: str) -> list[str]:
    """A demo unit code and its ancestors' (the codes are hierarchical: SC-01-06 → SC-01 → SC)."""
    parts = code.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _place(points: dict, unit: str | None, key: str, fallback) -> Any:
    """A point near where the map draws the unit (or its nearest drawn ancestor), spread a little per hazard."""
    base = next((points[c] for c in _prefixes(unit) if c in points), None) if unit else None
    if base is None:
        base = fallback
    if base is None:
        return None
    k = sum(map(ord, key))
    return {"type": "Point", "coordinates": [round(base.x + ((k % 7) - 3) * 4e-5, 7),
                                             round(base.y + ((k % 5) - 2) * 4e-5, 7)]}


def load_demo_hazards(store, enterprise: str, settings) -> dict[str, int]:
    """Write the demo's hazards (and their photos into the settings' media folder); counts by state."""
    from riskmap.store import hazards

    now = clock.now()
    who = _actors(store, enterprise)
    roles = {"confirm": "safety_manager", "assign": "safety_manager", "reject": "safety_manager",
             "close": "safety_manager", "rectify": "rectifier", "submit": "rectifier",
             "request_extension": "rectifier", "accept": "safety_manager"}
    units = {unit for _, unit, _, _, _ in SCRIPTS if unit}
    places = {"insulation": "SC-02-01", "dike-valve": "CY-02-01", "lamp": "CY-01-04", "extinguisher": "CY-06-03"}
    wanted = {c for code in units | set(places.values()) for c in _prefixes(code)}
    points = hazards.unit_locations(store, enterprise, wanted)
    fallback = {k: next((points[c] for c in _prefixes(code) if c in points), None) for k, code in places.items()}
    folder = settings.media_folder()
    counts: dict[str, int] = {}
    for n, (key, unit, fields, steps, stages) in enumerate(SCRIPTS):
        days = (steps[0][1] + 1) if steps else 1
        values = dict(fields)
        values["location"] = _place(points, unit, key, fallback.get(key))
        if unit:
            values["unit_code"] = unit
        if "risk_event" in values:
            values["risk_event_code"] = values.pop("risk_event")
        made = hazards.write(store, enterprise, None, "report", who["inspector"], values,
                             now=now - timedelta(days=days, hours=3))["hazard"]
        gps = tuple(made["location"]["coordinates"]) if made["location"] else None
        if "before" in stages:
            hazards.add_photo(store, enterprise, made["id"], photo((220, 40, 40), n, gps), stage="before",
                              who=who["inspector"], folder=folder, max_bytes=settings.max_photo_bytes,
                              max_pixels=settings.max_photo_pixels, now=now - timedelta(days=days, hours=2))
        for action, ago, given, reason in steps:
            given = dict(given)
            when = now - timedelta(days=ago, hours=1)
            if "deadline" in given:
                given["deadline"] = (clock.local_date(now) + timedelta(days=given["deadline"])).isoformat()
            if action == "assign":
                given.update(rectifier=who["rectifier"].name, rectifier_id=who["rectifier"].account_id)
                if given["deadline"] < clock.local_date(when).isoformat():   # overdue now: assigned long ago
                    when = datetime.fromisoformat(given["deadline"] + "T00:00:00+08:00") - timedelta(days=7)
            if action == "submit" and "after" in stages:
                hazards.add_photo(store, enterprise, made["id"], photo((40, 160, 60), n + 50, gps), stage="after",
                                  who=who["rectifier"], folder=folder, max_bytes=settings.max_photo_bytes,
                                  max_pixels=settings.max_photo_pixels, now=when)
            made = hazards.write(store, enterprise, made["id"], action, who[roles[action]], given, reason=reason,
                                 now=when)["hazard"]
        counts[made["state"]] = counts.get(made["state"], 0) + 1
    key, fields, days = ON_SPOT
    values = dict(fields, location=_place(points, None, key, fallback.get(key)))
    done = hazards.report(store, enterprise, who["inspector"], values, on_spot=True,
                          now=now - timedelta(days=days))["hazard"]
    counts[done["state"]] = counts.get(done["state"], 0) + 1
    return counts
