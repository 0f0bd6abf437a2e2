"""Voice codes on the wired core, on SQLite and PostgreSQL: generation, hashing and sealing at
rest, checks, expiry, tries, replacement, rate limits and refusals (shared by two instances),
and what a code's call reads: the voicemail guard, machines, the repeat key."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.conftest import assert_no_code
from tests.core import at_once, hang_up, machine, settle, wire, work_of
from voice.calls.lifecycle import PLACE
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number
from voice.calls.outcomes import Outcome
from voice.codes.calls import CODE, GOODBYE, KEY_GATE, NOT_VALID, REPORT_CALL
from voice.codes.models import generate_code, hash_code
from voice.codes.service import CodeOrder, Refused
from voice.store.db import reading
from voice.store.schema import legs, otp_codes, refusals, work_items
from voice.store.sealing import SecretBox

NUMBER = parse_phone_number("+14155550123")
#: Nowhere to report to: these tests look at codes, calls and Plivo, not at Slack (which paces new posts).
ANA = Requester(user_id="U0ANA", channel_id="")
KEY = "test-hash-key-0123456789"


@pytest.fixture
def otp_core(settings, database_url, clock, plivo_rest):
    services = wire(settings, database_url, clock, otp_hash_key=KEY)
    yield services
    services.close()


@pytest.fixture
def otp(otp_core):
    return otp_core.otp


def with_settings(settings, database_url, clock, **changes):
    return wire(settings, database_url, clock, otp_hash_key=KEY, **changes)


def order(code=None, number=NUMBER, requester=ANA, request_id=None):
    return CodeOrder(number=number, requester=requester, source="slack", code=code, request_id=request_id)


def table(services, which) -> list[dict]:
    with reading(services.engine) as conn:
        return [dict(row) for row in conn.execute(select(which)).mappings()]


def sealed_code(services) -> str | None:
    [row] = table(services, legs)
    return row["secret"]


# -- codes ---------------------------------------------------------------------------------------------


def test_generated_codes_are_digits_of_the_configured_length_and_vary():
    codes = {generate_code(6) for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 190
    assert any("0" in code for code in codes)


def test_the_hash_is_bound_to_the_number_and_the_key():
    assert hash_code(KEY, "+14155550123", "483920") != hash_code(KEY, "+14155550124", "483920")
    assert hash_code(KEY, "+14155550123", "483920") != hash_code(KEY + "x", "+14155550123", "483920")


def test_a_code_is_stored_hashed_and_sealed_and_nowhere_once_its_call_ended(otp_core, otp, plivo_rest):
    _, call = otp.request(order("483920"))
    [stored] = table(otp_core, otp_codes)
    assert stored["code_hash"] == hash_code(KEY, NUMBER.e164, "483920")
    assert_no_code(str(stored), "483920")
    sealed = sealed_code(otp_core)
    # Sealed at rest: only the key (never in the database) opens it, and only for this call.
    assert_no_code(sealed, "483920")
    assert SecretBox(KEY).open(sealed, call.token) == "483920"
    assert SecretBox(KEY).open(sealed, "another-call-token") is None
    assert SecretBox(KEY + "-rotated").open(sealed, call.token) is None
    settle(otp_core)
    assert_no_code(str(plivo_rest.created), "483920")
    assert_no_code(str(table(otp_core, work_items)), "483920")
    hang_up(otp_core, call.token, "call-1", status="no-answer", cause_code=3030, duration=0)
    settle(otp_core)
    for which in (legs, otp_codes, work_items, refusals):
        assert_no_code(str(table(otp_core, which)), "483920")
    assert sealed_code(otp_core) is None


def test_a_generated_code_is_checked_like_a_given_one(otp_core, otp):
    _, call = otp.request(order())
    clear = SecretBox(KEY).open(sealed_code(otp_core), call.token)
    assert len(clear) == 6 and clear.isdigit()
    assert otp.check(NUMBER, clear).valid


def test_a_right_code_verifies_once_and_its_call_can_no_longer_read_it(otp_core, otp):
    _, call = otp.request(order("483920"))
    result = otp.check(NUMBER, "483920")
    assert result.outcome == "verified" and result.attempts_left == 5
    assert otp.check(NUMBER, "483920").outcome == "already_verified"
    assert sealed_code(otp_core) is None
    assert otp_core.otp_calls.answer(call.token, "call-1").turn == NOT_VALID


def test_wrong_codes_spend_tries_until_the_code_is_dead(settings, database_url, clock, plivo_rest):
    services = with_settings(settings, database_url, clock, otp_max_checks=3)
    try:
        otp = services.otp
        otp.request(order("483920"))
        assert [(r.outcome, r.attempts_left) for r in (otp.check(NUMBER, "111111"), otp.check(NUMBER, "222222"))] \
            == [("wrong", 2), ("wrong", 1)]
        assert otp.check(NUMBER, "333333").outcome == "dead"
        assert otp.check(NUMBER, "483920").outcome == "dead"  # even the right code, now
        assert sealed_code(services) is None
    finally:
        services.close()


def test_wrong_guesses_at_once_each_spend_a_try(otp_core, otp):
    otp.request(order("483920"))
    gate = threading.Barrier(4)
    results = []

    def guess(typed):
        gate.wait()
        results.append(otp.check(NUMBER, typed).outcome)

    threads = [threading.Thread(target=guess, args=(f"00000{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["wrong"] * 4
    [stored] = table(otp_core, otp_codes)
    assert stored["checks_left"] == 1
    assert otp.check(NUMBER, "483920").valid


def test_a_code_is_valid_just_before_its_ttl_and_expired_after(otp, clock):
    otp.request(order("483920"))
    clock.advance(seconds=599)
    assert otp.check(NUMBER, "000000").outcome == "wrong"
    clock.advance(seconds=1)
    assert otp.check(NUMBER, "483920").outcome == "expired"
    assert otp.check(NUMBER, "483920").outcome == "expired"


def test_a_code_checked_right_just_before_its_ttl_is_valid(otp, clock):
    otp.request(order("483920"))
    clock.advance(seconds=599)
    assert otp.check(NUMBER, "483920").valid


def test_a_new_request_replaces_the_live_code_and_silences_its_call(otp_core, otp):
    _, first_call = otp.request(order("111111"))
    _, second_call = otp.request(order("222222"))
    assert otp.check(NUMBER, "111111").outcome == "wrong"
    assert otp_core.otp_calls.answer(first_call.token, "call-1").turn == NOT_VALID  # the old call reads nothing
    assert otp_core.otp_calls.answer(second_call.token, "call-2").turn == KEY_GATE
    assert otp_core.otp_calls.key_pressed(second_call.token, "call-2", "5").code == "222222"
    assert otp.check(NUMBER, "222222").valid
    assert sorted(row["status"] for row in table(otp_core, otp_codes)) == ["replaced", "verified"]


def test_no_code_for_a_number_that_never_had_one(otp):
    assert otp.check(parse_phone_number("+14155550199"), "483920").outcome == "no_code"


def test_a_request_stores_the_code_its_call_and_their_work_in_one_transaction(otp_core, otp, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(otp_core.queue, "enqueue", broken)  # the last write of the request fails
    with pytest.raises(RuntimeError):
        otp.request(order("483920"))
    assert table(otp_core, otp_codes) == [] and table(otp_core, legs) == []
    assert [item for item in table(otp_core, work_items) if item["kind"] in (PLACE, REPORT_CALL)] == []


def test_a_request_leaves_its_call_and_report_to_the_workers(otp_core, otp, plivo_rest):
    _, call = otp.request(order("483920"))
    assert plivo_rest.created == []  # nothing is sent on the requester's path
    assert [item["subject"] for item in work_of(otp_core, PLACE)] == [call.token]
    assert [item["subject"] for item in work_of(otp_core, REPORT_CALL)] == [call.token]
    settle(otp_core)
    assert [body["to"] for body in plivo_rest.created] == [NUMBER.e164]


# -- refusals and limits ----------------------------------------------------------------------------------


def test_a_forbidden_destination_is_refused_recorded_and_never_called(otp_core, otp, plivo_rest):
    with pytest.raises(Refused) as refused:
        otp.request(order(number=parse_phone_number("+19005550123")))
    assert refused.value.kind == "destination"
    assert otp_core.otp.store.refusal_kinds() == ["destination"]
    settle(otp_core)
    assert table(otp_core, legs) == [] and plivo_rest.created == []


def test_our_own_number_is_never_called(otp, plivo_rest):
    with pytest.raises(Refused) as refused:
        otp.request(order(number=parse_phone_number("+14155550100")))
    assert refused.value.kind == "destination"


def test_the_per_number_limit_says_when_it_frees_up(otp_core, otp, clock):
    for _ in range(3):
        otp.request(order())
        clock.advance(minutes=1)
    with pytest.raises(Refused) as refused:
        otp.request(order())
    assert str(refused.value) == "Limit reached: at most 3 calls to one number per 10 minutes."
    assert refused.value.frees_at == datetime(2026, 11, 29, 10, 10, tzinfo=timezone.utc)
    assert otp.store.refusal_kinds() == ["rate_limit"]
    assert len(table(otp_core, legs)) == 3  # the refused request left no call
    clock.now = refused.value.frees_at + timedelta(seconds=1)
    assert otp.request(order()) is not None


def test_the_daily_limit_per_number(settings, database_url, clock, plivo_rest):
    services = with_settings(settings, database_url, clock, otp_limit_number_10min=0, otp_limit_number_day=2,
                             otp_limit_requester_hour=0)
    try:
        services.otp.request(order())
        clock.advance(hours=5)
        services.otp.request(order())
        clock.advance(hours=5)
        with pytest.raises(Refused, match="calls to one number per 24 hours"):
            services.otp.request(order())
    finally:
        services.close()


def test_the_per_requester_limit_counts_every_number(settings, database_url, clock, plivo_rest):
    services = with_settings(settings, database_url, clock, otp_limit_number_10min=0, otp_limit_number_day=0,
                             otp_limit_requester_hour=2)
    try:
        otp = services.otp
        otp.request(order(number=parse_phone_number("+14155550123")))
        otp.request(order(number=parse_phone_number("+14155550124")))
        with pytest.raises(Refused, match="calls by one requester per hour"):
            otp.request(order(number=parse_phone_number("+14155550125")))
        bob = Requester(user_id="U0BOB", channel_id="")
        assert otp.request(order(number=parse_phone_number("+14155550125"), requester=bob)) is not None
    finally:
        services.close()


def test_screen_refuses_and_records_without_reserving(otp):
    for _ in range(3):
        otp.request(order())
    with pytest.raises(Refused):
        otp.screen(order())
    assert otp.refusal(order()).kind == "rate_limit"
    assert otp.refusal(order(number=parse_phone_number("+14155550124"))) is None
    assert otp.store.refusal_kinds() == ["rate_limit"]  # screen recorded it; refusal() only looked


def test_the_same_request_delivered_twice_opens_one_code_and_places_one_call(otp_core, otp, plivo_rest):
    assert otp.request(order(request_id="trigger-1")) is not None
    assert otp.request(order(request_id="trigger-1")) is None
    settle(otp_core)
    assert len(table(otp_core, otp_codes)) == 1 and len(plivo_rest.created) == 1


def test_two_instances_share_limits_and_codes(settings, database_url, clock, plivo_rest):
    first, second = (with_settings(settings, database_url, clock) for _ in range(2))
    try:
        first.otp.request(order("483920"))
        second.otp.request(order("483920"))
        first.otp.request(order("483920"))
        with pytest.raises(Refused):
            second.otp.request(order())
        assert second.otp.check(NUMBER, "000000").attempts_left == 4
        assert first.otp.check(NUMBER, "483920").valid
    finally:
        for services in (first, second):
            services.close()


def test_requests_at_once_on_two_instances_never_squeeze_past_a_limit_or_hold_two_live_codes(
        settings, database_url, clock, plivo_rest):
    instances = [with_settings(settings, database_url, clock) for _ in range(2)]

    def ask(n: int) -> str:
        try:
            return "opened" if instances[n % 2].otp.request(order()) else "taken for a duplicate"
        except Refused as refused:
            return refused.kind

    try:
        outcomes = at_once(8, ask)
        codes = table(instances[0], otp_codes)
    finally:
        for services in instances:
            services.close()
    assert sorted(outcomes) == ["opened"] * 3 + ["rate_limit"] * 5
    assert len(codes) == 3 and [row["status"] for row in codes].count("live") == 1


# -- what the call reads ---------------------------------------------------------------------------------


def test_the_guard_reads_nothing_before_a_key_and_after_the_code_only_1_repeats(otp_core, otp):
    _, call = otp.request(order("483920"))
    calls = otp_core.otp_calls
    assert calls.answer(call.token, "call-1").turn == KEY_GATE
    assert calls.key_pressed(call.token, "call-1", "").turn == NOT_VALID  # no key yet
    assert calls.key_pressed(call.token, "call-2", "5").turn == NOT_VALID  # another call UUID
    first = calls.key_pressed(call.token, "call-1", "#")  # any key opens it
    assert (first.turn, first.code) == (CODE, "483920")
    assert calls.key_pressed(call.token, "call-1", "1").code == "483920"
    assert calls.key_pressed(call.token, "call-1", "7").turn == GOODBYE


def test_a_machine_hears_no_code_and_the_call_ends_as_voicemail(otp_core, otp):
    _, call = otp.request(order("483920"))
    otp_core.otp_calls.answer(call.token, "call-1")
    assert machine(otp_core, call.token, "call-1").machine_at is not None
    assert sealed_code(otp_core) is None  # erased before anyone can press a key
    assert otp_core.otp_calls.key_pressed(call.token, "call-1", "1").turn == NOT_VALID
    assert machine(otp_core, call.token, "call-1") is None  # reported twice: once
    ended = hang_up(otp_core, call.token, "call-1", duration=9)
    assert (ended.outcome, ended.duration) == (Outcome.VOICEMAIL, 9)


def test_an_answered_call_without_a_key_press_is_answered_but_unread(otp_core, otp):
    _, call = otp.request(order("483920"))
    otp_core.otp_calls.answer(call.token, "call-1")
    ended = hang_up(otp_core, call.token, "call-1", duration=20)
    assert ended.outcome is Outcome.ANSWERED and ended.code_read_at is None
    assert sealed_code(otp_core) is None


def test_without_the_guard_the_code_is_read_on_answer(settings, database_url, clock, plivo_rest):
    services = with_settings(settings, database_url, clock, otp_voicemail_guard=False)
    try:
        _, call = services.otp.request(order("483920"))
        turn = services.otp_calls.answer(call.token, "call-1")
        assert (turn.turn, turn.code, turn.intro) == (CODE, "483920", True)
        assert services.legs.get(call.token).code_read_at == clock.now
    finally:
        services.close()


def test_a_code_sealed_under_another_key_is_read_to_nobody(settings, database_url, clock, otp_core, otp):
    _, call = otp.request(order("483920"))
    rotated = wire(settings, database_url, clock, otp_hash_key=KEY + "-rotated")
    try:
        assert rotated.otp_calls.answer(call.token, "call-1").turn == NOT_VALID
    finally:
        rotated.close()
