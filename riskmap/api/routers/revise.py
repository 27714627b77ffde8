"""`POST /api/layout/revise`: a revised drawing over HTTP. Without `confirm=true` it only answers the diff against
the current layout (and the `base_version` it was made against); with `confirm=true&base_version=N` it applies
the diff as one new layout version, or answers 409 when the layout moved on since version N.

The body is read only after the credentials ("edit_layout") and the declared size were checked
(riskmap.api.guard); the upload goes to a private temporary directory,
removed before answering; importing and diffing run off the event loop.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from riskmap.api import answers
from riskmap.api.deps import resolve_tenant
from riskmap.api.permissions import require
from riskmap.errors import InputError, MediaTypeError, RiskmapError, TooLargeError
from riskmap.geo.importer import FORMATS_BY_SUFFIX
from riskmap.people import Principal

# Form fields besides the files, with what they become.
_TEXT_FIELDS = ("crs", "name_property", "role_property", "max_rms", "drop_invalid", "confirm", "base_version",
                "reason", "drawing", "title", "building", "storey", "schematic")
_FILE_FIELDS = ("file", "control_points", "layer_map")
_MAX_FIELD = 2000
_CHUNK = 1024 * 1024


class LengthRequired(RiskmapError, http_status=411):
    """An upload without Content-Length: its size must be known before a byte is read."""


_FORM_SCHEMA = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "修订后的图纸：DXF、GeoJSON、GeoPackage、Shapefile（zip）、KML/KMZ / the revised "
                                    "drawing"},
            "control_points": {"type": "string", "format": "binary", "description": "控制点 CSV / control points"},
            "layer_map": {"type": "string", "format": "binary", "description": "图层映射 YAML / layer map"},
            "crs": {"type": "string", "description": "坐标系，如 EPSG:4549 / CRS of the file"},
            "name_property": {"type": "string", "default": "name"},
            "role_property": {"type": "string", "default": "role"},
            "max_rms": {"type": "number", "description": "控制点 RMS 上限（米）/ control point RMS limit (m)"},
            "drop_invalid": {"type": "boolean", "default": False},
            "confirm": {"type": "boolean", "default": False,
                        "description": "true：应用差异 / apply the diff (needs base_version)"},
            "base_version": {"type": "integer", "description": "差异所依据的布局版本 / layout version of the diff"},
            "reason": {"type": "string", "description": "修改原因 / why (kept in the history)"},
            "drawing": {"type": "string", "description": "图纸（缺省为总平面布置图）；其他图纸整体导入为该图纸的"
                                                      "新版本，diff 只列要素数 / the drawing (default: the site plan); "
                                                      "another drawing is imported whole as its new version"},
            "title": {"type": "string", "description": "图纸标题 / the drawing's title"},
            "building": {"type": "string", "description": "楼层图所在建筑（总平面图要素编号或名称）/ the building "
                                                       "on the site plan (fid or name)"},
            "storey": {"type": "string", "description": "楼层，如 B1、1F、2F / the storey"},
            "schematic": {"type": "boolean", "default": False,
                          "description": "示意图（如工艺流程图），没有地理位置 / a schematic drawing"},
        }}}},
}


def _bool(value: str | None, name: str) -> bool:
    if value is None or value.strip() == "":
        return False
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InputError(f"{name} 应为 true 或 false，而不是 {value[:40]!r} / {name} must be true or false")


def _number(value: str | None, name: str, kind: type):
    if value is None or value.strip() == "":
        return None
    try:
        number = kind(value.strip())
    except ValueError:
        what = "整数 / an integer" if kind is int else "数字 / a number"
        raise InputError(f"{name} 应为{what}，而不是 {value[:40]!r}") from None
    if kind is float and not (0 < number < 1e6):
        raise InputError(f"{name} 超出范围 / {name} is out of range")
    return number


def _safe_name(filename: str | None, default_suffix: str) -> str:
    """The upload's own base name (shown in the diff), reduced to harmless characters; the suffix is kept
    so that the importer can tell formats apart that have no magic bytes."""
    base = PurePath((filename or "").replace("\\", "/")).name
    suffix = PurePath(base).suffix.lower()
    stem = re.sub(r"[^\w.\-]+", "_", PurePath(base).stem)[:80].strip("._") or "upload"
    return stem + (suffix if suffix in FORMATS_BY_SUFFIX or suffix in (".csv", ".yaml", ".yml", ".json")
                   else default_suffix)


async def _save(upload: UploadFile, folder: Path, default_suffix: str, limit: int) -> Path:
    path = folder / _safe_name(upload.filename, default_suffix)
    written = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise TooLargeError(f"上传文件过大（上限 {limit // (1024 * 1024)} MB）/ upload too large (limit "
                                    f"{limit // (1024 * 1024)} MB)")
            out.write(chunk)
    if written == 0:
        raise InputError(f"上传的文件 {path.name} 为空 / the uploaded file {path.name} is empty")
    return path


def make_router() -> APIRouter:
    """POST /api/layout/revise: diff a revised drawing against the current layout; apply it when confirmed."""
    router = APIRouter(prefix="/api", tags=["layout"])

    @router.post(
        "/layout/revise", response_model=answers.Revision,
        summary="比较修订图与当前布局，确认后作为新布局版本 / diff a revised drawing, apply it when confirmed",
        openapi_extra={"requestBody": _FORM_SCHEMA},
        responses={401: {"description": "需要登录或令牌 / sign-in or a token is required"},
                   409: {"description": "布局在比较后已改变 / the layout changed since the diff"},
                   411: {"description": "缺少 Content-Length / Content-Length is required"},
                   412: {"description": "要素已被他人修改 / a feature was changed meanwhile"},
                   413: {"description": "文件过大 / file too large"},
                   415: {"description": "需要 multipart/form-data / multipart/form-data is required"},
                   422: {"description": "文件或参数有误 / bad file or parameters"}},
    )
    async def revise_layout(request: Request, who: Principal = Depends(require("edit_layout")),
                            enterprise: str | None = Query(None, description="企业名称 / enterprise")) -> dict:
        from riskmap.geo.safety import private_tempdir

        settings = request.app.state.settings
        limit = settings.max_upload_bytes
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise MediaTypeError("请以 multipart/form-data 上传文件（字段 file）/ upload the file as "
                                       "multipart/form-data (field file)")
        declared = request.headers.get("content-length")
        if declared is None or not declared.strip().isdigit():
            raise LengthRequired("需要 Content-Length 请求头 / the Content-Length header is required")
        # A declared size over the limit was refused before the body was read (riskmap.api.guard).
        try:
            form = await request.form(max_files=len(_FILE_FIELDS), max_fields=len(_TEXT_FIELDS) + 5)
        except (RiskmapError, HTTPException):
            raise
        except Exception as exc:   # the multipart parser's own errors: a broken or truncated body
            raise InputError(f"无法解析上传的表单：{str(exc)[:200]} / cannot parse the uploaded form") from None
        try:
            unknown = sorted(set(form.keys()) - set(_TEXT_FIELDS) - set(_FILE_FIELDS))
            if unknown:
                raise InputError(f"未知的表单字段：{', '.join(k[:40] for k in unknown)} / unknown form fields")
            fields: dict[str, str | None] = {}
            for key in _TEXT_FIELDS:
                value = form.get(key)
                if isinstance(value, UploadFile):
                    raise InputError(f"字段 {key} 应为文本，而不是文件 / field {key} must be text, not a file")
                if value is not None and len(value) > _MAX_FIELD:
                    raise InputError(f"字段 {key} 过长 / field {key} is too long")
                fields[key] = value
            for key in _FILE_FIELDS:
                if form.get(key) is not None and not isinstance(form.get(key), UploadFile):
                    raise InputError(f"字段 {key} 应为上传的文件 / field {key} must be an uploaded file")
            upload = form.get("file")
            if upload is None:
                raise InputError("缺少上传的图纸（表单字段 file）/ the drawing is missing (form field file)")
            confirm = _bool(fields["confirm"] or request.query_params.get("confirm"), "confirm")
            base_version = _number(fields["base_version"] or request.query_params.get("base_version"),
                                   "base_version", int)
            if confirm and base_version is None:
                raise InputError("确认应用需要 base_version（比较时的布局版本）/ confirm=true needs base_version (the "
                                 "layout version the diff was made against)")
            options = {"crs": (fields["crs"] or "").strip() or None,
                       "name_property": (fields["name_property"] or "").strip() or "name",
                       "role_property": (fields["role_property"] or "").strip() or "role",
                       "max_rms": _number(fields["max_rms"], "max_rms", float),
                       "drop_invalid": _bool(fields["drop_invalid"], "drop_invalid")}
            reason = (fields["reason"] or request.headers.get("x-reason") or "").strip() or None
            the_drawing = _drawing_of(fields, options, form.get("control_points") is not None)
            with private_tempdir() as folder:
                drawing = await _save(upload, folder, ".dxf", limit)
                for key, suffix in (("control_points", ".csv"), ("layer_map", ".yaml")):
                    part = form.get(key)
                    if part is not None:
                        options[key] = await _save(part, folder, suffix, min(limit, 10 * 1024 * 1024))
                if the_drawing is not None:
                    return await run_in_threadpool(
                        _import_drawing, request.app.state.store(), settings,
                        resolve_tenant(request.app, enterprise).name, drawing, the_drawing, options, confirm,
                        base_version, who.author, reason)
                return await run_in_threadpool(
                    _revise, request.app.state.store(), settings, resolve_tenant(request.app, enterprise).name, drawing,
                    options, confirm, base_version, who.author, reason)
        finally:
            await form.close()

    return router


def _drawing_of(fields: dict, options: dict, control_points: bool):
    """The drawing the form names other than the site plan (riskmap.drawings.new_drawing checks it), or None."""
    from riskmap.drawings import SITE, new_drawing

    key = (fields.get("drawing") or "").strip()
    schematic = _bool(fields.get("schematic"), "schematic")
    if (not key or key == SITE) and not (fields.get("building") or fields.get("storey") or schematic):
        return None
    return new_drawing(key, title=fields.get("title"), building=fields.get("building"), storey=fields.get("storey"),
                       schematic=schematic, crs=options.get("crs"), control_points=control_points)


def _import_drawing(store, settings, enterprise: str, file: Path, drawing, options: dict, confirm: bool,
                    base_version: int | None, author: str | None, reason: str | None) -> dict:
    """A drawing other than the site plan: a new one imported whole (without confirm what it holds, with confirm
    stored as that drawing's first version); one already imported revised by its diff as the site plan is, so its
    features keep their ids (409 when its version moved on since `base_version`)."""
    from riskmap.geo.importer import import_layout_file
    from riskmap.geo.revise import LayoutMovedOn
    from riskmap.importing import building_footprint, load_layout
    from riskmap.plant import resolve_enterprise

    name = resolve_enterprise(store, enterprise)
    store.enterprise(name, create=False)
    current = store.layout_info(name, drawing=drawing.key) if drawing.key in {d.key for d in store.drawings(name)} \
        else None
    if current is not None:
        options = {**options, "schematic": drawing.schematic, "footprint": building_footprint(store, name, drawing)}
        return _revise(store, settings, name, file, options, confirm, base_version, author, reason,
                       drawing_key=drawing.key) | {"drawing": store.drawing(name, drawing.key).to_json()}
    base = 0
    if not confirm:
        layout = import_layout_file(settings, file, schematic=drawing.schematic,
                                    footprint=building_footprint(store, name, drawing), **options)
        summary = layout.summary()
        return {"enterprise": name, "source": layout.source_name, "base_version": base, "applied": False,
                "warnings": summary["warnings"], "drawing": drawing.to_json(),
                "diff": {"whole": True, "features": summary["features"], "by_role": summary["by_role"]}}
    if base_version is not None and base_version != base:
        raise LayoutMovedOn(f"图纸 {drawing.key} 已改变（当前版本 {base}）/ the drawing {drawing.key!r} changed "
                            f"meanwhile (now version {base})")
    summary = load_layout(settings.model_copy(update={"enterprise": name}), file, store=store, author=author,
                          reason=reason, drawing=drawing, **options)
    return {"enterprise": name, "source": summary["source"], "base_version": base, "applied": True,
            "warnings": summary["warnings"], "drawing": summary["drawing"],
            "layout_version": summary["layout_version"], "data_version": store.data_version(name),
            "diff": {"whole": True, "features": summary["features"], "by_role": summary["by_role"]}}


def _revise(store, settings, enterprise: str | None, drawing: Path, options: dict, confirm: bool,
            base_version: int | None, author: str | None, reason: str | None, *, drawing_key: str | None = None) \
        -> dict:
    from riskmap.geo.importer import import_layout_file
    from riskmap.geo.revise import apply_revision, plan_revision
    from riskmap.plant import resolve_enterprise

    name = resolve_enterprise(store, enterprise)
    store.enterprise(name, create=False)
    revised = import_layout_file(settings, drawing, **options)
    diff, base = plan_revision(store, name, revised, drawing=drawing_key)
    out = {"enterprise": name, "source": revised.source_name, "base_version": base, "diff": diff.to_dict(),
           "warnings": list(revised.warnings), "applied": False}
    if confirm:
        out |= apply_revision(store, name, diff, base_version, source=revised.source_name, author=author,
                              reason=reason, drawing=drawing_key)
    return out
