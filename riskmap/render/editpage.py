"""The layout editor page (`/edit`): Leaflet + Leaflet-Geoman, every script and style served by riskmap.

Built like the map page (`riskmap.render.webmap`): pinned local assets only, the config as inert JSON, and
the rendered page refused when any URL would leave the server. `riskmap/static/edit.js` does the work in the
browser, through the same HTTP API any client uses (OGC API Features Part 4 writes with If-Match, split and
merge, unit attach/detach), putting user text into the DOM with textContent only.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from riskmap.geo.editcheck import ROLE_TYPES
from riskmap.geo.model import ROLE_EN, ROLE_ZH, ROLES
from riskmap.levels import LEVELS_HIGH_TO_LOW, Palette
from riskmap.render.webmap import external_urls, json_for_script

# Below this zoom the view holds too many features to load and edit; the page says so instead.
MIN_EDIT_ZOOM = 16
ITEMS_LIMIT = 1000

# The page's texts, one entry per key: (Chinese, English). The script gets those of the page's language.
_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("总平面布置编辑", "Layout editor"),
    "drawing_editor": ("图纸编辑", "Drawing editor"),
    "drawing_title": ("图纸：{title}", "Drawing: {title}"),
    "units_on_drawing": ("单元在本图纸上的位置由风险台账的要素列（图纸::要素）给出",
                         "A unit's place on this drawing comes from the risk ledger's feature cell (drawing::feature)"),
    "switch_lang": ("English", "中文"),
    "to_map": ("查看风险地图", "Open the risk map"),
    "legend": ("图例", "Legend"),
    "editor_as": ("编辑者：{name}", "Editor: {name}"),
    "zoom_in": ("请放大到 {z} 级以上以加载和编辑要素（当前 {now} 级）",
                "Zoom in to level {z} or more to load and edit features (now {now})"),
    "loaded": ("已加载 {n} 个要素", "{n} features loaded"),
    "too_many": ("视图内要素过多（只加载了 {n} 个），请放大", "Too many features in view (only {n} loaded): zoom in"),
    "new_role": ("新要素类型", "New feature role"),
    "draw_polygon": ("画区域", "Draw area"),
    "draw_rectangle": ("画矩形", "Draw rectangle"),
    "draw_point": ("放置点（设备、消火栓等）", "Place a point (equipment, hydrant …)"),
    "draw_line": ("画线（疏散路线按疏散方向画）", "Draw a line (an escape route in the direction of travel)"),
    "move": ("移动", "Move"),
    "split": ("分割", "Split"),
    "merge": ("合并", "Merge"),
    "delete": ("删除", "Delete"),
    "split_hint": ("画一条横穿所选区域的线，再次单击最后一个点结束",
                   "Draw a line across the selected area; click its last point again to finish"),
    "merge_hint": ("再点选一个相邻区域与之合并", "Click a neighbouring area to merge with"),
    "select_hint": ("点选地图上的要素进行编辑", "Click a feature on the map to edit it"),
    "selected": ("所选要素", "Selected feature"),
    "name": ("名称", "Name"),
    "role": ("类型", "Role"),
    "id": ("编号", "Id"),
    "units": ("挂接的评估单元", "Attached units"),
    "no_units": ("（无）", "(none)"),
    "attach": ("挂接单元", "Attach unit"),
    "detach": ("解除挂接", "Detach"),
    "unit_search": ("按名称或编号搜索单元…", "Search units by name or id…"),
    "why": ("修改原因", "Reason for the change"),
    "why_placeholder": ("例如：2026 年技改新增罐区", "e.g. new tank farm, 2026 renovation"),
    "save": ("保存修改", "Save changes"),
    "discard": ("放弃修改", "Discard changes"),
    "pending": ("{n} 项未保存的修改", "{n} unsaved changes"),
    "saved": ("已保存 {n} 项修改", "{n} changes saved"),
    "nothing": ("没有需要保存的修改", "Nothing to save"),
    "saving": ("正在保存…", "Saving…"),
    "conflict": ("修改冲突", "Edit conflict"),
    "conflict_text": ("该要素已被他人修改：{who}，{when}", "Someone else changed this feature: {who}, {when}"),
    "conflict_reason": ("对方的修改原因：{reason}", "Their reason: {reason}"),
    "conflict_deleted": ("该要素已被他人删除", "Someone else deleted this feature"),
    "reload": ("采用对方版本（重新加载）", "Take their version (reload)"),
    "reapply": ("仍用我的版本（重新提交）", "Keep mine (save again)"),
    "theirs": ("对方版本（虚线）", "Their version (dashed)"),
    "error": ("请求失败", "Request failed"),
    "level": ("风险等级", "Risk level"),
    "unassessed": ("未评估", "Not assessed"),
    "confirm_delete": ("已标记删除，保存后生效", "Marked for deletion; save to apply"),
    "split_done": ("已分割", "Split"),
    "merge_done": ("已合并", "Merged"),
    "need_area": ("请先选择一个区域（面）", "Select an area (polygon) first"),
    "unit_attached": ("已挂接单元 {unit}", "Unit {unit} attached"),
    "unit_detached": ("已解除单元 {unit}", "Unit {unit} detached"),
    "new_feature": ("新要素", "New feature"),
    "notice": ("只读查看：登录后才能编辑", "Read-only: sign in to edit"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出登录", "Sign out"),
    "expired": ("登录已过期或无编辑权限，请重新登录", "The sign-in expired or does not allow editing: sign in again"),
    "no_right": ("当前账户没有编辑权限（只读）", "This account may not edit (read-only)"),
}
TEXT: dict[str, dict[str, str]] = {lang: {key: pair[i] for key, pair in _TEXTS.items()}
                                   for i, lang in enumerate(("zh", "en"))}

# Third-party files the page loads: (package, file) in web/package.json.
EDIT_ASSETS_JS = (("leaflet", "dist/leaflet.js"), ("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.min.js"))
EDIT_ASSETS_CSS = (("leaflet", "dist/leaflet.css"), ("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.css"))


@dataclass(frozen=True)
class EditAssets:
    """The editor page's script and style URLs (pinned packages first, then its own files) and its icon."""

    js: list[str]
    css: list[str]
    favicon: str


def edit_assets(vendor_url: Callable[[str, str], str], app_url: Callable[[str], str]) -> EditAssets:
    """Local URLs of the editor's files (raises AssetsMissingError when a pinned package is not installed)."""
    return EditAssets(js=[vendor_url(*a) for a in EDIT_ASSETS_JS] + [app_url("dom.js"), app_url("edit.js")],
                      css=[vendor_url(*a) for a in EDIT_ASSETS_CSS] + [app_url("edit.css")],
                      favicon=app_url("favicon.svg"))


def edit_config(*, enterprise: str, data_version: int, bounds: list[float] | None, lang: str, palette: Palette,
                layers: list[dict[str, Any]], urls: Mapping[str, str],
                drawing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything edit.js needs as plain JSON: view, backdrop tile layers, roles, level colours, URLs, texts, and
    the drawing edited (None: the site plan)."""
    return {
        "lang": lang,
        "text": TEXT[lang],
        "enterprise": enterprise,
        "drawing": drawing,
        "data_version": data_version,
        "bounds": bounds,
        "roles": [{"role": r, "title": ROLE_ZH[r] if lang == "zh" else ROLE_EN[r],
                   "geometry": sorted(ROLE_TYPES[r])} for r in ROLES],
        "levels": [{"level": lv.value, "title": palette.styles[lv].zh if lang == "zh" else palette.styles[lv].en,
                    "fill": palette.styles[lv].fill} for lv in LEVELS_HIGH_TO_LOW],
        "layers": layers,
        "urls": dict(urls),
        "min_edit_zoom": MIN_EDIT_ZOOM,
        "limit": ITEMS_LIMIT,
    }


def render_edit_page(config: dict[str, Any], assets: EditAssets) -> str:
    """The editor's HTML: assets, an empty map and panel, the config as inert JSON. Raises when a URL would leave
    the server."""
    text = config["text"]
    drawing = config.get("drawing")
    title = f"{config['enterprise']} · " + (f"{text['drawing_editor']} · {drawing['title']}" if drawing
                                            else text["title"])
    css = "".join(f'<link rel="stylesheet" href="{html.escape(u)}">' for u in assets.css)
    js = "".join(f'<script src="{html.escape(u)}"></script>' for u in assets.js)
    page = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if config["lang"] == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f'<link rel="icon" href="{html.escape(assets.favicon)}" type="image/svg+xml">{css}</head>'
        '<body class="riskmap-editor"><div id="editor-map"></div>'
        '<aside id="editor-panel" aria-live="polite"></aside>'
        f'<script type="application/json" id="riskmap-edit-config">{json_for_script(config)}</script>'
        f'<noscript>{html.escape(text["title"])}: JavaScript</noscript>{js}'
        "<script>RiskEdit.start(document.getElementById('riskmap-edit-config'));</script>"
        "</body></html>")
    leaks = external_urls(page)
    if leaks:
        raise RuntimeError(f"the editor page would load from outside the server: {leaks[:5]}")
    return page
