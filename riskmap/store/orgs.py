"""Organisations' rows (riskmap.orgs holds the rules): parks, enterprise profiles, regulators and their accounts,
supervision records, a regulator's scope and the counts of its overview.

- Everything is checked before anything is written (the division exists, the park lies in it, the credit code is
  well formed and nobody else's), and each change is one transaction: a refused change leaves nothing behind.
- `readable_enterprise_ids` is the one answer to "which enterprises may this account read": its own enterprise; for
  an account of a regulator the enterprises of its division (and every division inside it, by the GB/T 2260 code
  prefix) or of its park; None (every enterprise) for the service's own machine accounts. Pure store, no web: the
  request scope (riskmap.store.scope) and the permission check call it.
- The overview's counts are one SQL query per measure over all enterprises of a scope (grouped by enterprise), so
  that a division of a thousand enterprises is counted in a few statements, not a thousand.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from riskmap import clock
from riskmap.errors import AlreadyExistsError, InputError, NotFoundError
from riskmap.hazards.model import OPEN_STATES
from riskmap.orgs import divisions, model
from riskmap.store import accounts
from riskmap.store.audit import record_change
from riskmap.store.mapdata import MapFeatureRow
from riskmap.store.rows import clean_enterprise_name, enterprise_id
from riskmap.store.schema import (
    AccountRow,
    DataVersionRow,
    EnterpriseProfileRow,
    EnterpriseRow,
    HazardRow,
    InspectionRecordRow,
    ParkRow,
    RegulatorAccountRow,
    RegulatorRow,
    SupervisionRow,
)
from riskmap.store.types import utcnow

if TYPE_CHECKING:
    from riskmap.store.repository import Store

LEVEL_RANK = {"major": 4, "significant": 3, "general": 2, "low": 1}
RANK_LEVEL = {v: k for k, v in LEVEL_RANK.items()}


# ---------------------------------------------------------------------------------------------- parks


def _park(s: Session, name: str) -> ParkRow:
    row = s.execute(select(ParkRow).where(ParkRow.name == (name or "").strip())).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"没有园区 “{str(name)[:100]}” / no park named {str(name)[:100]!r}")
    return row


def _park_info(row: ParkRow) -> dict:
    return {"id": row.id, "name": row.name, "division_code": row.division_code,
            "division": divisions.full_name(row.division_code)}


def add_park(store: Store, name: str, division_code: str) -> dict:
    """A new chemical park in a division; AlreadyExistsError for a name taken."""
    name = model.clean_text(name, "园区名称", "the park's name", required=True)
    code = divisions.division(division_code).code
    with store.session(write=True) as s:
        if s.execute(select(ParkRow.id).where(ParkRow.name == name)).first() is not None:
            raise AlreadyExistsError(f"园区 “{name}” 已存在 / the park {name!r} exists")
        row = ParkRow(name=name, division_code=code, created_at=utcnow())
        s.add(row)
        s.flush()
        return _park_info(row)


def list_parks(store: Store) -> list[dict]:
    """Every park."""
    with store.session() as s:
        return [_park_info(r) for r in s.execute(select(ParkRow).order_by(ParkRow.id)).scalars()]


# ---------------------------------------------------------------------------------------------- enterprises


def _profile_info(s: Session, name: str, row: EnterpriseProfileRow | None) -> dict:
    park = s.get(ParkRow, row.park_id) if row is not None and row.park_id is not None else None
    if row is None:
        return {"name": name, "credit_code": None, "hazchem_code": None, "industry": None, "address": None,
                "lon": None, "lat": None, "division_code": None, "division": None, "park": None}
    return {"name": name, "credit_code": row.credit_code, "hazchem_code": row.hazchem_code,
            "industry": row.industry, "address": row.address, "lon": row.lon, "lat": row.lat,
            "division_code": row.division_code, "division": divisions.full_name(row.division_code),
            "park": park.name if park is not None else None}


def set_profile(store: Store, enterprise: str, *, create: bool = False, by: Any = None, reason: str | None = None,
                **fields) -> dict:
    """Write an enterprise's profile (riskmap.orgs.model.check_profile's fields; `park` by name): a new enterprise
    with `create`, else an existing one (NotFoundError). Checked whole before anything is written."""
    profile = model.check_profile(**fields)
    name = clean_enterprise_name(enterprise)
    with store.session() as s:       # the checks that need the database, before the writing transaction
        found = enterprise_id(s, name, create=False, missing_ok=True)
        if found is None and not create:
            enterprise_id(s, name, create=False)          # the usual NotFoundError
        if found is not None and create:
            raise AlreadyExistsError(f"企业 “{name}” 已存在（改用 org move 或 org set）/ "
                                     f"the enterprise {name!r} exists")
    with store.transaction(name, create=create) as w:
        w.refresh_map = False
        s = w.session
        park_id = None
        if profile.park is not None:
            park = _park(s, profile.park)
            model.check_park_fits(profile.division_code, park.name, park.division_code)
            park_id = park.id
        if profile.credit_code is not None:
            other = s.execute(select(EnterpriseRow.name).join(
                EnterpriseProfileRow, EnterpriseProfileRow.enterprise_id == EnterpriseRow.id).where(
                EnterpriseProfileRow.credit_code == profile.credit_code,
                EnterpriseProfileRow.enterprise_id != w.enterprise_id)).scalar_one_or_none()
            if other is not None:
                raise AlreadyExistsError(f"统一社会信用代码 {profile.credit_code} 已属于企业 “{other}” / "
                                         f"the credit code {profile.credit_code} belongs to {other!r}")
        row = s.get(EnterpriseProfileRow, w.enterprise_id)
        before = _profile_info(s, name, row)
        if row is None:
            row = EnterpriseProfileRow(enterprise_id=w.enterprise_id)
            s.add(row)
        row.credit_code, row.hazchem_code = profile.credit_code, profile.hazchem_code
        row.industry, row.address, row.lon, row.lat = profile.industry, profile.address, profile.lon, profile.lat
        row.division_code, row.park_id, row.updated_at = profile.division_code, park_id, utcnow()
        s.flush()
        after = _profile_info(s, name, row)
        record_change(w, "enterprise.profile", collection="organisation", items=[name],
                      author=by, reason=reason,
                      detail={k: [before[k], after[k]] for k in after if before[k] != after[k]})
        return after


def move_enterprise(store: Store, enterprise: str, *, division_code: str | None = None, park: str | None = None,
                    no_park: bool = False, by: Any = None, reason: str | None = None) -> dict:
    """Move an enterprise to another division and/or park (the rest of its profile stays)."""
    now = profile(store, enterprise)
    if now["division_code"] is None and division_code is None:
        raise InputError(f"企业 “{enterprise}” 还没有行政区划，请给出 --division / {enterprise!r} has no division yet: "
                         "give one")
    fields = {k: now[k] for k in ("credit_code", "hazchem_code", "industry", "address", "lon", "lat")}
    fields["division_code"] = division_code or now["division_code"]
    fields["park"] = None if no_park else (park if park is not None else now["park"])
    return set_profile(store, enterprise, by=by, reason=reason, **fields)


def profile(store: Store, enterprise: str) -> dict:
    """An enterprise's profile (fields None when it has none yet); NotFoundError for an unknown enterprise."""
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        name = s.get(EnterpriseRow, ent_id).name
        return _profile_info(s, name, s.get(EnterpriseProfileRow, ent_id))


def list_enterprises(store: Store, ids: frozenset[int] | None = None) -> list[dict]:
    """The enterprises (of `ids`, None: all) with their profiles and data versions, by name."""
    with store.session() as s:
        query = select(EnterpriseRow, EnterpriseProfileRow, DataVersionRow.version).outerjoin(
            EnterpriseProfileRow, EnterpriseProfileRow.enterprise_id == EnterpriseRow.id).outerjoin(
            DataVersionRow, DataVersionRow.enterprise_id == EnterpriseRow.id).order_by(EnterpriseRow.name)
        if ids is not None:
            query = query.where(EnterpriseRow.id.in_(ids) if ids else False)
        return [{"id": e.id, **_profile_info(s, e.name, p), "data_version": v or 0} for e, p, v in s.execute(query)]


# ---------------------------------------------------------------------------------------------- regulators


def _regulator(s: Session, name: str) -> RegulatorRow:
    row = s.execute(select(RegulatorRow).where(RegulatorRow.name == (name or "").strip())).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"没有监管机构 “{str(name)[:100]}” / no regulator named {str(name)[:100]!r}")
    return row


def _regulator_info(s: Session, row: RegulatorRow) -> dict:
    park = s.get(ParkRow, row.park_id) if row.park_id is not None else None
    return {"id": row.id, "name": row.name, "level": row.level, "division_code": row.division_code,
            "division": divisions.full_name(row.division_code) if row.division_code else None,
            "park": park.name if park is not None else None}


def add_regulator(store: Store, name: str, *, level: str, division_code: str | None = None,
                  park: str | None = None) -> dict:
    """A new regulator of a division (level province, city, county: the division's) or of a park (level park)."""
    name = model.clean_text(name, "监管机构名称", "the regulator's name", required=True)
    level, code = model.check_regulator(level=level, division_code=division_code, park=park)
    with store.session(write=True) as s:
        park_id = _park(s, park).id if park else None
        if s.execute(select(RegulatorRow.id).where(RegulatorRow.name == name)).first() is not None:
            raise AlreadyExistsError(f"监管机构 “{name}” 已存在 / the regulator {name!r} exists")
        row = RegulatorRow(name=name, level=level, division_code=code, park_id=park_id, created_at=utcnow())
        s.add(row)
        s.flush()
        return _regulator_info(s, row)


def list_regulators(store: Store) -> list[dict]:
    """Every regulator."""
    with store.session() as s:
        return [_regulator_info(s, r) for r in s.execute(select(RegulatorRow).order_by(RegulatorRow.id)).scalars()]


def regulator(store: Store, name: str) -> dict:
    """One regulator by name (NotFoundError)."""
    with store.session() as s:
        return _regulator_info(s, _regulator(s, name))


def add_regulator_account(store: Store, regulator_name: str, *, name: str, login: str, password: str | None,
                          roles=("regulator_viewer",), by: Any = None, **extra) -> dict:
    """An account of a regulator (roles from riskmap.people.REGULATOR_ROLES)."""
    with store.session() as s:
        reg_id = _regulator(s, regulator_name).id
    return accounts.create_account(store, None, name=name, login=login, password=password, roles=roles, by=by,
                                   regulator_id=reg_id, **extra)


def regulator_accounts(store: Store, regulator_name: str) -> list[dict]:
    """The accounts of a regulator (disabled ones included); NotFoundError for an unknown regulator."""
    regulator(store, regulator_name)
    return [a for a in accounts.list_accounts(store, None) if a["regulator"] == regulator_name.strip()]


def regulator_account(store: Store, regulator_name: str, who: int | str) -> dict:
    """One account of a regulator by login, or else by id; NotFoundError for an unknown regulator, and for an
    account that is not this regulator's (another regulator's, an enterprise's, the service's own)."""
    key = str(who).strip()
    found = regulator_accounts(store, regulator_name)
    match = next((a for a in found if a["login"] == key), None)
    if match is None and key.isdigit():
        match = next((a for a in found if a["id"] == int(key)), None)
    if match is None:
        raise NotFoundError(f"监管机构 “{regulator_name.strip()}” 没有登录名或编号为 “{key[:64]}” 的账户 / the "
                            f"regulator {regulator_name.strip()!r} has no account with login or id {key[:64]!r}")
    return match


def move_regulator_account(store: Store, regulator_name: str, who: int | str, to_regulator: str, *,
                           by: Any = None) -> dict:
    """Move an account of a regulator to another regulator (its sessions end: riskmap.store.accounts)."""
    found = regulator_account(store, regulator_name, who)
    with store.session() as s:
        to_id = _regulator(s, to_regulator).id
        if s.get(RegulatorAccountRow, found["id"]).regulator_id == to_id:
            raise InputError(f"账户已属于监管机构 “{to_regulator.strip()}” / the account already belongs to "
                             f"{to_regulator.strip()!r}")
    accounts.move_to_regulator(store, found["id"], to_id, by=by)
    return accounts.get_account(store, None, found["id"])


# ---------------------------------------------------------------------------------------------- scope


def _scope_condition(s: Session, reg: RegulatorRow):
    """The SQL condition on enterprise_profiles of a regulator's scope."""
    if reg.park_id is not None:
        return EnterpriseProfileRow.park_id == reg.park_id
    return EnterpriseProfileRow.division_code.like(divisions.prefix(reg.division_code) + "%")


def scope_ids(store: Store, regulator_name: str) -> frozenset[int]:
    """The ids of the enterprises a regulator oversees."""
    with store.session() as s:
        reg = _regulator(s, regulator_name)
        return frozenset(s.execute(select(EnterpriseProfileRow.enterprise_id)
                                   .where(_scope_condition(s, reg))).scalars())


def scope_with_state(store: Store, regulator_name: str) -> tuple[frozenset[int], tuple]:
    """A regulator's enterprise ids (scope_ids) and what the overview of them depends on, read in one statement:
    each enterprise's data version (every write bumps it: the map snapshot, hazards, supervision, the profile) and
    the day (hazards fall overdue with it); a key for caching its answers. The overview asks for both on every
    request, its tiles included (the ids and then their versions by a thousand bound ids took ~20 ms at a thousand
    enterprises)."""
    with store.session() as s:
        reg = _regulator(s, regulator_name)
        pairs = sorted(s.execute(select(EnterpriseProfileRow.enterprise_id, func.coalesce(DataVersionRow.version, 0))
                                 .outerjoin(DataVersionRow, DataVersionRow.enterprise_id
                                            == EnterpriseProfileRow.enterprise_id)
                                 .where(_scope_condition(s, reg))).all())
    return frozenset(e for e, _ in pairs), (clock.today().isoformat(), hash(tuple(map(tuple, pairs))), len(pairs))


def readable_enterprise_ids(store: Store, account_id: int) -> frozenset[int] | None:
    """The enterprise ids an account may read: its own enterprise's; a regulator's account, the enterprises of its
    regulator's division (sub-divisions included) or park; None for a service account (every enterprise); an empty
    set for an operator's account (it administers the organisations and reads no enterprise's data,
    riskmap.people) and for an unknown or disabled account."""
    with store.session() as s:
        row = s.get(AccountRow, account_id)
        if row is None or row.disabled:
            return frozenset()
        if row.enterprise_id is not None:
            return frozenset({row.enterprise_id})
        reg = s.execute(select(RegulatorRow).join(RegulatorAccountRow, RegulatorAccountRow.regulator_id
                                                  == RegulatorRow.id)
                        .where(RegulatorAccountRow.account_id == account_id)).scalar_one_or_none()
        if reg is None:
            return frozenset() if accounts.kind_of(s, row) == "operator" else None
        return frozenset(s.execute(select(EnterpriseProfileRow.enterprise_id)
                                   .where(_scope_condition(s, reg))).scalars())


def organisations_in_scope(store: Store, account_id: int | None, ids: frozenset[int] | None) -> dict:
    """What an account's organisations are: its regulator (None for an enterprise's or the service's account), the
    enterprises `ids` (what readable_enterprise_ids answered for it: its own; a regulator's scope; None, every one,
    for the service's account) with their profiles, and the parks of its scope (a park regulator's park; a division
    regulator's the parks inside its division; otherwise the parks of those enterprises). `account_id` None: an
    anonymous reader of `ids`."""
    found = list_enterprises(store, ids)
    with store.session() as s:
        reg = None if account_id is None else s.execute(
            select(RegulatorRow).join(RegulatorAccountRow, RegulatorAccountRow.regulator_id == RegulatorRow.id)
            .where(RegulatorAccountRow.account_id == account_id)).scalar_one_or_none()
        info = _regulator_info(s, reg) if reg is not None else None
        park_id, division_code = (reg.park_id, reg.division_code) if reg is not None else (None, None)
        parks = [_park_info(r) for r in s.execute(select(ParkRow).order_by(ParkRow.id)).scalars()]
    if park_id is not None:
        parks = [p for p in parks if p["id"] == park_id]
    elif division_code is not None:
        parks = [p for p in parks if divisions.within(p["division_code"], division_code)]
    elif ids is not None:
        named = {e["park"] for e in found if e["park"]}
        parks = [p for p in parks if p["name"] in named]
    return {"regulator": info, "enterprises": found, "parks": parks}


def in_scope(store: Store, regulator_name: str, enterprise: str | None) -> bool:
    """Whether a regulator oversees the enterprise of that name."""
    if enterprise is None:
        return False
    with store.session() as s:
        ent_id = enterprise_id(s, enterprise, create=False, missing_ok=True)
        reg = s.execute(select(RegulatorRow).where(RegulatorRow.name == regulator_name)).scalar_one_or_none()
        if ent_id is None or reg is None:
            return False
        return s.execute(select(EnterpriseProfileRow.enterprise_id).where(
            EnterpriseProfileRow.enterprise_id == ent_id, _scope_condition(s, reg))).first() is not None


# ---------------------------------------------------------------------------------------------- supervision


def _supervision_info(s: Session, row: SupervisionRow) -> dict:
    hazard = s.get(HazardRow, row.hazard_id)
    return {"id": row.id, "enterprise": s.get(EnterpriseRow, row.enterprise_id).name,
            "hazard_id": row.hazard_id, "hazard_uid": hazard.uid, "hazard_name": hazard.name,
            "regulator": s.get(RegulatorRow, row.regulator_id).name, "level": row.level,
            "document_number": row.document_number, "deadline": row.deadline, "status": row.status,
            "status_zh": model.SUPERVISION_STATUS_ZH[row.status], "note": row.note,
            "created_at": row.created_at, "created_by": row.created_by, "updated_at": row.updated_at}


def add_supervision(store: Store, regulator_name: str, enterprise: str, hazard_id: int, *, by: Any = None,
                    **fields) -> dict:
    """A supervision record (挂牌督办) of a major open hazard of an enterprise in the regulator's scope."""
    record = model.check_supervision(**fields)
    if not in_scope(store, regulator_name, enterprise):
        raise NotFoundError(f"企业 “{str(enterprise)[:100]}” 不在 “{regulator_name}” 的监管范围内 / {enterprise!r} is "
                            f"not in the scope of {regulator_name!r}")
    with store.transaction(enterprise, create=False) as w:
        w.refresh_map = False
        s = w.session
        hazard = s.execute(select(HazardRow).where(HazardRow.enterprise_id == w.enterprise_id,
                                                   HazardRow.id == int(hazard_id))).scalar_one_or_none()
        if hazard is None:
            raise NotFoundError(f"企业没有编号为 {hazard_id} 的隐患 / the enterprise has no hazard {hazard_id}")
        if hazard.level != 1:
            raise InputError("只有重大事故隐患可以挂牌督办 / only a major hazard can be put under supervision")
        if hazard.state not in OPEN_STATES:
            raise InputError("该隐患已不在整改中（已验收、销号或驳回）/ the hazard is no longer open")
        now = utcnow()
        row = SupervisionRow(enterprise_id=w.enterprise_id, hazard_id=hazard.id,
                             regulator_id=_regulator(s, regulator_name).id, level=record.level,
                             document_number=record.document_number, deadline=record.deadline, status=record.status,
                             note=record.note, created_at=now, created_by=str(by) if by is not None else None,
                             updated_at=now)
        s.add(row)
        s.flush()
        record_change(w, "supervision.add", collection="supervisions", items=[str(row.id)], author=by,
                      detail={"hazard": hazard.uid, "level": record.level, "document_number": record.document_number,
                              "deadline": record.deadline.isoformat(), "regulator": regulator_name})
        return _supervision_info(s, row)


def set_supervision_status(store: Store, regulator_name: str, enterprise: str, supervision_id: int, status: str, *,
                           by: Any = None, note: str | None = None) -> dict:
    """Lift (or list again) a supervision record of the regulator."""
    status = model.check_status(status)
    note = model.clean_text(note, "说明", "the note", 2000)
    if not in_scope(store, regulator_name, enterprise):
        raise NotFoundError(f"企业 “{str(enterprise)[:100]}” 不在监管范围内 / {enterprise!r} is not in the scope")
    with store.transaction(enterprise, create=False) as w:
        w.refresh_map = False
        s = w.session
        row = s.execute(select(SupervisionRow).where(SupervisionRow.enterprise_id == w.enterprise_id,
                                                     SupervisionRow.id == int(supervision_id))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"没有督办记录 {supervision_id} / no supervision record {supervision_id}")
        before = row.status
        row.status, row.updated_at = status, utcnow()
        if note:
            row.note = note
        s.flush()
        record_change(w, "supervision.status", collection="supervisions", items=[str(row.id)], author=by,
                      detail={"status": [before, status]})
        return _supervision_info(s, row)


def supervisions(store: Store, ids: frozenset[int] | None) -> list[dict]:
    """The supervision records of the enterprises `ids` (None: all), newest first."""
    with store.session() as s:
        query = select(SupervisionRow).order_by(SupervisionRow.id.desc())
        if ids is not None:
            query = query.where(SupervisionRow.enterprise_id.in_(ids) if ids else False)
        return [_supervision_info(s, r) for r in s.execute(query).scalars()]


# ---------------------------------------------------------------------------------------------- overview


def _grouped(s: Session, query, ids) -> dict:
    if ids is not None:
        query = query.where(query.selected_columns[0].in_(ids))
    out: dict = {}
    for row in s.execute(query):
        out.setdefault(row[0], {})[row[1]] = row[2]
    return out


def overview_counts(store: Store, ids: frozenset[int] | None, *, today: date | None = None,
                    now: datetime | None = None) -> dict[int, dict]:
    """Per enterprise id: the highest region level, risks by level (the assessment units of the map snapshot by the
    level they are drawn in), open and overdue hazards by level (0 general, 1 major), inspection records of the last
    30 days, and open supervision records. A few grouped queries whatever the number of enterprises."""
    today = today or clock.today()
    now = now or utcnow()
    if ids is not None and not ids:
        return {}
    with store.session() as s:
        rank = case(*[(MapFeatureRow.level == k, v) for k, v in LEVEL_RANK.items()], else_=0)
        top = select(MapFeatureRow.enterprise_id, func.max(rank)).where(
            MapFeatureRow.layer == "regions", MapFeatureRow.geometry.is_not(None)).group_by(MapFeatureRow.enterprise_id)
        if ids is not None:
            top = top.where(MapFeatureRow.enterprise_id.in_(ids))
        highest = {e: RANK_LEVEL.get(r) for e, r in s.execute(top)}
        risks = _grouped(s, select(MapFeatureRow.enterprise_id, MapFeatureRow.level, func.count())
                         .where(MapFeatureRow.layer == "units", MapFeatureRow.geometry.is_not(None))
                         .group_by(MapFeatureRow.enterprise_id, MapFeatureRow.level), ids)
        open_states = [str(x) for x in OPEN_STATES]
        hazards = _grouped(s, select(HazardRow.enterprise_id, HazardRow.level, func.count())
                           .where(HazardRow.state.in_(open_states))
                           .group_by(HazardRow.enterprise_id, HazardRow.level), ids)
        overdue = _grouped(s, select(HazardRow.enterprise_id, HazardRow.level, func.count())
                           .where(HazardRow.state.in_(open_states), HazardRow.deadline < today)
                           .group_by(HazardRow.enterprise_id, HazardRow.level), ids)
        since = now - timedelta(days=30)
        checks = _grouped(s, select(InspectionRecordRow.enterprise_id, InspectionRecordRow.late, func.count())
                          .where(InspectionRecordRow.checked_at >= since)
                          .group_by(InspectionRecordRow.enterprise_id, InspectionRecordRow.late), ids)
        listed = _grouped(s, select(SupervisionRow.enterprise_id, SupervisionRow.status, func.count())
                          .where(SupervisionRow.status == "listed")
                          .group_by(SupervisionRow.enterprise_id, SupervisionRow.status), ids)
        keys = set(highest) | set(risks) | set(hazards) | set(checks) | set(listed)
        if ids is not None:
            keys |= set(ids)
        out = {}
        for e in keys:
            r, h, o, c = risks.get(e, {}), hazards.get(e, {}), overdue.get(e, {}), checks.get(e, {})
            out[e] = {"highest_level": highest.get(e),
                      "major_risks": r.get("major", 0), "significant_risks": r.get("significant", 0),
                      "open_general_hazards": h.get(0, 0), "open_major_hazards": h.get(1, 0),
                      "overdue_general_hazards": o.get(0, 0), "overdue_major_hazards": o.get(1, 0),
                      "checks_30d": sum(c.values()), "late_checks_30d": c.get(True, 0),
                      "listed_supervisions": listed.get(e, {}).get("listed", 0)}
        return out


def overview(store: Store, ids: frozenset[int] | None, *, completion=None, **filters) -> list[dict]:
    """The enterprises of `ids` with their profile and counts, filtered (division: a code whose sub-divisions are
    included; park, industry: exact; level: the highest region level; overdue: only those with an overdue hazard).
    `completion(name, data_version) -> float | None` gives the inspection completion of the last 30 days when asked
    for."""
    division = filters.get("division")
    prefix = divisions.prefix(divisions.division(division).code) if division else None
    chosen = []
    for ent in list_enterprises(store, ids):       # the profile filters first: only those are counted
        if prefix is not None and not (ent["division_code"] or "").startswith(prefix):
            continue
        if filters.get("park") and ent["park"] != filters["park"]:
            continue
        if filters.get("industry") and ent["industry"] != filters["industry"]:
            continue
        chosen.append(ent)
    counts = overview_counts(store, frozenset(e["id"] for e in chosen))
    out = []
    for ent in chosen:
        row = {**ent, **counts.get(ent["id"], overview_counts_empty())}
        if filters.get("level") and row["highest_level"] != filters["level"]:
            continue
        if filters.get("overdue") and not (row["overdue_general_hazards"] or row["overdue_major_hazards"]):
            continue
        row["inspection_completion"] = (completion(ent["name"], ent["data_version"]) if completion is not None
                                         else None)
        out.append(row)
    return out


def overview_counts_empty() -> dict:
    """The counts of an enterprise with nothing recorded."""
    return {"highest_level": None, "major_risks": 0, "significant_risks": 0, "open_general_hazards": 0,
            "open_major_hazards": 0, "overdue_general_hazards": 0, "overdue_major_hazards": 0, "checks_30d": 0,
            "late_checks_30d": 0, "listed_supervisions": 0}


def statistics(rows: list[dict]) -> dict:
    """Totals of overview rows: enterprises by highest level, and the sums of the counts."""
    by_level = {k: 0 for k in (*LEVEL_RANK, "none")}
    for r in rows:
        by_level[r["highest_level"] or "none"] += 1
    sums = {k: sum(r[k] for r in rows) for k in overview_counts_empty() if k != "highest_level"}
    return {"enterprises": len(rows), "by_level": by_level, **sums}


def inspection_completion(store: Store, enterprise: str, *, now: datetime | None = None) -> float | None:
    """The share of the last 30 days' inspection windows that were checked (done, late included) among those that
    ended or were checked (a window still open and unchecked is not counted); None without any."""
    from riskmap.inspections import store as inspection_store

    now = now or utcnow()
    found, _ = inspection_store.due(store, enterprise, now - timedelta(days=30), now, now=now)
    counted = [o for o in found if o.state in ("done", "missed")]
    if not counted:
        return None
    return round(sum(o.state == "done" for o in counted) / len(counted), 4)


def import_enterprises(store: Store, records: list[dict], *, by: Any = None, problems=()) -> dict:
    """Enterprises read by riskmap.orgs.csvfile: every line checked against the database first (its park exists and
    fits its division, its credit code is nobody else's); then each written (a new enterprise, or the profile of
    an existing one). Nothing is written when a line fails; `problems` are those the file's reading found, reported
    with these (by line)."""
    problems = list(problems)
    with store.session() as s:
        for r in records:
            try:
                if r["park"] is not None:
                    park = _park(s, r["park"])
                    model.check_park_fits(r["division_code"], park.name, park.division_code)
                if r["credit_code"] is not None:
                    other = s.execute(select(EnterpriseRow.name).join(
                        EnterpriseProfileRow, EnterpriseProfileRow.enterprise_id == EnterpriseRow.id).where(
                        EnterpriseProfileRow.credit_code == r["credit_code"])).scalar_one_or_none()
                    if other is not None and other != r["name"]:
                        raise AlreadyExistsError(f"统一社会信用代码 {r['credit_code']} 已属于企业 “{other}” / "
                                                 f"the credit code belongs to {other!r}")
            except (InputError, NotFoundError) as exc:
                problems.append(f"第 {r['line']} 行 / line {r['line']}: {exc.message}")
        existing = {e["name"] for e in list_enterprises(store)}
    if problems:
        problems.sort(key=lambda p: int(p.split()[1]) if p.split()[1].isdigit() else 0)
        raise InputError(f"CSV 有 {len(problems)} 处错误，未导入任何企业 / {len(problems)} problems, nothing imported: "
                         + "; ".join(problems[:20]) + (" …" if len(problems) > 20 else ""), details=problems)
    added = updated = 0
    for r in records:
        fields = {k: r[k] for k in ("division_code", "credit_code", "hazchem_code", "industry", "address", "lon",
                                    "lat", "park")}
        new = r["name"] not in existing
        set_profile(store, r["name"], create=new, by=by, reason="CSV", **fields)
        added, updated = added + new, updated + (not new)
    return {"added": added, "updated": updated}
