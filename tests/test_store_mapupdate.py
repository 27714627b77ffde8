"""The incremental map refresh (riskmap.store.mapupdate) against the full rebuild: after random sequences of unit
edits, feature edits and flag changes the stored snapshot equals a snapshot built from scratch, row for row, on
both backends, and a full refresh afterwards finds nothing to change. Seeded random sequences: each seed is a
reproducible case."""

from __future__ import annotations

import random
from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, select

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.geo.model import LayoutImport
from riskmap.levels import Level
from riskmap.store import mapdata
from riskmap.store.flags import months_of, open_codes
from riskmap.store.history import regions_from
from riskmap.store.layouts import read_features
from riskmap.store.ledgers import map_units
from riskmap.store.rows import enterprise_id

ENT = "增量企业"
CELL = 0.001
LEVELS = [Level.LOW, Level.GENERAL, Level.SIGNIFICANT, Level.MAJOR]


def box(i: int, j: int, size: float = CELL * 0.9):
    x, y = 120.0 + i * CELL, 30.0 + j * CELL
    return shapely.box(x, y, x + size, y + size)


def plant_layout() -> LayoutImport:
    fids = [f"R{k}" for k in range(4)] + [f"E{k}" for k in range(4)]
    geoms = [box(k % 2, k // 2) for k in range(4)] + [box(k % 2, k // 2, CELL * 0.3) for k in range(4)]
    roles = ["region"] * 4 + ["equipment"] * 4
    names = [f"区域{k}" for k in range(4)] + [f"设备{k}" for k in range(4)]
    gdf = gpd.GeoDataFrame({"fid": fids, "name": names, "role": roles, "layer": ["L"] * 8,
                            "properties": [{} for _ in fids]}, geometry=geoms, crs="EPSG:4326")
    return LayoutImport(features=gdf, crs="EPSG:4326", source_name="t", source_format="geojson")


def plant_units(rng: random.Random) -> list[AssessmentUnit]:
    units = [AssessmentUnit("root", "全厂", UnitKind.MAIN, feature_ref="R0")]
    for k in range(1, 4):
        units.append(AssessmentUnit(f"M{k}", f"主{k}", UnitKind.MAIN, feature_ref=f"区域{k}",
                                    events=[RiskEvent("e", residual_level=rng.choice(LEVELS))],
                                    last_assessed=date(2026, 1, k)))
    for n in range(24):
        parent = rng.choice([u.id for u in units])
        kind = rng.choice([UnitKind.POST, UnitKind.EQUIPMENT, UnitKind.ACTIVITY])
        choice = rng.random()
        geom, ref = None, None
        if choice < 0.35:
            x, y = 120.0 + rng.random() * 2 * CELL, 30.0 + rng.random() * 2 * CELL
            geom = shapely.Point(x, y) if rng.random() < 0.6 else shapely.box(x, y, x + CELL / 20, y + CELL / 20)
        elif choice < 0.6:
            ref = rng.choice([f"E{k}" for k in range(4)])          # shared shapes: several units on one feature
        units.append(AssessmentUnit(f"u{n}", f"单元{n}", kind, parent_id=parent, geometry=geom, feature_ref=ref,
                                    events=[RiskEvent("e", residual_level=rng.choice(LEVELS))]
                                    if rng.random() < 0.8 else [],
                                    last_assessed=rng.choice([None, date(2026, 3, 1), date(2025, 6, 1)])))
    return units


def full_snapshot(store) -> pd.DataFrame:
    """What a full rebuild makes now, as comparable rows."""
    with store.session() as s:
        ent = enterprise_id(s, ENT, create=False)
        features = read_features(s, ENT)
        units = map_units(s, ent)
        snap = mapdata.build_snapshot(features, units, regions_from(features, units), copy=False,
                                      unit_flags=open_codes(s, ent), months=months_of(s, ent))
    return comparable(new_rows(snap))


def new_rows(snapshot) -> pd.DataFrame:
    frames = []
    for layer in mapdata.LAYERS:
        part = snapshot[layer][mapdata.SNAPSHOT_COLUMNS].copy()
        part.insert(0, "layer", layer)
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    out["wkb"] = [shapely.to_wkb(shapely.force_2d(g)) for g in out["geometry"]]
    return out


def stored_rows(store) -> pd.DataFrame:
    with store.session() as s:
        rows = mapdata.read_rows(s, enterprise_id(s, ENT, create=False), with_wkb=True)
    rows = rows[rows["wkb"].notna()].copy()
    rows["wkb"] = [shapely.to_wkb(shapely.force_2d(shapely.from_wkb(w))) for w in rows["wkb"]]
    return comparable(rows)


def comparable(rows: pd.DataFrame) -> pd.DataFrame:
    cols = ["layer", "key", *mapdata.ATTRIBUTES]
    out = rows[cols].astype(object).where(rows[cols].notna(), None)
    out = out.assign(geom=[shapely.normalize(shapely.from_wkb(w)).wkt for w in rows["wkb"]])
    out = out.map(lambda v: None if v is None else str(v))
    return out.sort_values(["layer", "key"]).reset_index(drop=True)


def random_edit(store, rng: random.Random, step: int) -> str:
    units = {u.id: u for u in store.units(ENT)}
    codes = sorted(units)
    what = rng.choice(["move", "level", "parent", "ref", "nogeom", "create", "delete", "reshape", "rename",
                       "role", "new_feature", "drop_feature", "accident", "accident_all", "clear", "clear_all"])
    code = rng.choice(codes)
    if what in ("move", "level", "parent", "ref", "nogeom"):
        def change(u, what=what):
            if what == "move" and u.geometry is not None:
                u.geometry = shapely.affinity.translate(u.geometry, rng.uniform(-CELL, CELL), 0)
            elif what == "move":
                x, y = 120.0 + rng.random() * 2 * CELL, 30.0 + rng.random() * 2 * CELL
                u.geometry = shapely.Point(x, y)
            elif what == "level":
                u.events = [RiskEvent("e", residual_level=rng.choice(LEVELS))]
                u.last_assessed = date(2026, 5, 1 + step % 27)
            elif what == "parent":
                below = {code}
                grow = True
                while grow:
                    grow = False
                    for v in units.values():
                        if v.parent_id in below and v.id not in below:
                            below.add(v.id)
                            grow = True
                options = [c for c in codes if c not in below]
                u.parent_id = rng.choice(options) if options else None
            elif what == "ref":
                u.feature_ref = rng.choice([None, "E0", "E1", "E2", "E3", "R1", "区域2", "设备3", "nothing"])
                u.geometry = None
            else:
                u.geometry = None
        store.edit_unit(ENT, code, change, if_match="*")
    elif what == "create":
        store.create_unit(ENT, AssessmentUnit(f"n{step}", f"新{step}", UnitKind.POST, parent_id=code,
                                              feature_ref=rng.choice([None, "E1", "R2"]),
                                              events=[RiskEvent("e", residual_level=rng.choice(LEVELS))]))
    elif what == "delete":
        childless = [c for c in codes if not any(u.parent_id == c for u in units.values())]
        store.delete_unit(ENT, rng.choice(childless), "*")
    elif what in ("reshape", "rename", "role", "drop_feature"):
        features = store.layout_features(ENT)
        if not len(features):
            return "none"
        fid = rng.choice(sorted(features["fid"]))
        if what == "reshape":
            geom = features.loc[features["fid"] == fid].geometry.iloc[0]
            store.patch_feature(ENT, fid, "*", {"geometry": shapely.affinity.scale(geom, 1.3, 1.1)})
        elif what == "rename":
            store.patch_feature(ENT, fid, "*", {"name": rng.choice(["区域1", "设备3", f"名{step}", "区域3"])})
        elif what == "role":
            store.patch_feature(ENT, fid, "*", {"role": rng.choice(["region", "equipment", "building"])})
        else:
            store.delete_feature(ENT, fid, "*")
    elif what == "new_feature":
        store.create_feature(ENT, f"F{step}", rng.choice(["region", "equipment"]),
                             box(rng.randint(0, 1), rng.randint(0, 1), CELL * rng.uniform(0.2, 1.5)),
                             feature_name=rng.choice([f"新{step}", "区域1", "设备0"]))
    elif what in ("accident", "accident_all"):
        store.record_accident(ENT, None if what == "accident_all" else code, date(2026, 11, 1), "事故",
                              deaths=1 if what == "accident_all" else 0)
    else:
        store.clear_flags(ENT, None if what == "clear_all" else code)
    return what


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_map_equals_full_rebuild(store, seed):
    rng = random.Random(seed)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(rng))
    done = []
    for step in range(30):
        done.append(random_edit(store, rng, step))
        stored, full = stored_rows(store), full_snapshot(store)
        pd.testing.assert_frame_equal(stored, full, obj=f"seed {seed} after {done}")
    assert store.rebuild_map(ENT).empty
    incremental = [k for k in ("move", "level", "reshape", "accident") if k in done]
    assert incremental, done


@pytest.fixture
def unit_reads(monkeypatch) -> list:
    """What each map refresh reads of the units from now on: their sorted codes, or None for the whole plant."""
    from riskmap.store import ledgers, mapupdate

    reads: list = []
    real = ledgers.map_units_ordered

    def counting(s, ent_id, codes=None):
        reads.append(None if codes is None else sorted(codes))
        return real(s, ent_id, codes)

    monkeypatch.setattr(mapupdate, "map_units_ordered", counting)
    return reads


def test_edits_use_the_incremental_path(store, unit_reads):
    """After the first write the Store updates the snapshot for what changed without reading every unit."""

    rng = random.Random(5)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(rng))
    store.record_accident(ENT, "u1", date(2026, 11, 1), "事故")        # reads the plant once
    unit_reads.clear()
    store.edit_unit(ENT, "u2", lambda u: setattr(u, "events", [RiskEvent("e", residual_level=Level.MAJOR)]),
                    if_match="*")
    store.clear_flags(ENT, "u1")
    assert unit_reads == [["u2"]]
    assert stored_rows(store).equals(full_snapshot(store))


def flag_rows(store) -> list[tuple]:
    return sorted((f["unit_id"], f["reason_code"], f["reason"]) for f in store.flags(ENT, today=date(2026, 11, 23)))


@pytest.mark.parametrize("seed", [11, 12])
def test_incremental_writes_raise_the_flags_of_full_ones(tmp_path, seed):
    """Two databases, the same random edits: one Store updates its map incrementally (and finds the units a layout
    change concerns from what it keeps), the other rebuilds and reads every unit; flags and maps agree."""
    from riskmap.store import open_store

    stores = [open_store(f"sqlite:///{tmp_path / f'{k}.db'}") for k in ("inc", "full")]
    stores[1].incremental_map = False
    rngs = [random.Random(seed), random.Random(seed)]
    try:
        for st, rng in zip(stores, rngs, strict=True):
            st.save_layout(ENT, plant_layout())
            st.save_units(ENT, plant_units(rng))
        for step in range(30):
            done = [random_edit(st, rng, step) for st, rng in zip(stores, rngs, strict=True)]
            assert done[0] == done[1]
            assert flag_rows(stores[0]) == flag_rows(stores[1]), (step, done)
        pd.testing.assert_frame_equal(stored_rows(stores[0]), stored_rows(stores[1]))
    finally:
        for st in stores:
            st.close()


def test_tile_data_patched_equals_loaded(tmp_path):
    """What the tile server holds after applying each edit's rows (render.tiledata.read_patch) equals the map
    loaded whole, arrays and spatial index alike."""
    import numpy as np

    from riskmap.render.tiledata import load_tiledata, read_patch
    from riskmap.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'tiles.db'}")
    rng = random.Random(21)
    try:
        store.save_layout(ENT, plant_layout())
        store.save_units(ENT, plant_units(rng))
        with store.session() as s:
            ent = enterprise_id(s, ENT, create=False)
            data = load_tiledata(s, ent, ENT, store.data_version(ENT))
        for step in range(25):
            random_edit(store, rng, step)
            version = store.data_version(ENT)
            with store.session() as s:
                data = read_patch(s, data, version).data
                fresh = load_tiledata(s, ent, ENT, version)
            for name, layer in fresh.layers.items():
                got = data.layers[name]
                assert got.key.tolist() == layer.key.tolist() and got.feature_id.tolist() == layer.feature_id.tolist()
                assert got.wkb.tolist() == layer.wkb.tolist(), (step, name)
                for col, values in layer.attrs.items():
                    assert got.attrs[col].tolist() == values.tolist(), (step, name, col)
                assert got.index == layer.index
                everywhere = (-2e7, -2e7, 2e7, 2e7)
                assert np.array_equal(got.query(everywhere), layer.query(everywhere))
                for g in layer.geometry[:5]:
                    assert np.array_equal(got.query(g.bounds), layer.query(g.bounds))
    finally:
        store.close()


def test_warm_map_makes_the_first_edit_incremental(store, unit_reads):

    rng = random.Random(8)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(rng))
    other = type(store)(store.engine)                 # another process's Store: nothing kept yet
    assert other.warm_map(ENT) and not other.warm_map("没有这个企业")
    unit_reads.clear()
    assert other.warm_map(ENT) and unit_reads == []    # kept as it is now: a second warm-up reads nothing
    other.edit_unit(ENT, "u3", lambda u: setattr(u, "events", [RiskEvent("e", residual_level=Level.MAJOR)]),
                    if_match="*")
    assert unit_reads == [["u3"]]
    assert stored_rows(store).equals(full_snapshot(store))
    store.edit_unit(ENT, "u4", lambda u: setattr(u, "name", "改名"), if_match="*")     # a write elsewhere
    other.edit_unit(ENT, "u5", lambda u: setattr(u, "name", "改名"), if_match="*")     # not kept: read whole
    assert unit_reads[-1] is None
    assert stored_rows(store).equals(full_snapshot(store))


def test_the_editor_page_warms_the_map_so_the_first_edit_is_incremental(demo_copy, editor_token, unit_reads):
    """A service's first edit after a start: GET /edit has the store keep the map's inputs in the background, so
    the PATCH that follows reads only the unit it changes (not the whole plant)."""
    import threading
    import time

    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings

    auth = editor_token(demo_copy)
    with TestClient(create_app(Settings(db=demo_copy))) as client:
        assert client.get("/edit").status_code == 200
        deadline = time.monotonic() + 60
        while any(t.name == "riskmap-warm-up" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the warm-up did not finish"
            time.sleep(0.05)
        unit_reads.clear()
        answer = client.patch("/api/units/CY-01-02", json={"override": {"level": "major", "reason": "测试"}},
                              headers={**auth, "If-Match": "*"})
        assert answer.status_code == 200, answer.text
        assert unit_reads == [["CY-01-02"]]
        client.app.state.store().close()


@pytest.mark.parametrize("marked", [2, 1000])
def test_tile_data_follows_the_flag_markers(store, monkeypatch, marked):
    """The flags live in map_flags with a marker per change (mapdata.write_flags): a tile server at an older
    version that applies the rows and the flags changed since (render.tiledata.read_patch) holds what a whole
    load gives, whether the markers name their keys or say "re-read them all" (beyond `marked` keys)."""
    from riskmap.render.tiledata import load_tiledata, read_patch

    monkeypatch.setattr(mapdata, "MARKED_KEYS", marked)
    rng = random.Random(31)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(rng))
    with store.session() as s:
        ent = enterprise_id(s, ENT, create=False)
        data = load_tiledata(s, ent, ENT, store.data_version(ENT))
    done, flagged = [], 0
    for step in range(25):
        done.append(random_edit(store, rng, step))
        version = store.data_version(ENT)
        with store.session() as s:
            patch = read_patch(s, data, version)
            fresh = load_tiledata(s, ent, ENT, version)
        for name, layer in fresh.layers.items():
            got = patch.data.layers[name]
            assert got.key.tolist() == layer.key.tolist(), (step, done)
            for col, values in layer.attrs.items():
                assert got.attrs[col].tolist() == values.tolist(), (step, name, col, done)
        units = fresh.layers["units"]
        flagged = max(flagged, sum(f is not None for f in units.attrs["flag"]))
        # a unit whose flag changed is among the patch's changed keys (its tiles are dropped)
        before = dict(zip(data.layers["units"].key.tolist(), data.layers["units"].attrs["flag"].tolist(),
                          strict=True))
        moved = {k for k, f in zip(units.key.tolist(), units.attrs["flag"].tolist(), strict=True)
                 if k in before and before[k] != f}
        assert moved <= set(patch.changed.get("units", [])), (step, done)
        if step % 3:                     # some edits are applied together, as a reader that was away sees them
            data = patch.data
    assert flagged and {"accident_all", "clear_all"} & set(done), done
    with store.session() as s:
        markers = s.execute(select(mapdata.MapFlagChangeRow.data_version, mapdata.MapFlagChangeRow.keys)
                            .order_by(mapdata.MapFlagChangeRow.id)).all()
    assert markers
    if marked == 2:            # a bulk marker makes the earlier ones useless: they are gone
        assert any(keys is None for _, keys in markers)
        assert markers[0][1] is None and all(keys is not None for _, keys in markers[1:])
    else:
        assert all(keys is not None for _, keys in markers)


def test_an_accident_rewrites_no_map_feature(store):
    """An accident that flags every unit writes the narrow flag rows only: no map_features row is rewritten (so
    none of its indexes), and every drawn unit reads flagged, in the rows as in the tile data."""
    from riskmap.render.tiledata import load_tiledata

    rng = random.Random(4)
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(rng))
    store.clear_flags(ENT, None)
    with store.session() as s:
        ent = enterprise_id(s, ENT, create=False)
        top = s.execute(select(func.max(mapdata.MapFeatureRow.data_version))).scalar_one()
    result = store.record_accident(ENT, None, date(2026, 11, 1), "爆燃", deaths=1)
    assert len(result["flags_raised"]) == len(store.units(ENT))
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(mapdata.MapFeatureRow)
                         .where(mapdata.MapFeatureRow.data_version > top)).scalar_one() == 0
        rows = mapdata.read_rows(s, ent)
        data = load_tiledata(s, ent, ENT, store.data_version(ENT))
    units = rows[(rows["layer"] == "units") & rows["wkb"].notna()]
    assert len(units) and all("accident" in f.split(",") for f in units["flag"])
    assert all("accident" in f.split(",") for f in data.layers["units"].attrs["flag"])
    assert stored_rows(store).equals(full_snapshot(store))
    store.clear_flags(ENT, None)
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(mapdata.MapFlagRow)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(mapdata.MapFeatureRow)
                         .where(mapdata.MapFeatureRow.data_version > top)).scalar_one() == 0
    assert stored_rows(store).equals(full_snapshot(store))


def test_the_flags_migration_moves_the_flags_and_back(store_url):
    """0015_flags moves the stored flags of drawn units from map_features.flag into map_flags; its downgrade
    puts them back; the map reads the same before and after, on both backends."""
    from alembic import command
    from pgdb import backend_of, owner_url
    from sqlalchemy import text

    from riskmap.store import open_store
    from riskmap.store.upgrade import alembic_config

    migrating = owner_url(store_url) if backend_of(store_url) == "postgis" else store_url
    open_store(store_url).close()
    store = open_store(migrating)
    try:
        store.save_layout(ENT, plant_layout())
        store.save_units(ENT, plant_units(random.Random(3)))
        store.record_accident(ENT, "u1", date(2026, 11, 1), "事故")
        before = stored_rows(store)
        assert before["flag"].notna().any()
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0014")
            flagged = conn.execute(text("SELECT key, flag FROM map_features WHERE flag IS NOT NULL")).all()
            assert flagged and all(f == "accident" for _, f in flagged)
            command.upgrade(alembic_config(conn), "head")
        with store.session() as s:
            assert sorted(s.execute(select(mapdata.MapFlagRow.key, mapdata.MapFlagRow.flag)).all()) == \
                sorted(tuple(r) for r in flagged)
        pd.testing.assert_frame_equal(stored_rows(store), before)
    finally:
        store.close()


def test_a_full_rebuild_makes_map_flags_equal_to_the_map(store):
    """A rebuilt map (a new ledger, a database whose map table was emptied) leaves in map_flags exactly the flags
    it draws: a row left over from before is cleared, so no unit shows a flag it does not have."""
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, plant_units(random.Random(9)))
    key = stored_rows(store).query("layer == 'units'")["key"].iloc[0]
    with store.session(write=True) as s:
        ent = enterprise_id(s, ENT, create=False)
        s.add(mapdata.MapFlagRow(enterprise_id=ent, key=key, flag="accident"))
        s.add(mapdata.MapFlagRow(enterprise_id=ent, key="no such unit", flag="accident"))
    assert stored_rows(store).query("key == @key and layer == 'units'")["flag"].iloc[0] == "accident"
    assert not store.rebuild_map(ENT).empty
    assert stored_rows(store).equals(full_snapshot(store))
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(mapdata.MapFlagRow)).scalar_one() == 0


def test_write_flags_sets_and_clears_by_key_any_text(store):
    """mapdata.write_flags on both backends: keys sent as one text when none holds the separator, as an array
    otherwise; None clears; each call leaves its marker (the keys)."""
    store.save_layout(ENT, plant_layout())
    for keys in (["a", "b", "c"], ["a\x1fb", "c", "甲"]):
        with store.session(write=True) as s:
            ent = enterprise_id(s, ENT, create=False)
            mapdata.write_flags(s, ent, 7, {k: "accident" for k in keys})
            mapdata.write_flags(s, ent, 8, {keys[0]: None, keys[1]: "accident,geometry_changed"})
            assert mapdata.read_flags(s, ent) == {keys[1]: "accident,geometry_changed", keys[2]: "accident"}
            assert mapdata.read_flags(s, ent, {keys[0], keys[1]}) == {keys[1]: "accident,geometry_changed"}
            assert mapdata.read_flag_changes(s, ent, 7) == {keys[0], keys[1]}
            assert mapdata.read_flag_changes(s, ent, 6) == set(keys)
            assert mapdata.read_flag_changes(s, ent, 8) == set()
            mapdata.write_flags(s, ent, 9, dict.fromkeys(keys))
            assert mapdata.read_flags(s, ent) == {}
            s.execute(mapdata.MapFlagChangeRow.__table__.delete())
