"""The hazard ledger (隐患台账) as Excel (riskmap.hazards.ledger) and its import in one transaction
(riskmap.store.hazards.report_many), on both backends: written with drop-downs, read back, every bad cell listed,
nothing imported when one row is bad."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from plants import editing_layout

from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.errors import LedgerError
from riskmap.hazards import Actor
from riskmap.hazards.ledger import CODES_SHEET, SHEET, read_ledger, write_ledger
from riskmap.levels import Level
from riskmap.people import ROLES
from riskmap.store import hazards as hz
from riskmap.store.history import history

ENT = "台账测试企业"
WHO = Actor("赵巡检", None, ROLES["inspector"][2])


@pytest.fixture
def plant(store):
    store.save_layout(ENT, editing_layout())
    store.save_units(ENT, [AssessmentUnit("u1", "罐区", UnitKind.POST, feature_ref="A", events=[
        RiskEvent("泄漏", id="E1", residual_level=Level.GENERAL, controls=[ControlMeasure("联锁")])])])
    return store


def store_history(store):
    return history(store, ENT)


def test_export_and_import_round_trip(plant, tmp_path):
    store = plant
    hz.report(store, ENT, WHO, {"name": "液位计失灵", "source": 9, "hazard_type": 4, "unit_code": "u1",
                                "risk_event_code": "E1", "control_index": 0, "cost": "1200.50",
                                "location": {"type": "Point", "coordinates": [120.0005, 30.0005]}})
    hz.report(store, ENT, WHO, {"name": "球罐无注水", "item": "chem-2017-121:6", "department": "储运部"})
    out = tmp_path / "ledger.xlsx"
    assert write_ledger(hz.listing(store, ENT), out, ENT) == 2
    wb = load_workbook(out)
    ws = wb[SHEET]
    assert ws.cell(1, 1).value == "隐患名称*" and {ws.cell(r, 1).value for r in (2, 3)} == {"液位计失灵", "球罐无注水"}
    assert any("隐患来源" in str(ws.cell(1, c).value) for c in range(1, 20))
    assert wb[CODES_SHEET].cell(10, 1).value == "9 管控措施失效"                 # the dangerSrc column
    assert any(CODES_SHEET in dv.formula1 for dv in ws.data_validations.dataValidation)
    rows = read_ledger(out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["液位计失灵"]["source"] == 9 and by_name["液位计失灵"]["control_index"] == 0
    assert by_name["液位计失灵"]["location"] == {"type": "Point", "coordinates": [120.0005, 30.0005]}
    assert by_name["球罐无注水"]["item"] == "chem-2017-121:6" and by_name["球罐无注水"]["level"] == 1
    made = hz.report_many(store, ENT, WHO, rows)
    assert made["imported"] == 2 and len(hz.listing(store, ENT)) == 4
    trail = [c for c in store_history(store) if c["action"].startswith("hazard.")]
    assert trail[0]["action"] == "hazard.import" and sorted(trail[0]["item_ids"]) == sorted(made["ids"])
    again = {h["name"]: h for h in hz.listing(store, ENT) if h["id"] in made["ids"]}
    assert again["液位计失灵"]["cost"] == "1200.50" and again["球罐无注水"]["major"]


def test_bad_ledgers_list_every_problem_and_import_nothing(plant, tmp_path):
    store = plant
    out = tmp_path / "ledger.xlsx"
    write_ledger([], out, ENT)
    wb = load_workbook(out)
    ws = wb[SHEET]
    ws.append(["好的一行", "0 一般隐患"])
    ws.append([None, "7 奇怪", None, "42"])
    ws.append(["经纬度缺一", None, None, None, None, None, None, None, None, None, None, None, None, 120.0])
    wb.save(out)
    with pytest.raises(LedgerError) as caught:
        read_ledger(out)
    found = {(d["row"], d["column"]) for d in caught.value.details}
    assert found == {(3, "隐患名称*"), (3, "隐患等级"), (3, "隐患来源"), (4, "经度")}
    # rows that read well but fail the store's checks: nothing is imported
    version = store.data_version(ENT)
    with pytest.raises(LedgerError) as caught:
        hz.report_many(store, ENT, WHO, [{"name": "好"}, {"name": "x", "unit_code": "nope"},
                                         {"name": "y", "location": {"type": "Point", "coordinates": [10, 10]}}])
    assert [d["row"] for d in caught.value.details] == [3, 4]
    assert hz.listing(store, ENT) == [] and store.data_version(ENT) == version
    (tmp_path / "junk.xlsx").write_bytes(b"PK not really a zip")
    with pytest.raises(LedgerError, match="无法读取"):
        read_ledger(tmp_path / "junk.xlsx")
