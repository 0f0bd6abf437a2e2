"""The alert service with a controllable clock: fan-out, first acknowledgement wins,
the other calls stop, retries and escalation on time, voicemail, duplicate callbacks."""

from datetime import timedelta

import pytest

from tests.conftest import AUTH_ID, PLIVO_API
from voice.alert_calls import MENU_REPEATS, AlertCalls, Turn
from voice.alert_models import ACKNOWLEDGED, ACTIVE, CANCELLED, EXHAUSTED, NewAlert, Target
from voice.alert_store import AlertStore
from voice.alerts import AlertService
from voice.models import HangupReport, Requester
from voice.outcomes import Outcome
from voice.plivo import PlivoClient
from voice.scheduler import Scheduler

ALICE = Target("+14155550101", 0, "U1", "Alice")
BOB = Target("+14155550102", 0, "U2", "Bob")
CAROL = Target("+14155550103", 1, "U3", "Carol")
REQUESTER = Requester("U0ANA", "C0OPS")


@pytest.fixture
def events():
    return {"notified": [], "gave_up": []}


@pytest.fixture
def scheduler(store, clock):
    return Scheduler(store.engine, clock=clock)


@pytest.fixture
def service(store, plivo_rest, scheduler, clock, events):
    return AlertService(
        AlertStore(store.engine),
        PlivoClient(PLIVO_API, AUTH_ID, "t"),
        scheduler,
        public_url="https://voice.example.test",
        from_number="+14155550100",
        retries=2,
        retry_delay=60,
        notify=events["notified"].append,
        gave_up=events["gave_up"].append,
        clock=clock,
    )


@pytest.fixture
def phone(service):
    """Plivo's side of the alert calls."""
    return AlertCalls(service)


def raise_alert(service, *targets, message="DB down"):
    alert = service.open_alert(NewAlert(REQUESTER, "Ana", "ops", message, tuple(targets)))
    service.start(alert.id)
    return alert


def leg_of(service, alert, number, position=None):
    legs = [leg for leg in service.store.legs(alert.id, position) if leg.to_number == number]
    return legs[-1]


def hang_up(phone, leg, status="no-answer", code=3030, name="No Answer"):
    phone.hangup(leg.token, HangupReport(call_uuid=leg.call_uuid or f"call-{leg.id}", call_status=status,
                                           cause_code=code, cause_name=name, duration=0))


def answer(phone, leg, call_uuid=None):
    return phone.answer(leg.token, call_uuid or f"call-{leg.id}")


def test_a_fan_out_calls_everyone_at_once_with_machine_detection(service, plivo_rest):
    raise_alert(service, ALICE, BOB)
    assert [body["to"] for body in plivo_rest.created] == [ALICE.number, BOB.number]
    for body in plivo_rest.created:
        assert body["machine_detection"] == "true"
        assert body["machine_detection_url"].startswith("https://voice.example.test/plivo/alert/machine/")
        for key in ("answer_url", "hangup_url", "ring_url", "machine_detection_url"):
            token = body[key].rsplit("/", 1)[1]
            assert len(token) >= 32 and "DB" not in body[key]


def test_the_first_acknowledgement_wins_and_every_other_call_stops(service, phone, plivo_rest, events):
    carol = Target("+14155550103", 0, "U3", "Carol")
    alert = raise_alert(service, ALICE, BOB, carol)
    alice, bob, carol_leg = (leg_of(service, alert, t.number) for t in (ALICE, BOB, carol))
    answer(phone, alice)
    phone.ringing(bob.token, "call-bob")
    answer(phone, carol_leg, "call-carol")

    turn = phone.acknowledge_by_phone(alice.token, f"call-{alice.id}")
    assert turn.turn is Turn.ACKNOWLEDGED
    taken = service.get(alert.id)
    assert taken.status == ACKNOWLEDGED and taken.resolved_via == "phone"
    assert (taken.resolved_by, taken.resolved_name, taken.resolved_leg) == ("U1", "Alice", alice.id)
    # Bob's ringing call is cancelled by its request, Carol's answered one hung up by its call;
    # Alice keeps hers to hear the confirmation.
    assert sorted(plivo_rest.stopped) == [("Call", "call-carol"), ("Request", bob.request_uuid)]

    late = phone.acknowledge_by_phone(carol_leg.token, "call-carol")
    assert late.turn is Turn.TAKEN and late.alert.resolved_name == "Alice"
    # Plivo retries Alice's keypress: she still hears her own confirmation.
    assert phone.acknowledge_by_phone(alice.token, f"call-{alice.id}").turn is Turn.ACKNOWLEDGED
    assert service.acknowledge(alert.id, "U9", "Zed").won is False


def test_two_acknowledgements_at_once_have_exactly_one_winner(service):
    alert = raise_alert(service, ALICE, BOB)
    store = service.store
    results = [store.resolve(alert.id, status=ACKNOWLEDGED, from_statuses=(ACTIVE,), now=service.clock(),
                             resolved_by=who) for who in ("U1", "U2")]
    assert results == [True, False]
    assert service.get(alert.id).resolved_by == "U1"


def test_acknowledging_in_slack_stops_the_calls_as_a_keypress_does(service, phone, plivo_rest):
    alert = raise_alert(service, ALICE, BOB)
    alice = leg_of(service, alert, ALICE.number)
    answer(phone, alice, "call-alice")
    taking = service.acknowledge(alert.id, "U7", "Dana")
    assert taking.won and taking.alert.resolved_via == "slack" and taking.alert.resolved_name == "Dana"
    assert sorted(plivo_rest.stopped) == [("Call", "call-alice"), ("Request", "req-2")]
    assert phone.acknowledge_by_phone(alice.token, "call-alice").turn is Turn.TAKEN


def test_cancelling_stops_every_call_and_cannot_follow_an_acknowledgement(service, phone, plivo_rest):
    alert = raise_alert(service, ALICE, BOB)
    assert service.cancel(alert.id, "U7", "Dana").won
    assert service.get(alert.id).status == CANCELLED
    assert sorted(plivo_rest.stopped) == [("Request", "req-1"), ("Request", "req-2")]
    assert phone.answer(leg_of(service, alert, ALICE.number).token, "call-1").turn is Turn.CANCELLED
    other = raise_alert(service, ALICE)
    service.acknowledge(other.id, "U1", "Alice")
    assert service.cancel(other.id, "U7", "Dana").won is False


def test_unanswered_calls_are_retried_after_the_delay_then_given_up(service, phone, plivo_rest, scheduler, clock, events):
    alert = raise_alert(service, ALICE, BOB)
    hang_up(phone, leg_of(service, alert, ALICE.number), "busy", 3010, "Busy Line")
    assert len(plivo_rest.created) == 2  # Bob's call is still going: the round is not over
    hang_up(phone, leg_of(service, alert, BOB.number))
    assert service.get(alert.id).next_at == clock.now + timedelta(seconds=60)

    clock.advance(seconds=59)
    scheduler.run_due()
    assert len(plivo_rest.created) == 2
    clock.advance(seconds=1)
    scheduler.run_due()
    assert [body["to"] for body in plivo_rest.created[2:]] == [ALICE.number, BOB.number]
    assert service.get(alert.id).round == 1

    for round_ in (1, 2):
        for target in (ALICE, BOB):
            hang_up(phone, leg_of(service, alert, target.number, round_))
        clock.advance(seconds=60)
        scheduler.run_due()
    assert len(plivo_rest.created) == 6  # the first round and ALERT_RETRIES=2 more
    assert service.get(alert.id).status == EXHAUSTED
    assert events["gave_up"] == [alert.id]
    assert scheduler.pending() == []


def test_a_chain_calls_the_next_link_at_once_and_restarts_after_the_delay(service, phone, plivo_rest, scheduler, clock):
    alert = raise_alert(service, ALICE, CAROL)
    assert [body["to"] for body in plivo_rest.created] == [ALICE.number]
    hang_up(phone, leg_of(service, alert, ALICE.number))
    assert [body["to"] for body in plivo_rest.created] == [ALICE.number, CAROL.number]
    carol = leg_of(service, alert, CAROL.number)
    answer(phone, carol)
    hang_up(phone, carol, "completed", 4000, "Normal Hangup")  # heard it, pressed nothing
    assert len(plivo_rest.created) == 2
    clock.advance(seconds=60)
    scheduler.run_due()
    assert [body["to"] for body in plivo_rest.created] == [ALICE.number, CAROL.number, ALICE.number]


def test_an_acknowledgement_stops_the_chain(service, phone, plivo_rest, scheduler, clock):
    alert = raise_alert(service, ALICE, CAROL)
    alice = leg_of(service, alert, ALICE.number)
    answer(phone, alice)
    phone.acknowledge_by_phone(alice.token, f"call-{alice.id}")
    hang_up(phone, alice, "completed", 4000, "Normal Hangup")
    clock.advance(hours=1)
    scheduler.run_due()
    assert [body["to"] for body in plivo_rest.created] == [ALICE.number]


def test_an_acknowledgement_during_the_retry_delay_cancels_the_next_round(service, phone, plivo_rest, scheduler, clock):
    alert = raise_alert(service, ALICE)
    hang_up(phone, leg_of(service, alert, ALICE.number))
    service.acknowledge(alert.id, "U1", "Alice")
    clock.advance(seconds=61)
    scheduler.run_due()
    assert len(plivo_rest.created) == 1
    assert service.get(alert.id).next_at is None


def test_voicemail_gets_the_message_once_and_counts_as_not_acknowledged(service, phone, plivo_rest, scheduler, clock):
    alert = raise_alert(service, ALICE)
    leg = leg_of(service, alert, ALICE.number)
    assert answer(phone, leg).turn is Turn.PLAY
    phone.machine(leg.token, f"call-{leg.id}")
    assert phone.after_message(leg.token, f"call-{leg.id}").turn is Turn.HANG_UP
    hang_up(phone, leg, "completed", 4000, "Normal Hangup")
    assert service.store.leg(leg.token).outcome is Outcome.VOICEMAIL
    clock.advance(seconds=60)
    scheduler.run_due()
    assert len(plivo_rest.created) == 2


def test_the_menu_repeats_three_times_without_a_key_then_says_goodbye(service, phone):
    alert = raise_alert(service, ALICE)
    leg = leg_of(service, alert, ALICE.number)
    answer(phone, leg)
    assert phone.after_message(leg.token, f"call-{leg.id}").turn is Turn.MENU
    assert [phone.silence(leg.token, f"call-{leg.id}").turn for _ in range(MENU_REPEATS)] == [Turn.MENU] * MENU_REPEATS
    # A key in between starts the count again.
    assert phone.key_pressed(leg.token, f"call-{leg.id}", Turn.REPEAT).turn is Turn.REPEAT
    assert [phone.silence(leg.token, f"call-{leg.id}").turn for _ in range(MENU_REPEATS + 1)] == [Turn.MENU] * MENU_REPEATS + [Turn.NO_INPUT]


def test_a_refusal_by_plivo_is_not_retried_but_a_rate_limit_is(service, plivo_rest, scheduler, clock):
    plivo_rest.refuse_with = (403, {"error": "Calls to this destination country are barred."})
    alert = raise_alert(service, ALICE)
    failed = leg_of(service, alert, ALICE.number)
    assert failed.outcome is Outcome.FAILED and failed.permanent
    assert "does not allow calls to this destination" in failed.cause
    plivo_rest.refuse_with = None
    clock.advance(seconds=60)
    scheduler.run_due()
    # Nobody left to call in round 2 or 3: the alert is given up without ringing anyone.
    assert plivo_rest.created == []
    assert service.get(alert.id).status == EXHAUSTED


def test_duplicate_and_late_callbacks_change_nothing(service, phone, plivo_rest, scheduler, clock, events):
    alert = raise_alert(service, ALICE)
    leg = leg_of(service, alert, ALICE.number)
    answer(phone, leg)
    phone.ringing(leg.token, f"call-{leg.id}")  # a ring delivered after the answer
    assert service.store.leg(leg.token).status == "answered"
    hang_up(phone, leg, "completed", 4000, "Normal Hangup")
    notified = len(events["notified"])
    hang_up(phone, leg, "busy", 3010, "Busy Line")
    assert len(events["notified"]) == notified
    assert service.store.leg(leg.token).outcome is Outcome.ANSWERED
    assert [key for key, _ in scheduler.pending()] == [f"alert.step:{alert.id}:1"]


def test_a_second_call_uuid_cannot_take_over_a_call(service, phone):
    alert = raise_alert(service, ALICE)
    leg = leg_of(service, alert, ALICE.number)
    assert answer(phone, leg, "call-a").turn is Turn.PLAY
    assert phone.answer(leg.token, "call-b").turn is Turn.UNKNOWN
    assert phone.answer("no-such-token-aaaaaaaa", "call-a").turn is Turn.UNKNOWN


def test_a_call_taken_before_it_was_placed_never_rings(service, plivo_rest, store):
    alert = service.open_alert(NewAlert(REQUESTER, "Ana", "ops", "DB down", (ALICE, BOB)))
    # Open the position without dialling, then take the alert.
    service.store.open_position(alert.id, 0, [(0, ALICE.number, "tok-alice-aaaaaaaaaaaa")], service.clock())
    service.acknowledge(alert.id, "U7", "Dana")
    service._run_step(f"{alert.id}:0")
    assert plivo_rest.created == []
    assert service.store.leg("tok-alice-aaaaaaaaaaaa").outcome is Outcome.CANCELLED


def test_a_call_plivo_never_reports_on_is_closed_and_the_alert_moves_on(service, plivo_rest, clock):
    alert = raise_alert(service, ALICE, CAROL)
    clock.advance(minutes=9)
    assert service.expire_stale() == 0
    clock.advance(minutes=2)
    assert service.expire_stale() == 1
    assert leg_of(service, alert, ALICE.number).cause == "no final report came back from Plivo"
    assert plivo_rest.created[-1]["to"] == CAROL.number
