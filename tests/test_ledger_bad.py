"""Bad and hostile ledgers: every bad cell reported by sheet, row and column in one pass, nothing returned
(unless skip_bad), never a traceback."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from riskmap.errors import LedgerError
from riskmap.ledger import model as ledger_model
from riskmap.ledger import read_ledger, read_ledger_excel, read_ledger_json, write_ledger_excel, xlsx_read

RICH = Path(__file__).parent / "fixtures" / "ledger" / "rich.json"

BASE = {
    "profile": "lec",
    "units": [
        {"id": "A", "name": "罐区", "kind": "main", "parent": None, "events": []},
        {"id": "A1", "name": "储罐", "kind": "equipment", "parent": "A", "last_assessed": "2025-01-01",
         "events": [{"id": "E1", "name": "泄漏", "accident_type": "火灾", "inputs": {"L": 3, "E": 6, "C": 15}}]},
        {"id": "A2", "name": "储罐附件", "kind": "equipment", "parent": "A1", "events": []},
        {"id": "B", "name": "办公楼", "kind": "main", "parent": None,
         "events": [{"name": "触电", "accident_type": "触电", "level": "low"}]},
    ],
}


def problems_of(exc_info) -> list[tuple]:
    return [(p["sheet"], p["row"], p["column"]) for p in exc_info.value.details]


def _set(path: str, value):
    def mutate(data):
        target = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()

JSON_CASES = {
    "unknown accident type": (_set("units.1.events.0.accident_type", "爆炸"),
                              "units[1].events[0]", "accident_type", "不在 GB 6441-1986 或 GB 6441-2025 中"),
    "LEC value outside the set": (_set("units.1.events.0.inputs.E", 5),
                                  "units[1].events[0]", "inputs.E", "10、6、3、2、1、0.5"),
    "missing LEC input": (_set("units.1.events.0.inputs.C", _DELETE), "units[1].events[0]", "inputs.C", "缺少输入 C"),
    "non-numeric input": (_set("units.1.events.0.inputs.L", "高"), "units[1].events[0]", "inputs.L", "不是数值"),
    "unknown parent": (_set("units.1.parent", "Z"), "units[1]", "parent", "上级单元 “Z” 不存在"),
    "duplicate unit id": (_set("units.3.id", "A"), "units[3]", "id", "单元编号 “A” 重复"),
    "duplicate event id": (_set("units.3.events.0.id", "E1"), "units[3].events[0]", "id", "风险事件编号 “E1” 重复"),
    "unknown kind": (_set("units.0.kind", "车间"), "units[0]", "kind", "无法识别的单元类型"),
    "bad date": (_set("units.1.last_assessed", "2025-02-30"), "units[1]", "last_assessed", "日期 “2025-02-30” 无效"),
    "bad level": (_set("units.3.events.0.level", "紫"), "units[3].events[0]", "level", "无法识别的风险等级"),
    "level disagrees with inputs": (_set("units.1.events.0.level", "重大风险"),
                                    "units[1].events[0]", "level", "与评价结果 “较大风险”"),
    "unknown method": (_set("units.1.events.0.method", "abc"), "units[1].events[0]", "method", "未知的评价准则配置"),
    "unknown direct rule": (_set("units.1.events.0.direct_rules", ["no-such-rule"]),
                            "units[1].events[0]", "direct_rules", "未知的直接判定规则"),
    "override without reason": (_set("units.0.override", {"level": "major"}), "units[0]", "override.reason", "理由"),
    "misspelt field": (_set("units.0.evnets", []), "units[0]", "evnets", "未知字段 “evnets”"),
    "geometry not lon/lat": (_set("units.0.geometry", {"type": "Point", "coordinates": [500000, 3500000]}),
                             "units[0]", "geometry", "不是经纬度"),
    "zero critical quantity": (_set("units.0.major_hazard", {"people_500m": 10, "substances": [
        {"name": "甲醇", "q": 1, "Q": 0, "category": "other"}]}), "units[0]", "major_hazard.substances[0].Q", "大于 0"),
    "unknown substance category": (_set("units.0.major_hazard", {"people_500m": 10, "substances": [
        {"name": "X", "q": 1, "Q": 5, "category": "magic"}]}), "units[0]", "major_hazard", "未知的危险化学品类别"),
    "negative weight": (_set("units.0.weight", -1), "units[0]", "weight", "权重不能为负"),
    "missing unit id": (_set("units.0.id", _DELETE), "units[0]", "id", "单元编号为空"),
    "event not an object": (_set("units.1.events.0", "泄漏"), "units[1].events[0]", "", "风险事件应为对象"),
    "unknown default profile": (_set("profile", "no-such-profile"), "$", "profile", "未知的评价准则配置"),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_gallery(case):
    mutate, row, column, text = JSON_CASES[case]
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(LedgerError) as exc:
        read_ledger_json(data)
    details = exc.value.details
    assert [(d["sheet"], d["row"], d["column"]) for d in details][:1] == [("JSON", row, column)], details
    assert text in details[0]["message"]
    assert exc.value.message.startswith(f"台账有 {len(details)} 处错误，未导入任何内容")


def test_json_parent_cycle_names_every_unit_in_it():
    data = copy.deepcopy(BASE)
    data["units"][0]["parent"] = "A2"
    with pytest.raises(LedgerError) as exc:
        read_ledger_json(data)
    assert problems_of(exc) == [("JSON", "units[0]", "parent"), ("JSON", "units[1]", "parent"),
                                ("JSON", "units[2]", "parent")]
    assert "A → A2 → A1 → A" in exc.value.details[0]["message"] or "循环" in exc.value.details[0]["message"]


def test_json_all_problems_in_one_pass_and_skip_bad_keeps_the_rest():
    data = copy.deepcopy(BASE)
    for case in ("unknown accident type", "bad date", "bad level", "misspelt field"):
        JSON_CASES[case][0](data)
    data["units"].append({"id": "C", "name": "孤儿", "parent": "nowhere", "events": []})
    data["units"].append({"id": "C1", "name": "孤儿之子", "parent": "C", "events": []})
    with pytest.raises(LedgerError) as exc:
        read_ledger_json(data)
    assert problems_of(exc) == [
        ("JSON", "units[0]", "evnets"), ("JSON", "units[1]", "last_assessed"),
        ("JSON", "units[1].events[0]", "accident_type"), ("JSON", "units[3].events[0]", "level"),
        ("JSON", "units[4]", "parent")]
    led = read_ledger_json(data, skip_bad=True)
    # bad units go with their descendants (A with the misspelt field takes A1 and A2; C takes C1);
    # a bad event goes alone (B keeps its unit, loses the bad event)
    assert [u.id for u in led.units] == ["B"]
    assert led.units[0].events == []
    assert led.problems == exc.value.details


def test_skip_bad_drops_only_the_bad_event():
    data = copy.deepcopy(BASE)
    data["units"][1]["events"].append({"name": "坏事件", "accident_type": "不存在的类型"})
    led = read_ledger_json(data, skip_bad=True)
    assert [u.id for u in led.units] == ["A", "A1", "A2", "B"]
    assert [ev.name for ev in led.units[1].events] == ["泄漏"]
    assert [(p["row"], p["column"]) for p in led.problems] == [("units[1].events[1]", "accident_type")]


# ------------------------------------------------------------------------------------ Excel gallery


def header_columns(ws, top: int, depth: int) -> dict[str, int]:
    def value(r: int, c: int):
        for rng in ws.merged_cells.ranges:
            if rng.min_row <= r <= rng.max_row and rng.min_col <= c <= rng.max_col:
                return ws.cell(row=rng.min_row, column=rng.min_col).value
        return ws.cell(row=r, column=c).value

    out = {}
    for c in range(1, ws.max_column + 1):
        parts = []
        for r in range(top, top + depth):
            v = value(r, c)
            if v is not None and (not parts or parts[-1] != v):
                parts.append(v)
        out["/".join(parts)] = c
    return out


@pytest.fixture(scope="module")
def rich_xlsx(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("rich") / "rich.xlsx"
    write_ledger_excel(read_ledger_json(RICH), path)
    return path.read_bytes()


B, C, U, E, S = "表B 风险评价表", "表C 分级管控表", "评估单元", "企业信息", "重大危险源物质"
_TOPS = {B: (2, 2), C: (2, 2), U: (1, 1), E: (1, 1), S: (1, 1)}


def edit(tmp_path: Path, data: bytes, changes: list[tuple[str, int, str, object]], name="bad.xlsx") -> Path:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for sheet, row, header, value in changes:
        ws = wb[sheet]
        cols = header_columns(ws, *_TOPS[sheet])
        ws.cell(row=row, column=cols[header], value=value)
    path = tmp_path / name
    wb.save(path)
    return path


EXCEL_CASES = {
    "unknown accident type": ([(B, 4, "事故类型", "爆炸")], [(B, 4, "事故类型")], "不在 GB 6441"),
    "LEC value outside the set": ([(B, 7, "风险评价/E", 5)], [(B, 7, "风险评价/E")], "10、6、3、2、1、0.5"),
    "bad level": ([(B, 10, "风险评价/风险等级", "紫色")], [(B, 10, "风险评价/风险等级")], "无法识别的风险等级"),
    "level disagrees": ([(B, 7, "风险评价/风险等级", "低风险")], [(B, 7, "风险评价/风险等级")], "不一致"),
    "stated score disagrees": ([(B, 7, "风险评价/风险值", 99)], [(B, 7, "风险评价/风险值")], "与 0.5 × 10 × 15 = 75"),
    "missing unit": ([(B, 7, "单元编号", "X999")], [(B, 7, "单元编号"), (C, 9, "事件编号")], "不在评估单元表中"),
    "formula without a cached value": ([(B, 7, "风险评价/L", "=1+2")], [(B, 7, "风险评价/L")], "公式"),
    "unknown kind": ([(U, 3, "单元类型", "车间")], [(U, 3, "单元类型")], "无法识别的单元类型"),
    "bad date": ([(U, 2, "最近评估日期", "2025-13-01")], [(U, 2, "最近评估日期")], "日期"),
    "unknown parent": ([(U, 7, "上级单元编号", "ZZ")], [(U, 7, "上级单元编号")], "不存在"),
    "duplicate unit id": ([(U, 8, "单元编号", "002"), (U, 8, "单元名称", "重复的办公楼")],
                          [(U, 8, "单元编号")], "重复"),
    "override without reason": ([(U, 7, "调整等级", "重大风险")], [(U, 7, "调整理由")], "理由"),
    "bad substance": ([(S, 2, "临界量 Q（t）", 0)], [(S, 2, "临界量 Q（t）")], "大于 0"),
    "unknown default method": ([(E, 7, "内容", "xyz")], [(E, 7, "默认评价方法")], "未知的评价准则配置"),
    "orphan row in 表C": ([(C, 12, "单元编号", "002"), (C, 12, "危险有害因素", "不存在的危险"),
                          (C, 12, "管控措施/措施内容", "某措施")], [(C, 12, "事件编号")], "找不到对应的风险事件"),
}


@pytest.mark.parametrize("case", sorted(EXCEL_CASES))
def test_excel_gallery(tmp_path, rich_xlsx, case):
    changes, expected, text = EXCEL_CASES[case]
    path = edit(tmp_path, rich_xlsx, changes)
    with pytest.raises(LedgerError) as exc:
        read_ledger_excel(path)
    assert problems_of(exc) == expected, exc.value.details
    assert text in exc.value.details[0]["message"]


def test_excel_cycle_reported_at_every_unit(tmp_path, rich_xlsx):
    path = edit(tmp_path, rich_xlsx, [(U, 2, "上级单元编号", "001-01-01")])
    with pytest.raises(LedgerError) as exc:
        read_ledger_excel(path)
    assert problems_of(exc) == [(U, 2, "上级单元编号"), (U, 3, "上级单元编号"), (U, 4, "上级单元编号")]
    assert all("循环" in p["message"] for p in exc.value.details)


def test_excel_every_bad_cell_in_one_pass_then_skip_bad(tmp_path, rich_xlsx):
    changes = [(B, 4, "事故类型", "爆炸"), (B, 7, "风险评价/E", 5), (B, 10, "风险评价/风险等级", "紫色"),
               (U, 6, "单元类型", "车间")]
    path = edit(tmp_path, rich_xlsx, changes)
    with pytest.raises(LedgerError) as exc:
        read_ledger_excel(path)
    assert problems_of(exc) == [(U, 6, "单元类型"), (B, 4, "事故类型"), (B, 7, "风险评价/E"),
                                (B, 10, "风险评价/风险等级")]
    assert exc.value.message.startswith("台账有 4 处错误")
    led = read_ledger_excel(path, skip_bad=True)
    assert led.problems == exc.value.details
    ids = [u.id for u in led.units]
    assert "001-02" not in ids and len(ids) == 5                      # the unit with the bad kind
    events = {u.id: [ev.name for ev in u.events] for u in led.units}
    assert events["001-01"] == ["罐顶作业高处坠落", "装卸车辆伤害"]       # the leak (bad accident type) dropped
    assert events["001-01-01"] == []                                    # E outside the set
    assert events["002"] == ["滑倒"]                                     # bad level


def test_sheet_without_unit_column_is_reported(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "清单"
    ws.append(["危险源", "事故类型", "风险等级"])
    ws.append(["泄漏", "火灾", "一般风险"])
    path = tmp_path / "nounit.xlsx"
    wb.save(path)
    with pytest.raises(LedgerError) as exc:
        read_ledger_excel(path)
    assert problems_of(exc) == [("清单", 1, "")]
    assert "评估单元列" in exc.value.details[0]["message"]


# --------------------------------------------------------------------------------------- hostile files


def _fatal(path) -> str:
    with pytest.raises(LedgerError) as exc:
        read_ledger(path)
    assert len(exc.value.details) == 1
    return exc.value.message


def test_text_file_renamed_xlsx(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("单元,危险源\n罐区,泄漏\n", encoding="utf-8")
    assert "不是有效的 Excel 工作簿" in _fatal(path)


def test_empty_and_truncated_files(tmp_path, rich_xlsx):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert "不是有效的 Excel" in _fatal(empty)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(rich_xlsx[: len(rich_xlsx) // 2])
    assert "Excel" in _fatal(cut)


def test_legacy_xls_and_encrypted_workbooks(tmp_path):
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert ".xls" in _fatal(path)
    assert "另存为 .xlsx" in _fatal(tmp_path / "x.xls")


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "不是 Excel 工作簿" in _fatal(path)


def test_corrupt_workbook_part(tmp_path, rich_xlsx):
    src = zipfile.ZipFile(io.BytesIO(rich_xlsx))
    path = tmp_path / "corrupt.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            data = src.read(info.filename)
            zf.writestr(info.filename, b"<not xml" if info.filename == "xl/workbook.xml" else data)
    assert "Excel" in _fatal(path)


def test_zip_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b"\0" * (40 * 2**20))
    assert "压缩炸弹" in _fatal(path)


def test_entity_expansion_is_refused(tmp_path, rich_xlsx):
    """A billion-laughs DTD in a sheet never expands."""
    src = zipfile.ZipFile(io.BytesIO(rich_xlsx))
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{"&lol" + (str(i - 1) if i > 1 else "") + ";" * 1}' * 10 + '">'
                        for i in range(1, 10))
              + ']><worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
              "</sheetData></worksheet>")
    path = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            data = src.read(info.filename)
            zf.writestr(info.filename, laughs if info.filename == "xl/worksheets/sheet4.xml" else data)
    assert "DTD" in _fatal(path)


def test_too_many_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_read, "MAX_ROWS", 100)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["评估单元", "危险源", "事故类型"])
    for i in range(150):
        ws.append([f"单元{i}", "泄漏", "火灾"])
    path = tmp_path / "big.xlsx"
    wb.save(path)
    assert "超过 100 行" in _fatal(path)


def test_too_many_merged_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_read, "MAX_MERGED_CELLS", 1000)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["评估单元", "危险源", "事故类型"])
    for r in range(2, 102):
        ws.cell(row=r, column=27, value="x")          # data beyond the merged block keeps the rows
    ws.merge_cells("A2:Z101")
    path = tmp_path / "merges.xlsx"
    wb.save(path)
    assert "合并单元格过多" in _fatal(path)


def test_a_merge_over_the_whole_sheet_is_clamped_to_the_data(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["评估单元", "危险源", "事故类型", "风险等级"])
    ws.append(["罐区", "泄漏", "火灾", "一般风险"])
    path = tmp_path / "huge-merge.xlsx"
    wb.save(path)
    # merges as a hostile file states them (openpyxl itself would build every merged cell in memory)
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    merges = '<mergeCells count="2"><mergeCell ref="F10:XFD1048576"/><mergeCell ref="E2:XFD1048576"/></mergeCells>'
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("</sheetData>", "</sheetData>" + merges).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    led = read_ledger_excel(path)
    assert [ev.hazard_factor for ev in led.events()] == ["泄漏"]


def test_workbook_without_any_ledger_sheet(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "电话"])
    path = tmp_path / "phones.xlsx"
    wb.save(path)
    assert "未找到评估单元表或表B/表C" in _fatal(path)


@pytest.mark.parametrize("text, expected", [
    ("[1, 2, 3]", "JSON 台账应为对象"),
    ('"units"', "JSON 台账应为对象"),
    ('{"units": [}', "不是有效的 JSON"),
    ('{"units": [], "x": NaN}', "不允许 NaN"),
    ("[" * 100_000 + "]" * 100_000, "嵌套"),
    ('{"units": [{"id": "A", "name": "a", "events": [' + '{"a":' * 200 + "1" + "}" * 200 + "]}]}",
     "嵌套层数超过"),
])
def test_hostile_json(tmp_path, text, expected):
    path = tmp_path / "h.json"
    path.write_text(text, encoding="utf-8")
    assert expected in _fatal(path)


def test_json_not_utf8_and_too_large(tmp_path, monkeypatch):
    path = tmp_path / "gbk.json"
    path.write_bytes(json.dumps(BASE, ensure_ascii=False).encode("gbk"))
    assert "不是 UTF-8" in _fatal(path)
    monkeypatch.setattr(ledger_model, "MAX_JSON_BYTES", 100)
    from riskmap.ledger import jsonio

    monkeypatch.setattr(jsonio, "MAX_JSON_BYTES", 100)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(BASE), encoding="utf-8")
    assert "过大" in _fatal(big)


def test_unknown_extension_and_missing_file(tmp_path):
    assert "无法识别的台账文件类型" in _fatal(tmp_path / "ledger.csv")
    assert "无法读取" in _fatal(tmp_path / "missing.json")
    assert "无法读取" in _fatal(tmp_path / "missing.xlsx")


# ---------------------------------------------------------------------------------------------- CLI


def _app():
    from riskmap.cli import app

    return app


def test_cli_reports_every_problem_and_imports_nothing(tmp_path, rich_xlsx):
    pytest.importorskip("riskmap.store.repository", reason="the store is not there yet")
    from riskmap.store import open_store

    path = edit(tmp_path, rich_xlsx, [(B, 4, "事故类型", "爆炸"), (U, 6, "单元类型", "车间")])
    db = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(_app(), ["import-ledger", str(path), "--db", db])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)                      # no traceback
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("评估单元 行 6 列 单元类型: 无法识别的单元类型")
    assert lines[1].startswith("表B 风险评价表 行 4 列 事故类型: 事故类型 “爆炸”")
    assert lines[2].startswith("错误 / error: 台账有 2 处错误，未导入任何内容")
    store = open_store(db)
    try:
        assert store.ledger_info("示范化工有限公司") is None
    finally:
        store.close()


def test_cli_skip_bad_imports_the_rest_and_still_fails(tmp_path, rich_xlsx):
    pytest.importorskip("riskmap.store.repository", reason="the store is not there yet")
    from riskmap.store import open_store

    path = edit(tmp_path, rich_xlsx, [(B, 4, "事故类型", "爆炸")])
    db = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(_app(), ["import-ledger", str(path), "--db", db, "--skip-bad", "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["units"] == 6 and summary["events"] == 7
    assert [(p["sheet"], p["row"], p["column"]) for p in summary["problems"]] == [(B, 4, "事故类型")]
    assert "表B 风险评价表 行 4 列 事故类型:" in result.stderr
    store = open_store(db)
    try:
        assert sum(len(u.events) for u in store.units("示范化工有限公司")) == 7
    finally:
        store.close()


def test_cli_hostile_and_missing_files_fail_in_one_line(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    for target in (fake, tmp_path / "missing.json"):
        result = CliRunner().invoke(_app(), ["import-ledger", str(target), "--db", db])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("错误 / error:")


def test_cli_export_without_a_ledger(tmp_path):
    pytest.importorskip("riskmap.store.repository", reason="the store is not there yet")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    result = CliRunner().invoke(_app(), ["export-ledger", str(tmp_path / "o.xlsx"), "--db", db])
    assert result.exit_code == 1
    assert "错误 / error:" in result.stderr
