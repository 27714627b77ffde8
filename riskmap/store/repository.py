"""The one storage interface: `Store`, the same on SQLite and PostGIS.

Each write is one transaction that also bumps the enterprise's data version; a failure or a killed process
leaves the previous state as it was. Nothing is deleted: a new layout or ledger version retires the current
rows (see riskmap.store.schema), and earlier versions stay readable with `version=`.

The Store is the public face of the store's rooms (layouts, ledgers, versions, editing, flags, binding, history,
mapdata): it opens sessions and transactions and calls them. The rooms take the Store (or a transaction's
`Writing`) as their first argument and never import this module, so nothing imports in a loop.

Vocabulary: `enterprise_name`, `unit_id` (the user's unit id), `fid` (a layout feature's id), `feature_name`,
`author` (who), `reason` (why: the audit trail's text), `if_match` (edit tags, "*" or an If-Match header).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import geopandas as gpd
from sqlalchemy import Engine, select
from sqlalchemy import exists as sa_exists
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from riskmap.attach import regions_from_features
from riskmap.domain import AssessmentUnit, Enterprise, Region
from riskmap.drawings import SITE, SITE_PLAN, Drawing
from riskmap.errors import InputError, NotFoundError, RiskmapError, StoreError, no_enterprise
from riskmap.geo.model import LayoutImport
from riskmap.store import editing, flags, history, mapdata, mapupdate, versions
from riskmap.store.audit import record_change
from riskmap.store.drawings import drawing_from_row, drawing_id, drawing_row, list_drawings, of_drawing
from riskmap.store.editing import EditableFeature, EditResult, FeatureChange
from riskmap.store.engine import WRITE, create_store_engine, display_url
from riskmap.store.layouts import layout_version_info, read_features
from riskmap.store.ledgers import ledger_version_info, map_units, read_units
from riskmap.store.rows import (
    Writing,
    bump,
    checked_bbox,
    checked_roles,
    clean_enterprise_name,
    clean_text,
    enterprise_id,
    enterprise_name_to_find,
    enterprise_of,
    is_connection_problem,
    paused_gc,
    reason_of,
)
from riskmap.store.schema import (
    DataVersionRow,
    EnterpriseRow,
    LayoutFeatureRow,
    LayoutVersionRow,
    LedgerVersionRow,
    UnitRow,
)
from riskmap.store.upgrade import MAP_REDRAWN_AT, current_revision, migrate

__all__ = ["Store", "StoreError", "Writing"]

PLANTS_KEPT = 4          # enterprises whose map inputs a Store keeps between its writes (riskmap.store.mapupdate)


def _require_schema(engine) -> None:
    from riskmap.store.engine import NO_DATA_HINT, MissingDatabaseError

    with engine.connect() as conn:
        found = current_revision(conn)
    if found is None:
        engine.dispose()
        where = display_url(engine.url)
        raise MissingDatabaseError(f"数据库 {where} 中没有 riskmap 数据。{NO_DATA_HINT[0]} / database {where} holds "
                                   f"no riskmap data: {NO_DATA_HINT[1]}")


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
        self._plants: OrderedDict[int, mapupdate.PlantMap] = OrderedDict()
        self._plants_lock = threading.Lock()
        self.incremental_map = True     # False: every write rebuilds the whole map snapshot (the reference)

    # ------------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str | URL, create: bool = True) -> Store:
        """Open (creating if needed) and migrate to the newest schema. `create=False` (commands that only read):
        a database that does not exist or holds no riskmap tables is a MissingDatabaseError, and nothing is
        created; an older riskmap schema is still migrated."""
        engine = create_store_engine(url, create=create)
        try:
            if not create:
                _require_schema(engine)
            with engine.connect() as conn:
                before = current_revision(conn)
            migrate(engine)
        except RiskmapError:
            engine.dispose()
            raise
        except (OperationalError, DBAPIError) as exc:
            engine.dispose()
            raise StoreError(f"数据库 {display_url(engine.url)} 无法升级：{reason_of(exc)} / cannot migrate "
                             f"database {display_url(engine.url)}: {reason_of(exc)}") from None
        store = cls(engine)
        if before is not None and before < MAP_REDRAWN_AT:
            store._rebuild_maps()
        return store

    def _rebuild_maps(self) -> None:
        """Build the map snapshot of every enterprise that has data again (a migration dropped it to have it
        drawn by new rules), once, so that no page ever counts or centres on an empty map."""
        e, lf, u = EnterpriseRow.__table__, LayoutFeatureRow.__table__, UnitRow.__table__
        has_data = sa_exists().where(lf.c.enterprise_id == e.c.id, lf.c.valid_to.is_(None)) | \
            sa_exists().where(u.c.enterprise_id == e.c.id, u.c.valid_to.is_(None))
        with self.session() as s:
            names = s.execute(select(e.c.name).where(has_data)).scalars().all()
        for name in names:
            self.rebuild_map(name)

    @property
    def url(self) -> URL:
        """The database URL (with its password; show display_url(store.url) to people)."""
        return self.engine.url

    @property
    def backend(self) -> str:
        """"postgis" or "sqlite": the backend name used in messages and tests."""
        return "postgis" if self.dialect == "postgresql" else "sqlite"

    def close(self) -> None:
        """Release the engine's connections; the store is not usable afterwards."""
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
            if not is_connection_problem(exc):
                raise
            raise StoreError(f"数据库操作失败：{reason_of(exc)} / database operation failed: {reason_of(exc)}") \
                from None

    @contextmanager
    def transaction(self, enterprise_name: str, create: bool = True) -> Iterator[Writing]:
        """A writing transaction of one enterprise, with its data version already bumped inside it and the map
        snapshot refreshed at its end (inside it too)."""
        kept = None
        with self.session(write=True) as s:
            ent_id = enterprise_id(s, enterprise_name, create=create)
            before = mapupdate.version_of(s, ent_id)
            writing = Writing(s, ent_id, bump(s, ent_id), enterprise_name=clean_enterprise_name(enterprise_name))
            with self._plants_lock:
                plant = self._plants.pop(ent_id, None)
            if plant is not None and plant.state == before and writing.data_version == before[0] + 1 \
                    and self.incremental_map:
                writing.plant, writing.delta = plant, mapupdate.MapDelta()
            yield writing
            if writing.refresh_map:
                writing.map_change, kept = self._refresh_map(writing)
                if kept is not None:
                    kept.state = mapupdate.version_of(s, ent_id)
        if kept is not None:       # committed: the next write of this process starts from it
            self._keep(ent_id, kept, replace=True)

    # ------------------------------------------------------------------------------------------ enterprises

    def enterprise(self, name: str, create: bool = True) -> Enterprise:
        """The enterprise of that name; created when missing unless `create` is False (then NotFoundError)."""
        found = enterprise_name_to_find(name)
        if found is not None:
            with self.session() as s:
                row = s.execute(select(EnterpriseRow).where(EnterpriseRow.name == found)).scalar_one_or_none()
                if row is not None:
                    return enterprise_of(row)
        if not create:
            raise no_enterprise(name)
        name = clean_enterprise_name(name)
        with self.transaction(name) as w:
            record_change(w, "enterprise.create")
            return enterprise_of(w.session.get(EnterpriseRow, w.enterprise_id))

    def enterprises(self) -> list[Enterprise]:
        """Every enterprise in the database, oldest first."""
        with self.session() as s:
            return [enterprise_of(r) for r in s.execute(select(EnterpriseRow).order_by(EnterpriseRow.id)).scalars()]

    def update_enterprise(self, enterprise: Enterprise) -> Enterprise:
        """Write names and phones. The enterprise is found by `id` (a rename) or else by `name`."""
        name = clean_enterprise_name(enterprise.name)
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
            old = enterprise_of(row)
            row.name = name
            for attr in ("short_name", "supervision_phone", "report_phone", "emergency_phone"):
                setattr(row, attr, clean_text(getattr(enterprise, attr)))
            s.flush()
            new = enterprise_of(row)
            changed = [f for f in ("name", "short_name", "supervision_phone", "report_phone", "emergency_phone")
                       if getattr(old, f) != getattr(new, f)]
            record_change(Writing(s, row.id, bump(s, row.id)), "enterprise.update", detail={"fields": changed})
            return new

    def enterprises_with_unit(self, code: str) -> list[str]:
        """Names of the enterprises whose current ledger has a unit `code` (a card's short link names only the
        unit, so the enterprise is found from it)."""
        with self.session() as s:
            return list(s.execute(
                select(EnterpriseRow.name).join(UnitRow, UnitRow.enterprise_id == EnterpriseRow.id)
                .where(UnitRow.code == str(code), UnitRow.valid_to.is_(None))
                .distinct().order_by(EnterpriseRow.name)).scalars())

    def data_version(self, enterprise_name: str) -> int:
        """Bumped by every write of the enterprise; 0 for an enterprise not stored."""
        name = enterprise_name_to_find(enterprise_name)
        if name is None:
            return 0
        with self.session() as s:
            found = s.execute(
                select(DataVersionRow.version)
                .join(EnterpriseRow, EnterpriseRow.id == DataVersionRow.enterprise_id)
                .where(EnterpriseRow.name == name)
            ).scalar_one_or_none()
        return found or 0

    # ------------------------------------------------------------------------------------------ layouts

    def save_layout(self, enterprise_name: str, layout: LayoutImport, *, author: str | None = None,
                    reason: str | None = None, drawing: Drawing | None = None) -> int:
        """Store an imported drawing as the new current layout version of that drawing (None: the site plan);
        returns its number."""
        return versions.save_layout(self, enterprise_name, layout, author=author, reason=reason, drawing=drawing)

    def layout_features(self, enterprise_name: str, roles: Iterable[str] | None = None,
                        bbox: Sequence[float] | None = None, version: int | None = None,
                        drawing: str | None = None) -> gpd.GeoDataFrame:
        """Features of the current (or a given) layout version of a drawing (None: the site plan), in EPSG:4326.

        `bbox` (minlon, minlat, maxlon, maxlat) keeps the features whose geometry intersects it, boundary
        included; the filtering runs in SQL (bbox columns on SQLite, the GiST index on PostGIS).
        """
        roles, box = checked_roles(roles), checked_bbox(bbox)
        with self.session() as s:
            return read_features(s, enterprise_name, roles, box, version, drawing)

    def layout_info(self, enterprise_name: str, drawing: str | None = None) -> dict | None:
        """The current layout version's record of a drawing (None: the site plan), or None when it has none."""
        found = self._versions(LayoutVersionRow, layout_version_info, enterprise_name, latest=True, drawing=drawing)
        return found[0] if found else None

    def layout_versions(self, enterprise_name: str, drawing: str | None = None) -> list[dict]:
        """Every layout version of a drawing (None: the site plan), newest first."""
        return self._versions(LayoutVersionRow, layout_version_info, enterprise_name, latest=False, drawing=drawing)

    def drawings(self, enterprise_name: str) -> list[Drawing]:
        """The enterprise's drawings, the site plan first (an enterprise not stored has only that)."""
        with self.session() as s:
            ent_id = enterprise_id(s, enterprise_name, create=False, missing_ok=True)
            return [SITE_PLAN] if ent_id is None else list_drawings(s, ent_id)

    def drawing(self, enterprise_name: str, key: str | None) -> Drawing:
        """One drawing by its key (None or "site": the site plan); NotFoundError when there is none."""
        if key is None or key == SITE:
            return SITE_PLAN
        with self.session() as s:
            ent_id = enterprise_id(s, enterprise_name, create=False)
            return drawing_from_row(drawing_row(s, ent_id, key))

    # ------------------------------------------------------------------------------------------ ledgers

    def save_units(self, enterprise_name: str, units: Sequence[AssessmentUnit], *, source: str | None = None,
                   default_profile: str | None = None, author: str | None = None, reason: str | None = None) -> int:
        """Store the unit tree (with events and their evaluations) as the new current ledger version."""
        return versions.save_units(self, enterprise_name, units, source=source, default_profile=default_profile,
                                   author=author, reason=reason)

    def units(self, enterprise_name: str, version: int | None = None) -> list[AssessmentUnit]:
        """The unit tree of the current (or a given) ledger version, in ledger order."""
        with self.session() as s:
            return read_units(s, enterprise_name, version)

    def ledger_info(self, enterprise_name: str) -> dict | None:
        """The current ledger version's record, or None when the enterprise has no ledger."""
        found = self._versions(LedgerVersionRow, ledger_version_info, enterprise_name, latest=True)
        return found[0] if found else None

    def ledger_versions(self, enterprise_name: str) -> list[dict]:
        """Every ledger version, newest first."""
        return self._versions(LedgerVersionRow, ledger_version_info, enterprise_name, latest=False)

    def _versions(self, model: type, info: Callable[[Any], dict], enterprise_name: str, latest: bool,
                  drawing: str | None = None) -> list[dict]:
        name = enterprise_name_to_find(enterprise_name)
        if name is None:
            return []
        with self.session() as s:
            q = (select(model).join(EnterpriseRow, EnterpriseRow.id == model.enterprise_id)
                 .where(EnterpriseRow.name == name).order_by(model.number.desc()))
            if hasattr(model, "drawing_id"):
                ent_id = enterprise_id(s, name, create=False, missing_ok=True)
                if ent_id is None:
                    return []
                q = q.where(of_drawing(model, drawing_id(s, ent_id, drawing)))
            return [info(r) for r in s.execute(q.limit(1) if latest else q).scalars()]

    # ------------------------------------------------------------------------------------------ regions, map

    def regions(self, enterprise_name: str) -> list[Region]:
        """Region features of the current layout, each with the unit attached to it (riskmap.attach).

        When several units name the same region, the one nearest the root wins, then the first in the ledger.
        """
        with self.session() as s:   # one snapshot: features and units of the same moment
            features = read_features(s, enterprise_name, ["region"])
            units = read_units(s, enterprise_name)
        return regions_from_features(features, units)

    def _refresh_map(self, w: Writing) -> tuple[mapdata.MapChange, mapupdate.PlantMap | None]:
        """Update the map snapshot for what the transaction changed (riskmap.store.mapupdate), or rebuild it from
        the transaction's own view of layout, units and open flags; write what changed. Returns the change and
        the map's inputs to keep for the next write (None when they were not read whole)."""
        s = w.session
        if w.plant is not None and w.delta is not None and w.tracked:
            try:    # Fallback comes before anything is written; no GC pass over the kept plant's objects
                with paused_gc():
                    return mapupdate.update(s, w.plant, w.delta, w.enterprise_name, w.data_version,
                                            features=w.features), w.plant
            except mapupdate.Fallback:
                pass
        if w.units is None and self.incremental_map:
            plant = mapupdate.PlantMap.read(s, w.enterprise_id, w.enterprise_name, features=w.features)
            return mapdata.refresh(s, w.enterprise_id, w.data_version, plant.snapshot()), plant
        features = w.features if w.features is not None else read_features(s, w.enterprise_name)
        units = w.units if w.units is not None else map_units(s, w.enterprise_id)
        regions = history.regions_from(features, units)
        snapshot = mapdata.build_snapshot(features, units, regions,
                                          copy=w.units is not None and not w.units_disposable,
                                          unit_flags=flags.open_codes(s, w.enterprise_id),
                                          months=flags.months_of(s, w.enterprise_id))
        return mapdata.refresh(s, w.enterprise_id, w.data_version, snapshot), None

    def warm_map(self, enterprise_name: str) -> bool:
        """Read what the map of an enterprise is made from and keep it, so that the first edit of this process
        is an incremental one too (a service may call it at start, off the request path). Nothing is written;
        what was read is kept only when no write committed meanwhile. True when kept."""
        with self.session() as s:
            ent_id = enterprise_id(s, enterprise_name, create=False, missing_ok=True)
            if ent_id is None:
                return False
            before = mapupdate.version_of(s, ent_id)
            with self._plants_lock:
                kept = self._plants.get(ent_id)
            if before is not None and kept is not None and kept.state == before:
                return True                            # already kept as it is now: nothing to read again
            plant = mapupdate.PlantMap.read(s, ent_id, clean_enterprise_name(enterprise_name))
        with self.session() as s:
            after = mapupdate.version_of(s, ent_id)
        if before is None or before != after:
            return False
        plant.state = before
        self._keep(ent_id, plant, replace=False)
        return True

    def _keep(self, ent_id: int, plant: mapupdate.PlantMap, *, replace: bool) -> None:
        """Keep a plant's map inputs for the next write (a committed write's replace what was kept; a warm-up's
        do not), the PLANTS_KEPT most recent ones at most."""
        with self._plants_lock:
            if replace:
                self._plants[ent_id] = plant
            else:
                self._plants.setdefault(ent_id, plant)
            while len(self._plants) > PLANTS_KEPT:
                self._plants.popitem(last=False)

    def rebuild_map(self, enterprise_name: str):
        """Refresh the map snapshot in a transaction of its own (e.g. a database migrated from before it): always
        the whole snapshot, so it also checks the incremental refreshes (nothing to change after them)."""
        with self.transaction(enterprise_name, create=False) as w:
            w.plant = w.delta = None
        return w.map_change

    # ------------------------------------------------------------------------------------------ unit edits

    def edit_unit(self, enterprise_name: str, unit_id: str, change: Callable[[AssessmentUnit], None], *,
                  author: str | None = None, reason: str | None = None, if_match: Any = None) \
            -> tuple[AssessmentUnit, int, int]:
        """Change one unit as a new ledger version (action "edit") in one transaction.

        `change(unit)` gets the current unit (with its events) read inside the transaction and changes it in
        place; the old row is retired and the changed one written, every other unit stays as it is. With
        `if_match` the unit must still be the version the caller read (EditConflict otherwise). Writes an audit
        row ("unit.edit"); raises or clears re-assessment flags. Returns (the unit as stored, ledger version
        number, data version).
        """
        return editing.edit_unit(self, enterprise_name, unit_id, change, author=author, reason=reason,
                                 if_match=if_match)

    def unit_record(self, enterprise_name: str, unit_id: str) -> tuple[AssessmentUnit, int] | None:
        """(the current unit with its events, its edit tag) or None."""
        return editing.unit_record(self, enterprise_name, unit_id)

    def create_unit(self, enterprise_name: str, unit: AssessmentUnit, *, author: str | None = None,
                    reason: str | None = None) -> EditResult:
        """Add one unit (with its events) to the current tree as a new ledger version."""
        return editing.create_unit(self, enterprise_name, unit, author=author, reason=reason)

    def delete_unit(self, enterprise_name: str, unit_id: str, if_match: Any, *, author: str | None = None,
                    reason: str | None = None) -> EditResult:
        """Retire one childless unit as a new ledger version (kept in the history)."""
        return editing.delete_unit(self, enterprise_name, unit_id, if_match, author=author, reason=reason)

    # ------------------------------------------------------------------------------------------ flags

    def flags(self, enterprise_name: str, *, open_only: bool = True, today: date | datetime | None = None,
              unit_id: str | None = None, reason_code: str | None = None) -> list[dict]:
        """Re-assessment flags of current units, the computed "overdue" ones included (riskmap.store.flags)."""
        return flags.flags(self, enterprise_name, open_only=open_only, today=today, unit_id=unit_id,
                           reason_code=reason_code)

    def record_accident(self, enterprise_name: str, unit_id: str | None, occurred_on: date, description: str, *,
                        deaths: int = 0, serious_injuries: int = 0, author: str | None = None) -> dict:
        """Store an accident and flag the unit (every unit after a serious one) for re-assessment."""
        return flags.record_accident(self, enterprise_name, unit_id, occurred_on, description, deaths=deaths,
                                     serious_injuries=serious_injuries, author=author)

    def clear_flags(self, enterprise_name: str, unit_id: str | None, *, author: str | None = None,
                    reason: str | None = None, reason_code: str | None = None) -> dict:
        """Clear a unit's open flags (or every unit's, or one reason of them) explicitly."""
        return flags.clear_flags(self, enterprise_name, unit_id, author=author, reason=reason,
                                 reason_code=reason_code)

    # ------------------------------------------------------------------------------------------ feature edits

    def feature(self, enterprise_name: str, fid: str, at_layout: int | None = None,
                drawing: str | None = None) -> EditableFeature | None:
        """The current layout feature `fid` of a drawing (None: the site plan) with its edit tag, or None."""
        return editing.feature(self, enterprise_name, fid, at_layout, drawing=drawing)

    def create_feature(self, enterprise_name: str, fid: str | None, role: str, geometry: Any, *,
                       feature_name: str | None = None, layer: str | None = None, properties: dict | None = None,
                       author: str | None = None, reason: str | None = None,
                       drawing: str | None = None) -> EditResult:
        """Add one layout feature as a new layout version."""
        return editing.create_feature(self, enterprise_name, fid, role, geometry, feature_name=feature_name,
                                      layer=layer, properties=properties, author=author, reason=reason,
                                      drawing=drawing)

    def replace_feature(self, enterprise_name: str, fid: str, if_match: Any, role: str, geometry: Any, *,
                        feature_name: str | None = None, layer: str | None = None, properties: dict | None = None,
                        author: str | None = None, reason: str | None = None,
                        drawing: str | None = None) -> EditResult:
        """Replace one layout feature (PUT) as a new layout version."""
        return editing.replace_feature(self, enterprise_name, fid, if_match, role, geometry,
                                       feature_name=feature_name, layer=layer, properties=properties,
                                       author=author, reason=reason, drawing=drawing)

    def patch_feature(self, enterprise_name: str, fid: str, if_match: Any, changes: dict, *,
                      author: str | None = None, reason: str | None = None,
                      drawing: str | None = None) -> EditResult:
        """Change some fields of one layout feature (a JSON merge patch) as a new layout version."""
        return editing.patch_feature(self, enterprise_name, fid, if_match, changes, author=author, reason=reason,
                                     drawing=drawing)

    def delete_feature(self, enterprise_name: str, fid: str, if_match: Any, *, author: str | None = None,
                       reason: str | None = None, drawing: str | None = None) -> EditResult:
        """Retire one layout feature as a new layout version (kept in the history, restorable)."""
        return editing.delete_feature(self, enterprise_name, fid, if_match, author=author, reason=reason,
                                      drawing=drawing)

    def restore_feature(self, enterprise_name: str, fid: str, *, author: str | None = None,
                        reason: str | None = None, at: datetime | None = None,
                        drawing: str | None = None) -> EditResult:
        """Bring back a deleted feature (its last state, or its state at `at`) as a new layout version."""
        return editing.restore_feature(self, enterprise_name, fid, author=author, reason=reason, at=at,
                                       drawing=drawing)

    def apply_layout_changes(self, enterprise_name: str, changes: Sequence[FeatureChange], action: str,
                             if_match: dict | None, *, author: str | None = None,
                             reason: str | None = None, drawing: str | None = None) -> EditResult:
        """Several feature changes (a revision, a split, a merge) as one new layout version of a drawing."""
        return editing.apply_layout_changes(self, enterprise_name, changes, action, if_match, author=author,
                                            reason=reason, drawing=drawing)

