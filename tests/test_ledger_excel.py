"""Excel ledgers as enterprises keep them (表B/表C with merged multi-row headers, merged unit cells, shuffled
columns, header variants, formulas), riskmap's own export layout, and the template with its drop-downs."""

from __future__ import annotations

import json
import random
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from riskmap.criteria import assess_units
from riskmap.domain import UnitKind
from riskmap.ledger import (
    ledger_to_dict,
    read_ledger,
    read_ledger_excel,
    read_ledger_json,
    write_ledger_excel,
    write_template,
)
from riskmap.levels import Level
from riskmap.reference import ACCIDENT_TYPES_1986, ACCIDENT_TYPES_2025

RICH = Path(__file__).parent / "fixtures" / "ledger" / "rich.json"


def merge(ws, ref: str, value=None) -> None:
    first = ref.split(":")[0]
    if value is not None:
        ws[first] = value
    ws.merge_cells(ref)


def put_row(ws, row: int, values: list) -> None:
    for c, v in enumerate(values, start=1):
        if v is not None:
            ws.cell(row=row, column=c, value=v)


def header_columns(ws, top: int) -> dict[str, int]:
    """{"group/child" or "name": column} of a two-row header, reading merged cells as their top-left value."""
    def value(r: int, c: int):
        for rng in ws.merged_cells.ranges:
            if rng.min_row <= r <= rng.max_row and rng.min_col <= c <= rng.max_col:
                return ws.cell(row=rng.min_row, column=rng.min_col).value
        return ws.cell(row=r, column=c).value

    out = {}
    for c in range(1, ws.max_column + 1):
        first, second = value(top, c), value(top + 1, c)
        out[first if second == first else f"{first}/{second}"] = c
    return out


def inject_cached_values(path: Path, member: str, values: dict[str, object]) -> None:
    """Give formula cells the values Excel caches when it saves (openpyxl writes formulas without them)."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    xml = parts[member].decode("utf-8")
    for ref, value in values.items():
        pattern = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/>')
        kind = ' t="str"' if isinstance(value, str) else ""
        xml, n = pattern.subn(lambda m, r=ref, v=value, k=kind: f'<c r="{r}"{m.group(1)}{k}><f>{m.group(2)}</f>'
                              f"<v>{v}</v>", xml)
        assert n == 1, ref
    parts[member] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


# ------------------------------------------------------------------------ an enterprise 表B, merged


def enterprise_table_b(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "作业活动风险评价"
    merge(ws, "A1:R1", "某化工企业作业活动风险评价及分级管控清单")
    for col, text in zip("ABCDIJPQR", ("序号", "风险点名称", "危险源", "可能导致的事故类型", "风险级别",
                                       "现有控制措施", "管控层级", "责任部门", "管控责任人"), strict=True):
        merge(ws, f"{col}2:{col}3", text)
    merge(ws, "E2:H2", "风险评价")
    for col, text in zip("EFGH", ("可能性L", "暴露频繁程度E", "后果C", "风险值D"), strict=True):
        ws[f"{col}3"] = text
    merge(ws, "K2:O2", "管控措施")
    for col, text in zip("KLMNO", ("工程技术", "管理", "培训教育", "个体防护", "应急处置"), strict=True):
        ws[f"{col}3"] = text
    merge(ws, "A4:R4", "一、储运区域")                                    # a section heading row
    put_row(ws, 5, [1, "液氨罐区", "液氨储罐泄漏", "中毒和窒息、火灾", 3, 6, 40, 720, "重大风险", "氨气报警",
                    "设置氨气报警仪", "巡检制度", "三级安全教育", "佩戴防毒面具", "启动应急预案", "公司级",
                    "安环部", "张三"])
    put_row(ws, 6, [None, None, "罐顶检尺作业", "高处坠落", 1, 3, 15, 45, "蓝", None, None, "作业票", None, "安全带",
                    None, "岗位级", "储运部", "李四"])
    merge(ws, "A5:A6")
    merge(ws, "B5:B6")
    put_row(ws, 7, [2, "配电室", "带电设备", "触电", 1, 6, 15, 90, "一般风险", None, "绝缘防护", None, None, None,
                    None, "班组级", "电气车间", "王五"])
    put_row(ws, 8, [None, None, "电缆老化", "火灾", 0.5, 6, 15, 45, "低风险", None, None, "定期检测"])
    merge(ws, "A7:A8")
    merge(ws, "B7:B8")
    wb.save(path)


def test_enterprise_table_b_with_merged_headers_and_cells(tmp_path):
    path = tmp_path / "表B.xlsx"
    enterprise_table_b(path)
    led = read_ledger_excel(path)
    assert [(u.id, u.name, u.kind, u.parent_id) for u in led.units] == [
        ("U01", "液氨罐区", UnitKind.POST, None), ("U02", "配电室", UnitKind.POST, None)]
    tank, room = led.units
    assert [ev.hazard_factor for ev in tank.events] == ["液氨储罐泄漏", "罐顶检尺作业"]
    assert [ev.id for ev in tank.events] == ["U01-E01", "U01-E02"]          # generated, deterministic
    leak = tank.events[0]
    assert leak.accident_type == "中毒和窒息、火灾" and leak.accident_type_2025 == "中毒、火灾"
    assert leak.inputs == {"L": 3, "E": 6, "C": 40}
    assert leak.residual_level is None                                     # 重大风险 agrees with D = 720
    assert leak.existing_measures == "氨气报警"
    assert [(c.cls, c.description, c.tier, c.department, c.person) for c in leak.controls] == [
        ("工程技术", "设置氨气报警仪", "company", "安环部", "张三"),
        ("管理", "巡检制度", "company", "安环部", "张三"),
        ("培训教育", "三级安全教育", "company", "安环部", "张三"),
        ("个体防护", "佩戴防毒面具", "company", "安环部", "张三"),
        ("应急处置", "启动应急预案", "company", "安环部", "张三")]
    assert [c.cls for c in tank.events[1].controls] == ["管理", "个体防护"]
    assert [ev.inputs["L"] for ev in room.events] == [1, 0.5]
    assert room.events[1].controls[0].department is None                   # the row names no department
    assess_units(led.units, default_profile=led.profile)
    assert [ev.level() for ev in tank.events + room.events] == [Level.MAJOR, Level.LOW, Level.GENERAL, Level.LOW]


FIELDS = ("unit", "hazard", "accident", "L", "E", "C", "D", "level", "department", "person", "control")
VARIANTS = {
    "plain": ("评估单元", "危险有害因素", "事故类型", "L", "E", "C", "D", "风险等级", "责任部门", "责任人", "管控措施"),
    "words": ("风险点", "危险源", "可能导致的事故类型", "可能性", "暴露频繁程度", "后果", "风险值", "风险级别",
              "管控部门", "管控责任人", "控制措施"),
    "mixed": ("风险点名称", "危险因素", "事故类别", "可能性（L）", "暴露频率 E", "后果严重程度(C)", "风险值D",
              "风险分级", "责任单位", "负责人", "风险管控措施"),
    "spaced": ("评 估 单 元", "危险有害因素\n", "可能发生的事故类型", "发生的可能性", "暴露于危险环境的频繁程度",
               "后果严重性", "风险度", "等级", "主管部门", "责任人员", "主要管控措施"),
}
ROWS = [
    ("反应釜区", "反应釜超压", "容器爆炸", 3, 6, 15, 270, "较大风险", "生产部", "赵六", "安全阀定期校验"),
    ("反应釜区", "物料泄漏", "中毒和窒息", 1, 6, 7, 42, "低风险", "生产部", "赵六", "设置泄漏报警"),
    ("仓库", "叉车作业", "车辆伤害", 3, 3, 7, 63, "低风险", "仓储部", "钱七", "限速 5 km/h"),
    ("仓库", "货物堆垛倒塌", "物体打击", 6, 3, 7, 126, "一般风险", "仓储部", "钱七", "堆高不超过 2 m"),
]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("seed", [1, 2])
def test_header_variants_in_any_column_order(tmp_path, variant, seed):
    order = list(range(len(FIELDS)))
    random.Random(seed).shuffle(order)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "风险清单"
    put_row(ws, 1, [VARIANTS[variant][i] for i in order])
    for r, row in enumerate(ROWS, start=2):
        put_row(ws, r, [row[i] for i in order])
    path = tmp_path / f"{variant}-{seed}.xlsx"
    wb.save(path)
    led = read_ledger_excel(path)
    assert [(u.id, u.name) for u in led.units] == [("U01", "反应釜区"), ("U02", "仓库")]
    events = led.events()
    assert [(ev.hazard_factor, ev.accident_type, ev.inputs) for ev in events] == [
        (r[1], r[2], {"L": r[3], "E": r[4], "C": r[5]}) for r in ROWS]
    assert [(c.description, c.department, c.person) for ev in events for c in ev.controls] == [
        (r[10], r[8], r[9]) for r in ROWS]
    baseline = ledger_to_dict(read_ledger_excel(_variant_file(tmp_path)))
    assert ledger_to_dict(led) == baseline


def _variant_file(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    put_row(ws, 1, list(VARIANTS["plain"]))
    for r, row in enumerate(ROWS, start=2):
        put_row(ws, r, list(row))
    path = tmp_path / "baseline.xlsx"
    wb.save(path)
    return path


def test_ls_sheet_is_read_as_the_risk_matrix(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    put_row(ws, 1, ["风险点", "危险源", "事故类型", "可能性", "严重性", "风险值", "风险等级"])
    put_row(ws, 2, ["锅炉房", "锅炉超压", "锅炉爆炸", 4, 5, 20, "重大风险"])
    put_row(ws, 3, ["锅炉房", "高温管道", "灼烫", 2, 3, 6, "低风险"])
    # the five severity dimensions under a merged 严重性 header (S is their maximum)
    ws2 = wb.create_sheet("风险矩阵")
    for col, text in zip("ABC", ("风险点", "危险源", "可能性"), strict=True):
        merge(ws2, f"{col}1:{col}2", text)
    merge(ws2, "D1:H1", "严重性(S)")
    for col, text in zip("DEFGH", ("法律法规", "人员伤亡", "直接经济损失", "停工", "企业形象"), strict=True):
        ws2[f"{col}2"] = text
    merge(ws2, "I1:I2", "风险等级")
    put_row(ws2, 3, ["空压站", "储气罐超压", 3, 1, 4, 3, 2, 1, "一般风险"])
    path = tmp_path / "ls.xlsx"
    wb.save(path)
    led = read_ledger_excel(path)
    boiler, air = led.units
    assert [ev.method for ev in boiler.events] == ["ls", "ls"]
    assert boiler.events[0].inputs == {"L": 4, "S": 5}
    assert air.events[0].inputs == {"L": 3, "S1": 1, "S2": 4, "S3": 3, "S4": 2, "S5": 1}
    assess_units(led.units, default_profile=led.profile)
    assert [ev.level() for ev in led.events()] == [Level.MAJOR, Level.LOW, Level.GENERAL]
    assert air.events[0].residual.score == Decimal(12)


def test_unit_hierarchy_columns_and_blank_cells_meaning_as_above(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    put_row(ws, 1, ["区域", "车间", "岗位", "单元类型", "危险有害因素", "事故类型", "风险等级", "评估日期"])
    put_row(ws, 2, ["生产区", "合成车间", "合成操作岗", None, "高温高压", "灼烫", "一般风险", "2025-01-05"])
    put_row(ws, 3, [None, None, None, None, "噪声", "其他伤害", "低风险"])          # blank: as above
    put_row(ws, 4, ["生产区", "精馏车间", "精馏塔", "设备设施", "塔釜泄漏", "火灾", "较大风险"])
    put_row(ws, 5, ["公用工程区", "循环水站", "巡检岗", None, "淹溺", "淹溺", "低风险"])
    path = tmp_path / "tree.xlsx"
    wb.save(path)
    led = read_ledger_excel(path)
    got = [(u.id, u.name, u.kind, u.parent_id, len(u.events)) for u in led.units]
    assert got == [
        ("U01", "生产区", UnitKind.MAIN, None, 0),
        ("U01-01", "合成车间", UnitKind.SUB, "U01", 0),
        ("U01-01-01", "合成操作岗", UnitKind.POST, "U01-01", 2),
        ("U01-02", "精馏车间", UnitKind.SUB, "U01", 0),
        ("U01-02-01", "精馏塔", UnitKind.EQUIPMENT, "U01-02", 1),
        ("U02", "公用工程区", UnitKind.MAIN, None, 0),
        ("U02-01", "循环水站", UnitKind.SUB, "U02", 0),
        ("U02-01-01", "巡检岗", UnitKind.POST, "U02-01", 1),
    ]
    post = led.units[2]
    assert post.last_assessed.isoformat() == "2025-01-05"
    assert [ev.residual_level for ev in post.events] == [Level.GENERAL, Level.LOW]


def test_table_c_with_merged_hazard_over_several_measures(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "表C 分级管控"
    merge(ws, "A1:G1", "风险分级管控清单")
    put_row(ws, 2, ["序号", "风险点", "危险有害因素", "风险等级", "管控措施", "责任部门", "责任人"])
    put_row(ws, 3, [1, "危化品仓库", "危化品混存", "较大风险", "分区分类存放", "仓储部", "孙八"])
    put_row(ws, 4, [None, None, None, None, "每日检查温湿度", "仓储部", "周九"])
    put_row(ws, 5, [None, None, None, None, "配备防爆通风", "设备部", "吴十"])
    for col in "ABCD":
        merge(ws, f"{col}3:{col}5")
    put_row(ws, 6, [2, "危化品仓库", "搬运跌落", "低风险", "使用专用推车"])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    led = read_ledger_excel(path)
    (store,) = led.units
    assert [ev.hazard_factor for ev in store.events] == ["危化品混存", "搬运跌落"]
    mixed = store.events[0]
    assert mixed.residual_level is Level.SIGNIFICANT
    assert [(c.description, c.department, c.person) for c in mixed.controls] == [
        ("分区分类存放", "仓储部", "孙八"), ("每日检查温湿度", "仓储部", "周九"), ("配备防爆通风", "设备部", "吴十")]
    assert [c.description for c in store.events[1].controls] == ["使用专用推车"]


def test_table_b_and_table_c_are_matched_by_unit_and_hazard(tmp_path):
    wb = openpyxl.Workbook()
    b = wb.active
    b.title = "表B"
    put_row(b, 1, ["风险点", "危险源", "事故类型", "L", "E", "C", "风险等级"])
    put_row(b, 2, ["装卸站", "槽车静电", "火灾", 3, 6, 15, "较大风险"])
    put_row(b, 3, ["装卸站", "鹤管脱落", "物体打击", 1, 6, 3, "低风险"])
    c = wb.create_sheet("表C")
    put_row(c, 1, ["风险点", "危险源", "风险等级", "管控措施", "管控层级", "责任部门", "责任人"])
    put_row(c, 2, ["装卸站", "鹤管脱落", "低风险", "鹤管定期检查", "岗位级", "储运部", "郑一"])
    put_row(c, 3, ["装卸站", "槽车静电", "较大风险", "静电接地报警", "部门级", "储运部", "郑二"])
    put_row(c, 4, [None, None, None, "装卸前静置 15 分钟"])                     # as above, measure only
    path = tmp_path / "bc.xlsx"
    wb.save(path)
    led = read_ledger_excel(path)
    static, arm = led.units[0].events
    assert [(x.description, x.tier, x.person) for x in static.controls] == [
        ("静电接地报警", "department", "郑二"), ("装卸前静置 15 分钟", None, None)]
    assert [x.description for x in arm.controls] == ["鹤管定期检查"]


def test_formula_cells_use_the_values_excel_cached(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    put_row(ws, 1, ["评估单元", "危险源", "L", "E", "C", "D", "风险等级"])
    put_row(ws, 2, ["泵房", "机泵泄漏", "=1+2", 6, 15, "=C2*D2*E2", "较大风险"])
    put_row(ws, 3, ["泵房", "联轴器", 0.1, 3, 100, "=C3*D3*E3", "低风险"])
    path = tmp_path / "formulas.xlsx"
    wb.save(path)
    # Excel caches floating products such as 0.1·3·100 = 30.000000000000004; it must still count as 30
    inject_cached_values(path, "xl/worksheets/sheet1.xml", {"C2": 3, "F2": 270, "F3": 30.000000000000004})
    led = read_ledger_excel(path)
    pump, coupling = led.events()
    assert pump.inputs == {"L": 3, "E": 6, "C": 15}
    assert coupling.inputs == {"L": 0.1, "E": 3, "C": 100}


def test_xlsm_is_read_like_xlsx(tmp_path):
    xlsx = tmp_path / "rich.xlsx"
    write_ledger_excel(read_ledger_json(RICH), xlsx)
    xlsm = tmp_path / "rich.xlsm"
    xlsm.write_bytes(xlsx.read_bytes())
    assert ledger_to_dict(read_ledger(xlsm)) == ledger_to_dict(read_ledger_json(RICH))


# ----------------------------------------------------------------------------------- our own export


def test_export_layout_is_what_enterprises_keep(tmp_path):
    led = read_ledger_json(RICH)
    assess_units(led.units, default_profile=led.profile)
    path = tmp_path / "export.xlsx"
    write_ledger_excel(led, path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:5] == ["说明", "企业信息", "评估单元", "表B 风险评价表", "表C 分级管控表"]
    b = wb["表B 风险评价表"]
    merged = {str(r) for r in b.merged_cells.ranges}
    headers = {b.cell(row=2, column=c).value: c for c in range(1, b.max_column + 1)}
    group = headers["风险评价"]
    children = [b.cell(row=3, column=c).value for c in range(group, group + 10)]
    assert children == ["L", "E", "C", "S1", "S2", "S3", "S4", "S5", "风险值", "风险等级"]
    assert any(r.startswith(openpyxl.utils.get_column_letter(group) + "2:") for r in merged)   # group spans
    assert "A2:A3" in merged                                                                 # 序号 header
    unit_col = openpyxl.utils.get_column_letter(headers["评估单元"])
    assert f"{unit_col}4:{unit_col}6" in merged                    # the tank farm's three events, one cell
    first_event = {key.removeprefix("风险评价/"): b.cell(row=4, column=c) for key, c in header_columns(b, 2).items()}
    assert first_event["风险值"].value == 720
    assert first_event["风险等级"].value == "重大风险"
    assert first_event["风险等级"].fill.fgColor.rgb.endswith("FF0000")
    office = [b.cell(row=r, column=headers["评估单元"]).value for r in range(4, b.max_row + 1)].index("办公楼") + 4
    low = b.cell(row=office, column=first_event["风险等级"].column)
    assert low.value == "低风险" and low.fill.fgColor.rgb.endswith("0070C0")     # blue, never green
    c = wb["表C 分级管控表"]
    cm = {str(r) for r in c.merged_cells.ranges}
    assert "E4:E6" in cm                       # the leak event over its three control rows
    assert [c.cell(row=r, column=9).value for r in (4, 5, 6)] == [
        "设置可燃气体检测报警仪并与紧急切断阀联锁", "每班巡检罐区", "=严禁烟火（以等号开头的文字）"]
    assert c.cell(row=6, column=9).data_type == "s"                      # text, not a formula


# ------------------------------------------------------------------------------------------ template


def test_template_has_instructions_and_drop_downs(tmp_path):
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "企业信息", "评估单元", "表B 风险评价表", "表C 分级管控表", "重大危险源物质",
                             "代码表"]
    text = "\n".join(str(c.value) for c in wb["说明"]["A"] if c.value)
    for phrase in ("风险分级管控台账", "D = L × E × C", "GB 6441-1986", "低风险为蓝色"):
        assert phrase in text
    codes = wb["代码表"]
    lists = {codes.cell(row=1, column=c).value: [codes.cell(row=r, column=c).value
                                                 for r in range(2, codes.max_row + 1)
                                                 if codes.cell(row=r, column=c).value is not None]
             for c in range(1, codes.max_column + 1)}
    assert lists["风险等级"] == ["重大风险", "较大风险", "一般风险", "低风险"]
    assert set(ACCIDENT_TYPES_1986) | set(ACCIDENT_TYPES_2025) == set(lists["事故类型（GB 6441-1986 与 2025）"])
    assert lists["E 暴露频繁程度"] == ["10", "6", "3", "2", "1", "0.5"]
    assert lists["C 后果"] == ["100", "40", "15", "7", "3", "1"]
    assert {"10", "6", "3", "1", "0.5", "0.2", "0.1"} <= set(lists["L 可能性"])
    assert {"lec", "lec-upper-inclusive", "ls"} <= set(lists["评价方法"])
    assert lists["单元类型"] == ["主单元", "分单元", "子单元", "岗位", "设备设施", "作业活动"]

    b = wb["表B 风险评价表"]
    headers = {k: openpyxl.utils.get_column_letter(c) for k, c in header_columns(b, 2).items()}
    by_target = {}
    for dv in b.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            by_target[rng.split(":")[0]] = dv
    column_of_list = {codes.cell(row=1, column=c).value: openpyxl.utils.get_column_letter(c)
                      for c in range(1, codes.max_column + 1)}
    for header, list_title in (("风险评价/L", "L 可能性"), ("风险评价/E", "E 暴露频繁程度"),
                               ("风险评价/C", "C 后果"), ("风险评价/风险等级", "风险等级"),
                               ("事故类型", "事故类型（GB 6441-1986 与 2025）")):
        dv = by_target[f"{headers[header]}4"]
        assert dv.type == "list"
        assert dv.formula1.startswith(f"'代码表'!${column_of_list[list_title]}$2")
    assert by_target[f"{headers['风险评价/E']}4"].errorStyle == "stop"
    assert by_target[f"{headers['事故类型']}4"].errorStyle == "warning"     # several types may be listed
    units = wb["评估单元"]
    assert any(str(dv.sqref).startswith("C2") and dv.type == "list" for dv in units.data_validations.dataValidation)
    assert any(dv.type == "date" for dv in units.data_validations.dataValidation)


def test_filled_template_imports(tmp_path):
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    ent = wb["企业信息"]
    ent["B2"] = "模板填报企业"
    ent["B6"] = 119
    units = wb["评估单元"]
    put_row(units, 2, ["A", "生产区", "主单元"])
    put_row(units, 3, ["A-1", "聚合釜", "设备设施", "A", "R-101", None, 3])
    b = wb["表B 风险评价表"]
    cols = header_columns(b, 2)
    values = {"单元编号": "A-1", "风险事件": "聚合釜超温", "危险有害因素": "冷却水中断", "事故类型": "容器爆炸",
              "风险评价/L": 3, "风险评价/E": 6, "风险评价/C": 40, "固有风险评价/L": 6, "固有风险评价/E": 6,
              "固有风险评价/C": 40, "直接判定": "涉及重大危险源"}
    for key, value in values.items():
        b.cell(row=4, column=cols[key], value=value)
    c = wb["表C 分级管控表"]
    put_row(c, 4, [1, "A-1", None, None, "聚合釜超温", "冷却水中断", None, None, "设置超温联锁", "1-4", "公司(厂)级",
                   "生产部", "冯工"])
    wb.save(path)
    led = read_ledger(path)
    assert led.enterprise.name == "模板填报企业" and led.enterprise.emergency_phone == "119"
    assert [(u.id, u.kind, u.parent_id, u.feature_ref) for u in led.units] == [
        ("A", UnitKind.MAIN, None, None), ("A-1", UnitKind.EQUIPMENT, "A", "R-101")]
    assert led.units[1].weight == 3
    (ev,) = led.units[1].events
    assert ev.inputs == {"L": 3, "E": 6, "C": 40} and ev.inherent_inputs == {"L": 6, "E": 6, "C": 40}
    assert ev.direct_rules == ["major-hazard-installation"]
    assert [(x.description, x.cls, x.tier) for x in ev.controls] == [("设置超温联锁", "1-4", "company")]
    assess_units(led.units, default_profile=led.profile)
    assert ev.level() is Level.MAJOR and ev.residual.score == Decimal(720)
    assert json.dumps(ledger_to_dict(led), ensure_ascii=False)


# ------------------------------------------------------------- a workbook as Excel itself writes one


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def excel_style_package(path: Path, *, date1904: bool = False) -> None:
    """Shared strings (one with rich-text runs and a phonetic run), dates by number format, a cached
    formula, a prefixed namespace and cells without an `r` attribute: what Excel and WPS write."""
    strings = ["评估单元", None, "事故类型", "风险等级", "评估日期", "罐区", "储罐泄漏", "火灾", "较大风险", "L", "E",
               "C", "D"]
    si = []
    for s in strings:
        if s is None:   # 危险有害因素 in two runs, with a phonetic guide that is not part of the text
            si.append("<si><r><t>危险</t></r><r><rPr><b/></rPr><t>有害因素</t></r><rPh sb=\"0\" eb=\"2\"><t>きけん</t>"
                      "</rPh></si>")
        else:
            si.append(f"<si><t>{s}</t></si>")
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                               'content-types"/>',
        "_rels/.rels": f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
                       'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {_NS} {_RNS}><workbookPr date1904="{int(date1904)}"/><sheets>'
                           '<sheet name="风险评价表" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="/xl/sharedStrings.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
        "xl/sharedStrings.xml": f'<sst {_NS} count="{len(si)}" uniqueCount="{len(si)}">{"".join(si)}</sst>',
        "xl/styles.xml": f'<styleSheet {_NS}><numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy/m/d"/>'
                         '</numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="176"/><xf numFmtId="14"/>'
                         "</cellXfs></styleSheet>",
        "xl/worksheets/sheet1.xml": (
            '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
            '<x:row r="1"><x:c t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c><x:c t="s"><x:v>2</x:v></x:c>'
            '<x:c t="s"><x:v>9</x:v></x:c><x:c t="s"><x:v>10</x:v></x:c><x:c t="s"><x:v>11</x:v></x:c>'
            '<x:c t="s"><x:v>12</x:v></x:c><x:c t="s"><x:v>3</x:v></x:c><x:c t="s"><x:v>4</x:v></x:c></x:row>'
            '<x:row r="2"><x:c r="A2" t="s"><x:v>5</x:v></x:c><x:c r="B2" t="s"><x:v>6</x:v></x:c>'
            '<x:c r="C2" t="s"><x:v>7</x:v></x:c><x:c r="D2"><x:v>3</x:v></x:c><x:c r="E2"><x:v>6</x:v></x:c>'
            '<x:c r="F2"><x:v>15</x:v></x:c><x:c r="G2"><x:f>D2*E2*F2</x:f><x:v>270</x:v></x:c>'
            '<x:c r="H2" t="s"><x:v>8</x:v></x:c><x:c r="I2" s="1"><x:v>45658</x:v></x:c></x:row>'
            "</x:sheetData></x:worksheet>"),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)


@pytest.mark.parametrize("date1904", [False, True])
def test_excel_style_package(tmp_path, date1904):
    from datetime import date, timedelta

    path = tmp_path / "excel.xlsx"
    excel_style_package(path, date1904=date1904)
    led = read_ledger_excel(path)
    (unit,) = led.units
    (ev,) = unit.events
    assert unit.name == "罐区"
    assert ev.hazard_factor == "储罐泄漏"                      # rich runs joined, phonetic guide left out
    assert ev.inputs == {"L": 3, "E": 6, "C": 15}
    expected = date(2025, 1, 1) if not date1904 else date(1904, 1, 1) + timedelta(days=45658)
    assert unit.last_assessed == expected                    # a number shown as a date is a date
