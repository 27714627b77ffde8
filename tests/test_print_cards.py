"""Post risk notice cards (岗位风险告知卡, 表E): every card's QR code, decoded from the rendered page, opens its
unit; every 表E field is on the card; batch layouts of one, two and four cards a sheet."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from printkit import HOSTILE, assert_fonts_embedded, demo_url, pdf_pages, pdftotext

from riskmap.domain import ControlMeasure, RiskEvent, UnitKind
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, load_palette
from riskmap.print import output
from riskmap.print.cards import cards_pages, cards_pdf, select_units, unit_url

BASE = "http://riskmap.example.cn:8000"
FIELDS = ("作业内容", "作业场所", "危险有害因素", "事故类型", "管控措施", "应急措施", "应急电话")

needs_zbar = pytest.mark.skipif(not shutil.which("zbarimg") or not shutil.which("pdftoppm"),
                                reason="zbarimg (zbar-tools) and pdftoppm decode the QR codes")


def decode_qr(pdf: bytes, tmp_path: Path, dpi: int = 200) -> list[str]:
    """Every QR code on the rendered pages (pdftoppm, then zbarimg), in no particular order."""
    path = tmp_path / f"c{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    prefix = tmp_path / f"p{time.monotonic_ns()}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(prefix)], check=True)
    found = []
    for image in sorted(tmp_path.glob(f"{prefix.name}*.png")):
        proc = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(image)],
                              capture_output=True, text=True)
        found += [line for line in proc.stdout.splitlines() if line.strip()]
    return found


def sample_units(plant, n: int) -> list[str]:
    return [u.id for u in select_units(plant)[:n]]


@needs_zbar
def test_each_card_qr_decodes_to_its_unit_page_four_per_sheet(plant, tmp_path):
    ids = sample_units(plant, 8)
    pdf = cards_pdf(plant, per_sheet=4, unit_ids=ids, base_url=BASE)
    assert pdf_pages(pdf, tmp_path) == 2
    decoded = decode_qr(pdf, tmp_path)
    expected = [unit_url(BASE, uid, plant.enterprise.name) for uid in ids]
    assert sorted(decoded) == sorted(expected)
    for url in decoded:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert parts.path == "/map" and query["enterprise"] == [plant.enterprise.name]
        assert query["unit"][0] in ids


@needs_zbar
@pytest.mark.parametrize(("paper", "per_sheet"), [("A4", 1), ("A4", 2), ("A5", 2), ("A5", 4)])
def test_qr_codes_decode_on_every_layout(plant, tmp_path, paper, per_sheet):
    ids = sample_units(plant, per_sheet)
    pdf = cards_pdf(plant, paper_name=paper, per_sheet=per_sheet, unit_ids=ids, base_url=BASE)
    assert pdf_pages(pdf, tmp_path) == 1
    assert sorted(decode_qr(pdf, tmp_path)) == sorted(unit_url(BASE, u, plant.enterprise.name) for u in ids)


def test_every_table_e_field_is_on_each_card(plant, tmp_path):
    ids = sample_units(plant, 3)
    pdf = cards_pdf(plant, per_sheet=1, unit_ids=ids)
    assert_fonts_embedded(pdf, tmp_path)
    units = {u.id: u for u in plant.units}
    for page, uid in enumerate(ids, 1):
        text = pdftotext(pdf, tmp_path, page)
        flat = text.replace("\n", "")
        unit = units[uid]
        assert "岗位风险告知卡" in text and unit.name in flat and uid in flat
        for field in FIELDS:
            assert field in text, (uid, field)
        assert plant.enterprise.emergency_phone in text
        assert f"风险等级：{unit.level().zh}" in flat
        first_hazard = next(ev.hazard_factor for ev in unit.events if ev.hazard_factor)
        assert first_hazard[:8] in flat
        assert "生成时间" in flat and "数据版本" in flat


def test_default_selection_is_every_post_and_equipment_unit_with_risks(plant, tmp_path):
    chosen = select_units(plant)
    assert chosen and all(u.kind in (UnitKind.POST, UnitKind.EQUIPMENT) and u.events for u in chosen)
    expected = sum(1 for u in plant.units if u.kind in (UnitKind.POST, UnitKind.EQUIPMENT) and u.events)
    assert len(chosen) == expected
    pages = cards_pages(plant, per_sheet=4)
    assert len(pages) == math.ceil(expected / 4)


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
        page = cards_pages(plant, unit_ids=[unit.id])[0]
        rgb = output.rasterize(page, 50).astype(int)
        colour = np.array([int(palette.colour(level)[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - colour).max(axis=2) <= 2).sum() > 400, level
        grey_page = cards_pages(plant, unit_ids=[unit.id], grey=True)[0]
        grey = output.rasterize(grey_page, 50).astype(int)
        assert (np.abs(grey - colour).max(axis=2) <= 2).sum() == 0


def test_long_cards_stay_one_card_and_say_where_the_rest_is(bench, tmp_path):
    plant = bench.synthetic_plant(40, 4, 12)
    unit = next(u for u in plant.units if u.kind is UnitKind.EQUIPMENT)
    unit.work_content = "巡检、加料、取样"
    unit.events = [RiskEvent(name=f"事件{i}", residual_level=Level.GENERAL,
                             hazard_factor=f"第{i}种危险因素，描述很长很长",
                             accident_type="机械伤害",
                             controls=[ControlMeasure(f"第{i}-{k}项管控措施，检查记录") for k in range(6)],
                             emergency_measures=f"第{i}项应急措施") for i in range(40)]
    pdf = cards_pdf(plant, per_sheet=4, paper_name="A5", unit_ids=[unit.id])
    assert pdf_pages(pdf, tmp_path) == 1
    text = pdftotext(pdf, tmp_path).replace("\n", "")
    assert "扫码查看完整信息" in text
    assert "第0种危险因素" in text and "巡检、加料、取样" in text


@needs_zbar
def test_hostile_text_prints_as_text_and_the_qr_still_decodes(bench, tmp_path):
    plant = bench.synthetic_plant(30, 4, 13, name=f"企业{HOSTILE}")
    unit = next(u for u in plant.units if u.kind is UnitKind.EQUIPMENT)
    unit.name = f"泵{HOSTILE}"
    unit.work_content = HOSTILE
    pdf = cards_pdf(plant, unit_ids=[unit.id], base_url=BASE)
    text = pdftotext(pdf, tmp_path).replace("\n", "")
    assert HOSTILE in text
    assert decode_qr(pdf, tmp_path) == [unit_url(BASE, unit.id, plant.enterprise.name)]


@needs_zbar
def test_cli_cards(tmp_path_factory, tmp_path, plant):
    from typer.testing import CliRunner

    from riskmap.cli import app

    url = demo_url(tmp_path_factory)
    ids = sample_units(plant, 2)
    out = tmp_path / "cards.pdf"
    result = CliRunner().invoke(app, ["cards", str(out), "--db", url, "--per-sheet", "2", "--unit", ids[0],
                                      "--unit", ids[1], "--base-url", BASE + "/riskmap/"])
    assert result.exit_code == 0, result.output
    decoded = decode_qr(out.read_bytes(), tmp_path)
    assert sorted(decoded) == sorted(unit_url(BASE + "/riskmap", u, plant.enterprise.name) for u in ids)
    bad = CliRunner().invoke(app, ["cards", str(tmp_path / "x.pdf"), "--db", url, "--per-sheet", "3"])
    assert isinstance(bad.exception, InputError) and "1、2 或 4" in bad.exception.message
