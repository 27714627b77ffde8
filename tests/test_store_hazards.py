"""Hidden hazards in the store (riskmap.store.hazards), on both backends: each transition in one transaction with its
timeline and audit rows and a new data version, the references checked, concurrency (412), the consequences
(failed controls, open major hazards, the re-assessment flag on acceptance), photos, the map's GeoDataFrame."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from plants import editing_layout, offset_square
from sqlalchemy import func, select

from riskmap.clock import local_date
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.errors import EditConflict, NotFoundError, PreconditionRequired, TooLargeError
from riskmap.hazards import Actor, FiveInPlaceError, HazardInputError, TransitionError
from riskmap.hazards.photos import PhotoError
from riskmap.levels import Level
from riskmap.people import ROLES
from riskmap.store import hazards as hz
from riskmap.store.schema import ChangeRow, HazardEventRow, HazardPhotoRow, HazardRow

ENT, OTHER = "隐患测试企业", "别家企业"
INSPECTOR = Actor("赵巡检", None, ROLES["inspector"][2])
MANAGER = Actor("张经理", None, ROLES["safety_manager"][2])
RECTIFIER = Actor("李工", None, ROLES["rectifier"][2])
FULL_PLAN = {"goal": "消除泄漏", "methods": "更换密封", "funds": "已批", "organisation": "设备部", "schedule": "月底",
             "safety": "作业许可", "emergency": "泄漏专项预案"}


def _units() -> list[AssessmentUnit]:
    controls = [ControlMeasure("液位高高联锁"), ControlMeasure("每班巡检")]
    return [AssessmentUnit("root", "全厂", UnitKind.MAIN, feature_ref="R1"),
            AssessmentUnit("u1", "罐区", UnitKind.POST, parent_id="root", feature_ref="A",
                           events=[RiskEvent("储罐泄漏", id="E1", residual_level=Level.SIGNIFICANT,
                                             controls=controls)])]


@pytest.fixture
def plant(store):
    store.save_layout(ENT, editing_layout())
    store.save_units(ENT, _units())
    store.enterprise(OTHER)
    return store


def _png(w=40, h=30, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(out, "PNG")
    return out.getvalue()


def _jpeg_with_gps() -> bytes:
    im = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0110] = "测试手机"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (30.0, 0.0, 3.6), 3: "E", 4: (120.0, 0.0, 7.2)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _counts(store) -> tuple[int, int, int, int]:
    with store.session() as s:
        return tuple(s.execute(select(func.count()).select_from(m)).scalar_one()
                     for m in (HazardRow, HazardEventRow, ChangeRow, HazardPhotoRow))


def _through(store, major: bool = False) -> str:
    values = {"name": "储罐液位计失灵", "source": 9, "hazard_type": 4, "unit_code": "u1", "risk_event_code": "E1",
              "control_index": 0, "location": {"type": "Point", "coordinates": [120.0005, 30.0005]}}
    if major:
        values["item"] = "chem-2017-121:5"
    made = hz.report(store, ENT, INSPECTOR, values)["hazard"]
    hz.write(store, ENT, made["id"], "confirm", MANAGER, {"department": "储运部"}, if_match=1)
    deadline = (local_date(datetime.now(UTC)) + timedelta(days=7)).isoformat()
    hz.write(store, ENT, made["id"], "assign", MANAGER, {"rectifier": "李工", "deadline": deadline}, if_match=2)
    return made["id"]


def test_the_loop_in_the_store(plant):
    store = plant
    version0 = store.data_version(ENT)
    made = hz.report(store, ENT, INSPECTOR, {"name": "储罐液位计失灵", "source": 9, "hazard_type": 4,
                                             "unit_code": "u1", "risk_event_code": "E1", "control_index": 0,
                                             "location": {"type": "Point", "coordinates": [120.0005, 30.0005]}})
    uid = made["hazard"]["id"]
    assert made["data_version"] == version0 + 1 and made["hazard"]["state"] == "reported"
    assert made["hazard"]["danger_state"] == 0 and made["hazard"]["version"] == 1
    assert hz.failed_controls(store, ENT) == [{"unit_id": "u1", "risk_event": "E1", "control_index": 0,
                                               "hazard_id": uid, "hazard_name": "储罐液位计失灵", "level": 0,
                                               "state": "reported"}]
    uid2 = _through(store, major=True)
    assert [h["id"] for h in hz.open_major_hazards(store, ENT)] == [uid2]
    # major: no rectification without the five in place; nothing written by the refusal
    before = _counts(store)
    with pytest.raises(FiveInPlaceError):
        hz.write(store, ENT, uid2, "rectify", RECTIFIER, {}, if_match=3)
    assert _counts(store) == before
    five = {"liable_person": "王工", "rectification_measures": "加装紧急切断阀", "cost": "80000", "plan": FULL_PLAN}
    hz.write(store, ENT, uid2, "rectify", RECTIFIER, five, if_match=3)
    hz.write(store, ENT, uid2, "submit", RECTIFIER, {"note": "切断阀已投用"}, if_match=4)
    with pytest.raises(TransitionError):
        hz.write(store, ENT, uid2, "close", MANAGER, {}, if_match=5)
    assert store.flags(ENT, unit_id="u1", reason_code="hazard_accepted") == []
    done = hz.write(store, ENT, uid2, "accept", MANAGER, {"note": "验收合格"}, if_match=5)
    assert done["hazard"]["state"] == "accepted" and done["hazard"]["danger_state"] == 9
    assert [f["reason_code"] for f in done["flags_raised"]] == ["hazard_accepted"]
    assert {(f["unit_id"], f["reason_code"]) for f in store.flags(ENT)} >= {("u1", "hazard_accepted")}
    assert hz.open_major_hazards(store, ENT) == []
    shown = hz.get(store, ENT, uid2)
    assert [s["action"] for s in shown["timeline"]] == ["report", "confirm", "assign", "rectify", "submit", "accept"]
    assert shown["timeline"][-1]["changed"]["state"] == ["awaiting_acceptance", "accepted"]
    assert shown["timeline"][0]["author"] == "赵巡检" and shown["plan"] == FULL_PLAN and shown["cost"] == "80000"
    assert shown["item_text"].startswith("构成一级、二级重大危险源") and shown["level"] == 1
    with store.session() as s:
        actions = s.execute(select(ChangeRow.action).where(ChangeRow.action.like("hazard.%"))).scalars().all()
    assert actions.count("hazard.accept") == 1 and actions.count("hazard.report") == 2
    # the unit's risk level did not move
    assert store.units(ENT)[1].events[0].residual_level == Level.SIGNIFICANT


def test_if_match_and_concurrent_transitions(plant):
    store = plant
    uid = hz.report(store, ENT, INSPECTOR, {"name": "配电室门未关"})["hazard"]["id"]
    with pytest.raises(PreconditionRequired):
        hz.write(store, ENT, uid, "confirm", MANAGER, {}, require_match=True)
    with pytest.raises(EditConflict) as caught:
        hz.write(store, ENT, uid, "confirm", MANAGER, {}, if_match=7)
    assert caught.value.current["hazard"]["state"] == "reported" and caught.value.current["edit_tag"] == 1
    results, barrier = [], threading.Barrier(2)

    def act(action, reason):
        barrier.wait()
        try:
            made = hz.write(store, ENT, uid, action, MANAGER, {}, reason=reason, if_match=1)
            results.append(made["hazard"]["state"])
        except EditConflict as exc:
            results.append(("412", exc.current["hazard"]["state"]))

    threads = [threading.Thread(target=act, args=a) for a in (("confirm", None), ("reject", "不是隐患"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1 and len(lost) == 1 and lost[0][1] == won[0]
    assert len(hz.get(store, ENT, uid)["timeline"]) == 2


def test_references_place_and_tenancy(plant):
    store = plant
    before = _counts(store)
    version = store.data_version(ENT)
    for values, match in [
        ({"name": "x", "unit_code": "nope"}, "没有编号为 “nope” 的评估单元"),
        ({"name": "x", "unit_code": "u1", "risk_event_code": "E9"}, "没有风险事件"),
        ({"name": "x", "unit_code": "u1", "risk_event_code": "#1", "control_index": 2}, "只有 2 条管控措施"),
        ({"name": "x", "location": {"type": "Point", "coordinates": [121.0, 30.0]}}, "公里"),
        ({"name": "x", "location": {"type": "Point", "coordinates": [30.0, 60.0]}}, "公里"),
    ]:
        with pytest.raises(HazardInputError, match=match):
            hz.report(store, ENT, INSPECTOR, values)
    assert _counts(store) == before and store.data_version(ENT) == version
    ok = hz.report(store, ENT, INSPECTOR, {"name": "x", "unit_code": "u1", "risk_event_code": "#1",
                                           "control_index": 1})["hazard"]
    with pytest.raises(NotFoundError):
        hz.get(store, OTHER, ok["id"])
    with pytest.raises(NotFoundError):
        hz.write(store, OTHER, ok["id"], "confirm", MANAGER, {}, if_match=1)
    with pytest.raises(NotFoundError):
        hz.get(store, ENT, "x" * 500)
    assert hz.listing(store, OTHER) == []


def test_filters_overdue_and_open_at(plant):
    store = plant
    t0 = datetime(2026, 3, 1, 2, tzinfo=UTC)
    a = hz.report(store, ENT, INSPECTOR, {"name": "甲", "department": "储运部"}, now=t0)["hazard"]["id"]
    b = hz.report(store, ENT, INSPECTOR, {"name": "乙", "item": "chem-2017-121:2"}, now=t0)["hazard"]["id"]
    hz.write(store, ENT, a, "confirm", MANAGER, {}, now=t0 + timedelta(hours=1))
    hz.write(store, ENT, a, "assign", MANAGER, {"rectifier": "李工", "deadline": "2026-03-05"},
             now=t0 + timedelta(hours=2))
    hz.write(store, ENT, b, "reject", MANAGER, {}, reason="重复上报", now=t0 + timedelta(days=1))
    now = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)      # 2026-03-06 00:30 in Beijing: a's deadline has passed
    assert [h["id"] for h in hz.listing(store, ENT, overdue=True, now=now)] == [a]
    assert hz.listing(store, ENT, overdue=True, now=now - timedelta(hours=1)) == []
    assert {h["id"] for h in hz.listing(store, ENT, at=t0 + timedelta(hours=3))} == {a, b}
    assert [h["id"] for h in hz.listing(store, ENT, at=t0 + timedelta(days=2))] == [a]
    assert hz.listing(store, ENT, at=t0 - timedelta(days=1)) == []
    assert [h["id"] for h in hz.listing(store, ENT, level=1)] == [b]
    assert [h["id"] for h in hz.listing(store, ENT, state="assigned", department="储运部")] == [a]
    with pytest.raises(HazardInputError, match="没有状态"):
        hz.listing(store, ENT, state="lost")
    frame = hz.hazards_frame(store, ENT, now=now)
    assert frame.crs.to_epsg() == 4326 and set(frame.columns) >= {"state", "level", "overdue", "geometry"}
    assert dict(zip(frame["id"], frame["overdue"], strict=True)) == {a: True, b: False}


def test_fix_on_spot_raises_the_flag_and_the_frame_places_by_unit(plant):
    store = plant
    done = hz.report(store, ENT, INSPECTOR, {"name": "灭火器压力不足", "source": 1, "hazard_type": 5,
                                             "unit_code": "u1", "note": "当场更换灭火器"}, on_spot=True)
    assert done["hazard"]["state"] == "closed" and done["hazard"]["manage_type"] == 0
    assert [f["unit_id"] for f in done["flags_raised"]] == ["u1"]
    frame = hz.hazards_frame(store, ENT)
    point = frame.geometry.iloc[0]
    assert point.geom_type == "Point" and offset_square(0, 0).buffer(1e-6).contains(point)


def test_photos(plant, tmp_path):
    store = plant
    uid = hz.report(store, ENT, INSPECTOR, {"name": "地沟积油"})["hazard"]["id"]
    limits = {"folder": tmp_path / "media", "max_bytes": 2_000_000, "max_pixels": 1_000_000}
    pic = hz.add_photo(store, ENT, uid, _jpeg_with_gps(), stage="before", who=INSPECTOR, **limits)
    assert pic["media_type"] == "image/jpeg" and pic["gps"] == {"lon": 120.002, "lat": 30.001}
    assert (pic["width"], pic["height"]) == (64, 48)
    served, media = hz.photo_file(store, ENT, uid, pic["id"], tmp_path / "media")
    with Image.open(io.BytesIO(served)) as im:
        assert media == "image/jpeg" and im.size == (64, 48) and len(im.getexif()) == 0
    assert b"Exif" not in served[:200]
    assert hz.get(store, ENT, uid)["photos"][0]["sha256"] == pic["sha256"]
    files = sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file())
    before = (_counts(store), files)
    bomb = io.BytesIO()
    Image.new("1", (5000, 5000)).save(bomb, "PNG")        # 25 Mpx in a few kilobytes
    for data, error in [(b"not an image at all", PhotoError), (b"GIF89a" + b"\0" * 100, PhotoError),
                        (_png()[:60], PhotoError), (b"\xff" * 2_000_001, TooLargeError),
                        (bomb.getvalue(), TooLargeError)]:
        with pytest.raises(error):
            hz.add_photo(store, ENT, uid, data, stage="before", who=INSPECTOR, **limits)
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    with pytest.raises(PhotoError, match="PNG 或 JPEG"):
        hz.add_photo(store, ENT, uid, gif.getvalue(), stage="before", who=INSPECTOR, **limits)
    with pytest.raises(HazardInputError):
        hz.add_photo(store, ENT, uid, _png(), stage="during", who=INSPECTOR, **limits)
    with pytest.raises(NotFoundError):
        hz.add_photo(store, OTHER, uid, _png(), stage="after", who=INSPECTOR, **limits)
    assert (_counts(store), sorted(p.name for p in (tmp_path / "media").rglob("*") if p.is_file())) == before
    with pytest.raises(NotFoundError):
        hz.photo_file(store, ENT, uid, pic["id"] + 99, tmp_path / "media")
