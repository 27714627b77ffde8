"""Re-assessment flags: raised by the change that causes them (same transaction), one per unit and reason,
cleared by a new assessment or explicitly, "validity_expired" and "overdue" computed from the profile's period; the
map shows them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import shapely
from plants import EDIT_ENT as ENT
from plants import editing_layout as layout
from plants import offset_square as square
from sqlalchemy import func, select

from riskmap.clock import add_months
from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level
from riskmap.store import mapdata
from riskmap.store.editing import FeatureChange
from riskmap.store.flags import COMPUTED_REASONS, reassessment_months
from riskmap.store.rows import enterprise_id
from riskmap.store.schema import ChangeRow, ReassessmentFlagRow

TODAY = date(2026, 11, 23)


def plant_units(assessed: date | None = TODAY) -> list[AssessmentUnit]:
    """root attached to region R1; u1 attached to building A (in R1); u2 with its own small square in R1;
    u3 under u1 (no geometry: in R1 through its ancestor); u4 attached to the pump P1."""
    fire = [RiskEvent("火灾", residual_level=Level.GENERAL)]
    return [AssessmentUnit("root", "全厂", UnitKind.MAIN, feature_ref="R1"),
            AssessmentUnit("u1", "甲岗位", UnitKind.POST, parent_id="root", feature_ref="A", events=list(fire),
                           last_assessed=assessed),
            AssessmentUnit("u2", "乙岗位", UnitKind.POST, parent_id="root", geometry=square(0.002, 0.0005, 2e-4),
                           events=list(fire), last_assessed=assessed),
            AssessmentUnit("u3", "甲设备", UnitKind.EQUIPMENT, parent_id="u1", events=list(fire),
                           last_assessed=assessed),
            AssessmentUnit("u4", "泵岗位", UnitKind.POST, parent_id="root", feature_ref="泵1", events=list(fire),
                           last_assessed=assessed)]


@pytest.fixture
def plant(store):
    store.save_layout(ENT, layout())
    store.create_feature(ENT, "P1", "equipment", shapely.Point(120.0025, 30.0001), feature_name="泵1")
    store.save_units(ENT, plant_units())
    assert store.flags(ENT, today=TODAY) == []
    return store


def open_flags(store) -> set[tuple[str, str]]:
    return {(f["unit_id"], f["reason_code"]) for f in store.flags(ENT, today=TODAY)}


def map_flags(store) -> dict[str, str | None]:
    with store.session() as s:
        rows = mapdata.read_rows(s, enterprise_id(s, ENT, create=False), with_wkb=False)
    units = rows[rows["layer"] == "units"]
    return {k: None if pd.isna(v) else v for k, v in zip(units["key"], units["flag"], strict=True)}


def test_reshaped_feature_flags_attached_units(plant):
    store = plant
    a = store.feature(ENT, "A")
    result = store.patch_feature(ENT, "A", [a.edit_tag], {"geometry": square(0, 0, 1.5e-3)}, author="张三")
    assert [(f["unit_id"], f["reason_code"]) for f in result.flags_raised] == [("u1", "geometry_changed")]
    assert open_flags(store) == {("u1", "geometry_changed")}
    flag = store.flags(ENT, today=TODAY)[0]
    assert flag["unit_name"] == "甲岗位" and "名A" in flag["reason"] and " / " in flag["reason"]
    assert flag["detail"] == {"fid": "A", "op": "replace"} and flag["days_since_assessed"] == 0
    assert abs(datetime.fromisoformat(flag["raised_at"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert map_flags(store)["u1"] == "geometry_changed" and map_flags(store)["u2"] is None
    with store.session() as s:
        row = s.execute(select(ReassessmentFlagRow.raised_change_id)).scalar_one()
    assert row == result.change_id
    # a second change raises nothing new: one open flag per (unit, reason)
    again = store.patch_feature(ENT, "A", [result.edit_tag], {"geometry": square(0, 0, 1.2e-3)})
    assert again.flags_raised == [] and len(store.flags(ENT, today=TODAY)) == 1
    # a rename only moves nothing: u4 named "泵1" in the ledger, and is bound to P1, whatever else is called so
    b = store.feature(ENT, "B")
    renamed = store.patch_feature(ENT, "B", [b.edit_tag], {"name": "泵1"})
    assert renamed.flags_raised == []
    assert next(u.feature_ref for u in store.units(ENT) if u.id == "u4") == "P1"


def test_region_changes_flag_units_in_it(plant):
    store = plant
    r1 = store.feature(ENT, "R1")
    result = store.patch_feature(ENT, "R1", [r1.edit_tag],
                                 {"geometry": shapely.box(119.999, 29.999, 120.005, 30.003)})
    got = {(f["unit_id"], f["reason_code"]) for f in result.flags_raised}
    # root is attached to R1 (its geometry changed); u1 (via feature A), u2 (own geometry), u3 (below root, and
    # below u1) and u4 (via the pump) lie in it or hang under the unit attached to it
    assert got == {("root", "geometry_changed"), ("u1", "region_changed"), ("u2", "region_changed"),
                   ("u3", "region_changed"), ("u4", "region_changed")}


def test_split_and_merge_flag_region_units(plant):
    store = plant
    r1 = store.feature(ENT, "R1")
    west, east = shapely.box(119.999, 29.999, 120.0015, 30.002), shapely.box(120.0015, 29.999, 120.004, 30.002)
    split = store.apply_layout_changes(
        ENT, [FeatureChange("replace", "R1", geometry=west), FeatureChange("create", "R2", "region", east,
                                                                           feature_name="东区")],
        "split", {"R1": [r1.edit_tag]}, reason="拆分")
    assert {("u2", "region_changed"), ("u4", "region_changed"), ("u1", "region_changed")} <= \
        {(f["unit_id"], f["reason_code"]) for f in split.flags_raised}
    store.clear_flags(ENT, None, author="安全员", reason="已复核")
    assert open_flags(store) == set()
    r1, r2 = store.feature(ENT, "R1"), store.feature(ENT, "R2")
    merged = store.apply_layout_changes(
        ENT, [FeatureChange("delete", "R2"), FeatureChange("replace", "R1", geometry=shapely.union(west, east))],
        "merge", {"R1": [r1.edit_tag], "R2": [r2.edit_tag]})
    assert ("u2", "region_changed") in {(f["unit_id"], f["reason_code"]) for f in merged.flags_raised}


def test_equipment_added_and_removed(plant):
    store = plant
    added = store.create_feature(ENT, None, "equipment", shapely.Point(120.0021, 30.0006), feature_name="新泵")
    # root is attached to the region the pump is in; u2's own area contains it
    assert {(f["unit_id"], f["reason_code"]) for f in added.flags_raised} == \
        {("root", "equipment_added"), ("u2", "equipment_added")}
    p1 = store.feature(ENT, "P1")
    removed = store.delete_feature(ENT, "P1", [p1.edit_tag], reason="拆除")
    got = {(f["unit_id"], f["reason_code"]) for f in removed.flags_raised}
    assert {("root", "equipment_removed"), ("u4", "equipment_removed"), ("u4", "geometry_changed")} == got
    # u4 lost its pump: it is drawn with its ancestor's shape now, which carries its flags too
    assert map_flags(store).get("u4") is None                      # no shape of its own (a tombstone row)
    assert {"equipment_removed", "geometry_changed"} <= set(map_flags(store)["root"].split(","))


def test_unit_edits_raise_and_clear(plant):
    store = plant
    store.edit_unit(ENT, "u2", lambda u: setattr(u, "geometry", square(0.002, 0.0005, 3e-4)))
    store.edit_unit(ENT, "u3", lambda u: setattr(u, "feature_ref", "B"))
    store.edit_unit(ENT, "u4", lambda u: setattr(u, "parent_id", "u1"))
    store.edit_unit(ENT, "u1", lambda u: setattr(u, "name", "只是改名"))          # nothing to re-assess
    assert open_flags(store) == {("u2", "geometry_changed"), ("u3", "geometry_changed"), ("u4", "region_changed")}
    # a re-evaluation of the events clears every open flag of the unit
    store.edit_unit(ENT, "u2", lambda u: setattr(u, "events", [RiskEvent("火灾", residual_level=Level.LOW)]))
    # so does a later assessment date
    store.edit_unit(ENT, "u3", lambda u: setattr(u, "last_assessed", TODAY + timedelta(days=1)))
    assert open_flags(store) == {("u4", "region_changed")}
    history = store.flags(ENT, open_only=False, today=TODAY)
    cleared = [f for f in history if f["cleared_at"] is not None]
    assert {f["unit_id"] for f in cleared} == {"u2", "u3"}
    with store.session() as s:
        assert s.execute(select(ReassessmentFlagRow.id)).all().__len__() == 3    # never deleted


def test_new_ledger_clears_flags_of_reassessed_units(plant):
    store = plant
    a = store.feature(ENT, "A")
    store.patch_feature(ENT, "A", [a.edit_tag], {"geometry": square(0, 0, 1.5e-3)})
    store.record_accident(ENT, "u2", date.today(), "手部割伤")
    assert open_flags(store) == {("u1", "geometry_changed"), ("u2", "accident")}
    today = date.today()
    units = plant_units(assessed=today - timedelta(days=400))
    units[1] = dataclasses.replace(units[1], last_assessed=today + timedelta(days=1))   # u1 re-assessed
    store.save_units(ENT, units)
    assert {(f["unit_id"], f["reason_code"]) for f in store.flags(ENT, today=today)
            if f["reason_code"] not in COMPUTED_REASONS} == {("u2", "accident")}
    # drawn shapes: u3 has none of its own and is drawn with u1's
    assert map_flags(store) == {"root": None, "u1": None, "u2": "accident", "u4": None}


def test_accidents(plant):
    store = plant
    minor = store.record_accident(ENT, "u3", date.today() - timedelta(days=3), "轻微烫伤", serious_injuries=1,
                                  author="安全员")
    assert minor["serious"] is False and [f["unit_id"] for f in minor["flags_raised"]] == ["u3"]
    serious = store.record_accident(ENT, None, date.today() - timedelta(days=2), "爆燃", deaths=1, author="安全员")
    assert serious["serious"] is True
    assert {f["unit_id"] for f in serious["flags_raised"]} == {"root", "u1", "u2", "u4"}   # u3 had one open
    assert {u for u, r in open_flags(store) if r == "accident"} == {"root", "u1", "u2", "u3", "u4"}
    near_miss = store.record_accident(ENT, None, date.today() - timedelta(days=2), "险情", serious_injuries=2)
    assert near_miss["flags_raised"] == [] and near_miss["serious"] is False
    with pytest.raises(NotFoundError):
        store.record_accident(ENT, "ghost", date.today(), "x")
    for bad in [dict(description=" "), dict(description="x" * 3000), dict(deaths=-1), dict(deaths=1.5),
                dict(serious_injuries=True), dict(occurred_on=date.today() + timedelta(days=30)),
                dict(occurred_on="2026-01-01")]:
        args = {"unit_id": "u1", "occurred_on": date.today(), "description": "x"} | bad
        with pytest.raises(InputError):
            store.record_accident(ENT, **args)
    with store.session() as s:
        actions = s.execute(select(ChangeRow.action).order_by(ChangeRow.id)).scalars().all()
    assert actions.count("accident.record") == 3


def test_clear_flags_explicitly(plant):
    store = plant
    store.record_accident(ENT, "u1", date.today(), "跌倒")
    a = store.feature(ENT, "A")
    store.patch_feature(ENT, "A", [a.edit_tag], {"geometry": square(0, 0, 1.5e-3)})
    out = store.clear_flags(ENT, "u1", author="安全员", reason="已现场复核", reason_code="accident")
    assert out["cleared"] == 1 and open_flags(store) == {("u1", "geometry_changed")}
    assert store.clear_flags(ENT, "u1")["cleared"] == 1 and open_flags(store) == set()
    with pytest.raises(InputError):
        store.clear_flags(ENT, "u1", reason_code="overdue")
    with pytest.raises(InputError):
        store.clear_flags(ENT, "u1", reason_code="validity_expired")
    with store.session() as s:
        last = s.execute(select(ChangeRow.action, ChangeRow.reason, ChangeRow.author).where(
            ChangeRow.action == "flags.clear").order_by(ChangeRow.id)).all()
    assert last[0] == ("flags.clear", "已现场复核", "安全员")


def test_expired_validity_and_overdue_are_computed(store, tmp_path, monkeypatch):
    """The validity period printed on the board (last assessed … the day before the same date 12 months on) ends
    before TODAY: "validity_expired", from the day after its last day; a unit never assessed: "overdue"."""
    units = plant_units(assessed=None)
    units[1] = dataclasses.replace(units[1], last_assessed=date(2025, 11, 22))     # valid until 2026-11-21
    units[2] = dataclasses.replace(units[2], last_assessed=date(2025, 11, 23))     # valid until 2026-11-22: ended
    units[3] = dataclasses.replace(units[3], last_assessed=date(2025, 11, 24))     # valid until 2026-11-23 (today)
    store.save_layout(ENT, layout())
    store.save_units(ENT, units, default_profile="lec")
    got = {f["unit_id"]: f for f in store.flags(ENT, today=TODAY)}
    assert set(got) == {"u1", "u2", "u4"}         # root has no events of its own; u3 is valid through today
    assert got["u1"]["reason_code"] == got["u2"]["reason_code"] == "validity_expired"
    assert got["u1"]["days_since_assessed"] == 366 and got["u1"]["raised_at"] == "2026-11-22"
    assert got["u2"]["detail"] == {"months": 12, "valid_from": "2025-11-23", "valid_until": "2026-11-22"}
    assert got["u2"]["reason"] == ("评估有效期（2025-11-23 至 2026-11-22）已届满 / the assessment's validity period "
                                   "(2025-11-23 至 2026-11-22) has ended")
    assert got["u4"]["reason_code"] == "overdue" and got["u4"]["last_assessed"] is None
    assert got["u4"]["raised_at"] is None and "12" in got["u4"]["reason"]
    assert [f["unit_id"] for f in store.flags(ENT, today=TODAY, reason_code="validity_expired")] == ["u1", "u2"]
    assert store.flags(ENT, today=TODAY, reason_code="accident") == []
    assert [f["unit_id"] for f in store.flags(ENT, today=TODAY, unit_id="u1")] == ["u1"]
    assert store.flags(ENT, today=date(2026, 11, 22), unit_id="u2") == []           # its last valid day
    with pytest.raises(InputError):
        store.flags(ENT, reason_code="bogus")
    with pytest.raises(InputError):
        store.flags(ENT, today="明天")
    assert map_flags(store)["u1"] is None          # computed flags are not stored, not in the map

    (tmp_path / "short.yaml").write_text("name: short\nextends: lec\nreassessment_months: 6\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("name: bad\nextends: lec\nreassessment_months: soon\n", encoding="utf-8")
    monkeypatch.setenv("RISKMAP_PROFILES_DIR", str(tmp_path))
    assert reassessment_months("short") == 6 and reassessment_months("lec") == 12
    with pytest.raises(InputError, match="reassessment_months"):
        reassessment_months("bad")
    store.save_units(ENT, units, default_profile="short")
    got = {f["unit_id"]: f["reason_code"] for f in store.flags(ENT, today=date(2026, 5, 24))}
    assert got == {"u1": "validity_expired", "u2": "validity_expired", "u3": "validity_expired", "u4": "overdue"}


def test_add_months():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 23), 14) == date(2027, 1, 23)
    assert reassessment_months(None) == 12


def test_failed_change_raises_no_flag(plant, monkeypatch):
    """A flag belongs to its change: when the change fails after the flags were written, neither is stored."""
    store = plant
    from riskmap.store import mapdata as md

    def boom(*args, **kwargs):
        raise RuntimeError("crash while refreshing the map")

    monkeypatch.setattr(md, "refresh", boom)
    a = store.feature(ENT, "A")
    with pytest.raises(RuntimeError):
        store.patch_feature(ENT, "A", [a.edit_tag], {"geometry": square(0, 0, 1.5e-3)})
    monkeypatch.undo()
    assert open_flags(store) == set() and store.feature(ENT, "A").edit_tag == a.edit_tag


def many_units(n: int) -> list[AssessmentUnit]:
    """The plant's units and `n` equipment units under u2, each with a small square of its own (every fifth one
    sharing its neighbour's shape: one drawn row for two units), all assessed today."""
    fire = [RiskEvent("火灾", residual_level=Level.GENERAL)]
    out = plant_units()
    for k in range(n):
        x = 0.0021 + (k - k % 5 // 4) % 40 * 4e-6
        y = 0.0006 + (k - k % 5 // 4) // 40 * 4e-6
        out.append(AssessmentUnit(f"e{k:04d}", f"设备{k}", UnitKind.EQUIPMENT, parent_id="u2",
                                  geometry=square(x, y, 3e-6), events=list(fire), last_assessed=TODAY))
    return out


def open_rows(store) -> list[tuple[str, str, int]]:
    """Every open stored flag as (unit, reason, raised_change_id), straight from the table."""
    with store.session() as s:
        return sorted(s.execute(select(ReassessmentFlagRow.unit_code, ReassessmentFlagRow.reason_code,
                                       ReassessmentFlagRow.raised_change_id)
                                .where(ReassessmentFlagRow.cleared_at.is_(None))).all())


def last_change(store, action: str):
    with store.session() as s:
        return s.execute(select(ChangeRow.id, ChangeRow.author, ChangeRow.reason, ChangeRow.data_version,
                                ChangeRow.detail).where(ChangeRow.action == action)
                         .order_by(ChangeRow.id.desc()).limit(1)).one()


def test_serious_accident_flags_every_current_unit_once_and_clearing_clears_them_all(store):
    """A whole plant flagged in one statement: each current unit once (one already flagged for an accident is not
    flagged again, a retired unit not at all), other reasons kept, the audit row and the data version as for a
    row per unit, the map's flags as a full rebuild draws them; clearing them all clears every open flag."""
    store.save_layout(ENT, layout())
    store.create_feature(ENT, "P1", "equipment", shapely.Point(120.0025, 30.0001), feature_name="泵1")
    units = many_units(1200)                                  # more than a chunk of keys or codes
    store.save_units(ENT, [*units, AssessmentUnit("gone", "已拆除", UnitKind.POST, parent_id="root",
                                                  geometry=square(0.0021, 0.0016, 1e-5), last_assessed=TODAY)])
    store.save_units(ENT, units)                              # "gone" retired: not current any more
    codes = sorted(u.id for u in units)
    store.record_accident(ENT, "e0007", TODAY, "手部割伤")
    a = store.feature(ENT, "A")
    store.patch_feature(ENT, "A", [a.edit_tag], {"geometry": square(0, 0, 1.5e-3)})     # u1: geometry_changed
    before = open_rows(store)
    version = store.data_version(ENT)

    out = store.record_accident(ENT, None, TODAY, "爆燃", deaths=1, author="安全员")
    assert out["serious"] is True and out["data_version"] == version + 1 == store.data_version(ENT)
    raised = out["flags_raised"]
    assert [f["unit_id"] for f in raised] == [c for c in codes if c != "e0007"]         # once each, code order
    assert {(f["reason_code"], f["reason"]) for f in raised} == {("accident", "发生了事故：2026-11-23 爆燃 / "
                                                                  "an accident was recorded: 2026-11-23 爆燃")}
    change = last_change(store, "accident.record")
    assert (change.id, change.author, change.reason, change.data_version) == (out["change_id"], "安全员", "爆燃",
                                                                              version + 1)
    assert change.detail == {"occurred_on": TODAY.isoformat(), "deaths": 1, "serious_injuries": 0, "serious": True,
                             "flagged": len(codes)}
    now_open = open_rows(store)
    assert sorted(set(now_open) - set(before)) == sorted((c, "accident", change.id) for c in codes if c != "e0007")
    accident_open = [u for u, r, _ in now_open if r == "accident"]
    assert sorted(accident_open) == codes                                              # exactly once per unit
    with store.session() as s:
        details = s.execute(select(ReassessmentFlagRow.detail).where(
            ReassessmentFlagRow.raised_change_id == change.id)).scalars().all()
    assert len(details) == len(raised)
    assert all(d == {"accident_id": out["id"], "unit": None, "serious": True} for d in details)
    drawn = map_flags(store)
    assert drawn.pop("gone") is None                        # the retired unit's tombstone, not flagged
    assert drawn["u1"] == "accident,geometry_changed"
    assert set(drawn.values()) == {"accident", "accident,geometry_changed"}
    assert store.rebuild_map(ENT).empty                     # the map updated in place is the one a rebuild draws

    again = store.record_accident(ENT, None, TODAY, "再次爆燃", deaths=2)
    assert again["flags_raised"] == [] and len(open_rows(store)) == len(now_open)

    version = store.data_version(ENT)
    cleared = store.clear_flags(ENT, None, author="安全员", reason="全厂已重新评估")
    assert cleared["cleared"] == len(codes) + 1 and cleared["data_version"] == version + 1
    assert open_rows(store) == [] and open_flags(store) == set()
    with store.session() as s:
        by_change = s.execute(select(func.count()).select_from(ReassessmentFlagRow).where(
            ReassessmentFlagRow.cleared_change_id == cleared["change_id"])).scalar_one()
    assert by_change == len(codes) + 1
    assert set(map_flags(store).values()) == {None}
    assert store.rebuild_map(ENT).empty
    assert store.clear_flags(ENT, None)["cleared"] == 0
