"""Schemathesis against the app's own /openapi.json, in-process through ASGI (no network), on SQLite and PostGIS.

The run is schemathesis's own engine, as `st run` drives it: every operation of the API description through the
examples, coverage and fuzzing phases, then the stateful phase, which follows the description's OpenAPI links
(create → read → change → delete an item, carrying its id and ETag); every check schemathesis has is on.
Writes carry an editor token through the declared bearer scheme (so `ignored_auth` also checks that leaving it out
is a 401). Goal: no 5xx, no transport error (a traceback in the app surfaces as one), no failed check.

Checks configured, not switched off:
- `positive_data_acceptance` also accepts 400, 412, 422 and 428 besides its default statuses: a request the
  schema allows can still break a rule no JSON schema states (a region and a bbox together, a moment before 1990,
  a stale ETag, a geometry 5 km from the plant), and those are answered with a message, as they should be;
- `missing_required_header` also accepts 428, the status RFC 6585 gives a missing If-Match.

The stateful phase runs a second time, with positive data only, on a copy of the description whose item bodies
are steered to valid ones (a small square inside the demo plant; a rename), so that creation succeeds and the
links are walked to the end; random and negative bodies are what the first run sends.

Budget: a fixed seed, 12 examples per operation and 25 stateful scenarios of at most 8 steps: about a minute per
backend on 2 cores. The request count of each run is printed (pytest -s) and kept as a test property.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from pgdb import backend_of
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from riskmap.api.app import create_app
from riskmap.demo import load_demo
from riskmap.settings import Settings

SEED = 20_261_001
MAX_EXAMPLES = 12
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 8
POSITIVE_ALSO = ["400", "412", "422", "428"]
ITEMS = "/ogc/collections/{collection_id}/items"
ITEM = ITEMS + "/{feature_id}"


@pytest.fixture(scope="module")
def site(module_store_url, tmp_path_factory):
    """The demo plant on one backend, its app and an editor token (hazard photos in a folder of the test's own)."""
    from fastapi.testclient import TestClient

    from riskmap.store import open_store, tokens

    url = module_store_url
    media = str(tmp_path_factory.mktemp("media"))
    load_demo(Settings(db=url, media_dir=media))
    with open_store(url) as store:
        token = tokens.create_token(store, "editor", "schemathesis")[0]
    app = create_app(Settings(db=url, media_dir=media))
    with TestClient(app) as client:
        region = client.get("/ogc/collections/regions/items", params={"limit": 1}).json()["features"][0]
    yield {"app": app, "token": token, "url": url, "backend": backend_of(url), "inside": _inside(region)}
    app.state.store().close()


def _inside(feature: dict) -> list[float]:
    """A point well inside the plant: the first vertex of a region moved a little towards its middle."""
    ring = feature["geometry"]["coordinates"][0]
    if feature["geometry"]["type"] == "MultiPolygon":
        ring = ring[0]
    lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    return [lon, lat]


@dataclass
class Run:
    requests: int = 0
    by_phase: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    transitions: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def _config(token: str, phases: list[str], mode: str = "all") -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "cache": {"enabled": False},               # no state kept between runs: the same run every time
        "auth": {"openapi": {"bearerToken": {"bearer": token}}},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {
            **{name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing", "stateful")},
            "stateful": {"enabled": "stateful" in phases, "max-steps": STATEFUL_STEPS,
                         "generation": {"max-examples": STATEFUL_SCENARIOS, "mode": mode}},
        },
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "429",
                                                                *POSITIVE_ALSO]},
            "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]},
        },
        "continue-on-failure": True,
    })


def run_schemathesis(app, doc: dict, token: str, phases: list[str], mode: str = "all") -> Run:
    # a copy: schemathesis adds the links it infers (from Location headers) to the description it is given, and
    # the app's own cached one must stay as the app makes it for the next run
    schema = schemathesis.openapi.from_dict(copy.deepcopy(doc), config=_config(token, phases, mode))
    schema.app = app
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            run.requests += len(recorder.interactions)
            run.by_phase[event.phase.name] += len(recorder.interactions)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    run.statuses[interaction.response.status_code] += 1
            for node in recorder.cases.values():
                if node.transition is not None and node.is_transition_applied:
                    run.transitions[str(node.transition.id)] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        interaction = recorder.interactions.get(case_id)
                        request = interaction.request if interaction else None
                        run.failures.append((check.name, recorder.label,
                                             f"{request.method} {request.uri}" if request else "",
                                             str(check.failure_info.failure)[:600]))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            run.errors.append((getattr(event, "label", ""), str(event.info)[:600]))
    return run


def _steered(doc: dict, inside: list[float]) -> dict:
    """The description with the item bodies of the stateful walk made valid (see the module docstring)."""
    doc = copy.deepcopy(doc)
    lon, lat = inside
    d = 0.00004                                   # about 4 m: a square that fits inside a region
    square = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d],
                                                  [lon, lat]]]}
    feature = {"type": "Feature", "geometry": square, "properties": {"role": "building", "name": "模糊测试建筑"}}
    paths = doc["paths"]
    for method, body in (("post", feature), ("put", feature),
                         ("patch", {"properties": {"name": "模糊测试改名"}})):
        path = ITEMS if method == "post" else ITEM
        op = paths[path][method]
        for content in op["requestBody"]["content"].values():
            content["schema"] = {"enum": [body]}
        for param in op.get("parameters", []):
            if param.get("name") == "collection_id":
                param["schema"] = {"type": "string", "enum": ["layout"]}
            if param.get("name") == "enterprise":
                param["schema"] = {"type": "string", "enum": [""]}
    # Only the items' operations: with every route of the service in the walk (accounts, sign-in…) a scenario of
    # a few steps too seldom creates an item and then follows its links (restore's link is checked in the
    # description test below).
    doc["paths"] = {p: ops for p, ops in paths.items() if p in (ITEMS, ITEM)}
    return doc


def _report(record_property, label: str, run: Run) -> None:
    record_property(f"{label}_requests", run.requests)
    print(f"\n{label}: {run.requests} requests {dict(run.by_phase)}; statuses {dict(sorted(run.statuses.items()))}; "
          f"links followed {sum(run.transitions.values())}")


def test_all_checks_every_operation(site, record_property):
    run = run_schemathesis(site["app"], site["app"].openapi(), site["token"], ["examples", "coverage", "fuzzing",
                                                                             "stateful"])
    _report(record_property, f"schemathesis[{site['backend']}]", run)
    assert not run.errors, run.errors[:5]
    assert not [s for s in run.statuses if s >= 500], run.statuses
    assert not run.failures, run.failures[:10]
    assert run.requests > 2000 and run.by_phase["COVERAGE"] and run.by_phase["FUZZING"]


def test_all_checks_the_operators_operations(site, record_property, tmp_path):
    """The operator's routes and the access records with an operator's token (the run above carries an editor's,
    which they refuse with 403 before reading a body): every phase, every check, no 5xx. On a database of its own:
    the enterprises it adds must not join the demo's (the stateful walk reads "the only enterprise")."""
    from pgdb import create_pg_database, drop_pg_database

    from riskmap.store import accounts, open_store, tokens

    url = create_pg_database() if site["backend"] == "postgis" else f"sqlite:///{tmp_path / 'operator.db'}"
    app = None
    try:
        with open_store(url) as store:
            store.enterprise("模糊测试企业")
            made = accounts.create_account(store, None, name="模糊测试运维", login="ops-fuzz",
                                           password="fuzz-operator-1", roles=["operator"], operator=True)
            token = tokens.create_token(store, "editor", "ops-fuzz", account_id=made["id"])[0]
        app = create_app(Settings(db=url, media_dir=str(tmp_path / "media")))
        doc = copy.deepcopy(app.openapi())
        doc["paths"] = {p: ops for p, ops in doc["paths"].items() if p.startswith(("/api/admin/", "/api/audit/"))}
        run = run_schemathesis(app, doc, token, ["examples", "coverage", "fuzzing", "stateful"])
    finally:
        if app is not None:
            app.state.store().close()
        if site["backend"] == "postgis":
            drop_pg_database(url)
    _report(record_property, f"operator[{site['backend']}]", run)
    assert not run.errors, run.errors[:5]
    assert not [s for s in run.statuses if s >= 500], run.statuses
    assert not run.failures, run.failures[:10]
    assert run.statuses[200] and run.statuses[422], run.statuses      # lists answered, bad bodies refused


def test_stateful_walk_follows_the_item_links(site, record_property):
    # positive data only: a steered body is one value, so any other (valid as the server sees it) would count as
    # "schema-violating"; the unsteered run above sends the negative cases
    run = run_schemathesis(site["app"], _steered(site["app"].openapi(), site["inside"]), site["token"],
                           ["stateful"], mode="positive")
    _report(record_property, f"stateful[{site['backend']}]", run)
    assert not run.errors, run.errors[:5]
    assert not [s for s in run.statuses if s >= 500], run.statuses
    assert not run.failures, run.failures[:10]
    walked = {found.group(1) for name in run.transitions if (found := re.search(r"\] (\S+) ->", name))}
    # created items were read, changed and deleted through the links
    assert {"GetItem", "PatchItem", "DeleteItem"} <= walked, run.transitions
    assert run.statuses[201] and run.statuses[204], run.statuses


def test_the_description_documents_the_refusals(site):
    """Shared refusals are in the description: an unknown enterprise (404) where `enterprise` is a parameter, a
    body refused (400, 413, 415) where there is a body, a token (401, 403) where an editor token is needed."""
    doc = site["app"].openapi()
    ops = {(m.upper(), p): op for p, methods in doc["paths"].items() for m, op in methods.items()}
    for path in ("/api/regions", "/api/regions.geojson", "/api/units.geojson", "/api/map/config", "/api/search"):
        assert "404" in ops[("GET", path)]["responses"], path
    for key in (("POST", "/api/evaluate"), ("POST", "/api/accidents"), ("PATCH", "/api/units/{unit_id}")):
        assert {"400", "413", "415", "422"} <= set(ops[key]["responses"]), key
    for key in (("POST", "/api/accidents"), ("POST", "/api/flags/clear"), ("POST", "/api/history/restore"),
                ("PATCH", "/api/units/{unit_id}"), ("DELETE", ITEM)):
        assert {"401", "403"} <= set(ops[key]["responses"]) and ops[key]["security"], key
    assert "security" not in ops[("POST", "/api/evaluate")]
    links = ops[("POST", ITEMS)]["responses"]["201"]["links"]
    assert {"GetItem", "PatchItem", "DeleteItem"} <= set(links)
    assert links["PatchItem"]["parameters"]["header.If-Match"] == "$response.header.ETag"
    assert set(ops[("DELETE", ITEM)]["responses"]["204"]["links"]) == {"GetItem"}
    assert "GetItem" in ops[("POST", "/api/history/restore")]["responses"]["201"]["links"]
    evaluate = doc["components"]["schemas"]["EvaluateRequest"]
    assert evaluate.get("additionalProperties") is False
    accident = doc["components"]["schemas"]["AccidentIn"]["properties"]["serious_injuries"]
    assert accident["type"] == "integer"


def test_published_422_schema_is_what_the_app_sends(site):
    from fastapi.testclient import TestClient

    with TestClient(site["app"]) as client:
        body = client.get("/api/regions", params={"method": "median"}).json()
    assert isinstance(body["detail"], str)
    detail = site["app"].openapi()["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    assert detail["type"] == "string"
