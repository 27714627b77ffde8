"""GDAL's DXF edge-case files (../shared/realdata/gdal-dxf): each imports with valid, finite geometry or is
refused with a LayoutImportError; nothing else escapes, nothing hangs. Where the right answer is known,
check it."""

from __future__ import annotations

import contextlib
import math
import re
import signal
from pathlib import Path

import ezdxf
import numpy as np
import pytest
import shapely
from ezdxf import path as ezpath
from ezdxf.math import Matrix44

from riskmap.errors import LayoutImportError
from riskmap.geo.dxf import read_dxf

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "../shared/realdata/gdal-dxf"
if not CORPUS.is_dir():
    pytest.skip(f"GDAL DXF corpus not found at {CORPUS.resolve()}", allow_module_level=True)

FILES = sorted(CORPUS.glob("*.dxf"))
SECONDS_PER_FILE = 20
# 1 cm chord error plus ezdxf's Bézier drawing of arcs in the reference paths
TOLERANCE = 0.0125


@contextlib.contextmanager
def time_limit(seconds: int):
    def expired(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(path, **kwargs):
    with time_limit(SECONDS_PER_FILE):
        return read_dxf(path, **kwargs)


def test_corpus_is_there():
    assert len(FILES) >= 20


@pytest.mark.parametrize("engine", ["auto", "ezdxf"])
@pytest.mark.parametrize("path", FILES, ids=[p.name[:40] for p in FILES])
def test_imports_cleanly_or_is_refused(path, engine):
    for layer_map in (None, {"*": "equipment"}):
        try:
            raw = read(path, layer_map=layer_map, engine=engine)
        except LayoutImportError as exc:
            zh, en = exc.message.split(" / ", 1)
            assert re.search(r"[\u4e00-\u9fff]", zh), exc.message
            continue
        feats = raw.features
        assert len(feats) > 0
        assert list(feats.columns) == ["fid", "name", "role", "layer", "properties", "geometry"]
        geoms = feats.geometry.to_numpy()
        assert shapely.is_valid(geoms).all(), [shapely.is_valid_reason(g) for g in geoms]
        assert not shapely.is_empty(geoms).any()
        assert np.isfinite(shapely.get_coordinates(geoms)).all()
        assert feats.fid.is_unique and feats.fid.map(lambda f: isinstance(f, str) and f != "").all()
        assert set(feats.role) <= {"region", "building", "equipment", "road", "fence", "other"}
        assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in raw.dropped.items())


def expected(doc, fid: str) -> list[np.ndarray]:
    """The entity behind a fid through ezdxf's own INSERT matrices and paths (WCS points)."""
    parts = fid.split("/")
    total = Matrix44()
    for handle in reversed(parts[:-1]):
        total = total @ doc.entitydb[handle].matrix44()
    entity = doc.entitydb[parts[-1]]
    paths = list(ezpath.from_hatch(entity)) if entity.dxftype() == "HATCH" else [ezpath.make_path(entity)]
    return [np.array([(v.x, v.y) for v in (total.transform(p) for p in path.flattening(0.0005))])
            for path in paths]


@pytest.mark.parametrize("name", ["LWPOLYLINE-OCS.dxf", "ocs2wcs3.dxf", "block-basepoint.dxf", "insert_only.dxf",
                                  "polyline_smooth.dxf", "spline_closed.dxf", "text-fancy.dxf",
                                  "block-hidden-entities.dxf", "solid-vertex-ordering.dxf"])
def test_geometry_matches_ezdxf(name):
    doc = ezdxf.readfile(CORPUS / name)
    # fids are ezdxf's handles on the ezdxf engine, also for entities the file gave none
    feats = read(CORPUS / name, layer_map={"*": "other"}, engine="ezdxf").features
    fast = read(CORPUS / name, layer_map={"*": "other"}).features
    assert len(feats) and sorted(shapely.to_wkb(feats.geometry)) == sorted(shapely.to_wkb(fast.geometry))
    for fid, geom in zip(feats.fid, feats.geometry, strict=True):
        target = shapely.boundary(geom) if geom.geom_type.endswith("Polygon") else geom
        for pts in expected(doc, fid):
            line = shapely.LineString(pts)
            sample = shapely.points(shapely.get_coordinates(shapely.segmentize(line, max(0.05, line.length / 2000))))
            assert float(shapely.distance(sample, target).max()) < TOLERANCE, (name, fid)


def test_ocs_polylines_land_in_wcs():
    feats = read(CORPUS / "LWPOLYLINE-OCS.dxf").features
    assert len(feats) == 13 and (feats.geom_type == "Polygon").sum() == 1


def test_closed_polyline_with_bulge_has_the_true_area():
    # area of the straight-edged polygon plus, per bulge, the circular segment it adds (bulge > 0: to the left)
    text = (CORPUS / "closed_polyline_with_bulge.dxf").read_text().split("\n")
    tags = [(int(c), v.strip()) for c, v in zip(text[0::2], text[1::2], strict=False) if c.strip()]
    verts, bulges = [], []
    for code, value in tags:
        if code == 10:
            verts.append([float(value), None])
            bulges.append(0.0)
        elif code == 20:
            verts[-1][1] = float(value)
        elif code == 42:
            bulges[-1] = float(value)
    xy = np.array(verts) - np.array(verts[0])
    nxt = np.roll(xy, -1, axis=0)
    area = 0.5 * np.sum(xy[:, 0] * nxt[:, 1] - nxt[:, 0] * xy[:, 1])
    for p, q, b in zip(xy, nxt, bulges, strict=True):
        if b:
            theta = 4 * math.atan(b)
            chord = float(np.hypot(*(q - p)))
            r = chord / (2 * abs(math.sin(theta / 2)))
            area += math.copysign(r * r / 2 * (abs(theta) - math.sin(abs(theta))), b)
    raw = read(CORPUS / "closed_polyline_with_bulge.dxf")
    (geom,) = raw.features.geometry
    assert geom.geom_type == "Polygon" and raw.features.fid.tolist() == ["215"]
    assert geom.area == pytest.approx(abs(area), rel=1e-4)
    assert geom.area < abs(area)              # chords cut inside the arcs
    assert raw.features.layer.tolist() == ["test"]


def test_circle_is_a_polygon_and_the_huge_arc_a_line():
    feats = read(CORPUS / "circle.dxf").features
    circle = feats[feats.geom_type == "Polygon"].geometry.iloc[0]
    assert (circle.centroid.x, circle.centroid.y) == pytest.approx((1, 2), abs=1e-9)
    assert circle.area == pytest.approx(math.pi * 16, rel=5e-3)
    arc = feats[feats.geom_type == "LineString"].geometry.iloc[0]
    assert arc.length == pytest.approx(5000 * math.radians(2), rel=1e-4)
    start = arc.coords[0]
    assert start == pytest.approx((5200, 100))


def test_hatches(capfd):
    raw = read(CORPUS / "hatch.dxf")
    feats = raw.features
    # ezdxf's complaint about the repeated handle goes into the report, not onto stderr
    assert capfd.readouterr().err == ""
    assert any("ezdxf" in w and "#43" in w for w in raw.warnings)
    areas = sorted(g.area for g in feats.geometry)
    assert areas[0] == pytest.approx(0.5)                       # the triangle of line edges
    for a in areas[1:]:                                         # unit squares with four half-disc bulges
        assert a == pytest.approx(1 + math.pi / 2, rel=1e-2)
    assert feats.fid.is_unique                                  # the file repeats handle 43
    multi = read(CORPUS / "hatch_as_multipolygon.dxf").features
    (geom,) = multi.geometry
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 5
    assert multi.layer.tolist() == ["Строения"]                 # UTF-8 under an ANSI_1251 header


def test_solid_corner_order():
    feats = read(CORPUS / "solid-vertex-ordering.dxf").features
    first = feats.set_index("fid").loc["5BB", "geometry"]
    assert shapely.equals(first, shapely.Polygon([(0, 5), (1.5, 2.5), (1.5, 0), (0, 2.5)]))


def test_utf8_layer_name_and_points_on_equipment_layers():
    raw = read(CORPUS / "utf-8.dxf", layer_map={"éven": "equipment"})
    assert raw.features.layer.tolist() == ["éven"]
    assert raw.features.geometry.iloc[0].coords[0] == (1, 2)
    points = read(CORPUS / "entities_only.dxf", layer_map={"POINTS": "equipment"}).features
    assert sorted((p.x, p.y) for p in points.geometry) == [(672500, 242000), (672750, 242000)]


def test_hidden_entities_stay_hidden():
    raw = read(CORPUS / "block-hidden-entities.dxf")
    assert len(raw.features) == 2 and raw.dropped["invisible"] == 2


def test_nested_attrib_names_a_shape_around_it(tmp_path):
    # the ATTRIB "Gamma Goochee" sits at (1, -3) in OUTERBLOCK, whose INSERT at (-2, 3) scales x by 2: (0, 0)
    text = (CORPUS / "attrib-nested.dxf").read_text()
    square = ("  0\nLWPOLYLINE\n  5\nFFF1\n  8\n0\n 90\n4\n 70\n1\n 10\n-1\n 20\n-1\n 10\n1\n 20\n-1\n"
              " 10\n1\n 20\n1\n 10\n-1\n 20\n1\n")
    head, tail = text.rsplit("  0\nENDSEC", 1)
    path = tmp_path / "attrib.dxf"
    path.write_text(head + square + "  0\nENDSEC" + tail)
    feats = read(path).features
    assert feats.name.tolist() == ["Gamma Goochee"]


@pytest.mark.parametrize(("name", "words"), [
    ("insert-too-many-errors.dxf", ()),
    ("clusterfuzz-testcase-minimized-shape_fuzzer-6126814756995072.dxf", ("不是 DXF",)),
    ("clusterfuzz-testcase-minimized-dxf_fuzzer-5400376672124928.dxf", ("不完整",)),
    ("attrib-nested.dxf", ("没有可用的图元",)),
])
def test_refused(name, words):
    with pytest.raises(LayoutImportError) as info:
        read(CORPUS / name)
    for word in words:
        assert word in info.value.message
