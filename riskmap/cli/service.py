"""`riskmap serve`: the HTTP service."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, settings_for


def run_server(settings) -> None:
    import uvicorn

    from riskmap.api.app import create_app

    typer.echo(f"riskmap 服务 / serving on http://{settings.host}:{settings.port}/  (Ctrl+C 停止)"
               + (f"，{settings.workers} 个进程 / {settings.workers} processes" if settings.workers > 1 else ""))
    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
        return
    # Worker processes build the app themselves from the environment: hand them these settings that way.
    os.environ.update(settings_environment(settings))
    uvicorn.run("riskmap.api.app:create_app", factory=True, workers=settings.workers, host=settings.host,
                port=settings.port, log_level="warning")


def settings_environment(settings) -> dict[str, str]:
    """The settings as RISKMAP_* variables (what Settings() reads back)."""
    out = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            out[f"RISKMAP_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def serve(
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    host: Annotated[str | None, typer.Option(help="监听地址 / host")] = None,
    port: Annotated[int | None, typer.Option(help="端口 / port")] = None,
    workers: Annotated[int | None, typer.Option(
        help="服务进程数（默认 1；多核机器上可设为核数）/ server processes (default 1; up to the core count)")] = None,
) -> None:
    """启动 HTTP 服务 / run the HTTP service."""
    run_server(settings_for(db, enterprise, host=host, port=port, workers=workers))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
