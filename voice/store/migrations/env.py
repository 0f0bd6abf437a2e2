"""Alembic's environment: run the migrations on the connection voice/store/migrate.py hands over.

Migrations are run in code only (voice/store/migrate.py, at start-up and by
`python -m answer_server migrate`), never from an alembic.ini: the
connection, already inside the transaction that holds the migration lock,
comes in `config.attributes["connection"]`.
https://alembic.sqlalchemy.org/en/latest/cookbook.html#connection-sharing
"""

from alembic import context

from voice.store.schema import described_here, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters a table by copying it: batch mode does that
    compare_type=True,
    include_name=described_here,  # slack_sdk's stores describe their own tables
)
with context.begin_transaction():
    context.run_migrations()
