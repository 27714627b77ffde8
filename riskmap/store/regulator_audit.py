"""The regulators' access records: every request a regulator's account makes into enterprise data (reads
included) and every supervision write, one row each in `regulator_audit`, and who may read which of them.

The rows live in the database, not in a process or a log file: several `riskmap serve` hosts write into one
table, and a host may be lost at any time without losing what was already answered. One INSERT a request
(the regulator is found inside that statement), written after the answer by riskmap.api.access_log.

Who reads them (`entries_for`): an operator (riskmap.people.OPERATOR_ROLES) every row; a regulator's account the rows
of its own regulator's accounts; an enterprise's administrator the rows about its enterprise (who from which
regulator read what of it, and when). On PostGIS the table is under the row-security policy: a request narrowed to
one enterprise reads only that enterprise's rows whatever the query says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from riskmap import clock
from riskmap.errors import InputError, NotFoundError
from riskmap.people import Principal
from riskmap.store import scope
from riskmap.store.rows import enterprise_id
from riskmap.store.schema import AccountRow, EnterpriseRow, RegulatorAccountRow, RegulatorAuditRow, RegulatorRow
from riskmap.store.types import utcnow

if TYPE_CHECKING:
    from riskmap.store.repository import Store

MAX_LIMIT = 1000


def record(store: Store, *, account_id: int, enterprise_id: int | None, enterprises: int, method: str, route: str,
           path: str, status: int, via: str, at: datetime | None = None) -> None:
    """One access record of a regulator's account (its regulator as it is now, looked up in the same INSERT)."""
    regulator = (select(RegulatorAccountRow.regulator_id).where(RegulatorAccountRow.account_id == account_id)
                 .scalar_subquery())
    with store.session(write=True) as s:
        s.execute(insert(RegulatorAuditRow).values(
            at=at or utcnow(), account_id=account_id, regulator_id=regulator, enterprise_id=enterprise_id,
            enterprises=enterprises, method=method[:8], route=route[:200], path=path[:300], status=int(status),
            write=method not in ("GET", "HEAD", "OPTIONS"), via=(via or "")[:16]))


LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def moment_of(value: datetime | str | None, name: str) -> datetime | None:
    """A filter's moment (a datetime, or its ISO 8601 text as riskmap.clock.parse_moment reads it): without a zone
    it is Beijing time, as the people who ask read the clock; InputError for bad text or a moment out of range."""
    if value is None:
        return None
    bad = InputError(f"{name} 应为 1990 年以后的日期或时间（如 2026-12-01 或 2026-12-01T08:00）/ {name} must be a "
                     f"date or a time after 1990 (as 2026-12-01 or 2026-12-01T08:00), not {str(value)[:40]!r}")
    try:
        moment = clock.parse_moment(value) if isinstance(value, str) else value
    except (ValueError, OverflowError):
        raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.LOCAL_ZONE)
    future = InputError(f"{name} 过于遥远的未来（{str(value)[:40]}）/ {name} is too far in the future: "
                        f"{str(value)[:40]!r}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:              # the calendar's end (or its start) crossed in UTC
        raise (future if moment.year > 5000 else bad) from None
    if utc < clock.EARLIEST:
        raise bad
    if utc > LATEST:
        raise future
    return moment


def entries(store: Store, *, regulator: str | None = None, account: str | None = None,
            enterprise: str | None = None, since: datetime | str | None = None, until: datetime | str | None = None,
            limit: int = 100, enterprise_ids: frozenset[int] | None = None) -> list[dict]:
    """The records, newest first, filtered: a regulator (name), an account (a regulator account's login), an
    enterprise (name), from `since` (inclusive) to `until` (exclusive); `enterprise_ids` narrows to rows about
    those enterprises. NotFoundError for a regulator, account or enterprise that does not exist."""
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise InputError(f"limit 应在 1 到 {MAX_LIMIT} 之间 / limit must be between 1 and {MAX_LIMIT}")
    since, until = moment_of(since, "from"), moment_of(until, "to")
    if since is not None and until is not None and since >= until:
        raise InputError("起始时间应早于结束时间 / from must be earlier than to")
    with store.session() as s:
        query = (select(RegulatorAuditRow, RegulatorRow.name, EnterpriseRow.name)
                 .join(RegulatorRow, RegulatorRow.id == RegulatorAuditRow.regulator_id)
                 .outerjoin(EnterpriseRow, EnterpriseRow.id == RegulatorAuditRow.enterprise_id))
        if regulator is not None:
            reg_id = s.execute(select(RegulatorRow.id).where(RegulatorRow.name == regulator.strip())).scalar()
            if reg_id is None:
                raise NotFoundError(f"没有监管机构 “{regulator[:100]}” / no regulator named {regulator[:100]!r}")
            query = query.where(RegulatorAuditRow.regulator_id == reg_id)
        if account is not None:
            with scope.service(), store.session() as s2:       # accounts of regulators have no enterprise
                acc_id = s2.execute(select(AccountRow.id)
                                    .join(RegulatorAccountRow, RegulatorAccountRow.account_id == AccountRow.id)
                                    .where(AccountRow.login == account.strip())).scalar()
            if acc_id is None:
                raise NotFoundError(f"没有登录名为 “{account[:64]}” 的监管账户 / no regulator's account with the "
                                    f"login {account[:64]!r}")
            query = query.where(RegulatorAuditRow.account_id == acc_id)
        if enterprise is not None:
            query = query.where(RegulatorAuditRow.enterprise_id == enterprise_id(s, enterprise, create=False))
        if enterprise_ids is not None:
            query = query.where(RegulatorAuditRow.enterprise_id.in_(enterprise_ids) if enterprise_ids else False)
        if since is not None:
            query = query.where(RegulatorAuditRow.at >= since)
        if until is not None:
            query = query.where(RegulatorAuditRow.at < until)
        found = [{"id": r.id, "at": r.at, "account_id": r.account_id, "regulator": reg, "enterprise": ent,
                  "enterprises": r.enterprises, "method": r.method, "route": r.route, "path": r.path,
                  "status": r.status, "write": bool(r.write), "via": r.via}
                 for r, reg, ent in s.execute(query.order_by(RegulatorAuditRow.id.desc()).limit(int(limit)))]
    ids = {r["account_id"] for r in found}
    with scope.service(), store.session() as s:       # the names of the accounts (of no enterprise) beside them
        people = {i: (login, name) for i, login, name in s.execute(
            select(AccountRow.id, AccountRow.login, AccountRow.name).where(AccountRow.id.in_(ids)))} if ids else {}
    for r in found:
        r["login"], r["account"] = people[r.pop("account_id")]
    return found


def entries_for(store: Store, who: Principal, **filters) -> list[dict]:
    """The records `who` may read (see the module docstring), filtered as `entries`: a regulator's account is
    held to its own regulator, an enterprise's account to its own enterprise."""
    if who.regulator is not None:
        asked = filters.get("regulator")
        if asked is not None and asked.strip() != who.regulator:
            return []
        return entries(store, **{**filters, "regulator": who.regulator})
    if who.enterprise is not None:
        with store.session() as s:
            own = enterprise_id(s, who.enterprise, create=False)
        return entries(store, **filters, enterprise_ids=frozenset({own}))
    return entries(store, **filters)
