"""Region risk, units and criteria evaluation as JSON and GeoJSON."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from riskmap.api import answers
from riskmap.api.deps import enter, get_plant, get_store, may_read
from riskmap.api.fields import Text
from riskmap.export import regions_frame, units_frame
from riskmap.plant import Plant

Method = Literal["highest", "weighted"]
Which = Literal["residual", "inherent"]
GEOJSON = "application/geo+json"


class EvaluateRequest(BaseModel):
    """The body of POST /api/evaluate: a criteria profile, its inputs and any direct determination rules; unknown fields
    are refused.
    """
    model_config = ConfigDict(extra="forbid")

    profile: Text = Field("lec", max_length=200,
                          description="评价准则 / criteria profile, e.g. lec, lec-upper-inclusive, ls")
    inputs: dict[Text, Any] = Field(..., description="L/E/C, L/S or L/S1..S5")
    direct_rules: list[Text] = Field(default_factory=list, description="直接判定规则 / direct determination rules")


def make_router() -> APIRouter:
    """The plant routes under /api: enterprises, region risk with explanation, regions and units as GeoJSON, and
    evaluate.
    """
    router = APIRouter(prefix="/api", tags=["plant"])

    @router.get("/enterprises", summary="企业列表 / enterprises")
    def enterprises(request: Request, store=Depends(get_store)) -> list[dict]:
        # those the request may read (every one while reading is open; the account's own when it is closed)
        readable = [e for e in store.enterprises() if may_read(request, e)]
        enter(request, readable)
        return [{"name": e.name, "data_version": store.data_version(e.name)} for e in readable]

    @router.get("/regions", summary="区域风险及依据 / region risk with explanation",
                response_model=list[answers.RegionRisk])
    def regions(plant: Plant = Depends(get_plant), method: Method = "highest", which: Which = "residual") -> list:
        return [r.to_dict() for r in plant.region_risk(method=method, which=which)]

    @router.get("/regions.geojson", summary="区域风险 GeoJSON / region risk as GeoJSON", response_model=answers.GeoJson,
                responses={200: {"content": {GEOJSON: {}}}})
    def regions_geojson(request: Request, plant: Plant = Depends(get_plant), method: Method = "highest",
                        which: Which = "residual", store=Depends(get_store)):
        return _geojson_answer(request, store, plant, lambda: regions_frame(plant, method, which))

    @router.get("/units.geojson", summary="评估单元 GeoJSON / assessment units as GeoJSON",
                response_model=answers.GeoJson,
                responses={200: {"content": {GEOJSON: {}}}})
    def units_geojson(request: Request, plant: Plant = Depends(get_plant), which: Which = "residual",
                      store=Depends(get_store)):
        return _geojson_answer(request, store, plant, lambda: units_frame(plant, which))

    @router.post("/evaluate", response_model=answers.Evaluation, summary="按评价准则计算风险等级 / evaluate one risk")
    def evaluate(body: EvaluateRequest) -> dict:
        from riskmap.criteria import evaluate as run
        from riskmap.criteria import evaluation_to_dict

        return evaluation_to_dict(run(body.profile, direct_rules=body.direct_rules, **body.inputs))

    return router


def _geojson_answer(request: Request, store, plant: Plant, frame) -> Response:
    """application/geo+json with a weak ETag and Last-Modified from the data version (304 when unchanged)."""
    import json

    from riskmap.api.conditional import not_modified, validators

    found = validators(request, store, plant.enterprise.name)
    if (early := not_modified(request, found)) is not None:
        return early
    body = json.dumps(_feature_collection(frame()), ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type=GEOJSON, headers=found.headers())


def _feature_collection(gdf) -> dict:
    import json

    import shapely

    gdf = gdf[gdf.geometry.notna()].copy()
    gdf["geometry"] = shapely.orient_polygons(gdf.geometry.values, exterior_cw=False)
    return json.loads(gdf.to_json(drop_id=True, ensure_ascii=False))
