"""Alembic environment: migrate the engine that ``spinecds.store.migrate`` hands over.

All revisions run in one transaction that first takes a lock (an advisory lock on
PostgreSQL, the write lock on SQLite), so replicas or workers that upgrade at the same
moment run the migrations once: the others wait, then find the schema at head.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, text

from spinecds.store.engine import WRITE
from spinecds.store.models import Base

# Any constant shared by every process of this application; "spinecds" in ASCII.
UPGRADE_LOCK_ID = 0x7370696E6563

config = context.config


def _take_upgrade_lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": UPGRADE_LOCK_ID})
    # SQLite: the connection began with BEGIN IMMEDIATE (the WRITE option), which is the lock.


def run_migrations_online(engine: Engine) -> None:
    with engine.connect().execution_options(**{WRITE: True}) as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            transactional_ddl=True,  # true on SQLite too: SQLAlchemy emits its BEGIN
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        )
        with context.begin_transaction():
            _take_upgrade_lock(connection)
            context.run_migrations()


def main() -> None:
    engine = config.attributes.get("engine")
    if context.is_offline_mode() or not isinstance(engine, Engine):
        raise RuntimeError(
            "spinecds migrations run online through spinecds.store.migrate.alembic_config(engine)"
        )
    run_migrations_online(engine)


main()
