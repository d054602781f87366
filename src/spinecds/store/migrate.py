"""Alembic, run from code: the migration scripts ship inside the package, no alembic.ini.

A new revision, after changing ``models.py`` (review the generated file before committing)::

    from alembic import command
    from spinecds.store import AuditStore

    store = AuditStore.from_url("sqlite:///var/dev-migrations.db")
    store.upgrade()
    command.revision(store.alembic_config(), "what changed", autogenerate=True, rev_id="0002")
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# Alembic keeps the running migration's context in module globals: one at a time per
# process. Other processes and replicas are kept apart by the lock env.py takes.
_ALEMBIC = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration whose ``env.py`` migrates the given engine's database."""
    config = Config()
    # Config values go through configparser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _ALEMBIC:
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None when it has no audit-log schema yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of spinecds."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return ScriptDirectory.from_config(config).get_current_head()
