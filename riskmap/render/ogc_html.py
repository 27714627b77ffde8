"""The f=html pages of the OGC API Features endpoints: plain HTML, no scripts, nothing loaded from elsewhere.

Every text that comes from data or from the request (names, ids, links, explanations) goes through `_e`, so a
unit named `<img src=x onerror=alert(1)>` is shown as text, never run.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:1.5em auto;max-width:70em;
padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #555;margin-right:.35em;vertical-align:-.1em}
.muted{color:#666;font-size:.9em}nav a{margin-right:1em}code{font-size:.95em}
"""


def _e(value: Any) -> str:
    """Text for HTML, quotes included (safe in attributes too); None shows as an empty cell."""
    return "" if value is None else escape(str(value), quote=True)


def _page(title: str, body: str, breadcrumbs: list[tuple[str, str]] | None = None) -> str:
    nav = ""
    if breadcrumbs:
        nav = "<nav>" + "".join(f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in breadcrumbs) + "</nav>"
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{nav}"
            f"<h1>{_e(title)}</h1>{body}</body></html>\n")


def _links(links: list[dict]) -> str:
    rows = "".join(
        f'<tr><td>{_e(link.get("rel"))}</td><td><a href="{_e(link.get("href"))}">'
        f'{_e(link.get("title") or link.get("href"))}</a></td><td class="muted">{_e(link.get("type"))}</td></tr>'
        for link in links)
    return ("<h2>链接 / Links</h2><table><tr><th>关系 / rel</th><th>链接 / link</th><th>类型 / type</th></tr>"
            f"{rows}</table>")


def _find(links: list[dict], rel: str, media_type: str | None = None) -> str | None:
    for link in links:
        if link.get("rel") == rel and (media_type is None or link.get("type") == media_type):
            return link.get("href")
    return None


def _value_cell(name: str, value: Any) -> str:
    if name == "colour" and isinstance(value, str) and _COLOUR.match(value):
        return f'<td><span class="swatch" style="background:{value}"></span>{_e(value)}</td>'
    return f"<td>{_e(value)}</td>"


def landing_page(doc: dict) -> str:
    """The landing page as HTML (for a browser): links to collections, conformance and the API
    definition."""
    links = doc.get("links", [])
    items = [
        ("数据集合 / Collections", _find(links, "data")),
        ("符合的标准 / Conformance", _find(links, "conformance")),
        ("API 定义 / API definition (OpenAPI)", _find(links, "service-desc")),
        ("API 文档 / API documentation", _find(links, "service-doc")),
    ]
    listing = "".join(f'<li><a href="{_e(_html_href(href))}">{_e(text)}</a></li>' for text, href in items if href)
    body = f"<p>{_e(doc.get('description'))}</p><ul>{listing}</ul>{_links(links)}"
    return _page(doc.get("title", "OGC API"), body)


def conformance_page(doc: dict) -> str:
    """The conformance declaration as HTML."""
    rows = "".join(f"<li><code>{_e(uri)}</code></li>" for uri in doc.get("conformsTo", []))
    return _page("符合的标准 / Conformance classes", f"<ul>{rows}</ul>")


def collections_page(doc: dict) -> str:
    """The collections list as HTML: one row per collection, linked to its page and items."""
    rows = []
    for coll in doc.get("collections", []):
        href = _find(coll.get("links", []), "alternate", "text/html") or ""
        items = _find(coll.get("links", []), "items", "text/html") or ""
        rows.append(f'<tr><td><a href="{_e(href)}"><code>{_e(coll.get("id"))}</code></a></td>'
                    f'<td>{_e(coll.get("title"))}</td><td>{_e(coll.get("itemCount"))}</td>'
                    f'<td><a href="{_e(items)}">要素 / items</a></td><td class="muted">{_e(coll.get("description"))}'
                    "</td></tr>")
    body = ("<table><tr><th>编号 / id</th><th>名称 / title</th><th>要素数 / features</th><th></th>"
            f"<th>说明 / description</th></tr>{''.join(rows)}</table>{_links(doc.get('links', []))}")
    return _page("数据集合 / Collections", body)


def collection_page(doc: dict) -> str:
    """One collection's page as HTML: its facts (id, features, CRS, extent, time) and a link to browse its items."""
    links = doc.get("links", [])
    extent = doc.get("extent") or {}
    facts = [("编号 / id", f"<code>{_e(doc.get('id'))}</code>"), ("说明 / description", _e(doc.get("description"))),
             ("要素数 / features", _e(doc.get("itemCount"))),
             ("坐标系 / CRS", "<br>".join(_e(c) for c in doc.get("crs", [])))]
    spatial = (extent.get("spatial") or {}).get("bbox")
    if spatial:
        facts.append(("范围 / extent (CRS84)", _e(", ".join(str(v) for v in spatial[0]))))
    temporal = (extent.get("temporal") or {}).get("interval")
    if temporal:
        facts.append(("时间 / time", _e(" / ".join(v or ".." for v in temporal[0]))))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    items = _find(links, "items", "text/html") or ""
    body = (f'<table>{table}</table><p><a href="{_e(items)}">浏览要素 / browse the features</a></p>'
            f"{_links(links)}")
    return _page(doc.get("title", ""), body, [("数据集合 / Collections", _up(items, 2))])


def items_page(*, title: str, collection_url: str, ids: list[str], records: list[dict],
               geometry_types: list[str | None], feature_urls: list[str], matched: int, offset: int,
               links: list[dict], timestamp: str) -> str:
    """A page of features as an HTML table, one column per property, with previous/next links."""
    columns = list(records[0]) if records else []
    head = "<tr><th>编号 / id</th>" + "".join(f"<th>{_e(c)}</th>" for c in columns) + "<th>几何 / geometry</th></tr>"
    rows = []
    for fid, record, gtype, url in zip(ids, records, geometry_types, feature_urls, strict=True):
        cells = "".join(_value_cell(c, record.get(c)) for c in columns)
        rows.append(f'<tr><td><a href="{_e(url)}">{_e(fid)}</a></td>{cells}<td>{_e(gtype)}</td></tr>')
    first = offset + 1 if ids else offset
    nav = []
    for rel, text in (("prev", "上一页 / previous"), ("next", "下一页 / next")):
        href = _find(links, rel)
        if href:
            nav.append(f'<a href="{_e(href)}">{_e(text)}</a>')
    body = (f'<p>共 {_e(matched)} 个要素，本页第 {_e(first)}–{_e(offset + len(ids))} 个 / {_e(matched)} features, '
            f'this page {_e(first)}–{_e(offset + len(ids))}</p><p>{" ".join(nav)}</p>'
            f"<table>{head}{''.join(rows)}</table><p class=\"muted\">生成时间 / generated {_e(timestamp)}</p>"
            f"{_links(links)}")
    return _page(title, body, [("数据集合 / Collections", _up(collection_url, 1)), (title, collection_url)])


def item_page(*, title: str, collection_url: str, feature_id: str, record: dict, geometry_type: str | None,
              links: list[dict]) -> str:
    """One feature as HTML: its properties, its geometry type and links up."""
    rows = "".join(f"<tr><th>{_e(k)}</th>{_value_cell(k, v)}</tr>" for k, v in record.items())
    body = (f"<table><tr><th>编号 / id</th><td>{_e(feature_id)}</td></tr>{rows}"
            f"<tr><th>几何 / geometry</th><td>{_e(geometry_type)}</td></tr></table>{_links(links)}")
    items_url = _with_path_suffix(collection_url, "/items")
    return _page(f"{title}：{feature_id}", body,
                 [("数据集合 / Collections", _up(collection_url, 1)), (title, collection_url),
                  ("要素 / items", items_url)])


def _html_href(href: str | None) -> str | None:
    """Links of the landing page, opened from a browser, go to the HTML form where there is one."""
    if href is None or href.endswith(("/openapi.json", "/docs")):
        return href
    return _with_query(href, "f=html")


def _with_query(href: str, pair: str) -> str:
    return href + ("&" if "?" in href else "?") + pair


def _with_path_suffix(href: str, suffix: str) -> str:
    path, sep, query = href.partition("?")
    return path + suffix + sep + query


def _up(href: str, levels: int) -> str:
    """The collections page from a collection (or its items) URL, keeping the query (enterprise, f=html)."""
    path, sep, query = href.partition("?")
    for _ in range(levels):
        path = path.rsplit("/", 1)[0]
    return path + sep + query
