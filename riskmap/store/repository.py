"""The one storage interface: `Store`, the same on SQLite and PostGIS.

Each write is one transaction that also bumps the enterprise's data version; a failure or a killed process
leaves the previous state as it was. Nothing is deleted: a new layout or ledger version retires the current
rows (see riskmap.store.schema), and earlier versions stay readable with `version=`.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, LargeBinary, Text, and_, cast, func, insert, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from riskmap.domain import AssessmentUnit, Enterprise, Region, RiskEvent, UnitKind, UnitTree
from riskmap.errors import InputError, NotFoundError, RiskmapError
from riskmap.geo.model import ROLES, LayoutImport
from riskmap.levels import Level
from riskmap.store import codec, mapdata
from riskmap.store.engine import WRITE, create_store_engine, display_url
from riskmap.store.schema import (
    DataVersionRow,
    EnterpriseRow,
    LayoutFeatureRow,
    LayoutVersionRow,
    LedgerVersionRow,
    RiskEventRow,
    UnitRow,
)
from riskmap.store.types import SRID, Data, LonLatGeometry, encode_wkb, loads, to_json, utcnow
from riskmap.store.upgrade import migrate
from riskmap.text import storable_parameters

# Rows per INSERT batch; the whole save is still one transaction.
CHUNK_ROWS = 5000
# Rows written after which PostgreSQL statistics are refreshed.
ANALYZE_ROWS = 1000
FEATURE_COLUMNS = ["id", "fid", "name", "role", "layer", "properties", "geometry"]
MAX_NAME = 200


class StoreError(RiskmapError):
    """The database failed (locked too long, disk full, server gone): not the user's data."""

    http_status = 503


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


class Store:
    """Enterprises, layouts, unit trees and regions, on SQLite or PostGIS."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_engine = engine.execution_options(**{WRITE: True})
        if self.dialect == "postgresql":
            # One snapshot for all the statements of a read (e.g. features and units for regions).
            self._read_engine = engine.execution_options(isolation_level="REPEATABLE READ",
                                                         postgresql_readonly=True)
        else:
            self._read_engine = engine

    # ------------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str | URL) -> Store:
        """Open (creating if needed) and migrate to the newest schema."""
        engine = create_store_engine(url)
        try:
            migrate(engine)
        except RiskmapError:
            engine.dispose()
            raise
        except (OperationalError, DBAPIError) as exc:
            engine.dispose()
            raise StoreError(f"数据库 {display_url(engine.url)} 无法升级：{_reason(exc)} / cannot migrate "
                             f"database {display_url(engine.url)}: {_reason(exc)}") from None
        return cls(engine)

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def backend(self) -> str:
        """The backend's name, "sqlite" or "postgis" (shown by /healthz)."""
        return "postgis" if self.dialect == "postgresql" else "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({display_url(self.engine.url)!r})"

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed at the end when `write`, rolled back otherwise.

        A writing session takes the write lock at its start (SQLite: BEGIN IMMEDIATE). Code that changes an
        enterprise's data should use `transaction(name)`, which also bumps the data version.
        """
        engine = self._write_engine if write else self._read_engine
        try:
            with Session(bind=engine, expire_on_commit=False, autoflush=False) as s:
                if write:
                    with s.begin():
                        yield s
                else:
                    try:
                        yield s
                    finally:
                        s.rollback()
        except (OperationalError, DBAPIError) as exc:
            if not _is_connection_problem(exc):
                raise
            raise StoreError(f"数据库操作失败：{_reason(exc)} / database operation failed: {_reason(exc)}") \
                from None

    @contextmanager
    def transaction(self, enterprise_name: str, create: bool = True) -> Iterator[Writing]:
        """A writing transaction of one enterprise, with its data version already bumped inside it and the map
        snapshot refreshed at its end (inside it too)."""
        with self.session(write=True) as s:
            ent_id = self._enterprise_id(s, enterprise_name, create=create)
            writing = Writing(s, ent_id, _bump(s, ent_id), enterprise_name=_enterprise_name(enterprise_name))
            yield writing
            if writing.refresh_map:
                writing.map_change = self._refresh_map(writing, enterprise_name)

    # ------------------------------------------------------------------------------------------ enterprises

    def enterprise(self, name: str, create: bool = True) -> Enterprise:
        """The enterprise of that name; created when missing unless `create` is False (then NotFoundError)."""
        name = _enterprise_name(name)
        with self.session() as s:
            row = s.execute(select(EnterpriseRow).where(EnterpriseRow.name == name)).scalar_one_or_none()
            if row is not None:
                return _enterprise(row)
        if not create:
            raise NotFoundError(f"没有名为 “{name}” 的企业 / no enterprise named {name!r}")
        from riskmap.store import editing

        with self.transaction(name) as w:
            editing.record_change(w, "enterprise.create", None, [], None, None, None)
            return _enterprise(w.session.get(EnterpriseRow, w.enterprise_id))

    def enterprises(self) -> list[Enterprise]:
        with self.session() as s:
            return [_enterprise(r) for r in s.execute(select(EnterpriseRow).order_by(EnterpriseRow.id)).scalars()]

    def update_enterprise(self, enterprise: Enterprise) -> Enterprise:
        """Write names and phones. The enterprise is found by `id` (a rename) or else by `name`."""
        from riskmap.store import editing

        name = _enterprise_name(enterprise.name)
        with self.session(write=True) as s:
            row = None
            if str(enterprise.id).isdigit():
                row = s.get(EnterpriseRow, int(enterprise.id))
            if row is None:
                row = s.execute(select(EnterpriseRow).where(EnterpriseRow.name == name)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"没有编号为 {enterprise.id} 或名为 “{name}” 的企业 / no enterprise with id "
                                    f"{enterprise.id!r} or name {name!r}")
            if name != row.name and s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).first():
                raise InputError(f"已有名为 “{name}” 的企业 / an enterprise named {name!r} already exists")
            old = _enterprise(row)
            row.name = name
            for attr in ("short_name", "supervision_phone", "report_phone", "emergency_phone"):
                setattr(row, attr, _clean_text(getattr(enterprise, attr)))
            s.flush()
            new = _enterprise(row)
            changed = [f for f in ("name", "short_name", "supervision_phone", "report_phone", "emergency_phone")
                       if getattr(old, f) != getattr(new, f)]
            editing.record_change(Writing(s, row.id, _bump(s, row.id)), "enterprise.update", None, [], None, None,
                                  {"fields": changed})
            return new

    def data_version(self, enterprise_name: str) -> int:
        """Bumped by every write of the enterprise; 0 for an enterprise not stored."""
        with self.session() as s:
            found = s.execute(
                select(DataVersionRow.version)
                .join(EnterpriseRow, EnterpriseRow.id == DataVersionRow.enterprise_id)
                .where(EnterpriseRow.name == _enterprise_name(enterprise_name))
            ).scalar_one_or_none()
        return found or 0

    # ------------------------------------------------------------------------------------------ layouts

    def save_layout(self, enterprise_name: str, layout: LayoutImport, author: str | None = None,
                    note: str | None = None) -> int:
        """Store an imported layout as the enterprise's new current layout version; returns its number."""
        from riskmap.store import editing

        gdf = _layout_frame(layout)
        rows = _feature_rows(gdf, self.dialect)   # encoded before the write lock is taken
        _guarantee_fids(rows)
        with self.transaction(enterprise_name) as w:
            s = w.session
            number = _next_number(s, LayoutVersionRow, w.enterprise_id)
            version = LayoutVersionRow(
                enterprise_id=w.enterprise_id, number=number, created_at=utcnow(), action="import",
                source_name=_clean_text(layout.source_name), source_format=_clean_text(layout.source_format),
                crs=_clean_text(layout.crs), georeferenced=bool(layout.georeferenced),
                report=_layout_report(layout), note=_clean_text(note), author=_clean_text(author),
                feature_count=len(gdf),
            )
            s.add(version)
            s.flush()
            s.execute(update(LayoutFeatureRow)
                      .where(LayoutFeatureRow.enterprise_id == w.enterprise_id, LayoutFeatureRow.valid_to.is_(None))
                      .values(valid_to=number))
            keys = {"enterprise_id": w.enterprise_id, "layout_version_id": version.id, "valid_from": number,
                    "valid_to": None}
            for row in rows:
                row.update(keys)
            _insert_rows(s, LayoutFeatureRow, rows)
            editing.record_change(w, "layout.import", "layout", [], author, note, {
                "source": _clean_text(layout.source_name), "features": len(rows),
                "bbox": _rows_bbox(rows)})
        self._analyze(len(gdf), LayoutFeatureRow)
        return number

    def layout_features(self, enterprise_name: str, roles: Iterable[str] | None = None,
                        bbox: Sequence[float] | None = None, version: int | None = None) -> gpd.GeoDataFrame:
        """Features of the current (or a given) layout version, in EPSG:4326.

        `bbox` (minlon, minlat, maxlon, maxlat) keeps the features whose geometry intersects it, boundary
        included; the filtering runs in SQL (bbox columns on SQLite, the GiST index on PostGIS).
        """
        roles = _roles(roles)
        box = _bbox(bbox)
        with self.session() as s:
            return self._features(s, enterprise_name, roles, box, version)

    def _features(self, s: Session, enterprise_name: str, roles: list[str] | None,
                  box: tuple[float, float, float, float] | None, version: int | None) -> gpd.GeoDataFrame:
        ent_id = self._enterprise_id(s, enterprise_name, create=False, missing_ok=True)
        if ent_id is None:
            return _empty_features()
        cond = [LayoutFeatureRow.enterprise_id == ent_id,
                _valid(LayoutFeatureRow, self._layout_number(s, ent_id, version))]
        if roles is not None:
            cond.append(LayoutFeatureRow.role.in_(roles))
        if box is not None:
            cond.append(self._bbox_condition(box))
        # Core rows (no ORM identity work), JSON as text decoded below: the hot path of tiles and maps.
        with _paused_gc():
            rows = s.connection().execute(
                select(LayoutFeatureRow.id, LayoutFeatureRow.fid, LayoutFeatureRow.name, LayoutFeatureRow.role,
                       LayoutFeatureRow.layer, self._json_text(LayoutFeatureRow.properties),
                       self._wkb(LayoutFeatureRow.geometry))
                .where(*cond).order_by(LayoutFeatureRow.id)
            ).all()
            gdf = _features_frame(rows)
        if box is not None and self.dialect != "postgresql" and len(gdf):
            # The bbox columns found candidates; keep those that truly intersect, as ST_Intersects does.
            gdf = gdf[shapely.intersects(gdf.geometry.values, shapely.box(*box))].reset_index(drop=True)
        return gdf

    def layout_info(self, enterprise_name: str) -> dict | None:
        """The current layout version's record, or None when the enterprise has no layout."""
        versions = self._layout_versions(enterprise_name, latest=True)
        return versions[0] if versions else None

    def layout_versions(self, enterprise_name: str) -> list[dict]:
        """Every layout version, newest first."""
        return self._layout_versions(enterprise_name, latest=False)

    def _layout_versions(self, enterprise_name: str, latest: bool) -> list[dict]:
        with self.session() as s:
            q = (select(LayoutVersionRow).join(EnterpriseRow, EnterpriseRow.id == LayoutVersionRow.enterprise_id)
                 .where(EnterpriseRow.name == _enterprise_name(enterprise_name))
                 .order_by(LayoutVersionRow.number.desc()))
            if latest:
                q = q.limit(1)
            return [_layout_version_info(r) for r in s.execute(q).scalars()]

    # ------------------------------------------------------------------------------------------ ledgers

    def save_units(self, enterprise_name: str, units: Sequence[AssessmentUnit], source: str | None = None,
                   default_profile: str | None = None, author: str | None = None,
                   note: str | None = None) -> int:
        """Store the unit tree (with events and their evaluations) as the new current ledger version."""
        units = list(units)
        try:
            UnitTree(units)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        # Everything encoded before the write lock is taken.
        unit_rows = [codec.unit_row(u, i) for i, u in enumerate(units)]
        geoms = encode_wkb([u.geometry for u in units], self.dialect) if units else []
        for row, geom in zip(unit_rows, geoms, strict=True):
            row["geometry"] = geom
        from riskmap.store import editing, flags

        events_of_unit = [[codec.event_row(ev, pos) for pos, ev in enumerate(u.events)] for u in units]
        event_count = sum(len(evs) for evs in events_of_unit)
        with self.transaction(enterprise_name) as w:
            s = w.session
            number = _next_number(s, LedgerVersionRow, w.enterprise_id)
            version = LedgerVersionRow(
                enterprise_id=w.enterprise_id, number=number, created_at=utcnow(), action="import",
                source=_clean_text(source), default_profile=_clean_text(default_profile), note=_clean_text(note),
                author=_clean_text(author), unit_count=len(units), event_count=event_count,
            )
            s.add(version)
            s.flush()
            s.execute(update(UnitRow)
                      .where(UnitRow.enterprise_id == w.enterprise_id, UnitRow.valid_to.is_(None))
                      .values(valid_to=number))
            keys = {"enterprise_id": w.enterprise_id, "ledger_version_id": version.id, "valid_from": number,
                    "valid_to": None}
            for row in unit_rows:
                row.update(keys)
            unit_ids = _insert_rows(s, UnitRow, unit_rows, returning=True)
            event_rows = []
            for evs, unit_id in zip(events_of_unit, unit_ids, strict=True):
                for row in evs:
                    row.update(enterprise_id=w.enterprise_id, unit_id=unit_id)
                    event_rows.append(row)
            _insert_rows(s, RiskEventRow, event_rows)
            w.units = units             # exactly what was written (the codec round trip is exact)
            editing.record_change(w, "ledger.import", "units", [], author, note, {
                "source": _clean_text(source), "units": len(units), "events": event_count})
            flags.after_ledger_import(self, w, units)
        self._analyze(len(units) + event_count, UnitRow, RiskEventRow)
        return number

    def units(self, enterprise_name: str, version: int | None = None) -> list[AssessmentUnit]:
        """The unit tree of the current (or a given) ledger version, in ledger order."""
        with self.session() as s:
            return self._units(s, enterprise_name, version)

    def _units(self, s: Session, enterprise_name: str, version: int | None) -> list[AssessmentUnit]:
        with _paused_gc():
            return self._units_unpaused(s, enterprise_name, version)

    def _units_unpaused(self, s: Session, enterprise_name: str, version: int | None) -> list[AssessmentUnit]:
        ent_id = self._enterprise_id(s, enterprise_name, create=False, missing_ok=True)
        if ent_id is None:
            return []
        cond = [UnitRow.enterprise_id == ent_id, _valid(UnitRow, self._ledger_number(s, ent_id, version))]
        units, events_t = UnitRow.__table__, RiskEventRow.__table__
        conn = s.connection()   # Core rows: no ORM identity work, geometry decoded in one vectorized call
        unit_rows = conn.execute(
            select(*[c for c in units.c if c.name != "geometry"], self._wkb(units.c.geometry).label("wkb"))
            .where(*cond).order_by(units.c.position, units.c.id)
        ).all()
        event_rows = conn.execute(
            select(*events_t.c).join(units, units.c.id == events_t.c.unit_id).where(*cond)
            .order_by(events_t.c.unit_id, events_t.c.position)
        ).all()
        events: dict[int, list[RiskEvent]] = {}
        for ev in event_rows:
            events.setdefault(ev.unit_id, []).append(codec.event_from_row(ev))
        geometries = _from_wkb([r.wkb for r in unit_rows])
        return [codec.unit_from_row(r, g, events.get(r.id, []))
                for r, g in zip(unit_rows, geometries, strict=True)]

    def ledger_info(self, enterprise_name: str) -> dict | None:
        versions = self._ledger_versions(enterprise_name, latest=True)
        return versions[0] if versions else None

    def ledger_versions(self, enterprise_name: str) -> list[dict]:
        """Every ledger version, newest first."""
        return self._ledger_versions(enterprise_name, latest=False)

    def _ledger_versions(self, enterprise_name: str, latest: bool) -> list[dict]:
        with self.session() as s:
            q = (select(LedgerVersionRow).join(EnterpriseRow, EnterpriseRow.id == LedgerVersionRow.enterprise_id)
                 .where(EnterpriseRow.name == _enterprise_name(enterprise_name))
                 .order_by(LedgerVersionRow.number.desc()))
            if latest:
                q = q.limit(1)
            return [_ledger_version_info(r) for r in s.execute(q).scalars()]

    # ------------------------------------------------------------------------------------------ regions

    def regions(self, enterprise_name: str) -> list[Region]:
        """Region features of the current layout, each with the unit attached to it (by fid, else by name).

        When several units name the same region, the one nearest the root wins, then the first in the ledger.
        """
        with self.session() as s:   # one snapshot: features and units of the same moment
            features = self._features(s, enterprise_name, ["region"], None, None)
            units = self._units(s, enterprise_name, None)
        return _regions_of(features, units)

    # ------------------------------------------------------------------------------------------ map snapshot

    def _refresh_map(self, w: Writing, enterprise_name: str):
        """Rebuild the map snapshot from the transaction's own view of layout, units and open flags; write what
        changed."""
        from riskmap.store import flags

        s = w.session
        features = w.features if w.features is not None else self._features(s, enterprise_name, None, None, None)
        units = w.units if w.units is not None else self._map_units(s, w.enterprise_id)
        regions = _regions_of(features[features["role"] == "region"].reset_index(drop=True), units)
        snapshot = mapdata.build_snapshot(features, units, regions,
                                          copy=w.units is not None and not w.units_disposable,
                                          unit_flags=flags.open_codes(s, w.enterprise_id))
        return mapdata.refresh(s, w.enterprise_id, w.data_version, snapshot)

    def _map_units(self, s: Session, ent_id: int) -> list[AssessmentUnit]:
        """The current units with only what the map needs, read lean: each unit's residual level is worked out
        from its override and its events' overrides, evaluations and given levels (as RiskEvent.level and
        AssessmentUnit.level do) and carried by one stand-in event, so that the events' JSON is not decoded.
        A 100,000-unit tree reads several times faster than through `units()`."""
        units_t, events_t = UnitRow.__table__, RiskEventRow.__table__
        cond = [units_t.c.enterprise_id == ent_id, units_t.c.valid_to.is_(None)]
        conn = s.connection()
        with _paused_gc():
            unit_rows = conn.execute(
                select(units_t.c.id, units_t.c.code, units_t.c.name, units_t.c.kind, units_t.c.parent_code,
                       units_t.c.feature_ref, units_t.c.weight, units_t.c.last_assessed,
                       UnitRow.override["level"].as_string().label("override_level"),
                       self._wkb(units_t.c.geometry).label("wkb"))
                .where(*cond).order_by(units_t.c.position, units_t.c.id)
            ).all()
            event_rows = conn.execute(
                select(events_t.c.unit_id, RiskEventRow.override["level"].as_string(),
                       RiskEventRow.residual["level"].as_string(), events_t.c.residual_level)
                .join(units_t, units_t.c.id == events_t.c.unit_id).where(*cond)
            ).all()
            best: dict[int, int] = {}
            for unit_id, forced, evaluated, given in event_rows:
                text = forced or evaluated or given
                if text:
                    rank = Level(text).rank
                    if rank > best.get(unit_id, 0):
                        best[unit_id] = rank
            geometries = _from_wkb([r.wkb for r in unit_rows])
            out = []
            for r, geom in zip(unit_rows, geometries, strict=True):
                level = Level(r.override_level) if r.override_level else (
                    Level.from_rank(best[r.id]) if r.id in best else None)
                out.append(AssessmentUnit(
                    id=r.code, name=r.name, kind=UnitKind(r.kind), parent_id=r.parent_code, geometry=geom,
                    feature_ref=r.feature_ref, weight=Decimal(r.weight), last_assessed=r.last_assessed,
                    events=[RiskEvent("", residual_level=level)] if level is not None else []))
        return out

    def rebuild_map(self, enterprise_name: str):
        """Refresh the map snapshot in a transaction of its own (e.g. a database migrated from before it)."""
        with self.transaction(enterprise_name, create=False) as w:
            pass
        return w.map_change

    # ------------------------------------------------------------------------------------------ unit edits

    def edit_unit(self, enterprise_name: str, unit_id: str, change, author: str | None = None,
                  note: str | None = None, if_match=None) -> tuple[AssessmentUnit, int, int]:
        """Change one unit as a new ledger version (action "edit") in one transaction.

        `change(unit)` gets the current unit (with its events) read inside the transaction and changes it in
        place; the old row is retired and the changed one written, every other unit stays as it is. With
        `if_match` (edit tags, "*" or an If-Match text) the unit must still be the version the caller read
        (EditConflict otherwise). Writes an audit row ("unit.edit"); raises or clears re-assessment flags.
        Returns (the unit as stored, ledger version number, data version).
        """
        from riskmap.store import editing

        return editing.edit_unit(self, enterprise_name, unit_id, change, author=author, note=note,
                                 if_match=if_match)

    def unit_record(self, enterprise_name: str, code: str):
        """(the current unit with its events, its edit tag) or None."""
        from riskmap.store import editing

        return editing.unit_record(self, enterprise_name, code)

    def create_unit(self, enterprise_name: str, unit: AssessmentUnit, author: str | None = None,
                    reason: str | None = None):
        from riskmap.store import editing

        return editing.create_unit(self, enterprise_name, unit, author=author, reason=reason)

    def delete_unit(self, enterprise_name: str, code: str, if_match, author: str | None = None,
                    reason: str | None = None):
        from riskmap.store import editing

        return editing.delete_unit(self, enterprise_name, code, if_match, author=author, reason=reason)

    # ------------------------------------------------------------------------------------------ flags

    def flags(self, enterprise_name: str, open_only: bool = True, today=None, unit_code: str | None = None,
              reason_code: str | None = None) -> list[dict]:
        """Re-assessment flags of current units, the computed "overdue" ones included (see riskmap.store.flags)."""
        from riskmap.store import flags

        return flags.flags(self, enterprise_name, open_only=open_only, today=today, unit_code=unit_code,
                           reason_code=reason_code)

    def record_accident(self, enterprise_name: str, unit_code: str | None, occurred_on, description: str,
                        deaths: int = 0, serious_injuries: int = 0, author: str | None = None) -> dict:
        from riskmap.store import flags

        return flags.record_accident(self, enterprise_name, unit_code, occurred_on, description, deaths=deaths,
                                     serious_injuries=serious_injuries, author=author)

    def clear_flags(self, enterprise_name: str, unit_code: str | None, author: str | None = None,
                    reason: str | None = None, reason_code: str | None = None) -> dict:
        from riskmap.store import flags

        return flags.clear_flags(self, enterprise_name, unit_code, author=author, reason=reason,
                                 reason_code=reason_code)

    # ------------------------------------------------------------------------------------------ feature edits

    def feature(self, enterprise_name: str, fid: str, at_layout: int | None = None):
        """The current layout feature `fid` as an editing.EditableFeature (with its edit tag), or None."""
        from riskmap.store import editing

        return editing.feature(self, enterprise_name, fid, at_layout)

    def create_feature(self, enterprise_name: str, fid: str | None, role: str, geometry, name_: str | None = None,
                       layer: str | None = None, properties: dict | None = None, author: str | None = None,
                       reason: str | None = None):
        from riskmap.store import editing

        return editing.create_feature(self, enterprise_name, fid, role, geometry, name_=name_, layer=layer,
                                      properties=properties, author=author, reason=reason)

    def replace_feature(self, enterprise_name: str, fid: str, if_match, role: str, geometry,
                        feature_name: str | None = None, layer: str | None = None, properties: dict | None = None,
                        author: str | None = None, reason: str | None = None):
        from riskmap.store import editing

        return editing.replace_feature(self, enterprise_name, fid, if_match, role, geometry,
                                       feature_name=feature_name, layer=layer, properties=properties,
                                       author=author, reason=reason)

    def patch_feature(self, enterprise_name: str, fid: str, if_match, changes: dict, author: str | None = None,
                      reason: str | None = None):
        from riskmap.store import editing

        return editing.patch_feature(self, enterprise_name, fid, if_match, changes, author=author, reason=reason)

    def delete_feature(self, enterprise_name: str, fid: str, if_match, author: str | None = None,
                       reason: str | None = None):
        from riskmap.store import editing

        return editing.delete_feature(self, enterprise_name, fid, if_match, author=author, reason=reason)

    def restore_feature(self, enterprise_name: str, fid: str, author: str | None = None, reason: str | None = None,
                        at=None):
        from riskmap.store import editing

        return editing.restore_feature(self, enterprise_name, fid, author=author, reason=reason, at=at)

    def apply_layout_changes(self, enterprise_name: str, changes, action: str, if_match: dict | None,
                             author: str | None = None, reason: str | None = None):
        from riskmap.store import editing

        return editing.apply_layout_changes(self, enterprise_name, changes, action, if_match, author=author,
                                            reason=reason)

    # ------------------------------------------------------------------------------------------ helpers

    def _enterprise_id(self, s: Session, name: str, create: bool, missing_ok: bool = False) -> int | None:
        name = _enterprise_name(name)
        found = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one_or_none()
        if found is not None:
            return found
        if not create:
            if missing_ok:
                return None
            raise NotFoundError(f"没有名为 “{name}” 的企业 / no enterprise named {name!r}")
        ins = pg_insert if self.dialect == "postgresql" else sqlite_insert
        now = utcnow()
        # Another writer may be creating the same enterprise: do nothing on conflict, then read it back.
        s.execute(ins(EnterpriseRow).values(name=name, created_at=now).on_conflict_do_nothing())
        ent_id = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
        s.execute(ins(DataVersionRow).values(enterprise_id=ent_id, version=0, updated_at=now)
                  .on_conflict_do_nothing())
        return ent_id

    def _analyze(self, rows_written: int, *models: type) -> None:
        """Refresh PostgreSQL's statistics after a big write, so that the first reads after an import get
        good plans (autovacuum comes later; with empty statistics a 5,000-unit tree took 1.5 s to read)."""
        if self.dialect != "postgresql" or rows_written < ANALYZE_ROWS:
            return
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for model in models:
                    conn.exec_driver_sql(f"ANALYZE {model.__tablename__}")
        except (OperationalError, DBAPIError):
            pass   # statistics are an optimisation; the data is already committed

    def _layout_number(self, s: Session, ent_id: int, version: int | None) -> int | None:
        return _check_version(s, LayoutVersionRow, ent_id, version, "布局", "layout")

    def _ledger_number(self, s: Session, ent_id: int, version: int | None) -> int | None:
        return _check_version(s, LedgerVersionRow, ent_id, version, "台账", "ledger")

    def _wkb(self, column):
        if self.dialect == "postgresql":
            return func.ST_AsBinary(column, type_=LargeBinary)
        return type_coerce(column, LargeBinary)

    def _json_text(self, column):
        if self.dialect == "postgresql":
            return cast(column, Text)
        return type_coerce(column, Text)

    def _bbox_condition(self, box: tuple[float, float, float, float]):
        minx, miny, maxx, maxy = box
        if self.dialect == "postgresql":
            envelope = func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID)
            return and_(LayoutFeatureRow.geometry.op("&&")(envelope),
                        func.ST_Intersects(LayoutFeatureRow.geometry, envelope))
        f = LayoutFeatureRow
        return and_(f.minx <= maxx, f.maxx >= minx, f.miny <= maxy, f.maxy >= miny)


# ---------------------------------------------------------------------------------------------- functions


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Build many small objects without the cyclic GC re-scanning them all: reading a 5,000-unit tree
    took 3 times longer with it on. Nothing here makes cycles; collection resumes at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _bump(s: Session, ent_id: int) -> int:
    return s.execute(
        update(DataVersionRow).where(DataVersionRow.enterprise_id == ent_id)
        .values(version=DataVersionRow.version + 1, updated_at=utcnow()).returning(DataVersionRow.version)
    ).scalar_one()


def _insert_chunk(s: Session, model: type, rows: list[dict], returning: bool) -> list[int]:
    """One INSERT batch (also the seam where the atomicity tests break a save half-way)."""
    if not rows:
        return []
    if returning:
        return list(s.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows).scalars())
    if s.get_bind().dialect.name == "postgresql":
        _copy_rows(s, model.__table__, rows)
    else:
        s.execute(insert(model.__table__), rows)
    return []


def _copy_rows(s: Session, table: Any, rows: list[dict]) -> None:
    """COPY into PostgreSQL, inside the session's transaction: about twice as fast as batched INSERTs.

    Geometry arrives as hex EWKB (which PostGIS reads as text), JSON columns are serialised as `Data` would, text
    is made storable as the engine does for every other statement (riskmap.text).
    """
    names = list(rows[0])
    columns = [table.c[n] for n in names]
    json_cols = [i for i, c in enumerate(columns) if isinstance(c.type, Data)]
    geom_cols = [i for i, c in enumerate(columns) if isinstance(c.type, LonLatGeometry)]
    dbapi = s.connection().connection.dbapi_connection
    with dbapi.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            values = [row[n] for n in names]
            for i in json_cols:
                if values[i] is not None:
                    values[i] = json.dumps(to_json(values[i]), ensure_ascii=False)
            for i in geom_cols:
                if values[i] is not None and not isinstance(values[i], str):
                    values[i] = encode_wkb([values[i]], "postgresql")[0]
            copy.write_row(storable_parameters(values))


def _insert_rows(s: Session, model: type, rows: list[dict], returning: bool = False) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        ids.extend(_insert_chunk(s, model, rows[start:start + CHUNK_ROWS], returning))
    return ids


def _next_number(s: Session, model: type, ent_id: int) -> int:
    current = s.execute(select(func.max(model.number)).where(model.enterprise_id == ent_id)).scalar_one()
    return (current or 0) + 1


def _check_version(s: Session, model: type, ent_id: int, version: int | None, zh: str, en: str) -> int | None:
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)):
        raise InputError(f"{zh}版本号应为整数，而不是 “{version}” / {en} version must be an integer, not {version!r}")
    found = s.execute(select(model.number).where(model.enterprise_id == ent_id, model.number == int(version))).first()
    if found is None:
        raise NotFoundError(f"没有第 {version} 版{zh} / there is no {en} version {version}")
    return int(version)


def _valid(model: type, number: int | None):
    """Rows of the current version (number None) or as they were at version `number`."""
    if number is None:
        return model.valid_to.is_(None)
    return and_(model.valid_from <= number, or_(model.valid_to.is_(None), model.valid_to > number))


def _enterprise_name(name: str) -> str:
    text = "" if name is None else str(name).strip()
    if not text:
        raise InputError("企业名称不能为空 / the enterprise name is empty")
    if len(text) > MAX_NAME:
        raise InputError(f"企业名称过长（最多 {MAX_NAME} 字）/ the enterprise name is longer than {MAX_NAME}")
    return text


def _enterprise(row: EnterpriseRow) -> Enterprise:
    return Enterprise(id=str(row.id), name=row.name, short_name=row.short_name,
                      supervision_phone=row.supervision_phone, report_phone=row.report_phone,
                      emergency_phone=row.emergency_phone)


def _clean_text(value: Any) -> str | None:
    """Text for a column: None and NaN stay None; NUL characters (which PostgreSQL refuses) are dropped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).replace("\x00", "")


def _roles(roles: Iterable[str] | None) -> list[str] | None:
    if roles is None:
        return None
    roles = [roles] if isinstance(roles, str) else list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InputError(f"未知的要素角色 {', '.join(map(str, unknown))}，可选：{', '.join(ROLES)} / unknown feature "
                         f"role(s) {unknown}; allowed: {', '.join(ROLES)}")
    return roles


def _bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
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


def _layout_frame(layout: LayoutImport) -> gpd.GeoDataFrame:
    gdf = getattr(layout, "features", None)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError("布局数据缺少要素表（GeoDataFrame）/ the layout has no features GeoDataFrame")
    if gdf.crs is not None and gdf.crs.to_epsg() != SRID:
        gdf = gdf.to_crs(SRID)
    return gdf


def _layout_report(layout: LayoutImport) -> dict:
    try:
        return layout.summary()
    except (KeyError, AttributeError, TypeError, ValueError):
        # A layout whose frame lacks optional columns still stores; its report says less.
        return {"source": layout.source_name, "format": layout.source_format, "crs": layout.crs,
                "georeferenced": layout.georeferenced, "georeference": layout.georeference,
                "warnings": list(layout.warnings), "repaired": list(layout.repaired),
                "dropped": dict(layout.dropped)}


def _column(gdf: gpd.GeoDataFrame, name: str) -> list:
    if name not in gdf.columns:
        return [None] * len(gdf)
    return gdf[name].tolist()


def _feature_rows(gdf: gpd.GeoDataFrame, dialect: str) -> list[dict]:
    geoms = gdf.geometry.values
    wkb = encode_wkb(np.asarray(geoms, dtype=object), dialect) if len(gdf) else []
    bounds = shapely.bounds(np.asarray(geoms, dtype=object)) if len(gdf) else np.empty((0, 4))
    bounds = np.where(np.isfinite(bounds), bounds, np.nan).astype(object)
    bounds[pd.isna(bounds)] = None
    fids, names, roles, layers, props = (_column(gdf, c) for c in ("fid", "name", "role", "layer", "properties"))
    rows = []
    for i in range(len(gdf)):
        rows.append({
            "fid": _clean_text(fids[i]),
            "name": _clean_text(names[i]),
            "role": _clean_text(roles[i]),
            "layer": _clean_text(layers[i]),
            "properties": props[i] if isinstance(props[i], dict) else {},
            "geometry": wkb[i],
            "minx": bounds[i, 0], "miny": bounds[i, 1], "maxx": bounds[i, 2], "maxy": bounds[i, 3],
        })
    return rows


def _guarantee_fids(rows: list[dict]) -> None:
    """Every feature gets a non-empty fid unique in the layout (the item id of editing): a missing one becomes
    n<k>, a repeated one <fid>~2, ~3, ... with the drawing's value kept in properties["source_fid"]."""
    taken = {r["fid"] for r in rows if r["fid"] is not None and r["fid"].strip()}
    seen: dict[str, int] = {}
    k = 0
    for row in rows:
        fid = row["fid"]
        if fid is None or not fid.strip():
            k += 1
            while f"n{k}" in taken:
                k += 1
            row["fid"] = f"n{k}"
            taken.add(row["fid"])
            continue
        seen[fid] = seen.get(fid, 0) + 1
        if seen[fid] == 1:
            continue
        n = seen[fid]
        while f"{fid}~{n}" in taken:
            n += 1
        seen[fid] = n
        row["fid"] = f"{fid}~{n}"
        taken.add(row["fid"])
        row["properties"] = {**row["properties"], "source_fid": fid}


def _rows_bbox(rows: list[dict]) -> list[float] | None:
    boxes = [(r["minx"], r["miny"], r["maxx"], r["maxy"]) for r in rows if r["minx"] is not None]
    if not boxes:
        return None
    arr = np.asarray(boxes, dtype=float)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())]


def _from_wkb(values: list) -> np.ndarray:
    arr = np.array([None if v is None else bytes(v) for v in values], dtype=object)
    return shapely.from_wkb(arr)


def _decode_json(text: str | None) -> Any:
    if text is None:
        return None
    return loads(text)


def _empty_features() -> gpd.GeoDataFrame:
    frame = {c: pd.Series([], dtype="int64" if c == "id" else object) for c in FEATURE_COLUMNS[:-1]}
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=f"EPSG:{SRID}"), crs=f"EPSG:{SRID}")


def _features_frame(rows: list) -> gpd.GeoDataFrame:
    if not rows:
        return _empty_features()
    ids, fids, names, roles, layers, props, wkbs = zip(*rows, strict=True)
    frame = {
        "id": np.asarray(ids, dtype="int64"),
        "fid": list(fids),
        "name": list(names),
        "role": list(roles),
        "layer": list(layers),
        "properties": [_decode_json(p) for p in props],
    }
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(_from_wkb(list(wkbs)), crs=f"EPSG:{SRID}"),
                            crs=f"EPSG:{SRID}")


def _layout_version_info(row: LayoutVersionRow) -> dict:
    return {"version": row.number, "created_at": row.created_at, "action": row.action,
            "source": row.source_name, "source_format": row.source_format, "crs": row.crs,
            "georeferenced": row.georeferenced, "report": row.report, "author": row.author, "note": row.note,
            "feature_count": row.feature_count}


def _ledger_version_info(row: LedgerVersionRow) -> dict:
    return {"version": row.number, "created_at": row.created_at, "action": row.action, "source": row.source,
            "default_profile": row.default_profile, "author": row.author, "note": row.note,
            "unit_count": row.unit_count, "event_count": row.event_count}


def _depths(units: list[AssessmentUnit]) -> dict[str, int]:
    parents = {u.id: u.parent_id for u in units}
    depth: dict[str, int] = {}
    for unit in units:
        d, cur, seen = 0, unit.parent_id, {unit.id}
        while cur is not None and cur in parents and cur not in seen:
            seen.add(cur)
            d += 1
            cur = parents[cur]
        depth[unit.id] = d
    return depth


def _is_connection_problem(exc: Exception) -> bool:
    """OperationalError is the environment (lock timeout, lost server, disk); other DBAPI errors are bugs."""
    return isinstance(exc, OperationalError) or bool(getattr(exc, "connection_invalidated", False))


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", exc)
    lines = [line for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _regions_of(features: gpd.GeoDataFrame, units: list[AssessmentUnit]) -> list[Region]:
    """Region features, each with the unit attached to it (see Store.regions)."""
    depth = _depths(units)
    by_ref: dict[str, AssessmentUnit] = {}
    for unit in sorted(units, key=lambda u: depth[u.id]):   # stable: ledger order within a depth
        if unit.feature_ref is not None:
            by_ref.setdefault(str(unit.feature_ref), unit)
    regions = []
    for row in features.itertuples(index=False):
        fid = None if row.fid is None else str(row.fid)
        unit = by_ref.get(fid) if fid is not None else None
        if unit is None and row.name is not None:
            unit = by_ref.get(str(row.name))
        regions.append(Region(id=fid if fid else str(row.id), name=row.name or fid or str(row.id),
                              geometry=row.geometry, unit_id=unit.id if unit else None, feature_ref=fid))
    return regions
