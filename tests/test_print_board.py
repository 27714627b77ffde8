"""The notice board (公告栏, 表D): every significant and major risk with every field, repeated headers, rows
that flow over pages, coloured (or grey and hatched) level cells."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import numpy as np
import pytest
from printkit import (
    HOSTILE,
    assert_fonts_embedded,
    demo_url,
    pdf_pages,
    pdftotext,
    run_cli,
)
from typer.testing import CliRunner

from riskmap.cli import app
from riskmap.domain import ControlMeasure, RiskEvent
from riskmap.errors import InputError
from riskmap.levels import Level, load_palette
from riskmap.print import output
from riskmap.print.board import COLUMNS, add_months, board_pages, board_pdf, board_rows
from riskmap.print.paper import paper

TITLES = [t for t, _ in COLUMNS]


@pytest.fixture(scope="module")
def board(plant):
    return board_pdf(plant)


def _expected_count(plant) -> int:
    n = 0
    for unit in plant.units:
        levels = [ev.level() for ev in unit.events]
        n += sum(1 for lv in levels if lv in (Level.MAJOR, Level.SIGNIFICANT))
        top = max((lv.rank for lv in levels if lv), default=0)
        if unit.override is not None and unit.override.level.rank >= 3 and unit.override.level.rank > top:
            n += 1
    return n


def test_every_significant_and_major_risk_with_every_field(plant, board, tmp_path):
    rows = board_rows(plant)
    assert len(rows) == _expected_count(plant) and len(rows) > 40
    assert [r.level.rank for r in rows] == sorted((r.level.rank for r in rows), reverse=True)
    text = pdftotext(board, tmp_path)
    flat = text.replace("\n", "")
    for row in rows:
        for value in (row.location, row.hazard, row.accident, row.consequence, row.impact, row.controls,
                      row.emergency, row.responsible, row.validity):
            first_line = value.split("\n")[0]
            assert first_line[:6] in flat, (row.unit_id, value[:40])
    enterprise = plant.enterprise
    for page in range(1, pdf_pages(board, tmp_path) + 1):
        page_text = pdftotext(board, tmp_path, page)
        assert f"举报电话：{enterprise.report_phone}" in page_text
        assert f"监督电话：{enterprise.supervision_phone}" in page_text
        for title in TITLES:                        # the header row is repeated on every page
            assert title in page_text, (page, title)
        assert "数据版本" in page_text and "生成时间" in page_text
    assert "安全风险公告栏" in text and enterprise.name in text
    assert "重大风险" in text and "较大风险" in text
    assert "一般风险" not in text and "低风险" not in text       # only significant and major risks
    assert_fonts_embedded(board, tmp_path)


def test_validity_period_runs_from_the_last_assessment():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 11, 15), 12) == date(2024, 11, 15)
    assert add_months(date(2025, 12, 31), 2) == date(2026, 2, 28)


def test_long_content_flows_onto_more_pages_with_the_header_repeated(bench, tmp_path):
    plant = bench.synthetic_plant(60, 4, 3)
    unit = next(u for u in plant.units if u.kind.value == "equipment")
    controls = [ControlMeasure(f"第{i:03d}项管控措施：定期检查并记录，发现异常立即报告和处置") for i in range(160)]
    unit.events = [RiskEvent(name="超长事件", residual_level=Level.MAJOR, hazard_factor="很多很多危险因素",
                             accident_type="火灾", consequence="多人伤亡", impact_range="全厂",
                             controls=controls, emergency_measures="立即疏散")]
    pdf = board_pdf(plant, paper_name="A4")
    pages = pdf_pages(pdf, tmp_path)
    assert pages >= 3
    text = pdftotext(pdf, tmp_path).replace("\n", "")
    for i in range(160):
        assert f"第{i:03d}项管控措施" in text, i
    for page in range(1, pages + 1):
        page_text = pdftotext(pdf, tmp_path, page)
        assert "管控措施" in page_text and "危险有害因素" in page_text
    # every piece of the split row fits its page above the footer
    pages = board_pages(plant, board_rows(plant), paper("A4", True), False)
    assert len(pages) >= 3
    for page in pages:
        assert page.meta["table_bottom"] <= page.meta["table_limit"] + 0.01


def _pixels(page, dpi=60):
    return output.rasterize(page, dpi).astype(int)


def _count(rgb: np.ndarray, colour: str, tol: int = 2) -> int:
    want = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - want).max(axis=2) <= tol).sum())


def test_level_cells_are_coloured_or_grey_and_hatched(plant):
    palette = load_palette()
    rows = board_rows(plant)
    pages = board_pages(plant, rows, paper("A3", True), grey=False)
    colour = _pixels(pages[0])
    assert _count(colour, palette.colour(Level.MAJOR)) > 200
    last = _pixels(pages[-1])
    assert _count(last, palette.colour(Level.SIGNIFICANT)) > 200

    grey_pages = board_pages(plant, rows, paper("A3", True), grey=True)
    grey = _pixels(grey_pages[0])
    assert _count(grey, palette.colour(Level.MAJOR), tol=30) == 0          # no colour at all
    assert _count(grey, palette.styles[Level.MAJOR].grey) > 100
    # hatch lines: pixels darker than the major grey inside its cells
    major_grey = int(palette.styles[Level.MAJOR].grey[1:3], 16)
    dark = (grey.max(axis=2) < major_grey - 12) & (grey.max(axis=2) > 0)
    assert dark.sum() > 100
    sig = _pixels(grey_pages[-1])
    assert _count(sig, palette.styles[Level.SIGNIFICANT].grey) > 100


def test_a_plant_without_significant_risks_gets_an_empty_board(bench, tmp_path):
    plant = bench.synthetic_plant(50, 4, 8)
    for unit in plant.units:
        unit.events = [dataclasses.replace(ev, residual_level=Level.LOW) for ev in unit.events]
    pdf = board_pdf(plant, paper_name="A4")
    assert pdf_pages(pdf, tmp_path) == 1
    assert "没有较大及以上安全风险" in pdftotext(pdf, tmp_path)


def test_hostile_text_prints_as_text(bench, tmp_path):
    plant = bench.synthetic_plant(30, 4, 9, name=f"企业{HOSTILE}")
    unit = next(u for u in plant.units if u.kind.value == "equipment")
    unit.events = [RiskEvent(name="x", residual_level=Level.SIGNIFICANT, hazard_factor=HOSTILE,
                             controls=[ControlMeasure(f"措施{HOSTILE}")], emergency_measures="(撤离) \\ 50%")]
    pdf = board_pdf(plant, paper_name="A3")
    text = pdftotext(pdf, tmp_path).replace("\n", "")
    assert HOSTILE in text and "(撤离) \\ 50%" in text and f"措施{HOSTILE}" in text


def test_bad_options_are_input_errors(plant):
    with pytest.raises(InputError):
        board_pdf(plant, paper_name="A0")
    with pytest.raises(InputError):
        board_pdf(plant, validity_months=0)


def test_cli_board(tmp_path_factory, tmp_path):
    url = demo_url(tmp_path_factory)
    out = tmp_path / "board.pdf"
    proc = run_cli("board", out, "--db", url, "--grey", "--paper", "A4")
    assert proc.returncode == 0, proc.stderr
    assert "公告栏" in pdftotext(out.read_bytes(), tmp_path)
    assert re.search(r"board\.pdf：[\d.]+ [kM]B", proc.stdout)
    bad = CliRunner().invoke(app, ["board", str(tmp_path / "b.pdf"), "--db", url, "--paper", "A0"])
    assert isinstance(bad.exception, InputError) and "不支持的纸张" in bad.exception.message
