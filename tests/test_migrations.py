"""The schema's migrations: a first-release database upgrades with its rows, the models match the
migrations, and instances starting together migrate once. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, select, text

from voice.store.db import make_engine, reading, transaction
from voice.store.migrate import (
    BASELINE,
    alembic_config,
    current,
    head,
    prepare_database,
)
from voice.store.schema import (
    SLACK_STORE_TABLES,
    alerts,
    described_here,
    legs,
    metadata,
    of_slack_stores,
    otp_codes,
    refusals,
    work_items,
)
from voice.store.sealing import SecretBox

NOW = datetime.now(timezone.utc).replace(microsecond=0)
BOX = SecretBox("migration-test-key-0123456789")


@pytest.fixture
def bare_url(request, tmp_path):
    """An empty database (SQLite, or a fresh PostgreSQL schema): nothing migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    yield request.getfixturevalue("_bare_postgresql")


@pytest.fixture
def _bare_postgresql(tmp_path):
    import os
    import uuid

    from sqlalchemy import create_engine

    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (bash .ci/run sets it for the local PostgreSQL)")
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


both = pytest.mark.parametrize("bare_url", ["sqlite", "postgresql"], indirect=True)


def first_release_database(url: str):
    """A database as the first release left it: its tables (create_all), no version table."""
    engine = make_engine(url)
    with transaction(engine) as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    return engine


def insert_first_release_rows(engine) -> None:
    """What a running first release held: an ended call, one reading its code, an alert mid-way.

    Written through the tables as the database describes them (reflected), so each value is
    stored as that release's SQLAlchemy stored it."""
    old = MetaData()
    old.reflect(engine, only=["calls", "alerts", "alert_legs", "scheduled_jobs", "otp_codes", "refusals"])
    calls, old_alerts, alert_legs, jobs = (old.tables[name] for name in ("calls", "alerts", "alert_legs",
                                                                         "scheduled_jobs"))
    requester = dict(requester_id="U0ANA", channel_id="C0OPS", team_id="T1", reply_url="https://hooks.slack.test/r")
    then = NOW - timedelta(hours=1)
    targets = '[{"number": "+14155550101", "stage": 0, "user_id": "U1", "name": "Alice"}]'
    with transaction(engine) as conn:
        conn.execute(calls.insert(), [
            dict(token="tok-ended-aaaaaaaaaaaaaaaa", kind="otp", to_number="+14155550123", **requester,
                 request_id="trigger-1", secret=None, code_length=6, status="ended", request_uuid="req-1",
                 call_uuid="call-1", outcome="answered", duration=21, cost="0.0085", code_id="otp_code_one",
                 created_at=then, answered_at=then, code_read_at=then, ended_at=then),
            dict(token="tok-live-aaaaaaaaaaaaaaaaa", kind="otp", to_number="+14155550124", **requester,
                 request_id="trigger-2", secret="4839207715", code_length=10, status="answered",
                 request_uuid="req-2", call_uuid="call-2", outcome=None, duration=None, cost=None,
                 code_id="otp_code_two", created_at=NOW, answered_at=NOW, code_read_at=None, ended_at=None),
        ])
        conn.execute(old_alerts.insert(), [
            dict(id=1, request_id="trigger-3", **requester, sender_name="Ana", channel_name="ops", message="DB down",
                 targets=targets, skipped="[]", rounds=3, retry_delay=60, position=0, status="active",
                 resolved_leg=None, created_at=NOW),
            dict(id=2, request_id="trigger-4", **requester, sender_name="Ana", channel_name="ops",
                 message="Disk full", targets=targets, skipped="[]", rounds=3, retry_delay=60, position=0,
                 status="acknowledged", resolved_leg=1, created_at=NOW),
        ])
        conn.execute(alert_legs.insert(), [
            dict(id=1, alert_id=2, token="tok-acked-aaaaaaaaaaaaaaaa", position=0, target=0, to_number="+14155550101",
                 status="ended", machine=False, stop_requested=False, permanent=False, silences=0,
                 request_uuid="req-3", call_uuid="call-3", outcome="answered", created_at=NOW, answered_at=NOW,
                 ended_at=NOW),
            dict(id=2, alert_id=1, token="tok-machine-aaaaaaaaaaaaaa", position=0, target=0,
                 to_number="+14155550101", status="ended", machine=True, stop_requested=False, permanent=False,
                 silences=0, request_uuid="req-4", call_uuid="call-4", outcome="voicemail", created_at=NOW,
                 answered_at=NOW, ended_at=NOW),
        ])
        conn.execute(jobs.insert().values(key="alert.step:1:1", kind="alert.step", subject="1:1",
                                          due_at=NOW + timedelta(seconds=60), attempts=0))
        conn.execute(old.tables["otp_codes"].insert().values(
            id="otp_code_two", number="+14155550124", live_number="+14155550124", code_hash="ab" * 32,
            status="live", checks_left=5, requester_id="U0ANA", channel_id="C0OPS", source="slack",
            call_token="tok-live-aaaaaaaaaaaaaaaaa", created_at=NOW, expires_at=NOW + timedelta(minutes=10)))
        conn.execute(old.tables["refusals"].insert().values(
            created_at=NOW, source="slack", requester_id="U0ANA", channel_id="C0OPS", number="+19005550123",
            kind="destination", reason="premium-rate"))


@both
def test_a_first_release_database_upgrades_with_every_row_kept(bare_url):
    engine = first_release_database(bare_url)
    insert_first_release_rows(engine)
    prepare_database(engine, BOX)
    with reading(engine) as conn:
        assert current(conn) == head()
        assert not {"calls", "alert_legs", "scheduled_jobs"} & set(inspect(conn).get_table_names())
        rows = {row["token"]: row for row in conn.execute(select(legs)).mappings()}
        alert_rows = {row["id"]: row for row in conn.execute(select(alerts)).mappings()}
        work = [dict(row) for row in conn.execute(select(work_items)).mappings()]
        codes = conn.execute(select(otp_codes.c.id, otp_codes.c.call_token, otp_codes.c.team_id,
                                    otp_codes.c.live_number)).all()
        kinds = conn.execute(select(refusals.c.kind)).scalars().all()
    assert set(rows) == {"tok-ended-aaaaaaaaaaaaaaaa", "tok-live-aaaaaaaaaaaaaaaaa", "tok-acked-aaaaaaaaaaaaaaaa",
                         "tok-machine-aaaaaaaaaaaaaa"}
    ended, live = rows["tok-ended-aaaaaaaaaaaaaaaa"], rows["tok-live-aaaaaaaaaaaaaaaaa"]
    assert (ended["purpose"], ended["status"], ended["outcome"], ended["duration"], ended["cost"]) == (
        "otp", "ended", "answered", 21, "0.0085")
    assert (ended["request_id"], ended["requester_id"], ended["reply_url"]) == (
        "trigger-1", "U0ANA", "https://hooks.slack.test/r")
    # The code the first release kept in clear is sealed now, and still reads on its call.
    assert "4839207715" not in live["secret"] and BOX.open(live["secret"], live["token"]) == "4839207715"
    assert (live["status"], live["call_uuid"], live["code_id"]) == ("answered", "call-2", "otp_code_two")
    acked, machine = rows["tok-acked-aaaaaaaaaaaaaaaa"], rows["tok-machine-aaaaaaaaaaaaaa"]
    assert (acked["purpose"], acked["alert_id"], acked["position"], acked["target"]) == ("alert", 2, 0, 0)
    assert machine["machine_at"] is not None and acked["machine_at"] is None
    # The alert still points at the leg that acknowledged it.
    assert alert_rows[2]["resolved_leg"] == acked["id"]
    assert alert_rows[1]["status"] == "active" and alert_rows[1]["reply_uses"] == 0
    # The retry that was pending is a work item now, with its key; what was in flight is expected.
    step = next(item for item in work if item["kind"] == "alert.step")
    assert (step["subject"], step["key"], step["state"]) == ("1:1", "alert.step:1:1", "pending")
    assert {(item["kind"], item["subject"]) for item in work} >= {
        ("call.stale", "tok-live-aaaaaaaaaaaaaaaaa"), ("report.call", "tok-live-aaaaaaaaaaaaaaaaa"),
        ("alert.next", "1"), ("report.alert", "1")}
    # The live code is still live, in the workspace its call was asked from.
    assert codes == [("otp_code_two", "tok-live-aaaaaaaaaaaaaaaaa", "T1", "+14155550124")]
    assert kinds == ["destination"]
    engine.dispose()


@both
def test_without_the_key_a_first_release_code_is_erased_rather_than_kept_in_clear(bare_url):
    engine = first_release_database(bare_url)
    insert_first_release_rows(engine)
    prepare_database(engine)  # no SecretBox: nothing can seal it
    with reading(engine) as conn:
        secrets = conn.execute(select(legs.c.secret)).scalars().all()
    assert secrets == [None, None, None, None]
    engine.dispose()


@both
def test_a_new_legs_id_comes_after_the_ones_carried_over(bare_url):
    engine = first_release_database(bare_url)
    insert_first_release_rows(engine)
    prepare_database(engine, BOX)
    with transaction(engine) as conn:
        new_id = conn.execute(legs.insert().values(
            token="tok-new-aaaaaaaaaaaaaaaaaa", purpose="otp", to_number="+14155550125", status="queued",
            created_at=NOW, code_length=0, reply_uses=0, stop_requested=False, silences=0, permanent=False,
        )).inserted_primary_key[0]
        old_ids = conn.execute(select(legs.c.id).where(legs.c.token != "tok-new-aaaaaaaaaaaaaaaaaa")).scalars().all()
    assert new_id > max(old_ids)
    engine.dispose()


@both
def test_the_models_and_the_migrations_describe_the_same_schema(bare_url):
    engine = make_engine(bare_url)
    prepare_database(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": described_here}), metadata)
    assert differences == []
    engine.dispose()


@both
def test_the_slack_store_tables_are_the_ones_slack_sdk_reads_and_writes(bare_url):
    from slack_sdk.oauth.installation_store.sqlalchemy import (
        SQLAlchemyInstallationStore,
    )
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    stores = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(stores, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(stores, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(stores, "slack_oauth_states")
    assert set(stores.tables) == SLACK_STORE_TABLES
    engine = make_engine(bare_url)
    prepare_database(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={
            "compare_type": True, "include_name": of_slack_stores}), stores)
    assert differences == []
    engine.dispose()


@both
def test_two_workspaces_each_keep_a_live_code_for_one_number(bare_url):
    engine = make_engine(bare_url)
    prepare_database(engine)
    row = dict(number="+14155550124", live_number="+14155550124", code_hash="ab" * 32, status="live",
               checks_left=5, requester_id="U0ANA", channel_id="C0OPS", source="slack", created_at=NOW,
               expires_at=NOW + timedelta(minutes=10))
    with transaction(engine) as conn:
        conn.execute(otp_codes.insert(), [row | dict(id="otp_a", team_id="T1"), row | dict(id="otp_b", team_id="T2")])
    with pytest.raises(Exception):  # but one workspace, one live code per number
        with transaction(engine) as conn:
            conn.execute(otp_codes.insert().values(**row, id="otp_c", team_id="T1"))
    engine.dispose()


@both
def test_a_code_asked_through_the_api_before_the_upgrade_belongs_to_its_key_after(bare_url):
    engine = make_engine(bare_url)
    with transaction(engine) as conn:
        command.upgrade(alembic_config(conn), "0004")
    row = dict(number="+14155550124", live_number="+14155550124", code_hash="ab" * 32, status="live",
               checks_left=5, channel_id="", created_at=NOW, expires_at=NOW + timedelta(minutes=10))
    with transaction(engine) as conn:
        conn.execute(otp_codes.insert(), [
            row | dict(id="otp_api", team_id="", requester_id="api:1a2b3c4d", source="api"),
            row | dict(id="otp_slack", team_id="T1", requester_id="U0ANA", source="slack"),
        ])
    prepare_database(engine)
    with reading(engine) as conn:
        owners = dict(conn.execute(select(otp_codes.c.id, otp_codes.c.team_id)).all())
    assert owners == {"otp_api": "api:1a2b3c4d", "otp_slack": "T1"}
    engine.dispose()


@both
def test_instances_starting_together_migrate_once(bare_url):
    engines = [make_engine(bare_url) for _ in range(4)]
    failures = []

    def start(engine):
        try:
            prepare_database(engine)
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            failures.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    with reading(engines[0]) as conn:
        assert current(conn) == head()
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head()]
    for engine in engines:
        engine.dispose()


@both
def test_a_database_at_the_newest_revision_is_left_alone(bare_url):
    engine = make_engine(bare_url)
    prepare_database(engine)
    with transaction(engine) as conn:
        conn.execute(refusals.insert().values(created_at=NOW, source="api", requester_id="api:1", channel_id="",
                                              kind="rate_limit", reason="Limit reached."))
    prepare_database(engine)
    with reading(engine) as conn:
        assert conn.execute(select(refusals.c.kind)).scalars().all() == ["rate_limit"]
    engine.dispose()
