"""Editing through the store: features and units with edit tags (428/412), fid guarantee, audit rows, restore."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from plants import editing_layout as layout
from plants import offset_square as square
from sqlalchemy import select

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.errors import AlreadyExistsError, EditConflict, InputError, NotFoundError, PreconditionRequired
from riskmap.geo.model import LayoutImport
from riskmap.levels import Level
from riskmap.store.editing import FeatureChange, edit_tag_of, etag
from riskmap.store.rows import enterprise_id
from riskmap.store.schema import ChangeRow, LayoutFeatureRow

ENT = "编辑测试企业"


def tree() -> list[AssessmentUnit]:
    return [AssessmentUnit("root", "全厂", UnitKind.MAIN, feature_ref="R1"),
            AssessmentUnit("u1", "甲岗位", UnitKind.POST, parent_id="root", feature_ref="A",
                           events=[RiskEvent("火灾", residual_level=Level.SIGNIFICANT)]),
            AssessmentUnit("u2", "乙岗位", UnitKind.POST, parent_id="root", geometry=square(0.002, 0.0005, 2e-4))]


def changes(store) -> list:
    with store.session() as s:
        return s.execute(select(*ChangeRow.__table__.c).order_by(ChangeRow.id)).all()


@pytest.fixture
def plant(store):
    store.save_layout(ENT, layout(), author="导入员", reason="初版")
    store.save_units(ENT, tree(), author="导入员")
    return store


def test_etag_and_if_match_parsing():
    tag = etag(12, b'{"a":1}')
    assert tag.startswith('"12.') and len(tag) == len('"12.12345678"')
    assert etag(12, '{"a":1}') == tag and etag(12, "{}") != tag
    assert edit_tag_of(tag) == [12]
    assert edit_tag_of('"3.aa", "7.bb",9') == [3, 7, 9]
    assert edit_tag_of("W/\"3.aa\"") == [] and edit_tag_of("") == [] and edit_tag_of("abc") == []


def test_save_layout_guarantees_unique_fids(store):
    gdf = gpd.GeoDataFrame({"fid": ["A", None, "A", "", "n1", "A"], "name": list("abcdef"), "role": "building",
                            "properties": [{} for _ in range(6)]},
                           geometry=[square(i * 0.002, 0) for i in range(6)], crs="EPSG:4326")
    store.save_layout(ENT, LayoutImport(features=gdf, crs="EPSG:4549", source_name="x.dxf", source_format="dxf"))
    got = store.layout_features(ENT)
    assert got["fid"].tolist() == ["A", "n2", "A~2", "n3", "n1", "A~3"]
    props = dict(zip(got["fid"], got["properties"], strict=True))
    assert props["A~2"]["source_fid"] == "A" and props["A~3"]["source_fid"] == "A" and "source_fid" not in props["A"]
    assert changes(store)[-1].action == "layout.import"


def test_feature_read_create_replace_patch_delete_restore(plant):
    store = plant
    a = store.feature(ENT, "A")
    assert a.fid == "A" and a.role == "building" and a.name == "名A" and a.properties == {"k": 0}
    assert store.feature(ENT, "nope") is None and store.feature("没有的企业", "A") is None

    made = store.create_feature(ENT, None, "equipment", shapely.Point(120.0005, 30.0005), feature_name="泵",
                                properties={"p": 1}, author="张三", reason="新增设备")
    assert made.fid == "e2-1" and made.layout_number == 2 and made.edit_tag is not None
    assert store.feature(ENT, "e2-1").geometry.equals(shapely.Point(120.0005, 30.0005))
    with pytest.raises(AlreadyExistsError):
        store.create_feature(ENT, "A", "building", square(0.01, 0.01))
    named = store.create_feature(ENT, "MY-1", "building", square(0.01, 0.01))
    assert named.fid == "MY-1"

    with pytest.raises(PreconditionRequired) as e428:
        store.replace_feature(ENT, "A", None, "building", square(0, 0, 2e-3))
    assert e428.value.http_status == 428
    replaced = store.replace_feature(ENT, "A", [a.edit_tag], "building", square(0, 0, 2e-3), feature_name="新A",
                                     author="张三", reason="扩建")
    assert replaced.edit_tag != a.edit_tag
    now = store.feature(ENT, "A")
    assert now.name == "新A" and now.properties == {} and now.layer is None   # PUT replaces everything
    with pytest.raises(EditConflict) as e412:
        store.replace_feature(ENT, "A", [a.edit_tag], "building", square(0, 0))
    cur = e412.value.current
    assert e412.value.http_status == 412 and cur["edit_tag"] == replaced.edit_tag and cur["id"] == "A"
    assert cur["feature"]["properties"]["name"] == "新A" and cur["changed_by"] == "张三" and cur["reason"] == "扩建"
    assert cur["feature"]["geometry"]["type"] == "Polygon"

    patched = store.patch_feature(ENT, "A", f'"{replaced.edit_tag}.deadbeef"', {"properties": {"x": 1, "y": 2}})
    patched = store.patch_feature(ENT, "A", [patched.edit_tag], {"properties": {"x": None, "z": 3}, "layer": "新层"})
    now = store.feature(ENT, "A")
    assert now.properties == {"y": 2, "z": 3} and now.layer == "新层" and now.name == "新A"
    with pytest.raises(InputError):
        store.patch_feature(ENT, "A", "*", {"colour": "red"})
    with pytest.raises(InputError):
        store.patch_feature(ENT, "A", "*", {"geometry": shapely.Polygon()})
    with pytest.raises(InputError):
        store.patch_feature(ENT, "A", "*", {"role": "spaceship"})
    with pytest.raises(NotFoundError):
        store.patch_feature(ENT, "nope", "*", {"name": "x"})

    deleted = store.delete_feature(ENT, "A", "*", author="李四", reason="拆除")
    assert deleted.edit_tags == [None] and store.feature(ENT, "A") is None
    with pytest.raises(EditConflict) as gone:
        store.patch_feature(ENT, "A", [patched.edit_tag], {"name": "x"})
    assert gone.value.current["feature"] is None and gone.value.current["changed_by"] == "李四"
    restored = store.restore_feature(ENT, "A", author="李四", reason="恢复")
    back = store.feature(ENT, "A")
    assert back.edit_tag == restored.edit_tag and back.properties == {"y": 2, "z": 3}
    with pytest.raises(AlreadyExistsError):
        store.restore_feature(ENT, "A")
    with pytest.raises(NotFoundError):
        store.restore_feature(ENT, "never")

    # history stays: every version of A is still stored; the first layout still reads as imported
    with store.session() as s:
        rows = s.execute(select(*LayoutFeatureRow.__table__.c).where(LayoutFeatureRow.fid == "A")).all()
    assert len(rows) == 5 and sum(r.valid_to is None for r in rows) == 1
    assert store.layout_features(ENT, version=1).set_index("fid").loc["A", "name"] == "名A"
    assert store.feature(ENT, "A", at_layout=1).name == "名A"


def test_restore_at_a_moment(plant):
    store = plant
    from riskmap.store.types import utcnow

    first = store.feature(ENT, "B")
    moment = utcnow()
    r = store.patch_feature(ENT, "B", [first.edit_tag], {"name": "改名"})
    store.delete_feature(ENT, "B", [r.edit_tag])
    with pytest.raises(InputError):
        store.restore_feature(ENT, "B", at="昨天")
    store.restore_feature(ENT, "B", at=moment.replace(tzinfo=None))      # naive: read as UTC
    assert store.feature(ENT, "B").name == "名B"
    store.delete_feature(ENT, "B", "*")
    with pytest.raises(InputError, match="no layout yet"):
        store.restore_feature(ENT, "B", at=moment.replace(year=2000))


def test_every_write_leaves_one_audit_row(plant):
    store = plant
    a = store.feature(ENT, "A")
    store.replace_feature(ENT, "A", [a.edit_tag], "building", square(0.0001, 0), feature_name="名A",
                          properties={"k": 0}, author="张三", reason="挪一点")
    rows = changes(store)
    assert [r.action for r in rows] == ["layout.import", "ledger.import", "feature.replace"]
    last = rows[-1]
    assert last.author == "张三" and last.reason == "挪一点" and last.item_ids == ["A"]
    assert last.layout_number == 2 and last.ledger_number == 1
    assert last.data_version == store.data_version(ENT)
    item = last.detail["items"][0]
    assert item["fields"] == ["geometry", "layer"] and item["old_bbox"] != item["new_bbox"]
    assert item["old_edit_tag"] == a.edit_tag
    store.edit_unit(ENT, "u2", lambda u: setattr(u, "name", "乙岗位（改）"), author="王五", reason="改名")
    last = changes(store)[-1]
    assert last.action == "unit.edit" and last.item_ids == ["u2"] and last.detail["items"][0]["fields"] == ["name"]
    assert last.ledger_number == 2 and last.author == "王五"


def test_failed_write_changes_nothing(plant):
    store = plant
    before = (store.data_version(ENT), len(changes(store)), store.layout_features(ENT)["fid"].tolist())
    with pytest.raises(EditConflict):
        store.delete_feature(ENT, "A", [999999])
    with pytest.raises(AlreadyExistsError):
        store.apply_layout_changes(ENT, [FeatureChange("delete", "B"), FeatureChange("create", "A", "building",
                                                                                      square(0, 0))], "edit", None)
    assert (store.data_version(ENT), len(changes(store)), store.layout_features(ENT)["fid"].tolist()) == before


def test_apply_layout_changes_is_one_version(plant):
    store = plant
    a, b = store.feature(ENT, "A"), store.feature(ENT, "B")
    merged = shapely.union(a.geometry, b.geometry)
    with pytest.raises(PreconditionRequired):
        store.apply_layout_changes(ENT, [FeatureChange("delete", "A"), FeatureChange("delete", "B")], "merge",
                                   {"A": [a.edit_tag]})
    result = store.apply_layout_changes(
        ENT, [FeatureChange("delete", "A"), FeatureChange("delete", "B"),
              FeatureChange("create", None, "building", merged, feature_name="合并")],
        "merge", {"A": [a.edit_tag], "B": [b.edit_tag]}, author="张三", reason="合并厂房")
    assert result.layout_number == 2 and result.fids == ["A", "B", "e2-1"]
    assert result.edit_tags[:2] == [None, None] and result.edit_tags[2] is not None
    assert sorted(store.layout_features(ENT)["fid"]) == ["R1", "e2-1"]
    info = store.layout_info(ENT)
    assert info["action"] == "merge" and info["feature_count"] == 2 and info["author"] == "张三"
    assert changes(store)[-1].action == "feature.merge"
    # a replace keeps the fields it does not name
    r1 = store.feature(ENT, "R1")
    store.apply_layout_changes(ENT, [FeatureChange("replace", "R1", geometry=square(-0.001, -0.001, 0.01))],
                               "revise", None)
    now = store.feature(ENT, "R1")
    assert now.name == r1.name and now.role == "region" and now.properties == r1.properties
    assert changes(store)[-1].action == "layout.revise"
    with pytest.raises(InputError):
        store.apply_layout_changes(ENT, [], "edit", None)
    with pytest.raises(InputError):
        store.apply_layout_changes(ENT, [FeatureChange("create", None, "building", square(0, 0))], "explode", None)
    with pytest.raises(InputError):
        store.apply_layout_changes(ENT, [FeatureChange("delete", "R1"), FeatureChange("delete", "R1")], "edit", None)


def test_edit_makes_tiles_snapshot_current(plant):
    """The map snapshot is refreshed in the write's transaction: the edited feature is drawn at once."""
    store = plant
    from riskmap.store import mapdata

    a = store.feature(ENT, "A")
    store.patch_feature(ENT, "A", [a.edit_tag], {"name": "地图上的新名字"})
    with store.session() as s:
        ent_id = enterprise_id(s, ENT, create=False)
        rows = mapdata.read_rows(s, ent_id, with_wkb=False)
    layout_rows = rows[rows["layer"] == "layout"].set_index("key")
    assert layout_rows.loc["A", "name"] == "地图上的新名字"
    assert layout_rows.loc["A", "data_version"] == store.data_version(ENT)


def test_units_with_edit_tags(plant):
    store = plant
    unit, tag = store.unit_record(ENT, "u1")
    assert unit.name == "甲岗位" and unit.events[0].name == "火灾"
    assert store.unit_record(ENT, "nope") is None
    store.edit_unit(ENT, "u1", lambda u: setattr(u, "name", "甲"))           # no If-Match: still allowed
    with pytest.raises(EditConflict) as stale:
        store.edit_unit(ENT, "u1", lambda u: setattr(u, "name", "乙"), if_match=[tag])
    assert stale.value.current["feature"]["properties"]["name"] == "甲"
    _, tag2 = store.unit_record(ENT, "u1")
    unit, number, _ = store.edit_unit(ENT, "u1", lambda u: setattr(u, "name", "乙"), if_match=f'"{tag2}.00"')
    assert unit.name == "乙" and number == 3
    with pytest.raises(InputError):
        store.edit_unit(ENT, "u1", lambda u: setattr(u, "parent_id", "u1"), if_match="*")
    with pytest.raises(InputError):
        store.edit_unit(ENT, "u1", lambda u: setattr(u, "parent_id", "ghost"), if_match="*")

    made = store.create_unit(ENT, AssessmentUnit("u3", "丙设备", UnitKind.EQUIPMENT, parent_id="u1"),
                             author="张三", reason="新设备")
    assert made.fid == "u3" and made.ledger_number == 4
    assert [u.id for u in store.units(ENT)] == ["root", "u1", "u2", "u3"]
    with pytest.raises(AlreadyExistsError):
        store.create_unit(ENT, AssessmentUnit("u3", "again"))
    with pytest.raises(InputError):
        store.create_unit(ENT, AssessmentUnit("u4", "孤儿", parent_id="ghost"))
    with pytest.raises(PreconditionRequired):
        store.delete_unit(ENT, "u3", None)
    _, tag1 = store.unit_record(ENT, "u1")
    with pytest.raises(InputError, match="u3"):
        store.delete_unit(ENT, "u1", [tag1])                                   # has a child
    _, tag3 = store.unit_record(ENT, "u3")
    gone = store.delete_unit(ENT, "u3", [tag3], author="张三", reason="拆除")
    assert gone.edit_tags == [None] and store.unit_record(ENT, "u3") is None
    with pytest.raises(EditConflict) as deleted:
        store.delete_unit(ENT, "u3", [tag3])
    assert deleted.value.current["feature"] is None
    info = store.ledger_info(ENT)
    assert info["action"] == "delete" and info["unit_count"] == 3
    assert [c.action for c in changes(store)][-3:] == ["unit.edit", "unit.create", "unit.delete"]


def test_audit_rows_are_kept_as_written(plant):
    """The trail only grows: later writes (and failed ones) never change or remove an earlier row."""
    store = plant
    from riskmap.domain import Enterprise

    store.enterprise("另一家企业")
    ent = store.enterprise(ENT)
    store.update_enterprise(Enterprise(id=ent.id, name=ENT, short_name="简称"))
    first = changes(store)
    assert [r.action for r in first][-2:] == ["enterprise.create", "enterprise.update"]
    assert first[-1].detail == {"fields": ["short_name"]}
    a = store.feature(ENT, "A")
    store.delete_feature(ENT, "A", [a.edit_tag])
    with pytest.raises(EditConflict):
        store.delete_feature(ENT, "B", [a.edit_tag])
    store.restore_feature(ENT, "A")
    store.save_layout(ENT, layout())
    later = changes(store)
    assert later[:len(first)] == first and len(later) == len(first) + 3
    assert [r.action for r in later[len(first):]] == ["feature.delete", "feature.restore", "layout.import"]
    mine = [r.data_version for r in later if r.enterprise_id == int(ent.id)]
    assert mine == sorted(set(mine))     # one row per write, in order


@pytest.mark.parametrize("bad", [
    {"fid": ""}, {"fid": "x" * 300}, {"fid": "a\x00b"}, {"properties": ["not", "a", "dict"]},
    {"geometry": {"type": "Polygon", "coordinates": "garbage"}}, {"geometry": {"type": "Nope"}},
    {"geometry": None}, {"geometry": "POINT (1 2)"}, {"geometry": shapely.Point()}, {"role": None},
    {"role": "region; DROP TABLE units"}, {"name_": "名" * 3000}, {"reason": "因" * 3000},
])
def test_hostile_feature_input_is_refused_cleanly(plant, bad):
    store = plant
    args = {"fid": "NEW", "role": "building", "geometry": square(0.01, 0.01), "name_": "新", "properties": {},
            "reason": None} | bad
    before = store.data_version(ENT)
    with pytest.raises(InputError) as err:
        store.create_feature(ENT, args["fid"], args["role"], args["geometry"], feature_name=args["name_"],
                             properties=args["properties"], reason=args["reason"])
    assert "/ " in err.value.message and err.value.http_status == 422
    assert store.data_version(ENT) == before and store.feature(ENT, "NEW") is None


def test_geojson_geometry_and_odd_if_match(plant):
    store = plant
    made = store.create_feature(ENT, "G", "equipment", {"type": "Point", "coordinates": [120.001, 30.001]})
    assert store.feature(ENT, "G").geometry.equals(shapely.Point(120.001, 30.001))
    for odd in ("", f'W/"{made.edit_tag}.aa"', "garbage", [], ["x"]):
        with pytest.raises(EditConflict):
            store.delete_feature(ENT, "G", odd)
    with pytest.raises(InputError):
        store.delete_feature(ENT, "G", True)
    assert store.delete_feature(ENT, "G", ["x", made.edit_tag]).edit_tags == [None]
    with pytest.raises(NotFoundError):
        store.delete_feature("没有的企业", "G", "*")


@pytest.mark.parametrize("unit", [
    AssessmentUnit("", "空编号"), AssessmentUnit("x" * 300, "长编号"),
    AssessmentUnit("g1", "坏图形", geometry="POINT (1 2)"),
    AssessmentUnit("g2", "空图形", geometry=shapely.Polygon()), "not a unit",
])
def test_hostile_unit_input_is_refused_cleanly(plant, unit):
    store = plant
    before = store.data_version(ENT)
    with pytest.raises(InputError):
        store.create_unit(ENT, unit)
    assert store.data_version(ENT) == before
