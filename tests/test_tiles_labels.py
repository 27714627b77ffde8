"""The labels layer: names as a PNG layer of their own (so the web map can switch them), and `labels=0` on the
regions/units/layout tiles; decoded pixels: text present where it belongs, absent where it was switched off."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from kit import TMS, make_client, map_rows, rgba

TEXT = np.array([0x1A, 0x1A, 0x1A])          # regions.yaml / units.yaml label colour


@pytest.fixture(scope="module")
def demo(demo_db):
    return f"sqlite:///{demo_db}", make_client(f"sqlite:///{demo_db}")


def text_pixels(px: np.ndarray) -> np.ndarray:
    """Opaque pixels of the label colour (glyph cores; halos are white, fills are level colours)."""
    return (px[..., 3] > 200) & (np.abs(px[..., :3].astype(int) - TEXT).max(axis=-1) <= 40)


def region_tile(url: str, z: int):
    """The tile holding the label anchor of the largest region (its label is drawn there)."""
    rows = map_rows(url, "regions")
    big = max(rows, key=lambda r: r["geometry"].area)
    anchor = shapely.point_on_surface(big["geometry"])
    lon, lat = TMS.lnglat(anchor.x, anchor.y)
    return TMS.tile(lon, lat, z)


def test_labels_layer_holds_the_names_the_region_tile_leaves_out(demo):
    url, client = demo
    t = region_tile(url, 17)
    with_names = rgba(client.get(f"/tiles/regions/17/{t.x}/{t.y}.png").content)
    without = client.get(f"/tiles/regions/17/{t.x}/{t.y}.png?labels=0")
    assert without.status_code == 200
    without = rgba(without.content)
    labels = rgba(client.get(f"/tiles/labels/17/{t.x}/{t.y}.png").content)
    assert text_pixels(with_names).sum() > 20
    assert text_pixels(without).sum() == 0
    assert text_pixels(labels).sum() > 20
    # the labels tile is text only: transparent around the names, no fills
    assert (labels[..., 3] == 0).mean() > 0.8
    # the names sit where the combined tile drew them
    both = text_pixels(with_names) & text_pixels(labels)
    assert both.sum() >= 0.5 * text_pixels(with_names).sum()
    # below every label zoom the labels layer is empty
    low = region_tile(url, 13)
    assert (rgba(client.get(f"/tiles/labels/13/{low.x}/{low.y}.png").content)[..., 3] == 0).all()


def test_labels_tilejson_and_urls(demo):
    _, client = demo
    doc = client.get("/tiles/labels/tilejson.json").json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] == 16 and "/tiles/labels/{z}/{x}/{y}.png" in doc["tiles"][0]
    regions = client.get("/tiles/regions/tilejson.json", params={"labels": "0"}).json()
    assert "labels=0" in regions["tiles"][0]
    assert "labels=0" not in client.get("/tiles/regions/tilejson.json").json()["tiles"][0]
    assert client.get("/tiles/labels/tilejson.json", params={"format": "mvt"}).status_code == 404
    r = client.get("/tiles/labels/17/1/1.mvt")
    assert r.status_code == 404 and "PNG" in r.json()["detail"]


def test_versioned_and_cached_labels_tiles_keep_their_options_apart(demo):
    url, client = demo
    t = region_tile(url, 17)
    doc = client.get("/tiles/regions/tilejson.json", params={"labels": "0"}).json()
    path = doc["tiles"][0].split("//", 1)[1].split("/", 1)[1]
    path = "/" + path.replace("{z}", "17").replace("{x}", str(t.x)).replace("{y}", str(t.y))
    for _ in range(2):                                  # the second answer comes from the cache (fast path)
        first = client.get(path)
        assert first.headers["cache-control"].startswith("public") and text_pixels(rgba(first.content)).sum() == 0
        named = client.get(path.replace("labels=0&", "").replace("&labels=0", ""))
        assert text_pixels(rgba(named.content)).sum() > 20
    etag = client.get(f"/tiles/regions/17/{t.x}/{t.y}.png?labels=0").headers["etag"]
    assert etag != client.get(f"/tiles/regions/17/{t.x}/{t.y}.png").headers["etag"]
    assert client.get(f"/tiles/regions/17/{t.x}/{t.y}.png?labels=0",
                      headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("bad", ["maybe", "2", "x" * 300])
def test_bad_labels_parameter_is_a_422(demo, bad):
    _, client = demo
    r = client.get("/tiles/regions/17/1/1.png", params={"labels": bad})
    assert r.status_code == 422 and "labels" in r.json()["detail"]


def test_labels_of_some_layers_only(demo):
    """`layers=regions` leaves the unit names out (the plant view shows no units), `layers=units` the regions'."""
    url, client = demo
    t = region_tile(url, 17)
    everything = text_pixels(rgba(client.get(f"/tiles/labels/17/{t.x}/{t.y}.png").content)).sum()
    regions_only = client.get(f"/tiles/labels/17/{t.x}/{t.y}.png?layers=regions")
    units_only = client.get(f"/tiles/labels/17/{t.x}/{t.y}.png?layers=units")
    assert text_pixels(rgba(regions_only.content)).sum() > 20
    assert text_pixels(rgba(units_only.content)).sum() == 0          # unit names start at z19
    assert regions_only.headers["etag"] != client.get(f"/tiles/labels/17/{t.x}/{t.y}.png").headers["etag"]
    assert everything >= text_pixels(rgba(regions_only.content)).sum()
    doc = client.get("/tiles/labels/tilejson.json", params={"layers": "units,regions"}).json()
    assert "layers=regions%2Cunits" in doc["tiles"][0]
    for bad in ("roads", "", ",", "regions,roads"):
        r = client.get(f"/tiles/labels/17/{t.x}/{t.y}.png", params={"layers": bad})
        assert r.status_code == 422 and "layers" in r.json()["detail"], bad
        assert client.get("/tiles/labels/tilejson.json", params={"layers": bad}).status_code == 422
