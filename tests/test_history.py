"""Reading the past: moments users type, versions current at a moment, the audit trail, diffs between moments."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime

import pytest
from plants import plant_snapshot

from riskmap.clock import LOCAL_ZONE as LOCAL
from riskmap.errors import InputError, NotFoundError
from riskmap.store.history import format_moment, parse_moment

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-10-01T08:00", datetime(2026, 10, 1, 0, 0, tzinfo=UTC)),            # no offset: Beijing time
    ("2026-10-01 08:00:30", datetime(2026, 10, 1, 0, 0, 30, tzinfo=UTC)),
    ("2026-10-01T08:00Z", datetime(2026, 10, 1, 8, 0, tzinfo=UTC)),
    ("2026-10-01T08:00:00+02:00", datetime(2026, 10, 1, 6, 0, tzinfo=UTC)),
    ("2026-10-01", datetime(2026, 10, 1, 15, 59, 59, 999999, tzinfo=UTC)),     # a date: the end of that day there
])
def test_parse_moment_reads_iso_dates_and_times(text, expected):
    assert parse_moment(text, now=NOW) == expected
    assert parse_moment(text, now=NOW).tzinfo is UTC


@pytest.mark.parametrize("text, words", [
    ("yesterday", "not an ISO 8601"), ("2026-13-01", "not an ISO 8601"), ("2026-02-30", "not an ISO 8601"),
    ("2026-10-01T25:00", "not an ISO 8601"), ("２０２６-10-01", "not an ISO 8601"), ("", "not an ISO 8601"),
    ("2026-10-01T08:00" + "0" * 100, "not an ISO 8601"), (None, "not an ISO 8601"),
    ("1989-12-31", "before 1990"), ("2027-01-01", "in the future"), ("20261001", "not an ISO 8601"),
])
def test_parse_moment_refuses_garbage_in_both_languages(text, words):
    with pytest.raises(InputError) as caught:
        parse_moment(text, now=NOW)
    assert words in caught.value.message and "时刻" in caught.value.message


def test_format_moment_is_beijing_time():
    assert format_moment(datetime(2026, 10, 1, 0, 0, tzinfo=UTC)) == "2026-10-01 08:00 +08:00"


# ------------------------------------------------------------------------------------------ the past, as it was

ENT = "江苏某化工有限公司"


def revised_layout():
    from plants import make_layout, square

    return make_layout([
        ("A1", "罐区", "region", "区域", {}, square(120.0, 32.0, 0.0015)),          # reshaped
        ("A3", "新装置区", "region", "区域", {}, square(120.004, 32.0)),             # added (A2 removed)
        ("B1", "中控室", "building", "建筑", {}, square(120.0101, 32.0101, 0.0002)),  # renamed
    ])


@pytest.fixture
def edited(store):
    """A plant changed step by step, with the moment after each step and the snapshot taken then."""
    from plants import plant_layout, unit_tree

    from riskmap.levels import Level
    from riskmap.plant import load_plant

    moments = []

    def step(write):
        write()
        time.sleep(0.003)
        moment = datetime.now(UTC)
        moments.append((moment, plant_snapshot(load_plant(store, ENT))))
        time.sleep(0.003)

    before = datetime.now(UTC)
    time.sleep(0.003)
    step(lambda: store.save_layout(ENT, plant_layout(), author="王工", reason="首次导入"))
    step(lambda: store.save_units(ENT, unit_tree(), source="ledger.xlsx"))

    def raise_reactor(unit):
        unit.events[0].residual = None
        unit.events[0].residual_level = Level.MAJOR
        unit.last_assessed = date(2026, 9, 1)

    step(lambda: store.edit_unit(ENT, "U2.1", raise_reactor, author="李工", reason="复评"))
    step(lambda: store.save_layout(ENT, revised_layout(), author="王工", reason="改造后"))
    tree = [u for u in unit_tree() if u.id != "U1.1"]
    step(lambda: store.save_units(ENT, tree, source="ledger-2.xlsx"))
    return before, moments


@pytest.fixture
def feature_edits(store, edited):
    """Then single-feature edits through the editing API: create, patch, delete, restore, a split."""
    from plants import square
    from shapely.geometry import Point

    from riskmap.plant import load_plant
    from riskmap.store.editing import FeatureChange

    before, moments = edited
    moments = list(moments)

    def step(write):
        write()
        time.sleep(0.003)
        moments.append((datetime.now(UTC), plant_snapshot(load_plant(store, ENT))))
        time.sleep(0.003)

    def tag(fid):
        return [store.feature(ENT, fid).edit_tag]

    step(lambda: store.create_feature(ENT, "P9", "equipment", Point(120.0005, 32.0005), feature_name="新泵",
                                      author="赵工", reason="新增设备"))
    step(lambda: store.patch_feature(ENT, "A1", tag("A1"), {"geometry": square(120.0, 32.0, 0.0018), "name": "新罐区"},
                                     author="赵工", reason="扩建"))
    step(lambda: store.delete_feature(ENT, "A3", tag("A3"), author="赵工", reason="拆除"))
    step(lambda: store.restore_feature(ENT, "A3", author="赵工", reason="误删"))
    halves = [FeatureChange("replace", "A1", geometry=square(120.0, 32.0, 0.0009)),
              FeatureChange("create", "A1b", role="region", geometry=square(120.0009, 32.0, 0.0009),
                            feature_name="罐区东")]
    step(lambda: store.apply_layout_changes(ENT, halves, "split", {"A1": tag("A1")}, author="赵工", reason="分区"))
    step(lambda: store.edit_unit(ENT, "U2", lambda u: setattr(u, "feature_ref", "A3"), author="赵工",
                                 reason="挂接新装置区"))
    return before, moments


def test_as_of_view_at_each_past_moment_equals_the_snapshot_taken_then(store, feature_edits):
    from riskmap.plant import load_plant

    before, moments = feature_edits
    assert len(moments) == 11
    assert len({json.dumps(s, sort_keys=True, default=str) for _, s in moments}) == len(moments)  # all differ
    for moment, taken in moments:
        plant = load_plant(store, ENT, at=moment)
        assert plant.as_of == moment
        assert plant_snapshot(plant) == taken, moment
    # a moment given as users type it (Beijing time, no offset) reads the same
    first = moments[0][0]
    typed = first.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert plant_snapshot(load_plant(store, ENT, at=parse_moment(typed))) == moments[0][1]
    with pytest.raises(InputError, match="nothing was stored yet"):
        load_plant(store, ENT, at=before)


def test_versions_at_and_regions_at(store, edited):
    from riskmap.store.history import regions_at, versions_at

    _, moments = edited
    assert [(a.layout_number, a.ledger_number) for a in (versions_at(store, ENT, m) for m, _ in moments)] == \
        [(1, None), (1, 1), (1, 2), (2, 2), (2, 3)]
    assert [r.id for r in regions_at(store, ENT, 1, None)] == ["A1", "A2"]
    assert {r.id: r.unit_id for r in regions_at(store, ENT, 1, 1)} == {"A1": "U1", "A2": "U2"}
    assert regions_at(store, ENT, None, 1) == []
    assert {r.id: r.unit_id for r in regions_at(store, ENT, 2, 3)} == {"A1": "U1", "A3": None}
    with pytest.raises(NotFoundError):
        versions_at(store, "没有这家企业", moments[0][0])


def test_diff_between_two_moments(store, edited):
    from riskmap.store.history import diff

    _, moments = edited
    (t1, _), (t2, _), (t3, _), (t4, _), (t5, _) = moments
    d = diff(store, ENT, t3, t4)
    layout = d["layout"]
    assert [f["id"] for f in layout["added"]] == ["A3"]
    assert sorted(f["id"] for f in layout["removed"]) == ["A2", "E1", "R1"]
    assert [f["id"] for f in layout["reshaped"]] == ["A1"]
    assert layout["renamed"] == [{"id": "B1", "from": "控制室", "to": "中控室"}]
    assert d["units"] == {"added": [], "removed": [], "changed": [], "level_changed": []}
    units = diff(store, ENT, t2, t3)["units"]
    assert units["changed"] == [{"id": "U2.1", "name": "反应釜", "fields": ["last_assessed", "events"]}]
    assert units["level_changed"] == [{"id": "U2.1", "from": "low", "to": "major"}]
    assert diff(store, ENT, t3, t2) == diff(store, ENT, t2, t3)            # order of the moments does not matter
    units = diff(store, ENT, t4, t5)["units"]
    assert units["removed"] == [{"id": "U1.1", "name": "液氯储罐"}]
    # the re-import wrote the ledger's values: U2.1's, and U2's reference "装置区", bound to A2 until the drawing
    # that removed A2, now a name that matches nothing
    assert {u["id"]: u["fields"] for u in units["changed"]}["U2"] == ["feature_ref"]
    assert {u["id"] for u in units["changed"]} == {"U2", "U2.1"}
    everything = diff(store, ENT, t1, t1)
    assert everything["layout"]["added"] == [] and everything["units"]["added"] == []
    from_start = diff(store, ENT, datetime(2000, 1, 1, tzinfo=UTC), t2)
    assert len(from_start["layout"]["added"]) == 5 and len(from_start["units"]["added"]) == 4


def test_history_lists_who_when_why_newest_first(store, edited):
    from riskmap.store.history import history

    _, moments = edited
    rows = history(store, ENT)
    assert [r["action"] for r in rows] == ["ledger.import", "layout.import", "unit.edit", "ledger.import",
                                           "layout.import"]
    assert rows[-1]["author"] == "王工" and rows[-1]["reason"] == "首次导入"
    assert rows[2]["author"] == "李工" and rows[2]["reason"] == "复评"
    assert all(rows[i]["at"] >= rows[i + 1]["at"] for i in range(len(rows) - 1))
    assert [r["action"] for r in history(store, ENT, since=moments[1][0], until=moments[3][0])] == \
        ["layout.import", "unit.edit"]
    assert len(history(store, ENT, limit=2)) == 2
    with pytest.raises(InputError):
        history(store, ENT, limit=0)


def test_diff_of_feature_edits_and_history_rows(store, feature_edits):
    from riskmap.store.history import diff, history

    _, moments = feature_edits
    d = diff(store, ENT, moments[4][0], moments[-1][0])["layout"]
    assert [f["id"] for f in d["added"]] == ["A1b", "P9"]
    assert d["removed"] == [] and [f["id"] for f in d["reshaped"]] == ["A1"]
    assert d["renamed"] == [{"id": "A1", "from": "罐区", "to": "新罐区"}]
    units = diff(store, ENT, moments[-2][0], moments[-1][0])["units"]
    assert units["changed"] == [{"id": "U2", "name": "装置区", "fields": ["feature_ref"]}]
    rows = history(store, ENT, since=moments[4][0])
    assert [r["action"] for r in rows] == ["unit.edit", "feature.split", "feature.restore", "feature.delete",
                                           "feature.patch", "feature.create"]
    assert all(r["author"] == "赵工" and r["reason"] for r in rows)
    assert [r["action"] for r in history(store, ENT, item="A3")] == ["feature.restore", "feature.delete"]
    # the audit trail carries the data version: the as-of view knows it
    from riskmap.store.history import versions_at

    assert versions_at(store, ENT, moments[-1][0]).data_version == store.data_version(ENT)


def test_re_import_of_the_same_ledger_changes_nothing_in_the_diff(store, edited):
    from riskmap.store.history import diff

    _, moments = edited
    store.save_units(ENT, store.units(ENT), source="again.xlsx")
    time.sleep(0.003)
    again = diff(store, ENT, moments[-1][0], datetime.now(UTC))
    assert (again["ledger_from"], again["ledger_to"]) == (3, 4)
    assert again["units"] == {"added": [], "removed": [], "changed": [], "level_changed": []}


def test_history_of_a_database_older_than_the_audit_trail(store, edited):
    """Imports made before the `changes` table existed are listed from the version tables."""
    from sqlalchemy import delete

    from riskmap.store.history import history
    from riskmap.store.schema import ChangeRow

    with store.session(write=True) as s:
        s.execute(delete(ChangeRow).where(ChangeRow.action.in_(("layout.import", "ledger.import"))))
    rows = history(store, ENT)
    assert [(r["action"], r["id"] is None) for r in rows] == [
        ("ledger.import", True), ("layout.import", True), ("unit.edit", False), ("ledger.import", True),
        ("layout.import", True)]
    assert (rows[-1]["author"], rows[-1]["reason"], rows[-1]["layout_number"]) == ("王工", "首次导入", 1)
    assert [r["ledger_number"] for r in rows if r["action"] == "ledger.import"] == [3, 1]
