"""`riskmap history | diff | restore | flags | accident` after a revised drawing was applied."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from clikit import POINTS, counts, one_line_error, run
from plants import revise_demo_dxf


@pytest.fixture
def revised(store_url, tmp_path):
    """The demo plant, a moment before the renovation, and the revised drawing applied by 张工."""
    run("demo", "--db", store_url, "--no-serve")
    handles = revise_demo_dxf(tmp_path / "revised.dxf")
    time.sleep(1.1)
    before = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(1.1)
    out = run("import-layout", tmp_path / "revised.dxf", "--revise", "--control-points", POINTS, "--yes",
              "--author", "张工", "--reason", "技改", "--db", store_url).stdout
    return store_url, before, handles, out


def test_revision_flags_units_and_history_records_it(revised):
    url, before, handles, out = revised
    assert "需要重新评估的单元" in out and "甲醇储罐T-101" in out      # the deleted tank's unit is flagged

    rows = json.loads(run("history", "--db", url, "--json").stdout)
    assert rows[0]["action"] == "layout.revise" and rows[0]["author"] == "张工" and rows[0]["reason"] == "技改"
    text = run("history", "--db", url).stdout
    assert "layout.revise  张工" in text and "原因 / reason: 技改" in text
    only_ef = json.loads(run("history", "--item", "EF", "--db", url, "--json").stdout)
    assert [r["action"] for r in only_ef] == ["layout.revise"]
    since = json.loads(run("history", "--since", before, "--db", url, "--json").stdout)
    assert [r["action"] for r in since] == ["layout.revise"]
    assert json.loads(run("history", "--until", before, "--db", url, "--json").stdout)[0]["action"] != "layout.revise"

    flags = json.loads(run("flags", "--db", url, "--json").stdout)
    codes = {(f["unit_id"], f["reason_code"]) for f in flags}
    assert any(code == "geometry_changed" for _, code in codes), codes
    assert any(code == "equipment_removed" for _, code in codes), codes
    assert "需要重新评估" in run("flags", "--db", url).stdout


def test_diff_between_two_moments(revised):
    url, before, handles, _ = revised
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    result = json.loads(run("diff", "--from", before, "--to", now, "--db", url, "--json").stdout)
    layout = result["layout"]
    assert [r["id"] for r in layout["removed"]] == ["EF"]
    assert [r["name"] for r in layout["added"]] == ["新增储罐"]
    assert handles["lab"] in [r["id"] for r in layout["reshaped"]]
    assert [(r["from"], r["to"]) for r in layout["renamed"]] == [("停车场", "临时停车场")]
    text = run("diff", "--from", before, "--to", now, "--db", url).stdout
    assert "删除 removed: 1" in text and "EF 甲醇储罐T-101 equipment" in text and "停车场 → 临时停车场" in text
    same = run("diff", "--from", now, "--to", now, "--db", url).stdout
    assert "没有变化" in same


def test_restore_the_deleted_tank(revised):
    url, before, _, _ = revised
    state = counts(url)
    out = run("restore", "EF", "--at", before, "--reason", "误删", "--db", url).stdout   # as it was then
    assert f"已恢复要素 EF，新布局版本 {state['layout_versions'] + 1}" in out    # numbers run across drawings
    assert counts(url)["layout_versions"] == state["layout_versions"] + 1
    assert json.loads(run("history", "--item", "EF", "--db", url, "--json").stdout)[0]["action"] == "feature.restore"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    back = json.loads(run("diff", "--from", before, "--to", now, "--db", url, "--json").stdout)["layout"]
    assert "EF" not in [r["id"] for r in back["removed"] + back["added"] + back["reshaped"]]
    one_line_error(run("restore", "EF", "--db", url, check=False), "EF")           # it exists again
    one_line_error(run("restore", "NO-SUCH-FID", "--db", url, check=False), "NO-SUCH-FID")


def test_accident_flags_units(revised):
    url, _, _, _ = revised
    units = json.loads(run("flags", "--all", "--db", url, "--json").stdout)
    unit = units[0]["unit_id"]
    out = run("accident", "--unit", unit, "--date", "2026-11-01", "--description", "泵密封泄漏", "--db", url).stdout
    assert "已记录事故" in out and unit in out
    flags = json.loads(run("flags", "--db", url, "--json").stdout)
    assert (unit, "accident") in {(f["unit_id"], f["reason_code"]) for f in flags}
    serious = json.loads(run("accident", "--date", "2026-11-02", "--description", "爆炸", "--deaths", "1", "--db", url,
                             "--json").stdout)
    assert serious["serious"] is True and len(serious["flags_raised"]) > 1


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """One demo plant for the refusals (each checks that it wrote nothing)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bad') / 'h.db'}"
    run("demo", "--db", url, "--no-serve")
    return url


@pytest.mark.parametrize("args,words", [
    (["history", "--since", "yesterday"], ["yesterday"]),
    (["history", "--until", "2999-01-01"], ["未来"]),
    (["history", "--limit", "0"], ["limit"]),
    (["diff", "--from", "2026-13-01", "--to", "2026-11-01"], ["2026-13-01"]),
    (["restore", "EF", "--at", "soon"], ["soon"]),
    (["accident", "--date", "2026-02-30", "--description", "x"], ["2026-02-30"]),
    (["accident", "--date", "2999-01-01", "--description", "x"], ["2999"]),
    (["accident", "--unit", "NO-SUCH-UNIT", "--date", "2026-11-01", "--description", "x"], ["NO-SUCH-UNIT"]),
    (["accident", "--date", "2026-11-01", "--description", "   "], []),
    (["accident", "--date", "2026-11-01", "--description", "x", "--deaths", "-1"], []),
    (["flags", "--enterprise", "没有这家企业"], ["没有这家企业"]),
])
def test_bad_input_is_one_line(demo_url, args, words):
    url = demo_url
    state = counts(url)
    one_line_error(run(*args, "--db", url, check=False), *words)
    assert counts(url) == state
