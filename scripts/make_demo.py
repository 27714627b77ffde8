"""Generate the demo plant in data/demo/: a fictional methylamine plant in a Jiangsu chemical park.

Run `.venv/bin/python scripts/make_demo.py [--out DIR]`. The output is deterministic (fixed seed, fixed
reference date, ezdxf's fixed metadata), so re-running reproduces the committed files byte for byte and a
change to this script shows up as a reviewable diff of the data.

The plant, its people and phone numbers are invented. The levels the ledger should produce are checked
here with a small independent evaluator before anything is written, so the demo cannot silently lose one
of the four colours.
"""

# ruff: noqa: E501 - a data script: hazard texts and tables read best on one line each
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import ezdxf
import pyproj
import shapely
from ezdxf.enums import TextEntityAlignment
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "demo"

SEED = "riskmap-demo-2026"
# Assessment dates are drawn back from this fixed day (not from today) so the output never drifts.
REFERENCE_DATE = date(2026, 11, 1)

ENTERPRISE = {
    "name": "江苏示范化工有限公司（虚构）",
    "supervision_phone": "0523-5550-1100",
    "report_phone": "12350",
    "emergency_phone": "0523-5550-1119",
}

# ---------------------------------------------------------------------------------------------------
# Placement: plant coordinates (metres, origin at the fence's south-west corner) → CGCS2000 / 3-degree
# Gauss-Krüger CM 120°E (EPSG:4549) by a rotation of 8° (counter-clockwise) and a translation, scale 1.
# ---------------------------------------------------------------------------------------------------
PLANT_CRS = "EPSG:4549"
LONLAT_CRS = "EPSG:4490"
ORIGIN_LONLAT = (119.742, 32.318)   # somewhere in a fictional park between Yangzhou and Taizhou
ROTATION_DEG = 8.0
PLANT_SIZE = (600.0, 400.0)
# (local_x, local_y, noise east m, noise north m): corners plus the main gate, a few cm of survey error.
CONTROL_POINTS = (
    (0.0, 0.0, 0.021, -0.013),
    (600.0, 0.0, -0.034, 0.018),
    (600.0, 400.0, 0.012, 0.027),
    (0.0, 400.0, -0.019, -0.030),
    (160.0, 0.0, 0.026, 0.011),
)

# ---------------------------------------------------------------------------------------------------
# Layout. Blocks between the roads (centre lines x = 10/160/320/460/590, y = 10/140/270/390):
#   x  A 17–153   B 167–313   C 327–453   D 467–583
#   y  S 17–133   M 147–263   N 277–383
# Shapes are rectangles with optional rounded corners, capsules (rounded ends) and circles.
# ---------------------------------------------------------------------------------------------------
QUARTER = math.tan(math.radians(90) / 4)   # bulge of a quarter-circle arc


def rect(x0: float, y0: float, x1: float, y1: float, r: float = 0.0, corners: str = "") -> list[tuple]:
    """Counter-clockwise rectangle as (x, y, bulge) vertices; `corners` (sw, se, ne, nw) get radius r."""
    pts: list[tuple] = []
    for corner, (cx, cy), (ax, ay), (bx, by) in (
        ("sw", (x0, y0), (x0, y0 + r), (x0 + r, y0)),
        ("se", (x1, y0), (x1 - r, y0), (x1, y0 + r)),
        ("ne", (x1, y1), (x1, y1 - r), (x1 - r, y1)),
        ("nw", (x0, y1), (x0 + r, y1), (x0, y1 - r)),
    ):
        if r and corner in corners.split(","):
            pts.append((ax, ay, QUARTER))
            pts.append((bx, by, 0.0))
        else:
            pts.append((cx, cy, 0.0))
    return pts


def capsule(x0: float, x1: float, y: float, r: float) -> list[tuple]:
    """A horizontal vessel in plan: straight sides, half-circle heads (bulge 1)."""
    return [(x0, y - r, 0.0), (x1, y - r, 1.0), (x1, y + r, 0.0), (x0, y + r, 1.0)]


@dataclass
class Shape:
    name: str | None
    layer: str
    kind: str                     # "poly" | "circle" | "insert"
    points: list[tuple] = field(default_factory=list)
    centre: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    block: str = ""
    rotation: float = 0.0
    label: tuple[float, float] | None = None   # where the name goes; default: the centre
    height: float = 1.5


def poly(name, layer, points, label=None, height=1.5):
    return Shape(name, layer, "poly", points=points, label=label, height=height)


def circle(name, x, y, r, height=0.6):
    return Shape(name, "设备", "circle", centre=(x, y), radius=r, height=height)


def insert(name, block, x, y, rotation=0.0, height=0.4):
    return Shape(name, "设备", "insert", centre=(x, y), block=block, rotation=rotation, height=height)


R, B, Q = "区域", "建筑物", "设备"

# Region name → (outline, label point). Target levels are asserted against the ledger further down.
REGIONS: list[Shape] = [
    poly("停车场", R, rect(17, 17, 70, 133, 6, "sw"), (43.5, 75), 3),
    poly("行政办公区", R, rect(78, 17, 153, 82), (115, 72), 3),
    poly("生活服务区", R, rect(78, 90, 153, 133, 5, "ne"), (115, 128), 2.5),
    poly("主大门区", R, rect(167, 17, 195, 45), (181, 39), 2),
    poly("中心控制区", R, rect(203, 17, 255, 82), (229, 73), 3),
    poly("质检区", R, rect(263, 17, 313, 82), (288, 71), 3),
    poly("维修区", R, rect(167, 92, 313, 133), (275, 127.5), 3),
    poly("空压制氮区", R, rect(327, 17, 392, 82), (372, 70), 2.5),
    poly("冷冻站区", R, rect(400, 17, 453, 82), (427, 71), 3),
    poly("成品库区", R, rect(327, 92, 402, 133), (364, 128), 2.5),
    poly("包装区", R, rect(410, 92, 453, 133), (431, 128), 2.5),
    poly("物流入口区", R, rect(467, 17, 522, 52), (495, 44), 2.5),
    poly("危废暂存区", R, rect(530, 17, 583, 52), (556, 47), 2.5),
    poly("装卸区", R, rect(467, 62, 583, 133, 8, "ne"), (505, 75), 3),
    poly("变配电区", R, rect(17, 147, 80, 263), (48, 250), 3),
    poly("锅炉房区", R, rect(88, 147, 153, 263, 6, "nw"), (124, 252), 3),
    poly("合成装置区", R, rect(167, 147, 313, 263), (240, 250), 3.5),
    poly("精馏装置区", R, rect(327, 147, 453, 208), (405, 200), 3),
    poly("中间罐区", R, rect(327, 218, 453, 263), (425, 247), 3),
    poly("循环水站", R, rect(467, 147, 583, 205), (500, 195), 3),
    poly("消防泵房区", R, rect(467, 215, 583, 263), (486, 256), 2.5),
    poly("污水处理站", R, rect(17, 277, 153, 383, 10, "nw"), (125, 350), 3),
    poly("应急物资库区", R, rect(167, 277, 225, 330), (196, 324), 2.5),
    poly("微型消防站区", R, rect(167, 340, 225, 383), (196, 378), 2.5),
    poly("事故应急池", R, rect(235, 277, 313, 335), (274, 330.5), 2.5),
    poly("初期雨水池", R, rect(235, 343, 313, 383), (274, 379), 2.5),
    poly("罐区", R, rect(327, 277, 453, 383, 8, "ne,nw"), (367, 373), 4),
    poly("危险化学品库区", R, rect(467, 277, 540, 383), (503, 375), 2.5),
    poly("火炬区", R, rect(550, 320, 583, 383), (566.5, 376), 2.5),
]

# The office has a half-round lobby bulging south (bulge 0.5: a counter-clockwise arc
# bulges to the right of the direction of travel, here outwards).
OFFICE = [(88, 27, 0.0), (105, 27, 0.5), (126, 27, 0.0), (143, 27, 0.0), (143, 52, 0.0), (88, 52, 0.0)]

BUILDINGS: list[Shape] = [
    poly("办公楼", B, OFFICE, (115, 40)),
    poly("食堂", B, rect(88, 97, 135, 122), (111, 110)),
    poly("1号门卫", B, rect(171, 21, 186, 31), (178.5, 26), 1.2),
    poly("中控室", B, rect(210, 25, 248, 62, 3, "ne,nw"), (229, 43)),
    poly("化验室", B, rect(270, 25, 306, 58), (288, 41)),
    poly("机修车间", B, rect(175, 97, 240, 127), (220, 112)),
    poly("备品备件库", B, rect(250, 97, 300, 120), (275, 108)),
    poly("空压站", B, rect(333, 24, 358, 52), (345.5, 38), 1.2),
    poly("制氮站", B, rect(363, 24, 386, 52), (374.5, 38), 1.2),
    poly("冷冻机房", B, rect(406, 24, 447, 58), (426.5, 41)),
    poly("成品仓库", B, rect(333, 97, 395, 122), (364, 110)),
    poly("包装车间", B, rect(415, 97, 448, 122), (431.5, 110), 1.2),
    poly("2号门卫", B, rect(471, 21, 485, 31), (478, 26), 1.2),
    poly("危废仓库", B, rect(537, 22, 576, 42), (556.5, 32)),
    poly("装车棚", B, rect(475, 88, 548, 112), (515, 108.5), 1.2),
    poly("装卸控制室", B, rect(556, 68, 577, 82), (566.5, 75), 1.2),
    poly("35kV变电所", B, rect(25, 175, 72, 232), (48.5, 203)),
    poly("锅炉房", B, rect(95, 165, 146, 218), (120.5, 205)),
    poly("反应车间", B, rect(175, 160, 262, 222), (250, 213)),
    poly("精馏泵房", B, rect(425, 152, 450, 175), (437.5, 171), 1.0),
    poly("循环水泵房", B, rect(471, 152, 505, 178), (488, 165), 1.2),
    poly("消防泵房", B, rect(471, 221, 501, 245), (486, 233), 1.2),
    poly("消防水池", B, rect(510, 221, 578, 256), (544, 238.5)),
    poly("污水处理综合间", B, rect(24, 284, 58, 308), (41, 296), 1.2),
    poly("调节池", B, rect(64, 284, 100, 318), (82, 301)),
    poly("生化池", B, rect(24, 326, 100, 370), (62, 348)),
    poly("污泥脱水间", B, rect(110, 284, 146, 310), (128, 297), 1.2),
    poly("应急物资库房", B, rect(173, 283, 215, 315), (194, 299), 1.2),
    poly("微型消防站", B, rect(173, 345, 215, 372), (194, 358.5), 1.2),
    poly("事故水池", B, rect(242, 283, 305, 326), (273.5, 304.5)),
    poly("雨水收集池", B, rect(242, 348, 300, 375), (271, 361.5), 1.2),
    poly("罐区泵棚", B, rect(410, 346, 447, 376), (428.5, 369), 1.2),
    poly("甲类危险化学品仓库", B, rect(474, 285, 533, 322), (503.5, 303.5), 1.2),
    poly("乙类危险化学品仓库", B, rect(474, 332, 533, 364), (503.5, 348), 1.2),
]

EQUIPMENT: list[Shape] = [
    # tank farm: four 500 m³ methanol tanks, two 120 m³ ammonia spheres, transfer pumps in the shelter
    circle("甲醇储罐T-101", 351, 303, 6.0, 0.8),
    circle("甲醇储罐T-102", 383, 303, 6.0, 0.8),
    circle("甲醇储罐T-103", 351, 341, 6.0, 0.8),
    circle("甲醇储罐T-104", 383, 341, 6.0, 0.8),
    circle("液氨储罐T-105", 428.5, 299, 4.0, 0.6),
    circle("液氨储罐T-106", 428.5, 323, 4.0, 0.6),
    insert("甲醇输送泵P-101A", "PUMP", 416, 356),
    insert("甲醇输送泵P-101B", "PUMP", 424, 356),
    insert("液氨输送泵P-102A", "PUMP", 432, 356),
    insert("液氨输送泵P-102B", "PUMP", 440, 356),
    # intermediate tank farm: liquefied methylamines in horizontal pressure vessels, aqueous amine tank
    poly("一甲胺储罐V-401", Q, capsule(337, 357, 229, 1.6), None, 0.6),
    poly("二甲胺储罐V-402", Q, capsule(337, 357, 238, 1.6), None, 0.6),
    poly("三甲胺储罐V-403", Q, capsule(337, 357, 247, 1.6), None, 0.6),
    circle("甲胺水溶液储罐V-404", 380, 240, 4.5, 0.6),
    # loading bay
    poly("甲醇卸车鹤位L-301", Q, rect(482, 96, 490, 104), None, 0.6),
    poly("甲胺装车鹤位L-302", Q, rect(505, 96, 513, 104), None, 0.6),
    poly("液氨卸车鹤位L-303", Q, rect(528, 96, 536, 104), None, 0.6),
    poly("汽车衡W-901", Q, rect(493, 22, 511, 25.4), None, 0.6),
    # synthesis
    insert("合成反应器R-201", "REACTOR", 192, 185),
    insert("合成反应器R-202", "REACTOR", 213, 185),
    insert("合成反应器R-203", "REACTOR", 234, 185),
    insert("循环气压缩机K-201", "COMPRESSOR", 200, 205),
    poly("开工加热炉F-201", Q, rect(272, 160, 302, 178), None, 0.8),
    poly("氨冷器E-201", Q, capsule(273.5, 300.5, 195, 1.5), None, 0.6),
    # distillation
    circle("脱氨塔C-301", 340, 185, 1.8, 0.35),
    circle("萃取塔C-302", 357, 185, 1.8, 0.35),
    circle("脱水塔C-303", 374, 185, 1.8, 0.35),
    circle("分离塔C-304", 391, 185, 1.8, 0.35),
    poly("回流罐V-301", Q, capsule(345, 365, 160, 1.5), None, 0.6),
    insert("回流泵P-301A", "PUMP", 432, 163),
    insert("回流泵P-301B", "PUMP", 443, 163),
    # utilities
    poly("1号燃气锅炉G-501", Q, rect(100, 175, 118, 188), None, 0.8),
    poly("2号燃气锅炉G-502", Q, rect(123, 175, 141, 188), None, 0.8),
    poly("天然气调压撬RS-501", Q, rect(97, 228, 111, 236), None, 0.6),
    poly("1号主变压器TR-1", Q, rect(27, 153, 39, 166), None, 0.6),
    poly("2号主变压器TR-2", Q, rect(46, 153, 58, 166), None, 0.6),
    poly("1号冷却塔CT-701", Q, rect(513, 152, 543, 182), None, 1.0),
    poly("2号冷却塔CT-702", Q, rect(549, 152, 579, 182), None, 1.0),
    circle("仪表空气储罐V-601", 345, 66, 2.5, 0.4),
    circle("火炬FL-801", 566.5, 362, 1.2, 0.3),
    poly("火炬分液罐V-801", Q, capsule(556, 577, 338, 1.5), None, 0.5),
]

ROADS: list[list[tuple]] = [
    # ring road in two open halves with rounded corners (radius 10)
    [(10, 380, 0.0), (10, 20, QUARTER), (20, 10, 0.0), (580, 10, QUARTER), (590, 20, 0.0), (590, 380, 0.0)],
    [(590, 380, QUARTER), (580, 390, 0.0), (20, 390, QUARTER), (10, 380, 0.0)],
    [(10, 140, 0.0), (590, 140, 0.0)],
    [(10, 270, 0.0), (590, 270, 0.0)],
    [(160, 10, 0.0), (160, 390, 0.0)],
    [(320, 10, 0.0), (320, 390, 0.0)],
    [(460, 10, 0.0), (460, 390, 0.0)],
]
GATE_ROADS = [((160, -15), (160, 10)), ((460, -15), (460, 10))]   # LINEs through the two gates
FENCE = [(0, 0, 0.0), (600, 0, 0.0), (600, 400, 0.0), (0, 400, 0.0)]

# HATCH fills on their own layer: the two tank dikes (tanks are islands) and the control room's
# blast-resistant walls (a ring: the label sits in the hole, so no name ever lands on a hatch).
DIKES = [((335, 285, 400, 362), ["甲醇储罐T-101", "甲醇储罐T-102", "甲醇储罐T-103", "甲醇储罐T-104"]),
         ((410, 285, 447, 338), ["液氨储罐T-105", "液氨储罐T-106"])]
BLAST_WALL = (rect(210, 25, 248, 62, 3, "ne,nw"), rect(210.6, 25.6, 247.4, 61.4, 2.4, "ne,nw"))


def flatten(points: list[tuple], tol: float = 0.01, closed: bool = True) -> list[tuple[float, float]]:
    """Vertices of a bulged polyline with each arc split so that its chord error stays below `tol`."""
    out = []
    n = len(points)
    for i, (x0, y0, b) in enumerate(points):
        out.append((x0, y0))
        if i == n - 1 and not closed:
            break
        x1, y1 = points[(i + 1) % n][:2]
        if not b:
            continue
        theta = 4 * math.atan(b)                      # signed included angle, positive counter-clockwise
        chord = math.hypot(x1 - x0, y1 - y0)
        offset = chord / 2 * math.cos(theta / 2) / math.sin(theta / 2)
        cx = (x0 + x1) / 2 - offset * (y1 - y0) / chord
        cy = (y0 + y1) / 2 + offset * (x1 - x0) / chord
        radius = chord / (2 * abs(math.sin(theta / 2)))
        steps = max(2, math.ceil(abs(theta) / (2 * math.acos(max(-1.0, 1 - tol / radius)))))
        a0 = math.atan2(y0 - cy, x0 - cx)
        for k in range(1, steps):
            a = a0 + theta * k / steps
            out.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return out


BLOCK_OUTLINES = {
    # closed outline of each symbol (for the self-check; the block holds more detail as open lines)
    "PUMP": [(-1.2, -0.7, 0.0), (0.9, -0.7, 1.0), (0.9, 0.7, 0.0), (-1.2, 0.7, 0.0)],
    "REACTOR": [(-1.6, 0.0, 1.0), (1.6, 0.0, 1.0)],
    "COMPRESSOR": [(-3.0, -1.5, 0.0), (2.2, -1.5, 0.5), (2.2, 1.5, 0.0), (-3.0, 1.5, 0.0)],
}


def shape_polygon(s: Shape) -> shapely.Polygon:
    if s.kind == "circle":
        return shapely.Point(s.centre).buffer(s.radius, quad_segs=64)
    if s.kind == "insert":
        pts = [(x + s.centre[0], y + s.centre[1]) for x, y in flatten(BLOCK_OUTLINES[s.block])]
        return shapely.Polygon(pts)
    return shapely.Polygon(flatten(s.points))


def label_point(s: Shape) -> tuple[float, float]:
    if s.label is not None:
        return s.label
    if s.kind in ("circle", "insert"):
        return s.centre
    c = shape_polygon(s).centroid
    return (round(c.x, 3), round(c.y, 3))


def check_layout() -> None:
    """Regions never overlap, everything sits inside the fence and its region, and every label's
    smallest containing closed shape (hatches included) is the shape it names."""
    fence = shapely.Polygon(flatten(FENCE))
    regions = [(s.name, shape_polygon(s)) for s in REGIONS]
    for i, (na, pa) in enumerate(regions):
        assert pa.is_valid and fence.contains(pa), na
        for nb, pb in regions[i + 1:]:
            assert pa.intersection(pb).area == 0, (na, nb)
    names = [s.name for s in REGIONS + BUILDINGS + EQUIPMENT]
    assert len(names) == len(set(names)), "names must be unique"
    closed = [(s.name, shape_polygon(s)) for s in REGIONS + BUILDINGS + EQUIPMENT]
    closed += [(None, p) for p in hatch_polygons()]
    for s in BUILDINGS + EQUIPMENT:
        p = shape_polygon(s)
        assert p.is_valid and any(r.contains(p) for _, r in regions), s.name
    for s in REGIONS + BUILDINGS + EQUIPMENT:
        pt = shapely.Point(label_point(s))
        containing = [(p.area, n) for n, p in closed if p.contains(pt)]
        assert containing and min(containing, key=lambda t: t[0])[1] == s.name, (s.name, containing)
    for line in ROADS:
        road = shapely.LineString(flatten(line, closed=False))
        for name, p in regions:
            assert road.distance(p) >= 3.5, (name, line[0])


def hatch_polygons() -> list[shapely.Polygon]:
    by_name = {s.name: s for s in EQUIPMENT}
    out = []
    for (x0, y0, x1, y1), tanks in DIKES:
        holes = [shape_polygon(by_name[t]).exterior.coords for t in tanks]
        out.append(shapely.Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], holes))
    outer, inner = BLAST_WALL
    out.append(shapely.Polygon(flatten(outer), [flatten(inner)]))
    return out


# ---------------------------------------------------------------------------------------------------
# DXF
# ---------------------------------------------------------------------------------------------------
LAYERS = {   # name: (ACI colour, linetype)
    "区域": (3, "DASHED"),
    "建筑物": (7, "Continuous"),
    "设备": (4, "Continuous"),
    "道路": (8, "CENTER"),
    "围墙": (1, "DASHDOT"),
    "文字": (2, "Continuous"),
    "填充": (9, "Continuous"),
}


def _blocks(doc) -> None:
    """Plan symbols as a drafter keeps them: one closed outline plus open detail lines, drawn on layer 0
    so that they take the layer of their INSERT."""
    pump = doc.blocks.new("PUMP")
    pump.add_lwpolyline(BLOCK_OUTLINES["PUMP"], format="xyb", close=True)
    pump.add_line((-1.2, 0), (-1.8, 0))            # suction
    pump.add_line((0.2, 0.7), (0.2, 1.3))          # discharge
    pump.add_line((-0.9, -0.4), (-0.9, 0.4))       # coupling
    reactor = doc.blocks.new("REACTOR")
    reactor.add_lwpolyline(BLOCK_OUTLINES["REACTOR"], format="xyb", close=True)
    reactor.add_line((-1.6, 0), (-2.4, 0))         # feed nozzle
    reactor.add_line((1.6, 0), (2.4, 0))           # outlet nozzle
    reactor.add_arc((0, 0), 1.0, 200, 340)         # catalyst manhole hint
    compressor = doc.blocks.new("COMPRESSOR")
    compressor.add_lwpolyline(BLOCK_OUTLINES["COMPRESSOR"], format="xyb", close=True)
    compressor.add_line((-1.0, -1.5), (-1.0, 1.5))  # motor / casing split
    compressor.add_line((-3.0, 0), (-3.8, 0))


def _label(msp, s: Shape, mtext: bool) -> None:
    x, y = label_point(s)
    if mtext:
        # a formatting code on one label, as CAD drawings have them; readers must strip it
        text = "{\\C1;" + s.name + "}" if s.name == "罐区" else s.name
        msp.add_mtext(text, dxfattribs={"layer": "文字", "style": "HZ", "char_height": s.height,
                                        "attachment_point": 5, "insert": (x, y)})
    else:
        msp.add_text(s.name, height=s.height, dxfattribs={"layer": "文字", "style": "HZ"}).set_placement(
            (x, y), align=TextEntityAlignment.MIDDLE_CENTER)


def build_dxf():
    doc = ezdxf.new("R2013", setup=True, units=6)
    doc.encoding = "gbk"   # $DWGCODEPAGE ANSI_936 as Chinese AutoCAD writes it; R2013 text stays UTF-8
    doc.header["$MEASUREMENT"] = 1
    doc.header["$LUNITS"] = 2
    doc.header["$EXTMIN"] = (-20, -20, 0)
    doc.header["$EXTMAX"] = (620, 420, 0)
    doc.header.custom_vars.append("项目", "示范化工厂总平面布置图（虚构，riskmap 演示数据）")
    doc.header.custom_vars.append("坐标", "厂区坐标，米；原点为围墙西南角；控制点见 control_points.csv")
    doc.styles.add("HZ", font="gbenor.shx").dxf.bigfont = "gbcbig.shx"
    for name, (colour, linetype) in LAYERS.items():
        doc.layers.add(name, color=colour, linetype=linetype)
    _blocks(doc)
    msp = doc.modelspace()

    msp.add_lwpolyline(FENCE, format="xyb", close=True, dxfattribs={"layer": "围墙"})
    for line in ROADS:
        msp.add_lwpolyline(line, format="xyb", close=False, dxfattribs={"layer": "道路"})
    for start, end in GATE_ROADS:
        msp.add_line(start, end, dxfattribs={"layer": "道路"})

    for s in REGIONS + BUILDINGS + EQUIPMENT:
        attribs = {"layer": s.layer}
        if s.kind == "circle":
            msp.add_circle(s.centre, s.radius, dxfattribs=attribs)
        elif s.kind == "insert":
            msp.add_blockref(s.block, s.centre, dxfattribs={**attribs, "rotation": s.rotation})
        else:
            msp.add_lwpolyline(s.points, format="xyb", close=True, dxfattribs=attribs)
    for s in REGIONS:
        _label(msp, s, mtext=True)
    for s in BUILDINGS + EQUIPMENT:
        _label(msp, s, mtext=False)
    add_emergency(doc, msp)

    by_name = {s.name: s for s in EQUIPMENT}
    for (x0, y0, x1, y1), tanks in DIKES:
        hatch = msp.add_hatch(color=9, dxfattribs={"layer": "填充"})
        hatch.set_pattern_fill("ANSI37", scale=0.5)
        hatch.paths.add_polyline_path([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], is_closed=True, flags=1)
        for t in tanks:
            cx, cy = by_name[t].centre
            r = by_name[t].radius
            hatch.paths.add_polyline_path([(cx - r, cy, 1.0), (cx + r, cy, 1.0)], is_closed=True, flags=16)
    outer, inner = BLAST_WALL
    wall = msp.add_hatch(color=8, dxfattribs={"layer": "填充"})
    wall.set_pattern_fill("ANSI31", scale=0.2)
    wall.paths.add_polyline_path(outer, is_closed=True, flags=1)
    wall.paths.add_polyline_path(inner, is_closed=True, flags=16)
    return doc


# ---------------------------------------------------------------------------------------------------
# Emergency features (riskmap.geo.model.EMERGENCY_ROLES): their own layers, named as Chinese drawings name
# them, read by the default layer map; escape routes are drawn in the direction of travel.
# ---------------------------------------------------------------------------------------------------
EMERGENCY_LAYERS = {   # name: (ACI colour, linetype)
    "应急-集合点": (7, "Continuous"),
    "应急-疏散路线": (7, "Continuous"),
    "应急-安全出口": (7, "Continuous"),
    "消防-消火栓": (7, "Continuous"),
    "消防-灭火器": (7, "Continuous"),
    "应急-洗眼器": (7, "Continuous"),
    "应急-物资柜": (7, "Continuous"),
}
# A polygon assembly point on the car park, with its name as a text inside it, and a point one (a block with
# a 名称 attribute) between the ring road and the east fence.
ASSEMBLY_AREA = ("1号紧急集合点", rect(22, 100, 42, 125), (32, 112.5))
ASSEMBLY_SYMBOL = ("2号紧急集合点", (595.0, 205.0))
ESCAPE_ROUTES = [   # from the building or area out to an assembly point, vertex order = direction of travel
    [(218, 158), (218, 140), (75, 140), (40, 123)],        # 反应车间 → 1号紧急集合点
    [(100, 54), (60, 85), (35, 102)],                       # 办公楼 → 1号紧急集合点
    [(440, 272), (590, 272), (595, 207)],                   # 罐区 → 2号紧急集合点
    [(437, 150), (520, 140), (590, 140), (595, 203)],       # 精馏泵房 → 2号紧急集合点
]
EMERGENCY_SYMBOLS = [   # (layer, block, tag, x, y)
    ("应急-安全出口", "EXIT", "出口-1", 218, 160),
    ("应急-安全出口", "EXIT", "出口-2", 95, 27),
    ("应急-安全出口", "EXIT", "出口-3", 437.5, 152),
    ("消防-消火栓", "HYDRANT", "XHS-01", 165, 150),
    ("消防-消火栓", "HYDRANT", "XHS-02", 315, 150),
    ("消防-消火栓", "HYDRANT", "XHS-03", 325, 275),
    ("消防-消火栓", "HYDRANT", "XHS-04", 455, 275),
    ("消防-消火栓", "HYDRANT", "XHS-05", 165, 275),
    ("消防-消火栓", "HYDRANT", "XHS-06", 455, 145),
    ("消防-灭火器", "EXTINGUISHER", "MHQ-01", 180, 165),
    ("消防-灭火器", "EXTINGUISHER", "MHQ-02", 258, 165),
    ("消防-灭火器", "EXTINGUISHER", "MHQ-03", 100, 170),
    ("消防-灭火器", "EXTINGUISHER", "MHQ-04", 405, 372),
    ("应急-洗眼器", "EYEWASH", "XYQ-01", 330, 232),
    ("应急-洗眼器", "EYEWASH", "XYQ-02", 408, 300),
    ("应急-物资柜", "EMERGENCY_KIT", "合成装置区应急器材柜", 306, 182),
    ("应急-物资柜", "EMERGENCY_KIT", "罐区应急器材柜", 400, 372),
]


def check_emergency() -> None:
    """The emergency features sit inside the fence; the assembly area's text is inside it and no other label is;
    every escape route ends at an assembly point."""
    fence = shapely.Polygon(flatten(FENCE))
    name, outline, at = ASSEMBLY_AREA
    area = shapely.Polygon(flatten(outline))
    assert fence.contains(area) and area.contains(shapely.Point(at)), name
    for s in REGIONS + BUILDINGS + EQUIPMENT:
        assert not area.contains(shapely.Point(label_point(s))), s.name
    ends = [area, shapely.Point(ASSEMBLY_SYMBOL[1]).buffer(3)]
    for route in ESCAPE_ROUTES:
        assert fence.contains(shapely.LineString(route)) and any(e.contains(shapely.Point(route[-1])) for e in ends)
    for _, _, tag, x, y in EMERGENCY_SYMBOLS:
        assert fence.contains(shapely.Point(x, y)), tag


def add_emergency(doc, msp) -> None:
    """Assembly points, escape routes, exits, hydrants, extinguishers, eyewash stations and emergency kits on
    layers of their own; the symbols are blocks drawn on layer 0 with a 名称 attribute naming each."""
    check_emergency()
    for layer, (colour, linetype) in EMERGENCY_LAYERS.items():
        doc.layers.add(layer, color=colour, linetype=linetype)
    shapes = {"EXIT": [(-0.6, -0.4), (0.6, -0.4), (0.6, 0.4), (-0.6, 0.4)],
              "HYDRANT": [(-0.3, -0.3), (0.3, -0.3), (0.3, 0.3), (-0.3, 0.3)],
              "EXTINGUISHER": [(0.0, 0.35), (0.3, -0.25), (-0.3, -0.25)],
              "EYEWASH": [(0.0, 0.4), (0.4, 0.0), (0.0, -0.4), (-0.4, 0.0)],
              "EMERGENCY_KIT": [(-0.5, -0.3), (0.5, -0.3), (0.5, 0.3), (-0.5, 0.3)],
              "ASSEMBLY": [(-0.75, -0.75), (0.75, -0.75), (0.75, 0.75), (-0.75, 0.75)]}
    for block, outline in shapes.items():
        b = doc.blocks.new(block)
        b.add_lwpolyline(outline, close=True)
        b.add_attdef("名称", (0, -1.0), dxfattribs={"height": 0.3, "style": "HZ"})
    name, outline, at = ASSEMBLY_AREA
    msp.add_lwpolyline(outline, format="xyb", close=True, dxfattribs={"layer": "应急-集合点"})
    msp.add_text(name, height=1.2, dxfattribs={"layer": "文字", "style": "HZ"}).set_placement(
        at, align=TextEntityAlignment.MIDDLE_CENTER)
    symbols = [("应急-集合点", "ASSEMBLY", ASSEMBLY_SYMBOL[0], *ASSEMBLY_SYMBOL[1])] + EMERGENCY_SYMBOLS
    for layer, block, tag, x, y in symbols:
        ref = msp.add_blockref(block, (x, y), dxfattribs={"layer": layer})
        ref.add_auto_attribs({"名称": tag})
    for route in ESCAPE_ROUTES:
        msp.add_lwpolyline(route, format="xy", close=False, dxfattribs={"layer": "应急-疏散路线"})


def write_dxf(path: Path) -> None:
    ezdxf.options.write_fixed_meta_data_for_testing = True   # fixed dates and GUIDs: reproducible bytes
    try:
        doc = build_dxf()
        # ezdxf adds a CLASS per entity type in use while saving, iterating a set (hash-seed order);
        # registering them first in sorted order keeps the CLASSES section stable between runs
        for dxftype in sorted(doc.entitydb.dxf_types_in_use()):
            doc.classes.add_class(dxftype)
        doc.saveas(path)
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = False


# ---------------------------------------------------------------------------------------------------
# Drawings beside the site plan: the office building's three storeys and the reaction workshop's two, drawn in
# plant coordinates (so the site plan's control points georeference them), and the synthesis unit's process flow
# diagram in a plane of its own (millimetres on an A2 sheet). Rooms and equipment are named; units name them as
# `drawing::name` in the ledger.
# ---------------------------------------------------------------------------------------------------
ROOM, CORRIDOR, STAIR, ZONE, EXIT, ESCAPE, PIPE = ("建筑-房间", "建筑-走廊", "建筑-楼梯", "楼层分区", "安全出口", "疏散路线",
                                                  "工艺管线")
DRAWING_LAYERS = {ROOM: (7, "Continuous"), CORRIDOR: (8, "Continuous"), STAIR: (8, "Continuous"),
                  ZONE: (3, "DASHED"), EXIT: (3, "Continuous"), ESCAPE: (3, "DASHED"), Q: (4, "Continuous"),
                  PIPE: (5, "Continuous"), "文字": (7, "Continuous")}


def _office_storey(rooms_north: list[str], rooms_south: list[str]) -> list[Shape]:
    """One storey of the office building (88–143 × 27–52 m): a corridor east–west, stairs at both ends, rooms on
    both sides, two zones; rooms, corridor and stairs on 建筑 layers (a name in them names them, not the zone)."""
    # the zones reach 2 m past the walls, where their names stand (a name names the smallest shape holding it)
    shapes = [poly("西区", ZONE, rect(86, 25, 115.5, 54), (100, 53), 0.8),
              poly("东区", ZONE, rect(115.5, 25, 145, 54), (130, 53), 0.8),
              poly("走廊", CORRIDOR, rect(94, 38, 137, 41), (112, 39.5), 0.8),
              poly("西楼梯", STAIR, rect(88, 38, 94, 52), (91, 45), 0.8),
              poly("东楼梯", STAIR, rect(137, 38, 143, 52), (140, 45), 0.8)]
    xs = [94 + i * (137 - 94) / len(rooms_north) for i in range(len(rooms_north) + 1)]
    shapes += [poly(n, ROOM, rect(xs[i], 41, xs[i + 1], 52), ((xs[i] + xs[i + 1]) / 2, 46.5), 0.9)
               for i, n in enumerate(rooms_north)]
    xs = [88 + i * (143 - 88) / len(rooms_south) for i in range(len(rooms_south) + 1)]
    shapes += [poly(n, ROOM, rect(xs[i], 27, xs[i + 1], 38), ((xs[i] + xs[i + 1]) / 2, 32.5), 0.9)
               for i, n in enumerate(rooms_south)]
    return shapes


def _exits_and_routes(exits: list[tuple[str, float, float]], routes: list[list[tuple[float, float]]]) -> list:
    """Exits as small squares and escape routes as lines whose vertex order is the way out."""
    out: list = [poly(n, EXIT, rect(x - 0.8, y - 0.8, x + 0.8, y + 0.8), (x, y), 0.25) for n, x, y in exits]
    out += [("line", ESCAPE, r) for r in routes]
    return out


OFFICE_ROUTES = [[(115.5, 39.5), (97, 39.5), (91, 39.5)], [(115.5, 39.5), (134, 39.5), (140, 39.5)]]
DRAWINGS: dict[str, dict] = {
    "办公楼-1F": {"title": "办公楼一层平面图", "building": "办公楼", "storey": "1F", "shapes": _office_storey(
        ["消防控制室", "低压配电室", "危险化学品试剂暂存间"], ["接待室", "门厅", "值班室", "收发室"]) + _exits_and_routes(
        [("西侧安全出口", 88.8, 39.5), ("东侧安全出口", 142.2, 39.5), ("南门厅出口", 115.5, 27.8)],
        [*OFFICE_ROUTES, [(112, 39.5), (115.5, 33), (115.5, 28)]])},
    "办公楼-2F": {"title": "办公楼二层平面图", "building": "办公楼", "storey": "2F", "shapes": _office_storey(
        ["分析仪器室", "气瓶间", "档案室"], ["办公室201", "办公室202", "会议室", "办公室203"]) + _exits_and_routes(
        [("西楼梯口", 91, 41.5), ("东楼梯口", 140, 41.5)], OFFICE_ROUTES)},
    "办公楼-3F": {"title": "办公楼三层平面图", "building": "办公楼", "storey": "3F", "shapes": _office_storey(
        ["网络机房", "UPS蓄电池室", "锂电池储能间"], ["办公室301", "培训室", "办公室302", "资料室"]) + _exits_and_routes(
        [("西楼梯口", 91, 41.5), ("东楼梯口", 140, 41.5)], OFFICE_ROUTES)},
    "反应车间-1F": {"title": "反应车间一层平面图", "building": "反应车间", "storey": "1F", "shapes": [
        poly("反应区", ZONE, rect(175, 160, 245, 222), (210, 219), 1.2),
        poly("辅助区", ZONE, rect(245, 160, 262, 222), (253.5, 219), 1.2),
        circle("R-201", 192, 185, 4.0, 1.0), circle("R-202", 213, 185, 4.0, 1.0), circle("R-203", 234, 185, 4.0, 1.0),
        poly("K-201", Q, rect(194, 200, 206, 210), (200, 205), 1.0),
        poly("机柜间", ROOM, rect(247, 162, 260, 180), (253.5, 171), 1.0),
        poly("工具间", ROOM, rect(247, 182, 260, 195), (253.5, 188.5), 1.0),
        *_exits_and_routes([("北门", 210, 221.2), ("南门", 210, 160.8)],
                           [[(225, 195), (210, 195), (210, 161)], [(225, 195), (210, 210), (210, 221)]])]},
    "反应车间-2F": {"title": "反应车间二层平面图", "building": "反应车间", "storey": "2F", "shapes": [
        poly("操作平台", ZONE, rect(175, 160, 262, 222), (210, 219), 1.2),
        poly("反应器顶部平台", ROOM, rect(185, 178, 241, 192), (213, 185), 1.0),
        poly("在线分析小屋", ROOM, rect(247, 162, 260, 176), (253.5, 169), 1.0),
        poly("仪表间", ROOM, rect(247, 178, 260, 192), (253.5, 185), 1.0),
        poly("休息室", ROOM, rect(247, 194, 260, 208), (253.5, 201), 1.0),
        *_exits_and_routes([("钢梯口", 178, 163)], [[(213, 185), (190, 170), (178, 164)]])]},
    "合成工艺流程图": {"title": "合成装置工艺流程图（PFD）", "schematic": True, "shapes": [
        poly("S-201", Q, rect(20, 150, 50, 190), (35, 160), 4),
        poly("E-201", Q, rect(300, 60, 360, 80), (330, 70), 4),
        poly("F-201", Q, rect(80, 140, 120, 200), (100, 155), 4),
        poly("R-201", Q, rect(150, 110, 175, 230), (162.5, 140), 4),
        poly("R-202", Q, rect(195, 110, 220, 230), (207.5, 140), 4),
        poly("R-203", Q, rect(240, 110, 265, 230), (252.5, 140), 4),
        circle("K-201", 330, 170, 18, 4),
        ("line", PIPE, [(50, 170), (80, 170)]), ("line", PIPE, [(120, 170), (150, 170)]),
        ("line", PIPE, [(175, 170), (195, 170)]), ("line", PIPE, [(220, 170), (240, 170)]),
        ("line", PIPE, [(265, 170), (312, 170)]), ("line", PIPE, [(330, 152), (330, 80)]),
        ("line", PIPE, [(300, 70), (35, 70), (35, 150)])]},
}
# Units on the drawings: new rooms and equipment (id, name, parent, drawing::name, level, department) and the
# site plan's units drawn again on them (id → drawing::name).
DRAWING_LEVEL_INPUTS = {"major": (3, 6, 40), "significant": (3, 6, 15), "general": (1, 6, 15), "low": (1, 6, 3)}
DRAWING_UNITS = [
    ("XZ-01-01-01", "消防控制室", "XZ-01-01", "办公楼-1F", "general"),
    ("XZ-01-01-02", "低压配电室", "XZ-01-01", "办公楼-1F", "significant"),
    ("XZ-01-01-03", "危险化学品试剂暂存间", "XZ-01-01", "办公楼-1F", "major"),
    ("XZ-01-01-04", "门厅", "XZ-01-01", "办公楼-1F", "low"),
    ("XZ-01-01-05", "分析仪器室", "XZ-01-01", "办公楼-2F", "significant"),
    ("XZ-01-01-06", "气瓶间", "XZ-01-01", "办公楼-2F", "major"),
    ("XZ-01-01-07", "档案室", "XZ-01-01", "办公楼-2F", "general"),
    ("XZ-01-01-08", "会议室", "XZ-01-01", "办公楼-2F", "low"),
    ("XZ-01-01-09", "网络机房", "XZ-01-01", "办公楼-3F", "general"),
    ("XZ-01-01-10", "UPS蓄电池室", "XZ-01-01", "办公楼-3F", "significant"),
    ("XZ-01-01-11", "锂电池储能间", "XZ-01-01", "办公楼-3F", "major"),
    ("XZ-01-01-12", "培训室", "XZ-01-01", "办公楼-3F", "low"),
    ("SC-01-01-05", "机柜间", "SC-01-01", "反应车间-1F", "general"),
    ("SC-01-01-06", "工具间", "SC-01-01", "反应车间-1F", "low"),
    ("SC-01-01-07", "反应器顶部平台", "SC-01-01", "反应车间-2F", "major"),
    ("SC-01-01-08", "在线分析小屋", "SC-01-01", "反应车间-2F", "significant"),
    ("SC-01-01-09", "仪表间", "SC-01-01", "反应车间-2F", "general"),
    ("SC-01-01-10", "休息室", "SC-01-01", "反应车间-2F", "low"),
    ("SC-01-01-11", "进料过滤器S-201", "SC-01-01", "合成工艺流程图::S-201", "low"),
]
DRAWN_AGAIN = {
    "SC-01-01-01": ["反应车间-1F::R-201", "合成工艺流程图::R-201"],
    "SC-01-01-02": ["反应车间-1F::R-202", "合成工艺流程图::R-202"],
    "SC-01-01-03": ["反应车间-1F::R-203", "合成工艺流程图::R-203"],
    "SC-01-01-04": ["反应车间-1F::K-201", "合成工艺流程图::K-201"],
    "SC-01-02": ["合成工艺流程图::F-201"],
    "SC-01-03": ["合成工艺流程图::E-201"],
}
_ROOM_RISKS = {   # what a room's one risk event is, by the level the demo wants there
    "major": ("有毒或易燃介质集中存放，泄漏后火灾爆炸或中毒", "2202", "其他爆炸", "泄漏遇点火源；通风失效",
              "房间内及相邻房间人员伤亡", "可燃/有毒气体检测报警；专人管理", "启动报警，切断电源，人员撤离，报告中控室"),
    "significant": ("电气设备或蓄电池热失控引发火灾", "2103", "火灾", "过载、短路、电池老化", "火灾，设备损毁",
                    "火灾自动报警；定期检测", "报警，切断电源，使用气体灭火器扑救，疏散"),
    "general": ("电气线路老化引发火灾", "2103", "火灾", "线路老化，违规用电", "局部火灾", "每月电气检查",
                "报警，扑救初起火灾，疏散"),
    "low": ("地面湿滑摔伤", "3101", "其他伤害", "地面湿滑", "摔伤", "防滑地面，警示标识", "救护"),
}


def drawing_units(units: list[Unit]) -> None:
    """Add the units that stand on the drawings and name the drawings' features of units already there."""
    by_id = {u.id: u for u in units}
    for uid, name, parent, drawing, level in DRAWING_UNITS:
        hazard, code, accident, cause, consequence, measures, emergency = _ROOM_RISKS[level]
        parent_unit = by_id[parent]
        unit = Unit(uid, name, "equipment" if "-" in name and name[-1].isdigit() else "subsub", parent,
                    parent_unit.department, feature=drawing if "::" in drawing else f"{drawing}::{name}", events=[
                        EV(f"{name}{hazard.split('，')[0][-6:]}", hazard, code, accident, cause, consequence, name,
                           lec(*DRAWING_LEVEL_INPUTS[level]), measures, [("3-2", measures)], emergency)])
        units.insert(units.index(parent_unit) + 1, unit)
        by_id[uid] = unit
    for uid, refs in DRAWN_AGAIN.items():
        unit = by_id[uid]
        unit.feature = "; ".join([unit.feature, *refs] if unit.feature else refs)


def drawing_doc(spec: dict):
    """A drawing's DXF document: its layers, shapes (closed polylines, circles) with their names as text, lines."""
    doc = ezdxf.new("R2013", setup=True, units=4 if spec.get("schematic") else 6)
    doc.encoding = "gbk"
    doc.header.custom_vars.append("项目", f"示范化工厂{spec['title']}（虚构，riskmap 演示数据）")
    doc.styles.add("HZ", font="gbenor.shx").dxf.bigfont = "gbcbig.shx"
    for name, (colour, linetype) in DRAWING_LAYERS.items():
        doc.layers.add(name, color=colour, linetype=linetype)
    msp = doc.modelspace()
    for item in spec["shapes"]:
        if isinstance(item, tuple):
            _, layer, points = item
            msp.add_lwpolyline(points, close=False, dxfattribs={"layer": layer})
            continue
        if item.kind == "circle":
            msp.add_circle(item.centre, item.radius, dxfattribs={"layer": item.layer})
        else:
            msp.add_lwpolyline(item.points, format="xyb", close=True, dxfattribs={"layer": item.layer})
        _label(msp, item, mtext=False)
    return doc


def write_drawings(out: Path) -> list[str]:
    """Write every drawing's DXF (reproducible bytes) and the list the demo loader reads; returns the file names."""
    ezdxf.options.write_fixed_meta_data_for_testing = True
    names, index = [], []
    try:
        for key, spec in DRAWINGS.items():
            doc = drawing_doc(spec)
            for dxftype in sorted(doc.entitydb.dxf_types_in_use()):
                doc.classes.add_class(dxftype)
            file = f"drawing-{len(names) + 1}.dxf"
            doc.saveas(out / file)
            names.append(file)
            index.append({"file": file, "drawing": key, "title": spec["title"],
                          "building": spec.get("building"), "storey": spec.get("storey"),
                          "schematic": bool(spec.get("schematic"))})
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = False
    (out / "drawings.json").write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8",
                                       newline="")
    return names


# ---------------------------------------------------------------------------------------------------
# Control points
# ---------------------------------------------------------------------------------------------------
def placement() -> tuple[float, float]:
    """The plant origin in EPSG:4549, rounded to whole metres (a surveyor's round number)."""
    to_gk = Transformer.from_crs(LONLAT_CRS, PLANT_CRS, always_xy=True)
    e, n = to_gk.transform(*ORIGIN_LONLAT)
    return float(round(e)), float(round(n))


def local_to_gk(x: float, y: float) -> tuple[float, float]:
    e0, n0 = placement()
    t = math.radians(ROTATION_DEG)
    return e0 + x * math.cos(t) - y * math.sin(t), n0 + x * math.sin(t) + y * math.cos(t)


def control_points_csv() -> str:
    to_ll = Transformer.from_crs(PLANT_CRS, LONLAT_CRS, always_xy=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["local_x", "local_y", "lon", "lat"])
    for x, y, de, dn in CONTROL_POINTS:
        e, n = local_to_gk(x, y)
        lon, lat = to_ll.transform(e + de, n + dn)
        writer.writerow([f"{x:.3f}", f"{y:.3f}", f"{lon:.9f}", f"{lat:.9f}"])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------
# Ledger: people, evaluation inputs and the event builder
# ---------------------------------------------------------------------------------------------------
COMPANY = ("公司安全生产委员会", "周振华")
DEPARTMENTS = {   # department: (head, team leader, post operator)
    "储运部": ("顾明轩", "钱海峰", "沈佳豪"),
    "合成车间": ("韩立群", "蒋春雷", "吴志强"),
    "精馏车间": ("许光耀", "朱晓东", "陈浩然"),
    "动力车间": ("潘国栋", "曹永平", "杨宇航"),
    "电仪车间": ("唐振宇", "马骏", "刘思远"),
    "设备部": ("魏国庆", "孔德胜", "郑凯"),
    "安全环保部": ("严慧敏", "何建军", "邹文斌"),
    "质检部": ("孙雅琴", "冯丽", "黄晓敏"),
    "行政部": ("林素芬", "徐卫东", "汪强"),
}

LEC_L = (10, 6, 3, 1, 0.5, 0.2, 0.1)
LEC_E = (10, 6, 3, 2, 1, 0.5)
LEC_C = (100, 40, 15, 7, 3, 1)
RANK = {"low": 1, "general": 2, "significant": 3, "major": 4}
TIERS = {"major": ["company", "department", "team", "post"], "significant": ["department", "team", "post"],
         "general": ["team", "post"], "low": ["post"]}


def lec(L, E, C) -> tuple[str, dict]:
    assert L in LEC_L and E in LEC_E and C in LEC_C, (L, E, C)
    return "lec", {"L": L, "E": E, "C": C}


def ls(L, S) -> tuple[str, dict]:
    assert 1 <= L <= 5 and 1 <= S <= 5
    return "ls", {"L": L, "S": S}


def lsd(L, *dims) -> tuple[str, dict]:
    """LS with the five severity dimensions (law, people, loss, downtime, reputation); S is their max."""
    assert len(dims) == 5 and all(1 <= d <= 5 for d in dims)
    return "ls", {"L": L, **{f"S{i}": d for i, d in enumerate(dims, 1)}}


def level_of(method: str, inputs: dict) -> str:
    """Independent check of the demo's levels (boundary values in the higher band, 从严从高)."""
    if method == "lec":
        d = Decimal(str(inputs["L"])) * Decimal(str(inputs["E"])) * Decimal(str(inputs["C"]))
        return "major" if d >= 320 else "significant" if d >= 160 else "general" if d >= 70 else "low"
    s = inputs.get("S") or max(inputs[f"S{i}"] for i in range(1, 6))
    r = inputs["L"] * s
    return "major" if r >= 20 else "significant" if r >= 15 else "general" if r >= 9 else "low"


@dataclass
class Event:
    name: str
    hazard: str
    code: str
    accident: str
    cause: str
    consequence: str
    impact: str
    inputs: tuple[str, dict]
    measures: str
    controls: list[tuple[str, str]]
    emergency: str
    inherent: tuple[str, dict] | None = None
    direct: list[str] | None = None
    effectiveness: str = "有效"
    location: str | None = None

    @property
    def level(self) -> str:
        return "major" if self.direct else level_of(*self.inputs)


@dataclass
class Unit:
    id: str
    name: str
    kind: str
    parent: str | None
    department: str
    feature: str | None = None
    weight: int | None = None
    person: str | None = None
    work_content: str | None = None
    workplace: str | None = None
    events: list[Event] = field(default_factory=list)
    override: dict | None = None
    major_hazard: dict | None = None


def people(department: str, tier: str) -> tuple[str, str]:
    if tier == "company":
        return COMPANY
    head, team, post = DEPARTMENTS[department]
    return department, {"department": head, "team": team, "post": post}[tier]


# ---------------------------------------------------------------------------------------------------
# Hazard texts, written per kind of unit. Inputs are residual (with the existing measures); inherent
# inputs (before controls) are given where the ledger keeps them.
# ---------------------------------------------------------------------------------------------------
EV = Event
NH3_EMERGENCY = ("发现泄漏立即报告中控室，佩戴正压式空气呼吸器、穿重型防化服关阀堵漏；启动水幕稀释，人员向上风向撤离；"
                 "启动公司液氨泄漏专项应急预案，警戒区外设置警戒，必要时请求园区消防救援支队支援")
MEOH_FIRE_EMERGENCY = ("立即停泵关阀切断物料，启动储罐固定冷却水及泡沫灭火系统，邻罐冷却；疏散无关人员，设置警戒；"
                       "启动罐区火灾爆炸专项应急预案，报告园区消防救援站和应急管理局；事故消防水导入事故应急池")
AMINE_EMERGENCY = ("关闭泄漏点上下游阀门，启动水喷淋稀释吸收甲胺气体；佩戴空气呼吸器和防化服处置，人员向上风向疏散；"
                   "灼伤部位用大量流动清水冲洗不少于15分钟后送医；启动装置泄漏应急处置方案")


def methanol_tank(tag: str, rng: random.Random, *, roof: str, year: int) -> list[Event]:
    old = year < 2016
    return [
        EV(f"{tag}甲醇泄漏引发火灾爆炸", f"甲醇（易燃液体，闪点11℃，爆炸极限6%–36.5%）储存量大；{tag}为{roof}罐，罐体、进出料阀门、法兰及液位计接口存在泄漏可能", "2203",
           "火灾", f"罐壁或罐底腐蚀减薄穿孔；法兰垫片老化失效；{'罐体投用已近十年，' if old else ''}进出口阀门内漏或填料泄漏；泄漏甲醇蒸气遇静电、雷击或外来明火",
           "储罐及防火堤内池火，可能引燃邻罐造成多人伤亡和重大财产损失", "罐区及周边约100 m范围",
           lec(1, 6, 40) if old else lec(0.5, 10, 40),
           "储罐设液位、温度远传和高低液位报警及联锁切断；设可燃气体检测报警器；防火堤及泡沫灭火、固定冷却水系统；定期测厚",
           [("1-4", "高高液位联锁关闭进料切断阀，SIS回路每年检验一次"),
            ("2-2", "储罐每年外部检查、每六年内部检查，罐底板和壁板测厚并记录"),
            ("1-3", "呼吸阀、阻火器每季度检查清理"),
            ("3-2", "罐区每2小时巡检一次，重点检查法兰、阀门及液位计接口，巡检记录签字")],
           MEOH_FIRE_EMERGENCY, inherent=lec(3, 6, 40)),
        EV(f"{tag}进料超装溢罐", "进料过程液位失控，甲醇溢出罐顶或经呼吸阀外溢", "2203", "火灾",
           "液位计故障或指示失真；高液位报警及联锁被旁路；倒罐时阀门错开；操作人员未按时确认液位",
           "甲醇溢入防火堤，蒸气扩散遇点火源起火", "防火堤内及下风向约50 m",
           rng.choice([ls(2, 5), lsd(2, 3, 5, 4, 3, 4)]),
           "设雷达液位计与独立高高液位开关两套测量，高高液位联锁关闭进料阀；进料作业双人确认",
           [("1-4", "高高液位独立开关与雷达液位计互为校验，偏差超过50 mm报警"),
            ("3-2", "进料前确认目标罐空容，填写收料确认单"),
            ("3-3", "交接班交清各罐液位、收付料计划及联锁投用状态")],
           "立即停止进料，关闭进料阀；启动泡沫覆盖溢出液面，禁止一切点火源；回收物料，报告储运部值班长"),
        EV(f"{tag}雷击或静电引燃罐顶油气", "罐顶呼吸阀附近油气空间遇雷击、静电放电", "2109", "其他爆炸",
           "防雷接地电阻超标；浮盘导静电线断裂；进料流速过快产生静电；雷雨天气进行收付料作业",
           "罐顶闪爆、密封圈火灾，可能掀开罐顶", "储罐及周边约30 m",
           lec(0.5, 3, 100),
           "储罐设防雷防静电接地，每年检测两次；进料初速不大于1 m/s；雷雨天禁止收付料",
           [("2-2", "防雷防静电接地每年春秋两季检测，接地电阻不大于10 Ω"),
            ("1-1", "进料初始流速控制在1 m/s以下，浸没进料口后方可提速"),
            ("3-1", "雷电预警期间停止收付料作业并记录")],
           "启动罐顶喷淋及泡沫系统，关闭进出料阀，按罐区火灾处置程序处置"),
        EV(f"{tag}检尺采样甲醇中毒", "甲醇蒸气吸入或皮肤接触（急性毒性，可致失明）", "2206", "中毒和窒息",
           "人工检尺、采样时未站在上风向；未佩戴防毒面具；采样器密封不良",
           "头痛、视力损害，严重者死亡", "作业人员本人",
           rng.choice([lec(1, 6, 7), lec(3, 3, 7)]),
           "推行密闭采样器；作业人员佩戴过滤式防毒面具和防护手套",
           [("4-2", "检尺采样佩戴防有机蒸气滤毒罐面具、丁腈手套"),
            ("3-1", "检尺采样人员经甲醇危害告知和应急处置培训")],
           "脱离现场至空气新鲜处，眼、皮肤接触用流动清水冲洗；出现头痛、视物模糊立即送医"),
        EV(f"{tag}罐顶作业高处坠落", "罐顶平台及盘梯离地约14 m", "2102", "高处坠落",
           "盘梯踏步或护栏腐蚀松动；雨雪天罐顶湿滑；作业时未系安全带",
           "人员坠落致重伤或死亡", "上罐作业人员",
           lec(0.5, 3, 15) if old else lec(1, 3, 15),
           "盘梯、罐顶护栏每季度检查；上罐不超过5人；雨雪、六级以上大风禁止上罐",
           [("2-2", "盘梯踏步、罐顶护栏每季度检查，腐蚀件及时更换"),
            ("4-2", "罐顶临边作业系挂双钩安全带")],
           "立即停止作业，拨打厂内急救电话，坠落人员不随意搬动，等待医护人员"),
    ]


def ammonia_tank(tag: str, rng: random.Random, *, ageing: bool) -> list[Event]:
    return [
        EV(f"{tag}液氨泄漏中毒", "液氨（有毒、易燃液化气体，储存压力约1.4 MPa）大量储存；球罐根部阀、法兰、液位计及安全阀泄漏", "2206",
           "中毒和窒息", "法兰垫片失效；根部阀阀杆填料泄漏；液位计玻璃管破裂；排污切水后阀门未关严" + ("；球罐投用年限较长，焊缝存在应力腐蚀风险" if ageing else ""),
           "氨气扩散造成厂内外多人中毒", "罐区及下风向约500 m",
           lec(1, 6, 100) if ageing else lec(0.5, 6, 100),
           "设氨气检测报警（一级报警25 ppm、二级50 ppm）与紧急切断阀联锁；罐区水喷淋；现场配空气呼吸器和防化服",
           [("1-4", "氨气二级报警联锁关闭出口紧急切断阀并启动水喷淋"),
            ("1-3", "安全阀每年校验，前后切断阀铅封全开"),
            ("2-2", "球罐每年外部检查，焊缝定期磁粉检测"),
            ("4-1", "罐区配备正压式空气呼吸器2套、重型防化服2套，每月检查")],
           NH3_EMERGENCY, inherent=lec(3, 6, 100)),
        EV(f"{tag}超压物理爆炸", "夏季高温使罐内压力升高；充装过量", "2202", "容器爆炸",
           "充装系数超过0.85；喷淋降温系统故障；安全阀失效或前切断阀误关",
           "球罐破裂，大量液氨瞬间气化，群死群伤", "罐区及厂外周边区域",
           lec(0.5, 6, 100) if ageing else lec(0.2, 10, 100),
           "压力、液位远传并设高报警；高温季节启动喷淋降温；安全阀双阀在线",
           [("1-1", "充装量不超过球罐容积的85%，液位高报警联锁停止进料"),
            ("1-3", "两台安全阀互为备用，每年校验一台"),
            ("3-2", "夏季每小时记录罐内压力和温度")],
           NH3_EMERGENCY),
        EV(f"{tag}氨气泄漏遇点火源爆炸", "氨与空气混合物爆炸极限15.7%–27.4%", "2202", "其他爆炸",
           "泄漏后在泵棚等半封闭处积聚；非防爆电器或检修动火形成点火源",
           "局部爆炸伴随中毒", "罐区约50 m", rng.choice([ls(2, 5), lsd(2, 4, 5, 4, 4, 3)]),
           "罐区电气设备防爆等级不低于ExdⅡAT1；禁止携带非防爆通信设备",
           [("1-2", "罐区电气仪表按爆炸危险区域划分选型，每年防爆检查"),
            ("3-1", "进入罐区交出火种，使用防爆对讲机")],
           NH3_EMERGENCY),
        EV(f"{tag}切水排污冻伤", "液氨减压气化吸热，排污口温度低至-33℃", "2111", "灼烫",
           "排污时阀门开度过大；未戴防冻手套和面罩", "手部及面部冻伤", "操作人员本人",
           lec(3, 2, 7) if ageing else lec(1, 2, 7),
           "排污采用双阀，先开内阀后缓开外阀；配防冻手套和防护面罩",
           [("3-1", "排污按双阀操作法执行，双人操作"), ("4-2", "佩戴防冻手套、防护面罩")],
           "用温水（不超过40℃）复温冻伤部位，不得揉搓，送医治疗"),
    ]


def pump(tag: str, rng: random.Random, medium: str) -> list[Event]:
    toxic = medium in ("液氨", "甲胺")
    return [
        EV(f"{tag}机械密封泄漏", f"{medium}经机械密封、泵体法兰泄漏", "2206" if toxic else "2203",
           "中毒和窒息" if toxic else "火灾",
           "机械密封磨损或冲洗液中断；泵抽空、汽蚀引起振动；检修质量不良",
           "泄漏介质中毒或起火", "泵区约15 m",
           lec(1, 6, 15) if toxic else rng.choice([lec(1, 6, 15), lec(3, 6, 7)]),
           "采用双端面机械密封并设泄漏报警；泵区可燃/有毒气体检测；定时巡检",
           [("2-1", "每班测振测温，振动超过4.5 mm/s安排检修"),
            ("1-2", "双端面机械密封隔离液压力低报警"),
            ("3-2", "巡检记录泵出口压力、密封泄漏情况")],
           "切换备用泵，关闭泄漏泵进出口阀；按泄漏处置程序处理，报告班长"),
        EV(f"{tag}转动部件机械伤害", "联轴器、轴端等转动部位", "2108", "机械伤害",
           "联轴器防护罩缺失或未恢复；运行中擦拭、调整设备", "手臂卷入致伤", "操作、检修人员",
           rng.choice([lec(1, 6, 3), lec(3, 6, 1)]),
           "联轴器设全封闭防护罩；检修执行停电挂牌",
           [("2-1", "防护罩检修后立即恢复，巡检时确认"), ("3-1", "严禁运行中擦拭、调整转动部位")],
           "立即停泵断电，救出伤员，止血包扎后送医"),
        EV(f"{tag}电机漏电触电", "防爆电机及电缆绝缘老化", "2103", "触电",
           "接地线松脱；电缆破损；潮湿环境", "人员触电", "操作人员",
           lec(0.5, 6, 15),
           "电机外壳可靠接地，每年测绝缘电阻",
           [("2-1", "电机接地和绝缘电阻每年测试并记录")],
           "切断电源后施救，必要时心肺复苏并拨打120"),
    ]


def amine_vessel(tag: str, rng: random.Random, amine: str) -> list[Event]:
    return [
        EV(f"{tag}{amine}泄漏中毒", f"液化{amine}（易燃、有毒、强刺激性，储存压力0.3–0.6 MPa）", "2202", "中毒和窒息",
           "液位计、根部阀、法兰泄漏；安全阀起跳后排放管线接错未进火炬系统",
           "泄漏气体致人员中毒、呼吸道灼伤", "中间罐区及下风向约200 m",
           rng.choice([lec(1, 6, 40), lec(3, 2, 40)]),
           "有毒气体检测报警并联锁紧急切断阀；安全阀排放接入火炬；罐区设水喷淋",
           [("1-4", "有毒气体二级报警联锁关闭罐出口紧急切断阀"),
            ("1-3", "安全阀每年校验，排放管接火炬总管"),
            ("3-2", "每2小时巡检记录压力、液位及泄漏情况")],
           AMINE_EMERGENCY, inherent=lec(3, 6, 40)),
        EV(f"{tag}泄漏遇点火源爆炸", f"{amine}为易燃气体，与空气形成爆炸性混合物", "2202", "其他爆炸",
           "泄漏气体积聚，遇静电、撞击火花或非防爆设备",
           "蒸气云爆炸造成人员伤亡及设施损毁", "中间罐区及周边约100 m",
           rng.choice([lec(0.5, 6, 100), lec(1, 3, 100)]),
           "可燃气体检测报警；防爆电气；罐区严禁烟火",
           [("1-2", "可燃气体探测器每季度标定"), ("3-1", "进入罐区交出火种，穿防静电工作服")],
           AMINE_EMERGENCY),
        EV(f"{tag}超压破裂", "容器长期带压运行，安全附件失效", "2101", "容器爆炸",
           "安全阀失效、压力表失准；夏季未开喷淋降温；充装过量",
           "容器破裂，大量泄漏", "中间罐区", rng.choice([ls(2, 5), lsd(2, 3, 5, 5, 4, 4)]),
           "压力容器定期检验；安全阀、压力表定期校验",
           [("1-3", "压力表每半年校验，安全阀每年校验"), ("2-2", "压力容器按期定期检验，检验报告存档")],
           "关闭进料，开启喷淋降温，必要时向火炬泄压；超压无法控制时撤离人员"),
        EV(f"{tag}切水采样灼伤", f"{amine}为碱性腐蚀性物质", "2208", "灼烫",
           "切水、采样时阀门开度过大造成喷溅；未戴防护面罩", "眼部、皮肤化学灼伤", "操作人员",
           rng.choice([lec(3, 3, 3), lec(1, 6, 3)]),
           "采样使用密闭采样器；现场设洗眼器",
           [("4-2", "采样佩戴防护面罩、耐碱手套"), ("4-1", "洗眼器每周试水并记录")],
           "立即用洗眼器或大量流动清水冲洗15分钟以上，送医"),
    ]


def reactor(tag: str, rng: random.Random, variant: int) -> list[Event]:
    explosion = [lec(1, 6, 100), lsd(4, 5, 5, 5, 4, 5), lec(0.5, 10, 100)][variant]
    return [
        EV(f"{tag}超温超压爆炸", "甲醇与氨在380–450℃、约2.0 MPa下经固定床催化剂气相胺化，反应放热", "2202", "容器爆炸",
           "原料配比失调致飞温；热点温度失控；出口管线堵塞；联锁失效或被旁路",
           "反应器破裂，高温可燃有毒气体泄放引发爆炸、火灾、中毒，多人伤亡", "合成装置区及周边约150 m",
           explosion,
           "床层多点测温，温度、压力高高联锁切断进料并紧急泄压至火炬；SIS系统SIL2",
           [("1-4", "床层温度高高联锁切断甲醇进料，SIS回路每年全回路测试"),
            ("1-1", "氨醇比控制在工艺卡片范围内，DCS设偏差报警"),
            ("1-3", "反应器出口安全阀每年校验，排放接入火炬"),
            ("3-2", "每小时记录床层热点温度和系统压力")],
           "DCS紧急停车，切断进料，系统泄压至火炬；启动合成装置火灾爆炸应急预案，疏散装置区人员",
           inherent=lsd(5, 5, 5, 5, 5, 5) if explosion[0] == "ls" else lec(3, 6, 100)),
        EV(f"{tag}高温气体泄漏火灾", "反应器进出口法兰、热电偶套管处高温临氢（含氨、甲胺、甲醇）气体", "2202", "火灾",
           "高温法兰螺栓松弛；热电偶套管焊缝开裂；开停车温度变化过快", "泄漏自燃或遇火源着火", "反应车间",
           rng.choice([lec(1, 6, 40), lec(0.5, 10, 40)]),
           "高温法兰采用缠绕垫，开车热紧；可燃气体检测报警；车间设雨淋系统",
           [("2-2", "开车升温至350℃时对高温法兰热紧并记录"),
            ("1-2", "可燃、有毒气体探测器每季度标定")],
           "切断进料，系统降压；用蒸汽幕或水幕隔离，启动车间雨淋系统"),
        EV(f"{tag}泄漏中毒", "氨、甲胺有毒气体", "2206", "中毒",
           "密封点泄漏，车间通风不良", "人员中毒", "反应车间作业人员",
           rng.choice([lec(1, 6, 15), lec(3, 3, 15)]),
           "车间设机械通风并与有毒气体报警联锁",
           [("1-1", "有毒气体一级报警联锁启动事故排风"), ("4-2", "巡检携带便携式氨气检测仪")],
           AMINE_EMERGENCY),
        EV(f"{tag}外表面高温烫伤", "反应器及出口管线外表面温度超过60℃", "2110", "灼烫",
           "保温层破损；巡检时误触", "烫伤", "巡检人员", lec(3, 6, 1) if variant else lec(1, 6, 3),
           "高温部位保温并设警示标识", [("1-5", "保温破损及时修复，设“当心高温”标识")],
           "用冷水冲洗烫伤部位，严重者送医"),
    ]


def column(tag: str, rng: random.Random, medium: str, pressure_mpa: str, high: bool) -> list[Event]:
    return [
        EV(f"{tag}超压爆炸", f"塔内{medium}，操作压力约{pressure_mpa} MPa，塔釜再沸器用0.8 MPa蒸汽加热", "2202", "容器爆炸",
           "再沸器蒸汽调节阀失控；塔顶冷凝器冷却水中断；回流中断；安全阀失效",
           "塔体破裂，大量可燃有毒物料泄漏引发爆炸火灾", "精馏装置区及周边约100 m",
           lec(1, 6, 100) if high else rng.choice([lec(0.5, 6, 100), lec(1, 3, 100)]),
           "塔顶压力高高联锁切断再沸器蒸汽；循环水压力低报警；安全阀排放接火炬",
           [("1-4", "塔顶压力高高联锁切断再沸器加热蒸汽"),
            ("1-3", "塔顶安全阀每年校验"),
            ("1-1", "冷却水中断时按操作规程紧急停塔")],
           "切断加热蒸汽，全回流降压，必要时手动向火炬泄压；启动精馏装置应急处置方案",
           inherent=lec(3, 6, 100)),
        EV(f"{tag}塔顶泄漏中毒", f"{medium}经塔顶法兰、回流管线泄漏", "2206", "中毒和窒息",
           "法兰垫片失效；回流泵密封泄漏；取样口阀门未关严", "人员中毒，刺激呼吸道", "精馏框架区",
           rng.choice([lec(1, 6, 40), lec(3, 2, 40)]),
           "塔区设有毒气体检测报警；框架各层设风向标；佩戴便携式检测仪巡检",
           [("1-2", "有毒气体探测器每季度标定"), ("3-2", "巡检记录各层法兰泄漏情况")],
           AMINE_EMERGENCY),
        EV(f"{tag}框架平台高处坠落", "精馏框架最高操作平台约30 m", "3207", "高处坠落",
           "平台格栅板松动；护栏缺失；夜间照明不足", "坠落致死亡", "上塔巡检人员",
           rng.choice([lec(1, 3, 15), lec(0.5, 6, 15)]),
           "平台护栏、踢脚板齐全；夜间照明",
           [("2-2", "框架平台格栅板、护栏每季度检查"), ("4-2", "上塔作业系挂安全带")],
           "停止作业，拨打急救电话，不随意搬动伤员"),
    ]


def boiler(tag: str, rng: random.Random) -> list[Event]:
    return [
        EV(f"{tag}超压爆炸", "10 t/h燃气蒸汽锅炉，额定压力1.25 MPa", "2101", "锅炉爆炸",
           "安全阀失效；压力控制器故障；司炉人员脱岗", "锅炉爆炸，锅炉房内人员伤亡", "锅炉房",
           rng.choice([lec(0.5, 6, 100), lec(1, 3, 100)]),
           "两只安全阀、超压联锁停炉；锅炉定期检验", [
               ("1-3", "安全阀每年校验，每周手动排放试验并记录"),
               ("1-4", "蒸汽压力高高联锁熄火停炉"),
               ("2-2", "锅炉每年内部检验，每两年外部检验")],
           "紧急停炉，切断燃气，开启排汽阀泄压，疏散锅炉房人员", inherent=lec(3, 6, 100)),
        EV(f"{tag}炉膛爆燃", "天然气在炉膛内积聚", "2202", "其他爆炸",
           "点火前未充分吹扫；熄火保护失效；燃气阀门内漏", "炉膛爆燃，炉墙损坏，人员受伤", "锅炉房",
           lec(1, 3, 40),
           "燃烧器程序控制：前吹扫、点火、熄火保护；燃气双切断阀检漏",
           [("1-4", "熄火保护联锁切断燃气双阀"), ("1-1", "点火前炉膛吹扫时间不少于5分钟")],
           "切断燃气，停止风机后再次吹扫，检查炉膛后方可重新点火"),
        EV(f"{tag}缺水干烧", "锅炉水位失控", "2101", "锅炉爆炸",
           "水位计失灵；给水泵故障；低水位联锁失效", "炉管过热变形爆管", "锅炉房",
           rng.choice([ls(2, 5), lsd(2, 4, 5, 4, 4, 3)]),
           "双色水位计加电极式水位控制，低水位联锁停炉",
           [("1-4", "极低水位联锁停炉，每月试验一次"), ("3-2", "司炉每2小时冲洗水位计并记录")],
           "严重缺水时严禁进水，立即停炉"),
        EV(f"{tag}高温表面烫伤", "蒸汽管道及炉体外表面", "2110", "灼烫",
           "保温破损；排污时蒸汽喷出", "烫伤", "司炉人员", lec(1, 6, 3),
           "高温管道保温；排污阀远离通道", [("1-5", "保温破损及时修复")], "冷水冲洗，严重者送医"),
    ]


def transformer(tag: str, rng: random.Random) -> list[Event]:
    return [
        EV(f"{tag}变压器油火灾", "油浸式变压器（35/10 kV，10 MVA），绝缘油约8 t", "2103", "火灾",
           "内部短路；过负荷；瓦斯保护拒动；绝缘油劣化", "变压器起火爆炸，全厂停电", "变配电区",
           rng.choice([lec(0.5, 6, 40), lec(1, 3, 40)]),
           "设差动、瓦斯、温度保护；事故油池；变压器油每年化验",
           [("1-2", "差动、重瓦斯保护定值每年校验"), ("2-2", "绝缘油每年做色谱分析"),
            ("4-3", "变压器区配推车式干粉灭火器和消防砂箱")],
           "切断电源，使用干粉灭火器灭火，禁止用水直接扑救带电设备；启动停电应急预案，装置按紧急停车处理"),
        EV(f"{tag}误入带电间隔触电", "35 kV高压带电体", "2103", "触电",
           "安全距离不足；围栏门未上锁；误登带电构架", "高压触电致死", "变配电区人员",
           rng.choice([lec(0.5, 3, 40), lec(0.2, 6, 40)]),
           "变压器四周设围栏并上锁，悬挂“止步，高压危险”标识",
           [("1-5", "围栏门钥匙由值班长保管"), ("3-1", "进入变配电区须持电工作业证")],
           "立即断电，施救者做好绝缘防护，实施心肺复苏，拨打120"),
        EV(f"{tag}绝缘油泄漏", "油枕、散热器法兰渗漏", "2101", "泄漏",
           "密封件老化", "绝缘油流入雨水系统，引发火灾隐患和环境污染", "变压器周边", ls(2, 3),
           "设事故油池，巡检检查渗油", [("2-2", "每周巡检检查渗漏并记录")],
           "用吸油毡收集，关闭雨水排口"),
    ]


def loading_arm(tag: str, rng: random.Random, medium: str, unload: bool, ammonia: bool) -> list[Event]:
    verb = "卸车" if unload else "装车"
    events = [
        EV(f"{tag}鹤管泄漏", f"{medium}槽车{verb}，鹤管旋转接头、快速接头", "2206" if ammonia or medium == "甲胺" else "2203",
           "中毒和窒息" if ammonia or medium == "甲胺" else "火灾",
           "旋转接头密封磨损；快速接头未锁紧；软管老化", "泄漏介质中毒或着火", "装卸区约30 m",
           lec(1, 3, 40),
           "采用万向节鹤管并设拉断阀、紧急切断阀；装卸区可燃/有毒气体检测报警",
           [("1-3", "鹤管拉断阀、紧急切断阀每半年检查"), ("2-2", "旋转接头密封每年更换"),
            ("3-2", f"{verb}前检查快速接头锁紧并在{verb}记录上签字")],
           NH3_EMERGENCY if ammonia else AMINE_EMERGENCY if medium == "甲胺" else MEOH_FIRE_EMERGENCY),
        EV(f"{tag}槽车静电引燃", f"{medium}流动摩擦产生静电", "2109", "其他爆炸",
           "静电接地报警器失效；未接地即开始作业；流速过快", "槽车罐口闪爆起火", "装卸区",
           rng.choice([lec(0.5, 3, 100), lec(1, 3, 40)]),
           "设静电接地报警器并与装车泵联锁；人体静电释放器",
           [("1-4", "静电接地报警器与装卸泵联锁，接地不良不能启泵"), ("3-1", "作业前触摸人体静电释放器")],
           "停止作业，关闭紧急切断阀，用干粉灭火器扑救初起火灾"),
    ]
    if ammonia:
        events.append(EV(f"{tag}槽车溜车拉断鹤管", "液氨槽车卸车过程中车辆移动", "2108", "泄漏",
                         "未拉手刹、未放轮挡；驾驶员误启动车辆", "鹤管拉断，液氨大量泄漏", "装卸区及下风向约300 m",
                         ls(3, 5), "卸车前车辆熄火、拉手刹、放置轮挡，钥匙交装卸工保管；设拉断阀",
                         [("1-3", "拉断阀每半年检查"), ("3-1", "车辆钥匙交装卸工，卸车结束确认后交还")],
                         NH3_EMERGENCY))
    else:
        events.append(EV(f"{tag}罐顶作业平台坠落", "槽车罐顶作业平台约3.5 m", "2102", "高处坠落",
                         "平台护栏未放下；雨天罐顶湿滑", "坠落致伤", "装卸作业人员", lec(1, 6, 7),
                         "装车平台设可翻转护栏", [("1-5", "作业前放下安全护栏"), ("4-2", "系挂安全带")],
                         "停止作业，救护伤员"))
    return events


# ---------------------------------------------------------------------------------------------------
# The unit tree: main units per system, a sub-unit per region (its `feature` is the region's name),
# buildings and equipment on their own shapes, posts and activities located by their ancestors.
# ---------------------------------------------------------------------------------------------------
def build_units() -> list[Unit]:  # noqa: C901 - one long list, read top to bottom
    units: list[Unit] = []

    def add(uid, name, kind, parent, dept, feature=None, events=(), **kw) -> Unit:
        unit = Unit(uid, name, kind, parent, dept, feature=feature, events=list(events), **kw)
        units.append(unit)
        return unit

    def rng(uid: str) -> random.Random:
        return random.Random(f"{SEED}:{uid}")

    # ======================================== 储运系统 ========================================
    add("CY", "储运系统", "main", None, "储运部")
    add("CY-01", "罐区", "sub", "CY", "储运部", "罐区", weight=6,
        override={"level": "major", "reason": "罐区甲醇、液氨储量构成重大危险源，依据公司风险分级管控制度直接判定为重大风险"},
        major_hazard={"people_500m": 86, "substances": [
            {"name": "甲醇", "q": 1343.0, "Q": 500, "category": "other"},
            {"name": "液氨", "q": 122.4, "Q": 10, "category": "nh3"}]},
        events=[
            EV("罐区重大危险源火灾爆炸中毒", "甲醇储罐4台（500 m³）、液氨球罐2台（120 m³）构成重大危险源", "2203", "火灾",
               "储罐或管线大量泄漏，遇点火源发生池火、蒸气云爆炸；液氨泄漏扩散", "多人伤亡、厂外人员受影响，重大财产损失",
               "罐区及厂界外500 m范围", lec(1, 6, 100),
               "重大危险源在线监测监控并接入园区平台；SIS系统；罐区固定消防；重大危险源包保责任制",
               [("1-4", "重大危险源监测数据实时上传园区安全监管平台"),
                ("4-4", "每半年开展一次罐区火灾、液氨泄漏综合应急演练"),
                ("3-1", "重大危险源主要负责人、技术负责人、操作负责人三级包保，按期履职检查")],
               MEOH_FIRE_EMERGENCY, inherent=lec(3, 6, 100), direct=["major-hazard-installation"],
               location="罐区（甲醇罐组、液氨罐组）"),
            EV("罐区雷击引发火灾", "罐区为第二类防雷建筑物，储罐高约14 m", "3201", "火灾",
               "防雷设施失效；雷雨天气作业", "储罐或泵棚起火", "罐区", lec(0.5, 2, 100),
               "防雷检测合格；雷雨天停止收付料",
               [("2-2", "防雷装置每年两次检测"), ("3-1", "雷电预警期间停止罐区作业")],
               MEOH_FIRE_EMERGENCY),
            EV("机动车辆进入罐区引发火灾", "机动车排气管火星", "2109", "火灾",
               "车辆未佩戴阻火器；未经审批进入", "罐区火灾", "罐区", lec(0.5, 3, 40),
               "罐区入口设车辆禁入标识；车辆进入须办理审批并戴阻火器",
               [("3-1", "车辆进入罐区凭审批单，佩戴阻火器，安全员全程监护")],
               MEOH_FIRE_EMERGENCY),
            EV("防火堤破损泄漏物外溢", "防火堤、隔堤伸缩缝及穿堤管线封堵", "3210", "泄漏",
               "伸缩缝填料老化；排水阀常开", "泄漏物流出防火堤，火灾范围扩大、污染水体", "罐区及雨水系统",
               ls(2, 4), "防火堤每年检查；雨水排放阀常关，排水后立即关闭并记录",
               [("2-2", "防火堤伸缩缝每年检查修补"), ("3-2", "排水阀开关登记，排水后复位")],
               "关闭雨水排放阀，用沙袋封堵，泄漏物导入事故应急池"),
        ])
    for i, (tag, roof, year) in enumerate((("T-101", "内浮顶", 2012), ("T-102", "内浮顶", 2012),
                                           ("T-103", "拱顶氮封", 2019), ("T-104", "拱顶氮封", 2019)), 1):
        add(f"CY-01-{i:02d}", f"甲醇储罐{tag}", "equipment", "CY-01", "储运部", f"甲醇储罐{tag}",
            events=methanol_tank(tag, rng(tag), roof=roof, year=year))
    for i, (tag, ageing) in enumerate((("T-105", True), ("T-106", False)), 5):
        add(f"CY-01-{i:02d}", f"液氨储罐{tag}", "equipment", "CY-01", "储运部", f"液氨储罐{tag}",
            events=ammonia_tank(tag, rng(tag), ageing=ageing))
    add("CY-01-07", "罐区泵棚", "subsub", "CY-01", "储运部", "罐区泵棚", weight=2, events=[
        EV("泵棚可燃气体积聚", "泵棚半敞开，甲醇蒸气、氨气可能积聚", "3111", "其他爆炸",
           "多台泵密封同时泄漏；通风不良", "泵棚内爆炸", "罐区泵棚", lec(0.5, 6, 40),
           "泵棚四周敞开，设可燃/有毒气体检测", [("1-2", "气体探测器每季度标定"), ("3-2", "每班巡检泵棚")],
           "开启水幕，关闭泄漏泵，人员撤离泵棚"),
        EV("泵区噪声", "多台泵运行噪声约85 dB(A)", "2104", "其他伤害",
           "长期暴露未佩戴护耳器", "听力损伤", "泵区巡检人员", lec(3, 6, 1),
           "佩戴耳塞，控制巡检停留时间", [("4-2", "进入泵棚佩戴耳塞")], "脱离噪声环境，职业健康检查"),
    ])
    for i, (tag, medium) in enumerate((("P-101A", "甲醇"), ("P-101B", "甲醇"), ("P-102A", "液氨"),
                                       ("P-102B", "液氨")), 1):
        name = ("甲醇输送泵" if medium == "甲醇" else "液氨输送泵") + tag
        add(f"CY-01-07-{i:02d}", name, "equipment", "CY-01-07", "储运部", name, events=pump(tag, rng(tag), medium))
    add("CY-01-08", "罐区巡检岗", "post", "CY-01", "储运部", weight=4, person="沈佳豪",
        work_content="罐区储罐、机泵、防火堤及消防设施巡回检查，收付料操作", workplace="罐区、罐区泵棚", events=[
            EV("巡检吸入甲醇蒸气或氨气", "罐区有毒气体", "2206", "中毒和窒息",
               "未携带便携式气体检测仪；泄漏时未佩戴防护用品靠近", "中毒", "巡检人员",
               rng("CY-01-08").choice([lec(3, 6, 7), lec(1, 6, 15)]),
               "巡检携带四合一气体检测仪；罐区配空气呼吸器",
               [("4-2", "巡检携带便携式气体检测仪，报警立即撤离"), ("3-1", "岗位人员每年复训有毒气体防护")],
               NH3_EMERGENCY),
            EV("携带火种或穿化纤服装进入罐区", "人体静电、手机、打火机", "1202", "火灾",
               "未交出火种；未穿防静电工作服；未触摸静电释放器", "引燃泄漏物料", "罐区",
               lec(0.5, 6, 40), "罐区入口设静电释放器和火种存放箱",
               [("3-1", "进入罐区交出火种并登记"), ("4-2", "穿防静电工作服和防静电鞋")],
               MEOH_FIRE_EMERGENCY),
            EV("上下盘梯滑倒跌落", "储罐盘梯", "3202", "跌落", "雨雪天气踏步湿滑；手持工具上下梯",
               "摔伤", "巡检人员", lec(1, 6, 7), "盘梯防滑踏步；上下梯手扶栏杆",
               [("1-5", "盘梯踏步防滑条定期更换"), ("3-1", "上下梯不得手持物品")], "救护伤员，送医"),
            EV("夏季高温中暑", "室外高温作业", "3216", "其他伤害", "高温时段长时间户外作业",
               "中暑", "巡检人员", lec(3, 2, 3), "高温时段调整巡检时间，发放防暑降温用品",
               [("3-1", "高温天气11:00–15:00减少户外作业")], "移至阴凉处，补充淡盐水，严重者送医"),
        ])
    add("CY-01-09", "储罐倒罐作业", "activity", "CY-01", "储运部", weight=2,
        work_content="甲醇储罐间倒罐、收付料流程切换", workplace="罐区", events=[
            EV("倒罐阀门误操作冒罐", "流程切换阀门多", "1202", "火灾", "未按操作票切换；目标罐液位确认错误",
               "甲醇溢出引发火灾", "罐区", lec(1, 3, 40), "倒罐执行操作票，双人确认",
               [("3-2", "倒罐填写操作票，班长审批"), ("1-4", "目标罐高液位联锁投用")], MEOH_FIRE_EMERGENCY),
            EV("倒罐流速过快产生静电", "甲醇管道输送静电", "2109", "其他爆炸", "初始流速过快；管道跨接线断开",
               "罐内闪爆", "罐区", lec(0.5, 3, 100), "控制初始流速；法兰跨接",
               [("1-1", "倒罐初始流速不大于1 m/s"), ("2-2", "法兰跨接每季度检查")], MEOH_FIRE_EMERGENCY),
            EV("倒罐时甲醇接触皮肤", "甲醇经皮吸收", "2206", "中毒和窒息", "排凝、拆卸短接时未戴手套",
               "皮肤吸收中毒", "操作人员", lec(1, 3, 7), "佩戴丁腈手套", [("4-2", "佩戴丁腈手套和护目镜")],
               "脱去污染衣物，流动清水冲洗"),
        ])
    add("CY-01-10", "储罐清罐作业", "activity", "CY-01", "设备部", weight=5,
        work_content="储罐停用清洗、检验，进入罐内作业", workplace="甲醇储罐内", events=[
            EV("罐内甲醇蒸气中毒或缺氧窒息", "受限空间内残留甲醇蒸气、氮气置换后缺氧", "3111", "中毒和窒息",
               "隔离不彻底（未加盲板）；置换通风不足；未检测即进入；监护人离岗",
               "罐内人员中毒窒息死亡，盲目施救扩大伤亡", "罐内作业及施救人员", lec(1, 2, 100),
               "执行受限空间作业许可；加盲板隔离；强制通风；作业前30分钟内检测",
               [("3-1", "受限空间作业票经车间主任、安全环保部审批"),
                ("1-5", "进出口加盲板隔离，挂牌上锁"),
                ("4-1", "罐外配备空气呼吸器、三脚架救援装置"),
                ("3-2", "每2小时复测氧含量和甲醇浓度并记录")],
               "监护人立即呼救，施救人员佩戴空气呼吸器后方可进罐；禁止盲目施救", inherent=lec(6, 2, 100)),
            EV("罐内使用非防爆工具引燃", "残留甲醇蒸气", "2109", "其他爆炸", "使用铁质工具撞击；照明电压超过12 V",
               "罐内闪爆", "罐内作业人员", lec(0.5, 2, 100), "使用防爆工具和12 V安全行灯",
               [("1-2", "罐内照明采用12 V防爆行灯"), ("3-1", "作业前检查工具防爆性能")], MEOH_FIRE_EMERGENCY),
            EV("罐内脚手架高处坠落", "罐内搭设脚手架", "3207", "高处坠落", "脚手架未验收；未系安全带",
               "坠落致伤", "罐内作业人员", lec(1, 2, 15), "脚手架验收挂牌", [("3-1", "脚手架验收合格挂绿牌后使用")],
               "停止作业，施救伤员"),
            EV("清罐监护人离岗", "作业监护失效", "1203", "中毒和窒息", "监护人兼做其他工作或离开现场",
               "罐内异常不能及时发现", "罐内作业人员", ls(2, 5), "监护人专职，持证上岗",
               [("3-1", "监护人经培训考核持证，不得离岗")], "发现异常立即呼救，启动受限空间救援程序"),
        ])
    add("CY-01-11", "罐区动火作业", "activity", "CY-01", "设备部", weight=4,
        work_content="罐区管线、支架焊接切割等动火作业", workplace="罐区防火堤内外", events=[
            EV("动火点可燃气体聚集引发爆炸", "罐区属甲类火灾危险区", "2109", "其他爆炸",
               "动火前未分析或分析不合格；管线未隔离置换；动火期间周边发生泄漏",
               "爆炸火灾，多人伤亡", "罐区", lec(1, 3, 100),
               "特级动火作业票经主要负责人审批；动火分析合格；动火全程气体监测",
               [("3-1", "特级动火由主要负责人审批，安全环保部现场监督"),
                ("1-5", "动火管线加盲板隔离并蒸汽吹扫置换"),
                ("3-2", "动火期间每2小时分析一次可燃气体")],
               MEOH_FIRE_EMERGENCY, inherent=lec(3, 3, 100)),
            EV("焊渣飞溅引燃周边可燃物", "电焊、气割火花", "2109", "火灾", "周边可燃物未清理；下水井、地漏未封堵",
               "引起火灾", "动火点周边15 m", lec(1, 3, 40), "清理可燃物，封堵地漏，配灭火器和监火人",
               [("4-3", "动火点配2具8 kg干粉灭火器"), ("3-1", "监火人持证全程监护")], "用灭火器扑救，停止动火"),
            EV("电焊机漏电触电", "电焊机一次线、焊钳绝缘破损", "2103", "触电", "电焊机未接地；雨天作业",
               "触电", "焊工", lec(1, 3, 15), "电焊机检验合格贴标", [("2-1", "电焊机每月检查绝缘")],
               "断电施救，心肺复苏"),
            EV("动火作业票管理不规范", "作业许可管理缺陷", "4302", "火灾", "作业票填写不全；超期作业；审批人未到现场",
               "措施落实不到位引发火灾", "罐区", ls(3, 4), "作业票电子化审批，安全环保部抽查",
               [("3-2", "动火作业票每日由安全环保部审查")], MEOH_FIRE_EMERGENCY),
        ])

    add("CY-02", "中间罐区", "sub", "CY", "储运部", "中间罐区", weight=3, events=[
        EV("中间罐区甲胺泄漏扩散", "液化甲胺压力储罐3台，合计约150 m³", "2202", "中毒和窒息",
           "多台储罐共用管线法兰泄漏；罐区喷淋系统故障", "有毒气体扩散至装置区和厂界", "中间罐区及下风向约300 m",
           lsd(3, 4, 5, 4, 4, 5),
           "有毒气体检测报警联锁紧急切断；水喷淋系统", [("1-4", "有毒气体报警联锁投用率100%"),
                                           ("4-4", "每年开展一次甲胺泄漏专项演练")], AMINE_EMERGENCY),
        EV("中间罐区车辆撞击管线", "罐区周边道路行车", "2108", "车辆伤害", "吊车、叉车在罐区周边倒车",
           "撞坏管线引发泄漏", "中间罐区", lec(0.5, 3, 15), "罐区周边设防撞护栏",
           [("1-5", "管廊立柱设防撞墩"), ("3-1", "大型车辆进入罐区周边须专人指挥")], AMINE_EMERGENCY),
    ])
    for i, (tag, amine) in enumerate((("V-401", "一甲胺"), ("V-402", "二甲胺"), ("V-403", "三甲胺")), 1):
        add(f"CY-02-{i:02d}", f"{amine}储罐{tag}", "equipment", "CY-02", "储运部", f"{amine}储罐{tag}",
            events=amine_vessel(tag, rng(tag), amine))
    add("CY-02-04", "甲胺水溶液储罐V-404", "equipment", "CY-02", "储运部", "甲胺水溶液储罐V-404", events=[
        EV("V-404甲胺水溶液泄漏挥发", "40%甲胺水溶液（易燃、腐蚀），常压储存", "2203", "中毒和窒息",
           "罐体腐蚀；呼吸阀排放气未接入尾气吸收", "甲胺气体挥发致人员中毒", "中间罐区", lec(1, 6, 15),
           "呼吸气接入水洗尾气吸收塔", [("1-1", "尾气吸收塔循环水定期更换"), ("2-2", "储罐每年测厚")],
           AMINE_EMERGENCY),
        EV("V-404罐体火灾", "甲胺水溶液闪点低", "2203", "火灾", "泄漏遇火源", "储罐火灾", "中间罐区",
           lec(1, 3, 40), "氮封；泡沫灭火系统", [("1-1", "氮封压力低报警"), ("4-3", "泡沫灭火系统每月试验")],
           MEOH_FIRE_EMERGENCY),
        EV("V-404采样化学灼伤", "甲胺水溶液强碱性", "2208", "灼烫", "采样喷溅", "皮肤眼睛灼伤", "采样人员",
           lec(3, 3, 3), "佩戴护目镜、耐碱手套", [("4-2", "佩戴防护面罩、耐碱手套")], "流动清水冲洗，送医"),
    ])
    add("CY-02-05", "中间罐区操作岗", "post", "CY-02", "储运部", weight=2, person="沈佳豪",
        work_content="甲胺产品收料、切水、压力监控", workplace="中间罐区", events=[
            EV("收料流程错误串料", "多罐共用收料管线", "1202", "泄漏", "未核对流程；阀门挂牌不清",
               "储罐超装泄漏", "中间罐区", ls(2, 4), "阀门挂牌，收料双人确认",
               [("3-2", "收料前流程确认单签字")], AMINE_EMERGENCY),
            EV("切水时甲胺气体逸出中毒", "储罐底部切水", "2206", "中毒和窒息", "切水阀开度过大，未站在上风向",
               "中毒", "操作人员", lec(1, 6, 15), "切水双阀操作，佩戴防毒面具",
               [("4-2", "切水佩戴防毒面具"), ("3-1", "切水时人员站在上风向")], AMINE_EMERGENCY),
            EV("夜间巡检照明不足绊倒", "罐区管线低矮", "3214", "其他伤害", "照明灯具损坏", "摔伤", "巡检人员",
               lec(3, 3, 1), "防爆照明", [("2-2", "照明灯具每月检查")], "救护伤员"),
        ])

    add("CY-03", "装卸区", "sub", "CY", "储运部", "装卸区", weight=4, events=[
        EV("装卸区车辆伤害", "槽车频繁进出、倒车", "2108", "车辆伤害", "车辆超速；倒车无人指挥；人车混行",
           "人员被撞", "装卸区", lec(1, 6, 15), "装卸区限速5 km/h，设人行通道",
           [("1-5", "设限速标志和减速带"), ("3-1", "倒车时装卸工指挥")], "救护伤员，拨打120"),
        EV("装卸区火灾爆炸", "甲醇、甲胺、液氨槽车同时在区内作业", "2203", "火灾",
           "泄漏遇槽车发动机、静电等点火源", "槽车火灾爆炸，多人伤亡", "装卸区及周边约100 m", lec(1, 6, 40),
           "装卸区设固定消防炮、水喷淋；可燃/有毒气体报警", [
               ("4-3", "消防炮每月试喷，水喷淋每季度试验"), ("1-4", "装卸区气体报警联锁关闭各鹤位紧急切断阀"),
               ("4-4", "每年开展槽车泄漏火灾演练")], MEOH_FIRE_EMERGENCY, inherent=lec(3, 6, 40)),
    ])
    add("CY-03-01", "装车棚", "subsub", "CY-03", "储运部", "装车棚", events=[
        EV("装车棚顶部作业平台坠落", "装车平台离地3.5 m", "2102", "高处坠落", "平台翻板护栏未放下", "坠落受伤",
           "装卸工", lec(1, 6, 15), "平台设可翻转护栏和安全绳", [("1-5", "安全绳定期检查"), ("4-2", "系安全带")],
           "救护伤员"),
    ])
    for i, (tag, medium, unload, nh3) in enumerate((("L-301", "甲醇", True, False), ("L-302", "甲胺", False, False),
                                                    ("L-303", "液氨", True, True)), 1):
        name = {"L-301": "甲醇卸车鹤位", "L-302": "甲胺装车鹤位", "L-303": "液氨卸车鹤位"}[tag] + tag
        add(f"CY-03-01-{i:02d}", name, "equipment", "CY-03-01", "储运部", name,
            events=loading_arm(tag, rng(tag), medium, unload, nh3))
    add("CY-03-02", "装卸控制室", "subsub", "CY-03", "储运部", "装卸控制室", weight=2, events=[
        EV("控制室电气线路火灾", "控制柜、空调电源线", "2103", "火灾", "线路老化过载", "控制室起火", "装卸控制室",
           lec(0.5, 6, 7), "配电线路定期检查", [("2-1", "电气线路每年检测")], "断电，用二氧化碳灭火器扑救"),
        EV("泄漏气体渗入控制室", "控制室距鹤位约30 m", "3111", "中毒和窒息", "门窗未关闭，正压通风故障",
           "值守人员中毒", "装卸控制室", lec(0.5, 6, 15), "控制室正压通风，门常闭",
           [("1-1", "正压通风故障报警")], "佩戴空气呼吸器撤离"),
    ])
    add("CY-03-03", "装卸工岗", "post", "CY-03", "储运部", weight=4, person="钱海峰",
        work_content="槽车检查、接地、鹤管对接、装卸过程监护", workplace="装卸区", events=[
            EV("未核查槽车资质即装卸", "外来危险货物运输车辆", "4302", "泄漏", "未核对车辆、驾驶员、押运员资质及罐体检验",
               "槽车缺陷导致泄漏", "装卸区", ls(2, 5), "执行装卸“五不装”“五不卸”规定",
               [("3-2", "装卸前填写车辆安全检查表"), ("3-1", "装卸工持证上岗")], "拒绝装卸并报告储运部"),
            EV("装卸过程中擅自离岗", "装卸过程监护失效", "1203", "泄漏", "装卸工、押运员离开现场",
               "泄漏不能及时处置", "装卸区", ls(2, 4), "装卸全程双人在场", [("3-1", "装卸全过程不得离岗")],
               "发现泄漏立即关闭紧急切断阀"),
            EV("接触甲醇、甲胺致灼伤中毒", "拆卸鹤管时残液", "2208", "灼烫", "拆卸前未泄压排净", "灼伤",
               "装卸工", lec(3, 3, 3), "拆卸前泄压、排净", [("4-2", "佩戴防护面罩、耐酸碱手套")], "流动清水冲洗"),
            EV("槽车倒车碾压", "槽车倒车盲区", "2108", "车辆伤害", "装卸工站在车辆后方指挥", "人员被碾压",
               "装卸工", lec(0.5, 6, 15), "倒车时站在驾驶员可视侧指挥", [("3-1", "倒车指挥站位培训")], "救护伤员，拨打120"),
        ])
    add("CY-03-04", "液氨卸车作业", "activity", "CY-03", "储运部", weight=3,
        work_content="液氨槽车与球罐气液相连接，压差卸车", workplace="液氨卸车鹤位L-303", events=[
            EV("卸车软管爆裂液氨泄漏", "卸车压力约1.6 MPa", "2206", "中毒和窒息", "金属软管超期使用；未做耐压试验",
               "液氨大量泄漏，多人中毒", "装卸区及下风向约500 m", lec(1, 3, 100),
               "采用万向节鹤管替代软管；设紧急切断阀", [("1-3", "紧急切断阀远程关闭每月试验"),
                                          ("4-1", "卸车点配备空气呼吸器、防化服"),
                                          ("3-2", "卸车全过程记录压力")], NH3_EMERGENCY, inherent=lec(3, 3, 100)),
            EV("卸车后气相管残液冻伤", "液氨气化吸热", "2111", "灼烫", "拆卸前未置换", "冻伤", "装卸工",
               lec(1, 3, 3), "拆卸前泄压至火炬", [("4-2", "佩戴防冻手套")], "温水复温，送医"),
            EV("卸车期间驾驶员未熄火", "车辆发动机", "1202", "火灾", "驾驶员未熄火或擅自启动", "点燃泄漏气体",
               "装卸区", ls(2, 4), "车辆钥匙交装卸工保管", [("3-1", "熄火、拉手刹、放轮挡后方可卸车")], NH3_EMERGENCY),
        ])
    add("CY-03-05", "槽车进出厂作业", "activity", "CY-03", "储运部", weight=2,
        work_content="危险货物运输车辆厂内行驶、停放", workplace="物流入口至装卸区道路", events=[
            EV("槽车厂内超速行驶", "厂内道路", "2108", "厂（场）内车辆致害", "驾驶员超速；路口无减速",
               "撞伤行人或撞击设施", "厂内道路", lec(1, 6, 7), "厂内限速15 km/h", [("1-5", "路口设凸面镜和减速带")],
               "救护伤员，保护现场"),
            EV("槽车在厂内排队停放", "多辆危险品车辆集中停放", "4302", "火灾", "停车场地不足，在道路上停放",
               "一车起火殃及多车", "物流通道", ls(2, 4), "预约进厂，分批进入", [("3-2", "槽车预约登记")],
               "疏散车辆，扑救初期火灾"),
        ])

    add("CY-04", "危险化学品库区", "sub", "CY", "储运部", "危险化学品库区", weight=2, events=[
        EV("危险化学品库区火灾", "库区存放甲类、乙类危险化学品", "2203", "火灾", "库房间距内堆放杂物；外来火源",
           "库区火灾蔓延", "危险化学品库区", lec(0.5, 6, 40), "库区设消防通道，严禁烟火",
           [("4-3", "库区配室外消火栓和推车式灭火器"), ("3-1", "外来人员进入登记")], "启动库房火灾应急预案"),
    ])
    add("CY-04-01", "甲类危险化学品仓库", "subsub", "CY-04", "储运部", "甲类危险化学品仓库", weight=2, events=[
        EV("桶装易燃液体泄漏引发火灾", "桶装甲醇、丙酮等易燃液体约20 t", "2203", "火灾",
           "包装桶破损；搬运碰撞；库内温度过高", "库房火灾爆炸", "甲类危险化学品仓库及周边",
           ls(3, 5), "防爆电气；可燃气体报警；库内温度控制在30℃以下",
           [("1-2", "库内防爆灯具、防爆风机每年检查"), ("1-1", "可燃气体报警联锁启动事故排风"),
            ("3-2", "每日两次记录库内温湿度")], MEOH_FIRE_EMERGENCY, inherent=ls(4, 5)),
        EV("禁忌物料混存", "氧化剂与易燃液体", "4302", "火灾", "未按禁忌表分区存放", "化学反应引发火灾",
           "库房", ls(2, 5), "分区分类储存，张贴禁忌物料配存表", [("3-2", "入库核对禁忌表")], "隔离，灭火"),
        EV("库内有毒蒸气中毒", "挥发性有毒物质", "3111", "中毒和窒息", "进入库房前未通风", "中毒", "仓管员",
           lec(1, 6, 7), "进库前通风15分钟", [("1-1", "事故排风机与门联动")], "撤离至空气新鲜处"),
        EV("货架倾倒物体打击", "多层货架", "2101", "物体打击", "货架超载；堆放超高", "砸伤", "仓管员",
           lec(1, 3, 7), "货架限载标识", [("1-5", "货架限载，堆高不超过2 m")], "救护伤员"),
    ])
    add("CY-04-02", "乙类危险化学品仓库", "subsub", "CY-04", "储运部", "乙类危险化学品仓库", events=[
        EV("氧化剂受热分解", "27.5%双氧水、硫磺等乙类物品", "2205", "火灾", "库温过高；与还原剂接触",
           "分解放热引发火灾", "乙类危险化学品仓库", ls(2, 5), "库房通风降温，分区存放",
           [("1-1", "库房设温度报警"), ("3-2", "每日巡查记录")], "隔离，用大量水冷却"),
        EV("硫磺粉尘爆炸", "硫磺粉尘", "2209", "粉尘爆炸", "破包扬尘遇火花", "粉尘爆炸", "库房",
           lec(0.5, 3, 40), "轻拿轻放，破包及时清扫", [("3-1", "硫磺搬运使用防爆工具")], "喷雾水扑救，禁止直流水冲击"),
        EV("腐蚀品灼伤", "双氧水接触皮肤", "2208", "灼烫", "搬运时桶盖松动", "皮肤灼伤", "仓管员",
           lec(1, 3, 3), "佩戴防护手套", [("4-2", "佩戴耐酸碱手套和护目镜")], "流动清水冲洗"),
    ])
    add("CY-04-03", "仓库保管岗", "post", "CY-04", "储运部", weight=2, person="沈佳豪",
        work_content="危险化学品入库验收、储存养护、出库发放", workplace="甲类、乙类危险化学品仓库", events=[
            EV("出入库台账不清", "危险化学品管理", "4302", "其他伤害", "账物不符，过期物品未处置",
               "储存超量、变质引发事故", "危险化学品库区", ls(2, 3), "双人双锁，台账日清",
               [("3-2", "危险化学品出入库台账每日核对")], "清点核查，报告储运部"),
            EV("搬运时扭伤砸伤", "人工搬运桶装物料", "1101", "其他伤害", "超重搬运", "腰部扭伤、砸脚", "仓管员",
               lec(3, 3, 1), "使用搬运车", [("4-2", "穿防砸安全鞋")], "休息，必要时就医"),
            EV("进入库房未检测", "库内可能存在有毒可燃蒸气", "1202", "中毒和窒息", "未开启通风即进入",
               "中毒", "仓管员", lec(1, 3, 7), "进库先通风", [("3-1", "进库前开启排风机15分钟")], "撤离至空气新鲜处"),
        ])
    add("CY-04-04", "叉车搬运作业", "activity", "CY-04", "储运部", weight=2,
        work_content="危险化学品桶、托盘装卸搬运", workplace="危险化学品库区、成品库区", events=[
            EV("叉车撞人", "叉车视线受阻", "2108", "车辆伤害", "货物堆高遮挡视线；人车混行", "撞伤碾压",
               "库区人员", lec(1, 6, 15), "叉车限速，持证驾驶", [("3-1", "叉车司机持特种设备作业证"),
                                                  ("1-5", "叉车安装蓝光警示灯")], "救护伤员，拨打120"),
            EV("非防爆叉车进入甲类库", "叉车电气火花", "2109", "火灾", "误用普通叉车", "引燃易燃蒸气", "甲类库",
               lec(0.5, 3, 40), "甲类库专用防爆叉车", [("1-2", "甲类库只允许防爆叉车进入")], MEOH_FIRE_EMERGENCY),
            EV("货物坠落", "托盘货物捆扎不牢", "2108", "物体打击", "叉运时急刹、转弯过快", "砸伤", "库区人员",
               lec(1, 3, 7), "货物捆扎", [("3-1", "叉运前检查捆扎")], "救护伤员"),
        ])

    add("CY-05", "成品库区", "sub", "CY", "储运部", "成品库区", events=[
        EV("成品库区消防通道堵塞", "库区通道", "3212", "火灾", "临时堆放托盘、包装物", "火灾时消防车无法进入",
           "成品库区", ls(2, 3), "消防通道划线禁止占用", [("3-2", "每日巡查消防通道")], "清理通道"),
    ])
    add("CY-05-01", "成品仓库", "subsub", "CY-05", "储运部", "成品仓库", weight=2, events=[
        EV("桶装甲胺水溶液泄漏火灾", "桶装40%甲胺水溶液约60 t", "2203", "火灾", "包装桶破损；堆垛倒塌",
           "仓库火灾", "成品仓库", lec(0.5, 6, 40), "设防火分区和泄漏收集沟",
           [("1-5", "仓库地面设导流沟和收集池"), ("4-3", "配泡沫灭火器")], MEOH_FIRE_EMERGENCY),
        EV("仓库内甲胺气味中毒", "包装桶呼吸", "3111", "中毒和窒息", "通风不良", "头晕、刺激", "仓管员",
           lec(1, 6, 7), "机械通风", [("1-1", "排风机每班开启")], "撤离至空气新鲜处"),
        EV("堆垛倒塌", "桶装产品三层堆垛", "2101", "物体打击", "堆垛超高；托盘损坏", "砸伤", "仓管员",
           lec(1, 3, 7), "堆垛不超过三层", [("3-1", "堆垛检查")], "救护伤员"),
    ])
    add("CY-05-02", "成品仓库保管岗", "post", "CY-05", "储运部", weight=1, person="钱海峰",
        work_content="成品入库、发货、盘点", workplace="成品仓库", events=[
            EV("发货时误发", "多品种产品", "4302", "其他伤害", "未核对标签", "客户处混装风险", "发货环节",
               ls(1, 3), "发货双人复核", [("3-2", "出库单复核签字")], "追回产品"),
            EV("冬季地面结冰滑倒", "库外装车平台", "3202", "其他伤害", "结冰未清除", "摔伤", "仓管员",
               lec(1, 3, 3), "及时除冰铺防滑垫", [("1-5", "铺设防滑垫")], "救护伤员"),
        ])

    add("CY-06", "物流入口区", "sub", "CY", "储运部", "物流入口区", weight=2, events=[
        EV("物流入口车辆拥堵碰撞", "危险货物车辆、普通货车共用入口", "2108", "车辆伤害", "车辆排队无序",
           "车辆碰撞或撞人", "物流入口区", lec(1, 6, 7), "进出分道，设道闸", [("1-5", "设道闸和隔离栏")], "救护伤员"),
    ])
    add("CY-06-01", "2号门卫", "subsub", "CY-06", "行政部", "2号门卫", weight=2, events=[
        EV("门卫室取暖电器火灾", "电暖器", "2103", "火灾", "电暖器靠近可燃物", "门卫室起火", "2号门卫",
           lec(0.5, 3, 7), "禁止使用大功率电器", [("管理", "冬季安全检查")], "断电，用灭火器扑救"),
        EV("夜间值守被车辆撞击", "门卫室临近车道", "2108", "车辆伤害", "车辆失控", "撞伤", "门卫",
           lec(0.5, 6, 7), "门卫室前设防撞墩", [("工程技术", "设防撞墩")], "救护伤员"),
    ])
    add("CY-06-02", "汽车衡W-901", "equipment", "CY-06", "储运部", "汽车衡W-901", events=[
        EV("槽车过磅时撞人", "称重时车辆前后移动", "2108", "车辆伤害", "过磅员在车辆前后走动；驾驶员未确认",
           "撞伤碾压", "汽车衡周边", lec(1, 6, 15), "过磅期间人员远离车辆", [("1-5", "汽车衡两端设红绿灯和道闸"),
                                                       ("3-1", "过磅员在控制室内操作")], "救护伤员，拨打120"),
        EV("汽车衡地坑积水触电", "称重传感器接线盒", "2103", "触电", "地坑积水，线缆破损", "触电",
           "维护人员", lec(0.5, 3, 7), "地坑排水", [("2-1", "每月检查接线盒")], "断电施救"),
    ])
    add("CY-06-03", "物流门岗", "post", "CY-06", "行政部", weight=2, person="汪强",
        work_content="危险货物车辆进厂检查、登记、放行", workplace="2号门卫、物流入口区", events=[
            EV("未检查阻火器放行车辆", "危险货物车辆进厂检查", "1203", "火灾", "检查流于形式",
               "车辆进入生产区引发火灾", "全厂", ls(2, 5), "进厂车辆检查表", [("3-2", "逐车检查阻火器、静电导链并登记")],
               "拦停车辆"),
            EV("检查车辆时被车辆剐蹭", "车辆进出", "2108", "车辆伤害", "站位不当", "剐蹭受伤", "门岗人员",
               lec(1, 6, 3), "车辆停稳后检查", [("3-1", "站位培训")], "救护伤员"),
        ])

    # ======================================== 生产系统 ========================================
    add("SC", "生产系统", "main", None, "合成车间")
    add("SC-01", "合成装置区", "sub", "SC", "合成车间", "合成装置区", weight=8, events=[
        EV("检修期间装置区人员密集", "大修期间装置区同时作业人员常超过10人，区内有可燃有毒介质", "4302", "其他爆炸",
           "交叉作业多，外来施工人员多；动火、受限空间作业同时进行",
           "一旦发生火灾爆炸或泄漏，造成群死群伤", "合成装置区", lec(1, 6, 100),
           "检修方案审批；控制作业人数；作业区域隔离", [
               ("3-1", "检修期间装置区作业人数由安全环保部审批并实时统计"),
               ("1-5", "检修装置与运行装置加盲板隔离"),
               ("4-4", "检修前开展一次综合应急演练")],
           "发生事故立即按紧急疏散路线撤离，清点人数；启动公司综合应急预案",
           direct=["crowded-dangerous-place"], location="合成装置区（检修期间）"),
        EV("合成装置区有毒气体扩散", "氨、甲胺气体", "2206", "中毒和窒息", "装置密封点多，泄漏后扩散",
           "装置区及下风向人员中毒", "合成装置区及下风向约300 m", lsd(3, 4, 5, 4, 3, 5),
           "装置区有毒气体报警联锁；LDAR泄漏检测", [("2-2", "每季度开展LDAR泄漏检测与修复"),
                                      ("1-4", "有毒气体二级报警联锁启动水幕")], AMINE_EMERGENCY),
    ])
    add("SC-01-01", "反应车间", "subsub", "SC-01", "合成车间", "反应车间", weight=6,
        override={"level": "major", "reason": "涉及国家重点监管危险化工工艺（胺基化工艺），依据公司规定直接判定为重大风险"},
        events=[
            EV("反应车间氨、甲胺泄漏中毒", "车间内密封点约1200个", "2206", "中毒和窒息", "法兰、阀门泄漏，通风失效",
               "车间内人员中毒", "反应车间", lec(1, 6, 40), "车间机械通风与有毒气体报警联锁",
               [("1-1", "事故排风每班试运行"), ("4-1", "车间配空气呼吸器4套")], AMINE_EMERGENCY),
            EV("反应车间可燃气体积聚爆炸", "甲醇蒸气、甲胺", "2202", "可燃气体爆炸", "通风失效，泄漏气体积聚",
               "厂房爆炸", "反应车间及周边", lec(0.5, 6, 100), "厂房泄压面积满足规范；防爆电气",
               [("1-2", "防爆电气每年检查"), ("1-5", "泄压窗保持完好")], AMINE_EMERGENCY),
            EV("车间噪声", "压缩机、泵噪声约90 dB(A)", "2104", "其他伤害", "长期暴露", "听力损伤", "车间人员",
               lec(3, 6, 1), "佩戴耳塞", [("4-2", "进入压缩机区佩戴耳罩")], "职业健康体检"),
        ])
    for i, tag in enumerate(("R-201", "R-202", "R-203")):
        add(f"SC-01-01-{i + 1:02d}", f"合成反应器{tag}", "equipment", "SC-01-01", "合成车间", f"合成反应器{tag}",
            events=reactor(tag, rng(tag), i))
    add("SC-01-01-04", "循环气压缩机K-201", "equipment", "SC-01-01", "合成车间", "循环气压缩机K-201", events=[
        EV("K-201密封泄漏火灾爆炸", "循环气含氨、甲胺、氢", "2202", "其他爆炸", "干气密封失效；缸体法兰泄漏",
           "压缩机房火灾爆炸", "反应车间", lec(1, 6, 40), "干气密封泄漏量监测联锁停机",
           [("1-4", "密封泄漏高高联锁停机"), ("2-1", "压缩机状态监测，振动、温度趋势分析")], AMINE_EMERGENCY,
           inherent=lec(3, 6, 40)),
        EV("K-201转动部位机械伤害", "联轴器、飞轮", "2108", "机械伤害", "防护罩缺失", "卷入伤害", "操作检修人员",
           lec(1, 6, 7), "防护罩", [("2-1", "防护罩检修后恢复")], "停机施救"),
        EV("K-201振动导致管线疲劳断裂", "往复式压缩机出口管线", "2101", "管道爆炸", "管线支撑松动，振动超标",
           "管线断裂泄漏", "压缩机周边", ls(2, 4), "管线加设防振支架", [("2-2", "每月检查防振支架")], AMINE_EMERGENCY),
        EV("K-201润滑油系统火灾", "润滑油泄漏到高温部位", "2203", "火灾", "油管接头松动", "压缩机着火",
           "压缩机周边", lec(0.5, 6, 15), "油系统定期检查", [("2-1", "每班检查油压、油位")], "停机，用干粉灭火器扑救"),
    ])
    add("SC-01-02", "开工加热炉F-201", "equipment", "SC-01", "合成车间", "开工加热炉F-201", events=[
        EV("F-201点火炉膛爆燃", "燃料天然气", "2202", "其他爆炸", "点火前未吹扫，点火失败后未重新吹扫",
           "炉膛爆燃", "加热炉周边", lec(1, 1, 100), "燃烧器管理系统（BMS）", [("1-4", "BMS点火程序与吹扫联锁"),
                                                          ("3-1", "点火作业由班长监护")],
           "切断燃料，吹扫后检查炉体"),
        EV("F-201炉管破裂", "炉管内原料气高温", "2101", "火灾", "炉管局部过热；结焦", "炉管破裂着火",
           "加热炉周边", lec(0.5, 2, 40), "炉管表面测温", [("2-2", "炉管每年测厚")], "紧急停炉，通入灭火蒸汽"),
        EV("F-201燃料气管线泄漏", "天然气管线", "2202", "火灾", "阀门、法兰泄漏", "火灾", "加热炉周边",
           lec(1, 3, 40), "可燃气体检测报警", [("1-2", "燃料气紧急切断阀每半年试验")], "切断燃料气，扑救"),
        EV("F-201看火孔高温灼伤", "炉膛高温", "2110", "灼烫", "正压回火", "面部灼伤", "操作人员",
           lec(1, 2, 3), "看火时佩戴面罩", [("4-2", "佩戴防护面罩")], "冷水冲洗，送医"),
    ])
    add("SC-01-03", "氨冷器E-201", "equipment", "SC-01", "合成车间", "氨冷器E-201", events=[
        EV("E-201管束内漏氨气串入循环水", "液氨蒸发冷却反应气", "2206", "中毒和窒息", "管束腐蚀穿孔",
           "氨进入循环水系统，冷却塔处人员中毒", "循环水站、合成装置区", lec(1, 6, 15), "循环水氨含量在线分析",
           [("1-2", "循环水回水氨含量高报警"), ("2-2", "换热器每三年抽芯检查")], NH3_EMERGENCY),
        EV("E-201壳程超压", "液氨蒸发压力", "2202", "容器爆炸", "气氨出口阀误关，安全阀失效", "设备破裂",
           "合成装置区", ls(2, 5), "安全阀", [("1-3", "安全阀每年校验"), ("3-2", "阀门挂牌管理")], NH3_EMERGENCY),
        EV("E-201排污冻伤", "液氨", "2111", "灼烫", "排油时液氨喷出", "冻伤", "操作人员", lec(1, 2, 7),
           "双阀排污", [("4-2", "佩戴防冻手套")], "温水复温"),
    ])
    add("SC-01-04", "合成操作岗", "post", "SC-01", "合成车间", weight=6, person="吴志强",
        work_content="合成反应器、压缩机、加热炉现场操作与巡检", workplace="合成装置区、反应车间", events=[
            EV("外操误操作导致工艺波动", "阀门、调节阀现场操作", "1202", "容器爆炸", "未执行操作卡；与内操沟通不畅",
               "反应器飞温超压", "合成装置区", lsd(2, 4, 5, 5, 4, 4), "操作卡管理；内外操对讲确认",
               [("3-2", "关键操作执行确认卡"), ("3-1", "每年工艺操作复训考核")], "报告中控室，按紧急停车程序处置"),
            EV("巡检时有毒气体中毒", "氨、甲胺", "2206", "中毒和窒息", "未携带检测仪", "中毒", "巡检人员",
               lec(1, 6, 15), "便携式检测仪", [("4-2", "巡检佩戴检测仪和过滤式防毒面具")], AMINE_EMERGENCY),
            EV("夜间巡检跌落地沟", "装置区电缆沟、排水沟", "3208", "跌落", "盖板缺失", "摔伤", "巡检人员",
               lec(1, 6, 3), "盖板齐全", [("1-5", "地沟盖板每月检查")], "救护伤员"),
            EV("采样时高温物料烫伤", "反应气采样", "2110", "灼烫", "采样器未冷却", "烫伤", "操作人员", lec(1, 6, 3),
               "带冷却器的密闭采样器", [("1-5", "采样器带冷却盘管")], "冷水冲洗"),
        ])
    add("SC-01-05", "反应器受限空间作业", "activity", "SC-01", "设备部", weight=4,
        work_content="反应器催化剂更换、内件检修，进入反应器内作业", workplace="合成反应器R-201～R-203内部", events=[
            EV("氮气置换后进入反应器窒息", "反应器内氮气保护，氧含量低", "3111", "窒息", "未检测氧含量；空气置换不彻底",
               "缺氧窒息死亡", "反应器内作业人员", lec(1, 2, 100), "受限空间作业许可；连续监测氧含量",
               [("3-1", "受限空间作业票审批，作业人员、监护人持证"), ("1-5", "强制通风，氧含量19.5%–21%方可进入"),
                ("4-1", "配空气呼吸器、安全绳、三脚架")], "监护人呼救，佩戴空气呼吸器施救，禁止盲目施救",
               inherent=lec(6, 2, 100)),
            EV("残留氨、甲胺中毒", "催化剂吸附有氨、甲胺", "2206", "中毒", "卸剂时未充分吹扫", "中毒",
               "作业人员", lec(1, 2, 40), "卸剂前氮气吹扫、水洗", [("4-2", "佩戴长管呼吸器")], AMINE_EMERGENCY),
            EV("催化剂粉尘", "分子筛催化剂粉尘", "2209", "其他伤害", "卸剂扬尘", "呼吸道伤害", "作业人员",
               ls(2, 2), "佩戴防尘口罩", [("4-2", "佩戴KN95防尘口罩")], "脱离现场"),
            EV("反应器内高处坠落", "反应器内部约9 m", "3207", "高处坠落", "未系安全带", "坠落", "作业人员",
               lec(1, 2, 15), "安全带、软梯", [("4-2", "系挂安全带")], "施救"),
        ])
    add("SC-01-06", "盲板抽堵作业", "activity", "SC-01", "设备部", weight=3,
        work_content="装置检修前后工艺管线盲板抽堵", workplace="合成装置区工艺管线", events=[
            EV("抽堵盲板时介质喷出中毒", "管线内残留氨、甲胺", "2206", "中毒和窒息", "管线未泄压、排净", "中毒",
               "作业人员", lec(1, 2, 40), "盲板抽堵作业许可，作业前泄压排净", [
                   ("3-1", "盲板抽堵作业票，盲板编号登记"), ("4-2", "佩戴空气呼吸器作业")], AMINE_EMERGENCY),
            EV("盲板作业引发火灾", "可燃介质", "2109", "火灾", "使用非防爆工具", "火灾", "作业点",
               lec(0.5, 2, 100), "防爆工具", [("1-2", "铜制防爆扳手")], MEOH_FIRE_EMERGENCY),
            EV("管廊上抽堵盲板坠落", "管廊高约6 m", "2102", "高处坠落", "无作业平台", "坠落", "作业人员",
               lec(1, 2, 7), "搭设平台", [("4-2", "系安全带")], "救护伤员"),
        ])
    add("SC-01-07", "合成装置开停车作业", "activity", "SC-01", "合成车间", weight=6,
        work_content="合成装置开车置换、升温、投料及停车", workplace="合成装置区", events=[
            EV("开车升温过快超压", "开车升温", "1202", "容器爆炸", "升温速率超过50℃/h", "设备损坏泄漏",
               "合成装置区", lec(1, 1, 100), "开车方案审批", [("3-2", "开车升温曲线记录"), ("3-1", "开车前培训")],
               "停止升温，降压"),
            EV("置换不彻底投料爆炸", "系统内残留空气", "2202", "其他爆炸", "氧含量分析不合格即投料", "系统内爆炸",
               "合成装置区", lec(1, 2, 100), "置换后氧含量小于0.5%方可投料", [
                   ("3-2", "置换分析报告签字"), ("1-1", "投料前DCS确认条件")], AMINE_EMERGENCY, inherent=lec(3, 2, 100)),
            EV("开车期间人员增多", "开车期间多专业人员在现场", "4302", "其他伤害", "无关人员进入", "事故时伤亡扩大",
               "合成装置区", ls(2, 4), "开车期间控制现场人数", [("3-1", "开车期间现场人员登记")], "疏散无关人员"),
        ])

    add("SC-02", "精馏装置区", "sub", "SC", "精馏车间", "精馏装置区", weight=5, events=[
        EV("精馏装置区火灾爆炸", "四座精馏塔及回流系统持有大量甲胺、氨", "2202", "其他爆炸",
           "设备泄漏遇点火源", "装置区火灾爆炸，多人伤亡", "精馏装置区及周边约150 m", lec(1, 6, 100),
           "SIS系统；固定消防炮；可燃有毒气体报警", [("1-4", "SIS回路每年检验"), ("4-3", "消防炮每月试喷"),
                                        ("4-4", "每半年演练一次")], AMINE_EMERGENCY, inherent=lec(3, 6, 100)),
        EV("精馏框架雷击", "框架高约35 m", "3201", "火灾", "避雷设施失效", "火灾", "精馏装置区", lec(0.5, 2, 40),
           "防雷检测", [("2-2", "防雷每年检测")], "扑救"),
    ])
    for i, (tag, medium, press, high) in enumerate((
            ("C-301", "氨、甲胺", "1.8", True), ("C-302", "三甲胺、水", "1.0", False),
            ("C-303", "甲胺、水", "0.6", False), ("C-304", "一甲胺、二甲胺", "0.8", False)), 1):
        name = {"C-301": "脱氨塔", "C-302": "萃取塔", "C-303": "脱水塔", "C-304": "分离塔"}[tag] + tag
        add(f"SC-02-{i:02d}", name, "equipment", "SC-02", "精馏车间", name,
            events=column(tag, rng(tag), medium, press, high))
    add("SC-02-05", "回流罐V-301", "equipment", "SC-02", "精馏车间", "回流罐V-301", events=[
        EV("V-301液位失控满罐", "回流罐液位", "1202", "泄漏", "液位计故障，回流泵跳车", "安全阀起跳或泄漏",
           "精馏装置区", ls(3, 4), "液位高低报警", [("1-2", "两套液位计比对"), ("3-2", "每小时记录液位")], AMINE_EMERGENCY),
        EV("V-301超压", "塔顶气相", "2202", "容器爆炸", "冷凝器故障", "超压破裂", "精馏装置区", lec(0.5, 6, 40),
           "安全阀", [("1-3", "安全阀校验")], AMINE_EMERGENCY),
        EV("V-301排污中毒", "底部排水带甲胺", "2206", "中毒和窒息", "排水带料", "中毒", "操作人员", lec(1, 3, 15),
           "排水至密闭系统", [("1-1", "排污接入密闭排放系统")], AMINE_EMERGENCY),
    ])
    add("SC-02-06", "精馏泵房", "subsub", "SC-02", "精馏车间", "精馏泵房", weight=2, events=[
        EV("泵房通风不良氨气积聚", "泵房半封闭", "3111", "中毒和窒息", "轴流风机故障", "中毒", "泵房内人员",
           lec(1, 6, 15), "泵房机械通风与报警联锁", [("1-1", "风机故障报警")], AMINE_EMERGENCY),
        EV("泵房电缆沟积聚可燃气体", "电缆沟", "2202", "其他爆炸", "电缆沟未充砂", "爆炸", "泵房",
           lec(0.5, 3, 40), "电缆沟充砂封堵", [("1-5", "电缆沟充砂并封堵")], AMINE_EMERGENCY),
    ])
    for i, tag in enumerate(("P-301A", "P-301B"), 1):
        add(f"SC-02-06-{i:02d}", f"回流泵{tag}", "equipment", "SC-02-06", "精馏车间", f"回流泵{tag}",
            events=pump(tag, rng(tag), "甲胺")[:2])
    add("SC-02-07", "精馏操作岗", "post", "SC-02", "精馏车间", weight=4, person="陈浩然",
        work_content="精馏塔、回流系统现场操作、巡检、切水采样", workplace="精馏装置区、精馏泵房", events=[
            EV("精馏塔误操作超压", "塔压控制", "1202", "容器爆炸", "调节阀手动操作失误", "超压", "精馏装置区",
               ls(2, 5), "操作卡", [("3-2", "执行操作卡并双人确认")], "切断加热，降压"),
            EV("巡检中毒", "甲胺、氨", "2206", "中毒和窒息", "未携带检测仪", "中毒", "巡检人员", lec(1, 6, 15),
               "携带检测仪", [("4-2", "携带检测仪")], AMINE_EMERGENCY),
            EV("上下框架楼梯滑倒", "框架钢梯", "3202", "跌落", "梯子油污", "摔伤", "巡检人员", lec(1, 6, 3),
               "楼梯清洁", [("1-5", "防滑踏板")], "救护"),
            EV("夜班疲劳操作", "连续夜班", "1101", "其他伤害", "疲劳", "误操作", "操作人员", ls(2, 3),
               "合理排班", [("3-3", "交接班检查人员精神状态")], "调整人员"),
        ])
    add("SC-02-08", "精馏塔高处作业", "activity", "SC-02", "设备部", weight=3,
        work_content="精馏塔仪表、阀门、保温检修等2 m以上作业", workplace="精馏框架各层平台", events=[
            EV("高处作业坠落", "精馏框架最高约35 m", "3207", "高处坠落", "临边无防护；安全带未系挂",
               "坠落致死亡", "作业人员", lec(1, 3, 15), "高处作业许可；安全带高挂低用",
               [("3-1", "高处作业票审批，作业人员持证"), ("4-2", "全身式安全带")], "施救", inherent=lec(3, 3, 15)),
            EV("安全带未正确系挂", "个体防护", "1202", "高处坠落", "安全带低挂高用", "坠落", "作业人员",
               ls(3, 4), "监护人检查", [("3-1", "监护人检查安全带系挂")], "施救"),
            EV("高处坠物打击", "工具、螺栓", "2108", "物体打击", "工具未系防坠绳", "砸伤下方人员",
               "作业点下方", lec(1, 3, 7), "下方设警戒区", [("1-5", "设警戒区")], "救护伤员"),
        ])
    add("SC-02-09", "精馏装置取样作业", "activity", "SC-02", "质检部", weight=2,
        work_content="塔釜、回流罐工艺取样", workplace="精馏装置区采样点", events=[
            EV("采样口喷溅灼伤", "甲胺溶液", "2208", "灼烫", "采样阀开度过大", "灼伤", "采样人员",
               lec(3, 3, 7), "密闭采样", [("4-2", "防护面罩")], "冲洗"),
            EV("采样时中毒", "甲胺气体", "2206", "中毒和窒息", "采样点通风差", "中毒", "采样人员",
               lec(1, 3, 15), "站上风向", [("4-2", "过滤式防毒面具")], AMINE_EMERGENCY),
        ])

    add("SC-03", "包装区", "sub", "SC", "精馏车间", "包装区", events=[
        EV("包装区叉车伤人", "包装成品转运", "2108", "车辆伤害", "人车混行", "撞伤", "包装区", lec(1, 6, 7),
           "人车分流", [("1-5", "地面划线分区")], "救护伤员"),
    ])
    add("SC-03-01", "包装车间", "subsub", "SC-03", "精馏车间", "包装车间", weight=4, events=[
        EV("灌装时甲胺挥发中毒", "40%甲胺水溶液灌装", "2206", "中毒和窒息", "灌装口无局部排风", "中毒", "灌装人员",
           lec(3, 6, 7), "灌装口局部排风", [("1-1", "灌装口设集气罩，风量定期检测"), ("4-2", "佩戴防毒面具")],
           AMINE_EMERGENCY),
        EV("灌装区火灾", "易燃液体", "2203", "火灾", "静电", "火灾", "包装车间", lec(0.5, 6, 15),
           "灌装桶接地", [("1-5", "灌装桶静电接地夹")], "灭火器扑救"),
    ])
    add("SC-03-01-01", "甲胺水溶液灌装机", "equipment", "SC-03-01", "精馏车间", events=[
        EV("灌装机夹伤", "压盖机构", "2108", "机械伤害", "手伸入压盖区", "手部夹伤", "灌装人员", lec(1, 6, 3),
           "光栅保护", [("1-2", "安全光栅")], "停机施救"),
        EV("灌装机溢料", "计量失准", "2101", "灼烫", "流量计故障", "喷溅灼伤", "灌装人员", lec(1, 3, 3),
           "定量灌装", [("2-1", "流量计定期校验")], "冲洗"),
        EV("灌装机电气漏电", "电机", "2103", "触电", "接地不良", "触电", "灌装人员", lec(0.5, 6, 7), "接地",
           [("2-1", "接地检查")], "断电施救"),
    ])
    add("SC-03-01-02", "灌装岗", "post", "SC-03-01", "精馏车间", weight=4, person="陈浩然",
        work_content="甲胺水溶液灌装、压盖、贴签、码垛", workplace="包装车间", events=[
            EV("搬运桶装产品扭伤", "200 L桶", "1101", "其他伤害", "人工搬运", "扭伤", "灌装人员", lec(3, 6, 1),
               "机械搬运", [("1-5", "使用抱桶车")], "就医"),
            EV("皮肤接触甲胺", "产品接触", "2208", "灼烫", "手套破损", "灼伤", "灌装人员", lec(1, 6, 3),
               "耐碱手套", [("4-2", "耐碱手套")], "冲洗"),
            EV("码垛倒塌", "托盘码垛", "2101", "物体打击", "码放不齐", "砸伤", "灌装人员", lec(1, 3, 7),
               "码垛规范", [("3-1", "码垛培训")], "救护"),
        ])

    add("SC-04", "中心控制区", "sub", "SC", "合成车间", "中心控制区", events=[
        EV("装置爆炸冲击波波及中控室", "中控室距合成装置约80 m", "2202", "其他爆炸", "装置区发生蒸气云爆炸",
           "中控室受损，操作人员受伤，失去控制", "中心控制区", lec(0.2, 10, 40),
           "中控室按抗爆设计，面向装置侧无门窗", [("1-5", "抗爆墙体定期检查"), ("4-4", "中控室人员紧急撤离演练")],
           "启动紧急停车，按疏散路线撤离"),
    ])
    add("SC-04-01", "中控室", "subsub", "SC-04", "合成车间", "中控室", weight=8, events=[
        EV("机柜间电气火灾", "DCS、SIS机柜", "2103", "火灾", "电源故障；空调失效过热", "控制系统失效", "中控室",
           lec(0.5, 6, 15), "七氟丙烷气体灭火；UPS", [("4-3", "气体灭火系统每年检测"), ("2-1", "UPS每季度放电试验")],
           "手动启动气体灭火，人员撤离机柜间"),
        EV("有毒气体渗入中控室", "装置区泄漏", "3111", "中毒和窒息", "新风口有毒气体报警未联锁关闭",
           "中控人员中毒", "中控室", lec(0.5, 6, 15), "新风口设有毒气体检测并联锁关闭新风",
           [("1-4", "新风口有毒气体报警联锁关闭新风阀")], "佩戴空气呼吸器，坚守或撤离"),
        EV("中控室人员密集", "交接班时人员超过10人", "4302", "其他伤害", "非操作人员在中控室逗留",
           "事故时伤亡扩大", "中控室", ls(2, 4), "限制中控室非值班人员", [("3-3", "交接班人员登记")], "疏散"),
    ])
    add("SC-04-02", "DCS操作岗", "post", "SC-04", "合成车间", weight=6, person="蒋春雷",
        work_content="DCS监盘、工艺参数调整、报警处置、联锁投切", workplace="中控室", events=[
            EV("DCS误操作引发工艺失控", "远程操作", "1202", "容器爆炸", "未确认即操作；误改设定值", "工艺失控",
               "合成、精馏装置", ls(2, 5), "操作权限分级；关键操作二次确认", [
                   ("1-1", "关键参数修改二次确认"), ("3-1", "内操持证上岗")], "恢复参数，必要时紧急停车"),
            EV("联锁擅自摘除", "SIS联锁管理", "4302", "容器爆炸", "未办理联锁摘除审批", "联锁失效，事故扩大",
               "装置区", ls(2, 5), "联锁摘除审批制度", [("3-2", "联锁投切登记台账，每日检查")], "立即恢复联锁"),
            EV("长时间监盘疲劳", "连续监盘", "1101", "其他伤害", "夜班疲劳", "反应迟缓", "内操", ls(3, 2),
               "轮换监盘", [("3-3", "每2小时轮换")], "调整"),
        ])

    add("SC-05", "质检区", "sub", "SC", "质检部", "质检区", events=[
        EV("质检区气瓶间泄漏", "氢气、氮气、乙炔气瓶", "2202", "其他爆炸", "气瓶阀门泄漏", "爆炸", "质检区",
           lec(0.5, 6, 40), "气瓶间独立设置，防爆电气，可燃气体报警", [
               ("1-2", "可燃气体报警每季度标定"), ("3-2", "气瓶出入库登记")], "关闭瓶阀，通风，疏散"),
    ])
    add("SC-05-01", "化验室", "subsub", "SC-05", "质检部", "化验室", weight=5, events=[
        EV("化学试剂灼伤", "硫酸、氢氧化钠等试剂", "2208", "灼烫", "配制时喷溅", "灼伤", "化验员", lec(1, 6, 3),
           "通风橱操作", [("4-2", "护目镜、手套")], "冲洗"),
        EV("通风橱失效中毒", "挥发性试剂", "3111", "中毒和窒息", "通风橱风速不足", "中毒", "化验员", lec(1, 6, 7),
           "通风橱每年检测", [("1-1", "通风橱面风速不低于0.5 m/s")], "撤离"),
        EV("电热设备火灾", "马弗炉、烘箱", "2103", "火灾", "无人值守", "火灾", "化验室", lec(0.5, 6, 15),
           "电热设备有人值守", [("3-1", "下班前检查断电")], "灭火器"),
        EV("玻璃器皿割伤", "玻璃仪器", "2108", "其他伤害", "破损器皿", "割伤", "化验员", lec(3, 6, 1),
           "破损器皿及时更换", [("3-1", "规范操作")], "包扎"),
    ])
    add("SC-05-02", "化验分析岗", "post", "SC-05", "质检部", weight=5, person="黄晓敏",
        work_content="原料、中间品、产品取样与分析", workplace="化验室、装置区采样点", events=[
            EV("装置区采样中毒", "甲胺、氨采样", "2206", "中毒和窒息", "采样点泄漏", "中毒", "化验员", lec(1, 6, 15),
               "密闭采样", [("4-2", "防毒面具"), ("3-1", "采样双人")], AMINE_EMERGENCY),
            EV("采样途中车辆伤害", "厂内道路", "2108", "车辆伤害", "走机动车道", "撞伤", "化验员", lec(1, 6, 3),
               "走人行道", [("3-1", "行走规定")], "救护"),
            EV("液氨采样冻伤", "液氨采样", "2111", "灼烫", "采样钢瓶操作不当", "冻伤", "化验员", lec(1, 2, 7),
               "专用采样钢瓶", [("4-2", "防冻手套")], "复温"),
        ])

    # ======================================== 公用工程系统 ========================================
    add("GY", "公用工程系统", "main", None, "动力车间")
    add("GY-01", "锅炉房区", "sub", "GY", "动力车间", "锅炉房区", events=[
        EV("锅炉房区天然气管线泄漏", "天然气进厂管线0.4 MPa", "2202", "其他爆炸", "管线腐蚀；第三方施工破坏",
           "爆炸火灾", "锅炉房区", lec(0.5, 6, 40), "管线标识，埋地段设警示桩", [("2-2", "管线每年检测")],
           "关闭进厂总阀，疏散"),
    ])
    add("GY-01-01", "锅炉房", "subsub", "GY-01", "动力车间", "锅炉房", weight=3, events=[
        EV("锅炉房天然气泄漏爆炸", "燃气锅炉房，天然气管道入户", "2202", "其他爆炸", "阀门、法兰泄漏；报警失效",
           "锅炉房爆炸，人员伤亡", "锅炉房", lec(1, 6, 40), "可燃气体报警联锁切断燃气、启动事故排风；泄压窗",
           [("1-4", "可燃气体报警联锁切断总阀"), ("1-5", "泄压窗保持完好"), ("4-4", "锅炉房燃气泄漏演练每年一次")],
           "切断燃气总阀，开启门窗通风，严禁开关电器，疏散人员", inherent=lec(3, 6, 40)),
        EV("锅炉房噪声", "风机、燃烧器", "2104", "其他伤害", "长期暴露", "听力损伤", "司炉人员", lec(3, 6, 1),
           "隔声值班室", [("4-2", "耳塞")], "体检"),
    ])
    for i, tag in enumerate(("G-501", "G-502"), 1):
        name = f"{i}号燃气锅炉{tag}"
        add(f"GY-01-01-{i:02d}", name, "equipment", "GY-01-01", "动力车间", name, events=boiler(tag, rng(tag)))
    add("GY-01-02", "司炉岗", "post", "GY-01", "动力车间", weight=2, person="杨宇航",
        work_content="锅炉运行监控、水质处理、排污", workplace="锅炉房", events=[
            EV("无证司炉", "特种设备作业人员", "4302", "锅炉爆炸", "司炉人员证件过期", "误操作", "锅炉房", ls(1, 5),
               "持证上岗", [("3-1", "司炉工持G1证，到期前复审")], "停止操作"),
            EV("定期排污烫伤", "排污阀", "2110", "灼烫", "排污阀开启过快", "烫伤", "司炉人员", lec(1, 2, 7),
               "排污操作规程", [("4-2", "佩戴防烫手套")], "冷水冲洗"),
            EV("化学水处理盐酸灼伤", "再生用盐酸", "2208", "灼烫", "卸酸时喷溅", "灼伤", "司炉人员", lec(1, 2, 7),
               "卸酸专用泵", [("4-2", "防酸服、面罩")], "冲洗"),
        ])
    add("GY-01-03", "天然气调压撬RS-501", "equipment", "GY-01", "动力车间", "天然气调压撬RS-501", events=[
        EV("RS-501天然气泄漏爆炸", "调压撬进口0.4 MPa，出口20 kPa", "2202", "其他爆炸", "调压器皮膜破损；法兰泄漏",
           "爆炸火灾", "调压撬周边约30 m", lec(1, 6, 40), "调压撬设切断阀、放散阀、可燃气体报警",
           [("2-2", "调压器每年检修"), ("1-3", "超压切断阀每半年测试")], "关闭进口阀，疏散"),
        EV("RS-501出口超压", "调压器失效", "2202", "管道爆炸", "调压器失灵", "下游管道、燃烧器超压", "锅炉房",
           ls(2, 4), "超压切断", [("1-3", "超压切断阀测试")], "切断气源"),
        EV("RS-501雷击", "室外撬装", "3201", "火灾", "防雷失效", "着火", "调压撬", lec(0.5, 2, 15), "防雷接地",
           [("2-2", "防雷检测")], "扑救"),
    ])

    add("GY-02", "变配电区", "sub", "GY", "电仪车间", "变配电区", events=[
        EV("全厂停电导致装置失控", "35 kV单回路进线", "2103", "其他爆炸", "外部电网故障；主变故障",
           "装置紧急停车，冷却、搅拌中断引发事故", "全厂", lsd(2, 4, 5, 5, 5, 4), "关键负荷设UPS和柴油发电机",
           [("1-2", "柴油发电机每月试车"), ("4-4", "全厂停电应急预案每年演练")], "启动停电应急预案，装置紧急停车"),
    ])
    add("GY-02-01", "35kV变电所", "subsub", "GY-02", "电仪车间", "35kV变电所", weight=2, events=[
        EV("高压开关柜电气火灾", "35 kV、10 kV开关柜", "2103", "火灾", "接头过热；绝缘击穿", "配电室火灾，全厂停电",
           "35kV变电所", lec(1, 6, 40), "开关柜测温；电缆沟防火封堵", [
               ("2-1", "开关柜红外测温每月一次"), ("1-5", "电缆沟防火封堵"), ("4-3", "配二氧化碳灭火器")],
           "断电，用二氧化碳灭火器扑救；启动停电应急预案", inherent=lec(3, 6, 40)),
        EV("小动物进入短路", "配电室门窗", "3210", "火灾", "挡鼠板缺失", "短路跳闸", "变电所", ls(2, 4),
           "挡鼠板", [("1-5", "门口设50 cm挡鼠板")], "断电检查"),
        EV("电缆沟积水", "电缆沟", "3113", "触电", "排水不畅", "电缆绝缘降低", "变电所", lec(1, 3, 15),
           "电缆沟排水", [("2-1", "雨季检查电缆沟")], "排水"),
    ])
    for i, tag in enumerate(("TR-1", "TR-2"), 2):
        name = f"{i - 1}号主变压器{tag}"
        add(f"GY-02-{i:02d}", name, "equipment", "GY-02", "电仪车间", name, events=transformer(tag, rng(tag)))
    add("GY-02-04", "变电值班岗", "post", "GY-02", "电仪车间", weight=2, person="刘思远",
        work_content="变配电设备巡视、运行记录、倒闸操作配合", workplace="35kV变电所、变配电区", events=[
            EV("巡视时误碰带电设备", "高压设备", "2103", "触电", "安全距离不足", "触电", "值班电工", lec(1, 6, 15),
               "保持安全距离", [("3-1", "持高压电工证"), ("4-2", "绝缘靴、绝缘手套")], "断电施救"),
            EV("单人值班处置不及时", "夜间值班", "4302", "触电", "单人值班", "事故处置延误", "变电所", ls(2, 3),
               "双人值班", [("3-3", "双人值班制度")], "报告"),
            EV("SF6气体泄漏窒息", "SF6断路器", "2206", "窒息", "断路器漏气", "窒息", "值班电工", lec(0.5, 3, 15),
               "SF6泄漏报警", [("1-2", "SF6报警装置")], "通风后进入"),
        ])
    add("GY-02-05", "倒闸操作", "activity", "GY-02", "电仪车间", weight=2,
        work_content="高压开关倒闸、停送电操作", workplace="35kV变电所", events=[
            EV("带负荷拉隔离开关电弧灼伤", "高压电弧", "1202", "灼烫", "未执行操作票；走错间隔", "电弧灼伤、死亡",
               "操作人员", lec(1, 2, 40), "五防闭锁；操作票制度", [
                   ("1-2", "开关柜五防闭锁完好"), ("3-2", "执行操作票，一人操作一人监护")], "断电施救，送医",
               inherent=lec(3, 2, 40)),
            EV("未验电挂接地线触电", "高压停电检修", "1202", "触电", "未验电", "触电", "操作人员", lec(0.5, 2, 100),
               "验电后挂地线", [("3-1", "验电、挂地线双人确认")], "断电施救"),
            EV("高压倒闸误送电", "检修设备误送电", "1201", "触电", "停送电联系不清", "检修人员触电", "检修人员",
               lec(1, 3, 100), "停送电联系单；挂牌上锁", [("3-2", "停送电联系单"), ("1-5", "挂牌上锁")], "断电施救"),
        ])

    add("GY-03", "循环水站", "sub", "GY", "动力车间", "循环水站", events=[
        EV("循环水中断导致装置超压", "循环水供全厂冷却", "2101", "容器爆炸", "循环水泵跳车", "装置冷却失效",
           "合成、精馏装置", ls(2, 5), "备用泵自启", [("1-1", "备用泵自启动联锁")], "启动备用泵，装置降负荷"),
    ])
    add("GY-03-01", "循环水泵房", "subsub", "GY-03", "动力车间", "循环水泵房", weight=1, events=[
        EV("泵房机械伤害", "大型离心泵联轴器", "2108", "机械伤害", "防护罩缺失", "卷入", "巡检人员", lec(3, 6, 1),
           "防护罩", [("2-1", "防护罩检查")], "停泵"),
        EV("泵房触电", "高压电机", "2103", "触电", "接线盒进水", "触电", "巡检人员", lec(0.5, 6, 15), "接地",
           [("2-1", "绝缘检测")], "断电施救"),
        EV("吸水池淹溺", "吸水池深约4 m", "3217", "淹溺", "盖板缺失", "淹溺", "巡检人员", lec(0.5, 6, 15),
           "盖板和护栏", [("1-5", "护栏、盖板完好")], "投救生圈施救"),
    ])
    for i, tag in enumerate(("CT-701", "CT-702"), 2):
        name = f"{i - 1}号冷却塔{tag}"
        add(f"GY-03-{i:02d}", name, "equipment", "GY-03", "动力车间", name, events=[
            EV(f"{tag}塔顶检修坠落", "冷却塔顶约12 m", "2102", "高处坠落", "护栏腐蚀", "坠落", "检修人员",
               lec(1, 3, 15), "护栏", [("2-2", "护栏检查")], "施救"),
            EV(f"{tag}风机叶片断裂", "风机", "2101", "物体打击", "叶片疲劳", "叶片飞出伤人", "冷却塔周边",
               lec(0.5, 6, 7), "振动监测", [("2-1", "振动开关联锁停机")], "停机"),
        ])
    add("GY-03-04", "循环水加药作业", "activity", "GY-03", "动力车间", weight=1,
        work_content="缓蚀阻垢剂、次氯酸钠、硫酸加药", workplace="循环水站加药间", events=[
            EV("次氯酸钠与酸混合产生氯气", "杀菌剂、硫酸", "2206", "中毒和窒息", "误将硫酸加入次氯酸钠储罐",
               "氯气中毒", "加药间", lec(1, 3, 40), "储罐分开、标识清楚", [
                   ("1-5", "加药管线标识、接口型式不同"), ("3-1", "加药双人确认")], "撤离至上风向，佩戴空气呼吸器处置"),
            EV("加药灼伤", "硫酸、次氯酸钠", "2208", "灼烫", "喷溅", "灼伤", "加药人员", lec(3, 3, 3),
               "防护", [("4-2", "防酸服、面罩")], "冲洗"),
        ])

    add("GY-04", "空压制氮区", "sub", "GY", "动力车间", "空压制氮区", events=[
        EV("仪表风中断导致装置失控", "仪表风供全厂调节阀", "2101", "其他伤害", "空压机故障", "调节阀失气",
           "全厂装置", ls(3, 3), "备用空压机、储气罐缓冲", [("1-1", "仪表风压力低自启备机")], "启动备机"),
    ])
    add("GY-04-01", "空压站", "subsub", "GY-04", "动力车间", "空压站", weight=1, events=[
        EV("空压机储气罐超压爆炸", "0.8 MPa储气罐", "2101", "容器爆炸", "安全阀失效", "爆炸", "空压站",
           lec(0.5, 6, 40), "安全阀、压力表定期校验", [("1-3", "安全阀校验")], "停机泄压"),
        EV("空压站噪声", "空压机", "2104", "其他伤害", "暴露", "听力损伤", "巡检人员", lec(3, 6, 1), "耳塞",
           [("4-2", "耳塞")], "体检"),
        EV("空压机油气分离器着火", "润滑油高温", "2203", "火灾", "积碳", "着火", "空压站", lec(0.5, 6, 15),
           "定期更换油品", [("2-1", "定期保养")], "扑救"),
    ])
    add("GY-04-02", "制氮站", "subsub", "GY-04", "动力车间", "制氮站", weight=1, events=[
        EV("制氮站氮气泄漏窒息", "PSA制氮，氮气纯度99.9%", "2206", "窒息", "管线泄漏，室内通风不良", "窒息",
           "制氮站人员", lec(1, 6, 15), "氧含量报警", [("1-2", "氧含量报警联锁排风")], "撤离，通风"),
        EV("吸附塔超压", "0.8 MPa", "2101", "容器爆炸", "程控阀故障", "超压", "制氮站", lec(0.5, 6, 15),
           "安全阀", [("1-3", "安全阀校验")], "泄压"),
        EV("制氮站触电", "电气柜", "2103", "触电", "柜门未关", "触电", "人员", lec(0.5, 3, 15), "柜门上锁",
           [("2-1", "检查")], "断电施救"),
    ])
    add("GY-04-03", "仪表空气储罐V-601", "equipment", "GY-04", "动力车间", "仪表空气储罐V-601", events=[
        EV("V-601超压爆炸", "仪表空气储罐10 m³", "2101", "容器爆炸", "安全阀失效", "爆炸", "空压制氮区",
           lec(0.5, 6, 15), "压力容器定期检验", [("2-2", "定期检验")], "泄压"),
        EV("V-601排水冻堵", "冬季排水", "3216", "其他伤害", "排水阀冻堵", "罐内积水腐蚀", "V-601", ls(2, 3),
           "伴热", [("2-2", "冬季伴热检查")], "解冻"),
    ])

    add("GY-05", "冷冻站区", "sub", "GY", "动力车间", "冷冻站区", events=[
        EV("冷冻站液氨泄漏扩散", "氨制冷系统充注量约2.5 t", "2206", "中毒和窒息", "系统泄漏", "中毒",
           "冷冻站区及下风向约200 m", lec(1, 6, 40), "氨气报警联锁事故排风", [
               ("1-4", "氨气报警联锁事故排风和紧急泄氨"), ("4-1", "配空气呼吸器"), ("4-4", "氨泄漏演练")],
           NH3_EMERGENCY, inherent=lec(3, 6, 40)),
    ])
    add("GY-05-01", "冷冻机房", "subsub", "GY-05", "动力车间", "冷冻机房", weight=2, events=[
        EV("机房内氨泄漏爆炸", "氨爆炸极限", "2202", "其他爆炸", "泄漏积聚", "爆炸", "冷冻机房", lec(0.5, 6, 40),
           "防爆电气", [("1-2", "防爆电气检查")], NH3_EMERGENCY),
        EV("机房机械伤害", "螺杆压缩机", "2108", "机械伤害", "防护罩", "伤害", "巡检人员", lec(1, 6, 3), "防护罩",
           [("2-1", "检查")], "停机"),
        EV("机房噪声", "压缩机", "2104", "其他伤害", "暴露", "听力损伤", "巡检人员", lec(3, 6, 1), "耳塞",
           [("4-2", "耳塞")], "体检"),
    ])
    add("GY-05-02", "氨制冷机组", "equipment", "GY-05-01", "动力车间", events=[
        EV("制冷机组排气超压", "压缩机排气", "2202", "容器爆炸", "冷凝器结垢；排气阀误关", "超压泄漏",
           "冷冻机房", lec(1, 3, 40), "高压保护", [("1-4", "排气高压保护停机")], NH3_EMERGENCY),
        EV("排气管烫伤", "排气温度约120℃", "2110", "灼烫", "误触", "烫伤", "巡检人员", lec(1, 6, 3), "保温",
           [("1-5", "保温")], "冲洗"),
        EV("放油冻伤", "放油", "2111", "灼烫", "带氨放油", "冻伤", "操作人员", lec(1, 2, 7), "集油器放油",
           [("4-2", "防冻手套")], "复温"),
    ])
    add("GY-05-03", "冷冻站巡检岗", "post", "GY-05", "动力车间", weight=1, person="杨宇航",
        work_content="制冷机组运行巡检、加氨、放油", workplace="冷冻机房", events=[
            EV("加氨作业泄漏", "加氨", "2206", "中毒和窒息", "接头泄漏", "中毒", "操作人员", lec(1, 1, 40),
               "加氨方案", [("3-1", "加氨双人操作")], NH3_EMERGENCY),
            EV("无证操作制冷设备", "制冷作业", "4302", "中毒和窒息", "证件过期", "误操作", "冷冻站", ls(1, 4),
               "持证", [("3-1", "制冷与空调作业证")], "停止操作"),
        ])

    add("GY-06", "消防泵房区", "sub", "GY", "安全环保部", "消防泵房区", events=[
        EV("消防水泵不能启动", "消防泵组", "2101", "火灾", "控制柜置于手动；泵体锈死", "火灾无法扑救，事故扩大",
           "全厂", ls(2, 5), "消防泵每周试运", [("4-3", "消防泵每周试运并记录"), ("1-2", "控制柜处于自动状态")],
           "启动柴油泵，请求园区消防支援"),
    ])
    add("GY-06-01", "消防泵房", "subsub", "GY-06", "安全环保部", "消防泵房", weight=1, events=[
        EV("柴油消防泵油箱火灾", "柴油约1 m³", "2203", "火灾", "漏油遇高温", "着火", "消防泵房", lec(0.5, 6, 15),
           "油箱防火", [("4-3", "灭火器")], "扑救"),
        EV("消防泵房机械伤害", "泵组", "2108", "机械伤害", "试泵时靠近", "伤害", "人员", lec(1, 3, 7),
           "防护罩", [("2-1", "检查")], "停泵"),
    ])
    add("GY-06-02", "消防水池", "subsub", "GY-06", "安全环保部", "消防水池", events=[
        EV("消防水池淹溺", "水深约5 m", "3217", "淹溺", "检查口未盖", "淹溺", "人员", lec(0.5, 3, 15),
           "检查口上锁", [("1-5", "检查口上锁")], "施救"),
        EV("池顶坠落", "池顶", "2102", "高处坠落", "无护栏", "坠落", "人员", lec(0.5, 3, 7), "护栏",
           [("1-5", "护栏")], "施救"),
    ])

    add("GY-07", "污水处理站", "sub", "GY", "安全环保部", "污水处理站", events=[
        EV("污水站硫化氢、甲醇挥发", "含甲醇、胺类有机废水", "2206", "中毒和窒息", "池体加盖不严，废气收集失效",
           "人员中毒", "污水处理站", lec(1, 6, 15), "池体加盖，废气收集处理", [
               ("1-1", "废气收集风机运行监控"), ("4-2", "巡检携带硫化氢检测仪")], "撤离，佩戴空气呼吸器处置"),
    ])
    add("GY-07-01", "污水处理综合间", "subsub", "GY-07", "安全环保部", "污水处理综合间", weight=2, events=[
        EV("药剂灼伤", "PAC、液碱", "2208", "灼烫", "配药喷溅", "灼伤", "操作人员", lec(1, 6, 3), "防护",
           [("4-2", "护目镜")], "冲洗"),
        EV("综合间触电", "配电柜", "2103", "触电", "潮湿", "触电", "人员", lec(0.5, 6, 7), "漏保",
           [("2-1", "漏保测试")], "断电施救"),
    ])
    add("GY-07-02", "调节池", "subsub", "GY-07", "安全环保部", "调节池", events=[
        EV("调节池有毒气体中毒", "废水厌氧产生硫化氢", "2206", "中毒和窒息", "加盖池体检查口开启", "中毒",
           "巡检人员", lec(1, 6, 15), "检测", [("4-2", "便携检测仪")], "撤离"),
        EV("调节池淹溺", "池深5 m", "3217", "淹溺", "护栏缺失", "淹溺", "人员", lec(0.5, 6, 15), "护栏",
           [("1-5", "护栏、救生圈")], "施救"),
    ])
    add("GY-07-03", "生化池", "subsub", "GY-07", "安全环保部", "生化池", events=[
        EV("生化池淹溺", "曝气池", "3217", "淹溺", "走道板湿滑", "淹溺", "巡检人员", lec(1, 6, 7), "护栏、救生圈",
           [("1-5", "救生圈")], "施救"),
        EV("生化池走道坠落", "走道板", "2102", "高处坠落", "格栅板松动", "坠落", "人员", lec(1, 3, 7), "检查",
           [("2-2", "检查")], "施救"),
    ])
    add("GY-07-04", "污泥脱水间", "subsub", "GY-07", "安全环保部", "污泥脱水间", events=[
        EV("压滤机挤压伤害", "板框压滤机", "2108", "机械伤害", "卸泥时手伸入", "挤伤", "操作人员", lec(1, 6, 7),
           "光栅", [("1-2", "安全光栅")], "停机"),
    ])
    add("GY-07-05", "污水池受限空间作业", "activity", "GY-07", "安全环保部", weight=3,
        work_content="污水池、集水井清淤和检修", workplace="调节池、集水井", events=[
            EV("污水池硫化氢中毒", "硫化氢、缺氧", "2206", "中毒和窒息", "未检测进入；通风不足", "中毒死亡",
               "作业及施救人员", lec(0.5, 2, 100), "受限空间作业许可", [
                   ("3-1", "受限空间作业票"), ("4-1", "空气呼吸器、三脚架"), ("1-5", "强制通风")],
               "禁止盲目施救，佩戴空气呼吸器施救", inherent=lec(6, 2, 40)),
            EV("污水池缺氧窒息", "缺氧", "3111", "中毒和窒息", "通风不足", "窒息", "作业人员", lec(1, 2, 40),
               "连续检测", [("3-2", "连续检测记录")], "施救"),
            EV("清淤淹溺", "池底淤泥", "3217", "淹溺", "滑倒", "淹溺", "作业人员", lec(0.5, 2, 15), "安全绳",
               [("4-2", "安全绳")], "施救"),
        ])

    add("GY-08", "事故应急池", "sub", "GY", "安全环保部", "事故应急池", events=[
        EV("事故应急池有效容积不足", "事故时消防废水收集", "4301", "其他伤害", "池内长期积水占用容积",
           "事故废水外溢污染", "厂外水体", ls(1, 4), "平时保持空池", [("3-2", "每周检查液位")], "启用备用池"),
    ])
    add("GY-08-01", "事故水池", "subsub", "GY-08", "安全环保部", "事故水池", events=[
        EV("事故水池淹溺", "池深6 m", "3217", "淹溺", "护栏缺失", "淹溺", "人员", lec(0.5, 3, 15), "护栏",
           [("1-5", "护栏")], "施救"),
        EV("事故水池含甲醇废水挥发", "应急状态", "2203", "火灾", "消防废水含甲醇", "着火", "事故池周边",
           lec(0.2, 2, 15), "禁止动火", [("3-1", "应急期间禁火")], "扑救"),
    ])
    add("GY-09", "初期雨水池", "sub", "GY", "安全环保部", "初期雨水池", events=[
        EV("初期雨水未收集外排", "雨水切换阀", "4302", "其他伤害", "切换阀未操作", "污染", "厂外水体", ls(1, 3),
           "自动切换阀", [("1-1", "雨水切换阀自动控制")], "关闭排口"),
    ])
    add("GY-09-01", "雨水收集池", "subsub", "GY-09", "安全环保部", "雨水收集池", events=[
        EV("雨水收集池淹溺", "池深4 m", "3217", "淹溺", "盖板缺失", "淹溺", "人员", lec(0.5, 3, 15), "盖板",
           [("1-5", "盖板")], "施救"),
    ])
    add("GY-10", "火炬区", "sub", "GY", "合成车间", "火炬区", events=[
        EV("火炬熄火有毒可燃气体直排", "火炬排放含氨、甲胺", "2206", "中毒和窒息", "长明灯熄灭；点火系统故障",
           "有毒气体扩散", "火炬下风向约500 m", lec(0.5, 6, 40), "长明灯火焰监测", [
               ("1-2", "长明灯火焰检测报警"), ("2-2", "点火系统每月试点火")], "重新点火，降低排放"),
    ])
    add("GY-10-01", "火炬FL-801", "equipment", "GY-10", "合成车间", "火炬FL-801", events=[
        EV("FL-801火炬回火爆炸", "火炬气含可燃组分", "2202", "其他爆炸", "吹扫氮气中断，空气倒入", "火炬筒体爆炸",
           "火炬区", lec(0.5, 3, 100), "分子封、氮气吹扫流量报警", [("1-1", "吹扫氮气流量低报警")], "补充氮气"),
        EV("FL-801热辐射灼烫", "火炬燃烧热辐射", "2110", "灼烫", "大量排放时人员靠近", "灼烫", "火炬区人员",
           lec(1, 2, 15), "火炬区设警戒", [("1-5", "设警戒线")], "撤离"),
        EV("FL-801塔架检修坠落", "火炬塔架约60 m", "2102", "高处坠落", "塔架检修", "坠落", "检修人员",
           lec(1, 1, 15), "高处作业许可", [("3-1", "高处作业票")], "施救"),
    ])
    add("GY-10-02", "火炬分液罐V-801", "equipment", "GY-10", "合成车间", "火炬分液罐V-801", events=[
        EV("V-801液位高带液燃烧", "火炬气携带液体", "2203", "火灾", "液位高未及时排液", "火雨，引燃周边",
           "火炬区及周边约100 m", lec(1, 3, 100), "液位高报警", [
               ("1-4", "液位高高报警联锁启动排液泵"), ("3-2", "每班检查液位")], "排液，停止排放",
           inherent=lec(3, 3, 100)),
        EV("V-801排液中毒", "排液含甲胺", "2206", "中毒和窒息", "排液带气", "中毒", "操作人员", lec(1, 2, 15),
           "密闭排液", [("4-2", "防毒面具")], AMINE_EMERGENCY),
        EV("V-801腐蚀泄漏", "罐体腐蚀", "2101", "泄漏", "腐蚀", "泄漏", "火炬区", ls(2, 3), "定期测厚",
           [("2-2", "测厚")], "处置"),
    ])

    # ======================================== 辅助设施 ========================================
    add("FZ", "辅助设施", "main", None, "设备部")
    add("FZ-01", "维修区", "sub", "FZ", "设备部", "维修区", events=[
        EV("维修区车辆进出碰撞", "检修车辆、吊车", "2108", "车辆伤害", "倒车无人指挥", "撞伤", "维修区", lec(1, 3, 7),
           "专人指挥", [("管理", "倒车专人指挥")], "救护"),
    ])
    add("FZ-01-01", "机修车间", "subsub", "FZ-01", "设备部", "机修车间", weight=6, events=[
        EV("机修车间油污火灾", "废油、油棉纱", "2203", "火灾", "油棉纱随意丢弃", "火灾", "机修车间", lec(0.5, 6, 15),
           "废油棉纱专桶存放", [("管理", "每日清理")], "灭火器"),
        EV("车间照明不足", "照明", "3110", "其他伤害", "灯具损坏", "碰伤", "人员", lec(1, 6, 1), "照明检查",
           [("工程技术", "更换灯具")], "救护"),
    ])
    add("FZ-01-01-01", "普通车床", "equipment", "FZ-01-01", "设备部", events=[
        EV("车床卷入伤害", "卡盘、工件旋转", "2108", "机械伤害", "戴手套操作；长发未盘", "卷入致残", "车工",
           lec(1, 6, 15), "禁止戴手套；防护罩", [("工程技术", "卡盘防护罩联锁"), ("培训教育", "车工岗位培训")], "急停，救护"),
        EV("铁屑飞溅伤眼", "切屑", "2108", "物体打击", "未戴护目镜", "眼伤", "车工", lec(3, 6, 1), "护目镜",
           [("个体防护", "护目镜")], "就医"),
    ])
    add("FZ-01-01-02", "桥式起重机", "equipment", "FZ-01-01", "设备部", events=[
        EV("起重机吊物坠落", "10 t桥式起重机", "2101", "起重伤害", "钢丝绳断丝超标；限位失效", "砸伤致死",
           "起吊区域", lec(0.5, 6, 40), "特种设备定期检验", [
               ("工程技术", "起升高度限位、超载限制器"), ("管理", "钢丝绳每周检查"), ("培训教育", "司索工持证")],
           "停止起吊，救护伤员", inherent=lec(3, 6, 40)),
        EV("起重机挤压", "大车运行", "2108", "起重伤害", "人员在轨道附近", "挤伤", "人员", lec(1, 6, 15),
           "声光报警", [("工程技术", "运行声光报警")], "急停"),
        EV("起重机检修高处坠落", "轨道梁约8 m", "2102", "高处坠落", "无安全绳", "坠落", "检修人员", lec(1, 1, 15),
           "安全绳", [("个体防护", "安全带")], "施救"),
    ])
    add("FZ-01-01-03", "机修钳工岗", "post", "FZ-01-01", "设备部", weight=4, person="郑凯",
        work_content="机泵检修、钳工作业、砂轮机打磨", workplace="机修车间及装置现场", events=[
            EV("砂轮片破裂", "砂轮机", "2101", "物体打击", "砂轮片受潮、侧面磨削", "碎片伤人", "钳工",
               lec(1, 10, 7), "砂轮机防护罩、托架间隙不大于3 mm", [("工程技术", "防护罩"), ("个体防护", "面罩")],
               "救护"),
            EV("手持电动工具触电", "手电钻、角磨机", "2103", "触电", "工具绝缘损坏；未接漏保", "触电", "钳工",
               lec(1, 6, 7), "工具定期检测", [("管理", "手持电动工具每季度检测")], "断电施救"),
            EV("检修拆卸时残液灼伤", "设备内残液", "2208", "灼烫", "未排净", "灼伤", "钳工", lec(1, 6, 3),
               "拆卸前确认", [("管理", "检修交出确认单")], "冲洗"),
        ])
    add("FZ-01-01-04", "电焊工岗", "post", "FZ-01-01", "设备部", weight=3, person="郑凯",
        work_content="车间内及装置现场焊接作业", workplace="机修车间、动火点", events=[
            EV("电焊触电", "焊机", "2103", "触电", "潮湿环境；焊钳破损", "触电", "焊工", lec(1, 6, 15),
               "焊机二次空载降压保护", [("工程技术", "空载降压保护"), ("培训教育", "焊工持证")], "断电施救"),
            EV("弧光灼伤", "电弧", "2107", "灼烫", "未戴面罩", "电光性眼炎", "焊工", lec(3, 6, 1), "面罩",
               [("个体防护", "焊接面罩")], "就医"),
            EV("焊接烟尘", "烟尘、锰", "2209", "其他伤害", "通风不足", "职业病", "焊工", ls(3, 2), "局部排风",
               [("工程技术", "焊烟净化器")], "体检"),
        ])
    add("FZ-01-02", "备品备件库", "subsub", "FZ-01", "设备部", "备品备件库", events=[
        EV("货架物品坠落", "重型备件", "2108", "物体打击", "摆放不稳", "砸伤", "库管员", lec(1, 3, 3), "重物下层",
           [("管理", "重物放下层")], "救护"),
        EV("备件库火灾", "垫片、包装物", "2203", "火灾", "电气线路", "火灾", "备件库", lec(0.5, 3, 15), "灭火器",
           [("应急处置", "灭火器")], "扑救"),
    ])
    add("FZ-01-03", "吊装作业", "activity", "FZ-01", "设备部", weight=4,
        work_content="装置检修设备吊装（汽车吊、桥式起重机）", workplace="维修区及装置检修现场", events=[
            EV("吊装作业起重伤害", "吊装", "2101", "起重伤害", "吊索具缺陷；指挥失误；超载", "吊物坠落致死",
               "吊装作业区", lec(1, 3, 40), "吊装作业许可，大于40 t编制方案", [
                   ("管理", "吊装作业票"), ("培训教育", "司索、指挥持证"), ("工程技术", "吊索具每次检查")],
               "停止作业，救护伤员", inherent=lec(3, 3, 40)),
            EV("吊车倾覆", "汽车吊支腿", "3211", "起重伤害", "地基松软", "倾覆", "吊装区", lec(0.5, 3, 40),
               "支腿垫板", [("管理", "地基确认")], "撤离"),
            EV("吊物下方站人", "吊物下方", "1202", "物体打击", "警戒不到位", "砸伤", "人员", lec(1, 3, 15),
               "警戒", [("管理", "设警戒区")], "救护"),
        ])
    add("FZ-01-04", "临时用电作业", "activity", "FZ-01", "电仪车间", weight=2,
        work_content="检修临时电源接线、拆除", workplace="检修现场", events=[
            EV("临时用电触电", "临时线路", "2103", "触电", "线路破损；无漏电保护", "触电", "作业人员", lec(1, 6, 15),
               "临时用电作业许可", [("管理", "临时用电作业票"), ("工程技术", "三级配电两级保护")], "断电施救"),
            EV("非防爆电气引燃", "爆炸危险区域内临时用电", "2109", "火灾", "使用非防爆配电箱", "火灾",
               "检修现场", lec(0.5, 3, 40), "防爆配电箱", [("工程技术", "防爆配电箱")], "扑救"),
            EV("电缆被车辆碾压", "临时电缆横穿道路", "2103", "触电", "未架空或穿管", "漏电", "道路", lec(1, 3, 7),
               "架空", [("管理", "电缆架空敷设")], "断电"),
        ])
    add("FZ-01-05", "动土作业", "activity", "FZ-01", "设备部", weight=2,
        work_content="地下管线、基础开挖", workplace="厂区道路及装置周边", events=[
            EV("挖断地下电缆", "地下电缆", "2103", "触电", "未查清地下设施", "触电、停电", "作业人员", ls(2, 4),
               "动土作业许可，会签", [("管理", "动土作业票电仪、设备会签")], "断电"),
            EV("沟槽坍塌", "开挖深度超过1.5 m", "3211", "坍塌", "未放坡支护", "掩埋", "作业人员", lec(1, 2, 15),
               "放坡支护", [("工程技术", "放坡或支护")], "施救"),
        ])

    add("FZ-02", "危废暂存区", "sub", "FZ", "安全环保部", "危废暂存区", events=[
        EV("危废转运车辆伤害", "危废转运车", "2108", "车辆伤害", "倒车", "撞伤", "危废暂存区", lec(1, 3, 7),
           "专人指挥", [("3-1", "倒车专人指挥")], "救护"),
    ])
    add("FZ-02-01", "危废仓库", "subsub", "FZ-02", "安全环保部", "危废仓库", weight=1, events=[
        EV("废溶剂、废活性炭火灾", "废有机溶剂、废活性炭、废催化剂", "2203", "火灾", "混存；自燃", "火灾",
           "危废仓库", lec(1, 3, 40), "分区存放，温度监测", [
               ("1-5", "分区存放，设防渗和导流"), ("3-2", "危废出入库台账"), ("4-3", "灭火器、消防砂")],
           "扑救，收集消防废水"),
        EV("危废挥发中毒", "废液桶", "3111", "中毒和窒息", "通风不良", "中毒", "管理员", lec(1, 3, 7),
           "通风", [("1-1", "排风")], "撤离"),
        EV("危废泄漏", "废液桶破损", "2101", "泄漏", "桶体腐蚀", "污染", "仓库", ls(2, 3), "防渗托盘",
           [("1-5", "托盘")], "收集"),
    ])
    add("FZ-03", "应急物资库区", "sub", "FZ", "安全环保部", "应急物资库区", events=[
        EV("应急物资失效", "空气呼吸器、防化服等", "4303", "其他伤害", "未定期检查", "应急时无法使用", "全厂",
           ls(1, 5), "每月检查", [("4-1", "应急物资每月检查并记录")], "调用备用物资"),
    ])
    add("FZ-03-01", "应急物资库房", "subsub", "FZ-03", "安全环保部", "应急物资库房", events=[
        EV("物资搬运砸伤", "物资", "2108", "物体打击", "堆放不稳", "砸伤", "人员", lec(1, 1, 3), "规范堆放",
           [("3-1", "堆放规范")], "救护"),
        EV("库房电气火灾", "充电设备", "2103", "火灾", "充电过热", "火灾", "库房", lec(0.5, 3, 7), "定时充电",
           [("3-1", "充电有人看管")], "扑救"),
    ])
    add("FZ-04", "微型消防站区", "sub", "FZ", "安全环保部", "微型消防站区", events=[
        EV("消防车出警车辆伤害", "消防车", "2108", "车辆伤害", "出警速度快", "撞伤", "厂内道路", lec(0.5, 3, 15),
           "警报", [("3-1", "出警鸣笛")], "救护"),
    ])
    add("FZ-04-01", "微型消防站", "subsub", "FZ-04", "安全环保部", "微型消防站", weight=6, events=[
        EV("消防训练高处坠落", "训练塔", "2102", "高处坠落", "保护绳", "坠落", "队员", lec(0.5, 2, 15), "保护绳",
           [("4-2", "安全绳")], "救护"),
        EV("训练中扭伤", "体能训练", "1101", "其他伤害", "热身不足", "扭伤", "队员", lec(3, 3, 1), "热身",
           [("3-1", "训练规程")], "就医"),
        EV("空气呼吸器气瓶爆炸", "30 MPa气瓶", "2101", "容器爆炸", "气瓶超期", "爆炸", "站内", lec(0.2, 6, 15),
           "定期检验", [("2-2", "气瓶三年检验")], "救护"),
    ])

    # ======================================== 行政生活设施 ========================================
    add("XZ", "行政生活设施", "main", None, "行政部")
    add("XZ-01", "行政办公区", "sub", "XZ", "行政部", "行政办公区", events=[
        EV("办公区车辆剐蹭", "厂前区道路", "2108", "车辆伤害", "车速过快", "剐蹭", "办公区", lec(1, 3, 3),
           "限速", [("工程技术", "减速带")], "救护"),
    ])
    add("XZ-01-01", "办公楼", "subsub", "XZ-01", "行政部", "办公楼", weight=40, events=[
        EV("办公楼电气火灾", "电气线路、插线板", "2103", "火灾", "线路老化；违规使用大功率电器", "火灾", "办公楼",
           lec(0.5, 6, 15), "消防设施完好；电气检查", [("工程技术", "火灾自动报警系统"), ("管理", "每月电气检查"),
                                           ("应急处置", "每年消防疏散演练")], "报警，疏散，扑救初起火灾"),
        EV("楼梯滑倒", "楼梯", "3101", "其他伤害", "地面湿滑", "摔伤", "员工", lec(1, 6, 1), "防滑条",
           [("工程技术", "防滑条")], "救护"),
        EV("电梯困人", "办公楼电梯", "2101", "起重伤害", "电梯故障", "困人", "员工", lec(0.5, 6, 3), "定期检验",
           [("管理", "电梯维保每半月一次")], "联系维保单位救援"),
    ])
    add("XZ-01-02", "办公室人员岗", "post", "XZ-01", "行政部", weight=40, person="汪强",
        work_content="管理、技术、财务等办公室工作", workplace="办公楼", events=[
            EV("长期伏案颈椎腰椎劳损", "坐姿作业", "3901", "其他伤害", "长时间固定坐姿", "劳损", "员工", ls(3, 1),
               "工间操", [("培训教育", "健康宣传")], "就医"),
            EV("进入生产区未经安全教育", "办公人员进入装置区", "4302", "中毒和窒息", "未佩戴防护用品", "受伤",
               "员工", ls(2, 3), "进入生产区审批", [("管理", "进入生产区登记、佩戴防护用品")], "撤离"),
        ])
    add("XZ-02", "生活服务区", "sub", "XZ", "行政部", "生活服务区", events=[
        EV("就餐高峰拥挤", "食堂出入口", "3108", "其他伤害", "人员集中", "挤伤", "生活服务区", lec(0.5, 6, 1),
           "错峰就餐", [("管理", "分批就餐")], "疏导"),
    ])
    add("XZ-02-01", "食堂", "subsub", "XZ-02", "行政部", "食堂", weight=12, events=[
        EV("厨房燃气泄漏爆炸", "厨房天然气灶具", "2202", "其他爆炸", "软管老化；熄火保护失效", "爆炸", "食堂",
           lec(0.2, 6, 40), "燃气报警联锁切断", [("工程技术", "燃气报警联锁切断阀"), ("管理", "每日检查")],
           "关阀，通风，疏散"),
        EV("厨房烫伤", "热油、蒸汽", "2110", "灼烫", "操作不当", "烫伤", "厨师", lec(3, 6, 1), "防护",
           [("个体防护", "防烫手套")], "冲洗"),
        EV("食物中毒", "食品安全", "4302", "中毒和窒息", "食材变质", "集体食物中毒", "就餐人员", ls(1, 4),
           "食品留样", [("管理", "食品留样48小时")], "送医"),
        EV("刀具割伤", "刀具", "2108", "其他伤害", "操作不当", "割伤", "厨师", lec(1, 6, 1), "防切割手套",
           [("个体防护", "防切割手套")], "包扎"),
    ])
    add("XZ-03", "停车场", "sub", "XZ", "行政部", "停车场", weight=2, events=[
        EV("停车场车辆伤害", "员工车辆", "2108", "车辆伤害", "倒车", "撞伤", "停车场", lec(1, 6, 7), "限速",
           [("工程技术", "减速带、反光镜")], "救护"),
        EV("电动汽车充电起火", "充电桩", "2103", "火灾", "电池热失控", "车辆火灾", "停车场", lec(0.5, 3, 15),
           "充电区独立设置", [("工程技术", "充电区设灭火器"), ("管理", "充电时间管理")], "断电，扑救"),
    ])
    add("XZ-04", "主大门区", "sub", "XZ", "行政部", "主大门区", events=[
        EV("大门电动伸缩门夹伤", "伸缩门", "2108", "机械伤害", "门运行时人员穿行", "夹伤", "人员", lec(1, 6, 3),
           "红外防夹", [("工程技术", "红外防夹")], "停门"),
    ])
    add("XZ-04-01", "1号门卫", "subsub", "XZ-04", "行政部", "1号门卫", weight=2, events=[
        EV("门卫室电气火灾", "电器", "2103", "火灾", "电暖器", "火灾", "门卫室", lec(0.5, 3, 7), "禁止大功率电器",
           [("管理", "检查")], "扑救"),
    ])
    add("XZ-04-02", "门卫岗", "post", "XZ-04", "行政部", weight=2, person="汪强",
        work_content="人员车辆出入登记、火种收缴、巡逻", workplace="1号门卫、主大门区", events=[
            EV("外来人员携带火种进厂", "火种", "1203", "火灾", "检查不严", "火灾隐患", "全厂", ls(2, 3),
               "火种收缴", [("管理", "火种收缴登记")], "收缴"),
            EV("夜间巡逻摔伤", "夜间", "3214", "其他伤害", "照明不足", "摔伤", "保安", lec(1, 6, 1), "手电",
               [("个体防护", "强光手电")], "救护"),
        ])
    return units


# ---------------------------------------------------------------------------------------------------
# Checks, serialisation, README
# ---------------------------------------------------------------------------------------------------
# The colour each region must come out with under the `highest` method (短板原理).
TARGET_LEVELS = {
    "罐区": "major", "合成装置区": "major", "精馏装置区": "major",
    "中间罐区": "significant", "装卸区": "significant", "危险化学品库区": "significant", "锅炉房区": "significant",
    "变配电区": "significant", "冷冻站区": "significant", "火炬区": "significant",
    "中心控制区": "general", "质检区": "general", "维修区": "general", "空压制氮区": "general", "成品库区": "general",
    "包装区": "general", "物流入口区": "general", "危废暂存区": "general", "循环水站": "general",
    "消防泵房区": "general", "污水处理站": "general",
    "停车场": "low", "行政办公区": "major", "生活服务区": "low", "主大门区": "low", "应急物资库区": "low",
    "微型消防站区": "low", "事故应急池": "low", "初期雨水池": "low",
}
# Units whose assessment is deliberately overdue (older than 12 months), to show re-assessment flags.
OVERDUE = {"GY-04-03": 402, "FZ-01-02": 377, "XZ-02-01": 389, "CY-05-02": 415, "GY-09-01": 371}
LEVEL_ZH = {"major": "重大风险（红）", "significant": "较大风险（橙）", "general": "一般风险（黄）", "low": "低风险（蓝）"}


def major_hazard_sum(mh: dict) -> tuple[Decimal, Decimal, int]:
    """GB 18218-2018: Σq/Q, R = α·Σβ·q/Q and the grade, for the README and the override check."""
    beta = {"other": Decimal(1), "flammable_gas": Decimal("1.5"), "nh3": Decimal(2)}
    people = mh["people_500m"]
    alpha = Decimal("2.0") if people >= 100 else Decimal("1.5") if people >= 50 else \
        Decimal("1.2") if people >= 30 else Decimal(1) if people >= 1 else Decimal("0.5")
    ratios = [(Decimal(str(s["q"])) / Decimal(str(s["Q"])), beta[s["category"]]) for s in mh["substances"]]
    total = sum(r for r, _ in ratios)
    r_value = alpha * sum(r * b for r, b in ratios)
    grade = 1 if r_value >= 100 else 2 if r_value >= 50 else 3 if r_value >= 10 else 4
    return total, r_value, grade


def site_feature(u: Unit) -> str | None:
    """The site plan's part of a unit's feature cell (the parts naming other drawings have `::`)."""
    parts = [p.strip() for p in (u.feature or "").split(";") if p.strip() and "::" not in p]
    return parts[0] if parts else None


def unit_level(u: Unit) -> str | None:
    levels = [e.level for e in u.events]
    if u.override:
        levels.append(u.override["level"])
    if u.major_hazard and major_hazard_sum(u.major_hazard)[0] >= 1:
        levels.append("major")
    return max(levels, key=RANK.__getitem__) if levels else None


def region_levels(units: list[Unit]) -> dict[str, tuple[str, str]]:
    """Region name → (highest level in the region's subtree, the unit that has it)."""
    by_id = {u.id: u for u in units}
    region_names = {s.name for s in REGIONS}
    out: dict[str, tuple[str, str]] = {}
    for u in units:
        level = unit_level(u)
        if level is None:
            continue
        cur: Unit | None = u
        while cur is not None and cur.feature not in region_names:
            cur = by_id.get(cur.parent) if cur.parent else None
        assert cur is not None, f"unit {u.id} is in no region"
        best = out.get(cur.feature)
        if best is None or RANK[level] > RANK[best[0]]:
            out[cur.feature] = (level, u.name)
    return out


def check_ledger(units: list[Unit]) -> None:
    ids = [u.id for u in units]
    assert len(ids) == len(set(ids))
    by_id = {u.id: u for u in units}
    shapes = {s.name: shape_polygon(s) for s in REGIONS + BUILDINGS + EQUIPMENT}
    region_names = {s.name for s in REGIONS}
    features = [site_feature(u) for u in units if site_feature(u)]
    assert len(features) == len(set(features)), "one unit per feature"
    assert region_names <= set(features), region_names - set(features)
    for u in units:
        assert u.parent is None or u.parent in by_id, u.id
        assert site_feature(u) is None or site_feature(u) in shapes, (u.id, u.feature)
        if site_feature(u) and site_feature(u) not in region_names:
            # a building or equipment unit sits inside the region of its nearest region ancestor
            cur = by_id[u.parent]
            while cur.feature not in region_names:
                cur = by_id[cur.parent]
            assert shapes[cur.feature].contains(shapes[site_feature(u)]), (u.id, cur.feature)
        for e in u.events:
            if e.inherent:
                assert RANK[level_of(*e.inherent)] >= RANK[level_of(*e.inputs)], (u.id, e.name)
    got = {name: level for name, (level, _) in region_levels(units).items()}
    assert got == TARGET_LEVELS, {k: (got.get(k), v) for k, v in TARGET_LEVELS.items() if got.get(k) != v}


def _responsible(u: Unit) -> str:
    head, team, _ = DEPARTMENTS[u.department]
    if u.person:
        return u.person
    return head if u.kind in ("main", "sub", "subsub") else team


def _event_json(u: Unit, k: int, e: Event) -> dict:
    level = e.level
    controls = []
    for i, (cls, text) in enumerate(e.controls):
        tiers = TIERS[level]
        tier = tiers[min(i, len(tiers) - 1)]
        dept, person = people(u.department, tier)
        controls.append({"description": text, "class": cls, "tier": tier, "department": dept, "person": person})
    d = {
        "id": f"{u.id}-E{k:02d}",
        "name": e.name,
        "hazard_factor": e.hazard,
        "hazard_code": e.code,
        "accident_type": e.accident,
        "cause": e.cause,
        "consequence": e.consequence,
        "impact_range": e.impact,
        "method": e.inputs[0],
        "inputs": e.inputs[1],
    }
    if e.inherent:
        assert e.inherent[0] == e.inputs[0]
        d["inherent_inputs"] = e.inherent[1]
    d["existing_measures"] = e.measures
    d["measure_effectiveness"] = e.effectiveness if RANK[level] < 3 else "基本有效，需持续改进"
    d["controls"] = controls
    d["emergency_measures"] = e.emergency
    if e.direct:
        d["direct_rules"] = list(e.direct)
    if e.location:
        d["location"] = e.location
    return d


def ledger_json(units: list[Unit]) -> dict:
    out_units = []
    for u in units:
        days = OVERDUE.get(u.id) or random.Random(f"{SEED}:date:{u.id}").randint(20, 350)
        d: dict = {"id": u.id, "name": u.name, "kind": u.kind, "parent": u.parent}
        if u.feature:
            d["feature"] = u.feature
        if u.weight is not None:
            d["weight"] = u.weight
        d["department"] = u.department
        d["responsible_person"] = _responsible(u)
        d["last_assessed"] = (REFERENCE_DATE - timedelta(days=days)).isoformat()
        if u.work_content:
            d["work_content"] = u.work_content
        if u.workplace:
            d["workplace"] = u.workplace
        if u.major_hazard:
            d["major_hazard"] = u.major_hazard
        d["events"] = [_event_json(u, k, e) for k, e in enumerate(u.events, 1)]
        if u.override:
            d["override"] = u.override
        out_units.append(d)
    return {"enterprise": ENTERPRISE, "profile": "lec", "units": out_units}


def readme(units: list[Unit]) -> str:
    events = [e for u in units for e in u.events]
    by_level = {lv: sum(1 for e in events if e.level == lv) for lv in RANK}
    by_method = {m: sum(1 for e in events if e.inputs[0] == m) for m in ("lec", "ls")}
    regions = region_levels(units)
    mh = next(u.major_hazard for u in units if u.major_hazard)
    total, r_value, grade = major_hazard_sum(mh)
    e0, n0 = placement()
    rows = "\n".join(f"| {s.name} | {LEVEL_ZH[TARGET_LEVELS[s.name]]} | {regions[s.name][1]} |" for s in REGIONS)
    counts = "、".join(f"{LEVEL_ZH[lv]} {sum(1 for v in TARGET_LEVELS.values() if v == lv)} 个"
                      for lv in reversed(RANK))
    convergence = pyproj.Proj(PLANT_CRS).get_factors(*ORIGIN_LONLAT).meridian_convergence
    return f"""# 演示工厂 / demo plant

**虚构数据 / fictional data.** “{ENTERPRISE['name']}”（示范化工厂）是为 riskmap 编造的一家甲胺生产企业，位于江苏
某化学工业园区（虚构）。企业名称、人员姓名、电话号码、厂址和工艺数据都是编造的，与任何真实企业无关。
It is an invented methylamine plant used to demonstrate and test riskmap; names, people, phone numbers,
location and process data are made up.

All four files are generated by `scripts/make_demo.py` (`.venv/bin/python scripts/make_demo.py`); do not edit
them by hand. The script is deterministic: running it again reproduces the files byte for byte, and it
checks before writing that the region colours below come out as stated.

## 工厂 / the plant

甲醇与液氨在固定床催化剂上气相胺化（380–450 ℃，约 2.0 MPa）生成一甲胺、二甲胺、三甲胺，经脱氨、萃取、脱水、
分离四塔精馏得到液化甲胺和 40 % 甲胺水溶液。厂区约 {PLANT_SIZE[0]:.0f} m × {PLANT_SIZE[1]:.0f} m，环形道路及
三纵两横道路把厂区分成 {len(REGIONS)} 个生产区域。罐区（甲醇储罐 4 × 500 m³，液氨球罐 2 × 120 m³）构成重大
危险源：Σq/Q = {total:.3f}，500 m 内约 {mh['people_500m']} 人（α = 1.5），R = {r_value:.2f}，{grade} 级。

## 文件 / files

| file | what |
|---|---|
| `plant.dxf` | 总平面布置图, AutoCAD 2013 DXF (AC1027, UTF-8 text, `$DWGCODEPAGE` ANSI_936 as Chinese AutoCAD writes it), plant coordinates in metres (`$INSUNITS` = 6), origin at the fence's south-west corner |
| `control_points.csv` | `local_x,local_y,lon,lat`: {len(CONTROL_POINTS)} control points (the four fence corners and the main gate) in CGCS2000 lon/lat, 9 decimals |
| `ledger.json` | the risk ledger in riskmap's JSON form: {len(units)} assessment units, {len(events)} risk events |
| `README.md` | this file |

### plant.dxf layers

| layer | content | role |
|---|---|---|
| 区域 | {len(REGIONS)} closed LWPOLYLINE region outlines, some with rounded (bulged) corners; they never overlap | region |
| 建筑物 | {len(BUILDINGS)} closed LWPOLYLINE buildings and structures (the office has a bulged lobby) | building |
| 设备 | tanks and columns as CIRCLEs, vessels as bulged closed LWPOLYLINEs (capsules), INSERTs of the blocks `PUMP`, `REACTOR`, `COMPRESSOR` (each one closed outline on layer 0 plus open detail lines) | equipment |
| 道路 | road centre lines: two open bulged LWPOLYLINE halves of the ring road, five straight roads, two gate LINEs | road |
| 围墙 | the fence, one closed LWPOLYLINE 600 m × 400 m | fence |
| 文字 | one label per region (MTEXT, middle centre; the tank farm's label carries a `\\C1;` colour code), building and piece of equipment (TEXT, middle centre) | text: names the smallest closed shape containing its insertion point |
| 填充 | three HATCHes: the two tank dikes (tanks as islands) and the control room's blast-resistant wall (a ring) | other |

Every label's insertion point lies inside the shape it names and outside every smaller closed shape
(including hatch boundaries), so "the smallest closed shape containing the text" names each shape
unambiguously. Names are unique.

ezdxf reads the text correctly. GDAL/pyogrio decode DXF text with `$DWGCODEPAGE` even in an AC1027 file, so
they give mojibake for this drawing (as for any DXF saved by a Chinese AutoCAD) unless the GDAL config option
`DXF_ENCODING=UTF-8` is set; `DXF_CLOSED_LINE_AS_POLYGON=TRUE` makes them return the closed outlines as polygons.

### Georeferencing

The drawing is placed by a rotation of {ROTATION_DEG:g}° (counter-clockwise), scale 1, with its origin at
E {e0:.0f} m, N {n0:.0f} m in CGCS2000 / 3-degree Gauss-Krüger CM 120°E (EPSG:4549), converted to lon/lat
(EPSG:4490) with pyproj. The angle is measured from the Gauss-Krüger grid north; the grid is turned
{abs(convergence):.2f}° from true north here (meridian convergence), so a fit in a local transverse Mercator
finds about {ROTATION_DEG - convergence:.2f}°. A few centimetres of fixed survey noise are added to each control
point, so a fit shows small non-zero residuals (RMS about 2–3 cm).

### ledger.json

Main units per system (储运系统, 生产系统, 公用工程系统, 辅助设施, 行政生活设施) → a sub-unit per region (its
`feature` is the region's DXF name) → buildings (`subsub`) and equipment on their own DXF shapes → posts and
activities (hot work 动火, confined-space entry 受限空间, 高处作业, 吊装, 临时用电, 盲板抽堵, 动土 …) without a
`feature`, located by their ancestor. A few pieces of equipment (车床, 灌装机, 氨制冷机组) have no shape either.

- Events: {by_method['lec']} LEC (L/E/C from the standard sets) and {by_method['ls']} LS (L and S, or L and
  S1–S5); some carry `inherent_inputs`. Residual event levels (direct rules applied): {by_level['major']} major, {by_level['significant']}
  significant, {by_level['general']} general, {by_level['low']} low.
- Accident types from GB 6441-1986, a few from GB 6441-2025 (窒息, 中毒, 泄漏, 跌落, 可燃气体爆炸, 粉尘爆炸,
  厂（场）内车辆致害, 管道爆炸); hazard codes in the style of GB/T 13861.
- Direct determination: the tank farm's major hazard event (`major-hazard-installation`) and the synthesis
  area's turnaround crowding (`crowded-dangerous-place`). Overrides to major on 罐区 and 反应车间. The tank
  farm carries `major_hazard` data (GB 18218-2018).
- One event has D = 70 exactly (机修钳工岗 砂轮片破裂, 1 × 10 × 7): general under the 从严从高 convention, low
  under `lec-upper-inclusive`; its region is general either way.
- `last_assessed` dates lie within 14 months before {REFERENCE_DATE.isoformat()} (the script's fixed reference
  date); {len(OVERDUE)} units are older than 12 months (due for re-assessment).

## 区域风险 / region colours (`highest`, 短板原理)

{counts}.

| 区域 / region | 等级 / level | 例如由 / e.g. decided by |
|---|---|---|
{rows}
"""


def write_excel_ledger(json_path: Path, xlsx_path: Path) -> None:
    """The same ledger as the enterprise keeps it (表B/表C workbook); `riskmap demo` loads this one."""
    from riskmap.criteria import assess_units
    from riskmap.ledger import read_ledger_json, write_ledger_excel

    ledger = read_ledger_json(json_path)
    assess_units(ledger.units, default_profile=ledger.profile)   # so that 表B/表C show scores and levels
    write_ledger_excel(ledger, xlsx_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default data/demo)")
    args = parser.parse_args(argv)
    check_layout()
    units = build_units()
    drawing_units(units)
    check_ledger(units)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_dxf(out / "plant.dxf")
    write_drawings(out)
    (out / "control_points.csv").write_text(control_points_csv(), encoding="utf-8", newline="")
    text = json.dumps(ledger_json(units), ensure_ascii=False, indent=1) + "\n"
    (out / "ledger.json").write_text(text, encoding="utf-8", newline="")
    (out / "README.md").write_text(readme(units), encoding="utf-8", newline="")
    write_excel_ledger(out / "ledger.json", out / "ledger.xlsx")
    events = sum(len(u.events) for u in units)
    print(f"{out}: {len(REGIONS)} regions, {len(units)} units, {events} events")


if __name__ == "__main__":
    main()
