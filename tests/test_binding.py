"""References are bindings by identity (issue 10): a ledger's `feature` (a name or a CAD handle) is bound to the
feature's fid when it is written, so renames, re-layering and role changes never move a unit; a new drawing that
renumbers its handles is bound again by name; a rename raises no re-assessment flag. On both backends."""

from __future__ import annotations

from decimal import Decimal

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.geo.model import LayoutImport
from riskmap.levels import Level
from riskmap.plant import load_plant
from riskmap.store.flags import COMPUTED_REASONS

ENT = "绑定测试化工"


def square(x: float, y: float, d: float = 0.001) -> Polygon:
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def layout(rows: list[tuple[str, str, str, Polygon]]) -> LayoutImport:
    gdf = gpd.GeoDataFrame({"fid": [r[0] for r in rows], "name": [r[1] for r in rows], "role": [r[2] for r in rows],
                            "layer": ["0"] * len(rows), "properties": [{} for _ in rows]},
                           geometry=[r[3] for r in rows], crs="EPSG:4326")
    return LayoutImport(features=gdf, crs="EPSG:4549", source_name="plant.dxf", source_format="dxf")


PLAN = [("A1", "罐区", "region", square(120.0, 32.0)), ("A2", "装置区", "region", square(120.002, 32.0)),
        ("B1", "泵房", "building", square(120.0002, 32.0002, 0.0003))]


def ledger() -> list[AssessmentUnit]:
    def u(uid, kind, level, parent=None, ref=None):
        return AssessmentUnit(id=uid, name=uid, kind=UnitKind(kind), parent_id=parent, feature_ref=ref,
                              weight=Decimal(1), events=[RiskEvent("e", residual_level=level)])
    return [u("U1", "main", Level.MAJOR, ref="罐区"), u("U1-1", "sub", Level.LOW, "U1", ref="泵房"),
            u("U1-2", "post", Level.GENERAL, "U1"), u("U2", "main", Level.SIGNIFICANT, ref="A2"),
            u("U3", "main", Level.LOW, ref="停车场")]


def located(store) -> dict[str, str | None]:
    plant = load_plant(store, ENT)
    return {u.id: None if u.geometry is None else u.geometry.wkt for u in plant.units}


def levels(store) -> dict[str, str | None]:
    return {r.region_id: r.level.value if r.level else None for r in load_plant(store, ENT).region_risk()}


def test_a_ledger_is_bound_to_fids_when_imported(store):
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    refs = {u.id: u.feature_ref for u in store.units(ENT)}
    assert refs == {"U1": "A1", "U1-1": "B1", "U1-2": None, "U2": "A2", "U3": "停车场"}   # 停车场 matches nothing


def test_renaming_every_feature_moves_nothing_and_flags_nothing(store):
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    before_units, before_levels = located(store), levels(store)
    flags_before = store.flags(ENT)
    for fid, name, _, _ in PLAN:
        store.patch_feature(ENT, fid, "*", {"name": name + "（改）"}, author="张工")
    assert located(store) == before_units
    assert levels(store) == before_levels
    assert store.flags(ENT) == flags_before
    from riskmap.store.history import history

    actions = [c["action"] for c in history(store, ENT)]
    assert actions.count("feature.rename") == len(PLAN)


def test_role_and_layer_changes_move_nothing(store):
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    before = located(store)
    store.patch_feature(ENT, "B1", "*", {"role": "equipment", "layer": "设备"}, author="张工")
    assert located(store) == before


def test_a_new_drawing_with_renumbered_handles_is_bound_again_by_name(store):
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    before = located(store)
    renumbered = [("X" + fid, name, role, geom) for fid, name, role, geom in PLAN]
    store.save_layout(ENT, layout(renumbered))
    refs = {u.id: u.feature_ref for u in store.units(ENT)}
    assert refs["U1"] == "XA1" and refs["U1-1"] == "XB1" and refs["U2"] == "XA2"
    assert located(store) == before
    assert store.ledger_info(ENT)["action"] == "bind"
    from riskmap.store.history import history

    assert any(c["action"] == "units.bind" for c in history(store, ENT))


def test_a_reference_that_matched_nothing_binds_when_its_feature_is_drawn(store):
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    store.create_feature(ENT, None, "region", square(120.004, 32.0), feature_name="停车场", author="张工")
    fid = next(u.feature_ref for u in store.units(ENT) if u.id == "U3")
    assert fid != "停车场" and store.feature(ENT, fid).name == "停车场"
    # a later rename leaves it where it is
    store.patch_feature(ENT, fid, "*", {"name": "新停车场"}, author="张工")
    assert next(u for u in load_plant(store, ENT).units if u.id == "U3").geometry is not None


def test_the_migration_binds_the_references_of_existing_databases(store_url):
    from pgdb import backend_of, owner_url
    from sqlalchemy import text

    from riskmap.store import open_store
    from riskmap.store.upgrade import alembic_config

    # migrations run as the tables' owner (on PostGIS the service's role may not change the schema)
    migrating = owner_url(store_url) if backend_of(store_url) == "postgis" else store_url
    open_store(store_url).close()
    store = open_store(migrating)
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    before = located(store)
    with store.engine.begin() as conn:               # as a database of revision 0004 held them: names
        conn.execute(text("UPDATE units SET feature_ref = '罐区' WHERE code = 'U1'"))
        from alembic import command

        command.downgrade(alembic_config(conn), "0004")
    store.close()
    store = open_store(migrating)                    # opening migrates, and draws the dropped snapshot again
    try:
        assert next(u.feature_ref for u in store.units(ENT) if u.id == "U1") == "A1"
        assert located(store) == before
        with store.session() as s:                   # the snapshot was built again on open
            assert s.execute(text("SELECT count(*) FROM map_features WHERE layer = 'units'")).scalar_one() > 0
    finally:
        store.close()


@pytest.fixture
def client_store(store_url, editor_token):
    from kit import make_client

    from riskmap.store import open_store

    store = open_store(store_url)
    store.save_layout(ENT, layout(PLAN))
    store.save_units(ENT, ledger())
    yield make_client(store_url), store, editor_token(store)
    store.close()


def test_renames_through_the_api_keep_colours_and_units(client_store):
    client, store, headers = client_store
    before_units, before_levels = located(store), levels(store)
    for fid, name, role, _ in PLAN:
        collection = "regions" if role == "region" else "layout"
        item = client.get(f"/ogc/collections/{collection}/items/{fid}")
        assert item.status_code == 200, item.text
        r = client.patch(f"/ogc/collections/{collection}/items/{fid}", json={"properties": {"name": name + "（改）"}},
                         headers={**headers, "If-Match": item.headers["ETag"],
                                  "Content-Type": "application/merge-patch+json"})
        assert r.status_code in (200, 204), r.text
    assert located(store) == before_units and levels(store) == before_levels
    assert not [f for f in client.get("/api/flags").json()["items"] if f["reason_code"] not in COMPUTED_REASONS]
    found = client.get("/api/search", params={"q": "罐区（改）"}).json()
    assert any(h.get("id") == "A1" or h.get("region_id") == "A1" for h in found["results"]), found
    assert shapely.geometry.shape(client.get("/api/units.geojson").json()["features"][0]["geometry"]) is not None
