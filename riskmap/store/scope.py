"""Which enterprises the current work may read: the one place isolation is scoped, and how PostGIS enforces it.

`current()` is the scope of the work running now: a frozenset of enterprise ids, `ALL` (the service's own work:
the CLI, migrations, the demo, a test's setup) or `NOTHING`. Work that never set a scope is the service's own
(ALL); the HTTP service starts every request with NOTHING (`request_scope()`) and the tenant dependency
(riskmap.api.deps) narrows it to the request's enterprise (`narrow`), through `ids_readable_by` — the one place
that says which enterprises an account may read (a regulator's list of enterprises goes there). The tile service
(riskmap.render.tilecache), which resolves a tile's enterprise itself, narrows the same way.

On PostgreSQL every transaction carries the scope: `install(engine)` runs `set_config('riskmap.scope', …, true)`
when a transaction begins, and the row-level security policies of migration 0014 (`policy_sql`) let a row through
only when its `enterprise_id` is in the scope, or the scope is "all"; an unset or empty scope lets nothing
through, so a query that forgot its enterprise filter returns nothing rather than another enterprise's rows.
PostgreSQL skips these policies for superusers and roles with BYPASSRLS (the tables FORCE them on their owner), so
the service connects as a role of its own (riskmap.store.roles.grant_service_role).

On SQLite nothing is set and nothing enforced by the database: there isolation is the code's own filter (every
query of enterprise data names its enterprise_id).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, event

SETTING: Final = "riskmap.scope"       # the PostgreSQL setting the policies read
ALL: Final = "all"                     # every enterprise: the service's own work
NOTHING: frozenset[int] = frozenset()  # no enterprise: an HTTP request before its tenant is known

Scope = frozenset[int] | str


@dataclass
class _Holder:
    """A request's scope, mutable so that a dependency run in a worker thread (which gets a copy of the context,
    sharing this object) narrows the scope of the whole request."""

    value: Scope
    request: bool = False          # an HTTP request's (narrowed once its tenant is known), not a scoped() block


_current: ContextVar[_Holder | None] = ContextVar("riskmap_scope", default=None)


def current() -> Scope:
    """The scope of the work running now (ALL when nothing set one)."""
    holder = _current.get()
    return ALL if holder is None else holder.value


def checked(value: Scope | Iterable[int]) -> Scope:
    """ALL, or a frozenset of integer enterprise ids (anything else is a ValueError)."""
    if value == ALL:
        return ALL
    if isinstance(value, str):
        raise ValueError(f"not a scope: {value!r}")
    ids = frozenset(value)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValueError(f"enterprise ids must be integers: {sorted(map(repr, ids))}")
    return ids


@contextmanager
def scoped(value: Scope | Iterable[int]) -> Iterator[Scope]:
    """Run a block with this scope (the previous one comes back after it)."""
    value = checked(value)
    token = _current.set(_Holder(value))
    try:
        yield value
    finally:
        _current.reset(token)


@contextmanager
def service() -> Iterator[Scope]:
    """The service's own work inside a request: reading credentials, writing a refusal to the audit trail."""
    with scoped(ALL) as value:
        yield value


@contextmanager
def request_scope() -> Iterator[None]:
    """One HTTP request: it reads NOTHING until `narrow` names its enterprises."""
    token = _current.set(_Holder(NOTHING, request=True))
    try:
        yield
    finally:
        _current.reset(token)


def narrow(value: Scope | Iterable[int]) -> Scope:
    """Set the scope of the current HTTP request to `value` (its tenant is known); outside a request (the CLI, a
    test, a `scoped` block) nothing changes. Returns the scope now current."""
    value = checked(value)
    holder = _current.get()
    if holder is not None and holder.request:
        holder.value = value
    return current()


def ids_readable_by(enterprise_id: int, principal: object | None = None) -> frozenset[int]:
    """The enterprise ids a request on `enterprise_id` may read, for its principal (None: anonymous reading).

    Today: that enterprise alone. A regulator's principal widens this to the enterprises it oversees — the one
    place to do so."""
    return frozenset({int(enterprise_id)})


def setting_of(value: Scope) -> str:
    """The text of the `riskmap.scope` setting: "all", "" (nothing) or comma-separated ids."""
    if value == ALL:
        return ALL
    return ",".join(str(int(i)) for i in sorted(value))


def install(engine: Engine) -> None:
    """Every transaction on this (PostgreSQL) engine starts by setting `riskmap.scope` to `current()`, local to
    the transaction (so a pooled connection never carries one request's scope into another's)."""

    @event.listens_for(engine, "begin")
    def _set_scope(conn):
        conn.exec_driver_sql("SELECT set_config(%(name)s, %(value)s, true)",
                             {"name": SETTING, "value": setting_of(current())})


# ------------------------------------------------------------------------------------------ the database side

# The scope as the policies read it: NULL (never set) and "" give an empty array, so no row passes.
_IDS = f"string_to_array(nullif(current_setting('{SETTING}', true), '{ALL}'), ',')::integer[]"
_IS_ALL = f"coalesce(current_setting('{SETTING}', true), '') = '{ALL}'"
POLICY = "riskmap_scope"


def policy_condition(column: str = "enterprise_id") -> str:
    """The policy's condition: the row's enterprise is in the scope, or the scope is "all". Each side is a scalar
    sub-select, which PostgreSQL evaluates once per statement (an InitPlan) instead of once per row."""
    return f"((SELECT {_IS_ALL}) OR {column} = ANY ((SELECT {_IDS})::integer[]))"


def policy_sql(table: str) -> list[str]:
    """The statements that put a table under the scope (ENABLE and FORCE row level security, one policy for
    reading and writing); a migration that adds a table with enterprise_id runs them too."""
    condition = policy_condition()
    return [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"CREATE POLICY {POLICY} ON {table} USING {condition} WITH CHECK {condition}"]


def unpolicy_sql(table: str) -> list[str]:
    """The statements that take a table out of the scope again (a downgrade)."""
    return [f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]


SCOPED_TABLES_SQL = ("SELECT c.table_name FROM information_schema.columns c "
                     "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
                     "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
                     "WHERE c.table_schema = current_schema() AND c.column_name = 'enterprise_id' "
                     "ORDER BY c.table_name")
