"""Voice codes: generation, hashed storage, checks, expiry, tries, replacement and rate limits."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from voice.calls import CallConfig, CallService
from voice.codes import generate_code, hash_code
from voice.models import Requester
from voice.numbers import parse_phone_number
from voice.otp import CodeOrder, OtpConfig, OtpService, Refused, default_limits
from voice.otp_store import OtpStore, otp_codes
from voice.plivo import PlivoClient
from voice.policy import DestinationPolicy
from voice.sealing import SecretBox
from voice.store import Store, calls, make_engine

NUMBER = parse_phone_number("+14155550123")
ANA = Requester(user_id="U0ANA", channel_id="C0OPS")
KEY = "test-hash-key-0123456789"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **kwargs):
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    return Clock()


def make_otp(store, clock, *, limits=(3, 10, 30), max_checks=5, ttl=600, allowed=None):
    config = CallConfig(public_url="https://v.test", from_number="+14155550100",
                        policy=DestinationPolicy(allowed, "+14155550100"), box=SecretBox(KEY))
    call_service = CallService(store, PlivoClient("https://api.plivo.test", "MAXXXXXXXXXXXXXXXXXX", "t"),
                               config, clock=clock)
    otp_config = OtpConfig(length=6, ttl=timedelta(seconds=ttl), max_checks=max_checks, hash_key=KEY,
                           limits=default_limits(*limits))
    return OtpService(OtpStore(store.engine), call_service, otp_config, clock)


@pytest.fixture
def otp(store, clock):
    return make_otp(store, clock)


def order(code=None, number=NUMBER, requester=ANA, request_id=None):
    return CodeOrder(number=number, requester=requester, source="slack", code=code, request_id=request_id)


def test_generated_codes_are_digits_of_the_configured_length_and_vary():
    codes = {generate_code(6) for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 190
    assert any("0" in code for code in codes)


def test_the_hash_is_bound_to_the_number_and_the_key():
    assert hash_code(KEY, "+14155550123", "483920") != hash_code(KEY, "+14155550124", "483920")
    assert hash_code(KEY, "+14155550123", "483920") != hash_code(KEY + "x", "+14155550123", "483920")


def test_a_code_is_stored_only_as_a_hash_and_read_from_the_call_until_it_ends(otp, store):
    code, call = otp.request(order("483920"))
    with store.engine.connect() as conn:
        stored = conn.execute(select(otp_codes)).mappings().one()
        assert "483920" not in str(dict(stored))
        assert stored["code_hash"] == hash_code(KEY, NUMBER.e164, "483920")
        sealed = conn.execute(select(calls.c.secret)).scalar()
    # Sealed at rest: only the key (never in the database) opens it, and only for this call.
    assert "483920" not in sealed
    assert SecretBox(KEY).open(sealed, call.token) == "483920"
    assert SecretBox(KEY).open(sealed, "another-call-token") is None
    assert SecretBox(KEY + "-rotated").open(sealed, call.token) is None
    otp.calls.abandon(call.token, "test")
    with store.engine.connect() as conn:
        rows = [str(dict(row)) for row in conn.execute(select(calls)).mappings()]
        rows += [str(dict(row)) for row in conn.execute(select(otp_codes)).mappings()]
    assert all("483920" not in row for row in rows)


def test_a_generated_code_is_checked_like_a_given_one(otp, store):
    code, call = otp.request(order())
    with store.engine.connect() as conn:
        clear = SecretBox(KEY).open(conn.execute(select(calls.c.secret)).scalar(), call.token)
    assert len(clear) == 6
    assert otp.check(NUMBER, clear).valid


def test_a_right_code_verifies_once(otp):
    otp.request(order("483920"))
    result = otp.check(NUMBER, "483920")
    assert result.outcome == "verified" and result.attempts_left == 5
    assert otp.check(NUMBER, "483920").outcome == "already_verified"


def test_wrong_codes_spend_tries_until_the_code_is_dead(store, clock):
    otp = make_otp(store, clock, max_checks=3)
    otp.request(order("483920"))
    assert [(r.outcome, r.attempts_left) for r in (otp.check(NUMBER, "111111"), otp.check(NUMBER, "222222"))] == \
        [("wrong", 2), ("wrong", 1)]
    assert otp.check(NUMBER, "333333").outcome == "dead"
    assert otp.check(NUMBER, "483920").outcome == "dead"  # even the right code, now


def test_a_code_expires_after_its_ttl(otp, clock):
    otp.request(order("483920"))
    clock.advance(seconds=599)
    clock.advance(seconds=1)
    assert otp.check(NUMBER, "483920").outcome == "expired"
    assert otp.check(NUMBER, "483920").outcome == "expired"


def test_a_code_is_valid_just_before_it_expires(otp, clock):
    otp.request(order("483920"))
    clock.advance(seconds=599)
    assert otp.check(NUMBER, "483920").valid


def test_a_new_request_replaces_the_live_code_and_silences_its_call(otp, store):
    _, first_call = otp.request(order("111111"))
    otp.request(order("222222"))
    assert otp.check(NUMBER, "111111").outcome == "wrong"
    assert otp.check(NUMBER, "222222").valid
    assert otp.calls.answer(first_call.token, "c-1") is None  # the old call reads nothing


def test_no_code_for_a_number_that_never_had_one(otp):
    assert otp.check(parse_phone_number("+14155550199"), "483920").outcome == "no_code"


def test_a_forbidden_destination_is_refused_and_recorded(otp):
    with pytest.raises(Refused) as refused:
        otp.request(order(number=parse_phone_number("+19005550123")))
    assert refused.value.kind == "destination"
    assert otp.store.refusal_kinds() == ["destination"]


def test_the_per_number_limit_says_when_it_frees_up(otp, clock):
    for _ in range(3):
        otp.request(order())
        clock.advance(minutes=1)
    with pytest.raises(Refused) as refused:
        otp.request(order())
    assert str(refused.value) == "Limit reached: at most 3 calls to one number per 10 minutes."
    assert refused.value.frees_at == datetime(2026, 11, 29, 10, 10, tzinfo=timezone.utc)
    assert otp.store.refusal_kinds() == ["rate_limit"]
    clock.now = refused.value.frees_at + timedelta(seconds=1)
    assert otp.request(order()) is not None


def test_the_daily_limit_per_number(store, clock):
    otp = make_otp(store, clock, limits=(0, 2, 0))
    otp.request(order())
    clock.advance(hours=5)
    otp.request(order())
    clock.advance(hours=5)
    with pytest.raises(Refused, match="calls to one number per 24 hours"):
        otp.request(order())


def test_the_per_requester_limit_counts_every_number(store, clock):
    otp = make_otp(store, clock, limits=(0, 0, 2))
    otp.request(order(number=parse_phone_number("+14155550123")))
    otp.request(order(number=parse_phone_number("+14155550124")))
    with pytest.raises(Refused, match="calls by one requester per hour"):
        otp.request(order(number=parse_phone_number("+14155550125")))
    bob = Requester(user_id="U0BOB", channel_id="C0OPS")
    assert otp.request(order(number=parse_phone_number("+14155550125"), requester=bob)) is not None


def test_screen_refuses_without_reserving(otp):
    for _ in range(3):
        otp.request(order())
    with pytest.raises(Refused):
        otp.screen(order())
    assert otp.refusal(order()).kind == "rate_limit"


def test_the_same_request_delivered_twice_opens_one_code(otp):
    assert otp.request(order(request_id="trigger-1")) is not None
    assert otp.request(order(request_id="trigger-1")) is None


def test_two_instances_share_limits_and_codes(database_url, clock):
    stores = [Store(make_engine(database_url)) for _ in range(2)]
    stores[0].create_schema()
    first, second = (make_otp(store, clock) for store in stores)
    first.request(order("483920"))
    second.request(order("483920"))
    first.request(order("483920"))
    with pytest.raises(Refused):
        second.request(order())
    assert second.check(NUMBER, "000000").attempts_left == 4
    assert first.check(NUMBER, "483920").valid
    for store in stores:
        store.engine.dispose()
