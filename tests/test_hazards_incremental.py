"""The hazards layer patched after a write (issue 13, report → visible ≤ 300 ms): after random sequences of
reports, workflow steps, anonymous reports and their confirmation, and a layout edit that moves a unit, the data
the tiles draw (read incrementally: only the hazards changed since) equals a full read of the same version, hazard
by hazard, in the same order and at the same place; on both backends."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from plants import plant_layout, unit_tree

from riskmap import clock
from riskmap.api.app import create_app
from riskmap.hazards import Actor
from riskmap.people import ROLES
from riskmap.render.hazardtiles import HazardFilters, build_hazard_data
from riskmap.settings import Settings
from riskmap.store import hazards as hz
from riskmap.store import open_store

ENT = "增量隐患企业"
MANAGER = Actor("张经理", None, ROLES["safety_manager"][2])


def _same(patched, full) -> None:
    assert patched.version == full.version
    assert list(patched.frame["id"]) == list(full.frame["id"])
    def values(frame, column):
        return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in frame[column]]

    for column in ("state", "group", "level", "overdue", "unit_id", "deadline", "department", "by_unit"):
        assert values(patched.frame, column) == values(full.frame, column), column
    assert np.allclose(patched.x, full.x, rtol=0, atol=1e-3) and np.allclose(patched.y, full.y, rtol=0, atol=1e-3)


@pytest.mark.parametrize("seed", [1, 2])
def test_patched_layer_equals_a_full_read(store_url, seed):
    store = open_store(store_url)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, unit_tree())
    rng = random.Random(seed)
    app = create_app(Settings(db=store_url))
    with TestClient(app) as client:
        client.get("/tiles/hazards/tilejson.json", params={"enterprise": ENT})
        layer = app.state.tiles.hazards
        service = app.state.tiles.service
        filters = [HazardFilters(), HazardFilters(state=("reported",)), HazardFilters(level=1)]
        for f in filters:
            layer.data(ENT, f)
        ids: list[str] = []
        for step in range(14):
            choice = rng.random()
            reported = [h["id"] for h in hz.listing(store, ENT) if h["state"] == "reported"]
            if step == 7:                                  # the layout moves a unit: its hazards move with it
                moved = shapely.box(120.0004, 32.0002, 120.0014, 32.0012)
                store.replace_feature(ENT, "A1", "*", "building", moved)
            elif choice < 0.35 or not reported or step == 6:
                values = {"name": f"隐患 {step}", "source": rng.choice([1, 2, 3, 4, 6]),
                          "level": int(rng.random() < 0.3), "department": rng.choice(["储运部", "设备部"])}
                if step in (0, 6):
                    values["unit_code"] = "U1"                     # drawn inside its unit, on A1
                    values["level"] = 0
                elif rng.random() < 0.5:
                    values["unit_code"] = rng.choice(["U1", "U2", "U1.1"])
                else:
                    values["location"] = {"type": "Point", "coordinates": [120.0001 + rng.random() * 0.001,
                                                                           32.0001 + rng.random() * 0.001]}
                ids.append(hz.report(store, ENT, MANAGER, values)["hazard"]["id"])
            elif choice < 0.5:
                hz.report_anonymous(store, ENT, f"10.0.0.{step}", {
                    "name": f"匿名 {step}", "location": {"type": "Point", "coordinates": [120.0005, 32.0005]}},
                    per_hour=100, per_day=1000)
            elif choice < 0.75:
                target = rng.choice(reported)
                hz.write(store, ENT, target, "confirm", MANAGER, {})
                if rng.random() < 0.5:
                    deadline = clock.local_date(clock.now()) + timedelta(days=3)
                    hz.write(store, ENT, target, "assign", MANAGER, {"rectifier": "李工",
                                                                     "deadline": deadline.isoformat()})
            else:
                hz.write(store, ENT, rng.choice(reported), "reject", MANAGER, {}, reason="不是隐患")
            for f in filters:
                before = layer.patches
                got = layer.data(ENT, f)
                assert layer.patches == before + 1, "read incrementally"
                _, name, version, _ = service.resolve(ENT)
                frame = hz.hazards_frame(store, name, **f.store_args())
                if step == 7:
                    inside = set(got.frame.loc[got.frame["by_unit"].astype(bool), "unit_id"])
                    assert "U1" in inside or f.level or f.state
                _same(got, build_hazard_data(frame, layer.style(), got.owner, version))
        assert ids
    store.close()
