"""Database URLs and engines: SQLite (WAL, foreign keys, busy timeout) and PostgreSQL through psycopg 3.

Errors a user can cause (a bad URL, a folder that cannot be written, a server that does not answer, a
database without PostGIS) become RiskmapError with a message in Chinese then English.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.pool import StaticPool

from riskmap.errors import NotFoundError, RiskmapError
from riskmap.store import scope
from riskmap.store.types import loads
from riskmap.text import storable_parameters

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10

# Connection execution option: begin with a write lock (BEGIN IMMEDIATE on SQLite). Taking the lock at the
# start means a writer waits for another (busy timeout) instead of failing when it upgrades a read lock.
WRITE = "riskmap_write"


NO_DATA_HINT = ("先加载数据（riskmap demo，或 riskmap import-layout / import-ledger），或用 --db 指定已有的数据库",
                "load data first (riskmap demo, or riskmap import-layout / import-ledger), or name an existing "
                "database with --db")


class MissingDatabaseError(NotFoundError):
    """A command that only reads was pointed at a database that does not exist, or holds no riskmap data: it
    says so and creates nothing (no empty file left behind)."""


def _json_dumps(value: object) -> str:
    """JSON text as the COPY path writes it: Chinese stays readable in the database."""
    return json.dumps(value, ensure_ascii=False)


def normalise_url(url: str | URL) -> URL:
    """A SQLAlchemy URL for sqlite or PostgreSQL (psycopg 3); anything else is a RiskmapError."""
    text_url = str(url).strip() if not isinstance(url, URL) else None
    if text_url is not None and not text_url:
        raise RiskmapError("数据库地址为空 / the database URL is empty")
    try:
        parsed = url if isinstance(url, URL) else make_url(text_url)
    except ArgumentError:
        raise RiskmapError(
            f"无法识别的数据库地址 “{url}”，应为 sqlite:///文件.db 或 postgresql://用户@主机/库 / "
            f"cannot parse database URL {str(url)!r}: use sqlite:///file.db or postgresql://user@host/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise RiskmapError(
        f"不支持的数据库类型 “{parsed.drivername}”，只支持 SQLite 和 PostgreSQL(PostGIS) / "
        f"unsupported database {parsed.drivername!r}: only sqlite and postgresql are supported"
    )


def _storable_text(engine: Engine) -> None:
    """Every text parameter of every statement is made storable (riskmap.text.storable): interfaces refuse NUL and
    lone surrogates where users write text, and whatever still carries one (a lookup by a hostile id) then finds
    nothing on both backends instead of failing on PostgreSQL (NUL) or everywhere (surrogates)."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _clean(conn, cursor, statement, parameters, context, executemany):
        return statement, storable_parameters(parameters, many=executemany)


def display_url(url: URL) -> str:
    """The URL as shown to people and logs: the password is hidden."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: str | URL, create: bool = True) -> Engine:
    """An engine with riskmap's connection set-up; checks that the database can be reached and written.
    `create=False`: a SQLite file that does not exist is a MissingDatabaseError, and nothing is created."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create)
    return _postgresql_engine(parsed)


def is_memory_sqlite(url: URL) -> bool:
    """Whether the URL is an in-memory SQLite database, which lives only as long as its connection and so needs one
    shared connection.
    """
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL, create: bool = True) -> Engine:
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if is_memory_sqlite(url):
        kwargs["poolclass"] = StaticPool   # one shared connection, else every connection is a new empty DB
    else:
        path = Path(url.database).expanduser()
        if not create and not path.is_file():
            where = path.absolute()
            raise MissingDatabaseError(f"数据库 {where} 不存在。{NO_DATA_HINT[0]} / database {where} does not "
                                       f"exist: {NO_DATA_HINT[1]}")
        _prepare_sqlite_path(path)
        url = url.set(database=str(path.absolute()))
    engine = create_engine(url, json_serializer=_json_dumps, json_deserializer=loads,
                           **kwargs)
    _storable_text(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Transactions are begun by the "begin" hook below, not by the sqlite3 module's own guesswork.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not is_memory_sqlite(url):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        raise _sqlite_error(url, exc) from None
    return engine


def _prepare_sqlite_path(path: Path) -> None:
    if path.is_dir():
        raise RiskmapError(f"数据库路径 {path} 是一个文件夹，不是文件 / database path {path} is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RiskmapError(
            f"无法创建数据库所在的文件夹 {path.parent}：{exc.strerror or exc} / "
            f"cannot create the folder {path.parent} for the database: {exc.strerror or exc}"
        ) from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise RiskmapError(f"数据库文件 {path} 不可读写 / database file {path} cannot be read and written")
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise RiskmapError(f"无法在文件夹 {path.parent} 中创建数据库 / cannot create a database in {path.parent}")


def _sqlite_error(url: URL, exc: Exception) -> RiskmapError:
    orig = getattr(exc, "orig", exc)
    reason = str(orig) if isinstance(orig, sqlite3.Error) else str(exc)
    return RiskmapError(
        f"无法打开或写入 SQLite 数据库 {url.database}：{reason} / cannot open or write SQLite database "
        f"{url.database}: {reason}"
    )


def _postgresql_engine(url: URL) -> Engine:
    connect_args = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True, json_serializer=_json_dumps,
                           json_deserializer=loads)
    _storable_text(engine)
    scope.install(engine)      # every transaction carries the enterprises it may read (row-level security)
    where = display_url(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = _first_line(getattr(exc, "orig", exc))
        raise RiskmapError(
            f"无法连接 PostgreSQL 数据库 {where}：{reason}。请确认服务器已启动、地址和数据库名正确 / "
            f"cannot connect to PostgreSQL at {where}: {reason}. Check that the server runs and the URL is right"
        ) from None
    try:
        ensure_postgis(engine)
    except RiskmapError:
        engine.dispose()
        raise
    return engine


def ensure_postgis(engine: Engine) -> None:
    """PostGIS must be installed in the database; try to install it when it is not."""
    where = display_url(engine.url)
    with engine.connect() as conn:
        present = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
    if present:
        return
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except (ProgrammingError, OperationalError, DBAPIError) as exc:
        reason = _first_line(getattr(exc, "orig", exc))
        raise RiskmapError(
            f"数据库 {where} 没有 PostGIS 扩展，且无法安装（{reason}）。请由管理员安装 postgis 并执行 "
            f"CREATE EXTENSION postgis / database {where} lacks PostGIS and it could not be created ({reason}): "
            f"install the postgis package and run CREATE EXTENSION postgis as a superuser"
        ) from None


def _first_line(exc: object) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
