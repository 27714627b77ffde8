"""Commands for the plant layout and region risk: import-layout, regions, export, demo (init: riskmap.cli.users)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, add_commands, print_json, progress, settings_for
from riskmap.errors import InputError


def import_layout(
    file: Annotated[Path, typer.Argument(help="DXF, GeoJSON, GeoPackage, zipped Shapefile or KML")],
    crs: Annotated[str | None, typer.Option("--crs", help="坐标系，如 EPSG:4549 / CRS of the file")] = None,
    control_points: Annotated[
        Path | None, typer.Option("--control-points",
                                  help="控制点 CSV 或 QGIS 地理配准 .points 文件 / control points: CSV or QGIS .points")
    ] = None,
    layer_map: Annotated[Path | None, typer.Option("--layer-map", help="图层映射文件 / layer map")] = None,
    name_property: Annotated[str, typer.Option(help="名称字段 / name property of GIS files")] = "name",
    role_property: Annotated[str, typer.Option(help="角色字段 / role property of GIS files")] = "role",
    max_rms: Annotated[float | None, typer.Option("--max-rms", help="控制点 RMS 上限（米）")] = None,
    drop_invalid: Annotated[bool, typer.Option(
        "--drop-invalid", help="丢弃无法可靠修复的无效多边形（否则拒绝整个文件） / drop polygons that cannot be "
                               "repaired within 1 % of their area instead of refusing the file")] = False,
    revise: Annotated[bool, typer.Option(
        "--revise", help="修订图：先显示与当前布局的差异，确认后作为新布局版本写入 / a revised drawing: show what "
                         "changed against the current layout, write it as a new layout version when confirmed")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="不询问直接应用修订 / apply the revision without asking")
                   ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只读取和比较，不写入 / read and compare, write nothing")
                       ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="修改原因（记入历史）/ why (kept in the history)")
                      ] = None,
    author: Annotated[str | None, typer.Option("--author", help="修改人（记入历史）/ who (kept in the history)")
                      ] = None,
    drawing: Annotated[str | None, typer.Option(
        "--drawing", help="图纸名称（默认总平面布置图），如 办公楼-2F / the drawing (default: the site plan)")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="图纸标题 / the drawing's title")] = None,
    building: Annotated[str | None, typer.Option(
        "--building", help="楼层图所在建筑（总平面图上的要素编号）/ the building on the site plan (its fid)")] = None,
    storey: Annotated[str | None, typer.Option("--storey", help="楼层，如 B1、1F、2F / the storey")] = None,
    schematic: Annotated[bool, typer.Option(
        "--schematic", help="示意图（如工艺流程图），没有地理位置 / a schematic drawing, not on the earth")
    ] = False,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """导入平面布置图 / import a plant layout (one transaction: all or nothing); --revise: re-import a revised
    drawing (diff first, apply when confirmed); --drawing: a floor plan, workshop plan or schematic drawing beside
    the site plan."""
    from riskmap.drawings import new_drawing
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store
    from riskmap.store.engine import MissingDatabaseError

    the_drawing = None
    if drawing or building or storey or schematic:
        the_drawing = new_drawing(drawing or "", title=title, building=building, storey=storey, schematic=schematic,
                                  crs=crs, control_points=control_points is not None)
    settings = settings_for(db, enterprise)
    try:
        # a dry run of a first import needs no database, and must not leave one behind
        store = open_store(settings.db, create=not dry_run or revise)
        settings.enterprise = resolve_enterprise(store, settings.enterprise)
    except MissingDatabaseError:
        if revise:
            raise
        store, settings.enterprise = None, settings.enterprise or "default"
    options = {"crs": crs, "control_points": control_points, "layer_map": layer_map, "name_property": name_property,
               "role_property": role_property, "max_rms": max_rms, "drop_invalid": drop_invalid}
    if revise:
        if the_drawing is not None:
            store.drawing(settings.enterprise, the_drawing.key)     # revising needs the drawing imported already
            options["schematic"] = the_drawing.schematic
            from riskmap.importing import building_footprint

            options["footprint"] = building_footprint(store, settings.enterprise, the_drawing)
        revise_layout(settings, file, store=store, yes=yes, dry_run=dry_run, as_json=as_json, reason=reason,
                      author=author, drawing=the_drawing.key if the_drawing is not None else None, **options)
        return
    if yes:
        raise InputError("--yes 只用于 --revise / --yes only goes with --revise")
    if dry_run:
        from riskmap.geo.importer import import_layout_file
        from riskmap.importing import building_footprint

        layout = import_layout_file(settings, file, schematic=bool(the_drawing and the_drawing.schematic),
                                    footprint=building_footprint(store, settings.enterprise, the_drawing), **options)
        summary = layout.summary() | {"enterprise": settings.enterprise, "layout_version": None}
    else:
        summary = load_layout(settings, file, store=store, author=author, reason=reason, drawing=the_drawing,
                              **options)
    if as_json:
        print_json(summary)
        return
    typer.echo(_layout_summary_text(summary))


def load_layout(settings, file: Path, *, store, author: str | None = None, reason: str | None = None,
                **options) -> dict:
    """Import a drawing (riskmap.importing.load_layout) with a progress display; return the import summary."""
    from riskmap.importing import IMPORT_STEP_ZH, IMPORT_STEPS
    from riskmap.importing import load_layout as import_drawing

    with progress(f"正在导入 {file.name}") as update:
        def step(name: str) -> None:
            if update is not None:
                update(IMPORT_STEPS.index(name), len(IMPORT_STEPS), IMPORT_STEP_ZH[name])

        return import_drawing(settings, file, store=store, author=author, reason=reason, on_step=step, **options)


def revise_layout(settings, file: Path, *, store, yes: bool, dry_run: bool, as_json: bool, reason: str | None,
                  author: str | None, drawing: str | None = None, **options) -> None:
    """Diff a revised drawing against the current layout of that drawing (None: the site plan); apply it as one
    new layout version when confirmed."""
    import sys

    from riskmap.geo.importer import import_layout_file
    from riskmap.geo.revise import apply_revision, diff_text, flags_text, plan_revision
    from riskmap.importing import IMPORT_STEP_ZH, IMPORT_STEPS

    name = settings.enterprise
    store.enterprise(name, create=False)                   # NotFoundError for an unknown enterprise
    with progress(f"正在读取 {file.name}") as update:
        def step(step_name: str) -> None:
            if update is not None:
                update(IMPORT_STEPS.index(step_name), len(IMPORT_STEPS) - 1, IMPORT_STEP_ZH[step_name])

        revised = import_layout_file(settings, file, on_step=step, **options)
    diff, base = plan_revision(store, name, revised, drawing=drawing)
    report = {"enterprise": name, "source": revised.source_name, "base_version": base, "diff": diff.to_dict(),
              "warnings": list(revised.warnings), "applied": False, **({"drawing": drawing} if drawing else {})}
    if not as_json:
        typer.echo(f"{revised.source_name} 与当前布局（版本 {base}）比较 / compared with the current layout "
                   f"(version {base}):")
        typer.echo(diff_text(diff))
        for warning in revised.warnings:
            typer.echo(f"警告 / warning: {warning}")
    apply = False
    if diff.has_changes and not dry_run:
        if yes:
            apply = True
        elif not as_json and sys.stdin.isatty():
            apply = typer.confirm("应用这些更改？/ apply these changes?", default=False)
    if apply:
        result = apply_revision(store, name, diff, base, source=revised.source_name, author=author, reason=reason,
                                drawing=drawing)
        report |= result
    if as_json:
        print_json(report)
        return
    if apply:
        typer.echo(f"已应用：新布局版本 {report['layout_version']} / applied: new layout version "
                   f"{report['layout_version']}")
        typer.echo(flags_text(report["flags_raised"]))
    elif not diff.has_changes:
        typer.echo("没有需要应用的更改，未写入 / nothing to apply; nothing written")
    elif dry_run:
        typer.echo("试运行，未写入 / dry run: nothing written")
    else:
        typer.echo("未应用，未写入（在终端中确认，或加 --yes）/ not applied, nothing written (confirm on a "
                   "terminal, or pass --yes)")


def _layout_summary_text(summary: dict) -> str:
    if summary.get("layout_version") is None:
        lines = [f"已读取 {summary['source']}：{summary['features']} 个要素（试运行，未写入）/ dry run, nothing "
                 "written"]
    else:
        lines = [f"已导入 {summary['source']}：{summary['features']} 个要素，布局版本 {summary['layout_version']}"]
        if summary.get("drawing") and summary["drawing"]["key"] != "site":
            lines.append(f"图纸 / drawing: {summary['drawing']['label']}（{summary['drawing']['kind_zh']}）")
    lines.append("按角色 / by role: " + "，".join(f"{k} {v}" for k, v in summary["by_role"].items()))
    lines.append("按图层 / by layer: " + "，".join(f"{k or '-'} {v}" for k, v in summary["by_layer"].items()))
    lines.append(f"坐标系 / CRS: {summary['crs']}")
    geo = summary.get("georeference") or {}
    if geo.get("rms_m") is not None:
        lines.append(f"控制点 {geo.get('points')} 个，{geo.get('method')}，RMS {geo['rms_m']:.3f} m")
    if summary.get("bounds_lonlat"):
        lines.append("范围（经纬度）/ bounds: " + ", ".join(f"{b:.6f}" for b in summary["bounds_lonlat"]))
    for item in summary.get("repaired", []):
        lines.append(f"已修复 / repaired: {item.get('name') or item.get('fid')} (面积变化 {item.get('area_change')})")
    for reason, count in summary.get("dropped", {}).items():
        lines.append(f"已丢弃 / dropped: {reason} × {count}")
    for warning in summary.get("warnings", []):
        lines.append(f"警告 / warning: {warning}")
    return "\n".join(lines)


def regions(
    method: Annotated[str, typer.Option(help="highest（短板，默认）或 weighted（综合加权）")] = "highest",
    inherent: Annotated[bool, typer.Option("--inherent", help="固有风险而非现有风险 / inherent risk")] = False,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """各区域风险等级及其依据 / region risk levels with their explanation."""
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    if method not in ("highest", "weighted"):
        raise InputError(f"未知的区域风险方法 “{method}”，应为 highest 或 weighted / unknown method {method!r}")
    settings = settings_for(db, enterprise)
    plant = load_plant(open_store(settings.db, create=False), settings.enterprise)
    risks = plant.region_risk(method=method, which="inherent" if inherent else "residual")
    if as_json:
        print_json([r.to_dict() for r in risks])
        return
    for r in risks:
        d = r.to_dict()
        level = d.get("level_zh") or "未评估"
        decided = d.get("decided_by") or "-"
        typer.echo(f"{d['name']}：{level}（由 {decided} 决定）")


def export(
    out: Annotated[Path, typer.Argument(help=".gpkg（全部图层）或 .geojson（一个图层）")],
    layer: Annotated[str | None, typer.Option(help="layout | units | regions | hazards")] = None,
    method: Annotated[str, typer.Option(help="区域风险方法 highest | weighted")] = "highest",
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """导出布局、单元、区域风险和隐患 / export layout, units, region risk and hidden hazards (GeoPackage or GeoJSON)."""
    from riskmap.export import export_plant
    from riskmap.hazards.table import published
    from riskmap.plant import load_plant
    from riskmap.store import open_store
    from riskmap.store.hazards import hazards_frame

    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=False)
    plant = load_plant(store, settings.enterprise)
    written = export_plant(plant, out, layer=layer, method=method,
                           hazards=lambda: published(hazards_frame(store, plant.enterprise.name)))
    for name, count in written.items():
        typer.echo(f"{out}: {name} {count} 个要素 / features")


def demo(
    db: DbOption = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="加载后启动服务 / serve after loading")] = True,
    host: Annotated[str | None, typer.Option(help="监听地址 / host")] = None,
    port: Annotated[int | None, typer.Option(help="端口 / port")] = None,
) -> None:
    """加载演示化工厂并启动服务 / load the demo chemical plant into a fresh database and serve it."""
    from riskmap.cli.service import check_port
    from riskmap.demo import load_demo

    if port is not None:
        check_port(port)
    settings = settings_for(db, None, host=host, port=port)
    summary = load_demo(settings)
    typer.echo(summary["text"])
    if serve:
        from riskmap.cli.service import run_server

        run_server(settings)


def register(app: typer.Typer) -> None:
    """Add the import-layout, regions, export and demo commands to the app."""
    add_commands(app, import_layout, regions, export, demo)
