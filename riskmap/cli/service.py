"""`riskmap serve`: the HTTP service; `riskmap db migrate|grant`: the database it runs on.

The listening socket is made here, before uvicorn runs: a port out of range or already in use is a one-line
error and exit 1, and the address is printed only once something listens on it (uvicorn would wrap a port
above 65535 around, and print nothing useful when the port is taken).
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, settings_for
from riskmap.errors import InputError

PORT_RANGE = (1, 65535)
BACKLOG = 2048          # uvicorn's default


def check_port(port: int) -> int:
    """The port, checked to be in range, so a bad one is a clear InputError and not a socket error."""
    if isinstance(port, bool) or not isinstance(port, int) or not PORT_RANGE[0] <= port <= PORT_RANGE[1]:
        raise InputError(f"端口应为 {PORT_RANGE[0]}–{PORT_RANGE[1]}，得到 {port} / the port must be "
                         f"{PORT_RANGE[0]}–{PORT_RANGE[1]}, not {port}")
    return port


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening; InputError when that cannot be (in use, no right, no such
    address)."""
    check_port(port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"无法识别监听地址 “{host}”：{exc.strerror} / cannot resolve the host {host!r}: "
                         f"{exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn: restart without waiting
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"端口 {port} 已被占用（{host}），请用 --port 换一个端口 / port {port} on {host} is "
                             "already in use: choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise InputError(f"没有权限监听端口 {port}（1024 以下的端口需要 root）/ no permission to listen on port "
                             f"{port} (ports below 1024 need root)") from None
        raise InputError(f"无法监听 {host}:{port}：{exc.strerror or exc} / cannot listen on {host}:{port}: "
                         f"{exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def display_address(host: str, port: int) -> str:
    """The address to show for host and port (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


# uvicorn's options: warnings and errors only, and no access log (at level warning it was never printed, yet
# each request still formatted the client's address and the URL for it); no `Server: uvicorn` header (it tells
# a stranger what runs here, and a front cache parses it again for every tile it answers from its cache).
# The HTTP protocol is uvicorn's httptools one answering known versioned tiles without an ASGI request
# (riskmap.api.tileprotocol).
SERVER_OPTIONS = {"log_level": "warning", "access_log": False, "server_header": False,
                  "http": "riskmap.api.tileprotocol:TileProtocol"}


def served_app(settings=None):
    """The app as `riskmap serve` runs it: behind the cached-tile fast path as its outermost layer, with the heap
    it starts with settled (settle_heap); the factory each worker process calls."""
    from riskmap.api.app import create_app
    from riskmap.api.routers.tiles import wrap_fast_path

    app = wrap_fast_path(create_app(settings))
    settle_heap()
    return app


def worker_count(settings) -> int:
    """The server processes to run: `settings.workers`, or one per core this process may run on."""
    if settings.workers:
        return settings.workers
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                     # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 64))


def run_server(settings) -> None:
    """Serve the app with uvicorn until stopped: one process, or several (`worker_count`) sharing one listening
    socket."""
    import uvicorn

    check_port(settings.port)
    workers = worker_count(settings)
    sock = listen_socket(settings.host, settings.port)
    address = display_address(settings.host, settings.port)

    def announce() -> None:
        typer.echo(f"riskmap 服务 / serving on {address}  (Ctrl+C 停止)"
                   + (f"，{workers} 个进程 / {workers} processes" if workers > 1 else ""))

    try:
        if workers == 1:
            config = uvicorn.Config(served_app(settings), host=settings.host, port=settings.port, **SERVER_OPTIONS)
            _announcing_server(config, announce).run(sockets=[sock])
            return
        from uvicorn.supervisors import Multiprocess

        # Worker processes build the app themselves from the environment: hand them these settings that way.
        os.environ.update(settings_environment(settings))
        config = uvicorn.Config("riskmap.cli.service:served_app", factory=True, workers=workers,
                                host=settings.host, port=settings.port, **SERVER_OPTIONS)
        announce()     # the socket listens already: connections wait in its queue until a worker takes them
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


# Imported by the first tile request anyway: imported before the heap is frozen, so their objects are frozen too.
SERVED_MODULES = ("riskmap.store.repository", "riskmap.render.tilecache", "riskmap.render.tiledata",
                  "riskmap.render.hazardtiles", "riskmap.render.png", "riskmap.render.mvt")


def settle_heap() -> None:
    """Leave the objects a server process holds from its start (modules, the app: some 250,000) out of Python's
    cyclic garbage collector (gc.freeze). A full collection walks every tracked object with the event loop stopped:
    under 200 tile readers it came every few seconds and took ~150 ms of CPU (0.4–0.9 s of wall time on a busy
    machine), longer than the goal for a tile's p99; with the start frozen it takes ~15–25 ms. Only a serving
    process does this: the objects frozen stay for its life, as they would anyway."""
    import gc
    import importlib

    for name in SERVED_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()



def _announcing_server(config, announce):
    """uvicorn's server, saying where it serves once it has started serving."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                announce()

    return AnnouncingServer(config)


def settings_environment(settings) -> dict[str, str]:
    """The settings given (by the environment, options or arguments) as RISKMAP_* variables, for Settings() to read
    back in each worker process; defaults stay defaults there (an unset RISKMAP_BASE_URL means "the address each
    request came to", which a default written out would turn into http://127.0.0.1:8000)."""
    out = {}
    for name, value in settings.model_dump(exclude_unset=True).items():
        if value is not None:
            out[f"RISKMAP_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def serve(
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    host: Annotated[str | None, typer.Option(help="监听地址 / host")] = None,
    port: Annotated[int | None, typer.Option(help="端口 1–65535 / port")] = None,
    workers: Annotated[int | None, typer.Option(
        help="服务进程数（默认每个 CPU 核一个）/ server processes (default: one per core)")] = None,
) -> None:
    """启动 HTTP 服务 / run the HTTP service."""
    from riskmap.store import open_store

    if port is not None:
        check_port(port)
    settings = settings_for(db, enterprise, host=host, port=port, workers=workers)
    open_store(settings.db, create=False).close()      # a missing database is an error, not an empty map
    run_server(settings)


db_app = typer.Typer(help="数据库：迁移、服务角色 / the database: migrations, the service's role", no_args_is_help=True)


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """迁移到最新结构（以表的所有者运行）/ migrate to the newest schema (run as the tables' owner)."""
    from riskmap.store import migrate

    settings = settings_for(db, None)
    typer.echo(f"数据库结构版本 / schema revision: {migrate(settings.db)}")


@db_app.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="服务连接所用的角色 / the role the service connects as")],
    owner: Annotated[str, typer.Option(help="表的所有者（运行迁移的角色）/ the tables' owner (who migrates)")],
    password_env: Annotated[str | None, typer.Option(
        help="从此环境变量读取新角色的密码 / read the new role's password from this environment variable")] = None,
    db: DbOption = None,
) -> None:
    """创建服务角色（非超级用户、非表所有者，受行级安全约束）并授予读写行的权限 / create the service's role (neither
    superuser nor owner, so row-level security binds it) and grant it row access. Run as an administrator or as the
    owner with CREATEROLE; safe to run again."""
    from sqlalchemy.exc import DBAPIError

    from riskmap.store.engine import create_store_engine, display_url
    from riskmap.store.roles import checked_role, grant_service_role

    settings = settings_for(db, None)
    checked_role(role)
    checked_role(owner)
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(f"环境变量 {password_env} 未设置或为空 / environment variable {password_env} is not set "
                             f"or empty")
    if not settings.db.startswith(("postgresql", "postgres")):
        raise InputError("只有 PostgreSQL 有服务角色（SQLite 的隔离由代码中的过滤完成）/ only PostgreSQL has a "
                         "service role (on SQLite isolation is the code's own filter)")
    engine = create_store_engine(settings.db)
    try:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            grant_service_role(conn, role, owner, password=password)
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise InputError(f"无法创建或授权角色 {role}：{reason} / cannot create or grant role {role}: "
                         f"{reason}") from None
    finally:
        engine.dispose()
    typer.echo(f"角色 {role} 可读写 {display_url(engine.url)} 的数据行（受行级安全约束）/ role {role} may read and "
               f"write rows of {display_url(engine.url)}, bound by row-level security")


def register(app: typer.Typer) -> None:
    """Add the serve and db commands to the app."""
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
