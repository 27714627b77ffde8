"""A new assessment over HTTP (PATCH /api/units/{id}) clears the unit's re-assessment flags, even when the result
is the level it had; `assessed_on` records an assessment without new inputs; a date in the future is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from plants import ENT, plant_layout, unit_tree

from riskmap.api.app import create_app
from riskmap.clock import today as beijing_today
from riskmap.settings import Settings
from riskmap.store import open_store


@pytest.fixture
def flagged(store_url, editor_token):
    """U1.1 flagged after an accident; an app and editor headers: (client, store)."""
    store = open_store(store_url)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, unit_tree())
    store.record_accident(ENT, "U1.1", date(2026, 11, 1), "阀门泄漏 / valve leak", author="安全部")
    with TestClient(create_app(Settings(db=store_url, enterprise=ENT))) as client:
        client.headers.update(editor_token(store))
        yield client, store
    store.close()


def open_reasons(store, unit: str) -> set[str]:
    return {f["reason_code"] for f in store.flags(ENT, unit_id=unit) if f["id"] is not None}


def test_re_evaluating_with_the_same_inputs_is_an_assessment_that_clears_the_flag(flagged):
    client, store = flagged
    assert open_reasons(store, "U1.1") == {"accident"}
    before = client.get("/ogc/collections/units/items/U1.1").json()["properties"]["level"]
    r = client.patch("/api/units/U1.1", json={"events": [{"id": "E1", "inputs": {"L": 3, "E": 6, "C": 15}}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == before                       # same level as before: still a new assessment
    assert body["last_assessed"] == beijing_today().isoformat()
    assert open_reasons(store, "U1.1") == set()
    assert [f for f in store.flags(ENT, open_only=False, unit_id="U1.1") if f.get("cleared_at")]


def test_assessed_on_alone_records_an_assessment(flagged):
    client, store = flagged
    day = beijing_today() - timedelta(days=1)
    r = client.patch("/api/units/U1.1", json={"assessed_on": day.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["last_assessed"] == day.isoformat()
    assert open_reasons(store, "U1.1") == set()


@pytest.mark.parametrize("value, status", [
    ((date.today() + timedelta(days=3)).isoformat(), 422),   # the future
    ("1989-12-31", 422),
    ("昨天", 422),
])
def test_a_bad_assessment_date_is_refused_and_changes_nothing(flagged, value, status):
    client, store = flagged
    version = store.data_version(ENT)
    r = client.patch("/api/units/U1.1", json={"assessed_on": value})
    assert r.status_code == status, r.text
    assert store.data_version(ENT) == version
    assert open_reasons(store, "U1.1") == {"accident"}
