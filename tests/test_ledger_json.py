"""The ledger's JSON form: reading, the canonical form, JSON → Excel → JSON losslessness, the CLI round trip."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from riskmap.criteria import assess_units
from riskmap.domain import UnitKind
from riskmap.ledger import (
    ledger_from_dict,
    ledger_to_dict,
    read_ledger,
    read_ledger_excel,
    read_ledger_json,
    write_ledger_excel,
    write_ledger_json,
)
from riskmap.levels import Level

RICH = Path(__file__).parent / "fixtures" / "ledger" / "rich.json"


def rich_dict() -> dict:
    return json.loads(RICH.read_text(encoding="utf-8"))


def unit(ledger, uid):
    return next(u for u in ledger.units if u.id == uid)


# ------------------------------------------------------------------------------------------ reading


def test_rich_fixture_reads_every_field():
    led = read_ledger_json(RICH)
    assert led.enterprise.name == "示范化工有限公司"
    assert led.enterprise.report_phone == "0510-87654321"
    assert led.profile == "lec"
    assert [u.id for u in led.units] == ["001", "001-01", "001-01-01", "001-01-02", "001-02", "002"]
    assert sum(len(u.events) for u in led.units) == 8
    tank_farm = unit(led, "001-01")
    assert tank_farm.kind is UnitKind.SUB                      # "分单元" in Chinese
    assert tank_farm.parent_id == "001"
    assert tank_farm.weight == Decimal(12)
    assert tank_farm.override.level is Level.MAJOR and tank_farm.override.rule == "manual"
    assert tank_farm.major_hazard["people_500m"] == 120
    assert tank_farm.major_hazard["substances"][2] == {"name": "自定义物质", "q": 0.125, "Q": 1, "beta": 1.5}
    ev = tank_farm.events[0]
    assert ev.accident_type == "火灾、其他爆炸"                  # the original kept ...
    assert ev.accident_type_2025 == "火灾、其他"                 # ... beside the GB 6441-2025 mapping
    assert ev.inputs == {"L": 3, "E": 6, "C": 40}
    assert ev.inherent_level is None                           # "major" agrees with 6·6·40 = 1440: derived
    assert [c.cls for c in ev.controls] == ["1-4", "管理", "培训教育"]
    assert ev.controls[0].department == "仪表车间" and ev.controls[0].person == "李仪表"
    assert ev.cause == "罐体腐蚀穿孔；\n法兰垫片老化"
    assert ev.direct_rules == ["major-hazard-installation", "crowded-dangerous-place"]
    vehicle = tank_farm.events[2]
    assert vehicle.accident_type_2025 == "厂（场）内车辆致害"     # half-width brackets folded
    assert vehicle.residual_level is None                      # 1·6·7 = 42 is low, as written: derived
    assert vehicle.override.level is Level.SIGNIFICANT
    tank = unit(led, "001-01-01")
    assert tank.weight == Decimal("0.1")                       # exact, from the text "0.1"
    assert tank.geometry.x == 120.100123456789 and tank.geometry.y == 32.100987654321
    post = unit(led, "001-01-02")
    assert post.last_assessed == date(2024, 8, 15) and post.work_content.startswith("巡检")
    hot_work = unit(led, "001-02")
    assert hot_work.kind is UnitKind.ACTIVITY
    assert hot_work.events[0].direct_rules == ["mandatory-clause"]   # the short Chinese name, as a rule name
    assert hot_work.events[0].residual_level is Level.SIGNIFICANT     # no inputs: the given level stays
    office = unit(led, "002")
    assert office.events[0].residual_level is Level.LOW             # "blue"
    assert office.events[1].inputs == {"L": 1, "E": 3, "C": 1}      # numeric text read as numbers


def test_read_accepts_a_dict_and_a_path_alike(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(RICH.read_text(encoding="utf-8"), encoding="utf-8")
    assert ledger_to_dict(read_ledger_json(rich_dict())) == ledger_to_dict(read_ledger(path))


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + RICH.read_bytes())
    assert len(read_ledger(path).units) == 6


def test_evaluation_after_reading_gives_the_expected_levels():
    led = read_ledger_json(RICH)
    assess_units(led.units, default_profile=led.profile)
    tank_farm = unit(led, "001-01")
    leak, roof, vehicle = tank_farm.events
    assert leak.residual.score == Decimal(720) and leak.residual.computed_level is Level.MAJOR
    assert leak.inherent.score == Decimal(1440)
    assert roof.residual.method == "ls" and roof.residual.score == Decimal(8)   # S = max(S1..S5) = 4
    assert roof.level() is Level.LOW
    assert vehicle.level() is Level.SIGNIFICANT                                 # the event's override
    tank = unit(led, "001-01-01")
    assert tank.events[0].residual.score == Decimal(75)                        # 0.5·10·15, exact
    assert unit(led, "001-02").events[0].level() is Level.MAJOR                # direct rule
    assert unit(led, "002").level() is Level.LOW


def test_canonical_form_is_stable_and_written_json_reads_back(tmp_path):
    led = read_ledger_json(RICH)
    first = ledger_to_dict(led)
    path = tmp_path / "out.json"
    write_ledger_json(led, path)
    again = read_ledger(path)
    assert ledger_to_dict(again) == first
    write_ledger_json(again, tmp_path / "out2.json")
    assert (tmp_path / "out2.json").read_bytes() == path.read_bytes()
    # the canonical form drops levels that the inputs give and keeps those that nothing else gives
    events = first["units"][1]["events"]
    assert "inherent_level" not in events[0] and "level" not in events[2]
    assert first["units"][4]["events"][0]["level"] == "significant"


def test_exported_evaluations_are_information_only(tmp_path):
    led = read_ledger_json(RICH)
    assess_units(led.units, default_profile=led.profile)
    path = tmp_path / "with_eval.json"
    write_ledger_json(led, path, evaluations=True)
    data = json.loads(path.read_text(encoding="utf-8"))
    leak = data["units"][1]["events"][0]
    assert leak["residual"]["score"] == "720" and leak["residual"]["level"] == "major"
    assert ledger_to_dict(read_ledger(path)) == ledger_to_dict(read_ledger_json(RICH))


# ------------------------------------------------------------------------------------- losslessness


def test_json_excel_json_is_lossless(tmp_path):
    led = read_ledger_json(RICH)
    expected = ledger_to_dict(led)
    path = tmp_path / "rich.xlsx"
    write_ledger_excel(led, path)
    assert ledger_to_dict(read_ledger_excel(path)) == expected


def test_json_excel_json_is_lossless_after_evaluation(tmp_path):
    """An assessed ledger (as export-ledger writes it, with D and levels shown) reads back the same."""
    led = read_ledger_json(RICH)
    expected = ledger_to_dict(led)
    assess_units(led.units, default_profile=led.profile)
    path = tmp_path / "assessed.xlsx"
    write_ledger_excel(led, path)
    assert ledger_to_dict(read_ledger(path)) == expected


def test_long_geometry_survives_the_cell_limit(tmp_path):
    data = rich_dict()
    ring = [[120.1, 32.1]] + [[120.1 + i * 1e-6, 32.1 + 0.001 + (i % 7) * 1e-7] for i in range(1500)] \
        + [[120.1015, 32.1]] + [[120.1, 32.1]]
    data["units"][0]["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    led = ledger_from_dict(data)
    assert len(json.dumps(ledger_to_dict(led)["units"][0]["geometry"])) > 32_767
    path = tmp_path / "long.xlsx"
    write_ledger_excel(led, path)
    back = read_ledger(path)
    assert ledger_to_dict(back) == ledger_to_dict(led)
    assert back.units[0].geometry.equals_exact(led.units[0].geometry, 0)


_TEXT = st.text(alphabet=st.sampled_from(list("罐区泵房反应釜巡检岗动火作业 ABCxyz019-_=（）()、\n\t.")), min_size=1,
                max_size=12).filter(lambda s: s.strip() != "")
_LEC = st.fixed_dictionaries({"L": st.sampled_from([10, 6, 3, 1, 0.5, 0.2, 0.1]),
                              "E": st.sampled_from([10, 6, 3, 2, 1, 0.5]),
                              "C": st.sampled_from([100, 40, 15, 7, 3, 1])})
_LS = st.fixed_dictionaries({"L": st.integers(1, 5), "S": st.integers(1, 5)})
_ACCIDENTS = st.sampled_from(["物体打击", "车辆伤害", "中毒和窒息", "可燃气体爆炸", "火灾、灼烫", "其他伤害"])


@st.composite
def random_ledgers(draw) -> dict:
    n = draw(st.integers(1, 6))
    units = []
    for i in range(n):
        parent = None if i == 0 or draw(st.booleans()) else units[draw(st.integers(0, i - 1))]["id"]
        events = []
        for k in range(draw(st.integers(0, 3))):
            ev = {"name": draw(_TEXT), "hazard_factor": draw(st.none() | _TEXT),
                  "accident_type": draw(st.none() | _ACCIDENTS)}
            if draw(st.booleans()):
                ev["id"] = f"E{i}-{k}"
            method = draw(st.sampled_from(["lec", "ls", None]))
            if method == "ls":
                ev["method"] = "ls"
                ev["inputs"] = draw(_LS)
            elif method == "lec":
                ev["inputs"] = draw(_LEC)
                if draw(st.booleans()):
                    ev["inherent_inputs"] = draw(_LEC)
            else:
                ev["level"] = draw(st.sampled_from(["major", "significant", "general", "low"]))
            ev["controls"] = [{"description": draw(_TEXT), "class": draw(st.none() | st.sampled_from(["1-1", "管理"])),
                               "department": draw(st.none() | _TEXT)} for _ in range(draw(st.integers(0, 3)))]
            for c in ev["controls"]:
                for key in [k for k, v in c.items() if v is None]:
                    del c[key]
            for key in [k for k, v in ev.items() if v is None]:
                del ev[key]
            events.append(ev)
        u = {"id": f"U{i}-{draw(_TEXT).strip()}", "name": draw(_TEXT), "parent": parent,
             "kind": draw(st.sampled_from(["main", "sub", "post", "equipment", "activity"])),
             "weight": draw(st.sampled_from([1, 2, 0.5, "0.25", 12])), "events": events}
        if draw(st.booleans()):
            u["feature"] = draw(_TEXT)
        if draw(st.booleans()):
            u["last_assessed"] = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))).isoformat()
        if draw(st.booleans()):
            u["geometry"] = {"type": "Point", "coordinates": [draw(st.floats(73, 135)), draw(st.floats(18, 53))]}
        units.append(u)
    return {"enterprise": {"name": draw(_TEXT)}, "profile": "lec", "units": units}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=random_ledgers())
# Found by Hypothesis: the unit sheet's data row ("0", "主单元", feature "C") read as a second header row.
@example(data={"enterprise": {"name": "0"}, "profile": "lec", "units": [
    {"id": "U0-0", "name": "0", "kind": "main", "parent": None, "feature": "C",
     "events": [{"name": "0", "inputs": {"L": 10, "E": 10, "C": 100}}]}]})
def test_random_ledgers_survive_excel(tmp_path, data):
    led = ledger_from_dict(copy.deepcopy(data))
    expected = ledger_to_dict(led)
    path = tmp_path / "random.xlsx"
    write_ledger_excel(led, path)
    assert ledger_to_dict(read_ledger_excel(path)) == expected


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def runner():
    return CliRunner()


def _app():
    from riskmap.cli import app

    return app


def test_cli_import_then_export_round_trip(tmp_path, runner):
    pytest.importorskip("riskmap.store.repository", reason="the store is not there yet")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    result = runner.invoke(_app(), ["import-ledger", str(RICH), "--db", db, "--json"])
    assert result.exit_code == 0, result.output + str(result.exception)
    summary = json.loads(result.stdout)
    assert summary["enterprise"] == "示范化工有限公司"
    assert summary["units"] == 6 and summary["events"] == 8 and summary["ledger_version"] == 1
    assert summary["event_levels"] == {"major": 2, "significant": 1, "general": 1, "low": 4, "none": 0}
    # the tank farm (its override) and hot work (a direct rule) are major; 储运系统 has no events of its own
    assert summary["unit_levels"] == {"major": 2, "significant": 0, "general": 1, "low": 2, "none": 1}
    assert summary["problems"] == []

    out_json, out_xlsx = tmp_path / "out.json", tmp_path / "out.xlsx"
    for out in (out_json, out_xlsx):
        result = runner.invoke(_app(), ["export-ledger", str(out), "--db", db])
        assert result.exit_code == 0, result.output + str(result.exception)
    exported = json.loads(out_json.read_text(encoding="utf-8"))
    assert exported["enterprise"]["supervision_phone"] == "0510-12350"
    assert exported["units"][1]["events"][0]["residual"]["score"] == "720"
    expected = ledger_to_dict(read_ledger_json(RICH))
    assert ledger_to_dict(read_ledger(out_json)) == expected
    assert ledger_to_dict(read_ledger(out_xlsx)) == expected


def test_cli_import_text_summary_and_enterprise_option(tmp_path, runner):
    pytest.importorskip("riskmap.store.repository", reason="the store is not there yet")
    from riskmap.store import open_store

    db = f"sqlite:///{tmp_path / 'r.db'}"
    xlsx = tmp_path / "rich.xlsx"
    write_ledger_excel(read_ledger_json(RICH), xlsx)
    result = runner.invoke(_app(), ["import-ledger", str(xlsx), "--db", db, "--enterprise", "另一家企业"])
    assert result.exit_code == 0, result.output + str(result.exception)
    assert "单元 6 个" in result.stdout and "风险事件 8 个" in result.stdout
    assert "重大风险 2" in result.stdout
    store = open_store(db)
    try:
        assert len(store.units("另一家企业")) == 6
        assert store.enterprise("另一家企业", create=False).emergency_phone == "119"
    finally:
        store.close()


def test_cli_template(tmp_path, runner):
    out = tmp_path / "模板.xlsx"
    result = runner.invoke(_app(), ["ledger-template", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and read_ledger(out).units == []


def test_ledger_core_imports_neither_sqlalchemy_nor_fastapi():
    import subprocess
    import sys

    code = ("import sys; from riskmap.ledger import read_ledger; read_ledger(sys.argv[1]); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'fastapi', 'geoalchemy2'}))")
    out = subprocess.run([sys.executable, "-c", code, str(RICH)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
