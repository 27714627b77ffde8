"""`riskmap serve`: the HTTP service."""

from __future__ import annotations

from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, settings_for


def run_server(settings) -> None:
    import uvicorn

    from riskmap.api.app import create_app

    typer.echo(f"riskmap 服务 / serving on http://{settings.host}:{settings.port}/  (Ctrl+C 停止)")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


def serve(
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    host: Annotated[str | None, typer.Option(help="监听地址 / host")] = None,
    port: Annotated[int | None, typer.Option(help="端口 / port")] = None,
) -> None:
    """启动 HTTP 服务 / run the HTTP service."""
    run_server(settings_for(db, enterprise, host=host, port=port))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
