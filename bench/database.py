"""A fresh PostgreSQL schema per run, for the scenario that shares one database between instances.

A schema rather than a database: it needs no CREATE DATABASE right, and the
servers are pointed at it with libpq's `options=-csearch_path=<schema>`, so every
table they create lands in it and `DROP SCHEMA … CASCADE` removes it all.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from urllib.parse import quote

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _libpq_url(sqlalchemy_url: str) -> str:
    """psycopg wants postgresql://, SQLAlchemy postgresql+psycopg://."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return "postgresql" + sep + rest if scheme.startswith("postgresql") else sqlalchemy_url


def fresh_schema(stack: ExitStack, base_url: str = DEFAULT_POSTGRES) -> str:
    """Create a schema, drop it when `stack` closes; the DATABASE_URL that uses it."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(base_url), autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    stack.callback(_drop_schema, base_url, schema)
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def _drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(base_url), autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
