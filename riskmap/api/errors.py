"""Map the domain's errors onto HTTP statuses with a message a safety manager understands."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskmap.errors import EditConflict, RiskmapError
from riskmap.text import storable


class ErrorResponse(JSONResponse):
    """JSON that always renders: a message may quote what the user sent, lone surrogates included (U+FFFD)."""

    def render(self, content) -> bytes:
        """The body as UTF-8 JSON with Chinese kept as characters; NaN is refused rather than sent as invalid JSON."""
        return storable(json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                        ).encode("utf-8")


def error_response(exc: RiskmapError) -> JSONResponse:
    """The answer to a RiskmapError: its message (and problems); a conflict also carries the current item so the
    client can show it. Pure-ASGI middleware answers with it too, so that every refusal looks the same."""
    body = {"detail": exc.message}
    if exc.details:
        body["problems"] = exc.details
    if isinstance(exc, EditConflict):
        body = {"code": "conflict", **body, "current": jsonable_encoder(exc.current)}
    return ErrorResponse(body, status_code=exc.http_status, headers=getattr(exc, "headers", None))


def _riskmap_error(request: Request, exc: RiskmapError) -> JSONResponse:
    return error_response(exc)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"location": ".".join(str(p) for p in err.get("loc", ())),
         "message": str(err.get("msg", "")).removeprefix("Value error, ")}
        for err in exc.errors()
    ]
    return ErrorResponse({"detail": "请求参数有误 / invalid request parameters", "problems": problems},
                         status_code=422)


_STATUS_ZH = {
    400: "请求无效", 401: "需要登录凭据", 403: "无权访问", 404: "未找到", 405: "不支持的请求方法",
    406: "不支持的格式", 409: "冲突", 412: "数据已被他人修改", 413: "请求过大", 415: "不支持的内容类型",
    428: "缺少 If-Match 版本", 429: "请求过多",
}


# Framework messages that deserve more than a Chinese status name in front.
_FRAMEWORK_DETAIL = {
    "There was an error parsing the body":
        "请求体无法解析（应为 UTF-8 编码、嵌套不过深的 JSON）/ the body cannot be parsed (JSON in UTF-8, not "
        "nested too deeply, is expected)",
}


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Framework errors (unparsable body, unknown path, wrong method) in Chinese first, English after."""
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    detail = _FRAMEWORK_DETAIL.get(detail, detail)
    zh = _STATUS_ZH.get(exc.status_code)
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in detail)
    message = detail if not zh or chinese else f"{zh} / {detail}"
    return ErrorResponse({"detail": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "description": "错误说明（中文在前）/ error message, Chinese first",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "problems": {"type": "array", "title": "Problems", "items": {"type": "object"}},
        "code": {"type": "string", "title": "Code", "description": "conflict：要素已被他人修改 / changed meanwhile"},
        "current": {"type": ["object", "null"], "title": "Current",
                    "description": "412 时要素的当前版本 / on 412, the item as it is now"},
    },
    "required": ["detail"],
}


def _document_error_shape(app: FastAPI) -> None:
    """The OpenAPI document must describe the 422 body this service sends, not FastAPI's default list shape."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_SCHEMA
                schemas.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def install_error_handlers(app: FastAPI) -> None:
    """Answer RiskmapError, framework errors (404, 405, unparsable body) and validation errors in one JSON shape
    (detail, Chinese first), never a traceback, and describe that shape in /openapi.json."""
    _document_error_shape(app)
    app.add_exception_handler(RiskmapError, _riskmap_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
