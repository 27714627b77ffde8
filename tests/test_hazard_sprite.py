"""The hazards' MapLibre sprite (riskmap.render.hazardsprite): every icon the style's expressions can name is in it,
drawn by the tiles' own code (each state's fill at the symbol's centre, at both pixel ratios), no pixel near a risk
colour; served with an ETag; and the risk style draws the hazards above the labels with the sprite's URL."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from riskmap.render import hazardsprite
from riskmap.render.style import load_hazard_style


@pytest.fixture(scope="module")
def client(demo_db_url):
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings

    with TestClient(create_app(Settings(db=demo_db_url))) as c:
        yield c


RISK_COLOURS = ((255, 0, 0), (255, 140, 0), (255, 255, 0), (0, 112, 192))


@pytest.fixture(scope="module")
def style():
    return load_hazard_style()


def _names(style) -> set[str]:
    sizes = {f"{float(px):g}" for _, px in style.size}
    names = {f"hazard-{lv}-{g}-{o}-{px}" for lv in ("major", "general") for g in style.groups for o in (0, 1)
             for px in sizes}
    names |= {f"cluster-{n}" for n in range(2, 100)} | {"cluster-99+"}
    names |= {f"badge-{k}-{n}" for k in ("major", "overdue") for n in range(1, 10)}
    names |= {f"badge-{k}-9+" for k in ("major", "overdue")}
    return names


@pytest.mark.parametrize("ratio", [1, 2])
def test_sprite_holds_every_icon_the_style_names_drawn_in_its_fill(style, ratio):
    png, index = hazardsprite.sprite(style, ratio)
    index = json.loads(index)
    assert set(index) == _names(style)
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)
    for name, at in index.items():
        assert at["pixelRatio"] == ratio
        icon = sheet[at["y"]:at["y"] + at["height"], at["x"]:at["x"] + at["width"]]
        assert icon.shape[:2] == (at["height"], at["width"]) and icon[..., 3].max() == 255, name
        if name.startswith("hazard-"):
            _, _, group, overdue, _ = name.split("-")
            fill = style.groups[group]["fill"]
            want = np.array([int(fill[k:k + 2], 16) for k in (1, 3, 5)])
            centre = icon[at["height"] // 2, at["width"] // 2]
            assert np.abs(centre[:3] - want).max() <= 3 and centre[3] == 255, (name, centre)
            # an overdue symbol has its black ring; the corners stay clear either way
            ring = icon[at["height"] // 2, : at["width"] // 5]
            assert ((ring[:, :3].max(axis=1) < 60) & (ring[:, 3] > 200)).any() == (overdue == "1"), name
    drawn = sheet[sheet[..., 3] == 255][:, :3]
    for risk in RISK_COLOURS:
        assert (np.abs(drawn - np.array(risk)).max(axis=1) <= 40).sum() == 0, risk


def test_icons_at_two_pixel_ratios_have_the_same_css_size(style):
    one = json.loads(hazardsprite.sprite(style, 1)[1])
    two = json.loads(hazardsprite.sprite(style, 2)[1])
    for name in one:
        assert (two[name]["width"], two[name]["height"]) == (2 * one[name]["width"], 2 * one[name]["height"])


def test_the_layers_name_sizes_by_zoom_as_the_tiles_do(style):
    layers = hazardsprite.symbol_layers(style)
    assert [la["id"] for la in layers] == ["hazards-closed", "hazards-awaiting", "hazards-open", "hazards-clusters",
                                           "hazards-cluster-major", "hazards-cluster-overdue"]
    step = layers[2]["layout"]["icon-image"]
    assert step[:2] == ["step", ["zoom"]]
    stops = dict(zip(step[3::2], [e[-1] for e in step[4::2]], strict=True))
    for z, px in stops.items():
        assert f"{style.size_at(z):g}" == px
    for row in hazardsprite.legend(style):
        assert row["icon"] in _names(style)


def test_sprite_route_and_the_risk_style(client):
    first = client.get("/styles/sprites/hazards@2x.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    again = client.get("/styles/sprites/hazards@2x.png", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    index = client.get("/styles/sprites/hazards.json")
    assert index.status_code == 200 and "hazard-major-open-1-17" in index.json()
    missing = client.get("/styles/sprites/hazards@3x.png")
    assert missing.status_code == 404 and "hazards.json" in missing.json()["detail"]
    doc = client.get("/styles/risk/style.json").json()
    assert doc["sprite"].endswith("/styles/sprites/hazards")
    ids = [la["id"] for la in doc["layers"]]
    assert ids.index("labels") < ids.index("hazards-open") and ids[-1] == "hazards-cluster-overdue"
    assert doc["sources"]["hazards"]["url"].split("?")[0].endswith("/tiles/hazards/tilejson.json")
    assert "hazards" in doc["metadata"]["riskmap:legend"]
    # a map without hazards has no sprite
    assert "sprite" not in client.get("/styles/staleness/style.json").json()
