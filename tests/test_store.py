"""Storage on SQLite and PostGIS: the same assertions on both backends (`store_url` is parametrized)."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pytest
import shapely
from plants import make_layout, plant_layout, square, unit_tree
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, text

from riskmap.domain import (
    AssessmentUnit,
    Enterprise,
    UnitKind,
)
from riskmap.errors import InputError, NotFoundError, RiskmapError
from riskmap.levels import Level
from riskmap.store import codec, migrate, open_store
from riskmap.store.engine import normalise_url
from riskmap.store.repository import Store
from riskmap.store.schema import Base
from riskmap.store.types import from_json, to_json
from riskmap.store.upgrade import head_revision, schema_diff

ENT = "江苏某化工有限公司"


# ------------------------------------------------------------------------------------------ schema


def test_open_migrates_to_head_and_schema_equals_orm(store_url):
    with open_store(store_url) as store, store.engine.connect() as conn:
        assert store.backend == ("postgis" if store_url.startswith("postgresql") else "sqlite")
        assert schema_diff(conn) == []
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == head_revision()
    assert migrate(store_url) == head_revision()   # idempotent, also after a second open


def test_schema_comparison_notices_a_difference(store):
    """The comparison above would fail on drift: a column the database lacks is reported."""
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        copy = table.to_metadata(md)
        for index in copy.indexes:   # to_metadata leaves Index.info behind
            index.info.update(next(i.info for i in table.indexes if i.name == index.name))
    Table("enterprises", md, Column("extra_column", Integer), extend_existing=True)
    with store.engine.connect() as conn:
        diffs = schema_diff(conn, md)
    assert [d[0] for d in diffs] == ["add_column"]
    assert diffs[0][3].name == "extra_column"


def test_every_domain_field_has_a_column():
    assert codec.unmapped_fields() == {"AssessmentUnit": set(), "RiskEvent": set(), "Evaluation": set(),
                                       "ControlMeasure": set()}


# ------------------------------------------------------------------------------------------ enterprises


def test_enterprises(store):
    assert store.data_version(ENT) == 0
    ent = store.enterprise(ENT)
    assert ent.name == ENT and ent.id
    assert store.data_version(ENT) == 1
    assert store.enterprise(ENT) == ent                     # no second row, no write
    assert store.data_version(ENT) == 1
    other = store.enterprise("  另一家企业 ")
    assert other.name == "另一家企业" and other.id != ent.id
    assert [e.name for e in store.enterprises()] == [ENT, "另一家企业"]
    with pytest.raises(NotFoundError, match="没有名为"):
        store.enterprise("不存在", create=False)
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InputError):
            store.enterprise(bad)


def test_update_enterprise_phones_and_rename(store):
    ent = store.enterprise(ENT)
    updated = store.update_enterprise(Enterprise(ent.id, ENT, short_name="某化工", supervision_phone="12350",
                                                 report_phone="0512-1234567", emergency_phone="119"))
    assert store.enterprise(ENT, create=False) == updated
    assert updated.report_phone == "0512-1234567" and updated.short_name == "某化工"
    assert store.data_version(ENT) == 2
    renamed = store.update_enterprise(Enterprise(ent.id, "新名称", emergency_phone="110"))
    assert renamed.id == ent.id and renamed.report_phone is None
    assert store.data_version("新名称") == 3
    store.enterprise("第三家")
    with pytest.raises(InputError, match="已有名为"):
        store.update_enterprise(Enterprise(ent.id, "第三家"))
    with pytest.raises(NotFoundError):
        store.update_enterprise(Enterprise("999", "谁也不是"))


# ------------------------------------------------------------------------------------------ layouts


def test_layout_round_trip(store):
    layout = plant_layout()
    assert store.save_layout(ENT, layout, author="王工", reason="首次导入") == 1
    got = store.layout_features(ENT)
    assert list(got.columns) == ["id", "fid", "name", "role", "layer", "properties", "geometry"]
    assert got.crs.to_epsg() == 4326
    src = layout.features
    assert got["fid"].tolist() == src["fid"].tolist()
    assert got["name"].tolist() == src["name"].tolist()
    assert got["role"].tolist() == src["role"].tolist()
    assert got["layer"].tolist() == src["layer"].tolist()
    assert got["properties"].tolist() == src["properties"].tolist()
    assert type(got["properties"][0]["面积"]) is Decimal
    assert got["properties"][2]["启用"] == date(2019, 5, 1)
    assert all(a.equals_exact(b, 0) for a, b in zip(got.geometry, src.geometry, strict=True))
    assert len(set(got["id"])) == 5

    info = store.layout_info(ENT)
    assert info["version"] == 1 and info["crs"] == "EPSG:4549" and info["source"] == "plant.dxf"
    assert info["georeferenced"] is True and info["author"] == "王工" and info["note"] == "首次导入"
    assert info["feature_count"] == 5
    assert info["report"]["by_role"] == {"building": 1, "equipment": 1, "region": 2, "road": 1}
    assert info["report"]["georeference"]["rms_m"] == 0.012
    assert info["report"]["warnings"] == ["图层 0 中 2 个要素无名称"]
    assert isinstance(info["created_at"], datetime) and info["created_at"].utcoffset().total_seconds() == 0


def test_coordinates_keep_full_float64_precision(store):
    """A millimetre is ~1e-8 degree: every bit of lon/lat must come back."""
    rng = np.random.default_rng(7)
    lon = 118 + rng.random(200) * 4
    lat = 30 + rng.random(200) * 4
    mm = 1e-8
    points = shapely.points(np.concatenate([lon, lon + mm]), np.concatenate([lat, lat]))
    poly = Polygon([(lon[0], lat[0]), (lon[0] + 3 * mm, lat[0]), (lon[0] + 3 * mm, lat[0] + 2 * mm)])
    features = [(str(i), None, "equipment", "L", {}, p) for i, p in enumerate(points)]
    features.append(("poly", None, "building", "L", {}, poly))
    store.save_layout(ENT, make_layout(features))
    got = store.layout_features(ENT)
    assert np.array_equal(shapely.get_coordinates(got.geometry.values),
                          shapely.get_coordinates(np.append(points, poly)))
    got_points = got.geometry.values[:400]
    assert not np.any(shapely.equals(got_points[:200], got_points[200:]))   # 1 mm apart stays apart
    assert float(got.geometry.iloc[-1].area) > 0


def test_layout_versions_and_as_of(store):
    store.save_layout(ENT, plant_layout())
    second = make_layout([("N1", "新区域", "region", "区域", {"v": 2}, square(120.01, 32.01))], source="v2.dxf")
    assert store.save_layout(ENT, second, reason="改造后") == 2
    assert store.layout_features(ENT)["fid"].tolist() == ["N1"]
    assert store.layout_features(ENT, version=1)["fid"].tolist() == ["A1", "A2", "B1", "E1", "R1"]
    assert store.layout_features(ENT, version=2)["fid"].tolist() == ["N1"]
    assert store.layout_info(ENT)["version"] == 2 and store.layout_info(ENT)["source"] == "v2.dxf"
    assert [v["version"] for v in store.layout_versions(ENT)] == [2, 1]
    with pytest.raises(NotFoundError, match="没有第 3 版布局"):
        store.layout_features(ENT, version=3)
    with pytest.raises(InputError):
        store.layout_features(ENT, version="2")
    # Nothing was deleted: both versions' rows are still in the table.
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layout_features")).scalar_one() == 6


def test_roles_filter(store):
    store.save_layout(ENT, plant_layout())
    assert store.layout_features(ENT, roles=["region"])["fid"].tolist() == ["A1", "A2"]
    assert store.layout_features(ENT, roles=("building", "road"))["fid"].tolist() == ["B1", "R1"]
    assert store.layout_features(ENT, roles="equipment")["fid"].tolist() == ["E1"]
    assert len(store.layout_features(ENT, roles=[])) == 0
    with pytest.raises(InputError, match="未知的要素角色"):
        store.layout_features(ENT, roles=["regoin"])


def test_bbox_filter_is_exact_intersection(store):
    diagonal = LineString([(120.0, 32.0), (120.01, 32.01)])
    store.save_layout(ENT, make_layout([
        ("in", None, "building", "L", {}, square(120.0042, 32.0042, 0.0002)),
        ("touch", None, "building", "L", {}, square(120.005, 32.0005, 0.001)),    # shares the edge x=120.005
        ("far", None, "building", "L", {}, square(120.02, 32.02)),
        ("diag", None, "road", "L", {}, diagonal),                                # bbox overlaps, line does not
        ("around", None, "region", "L", {}, square(119.9, 31.9, 0.5)),            # contains the whole box
    ]))
    box = (120.004, 32.0, 120.005, 32.001)
    assert store.layout_features(ENT, bbox=box)["fid"].tolist() == ["touch", "around"]
    box2 = (120.004, 32.004, 120.0045, 32.0045)
    assert store.layout_features(ENT, bbox=box2)["fid"].tolist() == ["in", "diag", "around"]
    assert store.layout_features(ENT, bbox=box2, roles=["building"])["fid"].tolist() == ["in"]
    assert store.layout_features(ENT, bbox=(0, 0, 1, 1)).empty
    for bad in ((1, 2, 3), (120.1, 32, 120.0, 33), ("a", 1, 2, 3), (0, 0, float("nan"), 1)):
        with pytest.raises(InputError, match="范围"):
            store.layout_features(ENT, bbox=bad)


def test_bbox_query_uses_the_index_on_sqlite(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as store, store.engine.connect() as conn:
        plan = conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM layout_features WHERE enterprise_id = 1 AND valid_to IS NULL "
            "AND minx <= 1 AND maxx >= 0 AND miny <= 1 AND maxy >= 0")).all()
    assert "ix_layout_features_bbox" in " ".join(str(r) for r in plan)


def test_empty_layout_and_odd_values(store):
    layout = make_layout([("x\x00y", float("nan"), "other", None, None, Point(120, 32))])
    store.save_layout(ENT, layout)
    got = store.layout_features(ENT)
    assert got["fid"].tolist() == ["xy"] and got["name"].tolist() == [None]
    assert got["layer"].tolist() == [None] and got["properties"].tolist() == [{}]
    assert store.save_layout(ENT, make_layout([])) == 2
    empty = store.layout_features(ENT)
    assert empty.empty and list(empty.columns) == ["id", "fid", "name", "role", "layer", "properties", "geometry"]
    assert empty.crs.to_epsg() == 4326


def test_layout_in_another_crs_is_reprojected(store):
    layout = plant_layout()
    layout.features = layout.features.to_crs("EPSG:4549")
    store.save_layout(ENT, layout)
    got = store.layout_features(ENT, roles=["equipment"])
    assert got.geometry.iloc[0].distance(Point(120.00051234567891, 32.00031234567891)) < 1e-9


# ------------------------------------------------------------------------------------------ units


def test_units_round_trip_exactly(store):
    units = unit_tree()
    assert store.save_units(ENT, units, source="台账.xlsx", default_profile="lec") == 1
    back = store.units(ENT)
    assert back == units
    ev = back[1].events[0]
    assert ev.residual.score == Decimal("270") and str(ev.residual.score) == "270"
    assert ev.residual.computed_level is Level.SIGNIFICANT and ev.residual.level is Level.MAJOR
    assert type(ev.inputs["L"]) is Decimal
    assert back[1].weight == Decimal("2.50") and str(back[1].weight) == "2.50"
    assert back[0].major_hazard["substances"][0]["q"] == Decimal("12.5")
    assert str(back[3].events[0].residual.score) == str(Decimal("0.1") * 3 * 100)
    assert back[1].events[1].inputs == {"L": 0.1, "E": 3, "C": "100"}
    info = store.ledger_info(ENT)
    assert info["version"] == 1 and info["unit_count"] == 4 and info["event_count"] == 3
    assert info["source"] == "台账.xlsx" and info["default_profile"] == "lec"


def test_units_versions(store):
    store.save_units(ENT, unit_tree())
    smaller = [AssessmentUnit("X", "新单元", UnitKind.MAIN, weight=1.1)]
    assert store.save_units(ENT, smaller) == 2
    assert [u.id for u in store.units(ENT)] == ["X"]
    assert store.units(ENT)[0].weight == Decimal("1.1")
    assert store.units(ENT, version=1) == unit_tree()
    assert [v["version"] for v in store.ledger_versions(ENT)] == [2, 1]
    assert store.save_units(ENT, []) == 3
    assert store.units(ENT) == []
    with pytest.raises(NotFoundError, match="台账"):
        store.units(ENT, version=9)


def test_bad_unit_tree_is_refused_and_nothing_written(store):
    store.save_units(ENT, unit_tree())
    before = store.data_version(ENT)
    with pytest.raises(InputError, match="上级单元"):
        store.save_units(ENT, [AssessmentUnit("A", "a", parent_id="missing")])
    with pytest.raises(InputError, match="重复"):
        store.save_units(ENT, [AssessmentUnit("A", "a"), AssessmentUnit("A", "b")])
    with pytest.raises(InputError, match="权重"):
        store.save_units(ENT, [AssessmentUnit("A", "a", weight="heavy")])
    assert store.data_version(ENT) == before
    assert store.units(ENT) == unit_tree()


# ------------------------------------------------------------------------------------------ regions


def test_regions_attach_units_by_fid_then_name(store):
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, unit_tree())
    regions = store.regions(ENT)
    assert [(r.id, r.name, r.unit_id, r.feature_ref) for r in regions] == [
        ("A1", "罐区", "U1", "A1"),          # U1 and U2.1 both name A1: the shallower U1 wins
        ("A2", "装置区", "U2", "A2"),        # U2 names the feature by its name
    ]
    assert regions[0].geometry.equals_exact(square(120.0, 32.0), 0)
    store.save_units(ENT, [AssessmentUnit("Z", "z", feature_ref="nothing")])
    assert [r.unit_id for r in store.regions(ENT)] == [None, None]


# ------------------------------------------------------------------------------------------ versions, tenants


def test_data_version_bumps_once_per_write(store):
    assert store.data_version(ENT) == 0
    store.save_layout(ENT, plant_layout())            # creates the enterprise in the same transaction
    assert store.data_version(ENT) == 1
    store.save_units(ENT, unit_tree())
    assert store.data_version(ENT) == 2
    store.layout_features(ENT)
    store.units(ENT)
    store.regions(ENT)
    store.layout_info(ENT)
    assert store.data_version(ENT) == 2
    with store.transaction(ENT) as w:
        assert w.data_version == 3
    assert store.data_version(ENT) == 3
    with pytest.raises(RuntimeError), store.transaction(ENT):
        raise RuntimeError("rolled back")
    assert store.data_version(ENT) == 3
    with pytest.raises(NotFoundError), store.transaction("未建企业", create=False):
        pass
    assert store.data_version("未建企业") == 0


def test_enterprises_are_isolated(store):
    store.save_layout(ENT, plant_layout())
    store.save_units(ENT, unit_tree())
    other = make_layout([("O1", "别家", "region", "区域", {}, square(121, 31))])
    assert store.save_layout("别家企业", other) == 1
    assert store.layout_features("别家企业")["fid"].tolist() == ["O1"]
    assert len(store.layout_features(ENT)) == 5
    assert store.units("别家企业") == []
    assert store.data_version("别家企业") == 1 and store.data_version(ENT) == 2


def test_reads_of_an_unknown_enterprise_are_empty(store):
    assert store.layout_features("无此企业").empty
    assert store.layout_info("无此企业") is None
    assert store.layout_versions("无此企业") == []
    assert store.units("无此企业") == []
    assert store.ledger_info("无此企业") is None
    assert store.regions("无此企业") == []
    assert store.data_version("无此企业") == 0
    assert store.enterprises() == []


def test_concurrent_writers_both_succeed(store_url):
    """Two processes' worth of engines writing at once: the second waits for the lock, no error."""
    stores = [open_store(store_url), open_store(store_url)]
    errors: list[BaseException] = []

    def save(s: Store, i: int) -> None:
        try:
            for _ in range(3):
                s.save_layout(ENT, make_layout([(f"f{i}", None, "building", "L", {}, square(120, 32))]))
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert [v["version"] for v in stores[0].layout_versions(ENT)] == [6, 5, 4, 3, 2, 1]
        assert stores[0].data_version(ENT) == 6
        assert len(stores[1].layout_features(ENT)) == 1
    finally:
        for s in stores:
            s.close()


def test_session_context_manager(store):
    store.enterprise(ENT)
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM enterprises")).scalar_one() == 1
    with pytest.raises(RuntimeError), store.session(write=True) as s:
        s.execute(text("UPDATE enterprises SET short_name = 'x'"))
        raise RuntimeError("roll back")
    assert store.enterprise(ENT).short_name is None


# ------------------------------------------------------------------------------------------ URLs and errors


def test_sqlite_relative_path_and_missing_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db") as store:
        store.enterprise(ENT)
    assert (tmp_path / "rel.db").exists()
    with open_store(f"sqlite:///{tmp_path}/a/b/deep.db") as store:
        store.enterprise(ENT)
    assert (tmp_path / "a" / "b" / "deep.db").exists()
    with open_store("sqlite:///rel.db") as store:
        assert store.data_version(ENT) == 1


def test_sqlite_connection_settings(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_memory_database():
    with open_store("sqlite://") as store:
        store.save_layout(ENT, plant_layout())
        assert len(store.layout_features(ENT)) == 5


def test_unwritable_sqlite_paths_give_clear_errors(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RiskmapError, match="无法创建数据库所在的文件夹"):
        open_store(f"sqlite:///{blocker}/sub/x.db")
    with pytest.raises(RiskmapError, match="是一个文件夹"):
        open_store(f"sqlite:///{tmp_path}")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(RiskmapError, match="SQLite"):
        open_store(f"sqlite:///{garbage}")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "oracle://x", "", "not a url at all", "http://example.com"])
def test_unsupported_urls(url):
    with pytest.raises(RiskmapError, match="数据库"):
        open_store(url)


def test_postgresql_urls_are_normalised_to_psycopg3():
    for url in ("postgresql://u:p@h:5433/db", "postgres://u:p@h:5433/db", "postgresql+psycopg2://u:p@h:5433/db"):
        parsed = normalise_url(url)
        assert parsed.drivername == "postgresql+psycopg"
        assert (parsed.host, parsed.port, parsed.database, parsed.username) == ("h", 5433, "db", "u")
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_unreachable_postgresql_server():
    with pytest.raises(RiskmapError, match="无法连接 PostgreSQL") as err:
        open_store("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in err.value.message


@pytest.mark.postgis
def test_database_without_postgis_rights_gives_clear_error(postgis_database):
    """A role that may not create the extension, on a database that lacks it: a RiskmapError naming PostGIS."""
    import psycopg
    from pgdb import create_pg_database, drop_pg_database, pg_admin_url

    url = create_pg_database("riskmap_nopostgis", service=False)
    role = "riskmap_test_nopriv"
    admin = pg_admin_url().replace("+psycopg", "")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP EXTENSION postgis")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")
            conn.execute(f"CREATE ROLE {role} LOGIN")
        from sqlalchemy.engine import make_url

        role_url = make_url(url).set(username=role, password=None).render_as_string(hide_password=False)
        with pytest.raises(RiskmapError, match="PostGIS"):
            open_store(role_url)
    finally:
        drop_pg_database(url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_newer_schema_than_known_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    open_store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RiskmapError, match="比本程序新"):
        open_store(url)


# ------------------------------------------------------------------------------------------ JSON codec


def test_json_codec_keeps_exact_values():
    value = {"d": Decimal("0.10"), "day": date(2025, 1, 2), "t": datetime(2025, 1, 2, 3, 4, 5),
             "inf": float("inf"), "b": b"\x00\x01", "n": np.int64(3), "f": np.float32(0.5),
             "arr": np.array([1, 2]), "lv": Level.MAJOR, "tuple": (1, "a"), "nested": [{"x": Decimal("1E+3")}],
             "other": complex(1, 2)}
    encoded = to_json(value)
    decoded = from_json(json.loads(json.dumps(encoded)))
    assert decoded["d"] == Decimal("0.10") and str(decoded["d"]) == "0.10"
    assert decoded["day"] == date(2025, 1, 2) and decoded["t"] == datetime(2025, 1, 2, 3, 4, 5)
    assert decoded["inf"] == float("inf") and decoded["b"] == b"\x00\x01"
    assert decoded["n"] == 3 and decoded["f"] == 0.5 and decoded["arr"] == [1, 2]
    assert decoded["lv"] == "major" and decoded["tuple"] == [1, "a"]
    assert str(decoded["nested"][0]["x"]) == "1E+3"
    assert decoded["other"] == "(1+2j)"     # unknown types are kept as their text
