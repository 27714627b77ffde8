"""References for the edit benchmarks: the same rows written or read with plain SQL statements (SQLAlchemy core on
riskmap's own tables, one transaction each), without what riskmap does around them (edit-tag checks, a new
version with the old rows kept, the audit row, re-assessment flags, the map snapshot). The ratio riskmap / plain
SQL is the price of that bookkeeping. Run after riskmap's own figures: these writes change rows in place, which
riskmap never does."""

from __future__ import annotations

import time

import shapely
from sqlalchemy import insert, select, update

from riskmap.store.schema import EnterpriseRow, LayoutFeatureRow, ReassessmentFlagRow, UnitRow
from riskmap.store.types import utcnow


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _enterprise_id(s, name: str) -> int:
    return s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()


def reshape_feature(store, name: str, fid: str, geometry) -> float:
    """UPDATE one current feature's geometry and bounds."""
    minx, miny, maxx, maxy = geometry.bounds

    def run():
        with store.session(write=True) as s:
            s.execute(update(LayoutFeatureRow).where(
                LayoutFeatureRow.enterprise_id == _enterprise_id(s, name), LayoutFeatureRow.fid == fid,
                LayoutFeatureRow.valid_to.is_(None)).values(geometry=geometry, minx=minx, miny=miny, maxx=maxx,
                                                            maxy=maxy))
    return _timed(run)


def add_feature(store, name: str, like_fid: str, fid: str, geometry) -> float:
    """INSERT one feature row (its version and validity copied from an existing row)."""
    def run():
        with store.session(write=True) as s:
            ent = _enterprise_id(s, name)
            row = s.execute(select(LayoutFeatureRow).where(LayoutFeatureRow.enterprise_id == ent,
                                                           LayoutFeatureRow.fid == like_fid)).scalars().first()
            minx, miny, maxx, maxy = geometry.bounds
            s.execute(insert(LayoutFeatureRow).values(
                enterprise_id=ent, layout_version_id=row.layout_version_id, valid_from=row.valid_from, valid_to=None,
                fid=fid, name=None, role="equipment", layer=None, properties={}, geometry=geometry, minx=minx,
                miny=miny, maxx=maxx, maxy=maxy))
    return _timed(run)


def move_unit(store, name: str, code: str) -> float:
    """UPDATE one current unit's geometry."""
    def run():
        with store.session(write=True) as s:
            ent = _enterprise_id(s, name)
            geom = s.execute(select(UnitRow.geometry).where(UnitRow.enterprise_id == ent, UnitRow.code == code,
                                                            UnitRow.valid_to.is_(None))).scalar_one()
            s.execute(update(UnitRow).where(UnitRow.enterprise_id == ent, UnitRow.code == code,
                                            UnitRow.valid_to.is_(None))
                      .values(geometry=shapely.affinity.translate(geom, 1e-6)))
    return _timed(run)


def read_open_flags(store, name: str) -> float:
    """SELECT the open flags of current units (no computed ones)."""
    def run():
        with store.session() as s:
            ent = _enterprise_id(s, name)
            s.execute(select(ReassessmentFlagRow, UnitRow.name).join(
                UnitRow, (UnitRow.code == ReassessmentFlagRow.unit_code) & (UnitRow.enterprise_id == ent)
                & UnitRow.valid_to.is_(None)).where(ReassessmentFlagRow.enterprise_id == ent,
                                                    ReassessmentFlagRow.cleared_at.is_(None))).all()
    return _timed(run)


def flag_every_unit(store, name: str) -> float:
    """INSERT one flag row per current unit (what an accident with a death writes), one transaction."""
    def run():
        with store.session(write=True) as s:
            ent = _enterprise_id(s, name)
            codes = s.execute(select(UnitRow.code).where(UnitRow.enterprise_id == ent,
                                                         UnitRow.valid_to.is_(None))).scalars().all()
            now = utcnow()
            s.execute(insert(ReassessmentFlagRow), [
                {"enterprise_id": ent, "unit_code": c, "reason_code": "accident", "reason": "plain SQL",
                 "raised_at": now, "raised_change_id": None, "cleared_at": None, "cleared_change_id": None,
                 "detail": None} for c in codes])
    return _timed(run)


def reshape_many(store, name: str, geometries: dict) -> float:
    """UPDATE the geometry of many current features (fid → geometry), one transaction."""
    def run():
        with store.session(write=True) as s:
            ent = _enterprise_id(s, name)
            for fid, geom in geometries.items():
                s.execute(update(LayoutFeatureRow).where(
                    LayoutFeatureRow.enterprise_id == ent, LayoutFeatureRow.fid == fid,
                    LayoutFeatureRow.valid_to.is_(None)).values(geometry=geom))
    return _timed(run)
