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

from riskmap.geo.model import ROLE_ZH, ROLES
from riskmap.levels import LEVELS_HIGH_TO_LOW, Palette
from riskmap.render.webmap import external_urls, json_for_script

# Below this zoom the view holds too many features to load and edit; the page says so instead.
MIN_EDIT_ZOOM = 16
ITEMS_LIMIT = 1000
ROLE_EN = {"region": "Region", "building": "Building", "equipment": "Equipment", "road": "Road", "fence": "Fence",
           "other": "Other"}

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "总平面布置编辑", "switch_lang": "English", "to_map": "查看风险地图", "legend": "图例",
        "token_prompt": "请输入编辑令牌（riskmap token create --role editor 生成）",
        "token_label": "编辑令牌", "token_ok": "确定", "token_forget": "退出编辑",
        "token_missing": "只读查看：输入编辑令牌后才能编辑",
        "token_invalid": "令牌无效或已被吊销，请向管理员申请新的编辑令牌",
        "editor_as": "编辑者：{name}", "zoom_in": "请放大到 {z} 级以上以加载和编辑要素（当前 {now} 级）",
        "loaded": "已加载 {n} 个要素", "too_many": "视图内要素过多（只加载了 {n} 个），请放大",
        "new_role": "新要素类型", "draw_polygon": "画区域", "draw_rectangle": "画矩形", "draw_point": "放置设备",
        "reshape": "修改形状", "move": "移动", "split": "分割", "merge": "合并", "delete": "删除",
        "split_hint": "画一条横穿所选区域的线，再次单击最后一个点结束", "merge_hint": "再点选一个相邻区域与之合并",
        "select_hint": "点选地图上的要素进行编辑", "selected": "所选要素", "name": "名称", "role": "类型",
        "id": "编号", "units": "挂接的评估单元", "no_units": "（无）", "attach": "挂接单元", "detach": "解除挂接",
        "unit_search": "按名称或编号搜索单元…", "why": "修改原因", "why_placeholder": "例如：2026 年技改新增罐区",
        "save": "保存修改", "discard": "放弃修改", "pending": "{n} 项未保存的修改", "saved": "已保存 {n} 项修改",
        "nothing": "没有需要保存的修改", "saving": "正在保存…", "conflict": "修改冲突",
        "conflict_text": "该要素已被他人修改：{who}，{when}", "conflict_reason": "对方的修改原因：{reason}",
        "conflict_deleted": "该要素已被他人删除", "reload": "采用对方版本（重新加载）",
        "reapply": "仍用我的版本（重新提交）",
        "theirs": "对方版本（虚线）", "error": "请求失败", "level": "风险等级", "unassessed": "未评估",
        "confirm_delete": "已标记删除，保存后生效", "split_done": "已分割", "merge_done": "已合并",
        "need_area": "请先选择一个区域（面）", "unit_attached": "已挂接单元 {unit}",
        "unit_detached": "已解除单元 {unit}",
        "readonly": "只读", "new_feature": "新要素", "close": "关闭",
    },
    "en": {
        "title": "Layout editor", "switch_lang": "中文", "to_map": "Open the risk map", "legend": "Legend",
        "token_prompt": "Enter an editor token (made with riskmap token create --role editor)",
        "token_label": "Editor token", "token_ok": "OK", "token_forget": "Stop editing",
        "token_missing": "Read-only: enter an editor token to edit",
        "token_invalid": "The token is invalid or was revoked: ask an administrator for a new editor token",
        "editor_as": "Editor: {name}", "zoom_in": "Zoom in to level {z} or more to load and edit features (now {now})",
        "loaded": "{n} features loaded", "too_many": "Too many features in view (only {n} loaded): zoom in",
        "new_role": "New feature role", "draw_polygon": "Draw area", "draw_rectangle": "Draw rectangle",
        "draw_point": "Place equipment", "reshape": "Reshape", "move": "Move", "split": "Split", "merge": "Merge",
        "delete": "Delete", "split_hint": "Draw a line across the selected area; click its last point again to finish",
        "merge_hint": "Click a neighbouring area to merge with", "select_hint": "Click a feature on the map to edit it",
        "selected": "Selected feature", "name": "Name", "role": "Role", "id": "Id", "units": "Attached units",
        "no_units": "(none)", "attach": "Attach unit", "detach": "Detach", "unit_search": "Search units by name or id…",
        "why": "Reason for the change", "why_placeholder": "e.g. new tank farm, 2026 renovation",
        "save": "Save changes", "discard": "Discard changes", "pending": "{n} unsaved changes",
        "saved": "{n} changes saved", "nothing": "Nothing to save", "saving": "Saving…", "conflict": "Edit conflict",
        "conflict_text": "Someone else changed this feature: {who}, {when}",
        "conflict_reason": "Their reason: {reason}",
        "conflict_deleted": "Someone else deleted this feature", "reload": "Take their version (reload)",
        "reapply": "Keep mine (save again)", "theirs": "Their version (dashed)", "error": "Request failed",
        "level": "Risk level", "unassessed": "Not assessed", "confirm_delete": "Marked for deletion; save to apply",
        "split_done": "Split", "merge_done": "Merged", "need_area": "Select an area (polygon) first",
        "unit_attached": "Unit {unit} attached", "unit_detached": "Unit {unit} detached", "readonly": "Read-only",
        "new_feature": "New feature", "close": "Close",
    },
}

# Third-party files the page loads: (package, file) in web/package.json.
EDIT_ASSETS_JS = (("leaflet", "dist/leaflet.js"), ("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.min.js"))
EDIT_ASSETS_CSS = (("leaflet", "dist/leaflet.css"), ("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.css"))


@dataclass(frozen=True)
class EditAssets:
    js: list[str]
    css: list[str]
    favicon: str


def edit_assets(vendor_url: Callable[[str, str], str], app_url: Callable[[str], str]) -> EditAssets:
    """Local URLs of the editor's files (raises AssetsMissingError when a pinned package is not installed)."""
    return EditAssets(js=[vendor_url(*a) for a in EDIT_ASSETS_JS] + [app_url("dom.js"), app_url("edit.js")],
                      css=[vendor_url(*a) for a in EDIT_ASSETS_CSS] + [app_url("edit.css")],
                      favicon=app_url("favicon.svg"))


def edit_config(*, enterprise: str, data_version: int, bounds: list[float] | None, lang: str, palette: Palette,
                layers: list[dict[str, Any]], urls: Mapping[str, str]) -> dict[str, Any]:
    """Everything edit.js needs as plain JSON: view, backdrop tile layers, roles, level colours, URLs, texts."""
    return {
        "lang": lang,
        "text": TEXT[lang],
        "enterprise": enterprise,
        "data_version": data_version,
        "bounds": bounds,
        "roles": [{"role": r, "title": ROLE_ZH[r] if lang == "zh" else ROLE_EN[r]} for r in ROLES],
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
    title = f"{config['enterprise']} · {text['title']}"
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
