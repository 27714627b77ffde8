"""The tables, as typed SQLAlchemy ORM classes; the same on SQLite and PostgreSQL.

History is kept by validity ranges, never by deleting: a layout feature or a unit row is valid from the version
that wrote it (`valid_from`) until the version that replaced it (`valid_to`, NULL while current). A whole import
retires every current row and writes new ones; a later single edit retires and rewrites one row. Either way the
state as of version v is `valid_from <= v AND (valid_to IS NULL OR valid_to > v)`, and "current" is the newest
version. Every record carries its enterprise, so several enterprises share one database.

Migrations (riskmap/store/migrations) must create exactly this; a test compares the two on both backends.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from riskmap.store.types import Data, LonLatGeometry, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Index.info key: the dialects an index exists on (DDL and schema comparison skip it elsewhere).
DIALECTS = "dialects"


class Base(DeclarativeBase):
    """The base of every table; its naming convention gives constraints and indexes the names the migrations use."""

    metadata = MetaData(naming_convention=NAMING)


class EnterpriseRow(Base):
    """An enterprise: every other row belongs to one, so that several share a database; the phones go on the notice
    board."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(200))
    supervision_phone: Mapped[str | None] = mapped_column(String(64))
    report_phone: Mapped[str | None] = mapped_column(String(64))
    emergency_phone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DataVersionRow(Base):
    """Bumped in every writing transaction, inside it: caches and ETags key on it."""

    __tablename__ = "data_versions"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DrawingRow(Base):
    """A drawing of an enterprise other than its site plan (the site plan is the drawing of rows whose drawing_id is
    NULL, so that everything written before drawings existed stays the site plan): a floor plan of a building's
    storey, a workshop plan, or a schematic drawing with no place on the earth (riskmap.drawings)."""

    __tablename__ = "drawings"
    __table_args__ = (UniqueConstraint("enterprise_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))              # the user's name of the drawing, e.g. "办公楼-2F"
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))             # riskmap.drawings.KINDS
    building_ref: Mapped[str | None] = mapped_column(Text)    # fid of the building on the site plan
    storey: Mapped[str | None] = mapped_column(String(16))    # "B1", "1F", "2F"
    storey_order: Mapped[int | None] = mapped_column(Integer)  # -1 for B1, 1 for 1F ...
    plane: Mapped[Any] = mapped_column(Data(), nullable=True)  # a schematic drawing's own plane (riskmap.drawings)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LayoutVersionRow(Base):
    """One change of the layout (an import now; an edit or a restore later): who, when, why, from what. Version
    numbers run across all drawings of the enterprise; a version changes one drawing (`drawing_id`, NULL: the site
    plan)."""

    __tablename__ = "layout_versions"
    __table_args__ = (UniqueConstraint("enterprise_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))            # "import"; later "edit", "restore"
    source_name: Mapped[str | None] = mapped_column(Text)
    source_format: Mapped[str | None] = mapped_column(String(32))
    crs: Mapped[str | None] = mapped_column(Text)
    georeferenced: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[Any] = mapped_column(Data())
    note: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    feature_count: Mapped[int] = mapped_column(Integer)
    drawing_id: Mapped[int | None] = mapped_column(Integer)   # drawings.id (no constraint: see migration 0007)


class LayoutFeatureRow(Base):
    """A layout feature as one layout version wrote it, valid from version `valid_from` until `valid_to` (NULL: still
    current); the bbox columns serve bbox queries on SQLite."""

    __tablename__ = "layout_features"
    __table_args__ = (
        # Current features in a bbox on SQLite: equality on the first two, a range on minx, the rest covered.
        Index("ix_layout_features_bbox", "enterprise_id", "drawing_id", "valid_to", "minx", "maxx", "miny", "maxy"),
        # One feature by its id (edits, If-Match checks, restore, history of an item): current and past rows.
        Index("ix_layout_features_fid", "enterprise_id", "drawing_id", "fid", "valid_to"),
        Index("ix_layout_features_geometry", "geometry", postgresql_using="gist",
              info={DIALECTS: ("postgresql",)}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    layout_version_id: Mapped[int] = mapped_column(ForeignKey("layout_versions.id"), index=True)
    drawing_id: Mapped[int | None] = mapped_column(Integer)   # drawings.id; NULL: the site plan
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    fid: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(32))
    layer: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[Any] = mapped_column(Data())
    geometry: Mapped[Any] = mapped_column(LonLatGeometry(), nullable=True)
    minx: Mapped[float | None] = mapped_column(Double())
    miny: Mapped[float | None] = mapped_column(Double())
    maxx: Mapped[float | None] = mapped_column(Double())
    maxy: Mapped[float | None] = mapped_column(Double())


class LedgerVersionRow(Base):
    """One change of the unit tree (an import now; edits and restores later)."""

    __tablename__ = "ledger_versions"
    __table_args__ = (UniqueConstraint("enterprise_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(Text)
    default_profile: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    unit_count: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)


class UnitRow(Base):
    """An assessment unit as written by one ledger version; its events hang off this row."""

    __tablename__ = "units"
    __table_args__ = (Index("ix_units_current", "enterprise_id", "valid_to", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    ledger_version_id: Mapped[int] = mapped_column(ForeignKey("ledger_versions.id"), index=True)
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)             # order in the ledger
    code: Mapped[str] = mapped_column(Text)                    # the user's unit id
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(Text)
    geometry: Mapped[Any] = mapped_column(LonLatGeometry(), nullable=True)
    feature_ref: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[str] = mapped_column(String(64))            # exact decimal as text
    department: Mapped[str | None] = mapped_column(Text)
    person: Mapped[str | None] = mapped_column(Text)
    last_assessed: Mapped[date | None] = mapped_column(Date)
    work_content: Mapped[str | None] = mapped_column(Text)
    workplace: Mapped[str | None] = mapped_column(Text)
    override: Mapped[Any] = mapped_column(Data(), nullable=True)
    major_hazard: Mapped[Any] = mapped_column(Data(), nullable=True)
    placements: Mapped[Any] = mapped_column(Data(), nullable=True)   # {drawing key: feature fid} off the site plan


class RiskEventRow(Base):
    """A risk event of one unit row, written with it: each new row of a unit carries its own copies of the events."""

    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(Text)             # RiskEvent.id, the user's event id
    name: Mapped[str] = mapped_column(Text)
    hazard_factor: Mapped[str | None] = mapped_column(Text)
    hazard_code: Mapped[str | None] = mapped_column(String(64))
    accident_type: Mapped[str | None] = mapped_column(Text)
    accident_type_2025: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(Text)
    consequence: Mapped[str | None] = mapped_column(Text)
    impact_range: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(200))
    inputs: Mapped[Any] = mapped_column(Data())
    inherent_inputs: Mapped[Any] = mapped_column(Data())
    residual: Mapped[Any] = mapped_column(Data(), nullable=True)  # Evaluation as JSON, score as decimal text
    inherent: Mapped[Any] = mapped_column(Data(), nullable=True)
    residual_level: Mapped[str | None] = mapped_column(String(32))
    inherent_level: Mapped[str | None] = mapped_column(String(32))
    existing_measures: Mapped[str | None] = mapped_column(Text)
    measure_effectiveness: Mapped[str | None] = mapped_column(Text)
    controls: Mapped[Any] = mapped_column(Data())
    emergency_measures: Mapped[str | None] = mapped_column(Text)
    override: Mapped[Any] = mapped_column(Data(), nullable=True)
    direct_rules: Mapped[Any] = mapped_column(Data())
    location: Mapped[str | None] = mapped_column(Text)


class ChangeRow(Base):
    """The audit trail: one row per writing operation (who, when, why, what), never updated or deleted."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_enterprise_at", "enterprise_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    data_version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(200))   # the person's name at that time
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))  # their account (None: no account)
    reason: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))            # e.g. "feature.replace", "layout.revise"
    collection: Mapped[str | None] = mapped_column(String(32))  # "layout", "regions", "units"
    item_ids: Mapped[Any] = mapped_column(Data())              # JSON list of the ids touched
    layout_number: Mapped[int | None] = mapped_column(Integer)  # the layout version current after the change
    ledger_number: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[Any] = mapped_column(Data(), nullable=True)


class ReassessmentFlagRow(Base):
    """A unit that must be re-assessed, and why; cleared (never deleted) by a new assessment."""

    __tablename__ = "reassessment_flags"
    __table_args__ = (Index("ix_reassessment_flags_open", "enterprise_id", "cleared_at", "unit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    unit_code: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))
    detail: Mapped[Any] = mapped_column(Data(), nullable=True)


class AccidentRow(Base):
    """A recorded accident: it flags the unit where it happened (every unit after a serious one)."""

    __tablename__ = "accidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    unit_code: Mapped[str | None] = mapped_column(Text)
    occurred_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    deaths: Mapped[int] = mapped_column(Integer)
    serious_injuries: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))


class AccountRow(Base):
    """A person (or a machine) who may sign in or hold API tokens; never deleted, disabled instead.

    `enterprise_id` NULL: an account of the whole service (the accounts made for API tokens that had none).
    Only the password's Argon2id hash is kept; an account without one (a machine's) cannot sign in.
    """

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("enterprise_id", "login"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    name: Mapped[str] = mapped_column(String(200))
    login: Mapped[str] = mapped_column(String(64))             # phone number or staff number
    department: Mapped[str | None] = mapped_column(String(200))
    post: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))


class AccountRoleRow(Base):
    """One role an account holds (riskmap.people.ROLES); an account may hold several."""

    __tablename__ = "account_roles"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str | None] = mapped_column(String(200))


class WebSessionRow(Base):
    """A browser's sign-in: only the SHA-256 of the session id and of its CSRF token are kept."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInAttemptRow(Base):
    """Every sign-in attempt, for the lock-out per account and per address (the audit trail has them too)."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_login", "login", "at"),
                      Index("ix_sign_in_attempts_address", "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)


class ApiTokenRow(Base):
    """An editor (or reader) token of an account; only its SHA-256 is kept, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)



# ------------------------------------------------------------------------------------------ inspections (issue 14)
# Tasks are edited one by one (row_version is their ETag); shutdowns and records are appended, never changed; a
# checkpoint keeps only its token's SHA-256 and is retired, never deleted, when reissued. riskmap.inspections.store.


class InspectionTaskRow(Base):
    """An inspection task: what to check at a unit, who, how often (riskmap.inspections.tasks.Task); `key` names the
    control measure it was generated from, so that generating again keeps it."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (UniqueConstraint("enterprise_id", "key"),
                      Index("ix_inspection_tasks_unit", "enterprise_id", "unit_code"))     # a unit's tasks (0013)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    key: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str] = mapped_column(Text)
    event_code: Mapped[str | None] = mapped_column(Text)
    control_index: Mapped[int | None] = mapped_column(Integer)
    control_text: Mapped[str | None] = mapped_column(Text)
    control_class: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str | None] = mapped_column(String(64))
    fid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    items: Mapped[Any] = mapped_column(Data())
    cadence: Mapped[Any] = mapped_column(Data())
    assignee: Mapped[Any] = mapped_column(Data())
    starts_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean)
    row_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(200))


class InspectionShutdownRow(Base):
    """A 停用/检修 record of a unit: its tasks (and its descendants') are suspended from start to end."""

    __tablename__ = "inspection_shutdowns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    unit_code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))


class InspectionCheckpointRow(Base):
    """A QR checkpoint of a post or piece of equipment: only the SHA-256 of its token is kept; reissuing retires the
    row (the old plate stops working) and adds a new one."""

    __tablename__ = "inspection_checkpoints"
    __table_args__ = (Index("ix_inspection_checkpoints_unit", "enterprise_id", "unit_code", "retired_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    unit_code: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str | None] = mapped_column(String(200))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InspectionRecordRow(Base):
    """A check record, appended and never updated: a correction is a new row naming the one it corrects."""

    __tablename__ = "inspection_records"
    __table_args__ = (Index("ix_inspection_records_window", "enterprise_id", "task_id", "window_start"),
                      Index("ix_inspection_records_checked", "enterprise_id", "checked_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("inspection_tasks.id"))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    person: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    device: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[Any] = mapped_column(Data())
    status: Mapped[int] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_records.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_checkpoints.id"))


class InspectionPhotoRow(Base):
    """A photo of one answered item of a check record (at most one per item): its metadata; the bytes are a file in
    the media folder (`path` relative to it), EXIF location kept here as data and stripped from what is served.
    `hazard_id`: the hidden hazard the failed item opened, which got the same photo (migration 0013)."""

    __tablename__ = "inspection_photos"
    __table_args__ = (UniqueConstraint("record_id", "item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("inspection_records.id"))
    item: Mapped[int] = mapped_column(Integer)                        # the checklist item, 1-based
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    gps: Mapped[Any] = mapped_column(Data(), nullable=True)
    taken_at: Mapped[str | None] = mapped_column(String(32))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str | None] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    hazard_id: Mapped[str | None] = mapped_column(String(200))


# ---------------------------------------------------------------------------------------------- hidden hazards
# (riskmap.hazards: the record and its loop; riskmap.store.hazards reads and writes these rows; migration 0008)


class HazardRow(Base):
    """A hidden hazard as it is now (the national 隐患信息 fields, where it is, its plan, its state); `version` is the
    row's edit counter (its ETag). What happened to it is in `hazard_events`; dangerState is derived, not kept."""

    __tablename__ = "hazards"
    __table_args__ = (Index("ix_hazards_enterprise_state", "enterprise_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    uid: Mapped[str] = mapped_column(String(36), unique=True)        # national `id`, fixed forever
    state: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)                      # dangerLevel 0 / 1
    item: Mapped[str | None] = mapped_column(String(64))              # determination item (reference data)
    source: Mapped[int] = mapped_column(Integer)                     # dangerSrc
    hazard_type: Mapped[int] = mapped_column(Integer)                # hazardDangerType
    manage_type: Mapped[int] = mapped_column(Integer)                # dangerManageType
    category: Mapped[int] = mapped_column(Integer)                   # hazardCategory
    management_classification: Mapped[int | None] = mapped_column(Integer)
    occurrence_link: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(Text)
    rectification_measures: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[str | None] = mapped_column(String(64))              # exact decimal as text (yuan)
    liable_person: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[date | None] = mapped_column(Date)              # a Beijing date
    department: Mapped[str | None] = mapped_column(String(200))
    unit_code: Mapped[str | None] = mapped_column(Text)
    risk_event_code: Mapped[str | None] = mapped_column(Text)
    control_index: Mapped[int | None] = mapped_column(Integer)
    fid: Mapped[str | None] = mapped_column(Text)
    hazard_code: Mapped[str | None] = mapped_column(String(200))
    check_record_id: Mapped[str | None] = mapped_column(String(200))
    geometry: Mapped[Any] = mapped_column(LonLatGeometry(), nullable=True)
    registrant: Mapped[str | None] = mapped_column(String(200))
    registrant_id: Mapped[int | None] = mapped_column(Integer)        # account ids as the workflow saw them
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rectifier: Mapped[str | None] = mapped_column(String(200))
    rectifier_id: Mapped[int | None] = mapped_column(Integer)
    rectification_note: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[Any] = mapped_column(Data(), nullable=True)
    accept_person: Mapped[str | None] = mapped_column(String(200))
    accept_person_id: Mapped[int | None] = mapped_column(Integer)
    accept_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accept_comment: Mapped[str | None] = mapped_column(Text)
    extension: Mapped[Any] = mapped_column(Data(), nullable=True)    # a pending extension request
    comments: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Reported from the phone page by someone not signed in: withheld from everything published (tiles, lists for
    # readers, the unit page, exports) until a manager confirms it.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class HazardReportRow(Base):
    """One anonymous report from the phone page: where from (the address, as the rate limit counts it) and when;
    kept in the database so that every host of the service counts the same."""

    __tablename__ = "hazard_reports"
    __table_args__ = (Index("ix_hazard_reports_address", "address", "at"),
                      Index("ix_hazard_reports_enterprise", "enterprise_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"))


class HazardEventRow(Base):
    """One step of a hazard's timeline: who, when, which transition, why, what changed; never updated."""

    __tablename__ = "hazard_events"
    __table_args__ = (Index("ix_hazard_events_enterprise", "enterprise_id", "id"),)     # the layer's mark (0017)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    changed: Mapped[Any] = mapped_column(Data())                     # {field: [before, after]}
    version: Mapped[int] = mapped_column(Integer)                    # the hazard's version after the step
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))


class HazardPhotoRow(Base):
    """A photo of a hazard (before / after): its metadata; the bytes are a file in the media folder (`path`
    relative to it), EXIF location kept here as data and stripped from what is served."""

    __tablename__ = "hazard_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))                   # before | after
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    gps: Mapped[Any] = mapped_column(Data(), nullable=True)          # {"lon", "lat", "alt"?} from EXIF
    taken_at: Mapped[str | None] = mapped_column(String(32))         # EXIF DateTimeOriginal as written
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str | None] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_events.id"))

# ---------------------------------------------------------------------------------------------- organisations
# (riskmap.orgs: the rules; riskmap.store.orgs reads and writes these rows; migration 0010_orgs)


class ParkRow(Base):
    """A chemical park (化工园区) in a division (GB/T 2260)."""

    __tablename__ = "parks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    division_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EnterpriseProfileRow(Base):
    """An enterprise's profile: its codes, industry, address, location, division and park (riskmap.orgs.model)."""

    __tablename__ = "enterprise_profiles"
    __table_args__ = (Index("ix_enterprise_profiles_division", "division_code"),)

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), primary_key=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    hazchem_code: Mapped[str | None] = mapped_column(String(9))
    industry: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    lon: Mapped[float | None] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)
    division_code: Mapped[str] = mapped_column(String(6))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegulatorRow(Base):
    """A regulator (监管部门): of a division (level province, city or county) or of a park (level park)."""

    __tablename__ = "regulators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    division_code: Mapped[str | None] = mapped_column(String(6))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegulatorAccountRow(Base):
    """An account of a regulator (its `enterprise_id` is NULL): it reads the enterprises of the regulator's scope."""

    __tablename__ = "regulator_accounts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    regulator_id: Mapped[int] = mapped_column(ForeignKey("regulators.id"), index=True)


class SupervisionRow(Base):
    """A supervision record (挂牌督办) of a major hazard by a regulator: level, document number, deadline, status."""

    __tablename__ = "supervisions"
    __table_args__ = (Index("ix_supervisions_enterprise_status", "enterprise_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"))
    regulator_id: Mapped[int] = mapped_column(ForeignKey("regulators.id"))
    level: Mapped[str] = mapped_column(String(16))
    document_number: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegulatorAuditRow(Base):
    """One request of a regulator's account into enterprise data (reads included) or a supervision write: who,
    which regulator, which enterprise (NULL: several at once, such as the overview; `enterprises` says how many),
    the route, when and the answer's status. Written once per request, after the answer
    (riskmap.store.regulator_audit)."""

    __tablename__ = "regulator_audit"
    __table_args__ = (Index("ix_regulator_audit_regulator_at", "regulator_id", "at"),
                      Index("ix_regulator_audit_enterprise_at", "enterprise_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    regulator_id: Mapped[int] = mapped_column(ForeignKey("regulators.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    enterprises: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    write: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(16))


def index_applies(index: Index, dialect_name: str) -> bool:
    """Whether an index exists on a dialect (GiST only on PostgreSQL)."""
    dialects = index.info.get(DIALECTS)
    return dialects is None or dialect_name in dialects


for _table in Base.metadata.tables.values():
    for _index in _table.indexes:
        if DIALECTS in _index.info:
            _index.ddl_if(dialect=tuple(_index.info[DIALECTS]))
