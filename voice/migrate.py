"""The database's schema, brought up to date (see voice/migrations)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from voice.schema import metadata


def prepare_database(engine: Engine) -> None:
    """Create or upgrade the schema."""
    metadata.create_all(engine)
