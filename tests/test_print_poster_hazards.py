"""Hidden hazards on the poster: drawn where the data puts them, in their state's fill, by the tiles' own symbol
code, over every colour and name; listed in the legend with their counts; only when the layers name them and only
on the site plan; through the HTTP print route (the web map's "print this view") and the CLI, and refused for a
past moment (the map has no hazards layer then)."""

from __future__ import annotations

import numpy as np
import pytest
from printkit import demo_url, pdftotext, run_cli

from riskmap.errors import InputError
from riskmap.print import output
from riskmap.print.poster import PosterOptions, poster, poster_pages, print_hazards
from riskmap.render.style import load_hazard_style

WITH_HAZARDS = "regions,layout,labels,hazards"
DPI = 150


@pytest.fixture(scope="module")
def store(demo_db):
    from riskmap.store import open_store

    return open_store(f"sqlite:///{demo_db}")


@pytest.fixture(scope="module")
def hazards(store, plant):
    return print_hazards(store, plant.enterprise.name)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])


def test_every_hazard_is_drawn_at_its_place_in_its_state_fill(plant, hazards):
    from riskmap.print.mapview import map_data

    style = load_hazard_style()
    page = poster_pages(plant, PosterOptions(paper="A3", layers=WITH_HAZARDS), hazards=hazards)[0]
    raster = output.rasterize(page, DPI).astype(int)
    view = page.meta["view"]
    data = map_data(plant)
    x, y = data.to_plan(hazards.geometry.x.to_numpy(), hazards.geometry.y.to_numpy())
    pts = view.to_pt(np.column_stack([x, y])) * DPI / 72
    groups = [style.group_of(s) for s in hazards["state"]]
    assert {"open", "awaiting", "closed"} <= set(groups), groups
    checked = 0
    for (px, py), group in zip(pts, groups, strict=True):
        near = (np.hypot(*(pts - (px, py)).T) < 30).sum()          # another symbol may lie over this one
        if near > 1:
            continue
        got = raster[int(round(py)), int(round(px))]
        assert np.abs(got - _rgb(style.groups[group]["fill"])).max() <= 12, (group, got)
        checked += 1
    assert checked >= len(pts) // 2
    keys = [k for k, _ in page.meta["legend_hazards"]]
    assert "state-open" in keys and "overdue" in keys and "level-major" in keys


def test_legend_counts_and_text(plant, hazards, tmp_path):
    style = load_hazard_style()
    data = poster(plant, "pdf", PosterOptions(paper="A3", layers=WITH_HAZARDS), hazards=hazards)
    text = pdftotext(data, tmp_path).replace("\n", " ")
    assert "隐患（形状为等级，颜色为状态）" in text
    opened = sum(style.group_of(s) == "open" for s in hazards["state"])
    assert f"未整改 {opened} 项" in text
    assert f"已超期（外圈） {int(hazards['overdue'].sum())} 项" in text


def test_hazards_only_when_asked_and_only_on_the_site_plan(plant, hazards, tmp_path):
    magenta = _rgb(load_hazard_style().groups["open"]["fill"])

    def magenta_pixels(options, plant_=plant) -> int:
        page = poster_pages(plant_, options, hazards=hazards)[0]
        raster = output.rasterize(page, 72).astype(int).reshape(-1, 3)
        return int((np.abs(raster - magenta).max(axis=1) <= 12).sum())

    assert magenta_pixels(PosterOptions(paper="A3", layers=WITH_HAZARDS)) > 50
    assert magenta_pixels(PosterOptions(paper="A3")) == 0                     # the default poster: risks only
    assert magenta_pixels(PosterOptions(paper="A3", layers="regions,layout,labels")) == 0
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A3"), hazards=hazards), tmp_path)
    assert "隐患" not in text


def test_http_print_view_and_cli(demo_db, plant, tmp_path, tmp_path_factory):
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.clock import now
    from riskmap.settings import Settings

    with TestClient(create_app(Settings(db=f"sqlite:///{demo_db}"))) as client:
        r = client.get("/print/poster.pdf", params={"layers": WITH_HAZARDS, "paper": "A4"})
        assert r.status_code == 200 and "未整改" in pdftotext(r.content, tmp_path)
        past = client.get("/print/poster.pdf", params={"layers": WITH_HAZARDS, "at": now().isoformat()})
        assert past.status_code == 422 and "no hazards layer" in past.json()["detail"]
        bad = client.get("/print/poster.pdf", params={"layers": "regions,hazardz"})
        assert bad.status_code == 422 and "hazards" in bad.json()["detail"]
    url = demo_url(tmp_path_factory)
    out = tmp_path / "hazards.pdf"
    proc = run_cli("poster", out, "--db", url, "--paper", "A4", "--layers", WITH_HAZARDS)
    assert proc.returncode == 0, proc.stderr
    assert "未整改" in pdftotext(out.read_bytes(), tmp_path)
    refused = run_cli("poster", tmp_path / "past.pdf", "--db", url, "--layers", WITH_HAZARDS, "--at",
                      now().isoformat())
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip() and "Fontconfig" not in ln]
    assert refused.returncode == 1 and len(lines) == 1 and "no hazards layer" in lines[0], refused.stderr
    with pytest.raises(InputError):
        print_hazards(None, plant.enterprise.name, now())
