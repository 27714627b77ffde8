"""Static plans from the command line: `poster`, `board`, `cards`, `upload-image`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, add_commands, progress, settings_for
from riskmap.errors import InputError

AtOption = Annotated[str | None, typer.Option(
    "--at", help="打印某一时刻的图（ISO 8601；无时区按北京时间），如 2026-10-01T08:00 / the plan as it was then")]


DrawingOption = Annotated[str | None, typer.Option(
    "--drawing", help="图纸（缺省为总平面布置图），如 办公楼-2F / the drawing (default: the site plan)")]


def _plant(db: str | None, enterprise: str | None, at: str | None = None, drawing: str | None = None):
    from riskmap.plant import load_plant
    from riskmap.store import open_store
    from riskmap.store.history import parse_moment

    moment = None if at is None else parse_moment(at)   # a bad moment is refused before the database is opened
    settings = settings_for(db, enterprise)
    return settings, load_plant(open_store(settings.db, create=False), settings.enterprise, at=moment,
                                drawing=drawing)


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _check_suffix(out: Path, allowed: tuple[str, ...]) -> str:
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in allowed:
        raise InputError(f"输出文件应为 {'、'.join('.' + a for a in allowed)}，得到 “{out.name[:60]}” / the output "
                         f"file must end in {', '.join('.' + a for a in allowed)}")
    return suffix


def poster(
    out: Annotated[Path, typer.Argument(help="输出文件 .pdf、.png（300 dpi）或 .svg / output file")],
    paper: Annotated[str, typer.Option("--paper", help="纸张 A0–A4 / paper size")] = "A3",
    landscape: Annotated[bool | None, typer.Option(
        "--landscape/--portrait", help="横向或纵向（默认：图面更大的方向）/ orientation (default: the one that "
                                       "shows the map largest)")] = None,
    scale: Annotated[int | None, typer.Option("--scale", help="比例尺分母，如 1000 即 1:1000 / print scale")] = None,
    region: Annotated[str | None, typer.Option("--region", help="区域编号或名称：车间图 / one region")] = None,
    atlas: Annotated[bool, typer.Option("--atlas", help="图集：目录、总平面图、各区域（按等级和名称）/ atlas: "
                                                        "contents, the plan, then the regions by level and name")
                     ] = False,
    hatch: Annotated[bool, typer.Option("--hatch", help="各等级加填充图案（灰度打印、色弱）/ hatch patterns")] = False,
    grid: Annotated[bool, typer.Option("--grid", help="坐标网格 / coordinate grid")] = False,
    units: Annotated[bool | None, typer.Option("--units/--no-units",
                                               help="显示评估单元（默认：车间图显示，总图不显示）")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="范围 最小经度,最小纬度,最大经度,最大纬度")] = None,
    layers: Annotated[str | None, typer.Option(
        "--layers", help="要打印的图层，如 regions,layout,labels（可选 regions、units、layout、labels、hazards；"
                         "默认区域、布置和标注，车间图和范围图另加单元；hazards 为隐患）/ layers to print")] = None,
    method: Annotated[str, typer.Option("--method", help="区域风险方法 highest | weighted")] = "highest",
    dpi: Annotated[int, typer.Option("--dpi", help="PNG 分辨率 / PNG resolution")] = 300,
    at: AtOption = None,
    drawing: DrawingOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """打印安全风险四色分布图 / print the four-colour risk map poster (PDF, PNG or SVG); the sign-off block comes
    from RISKMAP_PREPARED_BY / _ON, RISKMAP_REVIEWED_BY / _ON, RISKMAP_APPROVED_BY / _ON."""
    from riskmap.print.poster import PosterOptions, sign_offs, write_poster

    _check_suffix(out, ("pdf", "png", "svg"))
    if not 50 <= dpi <= 600:
        raise InputError("分辨率应在 50–600 dpi 之间 / dpi must be 50–600")
    options = PosterOptions(paper=paper, landscape=landscape, scale=scale, region=region, atlas=atlas, hatch=hatch,
                            grid=grid, bbox=bbox, units=units, layers=layers, method=method)
    options.check()
    settings, plant = _plant(db, enterprise, at, drawing)
    options.sign_offs = sign_offs(settings)
    drawings, hazards = [], None
    if (atlas or "hazards" in (options.layers or ())) and drawing is None:
        from riskmap.print.poster import atlas_drawings, print_hazards
        from riskmap.store import open_store
        from riskmap.store.history import parse_moment

        store, moment = open_store(settings.db, create=False), None if at is None else parse_moment(at)
        if atlas:                          # the atlas goes on with the other drawings after the site plan's pages
            drawings = atlas_drawings(store, plant.enterprise.name, moment)
        if "hazards" in (options.layers or ()):
            hazards = print_hazards(store, plant.enterprise.name, moment)
    with progress("正在出图") as update:
        written = write_poster(plant, out, options, dpi=dpi, progress=update, drawings=drawings, hazards=hazards)
    typer.echo(f"{out}：{_size(written)} / written")


def board(
    out: Annotated[Path, typer.Argument(help="输出 PDF / output PDF")],
    paper: Annotated[str, typer.Option("--paper", help="纸张 A1–A4（横向）/ paper (landscape)")] = "A3",
    portrait: Annotated[bool, typer.Option("--portrait", help="纵向 / portrait")] = False,
    grey: Annotated[bool, typer.Option("--grey", help="灰度模式：等级格用灰度和图案 / greyscale with hatches")] = False,
    validity_months: Annotated[int | None, typer.Option(
        "--validity-months", help="有效期（月；默认为准则配置的复评周期）/ validity in months (default: the "
                                  "profile's reassessment_months)")] = None,
    scope: Annotated[str, typer.Option("--scope", help="all（厂级+各区域）| factory | areas")] = "all",
    region: Annotated[list[str] | None, typer.Option("--region", help="只打印这些区域（编号或名称，可多次）/ only "
                                                                      "these areas (repeatable)")] = None,
    at: AtOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """打印安全风险公告栏：厂级（表D：重大和较大风险）及每个区域一张 / print the notice boards: the factory's
    (significant and major risks) and one sheet per area."""
    from riskmap.print.board import SCOPES, board_pdf

    _check_suffix(out, ("pdf",))
    if scope not in SCOPES:
        raise InputError(f"--scope 应为 {'、'.join(SCOPES)} / --scope must be one of {', '.join(SCOPES)}")
    _, plant = _plant(db, enterprise, at)
    with progress("正在生成公告栏") as update:
        data = board_pdf(plant, paper_name=paper, landscape=not portrait, grey=grey, validity_months=validity_months,
                         scope=scope, regions=region or None, progress=update)
    out.write_bytes(data)
    typer.echo(f"{out}：{_size(len(data))} / written")


def cards(
    out: Annotated[Path, typer.Argument(help="输出 PDF / output PDF")],
    paper: Annotated[str, typer.Option("--paper", help="纸张 A4 | A5 / paper")] = "A4",
    per_sheet: Annotated[int | None, typer.Option(
        "--per-sheet", help="每张纸卡片数 1 | 2 | 4（默认：正文不小于 8 pt 时能放几张放几张）/ cards per sheet "
                            "(default: as many as keep the body at 8 pt or more)")] = None,
    unit: Annotated[list[str] | None, typer.Option("--unit", help="单元编号（可多次）/ unit id (repeatable)")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="二维码指向的 riskmap 地址 / QR base URL")] = None,
    grey: Annotated[bool, typer.Option("--grey", help="灰度模式 / greyscale with hatches")] = False,
    at: AtOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """打印风险告知卡：岗位风险告知卡、设备设施风险告知卡（表E，带二维码）/ print risk notice cards for posts and
    equipment, with QR codes."""
    from riskmap.links import is_loopback
    from riskmap.print.cards import cards_pages, check_base_url, pdf_of

    _check_suffix(out, ("pdf",))
    settings, plant = _plant(db, enterprise, at)
    qr_base = check_base_url(base_url or settings.base_url)
    if is_loopback(qr_base):
        typer.echo(f"警告 / warning: 二维码指向本机地址 {qr_base}，其他设备扫码无法打开；请用 --base-url 或 "
                   f"RISKMAP_BASE_URL 指定手机能访问的地址 / the QR codes point to a loopback address ({qr_base}) "
                   "that no other device can open: give the public address with --base-url or RISKMAP_BASE_URL",
                   err=True)
    with progress("正在生成告知卡") as update:
        pages = cards_pages(plant, paper_name=paper, per_sheet=per_sheet, unit_ids=unit or None, base_url=qr_base,
                            grey=grey, progress=update)
    data = pdf_of(plant, pages)
    out.write_bytes(data)
    count = sum(len(p.meta["unit_ids"]) for p in pages)
    typer.echo(f"{out}：{_size(len(data))} / written；{count} 张卡片，每张纸 {pages[0].meta['per_sheet']} 张，正文 ≥ "
               f"{min(p.meta['body_pt'] for p in pages):.1f} pt；二维码指向 / QR codes point to {qr_base}/u/<单元编号>")


def upload_image(
    out: Annotated[Path, typer.Argument(help="输出 .png 或 .jpg（--data-url 时为文本，“-” 为标准输出）")],
    data_url: Annotated[bool, typer.Option("--data-url", help="写出 base64 data URL 文本 / write a data URL")] = False,
    image_format: Annotated[str | None, typer.Option("--format", help="png | jpeg（默认按扩展名）")] = None,
    max_mb: Annotated[float, typer.Option("--max-mb", help="大小上限（MB）/ size limit")] = 5.0,
    hatch: Annotated[bool, typer.Option("--hatch", help="各等级加填充图案 / hatch patterns")] = False,
    at: AtOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """生成上报监管平台的四色图图片（PNG/JPEG ≤ 5 MB，可为 base64）/ the regulator's upload image."""
    from riskmap.print.upload_image import normalise_format
    from riskmap.print.upload_image import upload_image as make

    suffix = out.suffix.lower().lstrip(".")
    fmt = normalise_format(image_format or (suffix if suffix in ("png", "jpg", "jpeg") else
                                            "png" if data_url or str(out) == "-" else suffix))
    if not data_url and str(out) != "-" and suffix not in ("png", "jpg", "jpeg"):
        raise InputError("输出文件应为 .png 或 .jpg（或加 --data-url 写文本）/ output must be .png or .jpg")
    if not 0.01 <= max_mb <= 50:
        raise InputError("--max-mb 应在 0.01–50 之间 / --max-mb must be 0.01–50")
    limit = int(max_mb * 1_000_000)
    _, plant = _plant(db, enterprise, at)
    with progress("正在生成上报图片") as update:
        image = make(plant, fmt, data_url=data_url, max_bytes=limit, hatch=hatch, progress=update)
    if data_url:
        text = image.data_url()
        if str(out) == "-":
            sys.stdout.write(text + "\n")
            return
        out.write_text(text, encoding="ascii")
        size = len(text)
    else:
        if str(out) == "-":
            sys.stdout.buffer.write(image.data)
            return
        out.write_bytes(image.data)
        size = len(image.data)
    quality = f"，JPEG 质量 {image.quality}" if image.quality else ("，256 色" if image.palette else "")
    typer.echo(f"{out}：{image.mime} {image.width}×{image.height} 像素，{image.dpi} dpi{quality}，{_size(size)}"
               f"（上限 {limit / 1e6:.2f} MB）")


def register(app: typer.Typer) -> None:
    """Add the poster, board, cards and upload-image commands to the app."""
    add_commands(app, poster, board, cards, upload_image)
