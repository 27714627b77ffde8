"""The phone page of one unit, `/u/{unit id}` (the post card's QR code): what a worker at the post needs at a
glance and a way to report a hazard from there.

Phone first (viewport set, one column, large tap targets), self-contained (no external URL: styles and the one
script inline, the script allowed by its hash in the page's Content-Security-Policy), Chinese first with English
on `?lang=en`. The level banner is the only place a risk colour is used, because it shows the unit's own level.
Every piece of text from the ledger is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

TEXT = {
    "zh": {"other": "English", "level": "风险等级", "none": "未评估", "risks": "风险", "controls": "管控措施",
           "emergency": "应急处置措施", "call": "拨打应急电话", "no_phone": "未登记应急电话",
           "hazards": "本岗位未关闭的隐患", "no_hazards": "暂无未关闭的隐患", "report": "上报隐患",
           "photo": "拍照（可选）", "what": "简要描述（必填）", "place": "位置", "send": "提交", "sending": "正在提交…",
           "sent": "已上报，等待确认", "signin": "请先登录后再上报", "signin_link": "登录", "failed": "上报失败",
           "map": "在地图上查看", "overdue": "已超期", "deadline": "整改期限", "department": "责任部门",
           "responsible": "负责人", "events": "个风险事件", "photo_failed": "照片未上传",
           "sent_anonymous": "已匿名上报，管理人员确认后才会公开", "photo_signin": "照片需登录后上传"},
    "en": {"other": "中文", "level": "Risk level", "none": "not assessed", "risks": "Risks",
           "controls": "Control measures", "emergency": "Emergency measures", "call": "Call the emergency number",
           "no_phone": "no emergency number on record", "hazards": "Open hazards here", "no_hazards": "No open hazard",
           "report": "Report a hazard", "photo": "Photo (optional)", "what": "Short description (required)",
           "place": "Place", "send": "Send", "sending": "Sending…", "sent": "Reported, awaiting confirmation",
           "signin": "Sign in to report", "signin_link": "Sign in", "failed": "Not reported",
           "map": "See it on the map", "overdue": "overdue", "deadline": "Deadline", "department": "Department",
           "responsible": "Responsible", "events": "risk events", "photo_failed": "photo not uploaded",
           "sent_anonymous": "Reported anonymously: it is shown once a manager confirms it",
           "photo_signin": "sign in to add a photo"},
}

_STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;
font-size:17px;line-height:1.45;color:#1a1a1a;background:#f4f4f4}
header{padding:14px 16px 18px}header h1{margin:0;font-size:24px}header .id{opacity:.85;font-size:14px}
header .lv{font-size:30px;font-weight:700;margin-top:6px}
main{padding:0 12px 32px}section{background:#fff;border-radius:10px;margin:12px 0;padding:12px 14px}
h2{font-size:18px;margin:0 0 8px}ul{margin:0;padding-left:20px}li{margin:6px 0}
.muted{color:#555;font-size:14px}.call{display:block;text-align:center;background:#1a1a1a;color:#fff;
text-decoration:none;font-size:22px;font-weight:700;padding:16px;border-radius:10px;margin:12px 0}
.hz{list-style:none;padding:0}.hz li{border-left:6px solid #B000B0;padding:4px 10px}
.hz li.late{border-left-color:#000}label{display:block;font-weight:600;margin:10px 0 4px}
textarea,input[type=file]{width:100%;font-size:17px}textarea{min-height:84px;padding:8px}
button{width:100%;font-size:20px;padding:14px;margin-top:12px;border:0;border-radius:10px;background:#4a148c;
color:#fff}#msg{margin-top:10px;font-weight:600}nav{display:flex;justify-content:space-between;padding:0 16px}
nav a{color:#333}
"""

_SCRIPT = """
(function () {
  var form = document.getElementById("report"), msg = document.getElementById("msg");
  if (!form) return;
  var d = JSON.parse(document.getElementById("unit-data").textContent);
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function headers(json) {
    var h = {}; var csrf = cookie("riskmap_csrf");
    if (csrf) h["X-CSRF-Token"] = csrf;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  function say(text, bad) { msg.textContent = text; msg.style.color = bad ? "#000" : "#4a148c"; }
  function shrink(file) {            // a phone photo is large: send it at most 1600 px wide, as JPEG
    if (!window.createImageBitmap || !file) return Promise.resolve(file);
    return createImageBitmap(file).then(function (img) {
      var k = Math.min(1, 1600 / Math.max(img.width, img.height));
      var c = document.createElement("canvas");
      c.width = Math.round(img.width * k); c.height = Math.round(img.height * k);
      c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
      return new Promise(function (ok) { c.toBlob(function (b) { ok(b || file); }, "image/jpeg", 0.85); });
    }).catch(function () { return file; });
  }
  function anonymous(text, q) {      // kept unpublished until a manager confirms it: not added to the list here
    var body = {description: text.slice(0, 1000), unit_id: d.unit_id};
    return fetch("/api/hazard-reports" + q, {method: "POST", credentials: "omit",
                 headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (r.status !== 201) { say(d.t.failed + "：" + (b.detail || r.status), true); return null; }
          var photo = form.elements.photo.files[0];
          say(d.t.sent_anonymous + (photo ? "（" + d.t.photo_signin + "）" : ""), !!photo);
          document.getElementById("signin").hidden = false;
          form.reset(); return null;
        });
      });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = form.elements.what.value.trim();
    if (!text) { say(d.t.what, true); return; }
    var button = form.querySelector("button"); button.disabled = true; say(d.t.sending);
    var body = {name: text.slice(0, 60), description: text, unit_id: d.unit_id, source: 1};
    if (d.department) body.department = d.department;
    var q = "?enterprise=" + encodeURIComponent(d.enterprise);
    fetch("/api/hazards" + q, {method: "POST", credentials: "same-origin", headers: headers(true),
                                body: JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) { return {r: r, b: b}; });
      })
      .then(function (x) {
        if (x.r.status === 401) return anonymous(text, q);      // not signed in: an unconfirmed report
        if (x.r.status === 403) {
          say(d.t.signin, true); document.getElementById("signin").hidden = false; return null;
        }
        if (x.r.status !== 201) { say(d.t.failed + "：" + (x.b.detail || x.r.status), true); return null; }
        var h = x.b.hazard, li = document.createElement("li");
        li.setAttribute("data-hazard-id", h.id);
        li.textContent = h.name + " · " + (d.lang === "zh" ? h.state_label.split(" / ")[0]
                                                               : h.state_label.split(" / ").pop());
        var list = document.getElementById("hazards"), none = document.getElementById("no-hazards");
        if (none) none.remove();
        list.insertBefore(li, list.firstChild);
        var file = form.elements.photo.files[0];
        if (!file) return true;
        return shrink(file).then(function (blob) {
          var fd = new FormData(); fd.append("file", blob, "photo.jpg");
          return fetch("/api/hazards/" + encodeURIComponent(h.id) + "/photos/before" + q,
                       {method: "POST", credentials: "same-origin", headers: headers(false), body: fd});
        }).then(function (r) { if (r.status !== 201) say(d.t.sent + "（" + d.t.photo_failed + "）", true);
                               return r.status === 201; });
      })
      .then(function (ok) {
        button.disabled = false;
        if (ok) { say(d.t.sent); form.reset(); }
      })
      .catch(function (err) { button.disabled = false; say(d.t.failed + "：" + err, true); });
  });
})();
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _ink(fill: str) -> str:
    """Black or white text on a banner colour, whichever reads better."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#FFFFFF"


def _split(text: str | None) -> list[str]:
    """A measures text as lines (the ledger keeps them as one text, numbered or separated by ；)."""
    if not text:
        return []
    parts = [p.strip() for chunk in str(text).replace("；", "\n").replace(";", "\n").splitlines()
             for p in [chunk] if p.strip()]
    return parts


def unit_page(*, enterprise: str, unit: dict[str, Any], phone: str | None, hazards: list[dict[str, Any]],
              lang: str, fill: str | None, favicon: str | None = None) -> str:
    """The page: `unit` is identify's unit answer, `hazards` the open ones here (hazard_dict), `fill` the level's
    colour from the palette (None: not assessed)."""
    t = TEXT[lang]
    zh = lang == "zh"
    fill = fill or "#BDBDBD"
    level = (unit.get("level_zh") if zh else unit.get("level_en")) or t["none"]
    events = unit.get("events") or []
    risks = "".join(
        f"<li><strong>{_e(ev['name'])}</strong> <span class=muted>{_e(ev.get('level_zh') or '')}"
        f"{' · ' + _e(ev['accident_type']) if ev.get('accident_type') else ''}</span></li>" for ev in events)
    controls, seen = [], set()
    for ev in events:
        for c in ev.get("controls") or []:
            if c["description"] and c["description"] not in seen:
                seen.add(c["description"])
                who = " · ".join(x for x in (c.get("department"), c.get("person")) if x)
                extra = f" <span class=muted>{_e(who)}</span>" if who else ""
                controls.append(f"<li>{_e(c['description'])}{extra}</li>")
        for line in _split(ev.get("existing_measures")):
            if line not in seen:
                seen.add(line)
                controls.append(f"<li>{_e(line)}</li>")
    emergency = []
    for ev in events:
        for line in _split(ev.get("emergency_measures")):
            if line not in emergency:
                emergency.append(line)
    hz = []
    for h in hazards:
        label = h["state_label"].split(" / ")
        bits = [h["level_label"].split(" / ")[0 if zh else -1], label[0 if zh else -1]]
        if h.get("overdue"):
            bits.append(t["overdue"])
        if h.get("deadline"):
            bits.append(f"{t['deadline']} {h['deadline']}")
        hz.append(f'<li data-hazard-id="{_e(h["id"])}"{" class=late" if h.get("overdue") else ""}>'
                  f"{_e(h['name'])} <span class=muted>{_e(' · '.join(bits))}</span></li>")
    phone_html = (f'<a class="call" href="tel:{_e("".join(ch for ch in phone if ch.isdigit() or ch in "+-"))}">'
                  f"☎ {t['call']}<br>{_e(phone)}</a>") if phone else f"<p class=muted>{t['no_phone']}</p>"
    from urllib.parse import quote, urlencode

    here = f"/u/{quote(unit['id'], safe='')}"
    other = "en" if zh else "zh"
    data = {"enterprise": enterprise, "unit_id": unit["id"], "department": unit.get("department"), "lang": lang,
            "t": t}
    data_json = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    icon = f'<link rel="icon" href="{_e(favicon)}" type="image/svg+xml">' if favicon else ""
    people = " · ".join(x for x in (unit.get("department"), unit.get("responsible_person")) if x)
    place = " › ".join([*(unit.get("path") or []), unit["name"]])
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(unit['name'])} · {_e(level)}</title>{icon}<style>{_STYLE}</style></head><body>"
        f'<header id="banner" style="background:{fill};color:{_ink(fill)}" data-level="{_e(unit.get("level"))}">'
        f"<h1>{_e(unit['name'])}</h1><div class=id>{_e(unit['id'])} · {_e(enterprise)}</div>"
        f"<div class=lv>{t['level']}：{_e(level)}</div></header>"
        f'<nav><a href="{_e(here + "?" + urlencode({"lang": other}))}">{t["other"]}</a>'
        f'<a href="{_e("/map?" + urlencode({"unit": unit["id"], "enterprise": enterprise}))}">{t["map"]}</a>'
        "</nav><main>"
        f"{phone_html}"
        f'<section id="risks"><h2>{t["risks"]}</h2>'
        f"{'<ul>' + risks + '</ul>' if risks else '<p class=muted>—</p>'}"
        f"{'<p class=muted>' + _e(t['responsible']) + '：' + _e(people) + '</p>' if people else ''}</section>"
        f'<section id="controls"><h2>{t["controls"]}</h2>'
        f"{'<ul>' + ''.join(controls) + '</ul>' if controls else '<p class=muted>—</p>'}</section>"
        f'<section id="emergency"><h2>{t["emergency"]}</h2>'
        f"{'<ul>' + ''.join(f'<li>{_e(x)}</li>' for x in emergency) + '</ul>' if emergency else '<p class=muted>—</p>'}"
        "</section>"
        f'<section><h2>{t["hazards"]}</h2><ul class="hz" id="hazards">{"".join(hz)}</ul>'
        f"{'' if hz else '<p class=muted id=no-hazards>' + t['no_hazards'] + '</p>'}</section>"
        f'<section><h2>{t["report"]}</h2><form id="report">'
        f'<label for="photo">{t["photo"]}</label>'
        '<input id="photo" name="photo" type="file" accept="image/*" capture="environment">'
        f'<label for="what">{t["what"]}</label><textarea id="what" name="what" maxlength="2000" required></textarea>'
        f"<p class=muted>{t['place']}：{_e(place)}（{_e(unit['id'])}）</p>"
        f'<button type="submit">{t["send"]}</button><div id="msg" role="status"></div>'
        f'<p id="signin" hidden><a href="{_e("/login?" + urlencode({"next": here, "lang": lang}))}">'
        f'{t["signin_link"]}</a></p>'
        "</form></section></main>"
        f'<script type="application/json" id="unit-data">{data_json}</script>'
        f"<script>{_SCRIPT}</script></body></html>")
