"""The database: the engine and its connections, the schema and its migrations, secrets sealed at rest,
and what may be used only once.

Uses: voice.clock.
"""
