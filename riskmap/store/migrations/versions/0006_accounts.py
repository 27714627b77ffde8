"""People: accounts, their roles, browser sessions, sign-in attempts; tokens and audit rows name an account.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

- accounts (per enterprise; NULL: of the whole service), account_roles, web_sessions, sign_in_attempts.
- api_tokens.account_id: every token that existed before gets an account made for it, of the whole service as the
  token was (role editor → editor, reader → viewer), named as the token, login "token-<id>", without a password
  (it cannot sign in). The token keeps working exactly as before; revoked tokens get theirs too (history).
- changes.author_id: the account of the change's author; older rows keep their author's name and no id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TOKEN_ACCOUNT_ROLE = {"editor": "editor", "reader": "viewer"}   # as riskmap.people.TOKEN_ACCOUNT_ROLE


def _account_fk(table: str, column: str = "account_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["accounts.id"], name=f"fk_{table}_{column}_accounts")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("post", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name="fk_accounts_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("enterprise_id", "login", name="uq_accounts_enterprise_id_login"),
    )
    op.create_table(
        "account_roles",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=True),
        _account_fk("account_roles"),
        sa.PrimaryKeyConstraint("account_id", "role", name="pk_account_roles"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        _account_fk("web_sessions"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("session_hash", name="uq_web_sessions_session_hash"),
    )
    op.create_index("ix_web_sessions_account_id", "web_sessions", ["account_id"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_sign_in_attempts_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_attempts"),
    )
    op.create_index("ix_sign_in_attempts_login", "sign_in_attempts", ["login", "at"])
    op.create_index("ix_sign_in_attempts_address", "sign_in_attempts", ["address", "at"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_api_tokens_account_id_accounts", "accounts", ["account_id"], ["id"])
        batch.create_index("ix_api_tokens_account_id", ["account_id"])
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_changes_author_id_accounts", "accounts", ["author_id"], ["id"])
    _accounts_for_tokens(op.get_bind())


def _accounts_for_tokens(conn) -> None:
    """Every token without an account gets one of its own (see the module docstring)."""
    rows = conn.execute(sa.text("SELECT id, name, role, created_at, created_by FROM api_tokens "
                                "WHERE account_id IS NULL ORDER BY id")).all()
    for token_id, name, role, created_at, created_by in rows:
        account_id = conn.execute(sa.text(
            "INSERT INTO accounts (enterprise_id, name, login, disabled, created_at, updated_at, created_by) "
            "VALUES (NULL, :name, :login, :disabled, :at, :at, :by) RETURNING id"),
            {"name": name, "login": f"token-{token_id}", "disabled": False, "at": created_at,
             "by": created_by}).scalar_one()
        conn.execute(sa.text("INSERT INTO account_roles (account_id, role, granted_at, granted_by) "
                             "VALUES (:a, :r, :at, :by)"),
                     {"a": account_id, "r": _TOKEN_ACCOUNT_ROLE.get(role, "viewer"), "at": created_at,
                      "by": created_by})
        conn.execute(sa.text("UPDATE api_tokens SET account_id = :a WHERE id = :t"), {"a": account_id, "t": token_id})


def downgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.drop_constraint("fk_changes_author_id_accounts", type_="foreignkey")
        batch.drop_column("author_id")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_account_id")
        batch.drop_constraint("fk_api_tokens_account_id_accounts", type_="foreignkey")
        batch.drop_column("account_id")
    op.drop_index("ix_sign_in_attempts_address", table_name="sign_in_attempts")
    op.drop_index("ix_sign_in_attempts_login", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    op.drop_index("ix_web_sessions_account_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("account_roles")
    op.drop_table("accounts")
