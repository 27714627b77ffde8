"""Static plans over HTTP: the poster (PDF, PNG, SVG; `bbox=` for the web map's "print this view" link), the
notice board, post risk cards and the regulator's upload image.

Options are checked before any data is read, so a bad request costs nothing. A print depends only on the
enterprise's data version and its options: the plant read for a data version and the bytes made for it are
kept (a few plants, 64 MB of prints) and served again until the data changes; the footer then says when that
version's print was made. `at=` prints the plan as it was at a past moment (its stamp says "data as of …");
past plants are kept by the layout and ledger versions current then. Answers are `Cache-Control: no-store`
(the next edit changes them). Bad options are 4xx with a Chinese message first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from riskmap.api.deps import app_singleton, resolve_tenant
from riskmap.plant import Plant

Method = Literal["highest", "weighted"]
MEDIA = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml", "jpeg": "image/jpeg"}
CACHE_BYTES = 64 * 1024 * 1024
PLANTS_KEPT = 4


class _PrintCache:
    """Plants by (enterprise, data version) and made prints by (enterprise, data version, what, options)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.lock = threading.Lock()
        self.plants: OrderedDict[tuple, Plant] = OrderedDict()
        self.prints: OrderedDict[tuple, tuple[bytes, str, str, str]] = OrderedDict()
        self.max_bytes, self.size = max_bytes, 0

    def plant(self, request: Request, enterprise: str | None, at: datetime | None = None) -> Plant:
        from riskmap.drawings import requested
        from riskmap.plant import load_plant
        from riskmap.store.history import versions_at

        tenant = resolve_tenant(request.app, enterprise)
        store, name = tenant.store, tenant.name
        drawing = requested(request.query_params.get("drawing"))   # a storey, workshop or schematic drawing
        if at is None:
            key = (id(store), name, store.data_version(name), drawing)
        else:   # one past plant serves every moment at which the same versions were current
            key = (id(store), name, versions_at(store, name, at).key, drawing)
        with self.lock:
            found = self.plants.get(key)
            if found is not None:
                self.plants.move_to_end(key)
        if found is None:
            found = load_plant(store, name, at=at, drawing=drawing)
            if at is None:
                key = (id(store), name, found.data_version, drawing)
            with self.lock:
                self.plants[key] = found
                while len(self.plants) > PLANTS_KEPT:
                    self.plants.popitem(last=False)
        return found if at is None else dataclasses.replace(found, as_of=at)

    def made(self, plant: Plant, what: tuple, make: Callable[[], tuple[bytes, str, str, str]]):
        key = (plant.enterprise.name, plant.data_version, plant.as_of, plant.layout_number, plant.ledger_number,
               plant.drawing.key if plant.drawing is not None else None, *what)
        with self.lock:
            if key in self.prints:
                self.prints.move_to_end(key)
                return self.prints[key]
        answer = make()
        with self.lock:
            if key not in self.prints and len(answer[0]) <= self.max_bytes // 4:
                self.prints[key] = answer
                self.size += len(answer[0])
                while self.size > self.max_bytes:
                    _, old = self.prints.popitem(last=False)
                    self.size -= len(old[0])
        return answer


def _cache(request: Request) -> _PrintCache:
    return app_singleton(request.app, "print_cache", _PrintCache)




def _answer(plant: Plant, data: bytes, media: str, name: str, ascii_name: str) -> Response:
    headers = {"Cache-Control": "no-store", "X-Riskmap-Data-Version": str(plant.data_version)}
    if plant.as_of is not None:
        headers["X-Riskmap-As-Of"] = plant.as_of.isoformat()
    if ascii_name:
        headers["Content-Disposition"] = (f"inline; filename=\"{ascii_name}\"; "
                                          f"filename*=UTF-8''{quote(f'{plant.enterprise.name}-{name}')}")
    return Response(data, media_type=media, headers=headers)


def _moment(at: str | None) -> datetime | None:
    """`at=` read before any data is (a bad moment costs nothing)."""
    from riskmap.store.history import parse_moment

    return None if at is None else parse_moment(at)


async def _serve(request: Request, enterprise: str | None, what: tuple, make: Callable[[Plant], tuple],
                 at: datetime | None = None) -> Response:
    """Read the plant (or reuse it) and make the print (or reuse it) off the event loop."""
    cache = _cache(request)

    def work():
        plant = cache.plant(request, enterprise, at)
        return plant, cache.made(plant, what, lambda: make(plant))

    plant, (data, media, name, ascii_name) = await run_in_threadpool(work)
    return _answer(plant, data, media, name, ascii_name)


def _responses(media: str, what: str) -> dict:
    return {200: {"content": {media: {}}, "description": what},
            404: {"description": "企业或区域不存在 / no such enterprise or region"},
            422: {"description": "选项无效，或图面在该比例尺下放不下 / invalid options, or the plan does not fit"}}


ENTERPRISE = Query(None, description="企业名称 / enterprise")
PAPER = Query("A3", description="纸张 A0–A4 / paper size")
LANDSCAPE = Query(None, description="横向 true、纵向 false（默认：图面更大的方向）/ landscape true, portrait false "
                                    "(default: the orientation that shows the map largest)")
SCALE = Query(None, ge=1, le=1_000_000, description="比例尺分母，如 1000 即 1:1000 / print scale")
REGION = Query(None, max_length=200, description="区域编号或名称 / a region's workshop map")
HATCH = Query(False, description="各等级加填充图案 / hatch patterns per level")
GRID = Query(False, description="坐标网格 / coordinate grid")
UNITS = Query(None, description="显示评估单元（默认车间图显示）/ draw assessment units")
BBOX = Query(None, max_length=200,
             description="最小经度,最小纬度,最大经度,最大纬度（网页地图“打印当前视图”）/ lon/lat view")
LAYERS = Query(None, max_length=100, description=(
    "要打印的图层（逗号分隔：regions、units、layout、labels、hazards），网页地图“打印当前视图”传入屏幕上显示的图层 / "
    "the layers to print, comma-separated (the web map's print link passes those shown on screen)"))
METHOD = Query("highest", description="区域风险方法 / region method")
AT = Query(None, max_length=40, description="打印某一时刻的图（ISO 8601；无时区按北京时间），如 2026-10-01T08:00 / "
                                            "print the plan as it was at that moment")


DRAWING = Query(None, max_length=64, description="图纸（缺省为总平面布置图），如 办公楼-2F / the drawing (default: the "
                                                 "site plan)")


class PosterQuery(BaseModel):
    """The options every form of the poster takes (PDF, PNG, SVG): one place, one meaning."""

    enterprise: str | None = ENTERPRISE
    paper: str = PAPER
    landscape: bool | None = LANDSCAPE
    scale: int | None = SCALE
    region: str | None = REGION
    hatch: bool = HATCH
    grid: bool = GRID
    units: bool | None = UNITS
    bbox: str | None = BBOX
    layers: str | None = LAYERS
    method: Method = METHOD
    at: str | None = AT
    drawing: str | None = DRAWING


def make_router() -> APIRouter:
    """The print routes under /print: the risk map poster (PDF, PNG, SVG), the notice board, the unit cards and image
    upload.
    """
    router = APIRouter(prefix="/print", tags=["print"])

    async def poster_response(request: Request, fmt: str, q: PosterQuery, atlas: bool = False,
                              dpi: int = 300) -> Response:
        from riskmap.print.poster import PosterOptions, poster, sign_offs

        options = PosterOptions(paper=q.paper, landscape=q.landscape, scale=q.scale, region=q.region, atlas=atlas,
                                hatch=q.hatch, grid=q.grid, bbox=q.bbox, units=q.units, layers=q.layers,
                                method=q.method, sign_offs=sign_offs(request.app.state.settings))
        options.check()                                   # before any data is read
        moment = _moment(q.at)

        def make(plant):
            from riskmap.print.poster import atlas_drawings, print_hazards

            drawings, hazards = [], None
            if atlas and plant.drawing is None:     # the site plan's pages, then the other drawings'
                drawings = atlas_drawings(request.app.state.store(), plant.enterprise.name, moment)
            if "hazards" in (options.layers or ()) and plant.drawing is None:
                hazards = print_hazards(request.app.state.store(), plant.enterprise.name, moment)
            return (poster(plant, fmt, options, dpi=dpi, drawings=drawings, hazards=hazards), MEDIA[fmt],
                    f"四色分布图.{fmt}", f"poster.{fmt}")

        what = ("poster", fmt, options.paper.upper(), q.landscape, q.scale, q.region, atlas, q.hatch, q.grid,
                q.units, options.bbox, options.layers, q.method, dpi)
        return await _serve(request, q.enterprise, what, make, moment)

    @router.get("/poster.pdf", summary="四色分布图 PDF（可为图集）/ the poster as PDF", response_class=Response,
                responses=_responses("application/pdf", "矢量 PDF / vector PDF"))
    async def poster_pdf(request: Request, q: Annotated[PosterQuery, Query()],
                         atlas: bool = Query(False, description="图集：总平面图 + 每个区域一页 / atlas")) -> Response:
        return await poster_response(request, "pdf", q, atlas=atlas)

    @router.get("/poster.png", summary="四色分布图 PNG / the poster as PNG", response_class=Response,
                responses=_responses("image/png", "PNG（默认 300 dpi）/ PNG"))
    async def poster_png(request: Request, q: Annotated[PosterQuery, Query()],
                         dpi: int = Query(300, ge=50, le=300, description="分辨率 / resolution")) -> Response:
        return await poster_response(request, "png", q, dpi=dpi)

    @router.get("/poster.svg", summary="四色分布图 SVG / the poster as SVG", response_class=Response,
                responses=_responses("image/svg+xml", "SVG"))
    async def poster_svg(request: Request, q: Annotated[PosterQuery, Query()]) -> Response:
        return await poster_response(request, "svg", q)

    @router.get("/board.pdf", summary="安全风险公告栏（表D）/ the notice board", response_class=Response,
                responses=_responses("application/pdf", "PDF"))
    async def board_pdf(request: Request, enterprise: str | None = ENTERPRISE,
                        paper: str = Query("A3", description="纸张 A1–A4 / paper"),
                        portrait: bool = Query(False, description="纵向 / portrait"),
                        grey: bool = Query(False, description="灰度模式 / greyscale with hatches"),
                        validity_months: int | None = Query(None, ge=1, le=120, description=(
                            "有效期（月；默认为准则配置的复评周期）/ validity (default: the profile's period)")),
                        scope: Literal["all", "factory", "areas"] = Query(
                            "all", description="all（厂级 + 各区域）| factory | areas"),
                        region: list[str] | None = Query(None, max_length=500,
                                                         description="只打印这些区域 / only these areas"),
                        at: str | None = AT) -> Response:
        from riskmap.print.board import BOARD_PAPERS
        from riskmap.print.board import board_pdf as make_board
        from riskmap.print.paper import paper as check_paper

        check_paper(paper, not portrait, BOARD_PAPERS)
        moment = _moment(at)

        def make(plant):
            data = make_board(plant, paper_name=paper, landscape=not portrait, grey=grey,
                              validity_months=validity_months, scope=scope, regions=region or None)
            return data, MEDIA["pdf"], "安全风险公告栏.pdf", "board.pdf"

        from riskmap.clock import today as beijing_today

        # the expired marks change with the date: a board made yesterday is not served today
        what = ("board", paper.upper(), portrait, grey, validity_months, scope, tuple(region or ()), beijing_today())
        return await _serve(request, enterprise, what, make, moment)

    @router.get("/cards.pdf", summary="岗位风险告知卡（表E）/ post risk notice cards", response_class=Response,
                responses=_responses("application/pdf", "PDF"))
    async def cards_pdf(request: Request, enterprise: str | None = ENTERPRISE,
                        paper: str = Query("A4", description="纸张 A4 | A5 / paper"),
                        per_sheet: int | None = Query(None, description=(
                            "每张纸卡片数 1 | 2 | 4（默认：正文不小于 8 pt 时能放几张放几张）/ cards per sheet "
                            "(default: as many as keep the body at 8 pt or more)")),
                        unit: list[str] | None = Query(None, max_length=2000,
                                                       description="单元编号（可多个）/ unit ids"),
                        grey: bool = Query(False, description="灰度模式 / greyscale with hatches"),
                        at: str | None = AT) -> Response:
        from riskmap.api.public_url import public_base_url
        from riskmap.errors import InputError
        from riskmap.links import is_loopback
        from riskmap.print.cards import CARD_PAPERS, PER_SHEET, check_base_url
        from riskmap.print.cards import cards_pdf as make_cards
        from riskmap.print.paper import paper as check_paper

        check_paper(paper, False, CARD_PAPERS)
        if per_sheet is not None and per_sheet not in PER_SHEET:
            raise InputError(f"每张纸的卡片数（per_sheet）应为 1、2 或 4，得到 {per_sheet} / per_sheet must be "
                             "1, 2 or 4")
        # the codes point where this request came to (or to RISKMAP_BASE_URL): what the person printing sees
        base_url = check_base_url(public_base_url(request))
        moment = _moment(at)

        def make(plant):
            data = make_cards(plant, paper_name=paper, per_sheet=per_sheet, unit_ids=unit or None,
                              base_url=base_url, grey=grey)
            return data, MEDIA["pdf"], "风险告知卡.pdf", "cards.pdf"

        what = ("cards", paper.upper(), per_sheet, tuple(unit or ()), grey, base_url)
        response = await _serve(request, enterprise, what, make, moment)
        response.headers["X-Riskmap-QR-Base"] = base_url
        if is_loopback(base_url):
            response.headers["X-Riskmap-Warning"] = ("QR codes point to a loopback address (" + base_url +
                                                     "): other devices cannot open them; set RISKMAP_BASE_URL")
        return response

    @router.get("/upload-image", summary="上报监管平台的四色图（≤ 5 MB）/ the regulator's upload image",
                response_class=Response,
                responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "text/plain": {}},
                                 "description": "PNG、JPEG，或 base64 data URL 文本 / image or data URL"},
                           413: {"description": "无法压缩到 5 MB 以内 / cannot fit in 5 MB"}})
    async def upload(request: Request, enterprise: str | None = ENTERPRISE,
                     format: Literal["png", "jpeg", "dataurl"] = Query("png", description="png | jpeg | dataurl"),  # noqa: A002
                     image: Literal["png", "jpeg"] = Query("png", description="data URL 中的图片格式 / data URL image"),
                     hatch: bool = Query(False, description="各等级加填充图案 / hatch patterns"),
                     at: str | None = AT) -> Response:
        from riskmap.print.upload_image import upload_image

        moment = _moment(at)

        def make(plant):
            if format == "dataurl":
                made = upload_image(plant, image, data_url=True, hatch=hatch)
                return made.data_url().encode("ascii"), "text/plain; charset=ascii", "", ""
            made = upload_image(plant, format, hatch=hatch)
            return made.data, made.mime, f"四色分布图.{made.extension}", f"plan.{made.extension}"

        what = ("upload", format, image if format == "dataurl" else None, hatch)
        return await _serve(request, enterprise, what, make, moment)

    return router
