"""Alembic environment for riskmap; run through `riskmap.store.upgrade` (no alembic.ini needed).

For a developer writing a new revision, the alembic command works too:
`alembic -c /dev/null -x db=sqlite:///dev.db ...` is awkward, so prefer
`riskmap.store.migrate.autogenerate(url, message)`, which renders a revision against a database at head.
"""

from __future__ import annotations

from alembic import context

from riskmap.store.schema import Base
from riskmap.store.upgrade import configure_context


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("riskmap migrations run through riskmap.store.migrate(url), with a connection")
    configure_context(context, connection, Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


run()
