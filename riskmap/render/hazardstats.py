"""The hazard statistics page, `/hazards/statistics`: the figures and breakdowns of riskmap.hazards.statistics as
a self-contained HTML page (no script, no external URL, styles inline), one column on a phone and readable on a
desk, Chinese first with English on `?lang=en`. Bars are plain boxes sized by their share; the figures are written
out too, so the page reads without colour. Every text from the data is escaped.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

TEXT = {
    "zh": {"title": "隐患统计", "other": "English", "range": "登记日期", "all": "全部", "as_of": "统计时刻",
           "total": "隐患总数", "open": "未关闭", "overdue": "已超期", "major_open": "重大隐患未关闭",
           "major_overdue": "重大隐患超期", "done": "已验收", "on_time": "按期验收率", "rejected": "已驳回（非隐患）",
           "by_state": "按状态", "by_level": "按等级", "by_source": "按来源", "by_type": "按类型",
           "by_department": "按责任部门", "by_responsible": "按整改责任人", "by_month": "按月（北京时间）",
           "name": "分类", "count": "数量", "month": "月份", "registered": "登记", "accepted": "验收",
           "late": "超期验收", "major": "重大", "from": "从", "to": "到", "apply": "筛选", "json": "JSON 数据",
           "map": "地图", "none": "暂无数据"},
    "en": {"title": "Hazard statistics", "other": "中文", "range": "Registered", "all": "all", "as_of": "As of",
           "total": "Hazards", "open": "Open", "overdue": "Overdue", "major_open": "Major, open",
           "major_overdue": "Major, overdue", "done": "Accepted", "on_time": "Accepted on time",
           "rejected": "Rejected (not hazards)", "by_state": "By state", "by_level": "By level",
           "by_source": "By source", "by_type": "By type", "by_department": "By department",
           "by_responsible": "By person responsible", "by_month": "By month (Beijing time)", "name": "Group",
           "count": "Count", "month": "Month", "registered": "Registered", "accepted": "Accepted",
           "late": "Accepted late", "major": "Major", "from": "From", "to": "To", "apply": "Filter",
           "json": "JSON data", "map": "Map", "none": "no data"},
}

_STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;
font-size:16px;line-height:1.45;color:#1a1a1a;background:#f4f4f4}
header{padding:12px 16px;background:#1a1a1a;color:#fff}header h1{margin:0;font-size:22px}
header .muted{color:#ddd}nav{display:flex;gap:16px;flex-wrap:wrap;padding:8px 16px}nav a{color:#333}
main{padding:0 12px 32px;max-width:1100px;margin:0 auto}
section{background:#fff;border-radius:10px;margin:12px 0;padding:12px 14px;overflow-x:auto}
h2{font-size:18px;margin:0 0 8px}.muted{color:#555;font-size:14px}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px}
.figure{background:#fff;border-radius:10px;padding:10px 12px;border-left:6px solid #4a148c}
.figure.alert{border-left-color:#000}.figure b{display:block;font-size:28px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e0e0e0;
vertical-align:middle}th{font-size:13px;white-space:nowrap}td:first-child{min-width:6.5em}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{height:10px;background:#4a148c;border-radius:3px;min-width:2px}.bar.late{background:#000}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:end}label{font-size:14px}
input[type=date]{font-size:16px;padding:6px}button{font-size:16px;padding:8px 16px;border:0;border-radius:8px;
background:#4a148c;color:#fff}
@media (min-width:900px){.two{display:grid;grid-template-columns:1fr 1fr;gap:12px}.two section{margin:0}}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _label(text: str | None, zh: bool) -> str:
    parts = (text or "").split(" / ")
    return parts[0] if zh else parts[-1]


def _bar(n: int, most: int, late: bool = False) -> str:
    share = 0 if most <= 0 else round(100 * n / most)
    return f'<div class="bar{" late" if late else ""}" style="width:{share}%"></div>' if n else ""


def _groups(rows: list[dict[str, Any]], t: dict[str, str], zh: bool, section_id: str, title: str) -> str:
    if not rows:
        return f'<section id="{section_id}"><h2>{title}</h2><p class=muted>{t["none"]}</p></section>'
    most = max(r["total"] for r in rows)
    body = "".join(
        f'<tr data-key="{_e(r["key"])}"><td>{_e(_label(r["label"], zh))}</td><td class=n>{r["total"]}</td>'
        f'<td class=n>{r["open"]}</td><td class=n>{r["overdue"]}</td><td class=n>{r["major"]}</td>'
        f'<td style="width:30%">{_bar(r["total"], most)}{_bar(r["overdue"], most, True)}</td></tr>' for r in rows)
    return (f'<section id="{section_id}"><h2>{title}</h2><table><thead><tr><th>{t["name"]}</th>'
            f'<th>{t["total"]}</th><th>{t["open"]}</th><th>{t["overdue"]}</th><th>{t["major"]}</th><th></th></tr>'
            f"</thead><tbody>{body}</tbody></table></section>")


def statistics_page(stats: dict[str, Any], lang: str, favicon: str | None = None) -> str:
    """The page of `stats` (riskmap.store.hazards.statistics' answer)."""
    t = TEXT[lang]
    zh = lang == "zh"
    span = f"{stats['from'] or '…'} – {stats['to'] or '…'}" if stats["from"] or stats["to"] else t["all"]
    rate = f"{stats['on_time_rate'] * 100:.0f}%" if stats["on_time_rate"] is not None else "—"
    figures = [("total", stats["total"], False), ("open", stats["open"], False),
               ("overdue", stats["overdue"], stats["overdue"] > 0),
               ("major_open", stats["major_open"], stats["major_open"] > 0),
               ("major_overdue", stats["major_overdue"], stats["major_overdue"] > 0),
               ("done", stats["done"], False), ("on_time", rate, False), ("rejected", stats["rejected"], False)]
    cards = "".join(f'<div class="figure{" alert" if alert else ""}" id="fig-{key}"><b>{_e(value)}</b>{t[key]}</div>'
                    for key, value, alert in figures)
    states = "".join(f'<tr data-key="{_e(s["key"])}"><td>{_e(_label(s["label"], zh))}</td>'
                     f'<td class=n>{s["count"]}</td></tr>' for s in stats["by_state"])
    most = max([m["registered"] for m in stats["by_month"]] + [1])
    months = "".join(
        f'<tr data-key="{_e(m["month"])}"><td>{_e(m["month"])}</td><td class=n>{m["registered"]}</td>'
        f'<td class=n>{m["major"]}</td><td class=n>{m["accepted"]}</td><td class=n>{m["accepted_late"]}</td>'
        f'<td style="width:30%">{_bar(m["registered"], most)}</td></tr>' for m in stats["by_month"])
    query = {k: v for k, v in (("enterprise", stats["enterprise"]), ("from", stats["from"]), ("to", stats["to"]))
             if v}
    other = "en" if zh else "zh"
    icon = f'<link rel="icon" href="{_e(favicon)}" type="image/svg+xml">' if favicon else ""
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{t['title']} · {_e(stats['enterprise'])}</title>{icon}<style>{_STYLE}</style></head><body>"
        f"<header><h1>{t['title']}</h1><div class=muted>{_e(stats['enterprise'])} · {t['range']}：{_e(span)} · "
        f"{t['as_of']} {_e(stats['as_of'])}</div></header>"
        f'<nav><a href="?{_e(urlencode({**query, "lang": other}))}">{t["other"]}</a>'
        f'<a href="/api/hazards/statistics?{_e(urlencode(query))}">{t["json"]}</a>'
        f'<a href="/map?{_e(urlencode({"enterprise": stats["enterprise"]}))}">{t["map"]}</a></nav><main>'
        f'<section><form method="get" action="/hazards/statistics">'
        f'<input type="hidden" name="enterprise" value="{_e(stats["enterprise"])}">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label>{t["from"]}<br><input type="date" name="from" value="{_e(stats["from"] or "")}"></label>'
        f'<label>{t["to"]}<br><input type="date" name="to" value="{_e(stats["to"] or "")}"></label>'
        f'<button type="submit">{t["apply"]}</button></form></section>'
        f'<div class="figures" id="figures">{cards}</div>'
        f'<div class="two"><section id="by-state"><h2>{t["by_state"]}</h2>'
        f"{'<table><tbody>' + states + '</tbody></table>' if states else '<p class=muted>' + t['none'] + '</p>'}"
        f"</section>{_groups(stats['by_level'], t, zh, 'by-level', t['by_level'])}</div>"
        f"{_groups(stats['by_source'], t, zh, 'by-source', t['by_source'])}"
        f"{_groups(stats['by_type'], t, zh, 'by-type', t['by_type'])}"
        f"{_groups(stats['by_department'], t, zh, 'by-department', t['by_department'])}"
        f"{_groups(stats['by_responsible'], t, zh, 'by-responsible', t['by_responsible'])}"
        f'<section id="by-month"><h2>{t["by_month"]}</h2>'
        + (f'<table><thead><tr><th>{t["month"]}</th><th>{t["registered"]}</th><th>{t["major"]}</th>'
           f'<th>{t["accepted"]}</th><th>{t["late"]}</th><th></th></tr></thead><tbody>{months}</tbody></table>'
           if months else f'<p class=muted>{t["none"]}</p>')
        + "</section></main></body></html>")
