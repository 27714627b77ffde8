"""The check-in page a phone opens when it scans a checkpoint's plate (GET /c/{token} asking for text/html).

Why a page of its own: an inspector stands at the post with a phone, one hand free. The page names the unit,
lists the checks due here now that are the signed-in person's, and for each item offers three large buttons
(通过 pass / 不合格 fail / 不适用 n.a.) and a note; "保存 / save" posts the answers as JSON to
POST /api/inspections/records (the same rules as any client: assignment, one check per window, a failed item
reported as a hidden hazard in the record's transaction) with the session's CSRF token, and shows the record and
the hazards it made. Everything is on the page or from this server (no external URL); the one inline script is
allowed by its hash (riskmap.api.headers). Chinese first, English beside it.
"""

from __future__ import annotations

from datetime import time
from html import escape
from urllib.parse import quote, urlencode

from fastapi.responses import HTMLResponse, RedirectResponse

STYLE = """
*{box-sizing:border-box}body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f4f5f7;color:#1d1d1f;font-size:17px;line-height:1.4}
header{background:#263238;color:#fff;padding:.8rem 1rem}header h1{font-size:1.25rem;margin:0}
header p{margin:.2rem 0 0;font-size:.9rem;opacity:.85}main{padding:.6rem;max-width:40rem;margin:0 auto}
.check{background:#fff;border-radius:8px;padding:.8rem;margin:.6rem 0;box-shadow:0 1px 3px #0002}
.check h2{font-size:1.05rem;margin:0 0 .2rem}.meta{font-size:.85rem;color:#555;margin:0 0 .6rem}
fieldset{border:0;border-top:1px solid #e0e0e0;margin:0;padding:.7rem 0}legend{padding:0;font-weight:600}
.choices{display:flex;gap:.4rem;margin:.5rem 0}.choices label{flex:1;position:relative}
.choices input{position:absolute;opacity:0;width:1px;height:1px}
.choices span{display:block;min-height:48px;padding:.75rem .2rem;text-align:center;border:2px solid #90a4ae;
border-radius:6px;background:#fafafa;font-size:1rem}
.choices input:focus-visible+span{outline:3px solid #263238}
.choices input:checked+span{color:#fff;border-color:#263238;background:#37474f}
.choices .fail input:checked+span{background:#6a1b9a;border-color:#6a1b9a}
.note{width:100%;min-height:48px;font-size:1rem;padding:.6rem;border:1px solid #b0bec5;border-radius:6px}
button{width:100%;min-height:52px;font-size:1.1rem;border:0;border-radius:6px;background:#00695c;color:#fff;
margin-top:.4rem}button:disabled{background:#9e9e9e}
.photo{display:block;margin-top:.4rem;font-size:.9rem;color:#555}.photo input{display:block;width:100%;
min-height:44px;margin-top:.2rem;font-size:1rem}
.result{margin-top:.6rem;padding:.6rem;border-radius:6px;background:#e0f2f1}.result.bad{background:#fdecea;
color:#8a1c1c}.empty{background:#fff;border-radius:8px;padding:1rem}.who{font-size:.85rem;color:#555}
"""

# Sends one form's answers to the records API; never builds HTML from the answer (textContent only).
SCRIPT = """
(function () {
  function csrf() {
    var m = document.cookie.split('; ').find(function (c) { return c.indexOf('riskmap_csrf=') === 0; });
    return m ? decodeURIComponent(m.split('=')[1]) : '';
  }
  function say(box, text, bad) {
    box.hidden = false; box.className = 'result' + (bad ? ' bad' : ''); box.textContent = text;
  }
  // After the record is saved: each item's chosen photo to /api/inspections/records/{id}/photos/{item} (a failed
  // item's photo also goes to the hazard it opened, on the server), one after the other.
  function sendPhotos(form, recordId) {
    var chosen = [], failed = [];
    form.querySelectorAll('fieldset').forEach(function (fs) {
      var input = fs.querySelector('input.photo-file');
      if (input && input.files && input.files[0]) chosen.push([fs.dataset.item, input.files[0]]);
    });
    return chosen.reduce(function (done, pair) {
      return done.then(function () {
        var data = new FormData();
        data.append('file', pair[1], pair[1].name);
        return fetch('/api/inspections/records/' + recordId + '/photos/' + pair[0] + '?enterprise=' +
                     encodeURIComponent(document.body.dataset.enterprise), {
          method: 'POST', credentials: 'same-origin', headers: {'X-CSRF-Token': csrf()}, body: data
        }).then(function (r) {
          if (r.status === 201) return;
          return r.json().catch(function () { return {}; }).then(function (body) {
            failed.push(pair[0] + ': ' + String(body.detail || r.status));
          });
        }).catch(function () { failed.push(pair[0] + ': 网络错误 / network error'); });
      });
    }, Promise.resolve()).then(function () { return {total: chosen.length, failed: failed}; });
  }
  document.querySelectorAll('form.check').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var box = form.querySelector('.result'), button = form.querySelector('button');
      var answers = [], missing = 0;
      form.querySelectorAll('fieldset').forEach(function (fs) {
        var n = Number(fs.dataset.item), on = fs.querySelector('input[type=radio]:checked');
        var note = fs.querySelector('.note').value.trim();
        if (!on) { missing += 1; return; }
        answers.push({item: n, result: on.value, note: note || null});
      });
      if (missing) { say(box, '还有 ' + missing + ' 项未选择 / ' + missing + ' items not answered', true); return; }
      button.disabled = true;
      var body = {task_id: Number(form.dataset.task), answers: answers, checkpoint: document.body.dataset.token,
                  device: ('web ' + navigator.userAgent).slice(0, 200)};
      fetch('/api/inspections/records?enterprise=' + encodeURIComponent(document.body.dataset.enterprise), {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf()}, body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (data) { return {status: r.status, data: data}; });
      }).then(function (out) {
        if (out.status === 401) { location.href = document.body.dataset.login; return; }
        if (out.status !== 201) {
          button.disabled = false;
          say(box, String(out.data.detail || out.status), true); return;
        }
        var text = '已保存记录 #' + out.data.record.id + ' / saved check #' + out.data.record.id;
        if (out.data.hazards.length) {
          text += '；已上报隐患 ' + out.data.hazards.length + ' 项 / hazards reported: ' + out.data.hazards.join(', ');
        }
        say(box, text, false);
        form.querySelectorAll('input, textarea').forEach(function (el) { el.disabled = true; });
        return sendPhotos(form, out.data.record.id).then(function (sent) {
          if (sent.total) {
            text += sent.failed.length
              ? '；照片上传失败 / photo upload failed: ' + sent.failed.join('；')
              : '；照片已上传 ' + sent.total + ' 张 / photos uploaded: ' + sent.total;
            say(box, text, sent.failed.length > 0);
          }
          form.dataset.photos = String(sent.total - sent.failed.length);
          form.dataset.saved = String(out.data.record.id);
        });
      }).catch(function () {
        button.disabled = false; say(box, '网络错误，请重试 / network error: try again', true);
      });
    });
  });
})();
"""

RESULT_LABELS = (("pass", "通过", "pass"), ("fail", "不合格", "fail"), ("na", "不适用", "n/a"))


def login_redirect(token: str) -> RedirectResponse:
    """Send a browser that is not signed in to /login, back to this plate afterwards."""
    return RedirectResponse(f"/login?next={quote('/c/' + token, safe='/')}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def _check_form(task, occurrence) -> str:
    items = []
    for n, text in enumerate(task.items, start=1):
        choices = "".join(
            f'<label class="{value}"><input type="radio" name="t{task.id}i{n}" value="{value}" required>'
            f"<span>{zh}<br><small>{en}</small></span></label>" for value, zh, en in RESULT_LABELS)
        items.append(f'<fieldset data-item="{n}"><legend>{n}. {escape(text)}</legend>'
                     f'<div class="choices">{choices}</div>'
                     f'<textarea class="note" maxlength="1000" rows="1" aria-label="说明 / note {n}" '
                     f'placeholder="说明（可选）/ note (optional)"></textarea>'
                     f'<label class="photo"><span>拍照（可选）/ photo (optional)</span>'
                     f'<input type="file" class="photo-file" accept="image/jpeg,image/png" capture="environment" '
                     f'aria-label="照片 / photo {n}"></label></fieldset>')
    window = f"{occurrence.start:%m-%d %H:%M}–{occurrence.end:%m-%d %H:%M}"
    return (f'<form class="check" data-task="{task.id}"><h2>{escape(task.title)}</h2>'
            f'<p class="meta">{escape(task.cadence.label)} · {window}</p>{"".join(items)}'
            f'<button type="submit">保存 / save</button><p class="result" role="status" hidden></p></form>')


def checkin_page(*, enterprise: str, token: str, unit_id: str, unit_name: str | None, person: str,
                 mine: list, others: int, can_inspect: bool) -> HTMLResponse:
    """The page: the unit, the person signed in, a form per check due here now that is theirs."""
    forms = "".join(_check_form(task, o) for task, o in mine)
    if not can_inspect:
        forms = '<p class="empty">当前账户没有排查权限 / this account may not record checks</p>'
    elif not mine:
        forms = '<p class="empty">此处现在没有您需要做的排查 / no check of yours is due here now</p>'
    if others:
        forms += f'<p class="who">另有 {others} 项排查由他人负责 / {others} more checks here are assigned to others</p>'
    data = {"enterprise": enterprise, "token": token, "login": f"/login?next={quote('/c/' + token, safe='/')}"}
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    title = escape(unit_name or unit_id)
    body = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>排查签到 · {title}</title><style>{STYLE}</style></head>
<body {attrs}><header><h1>{title}</h1><p>{escape(unit_id)} · 排查签到 / check-in · {escape(person)}</p></header>
<main>{forms}</main><script>{SCRIPT}</script></body></html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


def wants_html(accept: str | None) -> bool:
    """Whether the client asked for a page (a browser) rather than JSON (an API client): text/html named before
    (or without) application/json."""
    accept = (accept or "").lower()
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index("application/json")



# Asks the phone where it stands (only when the button is pressed) and reloads the list from there.
NEAR_SCRIPT = """
(function () {
  var b = document.getElementById('near');
  if (!b || !navigator.geolocation) { if (b) { b.hidden = true; } return; }
  b.addEventListener('click', function () {
    b.disabled = true;
    navigator.geolocation.getCurrentPosition(function (p) {
      var q = new URLSearchParams(location.search);
      q.set('near', p.coords.longitude.toFixed(6) + ',' + p.coords.latitude.toFixed(6));
      location.search = q.toString();
    }, function () { b.disabled = false; b.textContent = '无法定位 / no position'; }, {timeout: 10000});
  });
})();
"""


def window_text(start, end) -> str:
    """A window as an inspector reads it: "08:00–16:00" within a day ("24:00" for the midnight that ends it), else
    with the dates ("12-07 00:00 – 12-14 00:00": a week's or ten days' window)."""
    if end.date() == start.date():
        return f"{start:%H:%M}–{end:%H:%M}"
    if end.time() == time(0) and (end.date() - start.date()).days == 1:
        return f"{start:%H:%M}–24:00"
    return f"{start:%m-%d %H:%M} – {end:%m-%d %H:%M}"


def today_page(*, enterprise: str, person: str, stops: list[dict], later: list[dict], done: int, missed: int,
               start_from: str) -> HTMLResponse:
    """Today's checks of the signed-in inspector: the places with open checks in walking order (nearest next, with
    the metres from the place before and in all), each with its checks and a link to it on the map; then the places
    whose checks open later today, and what is done or missed."""
    def row(stop: dict, n: int | None) -> str:
        walk = f"约 {stop['metres']:.0f} 米 / ~{stop['metres']:.0f} m" if stop.get("metres") is not None else ""
        checks = "".join(f'<li><span class="when">{window_text(c["start"], c["end"])}</span> '
                         f'{escape(c["title"])}</li>' for c in stop["checks"])
        number = f'<span class="n">{n}</span>' if n is not None else ""
        where = f'/map?{urlencode({"enterprise": enterprise, "unit": stop["unit_id"]})}'
        return (f'<li class="check stop" data-unit-id="{escape(stop["unit_id"])}"><h2>{number}'
                f'{escape(stop["unit_name"])}</h2><p class="meta">{walk}{" · " if walk else ""}'
                f'{len(stop["checks"])} 项 / {len(stop["checks"])} checks · '
                f'<a href="{escape(where)}">地图 / map</a></p><ul class="checks">{checks}</ul></li>')

    total = sum(s["metres"] or 0 for s in stops)
    open_rows = "".join(row(s, n) for n, s in enumerate(stops, start=1)) or \
        '<li class="empty">现在没有待检的排查 / nothing due now</li>'
    later_rows = "".join(row(s, None) for s in later)
    open_checks = sum(len(s["checks"]) for s in stops)
    body = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>今天的排查 / today's checks</title><style>{STYLE}
ol{{list-style:none;padding:0;margin:0}}.summary{{margin:.6rem 0}}#near{{background:#37474f}}
.stop h2{{display:flex;align-items:center;gap:.5rem}}.n{{display:inline-flex;align-items:center;justify-content:center;
min-width:1.8rem;height:1.8rem;border-radius:50%;background:#263238;color:#fff;font-size:.95rem}}
.checks{{margin:.2rem 0 0;padding-left:1.1rem}}.checks li{{margin:.25rem 0}}.when{{color:#555;font-size:.85rem;
white-space:nowrap}}.meta a{{color:#0b57a4}}h2.part{{font-size:1.1rem;margin:1rem 0 .2rem}}
.later summary{{min-height:44px;cursor:pointer}}.later summary h2{{display:inline}}</style></head>
<body data-enterprise="{escape(enterprise)}"><header><h1>今天的排查 / Today's checks</h1>
<p>{escape(person)} · {escape(enterprise)}</p></header><main>
<p class="summary">待检 {open_checks} 项，{len(stops)} 处 · 已完成 {done} · 漏检 {missed} / due {open_checks} at
{len(stops)} places · done {done} · missed {missed}</p>
<button id="near" type="button">按我的位置排序 / order from where I stand</button>
<p class="who">路线起点 / route starts at: {escape(start_from)} · 全程约 {total:.0f} 米 / about {total:.0f} m in all</p>
<h2 class="part">待检（近的在前）/ Due now, nearest next</h2><ol id="route">{open_rows}</ol>
{f'<details class="later"><summary><h2 class="part">今天稍后（{len(later)} 处）/ Later today ({len(later)} places)'
  f'</h2></summary><ol id="later">{later_rows}</ol></details>' if later_rows else ''}
</main><script>{NEAR_SCRIPT}</script></body></html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})
