"""Notice boards (公告栏): the factory board (表D: every significant and major risk with every field, flowing over
sheets with its header repeated) and one sheet per area with what does not fit named at its foot; body text
12 pt or more measured in the PDF; the level colour band; expired validity marked and flagged."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime

import numpy as np
import pytest
from printkit import (
    HOSTILE,
    assert_fonts_embedded,
    demo_url,
    pdf_pages,
    pdftotext,
    run_cli,
    text_sizes,
)
from typer.testing import CliRunner

from riskmap.cli import app
from riskmap.clock import LOCAL_ZONE as BEIJING
from riskmap.domain import AssessmentUnit, ControlMeasure, Override, RiskEvent, UnitKind
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level, load_palette
from riskmap.print import output
from riskmap.print.board import (
    AREA_LEAVES_OUT,
    BODY_PT,
    COLUMNS,
    EXPIRED,
    EXPIRED_NOTE,
    board_pages,
    board_pdf,
    board_rows,
    boards,
)
from riskmap.print.paper import mm, paper

TITLES = [t for t, _ in COLUMNS]


def squash(text: str) -> str:
    """Text without any white space: a 12 pt cell wraps where it will."""
    return re.sub(r"\s+", "", text)
DAY = datetime(2026, 12, 6, 9, 0, tzinfo=BEIJING)        # the day: 2025-12-06 至 2026-12-05 has ended


@pytest.fixture(scope="module")
def factory(plant):
    return board_pdf(plant, scope="factory", now=DAY)


@pytest.fixture(scope="module")
def areas(plant):
    return board_pdf(plant, scope="areas", now=DAY)


def _expected_count(plant) -> int:
    n = 0
    for unit in plant.units:
        levels = [ev.level() for ev in unit.events]
        n += sum(1 for lv in levels if lv in (Level.MAJOR, Level.SIGNIFICANT))
        top = max((lv.rank for lv in levels if lv), default=0)
        if unit.override is not None and unit.override.level.rank >= 3 and unit.override.level.rank > top:
            n += 1
    return n


def test_factory_board_has_every_significant_and_major_risk_with_every_field(plant, factory, tmp_path):
    rows = board_rows(plant)
    assert len(rows) == _expected_count(plant) and len(rows) > 40
    assert [r.level.rank for r in rows] == sorted((r.level.rank for r in rows), reverse=True)
    text = pdftotext(factory, tmp_path)
    flat = text.replace("\n", "")
    for row in rows:
        for value in (row.location, row.hazard, row.accident, row.consequence, row.impact, row.controls,
                      row.emergency, row.responsible, row.validity):
            first_line = value.split("\n")[0]
            assert first_line[:4] in flat, (row.unit_id, value[:40])      # 12 pt: narrow lines
    enterprise = plant.enterprise
    sheets = pdf_pages(factory, tmp_path)
    assert sheets > 3                                     # 12 pt: the table goes on over several sheets
    for page in range(1, sheets + 1):
        page_text = pdftotext(factory, tmp_path, page)
        assert f"举报电话：{enterprise.report_phone}" in page_text
        assert f"监督电话：{enterprise.supervision_phone}" in page_text
        assert f"应急电话：{enterprise.emergency_phone}" in page_text
        for title in TITLES:                        # the header row is repeated on every sheet
            assert title in page_text, (page, title)
        assert "数据版本" in page_text and f"第 {page} / {sheets} 张" in page_text
        assert "重大风险 " in page_text and "较大风险 " in page_text   # the band, with the counts
    assert "安全风险公告栏（厂级：重大和较大风险）" in text and enterprise.name in text and "（续）" in text
    assert "一般风险" not in text and "低风险" not in text       # only significant and major risks
    assert_fonts_embedded(factory, tmp_path)


def test_body_text_is_at_least_12_pt_measured_in_the_pdf(plant, factory, areas, tmp_path):
    p = paper("A3", True)
    footer = p.height - mm(10) * p.factor                    # the stamp below the margin is not body text
    for pdf in (factory, areas):
        for page in (1, 2, pdf_pages(pdf, tmp_path)):
            sizes = text_sizes(pdf, tmp_path, page, below=footer)
            assert len(sizes) > 50
            assert min(s for s, _ in sizes) >= BODY_PT - 0.05, (page, sorted(sizes)[:3])
    a4 = board_pdf(plant, paper_name="A4", scope="areas", regions=["罐区"], now=DAY)
    sizes = text_sizes(a4, tmp_path, 1, below=paper("A4", True).height - mm(10))
    assert min(s for s, _ in sizes) >= BODY_PT - 0.05
    a2 = board_pdf(plant, paper_name="A2", scope="areas", regions=["罐区"], now=DAY)
    sizes = text_sizes(a2, tmp_path, 1, below=paper("A2", True).height - mm(10) * paper("A2", True).factor)
    assert min(s for s, _ in sizes) >= BODY_PT * 1.18            # larger paper, larger text, never smaller


def test_one_sheet_per_area_and_what_does_not_fit_is_named(plant, areas, tmp_path):
    risks = plant.region_risk()
    assert pdf_pages(areas, tmp_path) == len(risks)
    made = boards(plant, scope="areas", today=DAY.date())
    # most severe area first, then by name
    ranks = [b.level.rank if b.level else 0 for b in made]
    assert ranks == sorted(ranks, reverse=True)
    pages = board_pages(plant, made, paper("A3", True), grey=False, now=DAY)
    assert len(pages) == len(made)
    crowded = 0
    for n, (board, page) in enumerate(zip(made, pages, strict=True), 1):
        text = pdftotext(areas, tmp_path, n)
        assert board.title.split("　")[0] in text and "安全风险公告栏" in text and "区域风险等级：" in text
        for left_out in AREA_LEAVES_OUT:                 # the area board's narrower table
            assert left_out not in text
        shown = page.meta["unit_ids"]
        assert page.meta["notes_bottom"] <= page.meta["table_limit"] + 0.5
        if page.meta["left_out"]:
            crowded += 1
            missing = board.rows[len(shown):]
            assert len(missing) == page.meta["left_out"]
            flat = text.replace("\n", "")
            assert f"另有 {len(missing)} 项风险未列出" in flat
            assert f"{missing[0].location}（{missing[0].level.zh}）" in flat
            # what is shown is the most severe part
            assert min(r.level.rank for r in board.rows[:len(shown)]) >= max(r.level.rank for r in missing)
        else:
            assert len(shown) == len(board.rows)
    assert crowded >= 1                                  # the demo's big areas do not fit on one A3 sheet
    assert_fonts_embedded(areas, tmp_path)


def test_areas_by_name_and_unknown_areas(plant, tmp_path):
    one = board_pdf(plant, scope="areas", regions=["罐区"], now=DAY)
    assert pdf_pages(one, tmp_path) == 1 and squash(pdftotext(one, tmp_path)).startswith("罐区区域风险等级")
    with pytest.raises(NotFoundError, match="没有这些区域"):
        board_pdf(plant, regions=["没有的区域"])
    with pytest.raises(InputError):
        board_pdf(plant, scope="everything")


def _small_plant(bench, last_assessed: date, name="有效期测试"):
    plant = bench.synthetic_plant(30, 4, 9, name=name)
    unit = next(u for u in plant.units if u.kind.value == "equipment")
    unit.last_assessed = last_assessed
    unit.events = [RiskEvent(name="储罐火灾", residual_level=Level.MAJOR, hazard_factor="甲醇泄漏",
                             accident_type="火灾", consequence="人员伤亡", impact_range="罐区",
                             controls=[ControlMeasure("液位联锁")], emergency_measures="切断物料")]
    for other in plant.units:
        if other is not unit:
            other.events = [dataclasses.replace(ev, residual_level=Level.LOW) for ev in other.events]
    return plant, unit


def test_an_ended_validity_is_marked_on_the_board(bench, tmp_path):
    plant, unit = _small_plant(bench, date(2025, 12, 6))
    ended = board_pdf(plant, scope="factory", now=DAY)
    text = squash(pdftotext(ended, tmp_path))
    assert "2025-12-06至2026-12-05" in text and squash(EXPIRED_NOTE) in text and "有效期已过1项" in text
    day_before = board_pdf(plant, scope="factory", now=datetime(2026, 12, 5, 23, 0, tzinfo=BEIJING))
    text = squash(pdftotext(day_before, tmp_path))
    assert "2025-12-06至2026-12-05" in text and squash(EXPIRED_NOTE) not in text and "有效期已过" not in text
    # the mark is red: pixels of the warning colour in the validity column only when ended
    sheet = paper("A4", True)
    margin = mm(10) * sheet.factor
    validity_w = (sheet.width - 2 * margin) * COLUMNS[-1][1] / sum(w for _, w in COLUMNS)
    x0, x1 = int((sheet.width - margin - validity_w) * 60 / 72) + 2, int((sheet.width - margin) * 60 / 72) - 2

    def red_in_validity_column(today: date) -> int:
        page = board_pages(plant, boards(plant, scope="factory", today=today), sheet, False, DAY)[0]
        return _count(output.rasterize(page, 60).astype(int)[:, x0:x1], EXPIRED, tol=40)

    assert red_in_validity_column(DAY.date()) > 30 and red_in_validity_column(date(2026, 12, 5)) == 0


def test_an_ended_validity_raises_the_flag_shown_by_the_cli_and_the_api(store_url, tmp_path):
    """The same rule on the board and in the flags: riskmap flags and /api/flags list validity_expired."""
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings
    from riskmap.store import open_store

    units = [AssessmentUnit("U1", "罐区", UnitKind.MAIN, last_assessed=date(2020, 3, 1),
                            events=[RiskEvent("储罐火灾", residual_level=Level.MAJOR)]),
             AssessmentUnit("U2", "泵房", UnitKind.MAIN, last_assessed=date.today(),
                            events=[RiskEvent("机械伤害", residual_level=Level.LOW)])]
    with open_store(store_url) as store:
        store.save_units("有效期企业", units, default_profile="lec")
        flags = store.flags("有效期企业", today=date(2021, 3, 1))
        assert [(f["unit_id"], f["reason_code"], f["detail"]["valid_until"]) for f in flags] == \
            [("U1", "validity_expired", "2021-02-28")]
        assert store.flags("有效期企业", today=date(2021, 2, 28)) == []
    proc = run_cli("flags", "--db", store_url)
    assert proc.returncode == 0, proc.stderr
    assert "U1 罐区  [validity_expired] 评估有效期（2020-03-01 至 2021-02-28）已届满" in proc.stdout
    assert "U2" not in proc.stdout
    with TestClient(create_app(Settings(db=store_url))) as client:
        items = client.get("/api/flags").json()["items"]
        assert [(f["unit_id"], f["reason_code"], f["raised_at"]) for f in items] == \
            [("U1", "validity_expired", "2021-03-01")]
        assert "validity_expired" in client.get("/openapi.json").json()["components"]["schemas"]["Flag"][
            "properties"]["reason_code"]["description"]


def test_a_forced_level_keeps_each_field_in_its_column(plant, factory, tmp_path):
    forced = [u for u in plant.units if u.override is not None
              and u.override.level.rank > max((ev.level().rank for ev in u.events if ev.level()), default=0)]
    assert forced
    rows = {r.unit_id: r for r in board_rows(plant) if r.note}
    text = squash(pdftotext(factory, tmp_path))
    for k, unit in enumerate(forced, 1):
        row = rows[unit.id]
        assert row.note == unit.override.reason
        assert unit.override.reason not in row.hazard          # the reason is not a hazard factor
        assert unit.events[0].hazard_factor[:10] in row.hazard
        assert row.accident != "—" and row.consequence != "—" and row.impact != "—"
        assert unit.events[0].consequence in row.consequence and unit.events[0].impact_range in row.impact
        assert squash(f"※{k} {row.location}：{row.level.zh}，{unit.override.reason}") in text


def test_long_content_flows_onto_more_sheets_with_the_header_repeated(bench, tmp_path):
    plant = bench.synthetic_plant(60, 4, 3)
    unit = next(u for u in plant.units if u.kind.value == "equipment")
    controls = [ControlMeasure(f"第{i:03d}项管控措施：定期检查并记录，发现异常立即报告和处置") for i in range(160)]
    unit.events = [RiskEvent(name="超长事件", residual_level=Level.MAJOR, hazard_factor="很多很多危险因素",
                             accident_type="火灾", consequence="多人伤亡", impact_range="全厂",
                             controls=controls, emergency_measures="立即疏散")]
    pdf = board_pdf(plant, paper_name="A4", scope="factory")
    pages = pdf_pages(pdf, tmp_path)
    assert pages >= 3
    text = pdftotext(pdf, tmp_path).replace("\n", "")
    for i in range(160):
        assert f"第{i:03d}项管控措施" in text, i
    for page in range(1, pages + 1):
        page_text = pdftotext(pdf, tmp_path, page)
        assert "管控措施" in page_text and "危险有害因素" in page_text
    made = boards(plant, scope="factory")
    for page in board_pages(plant, made, paper("A4", True), False):
        assert page.meta["table_bottom"] <= page.meta["table_limit"] + 0.01
    # on an area's single sheet the row that cannot fit is named instead
    area = board_pages(plant, boards(plant, scope="areas"), paper("A4", True), False)
    assert any(p.meta["left_out"] for p in area)


def _count(rgb: np.ndarray, colour: str, tol: int = 2) -> int:
    want = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - want).max(axis=2) <= tol).sum())


def test_level_cells_and_band_are_coloured_or_grey_and_hatched(plant):
    palette = load_palette()
    made = boards(plant, scope="factory", today=DAY.date())
    pages = board_pages(plant, made, paper("A3", True), grey=False)
    colour = output.rasterize(pages[0], 60).astype(int)
    assert _count(colour, palette.colour(Level.MAJOR)) > 200
    assert _count(colour, palette.colour(Level.SIGNIFICANT)) > 200         # its half of the band
    grey_pages = board_pages(plant, made, paper("A3", True), grey=True)
    grey = output.rasterize(grey_pages[0], 60).astype(int)
    assert _count(grey, palette.colour(Level.MAJOR), tol=30) == 0          # no colour at all
    assert _count(grey, palette.styles[Level.MAJOR].grey) > 100
    major_grey = int(palette.styles[Level.MAJOR].grey[1:3], 16)
    dark = (grey.max(axis=2) < major_grey - 12) & (grey.max(axis=2) > 0)
    assert dark.sum() > 100
    # an area board's band has its region's colour
    area = boards(plant, scope="areas", regions=["罐区"], today=DAY.date())[0]
    assert area.level is Level.MAJOR
    page = board_pages(plant, [area], paper("A3", True), grey=False)[0]
    band = output.rasterize(page, 60).astype(int)[60:75]                  # the band's rows at 60 dpi
    assert _count(band, palette.colour(Level.MAJOR)) > 1000


def test_a_plant_without_significant_risks_gets_an_empty_factory_board(bench, tmp_path):
    plant = bench.synthetic_plant(50, 4, 8)
    for unit in plant.units:
        unit.events = [dataclasses.replace(ev, residual_level=Level.LOW) for ev in unit.events]
    pdf = board_pdf(plant, paper_name="A4", scope="factory")
    assert pdf_pages(pdf, tmp_path) == 1
    assert "没有较大及以上安全风险" in pdftotext(pdf, tmp_path)


def test_hostile_text_prints_as_text(bench, tmp_path):
    plant = bench.synthetic_plant(30, 4, 9, name=f"企业{HOSTILE}")
    unit = next(u for u in plant.units if u.kind.value == "equipment")
    unit.events = [RiskEvent(name="x", residual_level=Level.SIGNIFICANT, hazard_factor=HOSTILE,
                             controls=[ControlMeasure(f"措施{HOSTILE}")], emergency_measures="(撤离) \\ 50%")]
    unit.override = Override(Level.MAJOR, f"理由{HOSTILE}")
    pdf = board_pdf(plant, paper_name="A3", scope="factory")
    text = squash(pdftotext(pdf, tmp_path))
    for value in (HOSTILE, "(撤离) \\ 50%", f"措施{HOSTILE}", f"理由{HOSTILE}"):
        assert squash(value) in text, value


def test_bad_options_are_input_errors(plant):
    with pytest.raises(InputError):
        board_pdf(plant, paper_name="A0")
    with pytest.raises(InputError):
        board_pdf(plant, validity_months=0)


def test_cli_board(tmp_path_factory, tmp_path):
    url = demo_url(tmp_path_factory)
    out = tmp_path / "board.pdf"
    proc = run_cli("board", out, "--db", url, "--grey", "--paper", "A4", "--region", "罐区", "--region", "C0")
    assert proc.returncode == 0, proc.stderr
    assert pdf_pages(out.read_bytes(), tmp_path) == 2
    assert squash(pdftotext(out.read_bytes(), tmp_path, 2)).startswith("罐区区域风险等级")   # by level, then name
    assert re.search(r"board\.pdf：[\d.]+ [kM]B", proc.stdout)
    factory_only = tmp_path / "factory.pdf"
    proc = run_cli("board", factory_only, "--db", url, "--scope", "factory")
    assert proc.returncode == 0 and "厂级" in pdftotext(factory_only.read_bytes(), tmp_path, 1)
    bad = CliRunner().invoke(app, ["board", str(tmp_path / "b.pdf"), "--db", url, "--paper", "A0"])
    assert isinstance(bad.exception, InputError) and "不支持的纸张" in bad.exception.message
    bad = run_cli("board", tmp_path / "c.pdf", "--db", url, "--scope", "nope")
    assert bad.returncode == 1 and "--scope" in bad.stderr and not (tmp_path / "c.pdf").exists()
