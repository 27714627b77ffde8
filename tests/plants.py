"""Plants the store tests build (imported as `plants`; test modules never import each other): small layouts and
unit trees, grids of many features, snapshots of what a test promises stays put, and the demo drawing revised."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import text

from riskmap.criteria.engine import Evaluation
from riskmap.domain import AssessmentUnit, ControlMeasure, Override, RiskEvent, UnitKind
from riskmap.geo.model import LayoutImport
from riskmap.levels import Level

ENT = "江苏某化工有限公司"
EDIT_ENT = "编辑测试企业"
ATOMIC_ENT = "原子性测试企业"


def make_layout(features: list[tuple], source: str = "plant.dxf", crs: str = "EPSG:4549") -> LayoutImport:
    """features: (fid, name, role, layer, properties, geometry)."""
    cols = list(zip(*features, strict=True)) if features else [[]] * 6
    gdf = gpd.GeoDataFrame(
        {"fid": list(cols[0]), "name": list(cols[1]), "role": list(cols[2]), "layer": list(cols[3]),
         "properties": list(cols[4])},
        geometry=list(cols[5]), crs="EPSG:4326",
    )
    return LayoutImport(features=gdf, crs=crs, source_name=source, source_format="dxf",
                        georeference={"method": "epsg", "rms_m": 0.012, "residuals": [0.01, 0.014]},
                        warnings=["图层 0 中 2 个要素无名称"], dropped={"empty": 1})


def square(x: float, y: float, d: float = 0.001) -> Polygon:
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def plant_layout() -> LayoutImport:
    return make_layout([
        ("A1", "罐区", "region", "区域", {"面积": Decimal("1200.5"), "层数": 1}, square(120.0, 32.0)),
        ("A2", "装置区", "region", "区域", {}, square(120.002, 32.0)),
        ("B1", "控制室", "building", "建筑", {"高度_m": 12.5, "启用": date(2019, 5, 1)},
         square(120.0101, 32.0101, 0.0002)),
        ("E1", "1#泵", "equipment", "设备", {"位号": "P-101"}, Point(120.00051234567891, 32.00031234567891)),
        ("R1", "主干道", "road", "道路", {"宽": None}, LineString([(120.0, 31.999), (120.003, 31.999)])),
    ])


def lec(l_value: str, e_value: str, c_value: str, level: Level, computed: Level | None = None,
        overrides: list[Override] | None = None) -> Evaluation:
    score = Decimal(l_value) * Decimal(e_value) * Decimal(c_value)
    return Evaluation(profile="lec", method="lec",
                      inputs={"L": Decimal(l_value), "E": Decimal(e_value), "C": Decimal(c_value)},
                      score=score, grade=2, computed_level=computed or level, level=level,
                      overrides=overrides or [], band="160 ≤ D < 320")


def unit_tree() -> list[AssessmentUnit]:
    direct = Override(Level.MAJOR, "涉及重大危险源 / major hazard installation", "direct:major-hazard-installation")
    return [
        AssessmentUnit("U1", "罐区", UnitKind.MAIN, feature_ref="A1", weight=Decimal("10"),
                       department="储运部", responsible_person="张三", last_assessed=date(2025, 3, 1),
                       major_hazard={"people_500m": 120, "substances": [
                           {"name": "液氯", "q": Decimal("12.5"), "Q": Decimal("5"), "category": "chlorine"}]}),
        AssessmentUnit("U1.1", "液氯储罐", UnitKind.SUB, parent_id="U1", weight=Decimal("2.50"),
                       geometry=Point(120.0003, 32.0004), override=direct, events=[
                           RiskEvent(
                               "液氯泄漏中毒", id="E1", hazard_factor="液氯储罐", hazard_code="2201",
                               accident_type="中毒和窒息", accident_type_2025="中毒", cause="阀门密封失效",
                               consequence="人员中毒", impact_range="罐区及下风向", method="lec",
                               inputs={"L": Decimal("3"), "E": Decimal("6"), "C": Decimal("15")},
                               inherent_inputs={"L": Decimal("6"), "E": Decimal("6"), "C": Decimal("40")},
                               residual=lec("3", "6", "15", Level.MAJOR, Level.SIGNIFICANT, [direct]),
                               inherent=lec("6", "6", "40", Level.MAJOR),
                               existing_measures="泄漏报警", measure_effectiveness="有效",
                               controls=[ControlMeasure("设置有毒气体报警仪", "1-4", "公司级", "安全部", "李四"),
                                         ControlMeasure("每班巡检")],
                               emergency_measures="启动应急预案", override=direct,
                               direct_rules=["major-hazard-installation"], location="罐区东侧"),
                           RiskEvent("高处坠落", id="E2", residual_level=Level.GENERAL,
                                     inputs={"L": 0.1, "E": 3, "C": "100"}),
                       ]),
        AssessmentUnit("U2", "装置区", UnitKind.MAIN, feature_ref="装置区"),
        AssessmentUnit("U2.1", "反应釜", UnitKind.EQUIPMENT, parent_id="U2", feature_ref="A1",
                       geometry=LineString([(120.002, 32.0), (120.0025, 32.0005)]), work_content="投料",
                       workplace="二楼", events=[RiskEvent("机械伤害", residual=lec("0.1", "3", "100", Level.LOW))]),
    ]


def offset_square(x: float, y: float, size: float = 1e-3):
    return shapely.box(120 + x, 30 + y, 120 + x + size, 30 + y + size)


def editing_layout(fids=("A", "B", "R1"), roles=("building", "building", "region")) -> LayoutImport:
    geoms = [offset_square(0, 0), offset_square(0.002, 0), shapely.box(119.999, 29.999, 120.004, 30.002)][:len(fids)]
    gdf = gpd.GeoDataFrame({"fid": list(fids), "name": [f"名{f}" for f in fids], "role": list(roles),
                            "layer": "L", "properties": [{"k": i} for i in range(len(fids))]},
                           geometry=geoms, crs="EPSG:4326")
    return LayoutImport(features=gdf, crs="EPSG:4549", source_name="plant.dxf", source_format="dxf")


def grid_layout(n: int, offset: float = 0.0, source: str = "grid.dxf") -> LayoutImport:
    i = np.arange(n)
    x = 120 + (i % 300) * 1e-4 + offset
    y = 32 + (i // 300) * 1e-4
    gdf = gpd.GeoDataFrame(
        {"fid": [f"f{k}" for k in i], "name": [f"建筑{k}" for k in i], "role": "building", "layer": "L",
         "properties": [{"k": int(k)} for k in i]},
        geometry=shapely.box(x, y, x + 5e-5, y + 5e-5), crs="EPSG:4326",
    )
    return LayoutImport(features=gdf, crs="EPSG:4549", source_name=source, source_format="dxf")


def numbered_units(n: int, tag: str) -> list[AssessmentUnit]:
    out = [AssessmentUnit("root", f"根{tag}", UnitKind.MAIN)]
    for k in range(n):
        out.append(AssessmentUnit(f"u{k}", f"单元{k}{tag}", UnitKind.POST, parent_id="root",
                                  events=[RiskEvent(f"事件{k}", residual_level=Level.LOW)]))
    return out


def store_snapshot(store) -> tuple:
    """Everything the tests promise stays put, including raw row counts (no partial rows left behind)."""
    with store.engine.connect() as conn:
        counts = tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                       for t in ("layout_versions", "layout_features", "ledger_versions", "units", "risk_events"))
    info = store.layout_info(ATOMIC_ENT)
    return (store.data_version(ATOMIC_ENT), info and info["version"], store.layout_features(ATOMIC_ENT)["fid"].tolist(),
            [u.name for u in store.units(ATOMIC_ENT)], counts)


def moved(k: int, client: int):
    """Feature f<k> as client `client` redraws it (each client draws a different square)."""
    x, y = 120 + (k % 300) * 1e-4 + client * 1e-6, 32 + (k // 300) * 1e-4
    return shapely.box(x, y, x + 6e-5, y + 6e-5)


def plant_snapshot(plant) -> dict:
    """What a user sees of a plant: features, units with levels, region levels, and the exported GeoJSON."""
    from riskmap.export import layout_frame, regions_frame, units_frame

    features = sorted((r.fid, r.name, r.role, r.layer, json.dumps(r.properties, sort_keys=True, default=str),
                       r.geometry.wkb_hex) for r in plant.features.itertuples())
    units = [(u.id, u.name, u.parent_id, u.feature_ref, str(u.weight), u.last_assessed,
              u.level().value if u.level() else None, u.geometry.wkb_hex if u.geometry is not None else None,
              len(u.events)) for u in plant.units]
    regions = [(r.region_id, r.level.value if r.level else None) for r in plant.region_risk()]
    exported = [json.loads(frame(plant).to_json(sort_keys=True)) if len(plant.features) or frame is units_frame
                else None for frame in (layout_frame, units_frame, regions_frame)]
    return {"features": features, "units": units, "regions": regions, "geojson": exported,
            "layout_number": plant.layout_number, "ledger_number": plant.ledger_number,
            "layout_info": plant.layout_info, "profile": plant.profile}


def force(level: Level, reason: str = "测试"):
    def change(unit):
        unit.override = Override(level, reason, "manual")
    return change


def revise_demo_dxf(out):
    """The demo drawing after a renovation (edited with ezdxf, handles kept as CAD keeps them): the lab 化验室
    moved 3 m east, tank EF and its label deleted, a new tank 新增储罐 added, the region 停车场 renamed."""
    import ezdxf

    from riskmap.paths import demo_dir

    doc = ezdxf.readfile(demo_dir() / "plant.dxf")
    msp = doc.modelspace()
    lab_label = next(e for e in msp.query("TEXT") if e.dxf.text == "化验室")
    at = Point(lab_label.dxf.insert.x, lab_label.dxf.insert.y)
    lab = min((e for e in msp.query('LWPOLYLINE[layer=="建筑物"]')
               if shapely.Polygon([p[:2] for p in e.get_points()]).contains(at)),
              key=lambda e: shapely.Polygon([p[:2] for p in e.get_points()]).area)
    for entity in (lab, lab_label):
        entity.translate(3, 0, 0)
    tank = doc.entitydb["EF"]
    centre = Point(tank.dxf.center.x, tank.dxf.center.y)
    for label in msp.query("TEXT"):
        if Point(label.dxf.insert.x, label.dxf.insert.y).distance(centre) < tank.dxf.radius:
            msp.delete_entity(label)
    msp.delete_entity(tank)
    msp.add_circle((367, 322), 4, dxfattribs={"layer": "设备"})
    msp.add_text("新增储罐", dxfattribs={"layer": "文字", "height": 1.5}).set_placement(
        (367, 322), align=ezdxf.enums.TextEntityAlignment.MIDDLE_CENTER)
    parking = next(e for e in msp.query("MTEXT") if e.text == "停车场")
    parking.text = "临时停车场"
    doc.saveas(out)
    return {"lab": lab.dxf.handle, "tank": "EF"}
