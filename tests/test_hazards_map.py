"""The hazards tile layer (riskmap.render.hazardtiles): PNG pixels never in a risk colour, MVT features with the
hazard's fields or cluster counts, the filters, the caching contract, a report showing on the next tile, and the
style file refusing a risk colour."""

from __future__ import annotations

import shutil

import kit
import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.errors import RiskmapError
from riskmap.render.style import RISK_COLOURS, load_hazard_style
from riskmap.settings import Settings
from riskmap.store import hazards, open_store
from riskmap.symbology import layers_dir

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def demo(demo_db_url):
    app = create_app(Settings(db=demo_db_url))
    store = open_store(demo_db_url)
    name = store.enterprises()[0].name
    frame = hazards.hazards_frame(store, name)
    store.close()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, frame


def _tiles_around(frame, z: int) -> set[tuple[int, int]]:
    return {(t.x, t.y) for t in (TMS.tile(p.x, p.y, z) for p in frame.geometry.representative_point())}


def _risk_near(pixels: np.ndarray, limit: float = 60.0) -> int:
    seen = pixels[pixels[..., 3] >= 64][:, :3].astype(float)
    return sum(int((np.linalg.norm(seen - kit.hex_rgb(c), axis=1) < limit).sum()) for c in RISK_COLOURS)


def test_png_tiles_draw_hazards_and_never_a_risk_colour(demo):
    client, frame = demo
    drawn = 0
    for z in (14, 16, 17, 19):
        for x, y in _tiles_around(frame, z):
            for suffix in (".png", "@2x.png"):
                r = client.get(f"/tiles/hazards/{z}/{x}/{y}{suffix}")
                assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
                pixels = kit.rgba(r.content)
                assert pixels.shape[0] == (512 if "@2x" in suffix else 256)
                assert _risk_near(pixels) == 0, (z, x, y)
                drawn += int((pixels[..., 3] > 0).sum())
    assert drawn > 1000
    # an open hazard is magenta at a high zoom
    open_one = frame[frame["state"] == "rectifying"].geometry.iloc[0].representative_point()
    t = TMS.tile(open_one.x, open_one.y, 19)
    pixels = kit.rgba(client.get(f"/tiles/hazards/19/{t.x}/{t.y}.png").content)
    assert (np.linalg.norm(pixels[..., :3].astype(float) - kit.hex_rgb("#B000B0"), axis=2)[pixels[..., 3] > 250]
            < 10).sum() > 20


def _mvt_features(client, z, frame, **params) -> list[dict]:
    out = []
    for x, y in _tiles_around(frame, z):
        r = client.get(f"/tiles/hazards/{z}/{x}/{y}.mvt", params=params)
        assert r.status_code == 200, r.text
        out += kit.mvt(r.content).get("hazards", {}).get("features", [])
    return out


def test_mvt_features_carry_the_hazard_and_clusters_carry_counts(demo):
    client, frame = demo
    shown = frame[frame["state"] != "rejected"]
    single = _mvt_features(client, 18, frame)
    ids = {f["properties"]["hazard_id"] for f in single}
    assert ids == set(shown["id"])
    one = next(f for f in single if f["properties"]["hazard_id"] == shown["id"].iloc[0])["properties"]
    row = shown.iloc[0]
    assert one["state"] == row["state"] and one["hazard_level"] == row["level"] and not one["cluster"]
    assert one["overdue"] == bool(row["overdue"]) and "colour" not in one
    clusters = _mvt_features(client, 14, frame)
    assert any(f["properties"]["cluster"] for f in clusters)
    # every hazard counted once per tile it falls in: counts add up over the tiles holding them
    counted = [f["properties"] for f in clusters]
    assert sum(p["count"] for p in counted) >= len(shown)
    assert sum(p["major_count"] for p in counted) >= int((shown["level"] == 1).sum()) > 0
    assert sum(p["overdue_count"] for p in counted) >= int(shown["overdue"].sum()) > 0


def test_filters(demo):
    client, frame = demo
    major = _mvt_features(client, 18, frame, level=1)
    assert major and {f["properties"]["hazard_level"] for f in major} == {1}
    late = _mvt_features(client, 18, frame, overdue=1)
    assert {f["properties"]["hazard_id"] for f in late} == set(frame[frame["overdue"]]["id"])
    done = _mvt_features(client, 18, frame, state="accepted,closed")
    assert done and {f["properties"]["group"] for f in done} == {"closed"}
    rejected = _mvt_features(client, 18, frame, state="rejected")
    assert {f["properties"]["hazard_id"] for f in rejected} == set(frame[frame["state"] == "rejected"]["id"])
    dept = frame["department"].dropna().iloc[0]
    mine = _mvt_features(client, 18, frame, department=dept)
    assert mine and {f["properties"]["department"] for f in mine} == {dept}
    long_ago = _mvt_features(client, 18, frame, at="2000-01-01T00:00:00")
    assert long_ago == []
    x, y = next(iter(_tiles_around(frame, 18)))
    for bad in ({"level": "2"}, {"state": "gone"}, {"overdue": "maybe"}, {"department": "部" * 101},
                {"at": "yesterday"}, {"v": "x"}):
        r = client.get(f"/tiles/hazards/18/{x}/{y}.png", params=bad)
        assert r.status_code in (400, 422), (bad, r.status_code)
        assert "/" in r.json()["detail"]
    assert client.get("/tiles/hazards/18/0/0.png", params={"drawing": "anything"}).status_code in (404, 422)


def test_caching_contract_and_tilejson(demo):
    client, frame = demo
    x, y = next(iter(_tiles_around(frame, 17)))
    r = client.get(f"/tiles/hazards/17/{x}/{y}.png")
    tag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache"
    assert client.get(f"/tiles/hazards/17/{x}/{y}.png", headers={"If-None-Match": tag}).status_code == 304
    assert client.get(f"/tiles/hazards/17/{x}/{y}.png", params={"level": 1}).headers["etag"] != tag
    tj = client.get("/tiles/hazards/tilejson.json", params={"format": "mvt", "level": 1})
    assert tj.status_code == 200
    doc = tj.json()
    assert "level=1" in doc["tiles"][0] and f"v={doc['data_version']}" in doc["tiles"][0]
    assert doc["vector_layers"][0]["id"] == "hazards" and doc["minzoom"] <= 14
    r = client.get(f"/tiles/hazards/17/{x}/{y}.png", params={"v": doc["data_version"]})
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    old = client.get(f"/tiles/hazards/17/{x}/{y}.png", params={"v": doc["data_version"] - 1},
                     follow_redirects=False)
    assert old.status_code == 302 and f"v={doc['data_version']}" in old.headers["location"]


def test_a_report_shows_on_the_next_tile(demo_copy):
    store = open_store(demo_copy)
    name = store.enterprises()[0].name
    token = kit.person_token(store, ["inspector"], "巡检员", name)
    frame = hazards.hazards_frame(store, name)
    spot = frame.geometry.iloc[0].representative_point()
    lon, lat = spot.x + 0.0004, spot.y + 0.0003
    app = create_app(Settings(db=demo_copy))
    with TestClient(app, raise_server_exceptions=False) as client:
        t = TMS.tile(lon, lat, 19)
        path = f"/tiles/hazards/19/{t.x}/{t.y}.mvt"
        before = kit.mvt(client.get(path).content).get("hazards", {}).get("features", [])
        r = client.post("/api/hazards", params={"enterprise": name}, headers={"Authorization": f"Bearer {token}"},
                        json={"name": "新发现的跑冒滴漏", "source": 1, "hazard_type": 4,
                              "location": {"type": "Point", "coordinates": [lon, lat]}})
        assert r.status_code == 201, r.text
        new_id = r.json()["hazard"]["id"]
        after = kit.mvt(client.get(path).content)["hazards"]["features"]
        assert {f["properties"]["hazard_id"] for f in after} - {f["properties"]["hazard_id"] for f in before} \
            == {new_id}
    store.close()


def test_the_style_refuses_a_risk_colour(tmp_path):
    for name in ("levels.yaml", "hazards.yaml"):
        shutil.copy(layers_dir() / name, tmp_path / name)
    assert load_hazard_style(tmp_path).group_of("rectifying") == "open"
    text = (tmp_path / "hazards.yaml").read_text(encoding="utf-8")
    (tmp_path / "hazards.yaml").write_text(text.replace('"#B000B0"', '"#F01010"', 1), encoding="utf-8")
    with pytest.raises(RiskmapError, match="risk colour"):
        load_hazard_style(tmp_path)
    (tmp_path / "hazards.yaml").write_text(text.replace("rejected]", "]"), encoding="utf-8")
    with pytest.raises(RiskmapError, match="exactly one group"):
        load_hazard_style(tmp_path)


def test_web_map_layer_legend_and_identify(demo):
    client, frame = demo
    config = client.get("/api/map/config").json()
    names = [x["name"] for x in config["layers"]]
    assert "hazards" in names and names.index("hazards") > names.index("regions")
    legend = config["hazard_legend"]
    assert {row["key"] for row in legend} >= {"state-open", "level-major", "overdue", "cluster"}
    import base64

    for row in legend:
        assert row["zh"] and row["en"] and row["image"].startswith("data:image/png;base64,")
        pixels = kit.rgba(base64.b64decode(row["image"].split(",", 1)[1]))
        assert (pixels[..., 3] > 0).any() and _risk_near(pixels) == 0
    target = frame[frame["state"] == "rectifying"].iloc[0]
    spot = target.geometry.representative_point()
    r = client.get("/api/identify", params={"lon": spot.x, "lat": spot.y, "zoom": 19})
    assert r.status_code == 200
    found = r.json()["hazards"]
    assert found[0]["id"] == target["id"] and found[0]["state_zh"] and found[0]["state"] == "rectifying"
    far = client.get("/api/identify", params={"lon": spot.x + 0.01, "lat": spot.y, "zoom": 19}).json()
    assert far["hazards"] == []


def test_the_phone_page_escapes_names_and_loads_nothing_from_outside(store_url):
    import re

    from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
    from riskmap.levels import Level

    hostile = "<img src=x onerror=alert(1)>"
    with open_store(store_url) as store:
        store.save_units("厂", [AssessmentUnit("P-1", hostile, UnitKind.POST, events=[
            RiskEvent(hostile, residual_level=Level.MAJOR, controls=[ControlMeasure(hostile)],
                      emergency_measures=f"关阀；{hostile}</script>")])])
    with TestClient(create_app(Settings(db=store_url))) as client:
        page = client.get("/u/P-1")
        assert page.status_code == 200 and hostile not in page.text and "</script>\"" not in page.text
        assert page.text.count("&lt;img src=x onerror=alert(1)&gt;") >= 3
        assert 'name="viewport"' in page.text and 'href="tel:' not in page.text        # no phone on record
        assert "#FF0000" in page.text                                                   # the unit's own level
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', page.text)
        assert client.get("/u/P-1", params={"lang": "fr"}).status_code == 422
        english = client.get("/u/P-1", params={"lang": "en"}).text
        assert "Risk level" in english and "Report a hazard" in english
