"""The map snapshot on both backends: the same rows, refreshed in the writing transaction, and on PostGIS the
vector tiles made in SQL (ST_AsMVT) carry the same features and attributes as the Python encoder's on SQLite."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from kit import map_rows
from pgdb import empty_tables
from sqlalchemy import text

from riskmap.domain import Override
from riskmap.levels import Level
from riskmap.plant import load_plant
from riskmap.render.grid import tile_view
from riskmap.render.tilecache import TileService
from riskmap.settings import Settings
from riskmap.store import mapdata, open_store

TMS = morecantile.tms.get("WebMercatorQuad")


def load_demo_into(url: str) -> None:
    from riskmap.demo import load_demo

    load_demo(Settings(db=url))


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory) -> str:
    from kit import session_demo

    return f"sqlite:///{session_demo(tmp_path_factory)}"


def assert_snapshot_is_the_plant(store, url: str) -> None:
    """Every region's and unit's row in the map snapshot says what the plant view (full domain objects) says."""
    name = store.enterprises()[0].name
    plant = load_plant(store, name)
    risks = {r.region_id: r for r in plant.region_risk()}
    regions = {r["key"]: r for r in map_rows(url, "regions")}
    assert set(regions) == set(risks)
    for key, risk in risks.items():
        assert regions[key]["level"] == (risk.level.value if risk.level else None)
        assert regions[key]["decided_by"] == (risk.decided_by.name if risk.decided_by else None)
        members = [u.last_assessed for c in risk.contributing for u in plant.units if u.id == c.unit_id]
        dates = [d for d in members if d is not None]
        assert regions[key]["last_assessed"] == (min(dates).isoformat() if dates else None)
    # units: one row per drawn shape, at the highest level of the units located there (own shape or ancestor's)
    rows = [r for r in map_rows(url, "units") if r["geometry"] is not None]
    by_shape: dict[bytes, list] = {}
    for u in plant.units:
        shape = u.geometry if u.geometry is not None else next(
            (a.geometry for a in _ancestors(plant.units, u) if a.geometry is not None), None)
        if shape is not None:
            by_shape.setdefault(shapely.to_wkb(mapdata.to_mercator([shape])[0]), []).append(u)
    assert len(rows) == len(by_shape)
    for r in rows:
        members = by_shape[shapely.to_wkb(r["geometry"])]
        levels = [u.level() for u in members if u.level() is not None]
        assert r["level"] == (max(levels, key=lambda lv: lv.rank).value if levels else None)
        owner = next(u for u in plant.units if u.id == r["key"])
        assert owner in members and r["name"] == owner.name and r["kind"] == owner.kind.value
        assert sum(int(part.split(":")[1]) for part in r["members"].split(",")) == len(members)


def test_snapshot_equals_the_plant_view_and_is_written_in_the_transaction(store_url, monkeypatch):
    load_demo_into(store_url)
    with open_store(store_url) as store:
        name = store.enterprises()[0].name
        plant = load_plant(store, name)
        version = store.data_version(name)
        assert_snapshot_is_the_plant(store, store_url)
        with store.session() as s:
            top = s.execute(text("SELECT max(data_version) FROM map_features")).scalar_one()
        assert top <= version

        # the refresh runs inside the writing transaction: when it fails, nothing of the edit is kept
        def boom(*args, **kwargs):
            raise RuntimeError("refresh failed")

        monkeypatch.setattr(mapdata, "refresh", boom)
        with pytest.raises(RuntimeError):
            store.edit_unit(name, "CY-01-02", lambda u: setattr(u, "override", Override(Level.LOW, "x", "manual")))
        monkeypatch.undo()
        assert store.data_version(name) == version
        assert store.units(name)[[u.id for u in plant.units].index("CY-01-02")].override is None

        # and when it succeeds, the changed rows carry the new version
        _, _, new_version = store.edit_unit(name, "CY-01-02",
                                            lambda u: setattr(u, "override", Override(Level.LOW, "x", "manual")))
        with store.session() as s:
            rows = s.execute(text("SELECT layer, key, level FROM map_features WHERE data_version = :v"),
                             {"v": new_version}).all()
        assert ("units", "CY-01-02", "low") in [tuple(r) for r in rows]
        assert_snapshot_is_the_plant(store, store_url)      # an edit refreshes from the lean read of the tree

        # rebuilt from nothing (as for a database from before the table), the rows are the same
        before = {(r["layer"], r["key"]): r for layer in ("regions", "units", "layout")
                  for r in map_rows(store_url, layer)}
        with store.session(write=True) as s:
            s.execute(text("DELETE FROM map_features"))
        store.rebuild_map(name)
        after = {(r["layer"], r["key"]): r for layer in ("regions", "units", "layout")
                 for r in map_rows(store_url, layer)}
        assert set(after) == set(before)
        for k, r in before.items():
            assert {c: r[c] for c in ("feature_id", "name", "level", "decided_by", "last_assessed", "wkb")} == \
                {c: after[k][c] for c in ("feature_id", "name", "level", "decided_by", "last_assessed", "wkb")}


def _family(geometry_type: str) -> str:
    return geometry_type.removeprefix("Multi")


def _ancestors(units, unit):
    by_id = {u.id: u for u in units}
    cur = unit.parent_id
    while cur is not None:
        yield by_id[cur]
        cur = by_id[cur].parent_id


@pytest.mark.postgis
def test_postgis_and_sqlite_give_the_same_vector_tiles(sqlite_demo, postgis_database):
    empty_tables(postgis_database)
    load_demo_into(postgis_database)
    with open_store(sqlite_demo) as lite, open_store(postgis_database) as pg:
        a, b = TileService(lite), TileService(pg)
        assert not a.use_sql_mvt and b.use_sql_mvt
        da, db = a.current(None), b.current(None)
        box = da.bounds_3857()
        west, south = TMS.lnglat(box[0], box[1])
        east, north = TMS.lnglat(box[2], box[3])
        compared = 0
        for z in (14, 16, 18):
            for t in TMS.tiles(west, south, east, north, [z]):
                view = tile_view(t.z, t.x, t.y)
                for layer in ("regions", "units", "layout"):
                    ta = mapbox_vector_tile.decode(a.tile(da, layer, "mvt", view))
                    tb = mapbox_vector_tile.decode(b.tile(db, layer, "mvt", view))
                    fa = {f["id"]: f for f in ta.get(layer, {}).get("features", [])}
                    fb = {f["id"]: f for f in tb.get(layer, {}).get("features", [])}
                    assert set(fa) == set(fb), (z, t, layer)
                    if layer in ("units", "regions"):     # both list features in render.order's order
                        assert list(fa) == list(fb), (z, t, layer)
                    for fid, f in fa.items():
                        g = fb[fid]
                        assert f["properties"] == g["properties"]
                        # a clip can leave a sliver part that one encoder keeps and the other drops
                        assert _family(f["geometry"]["type"]) == _family(g["geometry"]["type"])
                        ga, gb = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(g["geometry"])
                        # clipping and simplification (about one tile unit) differ between the encoders: the
                        # shapes agree within that along their outline
                        if ga.area > 0:
                            diff = shapely.symmetric_difference(ga, gb).area
                            assert diff <= 1.5 * max(ga.length, gb.length) + 0.01 * ga.area, (diff, ga, gb)
                        else:
                            assert shapely.hausdorff_distance(ga, gb) <= 4, (ga, gb)
                        compared += 1
                    if fa:
                        assert ta[layer]["extent"] == tb[layer]["extent"] == 4096
        assert compared > 300


@pytest.mark.postgis
def test_postgis_map_table_has_a_gist_index_and_srid_3857(postgis_database):
    with open_store(postgis_database) as store, store.engine.connect() as conn:
        indexes = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                         "WHERE tablename = 'map_features'")).all())
        assert "USING gist" in indexes["ix_map_features_geometry"]
        srid = conn.execute(text("SELECT Find_SRID('public', 'map_features', 'geometry')")).scalar_one()
        assert srid == 3857


@pytest.mark.postgis
def test_postgis_tiles_follow_edits_through_the_http_app(postgis_database, editor_token):
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app

    empty_tables(postgis_database)
    load_demo_into(postgis_database)
    client = TestClient(create_app(Settings(db=postgis_database)))
    row = next(r for r in map_rows(postgis_database, "units") if r["key"] == "CY-01-02")
    c = row["geometry"].centroid
    lon, lat = TMS.lnglat(c.x, c.y)
    t = TMS.tile(lon, lat, 18)

    def level() -> str:
        body = client.get(f"/tiles/units/18/{t.x}/{t.y}.mvt").content
        feats = mapbox_vector_tile.decode(body)["units"]["features"]
        return next(f["properties"]["level"] for f in feats if f["properties"]["unit_id"] == "CY-01-02")

    assert level() == "significant"
    r = client.patch("/api/units/CY-01-02", json={"override": {"level": "major", "reason": "测试"}},
                     headers=editor_token(postgis_database))
    assert r.status_code == 200 and r.json()["level"] == "major"
    assert level() == "major"


@pytest.mark.postgis
def test_postgis_sql_tiles_show_the_flags_of_map_flags(postgis_database):
    """The flags live in map_flags (riskmap.store.mapdata): the tile made in SQL shows a unit flagged after an
    accident at it, every unit flagged after a serious one, none after clearing, as the Python encoder does on the
    same data."""
    from datetime import date

    empty_tables(postgis_database)
    load_demo_into(postgis_database)
    row = next(r for r in map_rows(postgis_database, "units") if r["key"] == "CY-01-02")
    c = row["geometry"].centroid
    lon, lat = TMS.lnglat(c.x, c.y)
    t = TMS.tile(lon, lat, 18)
    view = tile_view(t.z, t.x, t.y)
    with open_store(postgis_database) as pg:
        name = pg.enterprises()[0].name
        sql, python = TileService(pg), TileService(pg)
        python.use_sql_mvt = False
        assert sql.use_sql_mvt

        def flags() -> dict:
            out = []
            for service in (sql, python):
                body = service.tile(service.current(None), "units", "mvt", view)
                out.append({f["properties"]["unit_id"]: f["properties"].get("flag")
                            for f in mapbox_vector_tile.decode(body)["units"]["features"]})
            assert out[0] == out[1] and len(out[0]) > 1
            return out[0]

        pg.clear_flags(name, None)
        assert not any(flags().values())
        pg.record_accident(name, "CY-01-02", date(2026, 11, 1), "泄漏")
        now = flags()
        assert now["CY-01-02"] == "accident" and sum(bool(v) for v in now.values()) == 1
        pg.record_accident(name, None, date(2026, 11, 2), "爆燃", deaths=1)
        assert all(v and "accident" in v.split(",") for v in flags().values())
        pg.clear_flags(name, None)
        assert not any(flags().values())
