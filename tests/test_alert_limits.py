"""The limits on phoning through alerts, on the wired core, on SQLite and PostgreSQL: a number a person
typed is called at most ALERT_LIMIT_NUMBER_HOUR times an hour, counting its alerts (once each, whatever
they ring later), codes and test calls, from every workspace; a person raises at most
ALERT_LIMIT_REQUESTER_HOUR alerts an hour; a refusal stores nothing, and two instances at once cannot
squeeze past a limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.core import at_once, hang_up, leg_rows, settle, token_of, wire
from voice.alerts.models import Target
from voice.calls.limits import Refused
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number
from voice.codes.service import CodeOrder
from voice.store.db import reading
from voice.store.schema import alert_numbers, alerts

STRANGER = "+14155550166"
ANA = Requester("U0ANA", "", "T1")
BEN = Requester("U0BEN", "", "T1")
ELSEWHERE = Requester("U0ANA", "", "T2")  # the same user ID, in another workspace
NUMBER_LIMIT = ("Limit reached for +1 415-555-0166: at most 3 calls per hour to a number typed into an alert "
                "(alerts, voice codes and test calls to it count together).")


@pytest.fixture
def core(settings, database_url, clock, plivo_rest):
    services = wire(settings, database_url, clock, alert_limit_number_hour=3, alert_limit_requester_hour=4)
    yield services
    services.close()


def typed_alert(core, number=STRANGER, requester=ANA, request_id=None) -> int | None:
    """An alert to a number the requester typed, as /voicealert and the form raise it."""
    recipient = {"kind": "number", "id": number, "label": number}
    return core.alerts.request(requester=requester, sender_name="Ana", channel_name="ops", message="Call back now",
                               recipients={"stages": [[recipient]], "message": "Call back now"},
                               request_id=request_id, typed_numbers=(number,))


def users_alert(core, requester=ANA) -> int | None:
    """An alert to Slack users only: no number typed."""
    return core.alerts.request(requester=requester, sender_name="Ana", channel_name="ops", message="DB down",
                               recipients={"stages": [], "message": "DB down"}, request_id=None)


def refusal(action) -> Refused:
    with pytest.raises(Refused) as caught:
        action()
    return caught.value


def alerts_stored(core) -> int:
    with reading(core.engine) as conn:
        return conn.execute(select(func.count()).select_from(alerts)).scalar()


def test_a_typed_number_is_limited_across_workspaces_and_frees_up_an_hour_after_its_first_call(core, clock):
    start = clock()
    for requester in (ANA, ELSEWHERE, BEN):
        assert typed_alert(core, requester=requester) is not None
        clock.advance(minutes=5)
    refused = refusal(lambda: typed_alert(core, requester=ELSEWHERE))
    assert (refused.kind, str(refused), refused.number) == ("rate_limit", NUMBER_LIMIT, STRANGER)
    assert refused.frees_at == start + timedelta(hours=1)
    assert alerts_stored(core) == 3  # the refused one left nothing behind
    clock.advance(minutes=50)  # 10:00 + 1 h: the first call ages out
    assert typed_alert(core, requester=ELSEWHERE) is not None


def test_an_alerts_own_rounds_count_once_against_its_number(core, clock, plivo_rest):
    alert_id = typed_alert(core)
    assert core.alerts.opened(alert_id, sender_name="Ana", message="Call back now",
                              targets=(Target(STRANGER, 0),), skipped=())
    settle(core)
    for _ in range(2):  # nobody answers: the next round rings the number again
        hang_up(core, token_of(plivo_rest.created[-1]), f"call-{len(plivo_rest.created)}", status="no-answer",
                cause_code=3030, cause_name="No Answer", duration=0)
        settle(core)
        clock.advance(seconds=61)
        settle(core)
    assert [row["to_number"] for row in leg_rows(core)] == [STRANGER] * 3
    # Three calls, one alert: two more alerts still fit under a limit of three.
    assert typed_alert(core, requester=BEN) is not None
    assert typed_alert(core, requester=BEN) is not None
    assert str(refusal(lambda: typed_alert(core, requester=BEN))) == NUMBER_LIMIT


def test_calls_with_a_code_and_test_calls_to_the_number_count_too(core):
    core.otp.request(CodeOrder(number=parse_phone_number(STRANGER), requester=BEN, source="slack"))
    assert core.test_calls.request(BEN, STRANGER) is None
    assert typed_alert(core) is not None
    assert str(refusal(lambda: typed_alert(core))) == NUMBER_LIMIT


def test_alerts_that_reach_a_number_through_a_slack_profile_do_not_count(core):
    for requester in (ANA, BEN, ELSEWHERE):
        alert_id = users_alert(core, requester)
        assert core.alerts.opened(alert_id, sender_name="Ana", message="DB down", targets=(Target(STRANGER, 0, "U1"),),
                                  skipped=())
    settle(core)
    assert typed_alert(core) is not None


def test_a_person_raises_at_most_the_limit_of_alerts_in_an_hour_in_their_workspace(core, clock):
    for _ in range(4):
        assert users_alert(core) is not None
    refused = refusal(lambda: users_alert(core))
    assert (refused.kind, str(refused), refused.number) == (
        "rate_limit", "Limit reached: at most 4 alerts raised by one person per hour.", None)
    assert refused.frees_at == clock() + timedelta(hours=1)
    assert users_alert(core, BEN) is not None  # someone else
    assert users_alert(core, ELSEWHERE) is not None  # the same ID is someone else in another workspace


def test_a_request_delivered_again_is_neither_refused_nor_counted(core):
    assert typed_alert(core, request_id="view:V1") is not None
    assert typed_alert(core, request_id="view:V1") is None
    assert typed_alert(core, request_id="view:V2") is not None
    assert typed_alert(core, request_id="view:V3") is not None
    assert typed_alert(core, request_id="view:V1") is None  # still the same form: not a fourth call


def test_no_limit_when_set_to_zero(settings, database_url, clock, plivo_rest):
    services = wire(settings, database_url, clock, alert_limit_number_hour=0, alert_limit_requester_hour=0)
    try:
        assert all(typed_alert(services) is not None for _ in range(12))
    finally:
        services.close()


def test_alerts_at_once_on_two_instances_never_squeeze_past_the_number_limit(settings, database_url, clock,
                                                                              plivo_rest):
    instances = [wire(settings, database_url, clock, alert_limit_number_hour=3) for _ in range(2)]

    def ask(n: int) -> str:
        try:
            typed_alert(instances[n % 2], requester=Requester(f"U{n}", "", f"T{n % 2}"))
            return "raised"
        except Refused as refused:
            return refused.kind

    try:
        outcomes = at_once(8, ask)
        stored = alerts_stored(instances[0])
    finally:
        for services in instances:
            services.close()
    assert sorted(outcomes) == ["raised"] * 3 + ["rate_limit"] * 5
    assert stored == 3


def test_a_typed_number_the_policy_refuses_is_never_called_so_never_counted(core):
    for n in range(4):  # premium rate: skipped when the alert opens, so no call to count
        assert typed_alert(core, number="+19005550123", requester=Requester(f"U{n}", "", "T1")) is not None
    with reading(core.engine) as conn:
        assert conn.execute(select(func.count()).select_from(alert_numbers)).scalar() == 0
