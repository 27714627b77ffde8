"""Helpers shared by the store's rooms (layouts, ledgers, editing, flags, history, binding): SQL building blocks
and the checks every write makes. Public names, no Store: the rooms import this module, and the Store facade
(riskmap.store.repository) imports the rooms, so nothing imports in a loop.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import LargeBinary, Text, and_, cast, func, insert, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from riskmap.domain import Enterprise
from riskmap.errors import InputError, NotFoundError, no_enterprise
from riskmap.geo.model import ROLES
from riskmap.store.schema import DataVersionRow, EnterpriseRow
from riskmap.store.types import Data, LonLatGeometry, encode_wkb, loads, to_json, utcnow
from riskmap.text import storable_parameters

# Rows per INSERT batch; the whole save is still one transaction.
CHUNK_ROWS = 5000
MAX_NAME = 200


@dataclass
class Writing:
    """An open writing transaction of one enterprise; `data_version` is the version it will commit.

    At the end of the transaction the map snapshot (riskmap.store.mapdata) is refreshed in it, so that tiles
    never show a state other than the committed one; a writer that changes neither layout nor units may set
    `refresh_map` to False.
    """

    session: Session
    enterprise_id: int
    data_version: int
    refresh_map: bool = True
    map_change: Any = None          # the mapdata.MapChange written at the end
    units: list | None = None       # the complete current unit tree when the writer has it (saves a re-read)
    units_disposable: bool = False  # `units` were made for this transaction only: the map may change them
    features: Any = None            # the current layout as read after the transaction's last layout write
    change_id: int | None = None    # the audit row (`changes`) of this transaction, once written
    enterprise_name: str = ""
    edit_tag: int | None = None     # the new row id of a one-item write (edit_unit)
    delta: Any = None               # mapupdate.MapDelta, filled by `touch` (the Store gives it with `plant`)
    plant: Any = None               # mapupdate.PlantMap of the version before, when the Store holds it
    tracked: bool = False           # the writer names all it changes (`track`): the map is updated, not rebuilt

    def track(self) -> None:
        """Declare that this writer names, with `touch`, every unit, feature and flag it changes; a writer that
        does not (a new ledger, a new drawing) gets the whole map snapshot rebuilt."""
        self.tracked = True

    def touch(self, units: Iterable[str] = (), fids: Iterable[str] = (), raised: Iterable[tuple[str, str]] = (),
              cleared: Iterable[tuple[str, str]] = ()) -> None:
        """Name what this transaction changed, for the incremental map refresh (no-op for a full one): units and
        layout features written, open flags (unit code, reason code) raised and cleared."""
        if self.delta is not None:
            self.delta.units.update(str(c) for c in units)
            self.delta.fids.update(str(f) for f in fids)
            for code, reason in raised:
                self.delta.flags.append((str(code), reason, True))
            for code, reason in cleared:
                self.delta.flags.append((str(code), reason, False))


def wkb_of(dialect: str, column):
    """A geometry column as WKB bytes in a SELECT."""
    if dialect == "postgresql":
        return func.ST_AsBinary(column, type_=LargeBinary)
    return type_coerce(column, LargeBinary)


def json_text(dialect: str, column):
    """A JSON column as text in a SELECT (decoded by `decode_json`)."""
    if dialect == "postgresql":
        return cast(column, Text)
    return type_coerce(column, Text)


def enterprise_id(s: Session, name: str, create: bool, missing_ok: bool = False) -> int | None:
    """The id of the enterprise of that name: created (with its data version) when missing and `create`;
    None when missing and `missing_ok`; else NotFoundError."""
    if not create:
        found_name = enterprise_name_to_find(name)
        found = None if found_name is None else s.execute(
            select(EnterpriseRow.id).where(EnterpriseRow.name == found_name)).scalar_one_or_none()
        if found is not None:
            return found

        if missing_ok:
            return None
        raise no_enterprise(name)
    name = clean_enterprise_name(name)
    found = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one_or_none()
    if found is not None:
        return found
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    # Another writer may be creating the same enterprise: do nothing on conflict, then read it back.
    s.execute(ins(EnterpriseRow).values(name=name, created_at=now).on_conflict_do_nothing())
    ent_id = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
    s.execute(ins(DataVersionRow).values(enterprise_id=ent_id, version=0, updated_at=now)
              .on_conflict_do_nothing())
    return ent_id


@contextmanager
def paused_gc() -> Iterator[None]:
    """Build many small objects without the cyclic GC re-scanning them all: reading a 5,000-unit tree
    took 3 times longer with it on. Nothing here makes cycles; collection resumes at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def bump(s: Session, ent_id: int) -> int:
    """Raise the enterprise's data version by one and return it; whatever was cached under the old version is then known
    to be stale.
    """
    return s.execute(
        update(DataVersionRow).where(DataVersionRow.enterprise_id == ent_id)
        .values(version=DataVersionRow.version + 1, updated_at=utcnow()).returning(DataVersionRow.version)
    ).scalar_one()


def insert_chunk(s: Session, model: type, rows: list[dict], returning: bool) -> list[int]:
    """One INSERT batch (also the seam where the atomicity tests break a save half-way)."""
    if not rows:
        return []
    if returning:
        return list(s.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows).scalars())
    if s.get_bind().dialect.name == "postgresql":
        copy_rows(s, model.__table__, rows)
    else:
        s.execute(insert(model.__table__), rows)
    return []


@contextmanager
def copy_in(s: Session, table: str, names: list[str]) -> Iterator[Any]:
    """A psycopg COPY … FROM STDIN into `table`'s columns `names`, inside the session's transaction.

    PostgreSQL refuses COPY FROM into a table whose row-level security applies to the current role (the service's
    own role, riskmap.store.scope): then the rows are copied into a temporary table and moved with one INSERT …
    SELECT, which the policies check like any other insert."""
    columns = ", ".join(names)
    dbapi = s.connection().connection.dbapi_connection
    with dbapi.cursor() as cur:
        cur.execute("SELECT row_security_active(%s::regclass)", (table,))
        if not cur.fetchone()[0]:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                yield copy
            return
        stage = f"riskmap_copy_{table}"
        cur.execute(f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA")
        with cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            yield copy
        cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")
        cur.execute(f"DROP TABLE {stage}")


def copy_rows(s: Session, table: Any, rows: list[dict]) -> None:
    """COPY into PostgreSQL, inside the session's transaction: about twice as fast as batched INSERTs.

    Geometry arrives as hex EWKB (which PostGIS reads as text), JSON columns are serialised as `Data` would, text
    is made storable as the engine does for every other statement (riskmap.text).
    """
    names = list(rows[0])
    columns = [table.c[n] for n in names]
    json_cols = [i for i, c in enumerate(columns) if isinstance(c.type, Data)]
    geom_cols = [i for i, c in enumerate(columns) if isinstance(c.type, LonLatGeometry)]
    with copy_in(s, table.name, names) as copy:
        for row in rows:
            values = [row[n] for n in names]
            for i in json_cols:
                if values[i] is not None:
                    values[i] = json.dumps(to_json(values[i]), ensure_ascii=False)
            for i in geom_cols:
                if values[i] is not None and not isinstance(values[i], str):
                    values[i] = encode_wkb([values[i]], "postgresql")[0]
            copy.write_row(storable_parameters(values))


def insert_plain(s: Session, model: type, rows: list[dict]) -> None:
    """INSERT rows that give every column they need (no column defaults applied) as one executemany of the
    driver, each distinct value bound once through its column type (a flag row per unit shares its time and
    detail): the ORM's per-row processing cost more than SQLite's insert on an accident's 100,000 rows. COPY on
    PostgreSQL, as insert_rows."""
    if not rows:
        return
    if s.get_bind().dialect.name == "postgresql":
        insert_rows(s, model, rows)
        return
    table = model.__table__
    names = list(rows[0])
    dialect = s.get_bind().dialect
    processors = [table.c[n].type.bind_processor(dialect) for n in names]
    memo: list[dict[int, tuple[Any, Any]]] = [{} for _ in names]
    params = []
    for row in rows:
        values = []
        for i, name in enumerate(names):
            value = row[name]
            if value is not None and processors[i] is not None:
                hit = memo[i].get(id(value))
                if hit is None or hit[0] is not value:
                    bound = processors[i](value)
                    if isinstance(bound, datetime):        # as sqlite3's own adapter writes it, once
                        bound = bound.isoformat(" ")
                    hit = (value, bound)
                    memo[i][id(value)] = hit      # the value is kept alive with it: ids are not reused
                value = hit[1]
            values.append(value)
        params.append(tuple(values))
    marks = ", ".join("?" for _ in names)
    s.connection().exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", params)


def insert_rows(s: Session, model: type, rows: list[dict], returning: bool = False) -> list[int]:
    """Insert rows in chunks (backends limit bound parameters per statement); with ``returning``, their new ids in
    order.
    """
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        ids.extend(insert_chunk(s, model, rows[start:start + CHUNK_ROWS], returning))
    return ids


def analyze(engine, rows_written: int, *models: type, threshold: int = 1000) -> None:
    """Refresh PostgreSQL's statistics after a big write, so that the first reads after an import get good plans
    (autovacuum comes later; with empty statistics a 5,000-unit tree took 1.5 s to read)."""
    if engine.dialect.name != "postgresql" or rows_written < threshold:
        return
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for model in models:
                conn.exec_driver_sql(f"ANALYZE {model.__tablename__}")
    except (OperationalError, DBAPIError):
        pass   # statistics are an optimisation; the data is already committed


def next_number(s: Session, model: type, ent_id: int) -> int:
    """The next version number for the enterprise in ``model``: one past the highest, 1 for the first."""
    current = s.execute(select(func.max(model.number)).where(model.enterprise_id == ent_id)).scalar_one()
    return (current or 0) + 1


def check_version(s: Session, model: type, ent_id: int, version: int | None, zh: str, en: str) -> int | None:
    """``version`` checked to be an existing version number of ``model`` (None passes); else InputError or
    NotFoundError, named with ``zh``/``en``.
    """
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)):
        raise InputError(f"{zh}版本号应为整数，而不是 “{version}” / {en} version must be an integer, not {version!r}")
    found = s.execute(select(model.number).where(model.enterprise_id == ent_id, model.number == int(version))).first()
    if found is None:
        raise NotFoundError(f"没有第 {version} 版{zh} / there is no {en} version {version}")
    return int(version)


def valid(model: type, number: int | None):
    """Rows of the current version (number None) or as they were at version `number`."""
    if number is None:
        return model.valid_to.is_(None)
    return and_(model.valid_from <= number, or_(model.valid_to.is_(None), model.valid_to > number))


def required_text(value: Any, limit: int, zh: str, en: str) -> str:
    """A name or an id as stored: stripped, not empty, at most `limit` characters, no NUL (else InputError)."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError(f"{zh}不能为空 / the {en} is empty")
    if len(text) > limit:
        raise InputError(f"{zh}过长（最多 {limit} 字）/ the {en} is longer than {limit}")
    if "\x00" in text:
        raise InputError(f"{zh}含有非法字符 / the {en} contains a NUL character")
    return text


def clean_enterprise_name(name: str) -> str:
    """An enterprise name as stored (required_text, MAX_NAME characters)."""
    return required_text(name, MAX_NAME, "企业名称", "enterprise name")


def enterprise_name_to_find(name: str) -> str | None:
    """A looked-up name as it would be stored; None when no stored enterprise can bear it (empty, too long, a
    NUL): the lookup then finds nothing, as for any other name the database lacks."""
    try:
        return clean_enterprise_name(name)
    except InputError:
        return None


def enterprise_of(row: EnterpriseRow) -> Enterprise:
    """The enterprise domain object from its row."""
    return Enterprise(id=str(row.id), name=row.name, short_name=row.short_name,
                      supervision_phone=row.supervision_phone, report_phone=row.report_phone,
                      emergency_phone=row.emergency_phone)


def clean_text(value: Any) -> str | None:
    """Text for a column: None and NaN stay None; NUL characters (which PostgreSQL refuses) are dropped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).replace("\x00", "")


def checked_roles(roles: Iterable[str] | None) -> list[str] | None:
    """The role filter checked against the known feature roles (a single string is allowed); unknown roles raise
    InputError.
    """
    if roles is None:
        return None
    roles = [roles] if isinstance(roles, str) else list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InputError(f"未知的要素角色 {', '.join(map(str, unknown))}，可选：{', '.join(ROLES)} / unknown feature "
                         f"role(s) {unknown}; allowed: {', '.join(ROLES)}")
    return roles


def checked_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """A bounding box checked to be four finite numbers with min <= max; otherwise InputError."""
    if bbox is None:
        return None
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[0] > values[2] \
            or values[1] > values[3]:
        raise InputError(f"范围应为 最小经度,最小纬度,最大经度,最大纬度，而不是 {bbox!r} / bbox must be "
                         f"minlon, minlat, maxlon, maxlat with min ≤ max, not {bbox!r}")
    return values


def from_wkb(values: list) -> np.ndarray:
    """Shapely geometries from WKB values (any bytes-like, None kept), decoded in one vectorised call."""
    arr = np.array([None if v is None else bytes(v) for v in values], dtype=object)
    return shapely.from_wkb(arr)


def decode_json(text: str | None) -> Any:
    """JSON text parsed with the store's loader; None stays None."""
    if text is None:
        return None
    return loads(text)


def is_connection_problem(exc: Exception) -> bool:
    """OperationalError is the environment (lock timeout, lost server, disk); other DBAPI errors are bugs."""
    return isinstance(exc, OperationalError) or bool(getattr(exc, "connection_invalidated", False))


def reason_of(exc: Exception) -> str:
    """The first line of a database error's message, short enough to show inside a bilingual error."""
    orig = getattr(exc, "orig", exc)
    lines = [line for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def same_geometry(a: Any, b: Any) -> bool:
    """Two stored geometries are the same shape, vertex for vertex (None only equals None)."""
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(a, b, tolerance=0))
