"""The store on SQLite and PostgreSQL: forward-only states, once-only endings, erased codes."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from voice.models import ANSWERED, CALLING, ENDED, QUEUED, RINGING, Requester
from voice.outcomes import Outcome
from voice.store import Store, calls, make_engine, new_call_row

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
REQUESTER = Requester(user_id="U1", channel_id="C1", team_id="T1", reply_url="https://hooks.slack.test/x")


def add(store, token="tok-aaaaaaaaaaaaaaaa", code="483920", request_id=None, now=NOW):
    return store.add_call(new_call_row(token=token, kind="otp", to_number="+14155550123", requester=REQUESTER,
                                       sealed_code=code, code_length=len(code), request_id=request_id, now=now))


def finish(store, token="tok-aaaaaaaaaaaaaaaa", outcome=Outcome.ANSWERED):
    return store.finish(token, outcome=outcome, cause=None, duration=21, call_uuid="c-1", now=NOW)


def test_a_new_call_is_queued_and_remembers_who_asked(store):
    call = add(store)
    assert call.status == QUEUED
    assert call.requester == REQUESTER
    assert call.code_length == 6
    assert call.created_at == NOW


def test_a_request_id_seen_before_adds_nothing(store):
    assert add(store, request_id="trigger-1") is not None
    assert add(store, token="tok-bbbbbbbbbbbbbbbb", request_id="trigger-1") is None


def test_states_only_move_forward(store):
    add(store)
    store.mark_dialled("tok-aaaaaaaaaaaaaaaa", "req-1")
    assert store.get("tok-aaaaaaaaaaaaaaaa").status == CALLING
    assert store.mark_ringing("tok-aaaaaaaaaaaaaaaa", "c-1").status == RINGING
    answer = store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW)
    assert answer.call.status == ANSWERED and answer.sealed_code == "483920" and answer.first
    # A late ring callback does not move an answered call back.
    assert store.mark_ringing("tok-aaaaaaaaaaaaaaaa", "c-1") is None
    assert store.get("tok-aaaaaaaaaaaaaaaa").status == ANSWERED


def test_a_ring_before_the_create_reply_keeps_the_status(store):
    add(store)
    store.mark_ringing("tok-aaaaaaaaaaaaaaaa", "c-1")
    store.mark_dialled("tok-aaaaaaaaaaaaaaaa", "req-1")
    call = store.get("tok-aaaaaaaaaaaaaaaa")
    assert call.status == RINGING and call.request_uuid == "req-1" and call.call_uuid == "c-1"


def test_the_first_call_uuid_binds_the_answer(store):
    add(store)
    assert store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW).first
    repeat = store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW)
    assert repeat.sealed_code == "483920" and not repeat.first
    assert store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-2", NOW) is None


def test_a_call_ends_once_and_its_code_is_erased(store):
    add(store)
    ended = finish(store)
    assert ended.status == ENDED and ended.outcome is Outcome.ANSWERED and ended.duration == 21
    assert finish(store, outcome=Outcome.BUSY) is None
    assert store.get("tok-aaaaaaaaaaaaaaaa").outcome is Outcome.ANSWERED
    with store.engine.connect() as conn:
        assert conn.execute(select(calls.c.secret)).scalar() is None
    assert store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW) is None


def test_unfinished_calls_are_found_by_age(store):
    add(store, token="old-aaaaaaaaaaaaaaaa", now=NOW - timedelta(hours=1))
    add(store, token="new-aaaaaaaaaaaaaaaa", now=NOW)
    add(store, token="done-aaaaaaaaaaaaaaa", now=NOW - timedelta(hours=1))
    finish(store, token="done-aaaaaaaaaaaaaaa")
    found = store.unfinished_before(NOW - timedelta(minutes=30))
    assert [call.token for call in found] == ["old-aaaaaaaaaaaaaaaa"]


def test_a_call_survives_a_new_store_on_the_same_database(database_url):
    first = Store(make_engine(database_url))
    first.create_schema()
    add(first)
    first.engine.dispose()
    second = Store(make_engine(database_url))
    assert second.ready()
    assert second.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW).sealed_code == "483920"
    second.engine.dispose()


def test_ready_is_false_while_the_database_is_unreachable(tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"))
    assert store.ready() is False


def test_a_duplicate_token_adds_nothing(store):
    add(store)
    assert add(store, code="111111") is None
    assert store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW).sealed_code == "483920"


def test_a_failed_statement_never_carries_the_code_in_its_message(store):
    row = dict(token="tok-aaaaaaaaaaaaaaaa", kind="otp", to_number="+1", requester_id="U", channel_id="C",
               team_id="T", secret="483920", code_length=6, status=QUEUED, created_at=NOW)
    with store.engine.begin() as conn:
        conn.execute(insert(calls).values(**row))
    with pytest.raises(IntegrityError) as caught:
        with store.engine.begin() as conn:
            conn.execute(insert(calls).values(**row))
    assert "483920" not in str(caught.value)


def test_a_key_press_serves_the_code_only_to_the_answering_call(store):
    add(store)
    store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW)
    assert store.serve_code("tok-aaaaaaaaaaaaaaaa", "c-2", NOW) is None
    served = store.serve_code("tok-aaaaaaaaaaaaaaaa", "c-1", NOW)
    assert served.sealed_code == "483920" and served.call.code_read_at == NOW


def test_a_machine_erases_the_code_before_anyone_can_press_a_key(store):
    add(store)
    store.claim_answer("tok-aaaaaaaaaaaaaaaa", "c-1", NOW)
    assert store.mark_machine("tok-aaaaaaaaaaaaaaaa", "c-1", NOW).machine_at == NOW
    assert store.mark_machine("tok-aaaaaaaaaaaaaaaa", "c-1", NOW) is None
    assert store.serve_code("tok-aaaaaaaaaaaaaaaa", "c-1", NOW) is None
    with store.engine.connect() as conn:
        assert conn.execute(select(calls.c.secret)).scalar() is None


def test_a_cost_is_recorded_once(store):
    add(store)
    assert store.set_cost("tok-aaaaaaaaaaaaaaaa", "0.00850").cost == "0.00850"
    assert store.set_cost("tok-aaaaaaaaaaaaaaaa", "9.99") is None
