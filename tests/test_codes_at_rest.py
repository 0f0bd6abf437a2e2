"""A code waiting to be read is never readable from the database's own files.

What an attacker with a copy of the database (a backup, a stolen disk, a
shared host) can read: the SQLite file and its WAL, PostgreSQL's heap pages
and WAL segments. These tests look at those raw bytes, while a call still
needs its code and after it ended, and find no code in any form.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import (
    assert_no_code,
    callback_path,
    hear_code,
    key_path,
    running_app,
    send,
)

NUMBERS = ("+14155550123", "+14155550124", "+14155550125")
CHANNEL = "C0OPS"


def random_code() -> str:
    # Ten random digits: no other bytes in the files can look like them by chance.
    return "".join(secrets.choice("0123456789") for _ in range(10))


def code_forms(code: str) -> list[bytes]:
    """The code as the database could hold it: plain, spelled out, in UTF-16 (SQL Server-ish drivers)."""
    forms = [code, ", ".join(code), " ".join(code), "-".join(code)]
    return [form.encode("utf-8") for form in forms] + [code.encode("utf-16-le")]


def assert_nowhere(raw: bytes, code: str, where: str) -> None:
    for form in code_forms(code):
        assert form not in raw, f"the code ({form!r}) is readable in {where}"


def place(client, slack, plivo_rest, fake_slack, number: str, code: str) -> dict:
    before = len(plivo_rest.created)
    send(client, slack.command(f"{number} {code}"))
    return fake_slack.wait_for(lambda: plivo_rest.created[before:])[0]


def run_calls(client, slack, plivo, plivo_rest, fake_slack) -> tuple[list[str], str, dict]:
    """Three calls that end three ways (read, busy, answered without a key), and one still waiting."""
    codes = [random_code() for _ in range(3)]
    for number, code, ending in zip(NUMBERS, codes, ("read", "busy", "silent")):
        call = place(client, slack, plivo_rest, fake_slack, number, code)
        hangup = callback_path(call["hangup_url"])
        if ending == "read":
            assert hear_code(client, plivo, call, to=number) == code
            send(client, plivo.hangup(hangup, call_uuid="call-read", to=number))
        elif ending == "busy":
            send(client, plivo.hangup(hangup, call_uuid="call-busy", to=number, status="busy", duration=0,
                                      cause_code=3010, cause_name="Busy Line"))
        else:
            send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-silent", to=number))
            send(client, plivo.hangup(hangup, call_uuid="call-silent", to=number, duration=12))
    waiting_code = random_code()
    waiting = place(client, slack, plivo_rest, fake_slack, "+14155550126", waiting_code)
    return codes, waiting_code, waiting


def sqlite_files(database: Path) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{database}{suffix}")
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def test_no_code_is_readable_in_the_sqlite_file_or_its_wal(app, client, slack, plivo, plivo_rest, fake_slack,
                                                           settings):
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    codes, waiting_code, waiting = run_calls(client, slack, plivo, plivo_rest, fake_slack)
    # While a call still needs its code, and after the others ended.
    files = sqlite_files(database)
    assert database.name + "-wal" in files  # the WAL is there to be read
    for name, raw in files.items():
        for code in (*codes, waiting_code):
            assert_nowhere(raw, code, name)
    # The waiting call still reads its code to the callee.
    assert hear_code(client, plivo, waiting, to="+14155550126") == waiting_code
    app.extensions["voicebridge"]["services"].engine.dispose()  # checkpoint and close, as at shutdown
    for name, raw in sqlite_files(database).items():
        for code in (*codes, waiting_code):
            assert_nowhere(raw, code, name)


def test_sqlite_overwrites_what_an_update_removes(app):
    store = app.extensions["voicebridge"]["services"]
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1


@pytest.fixture
def postgres_app(settings, plivo_api, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("this test reads PostgreSQL's own files")
    app = running_app(replace(settings, database_url=database_url))
    yield app
    app.extensions["voicebridge"]["close"]()
    app.extensions["voicebridge"]["services"].engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_code_is_readable_in_postgresqls_heap_or_wal(postgres_app, slack, plivo, plivo_rest, fake_slack):
    client = postgres_app.test_client()
    codes, waiting_code, _ = run_calls(client, slack, plivo, plivo_rest, fake_slack)
    engine = postgres_app.extensions["voicebridge"]["services"].engine
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("CHECKPOINT"))  # dirty pages reach the heap files
        heap = b"".join(
            conn.execute(text("SELECT pg_read_binary_file(pg_relation_filepath(:t))"), {"t": table}).scalar()
            for table in ("legs", "otp_codes", "work_items")
        )
        # The segment being written, and the one before (the calls may straddle a switch).
        segments = conn.execute(text(
            "SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' "
            "AND name <= pg_walfile_name(pg_current_wal_lsn()) ORDER BY name DESC LIMIT 2")).scalars().all()
        wal = {name: bytes(conn.execute(text("SELECT pg_read_binary_file('pg_wal/' || :name)"),
                                        {"name": name}).scalar()) for name in segments}
    assert len(heap) > 0 and wal
    for code in (*codes, waiting_code):
        assert_nowhere(bytes(heap), code, "the heap files of legs, otp_codes and work_items")
        for name, raw in wal.items():
            assert_nowhere(raw, code, f"the WAL segment {name}")


def test_the_sealed_code_is_useless_under_another_key(app, client, slack, plivo, plivo_rest, fake_slack, settings):
    """A database copied to a server with another OTP_HASH_KEY reads no code to anyone."""
    code = random_code()
    call = place(client, slack, plivo_rest, fake_slack, NUMBERS[0], code)
    other = running_app(replace(settings, otp_hash_key="another-key-0123456789abcdef"))
    try:
        other_client = other.test_client()
        send(other_client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-1", to=NUMBERS[0]))
        document = send(other_client, plivo.digits(key_path(call), call_uuid="call-1", to=NUMBERS[0],
                                                   digits="5")).get_data(as_text=True)
        assert_no_code(document, code)
    finally:
        other.extensions["voicebridge"]["close"]()
