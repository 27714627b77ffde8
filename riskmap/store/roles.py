"""The PostgreSQL roles riskmap runs as: the owner (migrations, table ownership) and the service's own role.

Row-level security (riskmap.store.scope) binds neither superusers nor roles with BYPASSRLS, so the service must
connect as a role that is neither: `grant_service_role` creates it when missing (LOGIN NOSUPERUSER NOBYPASSRLS
NOCREATEDB NOCREATEROLE) and grants it what the service does — read and write rows, use sequences, make temporary
tables (COPY is staged through one) — on the tables there are and, through default privileges, on those the owner
creates later. It runs as a role allowed to create roles (an administrator, or an owner with CREATEROLE), and is
safe to run again and from two processes at once (roles are shared by every database of a server).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from riskmap.errors import InputError

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_role(name: str) -> str:
    """A role name riskmap accepts (lower-case letters, digits, underscore): InputError otherwise."""
    if not isinstance(name, str) or not _ROLE.match(name):
        raise InputError(f"角色名 “{name}” 不合规：只能用小写字母、数字和下划线，且不以数字开头 / role name "
                         f"{name!r} is not valid: use lower-case letters, digits and underscores, not starting with "
                         f"a digit")
    return name


def _role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def ensure_role(conn: Connection, role: str, *, login: bool = True, password: str | None = None) -> None:
    """Create the role when it does not exist (an autocommit connection: another process may create it at the
    same moment, and then its CREATE ROLE fails while the role is there, which is all that was wanted)."""
    role = checked_role(role)
    if _role_exists(conn, role):
        return
    options = "LOGIN" if login else "NOLOGIN"
    try:
        conn.exec_driver_sql(f"CREATE ROLE {role} {options} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
    except DBAPIError:
        if not _role_exists(conn, role):
            raise
    if password is not None:
        conn.execute(text(f"ALTER ROLE {role} PASSWORD :p"), {"p": password})


def grant_service_role(conn: Connection, role: str, owner: str, *, password: str | None = None) -> None:
    """Create the service role (when missing) and grant it row access to the current database's schema, now and
    for the tables `owner` creates later. `conn`: an autocommit connection of an administrator or of `owner`."""
    role, owner = checked_role(role), checked_role(owner)
    ensure_role(conn, role, password=password)
    found = conn.execute(text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role})
    if found.scalar():
        raise InputError(f"角色 {role} 是超级用户或可绕过行级安全，不能作为服务角色 / role {role} is a superuser or "
                         f"bypasses row level security: it cannot be the service's role")
    database = conn.exec_driver_sql("SELECT current_database()").scalar()
    for statement in (
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
    ):
        conn.exec_driver_sql(statement)
