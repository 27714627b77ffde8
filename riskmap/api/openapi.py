"""The API description made true to what the service answers, and walkable by a client that follows links.

FastAPI documents what a route declares; the refusals that come from shared machinery it cannot see: the 404 of
an unknown enterprise (every route with `enterprise`), the 400/413/415 of a body refused by riskmap.api.guard or
not parsable, the 401/403 of riskmap.api.permissions (and of closed reading); each operation names the permission
it needs (`x-permission`). `document` adds those to every operation
they apply to, declares the bearer token as a security scheme on the routes that need it, and adds OpenAPI links
between the item operations (create → read → change → delete; restore → read), so that a client, or a stateful fuzzer,
can carry an item's id and ETag from one call to the next.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from riskmap.api.errors import ERROR_SCHEMA

BEARER = "bearerToken"
SESSION = "sessionCookie"
_ERRORS = {
    400: "请求体无法解析（不是 UTF-8 编码的 JSON 等）/ the body cannot be parsed (not JSON in UTF-8, …)",
    401: "需要登录或令牌，或令牌无效 / sign-in or a token is required, or it is invalid",
    403: "无此权限（角色不够、只读令牌、其他企业的账户或 CSRF 令牌不对）/ not allowed (role, reader token, another "
         "enterprise's account or a wrong CSRF token)",
    404: "企业或对象不存在 / no such enterprise or item",
    413: "请求体超过上限（RISKMAP_MAX_BODY_MB，上传为 RISKMAP_MAX_UPLOAD_MB）/ the body is larger than the limit",
    415: "请求体的类型不对（应为 JSON，上传为 multipart/form-data）/ the body has the wrong media type",
    422: "参数或内容有误 / invalid parameters or content",
}
ITEM = "/ogc/collections/{collection_id}/items/{feature_id}"
ITEMS = "/ogc/collections/{collection_id}/items"
RESTORE = "/api/history/restore"


def document(app: FastAPI, *, policies: list, read_closed: bool, open_paths: frozenset[str]) -> None:
    """Wrap `app.openapi` so that the description it builds (once) is completed as the module docstring says.

    `policies` are riskmap.api.guard.RoutePolicy (which permission a route needs, which take a body);
    `read_closed` when every request but `open_paths` needs a token."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            _document_refusals(schema, policies, read_closed, open_paths)
            _add_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": copy.deepcopy(ERROR_SCHEMA)}}}


def _document_refusals(schema: dict, policies: list, read_closed: bool, open_paths: frozenset[str]) -> None:
    needs = {(p.path_format, m.lower()): p.permission for p in policies if p.permission for m in p.methods}
    secured = False
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            names = {(p.get("in"), p.get("name")) for p in op.get("parameters", []) if isinstance(p, dict)}
            codes = set()
            if names or "requestBody" in op:
                codes.add(422)
            if ("query", "enterprise") in names or any(where == "path" for where, _ in names):
                codes.add(404)
            if "requestBody" in op:
                codes |= {400, 413, 415}
            if (path, method) in needs:
                codes |= {401, 403}
                op["security"] = [{BEARER: []}, {SESSION: []}]
                op["x-permission"] = needs[(path, method)]
                secured = True
            elif read_closed and path not in open_paths:
                codes.add(401)
                op["security"] = [{BEARER: []}, {SESSION: []}]
                op["x-permission"] = "read"
                secured = True
            for code in sorted(codes):
                op["responses"].setdefault(str(code), _error(_ERRORS[code]))
            if op.get("security") and "If-Match" in {n for _, n in names}:
                for param in op["parameters"]:
                    if param.get("name") == "If-Match":
                        param["schema"] = {**param.get("schema", {}), "minLength": 1}
    if secured:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER] = {"type": "http", "scheme": "bearer",
                           "description": "riskmap token create --role editor|reader 生成的令牌 / a token made with "
                                          "riskmap token create"}
        schemes[SESSION] = {"type": "apiKey", "in": "cookie", "name": "riskmap_session",
                            "description": "在 /login 登录后的会话；修改时还需请求头 X-CSRF-Token / the session of a "
                                           "sign-in at /login; a change also needs the X-CSRF-Token header"}


def _operation_ids(schema: dict) -> dict[tuple[str, str], str]:
    return {(path, method): op["operationId"] for path, ops in schema.get("paths", {}).items()
            for method, op in ops.items() if isinstance(op, dict) and "operationId" in op}


def _add_links(schema: dict) -> None:
    ids = _operation_ids(schema)
    needed = [(ITEM, "get"), (ITEM, "patch"), (ITEM, "put"), (ITEM, "delete"), (ITEMS, "post")]
    if not all(key in ids for key in needed):
        return

    def link(method: str, feature: str, etag: str | None, description: str) -> dict[str, Any]:
        params = {"path.collection_id": "$request.path.collection_id", "path.feature_id": feature}
        if etag:
            params["header.If-Match"] = etag
        return {"operationId": ids[(ITEM, method)], "parameters": params, "description": description}

    def add(path: str, method: str, status: str, links: dict) -> None:
        response = schema["paths"][path][method]["responses"].get(status)
        if response is not None:
            response.setdefault("links", {}).update(links)

    created, same = "$response.body#/id", "$request.path.feature_id"
    etag = "$response.header.ETag"
    # PUT is no link target from here: a unit (one of the collections) is changed with PATCH only.
    add(ITEMS, "post", "201", {
        "GetItem": link("get", created, None, "读取新增的要素 / read the new item"),
        "PatchItem": link("patch", created, etag, "修改新增的要素 / change the new item"),
        "DeleteItem": link("delete", created, etag, "删除新增的要素 / delete the new item")})
    add(ITEM, "get", "200", {
        "PatchItem": link("patch", same, etag, "修改读到的要素（带其 ETag）/ change the item read, with its ETag"),
        "DeleteItem": link("delete", same, etag, "删除读到的要素 / delete the item read")})
    for method in ("patch", "put"):
        add(ITEM, method, "200", {
            "GetItem": link("get", same, None, "读取修改后的要素 / read the changed item"),
            "PatchItem": link("patch", same, etag, "再次修改 / change it again"),
            "DeleteItem": link("delete", same, etag, "删除修改后的要素 / delete the changed item")})
    # No link from a delete to the restore: a client walking links would then read a deleted item back and
    # take it for one that was never deleted (schemathesis's use_after_free says so).
    add(ITEM, "delete", "204", {"GetItem": link("get", same, None, "删除后读取：404 / read after delete: 404")})
    if (RESTORE, "post") in ids:
        add(RESTORE, "post", "201", {"GetItem": {
            "operationId": ids[(ITEM, "get")],
            "parameters": {"path.collection_id": "$request.body#/collection", "path.feature_id": "$request.body#/id"},
            "description": "读取恢复的要素 / read the restored feature"}})
