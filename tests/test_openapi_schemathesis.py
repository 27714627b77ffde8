"""Schemathesis against the app's own /openapi.json, in-process through ASGI (no network).

Every GET operation, POST /api/evaluate and the editing writes (OGC API Features Part 4 items, layout split and
merge, sent with an editor token) are called with generated inputs: no answer may be a 5xx, and every answer
must match the API definition (documented content type, body valid against the response schema). The OGC API
Features operations, whose statuses and headers are all declared, must also answer only with declared statuses
and send the declared headers (ETag, Location).
Kept small (25 examples per operation, no deadline) so that it runs in well under two minutes on 2 cores.

The schema is loaded when the module is imported (schemathesis's fixture-based loader does not work with
pytest 9); the app is cheap to create and opens its database only on the first request, after the demo plant
has been loaded into it by the module fixture.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from riskmap.api.app import create_app
from riskmap.demo import load_demo
from riskmap.settings import Settings

MAX_EXAMPLES = 25
CORE_CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.content_type_conformance]
DECLARED_ONLY = [*CORE_CHECKS, checks.status_code_conformance, checks.response_headers_conformance]


_DIR = Path(tempfile.mkdtemp(prefix="riskmap-schemathesis-"))
SETTINGS = Settings(db=f"sqlite:///{_DIR / 'demo.db'}")
APP = create_app(SETTINGS)


EDIT_PATHS = ("/ogc/collections/", "/api/layout/split", "/api/layout/merge")


def _is_edit(operation) -> bool:
    return operation.method.upper() != "GET" and operation.path.startswith(EDIT_PATHS)


def _under_test(ctx) -> bool:
    method = ctx.operation.method.upper()
    return method == "GET" or (method == "POST" and ctx.operation.path == "/api/evaluate") or _is_edit(ctx.operation)


def _published() -> dict:
    return copy.deepcopy(APP.openapi())


def _declares_fastapi_422(doc: dict) -> bool:
    detail = doc.get("components", {}).get("schemas", {}).get("HTTPValidationError", {}).get("properties", {})
    return detail.get("detail", {}).get("type") == "array"


def _checked_schema():
    """The published definition, checked as published (see test_published_422_schema_is_what_the_app_sends)."""
    doc = _published()
    loaded = schemathesis.openapi.from_dict(doc)
    loaded.app = APP
    return loaded


schema = _checked_schema().include(_under_test)


@pytest.fixture(scope="module")
def demo_loaded():
    """Load the demo plant; returns the feature ids of each OGC collection (to steer generated paths)."""
    from fastapi.testclient import TestClient

    from riskmap.store import open_store, tokens

    load_demo(Settings(db=SETTINGS.db))
    with TestClient(APP) as client:
        ids = {kind: [f["id"] for f in client.get(f"/ogc/collections/{kind}/items?limit=10000").json()["features"]]
               for kind in KINDS}
    with open_store(SETTINGS.db) as store:
        ids["token"] = tokens.create_token(store, "editor", "schemathesis")[0]
    yield ids
    shutil.rmtree(_DIR, ignore_errors=True)


KINDS = ("regions", "units", "layout")


def _steer(case, ids: dict[str, list[str]]) -> None:
    """Random text almost never names a real collection or feature: turn three in four generated ones into
    real ones (chosen from the generated value, so that Hypothesis can still shrink), keep the rest random."""
    params = case.path_parameters or {}
    given = params.get("collection_id")
    if not isinstance(given, str) or given in KINDS or len(given) % 4 == 3:
        return
    kind = KINDS[len(given) % 3]
    params["collection_id"] = kind
    feature = params.get("feature_id")
    if isinstance(feature, str) and len(feature) % 4 != 3:
        params["feature_id"] = ids[kind][len(feature) % len(ids[kind])]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api_conforms_to_its_openapi(case, demo_loaded):
    strict = case.operation.path.startswith("/ogc")
    if strict:
        _steer(case, demo_loaded)
    if _is_edit(case.operation):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {demo_loaded['token']}"}
    case.call_and_validate(checks=DECLARED_ONLY if strict else CORE_CHECKS)


def test_the_run_covers_the_ogc_operations():
    """The schema the run uses really lists the OGC endpoints (a silent empty run would pass)."""
    paths = {op.ok().path for op in schema.get_all_operations() if op.ok().method.upper() == "GET"}
    assert {"/ogc/", "/ogc/conformance", "/ogc/collections", "/ogc/collections/{collection_id}",
            "/ogc/collections/{collection_id}/items", "/ogc/collections/{collection_id}/items/{feature_id}"} <= paths
    assert "/api/regions" in paths
    writes = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations() if _is_edit(op.ok())}
    items = "/ogc/collections/{collection_id}/items"
    assert {("POST", items), ("PUT", items + "/{feature_id}"), ("PATCH", items + "/{feature_id}"),
            ("DELETE", items + "/{feature_id}"), ("POST", "/api/layout/split"), ("POST", "/api/layout/merge")} <= writes


def test_published_422_schema_is_what_the_app_sends(demo_loaded):
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        body = client.get("/api/regions", params={"method": "median"}).json()
    assert isinstance(body["detail"], str)
    assert not _declares_fastapi_422(_published())
