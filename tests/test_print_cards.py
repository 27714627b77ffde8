"""Risk notice cards (告知卡, 表E): posts get the 岗位风险告知卡 with 作业内容, equipment the 设备设施风险告知卡 with
its own fields; protective equipment (4-2) and GB 2894 signs by name; body text 8 pt or more measured in the PDF,
the per-sheet count chosen for it or refused; QR codes of the short link decoded and checked against the address
the card prints; a loopback address warned about."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest
from printkit import HOSTILE, assert_fonts_embedded, decode_qr, demo_url, pdf_pages, pdf_words, pdftotext, run_cli
from printkit import box_height_per_pt as _k

from riskmap.domain import ControlMeasure, RiskEvent, UnitKind
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, load_palette
from riskmap.links import unit_url
from riskmap.print import output
from riskmap.print.cards import (
    LOOPBACK_WARNING,
    MIN_BODY_PT,
    cards_pages,
    cards_pdf,
    select_units,
)
from riskmap.print.signs import sign_table, signs_for

BASE = "http://riskmap.example.cn:8000"
POST_FIELDS = ("作业内容", "作业场所", "危险有害因素", "事故类型", "管控措施", "个体防护", "应急措施", "安全标志",
               "应急电话")
EQUIPMENT_FIELDS = ("设备设施", "所在位置", "危险有害因素", "事故类型", "安全措施", "检查维护", "个体防护", "应急措施",
                    "安全标志", "应急电话")

needs_zbar = pytest.mark.skipif(not shutil.which("zbarimg") or not shutil.which("pdftoppm"),
                                reason="zbarimg (zbar-tools) and pdftoppm decode the QR codes")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def of_kind(plant, kind: UnitKind, n: int) -> list[str]:
    return [u.id for u in select_units(plant) if u.kind is kind][:n]


@pytest.fixture(scope="module")
def short_cards(bench):
    """A plant whose cards are short enough for four to a sheet."""
    plant = bench.synthetic_plant(40, 4, 12)
    units = [u for u in plant.units if u.kind in (UnitKind.POST, UnitKind.EQUIPMENT)][:8]
    for k, unit in enumerate(units):
        unit.work_content = "巡检、加料" if unit.kind is UnitKind.POST else None
        unit.events = [RiskEvent(name="泄漏着火", residual_level=Level.GENERAL, hazard_factor="甲醇泄漏",
                                 accident_type="火灾", controls=[ControlMeasure("定时巡检", cls="3-2"),
                                                                ControlMeasure("佩戴耳塞", cls="4-2")],
                                 emergency_measures=f"切断物料{k}")]
    return plant, [u.id for u in units]


@needs_zbar
def test_each_qr_code_decodes_to_the_short_link_printed_under_it(plant, tmp_path):
    ids = of_kind(plant, UnitKind.POST, 2) + of_kind(plant, UnitKind.EQUIPMENT, 2)
    pdf = cards_pdf(plant, unit_ids=ids, base_url=BASE)
    decoded = decode_qr(pdf, tmp_path)
    assert sorted(decoded) == sorted(f"{BASE}/u/{uid}" for uid in ids)
    assert all(len(url) < 60 for url in decoded)                     # short: few modules, easy to scan
    for page, uid in enumerate(ids, 1):
        text = squash(pdftotext(pdf, tmp_path, page))
        assert f"{BASE}/u/{uid}" in text                              # the print says where its code points
        assert squash(LOOPBACK_WARNING) not in text


@needs_zbar
@pytest.mark.parametrize(("paper", "per_sheet"), [("A4", 2), ("A4", 4), ("A5", 1), ("A5", 2)])
def test_qr_codes_decode_on_every_layout(short_cards, tmp_path, paper, per_sheet):
    plant, ids = short_cards
    ids = ids[:per_sheet]
    pdf = cards_pdf(plant, paper_name=paper, per_sheet=per_sheet, unit_ids=ids, base_url=BASE)
    assert pdf_pages(pdf, tmp_path) == 1
    assert sorted(decode_qr(pdf, tmp_path)) == sorted(unit_url(BASE, u) for u in ids)


def test_posts_get_the_post_card_and_equipment_its_own(plant, tmp_path):
    posts, equipment = of_kind(plant, UnitKind.POST, 2), of_kind(plant, UnitKind.EQUIPMENT, 2)
    pdf = cards_pdf(plant, unit_ids=posts + equipment, base_url=BASE)
    assert_fonts_embedded(pdf, tmp_path)
    units = {u.id: u for u in plant.units}
    for page, uid in enumerate(posts + equipment, 1):
        text = pdftotext(pdf, tmp_path, page)
        flat = squash(text)
        unit = units[uid]
        if unit.kind is UnitKind.POST:
            assert "岗位风险告知卡" in text and "设备设施风险告知卡" not in text
            assert unit.work_content and squash(unit.work_content)[:10] in flat          # 作业内容 is there
            fields = POST_FIELDS
        else:
            assert "设备设施风险告知卡" in text and "作业内容" not in text
            fields = EQUIPMENT_FIELDS
            upkeep = [c.description for ev in unit.events for c in ev.controls if (c.cls or "").startswith("2-")]
            assert squash(upkeep[0])[:10] in flat                                      # 检查维护
        for field in fields:
            assert field in text, (uid, field)
        assert squash(unit.name) in flat and uid in flat and plant.enterprise.emergency_phone in text
        assert f"风险等级：{unit.level().zh}" in flat
        ppe = [c.description for ev in unit.events for c in ev.controls if c.cls in ("4-2", "个体防护")]
        for item in ppe:
            assert squash(item)[:12] in flat, (uid, item)
        signs = signs_for([ev.accident_type for ev in unit.events],
                          [ev.hazard_factor or "" for ev in unit.events] + ppe)
        assert signs and all(name in flat for name in signs), (uid, signs)
        assert "生成时间" in flat and "数据版本" in flat


def test_safety_signs_come_from_the_data_table():
    table = sign_table()
    assert signs_for(["火灾"], []) == ["禁止烟火", "禁止带火种", "当心火灾"]
    assert signs_for(["高处坠落"], ["进入泵棚佩戴耳塞"]) == ["当心坠落", "必须系安全带", "必须戴安全帽", "必须戴护耳器"]
    assert signs_for(["厂(场)内车辆致害"], []) == ["当心车辆"]               # half-width brackets fold
    assert signs_for(["没有的类型"], []) == []
    assert all(table.category[n] in ("prohibition", "warning", "mandatory", "information") for n in table.category)


def test_body_is_8_pt_or_more_measured_in_the_pdf(plant, short_cards, tmp_path):
    k = _k(tmp_path)
    plant_short, ids = short_cards
    for made, cards in ((cards_pages(plant_short, paper_name="A4", per_sheet=4, unit_ids=ids, base_url=BASE), 8),
                        (cards_pages(plant_short, paper_name="A5", unit_ids=ids, base_url=BASE), 8),
                        (cards_pages(plant, unit_ids=of_kind(plant, UnitKind.EQUIPMENT, 3), base_url=BASE), 3)):
        pdf = output.pdf_bytes(made)
        assert sum(len(p.meta["unit_ids"]) for p in made) == cards
        for n, page in enumerate(made, 1):
            stamps = page.meta["stamp_tops"]
            sizes = [((y1 - y0) / k, w) for x0, y0, x1, y1, w in pdf_words(pdf, tmp_path, n)
                     if not any(top - 1 <= y0 <= top + 12 for top in stamps)]       # the footer stamp is small print
            assert len(sizes) > 30
            assert min(s for s, _ in sizes) >= MIN_BODY_PT - 0.05, sorted(sizes)[:3]
            assert page.meta["body_pt"] >= MIN_BODY_PT


def test_per_sheet_is_chosen_for_8_pt_or_refused(plant, short_cards, tmp_path):
    plant_short, ids = short_cards
    assert cards_pages(plant_short, unit_ids=ids, base_url=BASE)[0].meta["per_sheet"] == 4
    equipment = of_kind(plant, UnitKind.EQUIPMENT, 4)
    auto = cards_pages(plant, unit_ids=equipment, base_url=BASE)
    assert auto[0].meta["per_sheet"] in (1, 2) and len(auto) == math.ceil(4 / auto[0].meta["per_sheet"])
    with pytest.raises(InputError, match=r"小于 8 pt.*--per-sheet [12]"):
        cards_pdf(plant, per_sheet=4, unit_ids=equipment, base_url=BASE)
    assert len(cards_pages(plant, per_sheet=1, unit_ids=equipment, base_url=BASE)) == 4


def test_default_selection_is_every_post_and_equipment_unit_with_risks(plant):
    chosen = select_units(plant)
    assert chosen and all(u.kind in (UnitKind.POST, UnitKind.EQUIPMENT) and u.events for u in chosen)
    expected = sum(1 for u in plant.units if u.kind in (UnitKind.POST, UnitKind.EQUIPMENT) and u.events)
    assert len(chosen) == expected
    equipment = sum(u.kind is UnitKind.EQUIPMENT for u in chosen)
    assert equipment == 46                   # the demo's 45 pieces of equipment and the PFD's filter S-201


def test_unknown_units_and_bad_options_are_clear_errors(plant):
    with pytest.raises(NotFoundError) as err:
        cards_pdf(plant, unit_ids=["CY-01-01", "没有这个单元"])
    assert "没有这个单元" in err.value.message
    for kwargs in ({"per_sheet": 3}, {"paper_name": "A3"}, {"base_url": "ftp://x"}, {"base_url": "not a url"}):
        with pytest.raises(InputError):
            cards_pdf(plant, unit_ids=["CY-01-01"], **kwargs)


def test_level_band_carries_the_level_colour(plant):
    palette = load_palette()
    for level in (Level.MAJOR, Level.SIGNIFICANT, Level.GENERAL, Level.LOW):
        unit = next((u for u in select_units(plant) if u.level() is level), None)
        if unit is None:
            continue
        page = cards_pages(plant, unit_ids=[unit.id], base_url=BASE)[0]
        rgb = output.rasterize(page, 50).astype(int)
        colour = np.array([int(palette.colour(level)[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - colour).max(axis=2) <= 2).sum() > 400, level
        grey_page = cards_pages(plant, unit_ids=[unit.id], grey=True, base_url=BASE)[0]
        grey = output.rasterize(grey_page, 50).astype(int)
        assert (np.abs(grey - colour).max(axis=2) <= 2).sum() == 0


def test_a_card_too_long_for_its_sheet_says_where_the_rest_is(bench, tmp_path):
    plant = bench.synthetic_plant(40, 4, 12)
    unit = next(u for u in plant.units if u.kind is UnitKind.EQUIPMENT)
    unit.kind = UnitKind.POST
    unit.work_content = "巡检、加料、取样"
    unit.events = [RiskEvent(name=f"事件{i}", residual_level=Level.GENERAL,
                             hazard_factor=f"第{i}种危险因素，描述很长很长",
                             accident_type="机械伤害",
                             controls=[ControlMeasure(f"第{i}-{k}项管控措施，检查记录") for k in range(6)],
                             emergency_measures=f"第{i}项应急措施") for i in range(40)]
    with pytest.raises(InputError, match="--per-sheet 1"):
        cards_pdf(plant, per_sheet=4, paper_name="A5", unit_ids=[unit.id])
    pages = cards_pages(plant, paper_name="A5", unit_ids=[unit.id])
    assert len(pages) == 1 and pages[0].meta["per_sheet"] == 1 and pages[0].meta["cut"] == [True]
    text = pdftotext(output.pdf_bytes(pages), tmp_path).replace("\n", "")
    assert "扫码查看完整信息" in text
    assert "第0种危险因素" in text and "巡检、加料、取样" in text


@needs_zbar
def test_a_loopback_address_is_a_warning_on_the_card(plant, tmp_path):
    uid = of_kind(plant, UnitKind.POST, 1)[0]
    pdf = cards_pdf(plant, unit_ids=[uid], base_url="http://127.0.0.1:8000")
    text = squash(pdftotext(pdf, tmp_path))
    assert squash(LOOPBACK_WARNING) in text and f"http://127.0.0.1:8000/u/{uid}" in text
    assert decode_qr(pdf, tmp_path) == [f"http://127.0.0.1:8000/u/{uid}"]
    localhost = cards_pdf(plant, unit_ids=[uid], base_url="http://localhost:8000")
    assert squash(LOOPBACK_WARNING) in squash(pdftotext(localhost, tmp_path))


@needs_zbar
def test_hostile_text_prints_as_text_and_the_qr_still_decodes(bench, tmp_path):
    plant = bench.synthetic_plant(30, 4, 13, name=f"企业{HOSTILE}")
    unit = next(u for u in plant.units if u.kind is UnitKind.EQUIPMENT)
    unit.name = f"泵{HOSTILE}"
    pdf = cards_pdf(plant, unit_ids=[unit.id], base_url=BASE)
    assert squash(HOSTILE) in squash(pdftotext(pdf, tmp_path))
    assert decode_qr(pdf, tmp_path) == [unit_url(BASE, unit.id)]


@needs_zbar
def test_cli_cards(tmp_path_factory, tmp_path, plant):
    url = demo_url(tmp_path_factory)
    ids = of_kind(plant, UnitKind.POST, 2)
    out = tmp_path / "cards.pdf"
    proc = run_cli("cards", out, "--db", url, "--unit", ids[0], "--unit", ids[1], "--base-url", BASE + "/riskmap/")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    assert f"二维码指向 / QR codes point to {BASE}/riskmap/u/<单元编号>" in proc.stdout and "每张纸" in proc.stdout
    assert sorted(decode_qr(out.read_bytes(), tmp_path)) == sorted(unit_url(BASE + "/riskmap", u) for u in ids)
    loop = run_cli("cards", tmp_path / "l.pdf", "--db", url, "--unit", ids[0])      # RISKMAP_BASE_URL unset
    assert loop.returncode == 0 and "警告 / warning: 二维码指向本机地址 http://127.0.0.1:8000" in loop.stderr
    bad = run_cli("cards", tmp_path / "x.pdf", "--db", url, "--per-sheet", "3")
    assert bad.returncode == 1 and "1、2 或 4" in bad.stderr
    too_many = run_cli("cards", tmp_path / "y.pdf", "--db", url, "--per-sheet", "4")
    assert too_many.returncode == 1 and "--per-sheet" in too_many.stderr and not (tmp_path / "y.pdf").exists()
