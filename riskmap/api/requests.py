"""What the routers read from a request, and the pieces of the API description they share: one place, public names,
so that no router reaches into another's helpers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from riskmap.api import ogc_data as data
from riskmap.api.deps import enter
from riskmap.api.public_url import public_base_url
from riskmap.errors import (
    BadBodyError,
    InputError,
    MediaTypeError,
    NotWritableError,
    PreconditionRequired,
    TooLargeError,
)
from riskmap.text import check_text

JSON_TYPES = frozenset({"application/json", "application/geo+json", "application/merge-patch+json"})
MAX_REASON = 2000
# request.scope["state"] key: the exact Allow header of a 405 that only the route knows (a read-only collection
# on a path whose other collections take writes); the guard keeps it instead of naming every method of the path.
ALLOW_STATE = "riskmap_allow"


def query_parameter(name: str, schema: dict, description: str, **extra) -> dict:
    """An OpenAPI query parameter, for routes that read their query themselves and so must document it by hand."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


def enterprise_param(request: Request) -> str | None:
    """The ``?enterprise=`` of the request, None when absent or blank (then the configured enterprise applies)."""
    value = request.query_params.get("enterprise")
    return value if value and value.strip() else None


def base_url(request: Request) -> str:
    """The public base URL (RISKMAP_BASE_URL, else forwarded headers from trusted proxies, else the request's)."""
    return public_base_url(request)


def url_on(request: Request, path: str, **params) -> str:
    """An absolute URL on this service, carrying ?enterprise= over from the request."""
    query = {}
    enterprise = enterprise_param(request)
    if enterprise:
        query["enterprise"] = enterprise
    query.update({k: v for k, v in params.items() if v is not None})
    return base_url(request) + path + ("?" + urlencode(query) if query else "")


def collection_path(collection_id: str) -> str:
    """The URL path of an OGC collection, the id percent-encoded (ids may hold any text)."""
    return "/ogc/collections/" + quote(collection_id, safe="")


def item_path(collection_id: str, feature_id: str) -> str:
    """The URL path of one item of an OGC collection, both ids percent-encoded."""
    return collection_path(collection_id) + "/items/" + quote(feature_id, safe="")


def drawing_of(request: Request) -> str | None:
    """The drawing a request names with ``?drawing=`` (None: the site plan)."""
    from riskmap.drawings import requested

    return requested(request.query_params.get("drawing"))


def store_of(request: Request):
    """The app's Store."""
    return request.app.state.store()


def writable_collection(request: Request, collection_id: str, open_kinds: tuple[str, ...] = ()) -> data.CollectionRef:
    """The collection a write goes to (its enterprise checked); the past (?at=) is read only, and so are the
    collections of riskmap.api.ogc_data.READ_ONLY except for the routes that write them (`open_kinds`)."""
    if request.query_params.get("at") is not None:
        raise NotWritableError("过去某一时刻的数据只读，不能修改（去掉 ?at=）/ "
                               "the data of a past moment is read only (drop ?at=)")
    ref = data.resolve_collection(store_of(request), request.app.state.settings.enterprise,
                                  enterprise_param(request), collection_id)
    enter(request, ref.enterprise)
    allowed = data.READ_ONLY.get(ref.kind)
    if allowed is not None and ref.kind not in open_kinds:
        # the Allow header names this collection's methods, not every method of the path (riskmap.api.guard)
        request.scope.setdefault("state", {})[ALLOW_STATE] = ", ".join(allowed)
        where = data.WRITTEN_THROUGH.get(ref.kind, "/api")
        raise NotWritableError(f"集合 “{ref.id}” 只读：其数据请通过 {where} 写入 / the collection {ref.id!r} is read "
                               f"only: its data is written through {where}")
    return ref


async def writable_collection_async(request: Request, collection_id: str) -> data.CollectionRef:
    """`writable_collection` off the event loop (it reads the database)."""
    return await run_in_threadpool(writable_collection, request, collection_id)


def if_match_of(request: Request) -> str:
    """The If-Match header, required for edits so nobody overwrites a change they have not seen; missing gives 428."""
    value = request.headers.get("if-match")
    if value is None or not value.strip():
        raise PreconditionRequired()
    return value


def reason_of(request: Request) -> str | None:
    """The edit's reason from the X-Reason header (percent-encoded or raw UTF-8 both read right), kept in the history.
    """
    text = request.headers.get("x-reason")
    if text is not None:
        from contextlib import suppress
        from urllib.parse import unquote

        with suppress(UnicodeError):    # headers arrive as latin-1: raw UTF-8 bytes are read back as UTF-8
            text = text.encode("latin-1").decode("utf-8")
        text = unquote(text)        # the portable way: percent-encoded UTF-8
    else:
        text = request.query_params.get("reason")
    text = check_text((text or "").strip(), "reason")
    if len(text) > MAX_REASON:
        raise InputError(f"修改理由过长（最多 {MAX_REASON} 字）/ the reason is longer than {MAX_REASON} characters")
    return text or None


async def read_json(request: Request) -> Any:
    """The JSON body (application/json, geo+json or merge-patch+json): no NaN, no deep nesting, no text that cannot
    be stored. Its size was checked before a byte of it was read (riskmap.api.guard)."""
    from riskmap.strictjson import JSONProblem, loads

    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise MediaTypeError(f"请求体应为 JSON（application/geo+json、application/json 或 "
                             f"application/merge-patch+json），而不是 {media or '空'} / "
                             f"the body must be JSON (application/geo+json, application/json or "
                             f"application/merge-patch+json), not {media or 'missing'}")
    try:
        body = loads(await request.body())
    except JSONProblem as exc:
        error = InputError if exc.kind == "constant" else BadBodyError
        raise error(exc.about("请求体", "the body")) from None
    return check_text(body, "body")


def plant_extent(request: Request, ref: data.CollectionRef) -> tuple | None:
    """The plant's extent (lon/lat) that edited geometries must stay near: the current layout's bounds (of the
    drawing the request names; a schematic drawing's plane lies near (0°, 0°))."""
    view = data.plant_cache(request.app).view(store_of(request), ref.enterprise.name, drawing_of(request))
    bbox = view.collection("layout").bbox
    return tuple(bbox) if bbox else None


def json_body_doc(schema: dict, media: tuple[str, ...]) -> dict:
    """The OpenAPI request body of a route that parses its body itself (to give bilingual errors), for the docs."""
    return {"requestBody": {"required": True, "content": {m: {"schema": schema} for m in media}}}


def write_responses(*extra: int) -> dict:
    """The OpenAPI error responses of a write route: the errors every write can give, plus ``extra`` (409, 412, 428
    ...), each with its bilingual meaning and the error schema.
    """
    from riskmap.api.errors import ERROR_SCHEMA

    texts = {400: "请求体不是 JSON / body is not JSON", 401: "需要编辑令牌 / an editor token is required",
             403: "只读令牌 / a reader token", 404: "没有该集合或要素 / no such collection or item",
             405: "过去的数据和只读集合（hazards）不能修改 / the past, and read-only collections (hazards), "
                  "cannot be written", 409: "编号已被使用 / the id is in use",
             412: "要素已被他人修改（附当前版本）/ changed meanwhile (the current item is in the body)",
             413: "请求体过大 / body too large", 415: "只接受 JSON / JSON bodies only",
             422: "几何或属性有误 / invalid geometry or property", 428: "缺少 If-Match / If-Match is required"}
    codes = (400, 401, 403, 404, 405, 413, 415, 422, *extra)
    return {code: {"description": texts[code], "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code in sorted(set(codes))}


PHOTO_CHUNK = 256 * 1024
PHOTO_FORM_ROOM = 64 * 1024    # the multipart form's own bytes around a photo


async def photo_upload(request: Request, limit: int) -> bytes:
    """The bytes of the form field `file` of a multipart upload, refused past `limit` bytes (TooLargeError, 413:
    by the declared length before reading, else while reading) or when not multipart (MediaTypeError, 415)."""
    return await file_upload(request, limit, ("照片", "the photo"))


async def file_upload(request: Request, limit: int, what: tuple[str, str]) -> bytes:
    """`photo_upload` for any file (`what`: its Chinese and English names, for the messages)."""
    zh, en = what
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise MediaTypeError(f"请以 multipart/form-data 上传{zh}（字段 file）/ upload {en} as multipart/form-data "
                             "(field file)")
    declared = request.headers.get("content-length", "").strip()
    too_large = TooLargeError(f"{zh}过大（上限 {limit / 1048576:g} MB）/ {en} is larger than {limit / 1048576:g} MB")
    if declared.isdigit() and int(declared) > limit + PHOTO_FORM_ROOM:
        raise too_large
    try:
        parsed = await request.form(max_files=1, max_fields=2)
    except (InputError, TooLargeError):
        raise
    except Exception as exc:
        raise InputError(f"无法解析上传的表单：{str(exc)[:200]} / cannot parse the uploaded form") from None
    try:
        part = parsed.get("file")
        if not isinstance(part, UploadFile):
            raise InputError(f"缺少{zh}（表单字段 file）/ {en} is missing (form field file)")
        out = bytearray()
        while chunk := await part.read(PHOTO_CHUNK):
            out += chunk
            if len(out) > limit:
                raise too_large
        return bytes(out)
    finally:
        await parsed.close()
