"""The database's schema, brought up to date by Alembic's migrations (voice/store/migrations), once.

Run at every start (and by `python -m answer_server migrate`), inside one
transaction that holds a lock, so that two instances starting together
migrate once: on PostgreSQL an advisory lock, on SQLite the write lock its
BEGIN IMMEDIATE takes. A database made by the first release (create_all,
no version table) is recognised and upgraded with its rows.
https://alembic.sqlalchemy.org/en/latest/api/commands.html
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from voice.store.db import transaction
from voice.store.sealing import SecretBox

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the first release's schema
_LOCK = 0x766F696365  # "voice": the advisory lock every instance takes to migrate


def alembic_config(conn: Connection | None = None, secret_box: SecretBox | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    config.attributes["secret_box"] = secret_box  # seals codes a first-release database kept in clear
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def prepare_database(engine: Engine, secret_box: SecretBox | None = None) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    with engine.connect() as probe:
        if current(probe) == head():
            return  # the usual start: nothing to do, and no lock taken
    with transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _LOCK})
        config = alembic_config(conn, secret_box)
        revision = current(conn)
        if revision is None and inspect(conn).has_table("calls"):
            log.info("a database of the first release: upgrading it, rows and all")
            command.stamp(config, BASELINE)
        if current(conn) != head():
            log.info("migrating the database from %s to %s", current(conn) or "nothing", head())
            command.upgrade(config, "head")
