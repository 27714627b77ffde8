"""Static plans over HTTP: the poster (PDF, PNG, SVG; `bbox=` for the web map's "print this view" link), the
notice board, post risk cards and the regulator's upload image.

Every answer is made on request from the current data (its footer carries the data version and the time), so
none is cached (`Cache-Control: no-store`). Bad options are 4xx with a Chinese message first.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from riskmap.api.deps import get_plant
from riskmap.plant import Plant

Method = Literal["highest", "weighted"]
MEDIA = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml", "jpeg": "image/jpeg"}


def _file(data: bytes, media: str, name: str, plant: Plant, ascii_name: str) -> Response:
    disposition = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(f'{plant.enterprise.name}-{name}')}"
    return Response(data, media_type=media, headers={
        "Content-Disposition": disposition, "Cache-Control": "no-store",
        "X-Riskmap-Data-Version": str(plant.data_version)})


def _responses(media: str, what: str) -> dict:
    return {200: {"content": {media: {}}, "description": what},
            404: {"description": "企业或区域不存在 / no such enterprise or region"},
            422: {"description": "选项无效，或图面在该比例尺下放不下 / invalid options, or the plan does not fit"}}


def make_router() -> APIRouter:
    router = APIRouter(prefix="/print", tags=["print"])

    def poster_response(fmt: str, plant: Plant, paper: str, landscape: bool, scale: int | None, region: str | None,
                        atlas: bool, hatch: bool, grid: bool, units: bool | None, bbox: str | None, method: str,
                        dpi: int) -> Response:
        from riskmap.print.poster import PosterOptions, poster

        options = PosterOptions(paper=paper, landscape=landscape, scale=scale, region=region, atlas=atlas,
                                hatch=hatch, grid=grid, bbox=bbox, units=units, method=method)
        data = poster(plant, fmt, options, dpi=dpi)
        return _file(data, MEDIA[fmt], f"四色分布图.{fmt}", plant, f"poster.{fmt}")

    common = {
        "paper": Query("A3", description="纸张 A0–A4 / paper size"),
        "landscape": Query(False, description="横向 / landscape"),
        "scale": Query(None, ge=1, le=1_000_000, description="比例尺分母，如 1000 即 1:1000 / print scale"),
        "region": Query(None, max_length=200, description="区域编号或名称 / a region's workshop map"),
        "hatch": Query(False, description="各等级加填充图案 / hatch patterns per level"),
        "grid": Query(False, description="坐标网格 / coordinate grid"),
        "units": Query(None, description="显示评估单元（默认车间图显示）/ draw assessment units"),
        "bbox": Query(None, max_length=200,
                      description="最小经度,最小纬度,最大经度,最大纬度（网页地图“打印当前视图”）/ lon/lat view"),
        "method": Query("highest", description="区域风险方法 / region method"),
    }

    @router.get("/poster.pdf", summary="四色分布图 PDF（可为图集）/ the poster as PDF", response_class=Response,
                responses=_responses("application/pdf", "矢量 PDF / vector PDF"))
    def poster_pdf(plant: Plant = Depends(get_plant), paper: str = common["paper"],
                   landscape: bool = common["landscape"], scale: int | None = common["scale"],
                   region: str | None = common["region"],
                   atlas: bool = Query(False, description="图集：总平面图 + 每个区域一页 / atlas"),
                   hatch: bool = common["hatch"], grid: bool = common["grid"], units: bool | None = common["units"],
                   bbox: str | None = common["bbox"], method: Method = common["method"]) -> Response:
        return poster_response("pdf", plant, paper, landscape, scale, region, atlas, hatch, grid, units, bbox, method,
                               300)

    @router.get("/poster.png", summary="四色分布图 PNG / the poster as PNG", response_class=Response,
                responses=_responses("image/png", "PNG（默认 300 dpi）/ PNG"))
    def poster_png(plant: Plant = Depends(get_plant), paper: str = common["paper"],
                   landscape: bool = common["landscape"], scale: int | None = common["scale"],
                   region: str | None = common["region"], hatch: bool = common["hatch"], grid: bool = common["grid"],
                   units: bool | None = common["units"], bbox: str | None = common["bbox"],
                   method: Method = common["method"],
                   dpi: int = Query(300, ge=50, le=300, description="分辨率 / resolution")) -> Response:
        return poster_response("png", plant, paper, landscape, scale, region, False, hatch, grid, units, bbox, method,
                               dpi)

    @router.get("/poster.svg", summary="四色分布图 SVG / the poster as SVG", response_class=Response,
                responses=_responses("image/svg+xml", "SVG"))
    def poster_svg(plant: Plant = Depends(get_plant), paper: str = common["paper"],
                   landscape: bool = common["landscape"], scale: int | None = common["scale"],
                   region: str | None = common["region"], hatch: bool = common["hatch"], grid: bool = common["grid"],
                   units: bool | None = common["units"], bbox: str | None = common["bbox"],
                   method: Method = common["method"]) -> Response:
        return poster_response("svg", plant, paper, landscape, scale, region, False, hatch, grid, units, bbox, method,
                               300)

    @router.get("/board.pdf", summary="安全风险公告栏（表D）/ the notice board", response_class=Response,
                responses=_responses("application/pdf", "PDF"))
    def board_pdf(plant: Plant = Depends(get_plant),
                  paper: str = Query("A3", description="纸张 A2–A4 / paper"),
                  portrait: bool = Query(False, description="纵向 / portrait"),
                  grey: bool = Query(False, description="灰度模式 / greyscale with hatches"),
                  validity_months: int = Query(12, ge=1, le=120, description="有效期（月）/ validity")) -> Response:
        from riskmap.print.board import board_pdf as make

        data = make(plant, paper_name=paper, landscape=not portrait, grey=grey, validity_months=validity_months)
        return _file(data, MEDIA["pdf"], "安全风险公告栏.pdf", plant, "board.pdf")

    @router.get("/cards.pdf", summary="岗位风险告知卡（表E）/ post risk notice cards", response_class=Response,
                responses=_responses("application/pdf", "PDF"))
    def cards_pdf(request: Request, plant: Plant = Depends(get_plant),
                  paper: str = Query("A4", description="纸张 A4 | A5 / paper"),
                  per_sheet: int = Query(1, description="每张纸卡片数 1 | 2 | 4 / cards per sheet"),
                  unit: list[str] | None = Query(None, max_length=2000, description="单元编号（可多个）/ unit ids"),
                  grey: bool = Query(False, description="灰度模式 / greyscale with hatches")) -> Response:
        from riskmap.print.cards import cards_pdf as make

        data = make(plant, paper_name=paper, per_sheet=per_sheet, unit_ids=unit or None,
                    base_url=request.app.state.settings.base_url, grey=grey)
        return _file(data, MEDIA["pdf"], "岗位风险告知卡.pdf", plant, "cards.pdf")

    @router.get("/upload-image", summary="上报监管平台的四色图（≤ 5 MB）/ the regulator's upload image",
                response_class=Response,
                responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "text/plain": {}},
                                 "description": "PNG、JPEG，或 base64 data URL 文本 / image or data URL"},
                           413: {"description": "无法压缩到 5 MB 以内 / cannot fit in 5 MB"}})
    def upload(plant: Plant = Depends(get_plant),
               format: Literal["png", "jpeg", "dataurl"] = Query("png", description="png | jpeg | dataurl"),  # noqa: A002
               image: Literal["png", "jpeg"] = Query("png", description="data URL 中的图片格式 / data URL image"),
               hatch: bool = Query(False, description="各等级加填充图案 / hatch patterns")) -> Response:
        from riskmap.print.upload_image import upload_image

        if format == "dataurl":
            made = upload_image(plant, image, data_url=True, hatch=hatch)
            return Response(made.data_url(), media_type="text/plain; charset=ascii",
                            headers={"Cache-Control": "no-store", "X-Riskmap-Data-Version": str(plant.data_version)})
        made = upload_image(plant, format, hatch=hatch)
        return _file(made.data, made.mime, f"四色分布图.{made.extension}", plant, f"plan.{made.extension}")

    return router
