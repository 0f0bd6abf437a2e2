"""Alerts on the wired core, with a controllable clock, on SQLite and PostgreSQL: fan-out, the
first acknowledgement wins (across threads and instances), the other calls stop, retries and
escalation on time, voicemail, the menu, Plivo's refusals, duplicate and stray callbacks, stale
calls. Checked as Plivo (its create-calls and DELETEs), the database and Slack see it."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import responses

from tests.conftest import CREATE_CALL_URL
from tests.core import (
    hang_up,
    leg_rows,
    machine,
    ring,
    settle,
    token_of,
    wire,
    work_of,
)
from voice.alerts.calls import MENU_REPEATS, Turn
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    DROPPED,
    EXHAUSTED,
    Target,
)
from voice.alerts.service import STEP
from voice.calls.lifecycle import NO_FINAL_REPORT, PLACE, STALE_AFTER
from voice.calls.models import ENDED, QUEUED, Requester
from voice.calls.outcomes import Outcome
from voice.queue.workers import Registry, Workers

ALICE = Target("+14155550101", 0, "U1", "Alice")
BOB = Target("+14155550102", 0, "U2", "Bob")
CAROL = Target("+14155550103", 1, "U3", "Carol")  # the next link of the chain
CHANNEL = "C0OPS"
REQUESTER = Requester("U0ANA", CHANNEL)


def raise_alert(core, *targets, message="DB down", requester=REQUESTER, request_id=None, settled=True) -> int:
    """An alert whose recipients were looked up (as bot/alerts/opening.py does), its first calls placed."""
    alert_id = core.alerts.request(requester=requester, sender_name="Ana", channel_name="ops", message=message,
                                   recipients={"stages": [], "message": message}, request_id=request_id)
    assert core.alerts.opened(alert_id, sender_name="Ana", message=message, targets=targets, skipped=())
    if settled:
        settle(core)
    return alert_id


def through_reply_url(fake_slack) -> Requester:
    """A requester reported to through the command's response_url (no channel message, so no posting pace:
    the "nobody acknowledged" follow-up does not wait a second behind the alert's message)."""
    return Requester("U0ANA", "", reply_url=fake_slack.response_url("voicealert"))


def leg_of(core, alert_id, target, position=None):
    return [leg for leg in core.legs.of_alert(alert_id, position) if leg.to_number == target.number][-1]


def uuid_of(leg) -> str:
    return f"call-{leg.id}"


def answer(core, leg, call_uuid=None):
    turn = core.alert_calls.answer(leg.token, call_uuid or uuid_of(leg))
    settle(core)
    return turn


def press_1(core, leg, call_uuid=None):
    turn = core.alert_calls.acknowledge_by_phone(leg.token, call_uuid or uuid_of(leg))
    settle(core)
    return turn


def end(core, leg, status="no-answer", code=3030, name="No Answer", duration=0, call_uuid=None):
    ended = hang_up(core, leg.token, call_uuid or leg.call_uuid or uuid_of(leg), status=status, cause_code=code,
                    cause_name=name, duration=duration)
    settle(core)
    return ended


def dialled(plivo_rest) -> list[str]:
    return [body["to"] for body in plivo_rest.created]


def shown(fake_slack, channel=CHANNEL) -> str:
    [message] = fake_slack.messages(channel)
    return (message.text or "") + "\n".join(str(block) for block in message.blocks or [])


def alert_work_pending(core) -> list[str]:
    return [key for key, _ in core.queue.pending() if key.startswith("alert.")]


# -- calling -------------------------------------------------------------------------------------------------


def test_a_fan_out_calls_everyone_at_once_with_machine_detection(core, plivo_rest, fake_slack):
    alert_id = raise_alert(core, ALICE, BOB, message="DB down")
    assert dialled(plivo_rest) == [ALICE.number, BOB.number]
    for body in plivo_rest.created:
        assert body["machine_detection"] == "true"  # report only: a machine still records the message
        assert body["machine_detection_url"].startswith("https://voice.example.test/plivo/alert/machine/")
        # The script's 300 s, and the voice bridge's hour the acknowledger may go on into.
        assert body["time_limit"] == 300 + 3600
        for key in ("answer_url", "hangup_url", "ring_url", "machine_detection_url"):
            token = body[key].rsplit("/", 1)[1]
            # Only the token: nothing of the alert (a random token may hold "DB" by chance; "DB down" never).
            assert len(token) >= 32 and "DB down" not in body[key] and "DB%20down" not in body[key]
            assert body[key] == body[key].rsplit("/", 1)[0] + "/" + token and "?" not in body[key]
    assert [leg.position for leg in core.legs.of_alert(alert_id)] == [0, 0]
    assert "DB down" in shown(fake_slack) and "Calling… round 1 of 3" in shown(fake_slack)


def test_an_alert_with_nobody_to_call_is_dropped_without_a_call(core, plivo_rest, fake_slack):
    alert_id = core.alerts.request(requester=REQUESTER, sender_name="Ana", channel_name="ops", message="DB down",
                                   recipients={"stages": [], "message": "DB down"}, request_id=None)
    core.alerts.opened(alert_id, sender_name="Ana", message="DB down", targets=(), skipped=())
    settle(core)
    assert core.alerts.get(alert_id).status == DROPPED
    assert plivo_rest.created == [] and fake_slack.messages(CHANNEL) == []


def test_the_same_alert_request_delivered_twice_raises_one_alert(core, plivo_rest):
    first = raise_alert(core, ALICE, request_id="trigger-1")
    assert core.alerts.request(requester=REQUESTER, sender_name="Ana", channel_name="ops", message="DB down",
                               recipients={"stages": [], "message": "DB down"}, request_id="trigger-1") is None
    settle(core)
    assert first is not None and dialled(plivo_rest) == [ALICE.number]


# -- taking it ---------------------------------------------------------------------------------------------------


def test_the_first_acknowledgement_wins_and_every_other_call_stops(core, plivo_rest, fake_slack):
    dana = Target("+14155550104", 0, "U4", "Dana")
    alert_id = raise_alert(core, ALICE, BOB, dana)
    alice, bob, dana_leg = (leg_of(core, alert_id, target) for target in (ALICE, BOB, dana))
    assert answer(core, alice).turn is Turn.PLAY
    ring(core, bob.token, "call-bob")
    answer(core, dana_leg, "call-dana")

    assert press_1(core, alice).turn is Turn.ACKNOWLEDGED
    taken = core.alerts.get(alert_id)
    assert taken.status == ACKNOWLEDGED and taken.resolved_via == "phone"
    assert (taken.resolved_by, taken.resolved_name, taken.resolved_leg) == ("U1", "Alice", alice.id)
    # Bob's ringing call is cancelled by its request, Dana's answered one hung up by its call;
    # Alice keeps hers to hear the confirmation.
    bob_request = core.legs.get(bob.token).request_uuid
    assert sorted(plivo_rest.stopped) == [("Call", "call-dana"), ("Request", bob_request)]
    assert "*Acknowledged* by <@U1> by phone" in shown(fake_slack)

    late = press_1(core, dana_leg, "call-dana")
    assert late.turn is Turn.TAKEN and late.alert.resolved_name == "Alice"
    # Plivo retries Alice's keypress: she still hears her own confirmation.
    assert press_1(core, alice).turn is Turn.ACKNOWLEDGED
    assert core.alerts.acknowledge(alert_id, "U9", "Zed").won is False
    assert len(plivo_rest.stopped) == 2  # nothing was stopped twice


@pytest.fixture
def two_instances(core, settings, database_url, clock):
    """The core, and a second instance (its own engine) on the same database."""
    other = wire(settings, database_url, clock)
    yield core, other
    other.close()


def test_acknowledgements_at_once_from_threads_on_two_instances_have_exactly_one_winner(
        two_instances, plivo_rest):
    first, second = two_instances
    people = [Target(f"+1415555011{n}", 0, f"U{n}", f"Person {n}") for n in range(4)]
    alert_id = raise_alert(first, *people)
    calls = [leg_of(first, alert_id, person) for person in people]
    for leg in calls:
        answer(first, leg)
    gate = threading.Barrier(8)
    results = {}

    def by_phone(n):
        gate.wait()
        results[f"phone-{n}"] = (first, second)[n % 2].alert_calls.acknowledge_by_phone(calls[n].token,
                                                                                       uuid_of(calls[n])).turn

    def in_slack(n):
        gate.wait()
        results[f"slack-{n}"] = (first, second)[n % 2].alerts.acknowledge(alert_id, f"U9{n}", f"Slacker {n}").won

    threads = [threading.Thread(target=by_phone, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=in_slack, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    settle(first)
    winners = [who for who, result in results.items() if result in (Turn.ACKNOWLEDGED, True)]
    assert len(results) == 8 and len(winners) == 1
    alert = first.alerts.get(alert_id)
    assert alert.status == ACKNOWLEDGED
    if winners[0].startswith("phone"):
        winner = calls[int(winners[0].split("-")[1])]
        assert alert.resolved_leg == winner.id
        kept = {uuid_of(winner)}
    else:
        assert alert.resolved_via == "slack" and alert.resolved_by == f"U9{winners[0].split('-')[1]}"
        kept = set()
    # Every other answered call was hung up, once; the winner's call was kept.
    assert sorted(plivo_rest.stopped) == sorted(("Call", uuid_of(leg)) for leg in calls if uuid_of(leg) not in kept)


def test_acknowledging_in_slack_stops_the_calls_as_a_keypress_does(core, plivo_rest):
    alert_id = raise_alert(core, ALICE, BOB)
    alice, bob = leg_of(core, alert_id, ALICE), leg_of(core, alert_id, BOB)
    answer(core, alice, "call-alice")
    taking = core.alerts.acknowledge(alert_id, "U7", "Dana")
    settle(core)
    assert taking.won
    alert = core.alerts.get(alert_id)
    assert (alert.resolved_via, alert.resolved_by, alert.resolved_name) == ("slack", "U7", "Dana")
    assert sorted(plivo_rest.stopped) == [("Call", "call-alice"), ("Request", core.legs.get(bob.token).request_uuid)]
    assert press_1(core, alice, "call-alice").turn is Turn.TAKEN


def test_cancelling_stops_every_call_and_cannot_follow_an_acknowledgement(core, plivo_rest):
    alert_id = raise_alert(core, ALICE, BOB)
    assert core.alerts.cancel(alert_id, "U7", "Dana").won
    settle(core)
    assert core.alerts.get(alert_id).status == CANCELLED
    assert sorted(plivo_rest.stopped) == [("Request", "req-1"), ("Request", "req-2")]
    assert answer(core, leg_of(core, alert_id, ALICE)).turn is Turn.CANCELLED

    other = raise_alert(core, ALICE, requester=Requester("U0ANA", "C0OTHER"))
    assert core.alerts.acknowledge(other, "U1", "Alice").won
    assert core.alerts.cancel(other, "U7", "Dana").won is False
    assert core.alerts.get(other).status == ACKNOWLEDGED


def run_all_but_dialling(core) -> None:
    """Run the work that is due, except the create-calls (as while the dial pool is busy)."""
    registry = core.workers.registry
    without_dialling = Registry({kind: handler for kind, handler in registry.handlers.items() if kind != PLACE},
                                dict(registry.policies))
    Workers(core.queue, without_dialling, []).run_due()


def test_a_call_taken_before_it_was_placed_never_rings(core, plivo_rest):
    alert_id = raise_alert(core, ALICE, BOB, settled=False)
    run_all_but_dialling(core)  # the calls are stored and queued, not placed
    assert [leg.status for leg in core.legs.of_alert(alert_id)] == [QUEUED, QUEUED]
    assert core.alerts.acknowledge(alert_id, "U7", "Dana").won
    run_all_but_dialling(core)  # the other calls are stopped before the dial pool gets to them
    settle(core)
    assert plivo_rest.created == [] and plivo_rest.stopped == []
    assert [leg.outcome for leg in core.legs.of_alert(alert_id)] == [Outcome.CANCELLED, Outcome.CANCELLED]


def test_a_call_queued_when_its_alert_is_taken_is_not_dialled_even_before_the_others_are_stopped(core, plivo_rest):
    alert_id = raise_alert(core, ALICE, BOB, settled=False)
    run_all_but_dialling(core)
    assert core.alerts.acknowledge(alert_id, "U7", "Dana").won
    settle(core)  # the create-calls were due first: they run before alert.stop
    assert plivo_rest.created == []


def in_flight(plivo_api, plivo_rest, meanwhile):
    """Plivo's create-call: `meanwhile(token)` happens while it is on its way, then Plivo accepts it."""

    def create(request):
        meanwhile(token_of(json.loads(request.body)))
        return plivo_rest._create(request)

    plivo_api.replace(responses.CallbackResponse(responses.POST, CREATE_CALL_URL, callback=create))


def take_meanwhile(core, done):
    def taken(token):
        if not done:
            done.append(core.alerts.acknowledge(core.legs.get(token).alert_id, "U7", "Dana").won)
            core.workers.run_due()  # the other calls are stopped now, while this one is still being placed
    return taken


def test_a_call_taken_while_plivo_was_placing_it_is_cancelled_as_soon_as_plivo_names_it(
        core, plivo_rest, plivo_api):
    done = []
    in_flight(plivo_api, plivo_rest, take_meanwhile(core, done))
    alert_id = raise_alert(core, ALICE)
    assert done == [True] and dialled(plivo_rest) == [ALICE.number]
    assert core.legs.get(leg_of(core, alert_id, ALICE).token).stop_requested
    assert plivo_rest.stopped == [("Request", "req-1")]


def test_a_call_taken_while_being_placed_that_rang_before_plivos_reply_is_still_stopped(
        core, plivo_rest, plivo_api):
    done = []
    take = take_meanwhile(core, done)

    def taken_then_rang(token):
        take(token)
        ring(core, token, "call-early")  # the ring callback beats the create-call's reply

    in_flight(plivo_api, plivo_rest, taken_then_rang)
    raise_alert(core, ALICE)
    assert done == [True]
    assert plivo_rest.stopped in ([("Request", "req-1")], [("Call", "call-early")])


def test_an_unconfirmed_call_of_a_taken_alert_is_hung_up_when_it_rings(core, plivo_rest):
    plivo_rest.time_out_next = 1
    alert_id = raise_alert(core, ALICE)
    alice = leg_of(core, alert_id, ALICE)
    assert alice.unconfirmed
    core.alerts.acknowledge(alert_id, "U7", "Dana")
    settle(core)
    ring(core, alice.token, "call-late")
    settle(core)
    assert plivo_rest.stopped == [("Call", "call-late")]


# -- nobody acknowledges -------------------------------------------------------------------------------------


def test_unanswered_calls_are_retried_after_the_delay_then_given_up(core, plivo_rest, clock, fake_slack):
    requester = through_reply_url(fake_slack)
    reply_url = requester.reply_url
    alert_id = raise_alert(core, ALICE, BOB, requester=requester)
    end(core, leg_of(core, alert_id, ALICE), "busy", 3010, "Busy Line")
    assert len(plivo_rest.created) == 2  # Bob's call is still going: the round is not over
    end(core, leg_of(core, alert_id, BOB))
    assert core.alerts.get(alert_id).next_at == clock.now + timedelta(seconds=60)

    clock.advance(seconds=59)
    settle(core)
    assert len(plivo_rest.created) == 2
    clock.advance(seconds=1)
    settle(core)
    assert dialled(plivo_rest)[2:] == [ALICE.number, BOB.number]
    assert core.alerts.get(alert_id).round == 1

    for round_ in (1, 2):
        for target in (ALICE, BOB):
            end(core, leg_of(core, alert_id, target, round_))
        clock.advance(seconds=60)
        settle(core)
    assert len(plivo_rest.created) == 6  # the first round and ALERT_RETRIES=2 more
    assert core.alerts.get(alert_id).status == EXHAUSTED
    assert alert_work_pending(core) == []
    told = [response.get("text", "") for response in fake_slack.responses_to(reply_url)]
    assert sum("Nobody acknowledged the alert after 3 rounds of calls" in text for text in told) == 1


def test_a_chain_calls_the_next_link_at_once_and_restarts_after_the_delay(core, plivo_rest, clock):
    alert_id = raise_alert(core, ALICE, CAROL)
    assert dialled(plivo_rest) == [ALICE.number]
    end(core, leg_of(core, alert_id, ALICE))
    assert dialled(plivo_rest) == [ALICE.number, CAROL.number]
    carol = leg_of(core, alert_id, CAROL)
    answer(core, carol)
    end(core, carol, "completed", 4000, "Normal Hangup", duration=25)  # heard it, pressed nothing
    assert len(plivo_rest.created) == 2
    clock.advance(seconds=60)
    settle(core)
    assert dialled(plivo_rest) == [ALICE.number, CAROL.number, ALICE.number]


def test_an_acknowledgement_stops_the_chain(core, plivo_rest, clock):
    alert_id = raise_alert(core, ALICE, CAROL)
    alice = leg_of(core, alert_id, ALICE)
    answer(core, alice)
    press_1(core, alice)
    end(core, alice, "completed", 4000, "Normal Hangup", duration=30)
    clock.advance(hours=1)
    settle(core)
    assert dialled(plivo_rest) == [ALICE.number]
    assert alert_work_pending(core) == []


def test_an_acknowledgement_during_the_retry_delay_cancels_the_next_round(core, plivo_rest, clock):
    alert_id = raise_alert(core, ALICE)
    end(core, leg_of(core, alert_id, ALICE))
    assert alert_work_pending(core) == [f"{STEP}:{alert_id}:1"]
    core.alerts.acknowledge(alert_id, "U1", "Alice")
    clock.advance(seconds=61)
    settle(core)
    assert len(plivo_rest.created) == 1
    assert core.alerts.get(alert_id).next_at is None and core.alerts.get(alert_id).position == 0


def test_an_alert_nobody_acknowledged_can_still_be_acknowledged_but_not_cancelled(core, clock, plivo_rest,
                                                                                fake_slack):
    alert_id = raise_alert(core, ALICE, requester=through_reply_url(fake_slack))
    for round_ in range(3):
        end(core, leg_of(core, alert_id, ALICE, round_))
        clock.advance(seconds=60)
        settle(core)
    assert core.alerts.get(alert_id).status == EXHAUSTED
    assert core.alerts.cancel(alert_id, "U7", "Dana").won is False
    assert core.alerts.acknowledge(alert_id, "U1", "Alice").won
    assert core.alerts.get(alert_id).status == ACKNOWLEDGED


def test_voicemail_gets_the_message_once_and_counts_as_not_acknowledged(core, plivo_rest, clock):
    alert_id = raise_alert(core, ALICE)
    leg = leg_of(core, alert_id, ALICE)
    assert answer(core, leg).turn is Turn.PLAY
    machine(core, leg.token, uuid_of(leg))
    assert core.alert_calls.after_message(leg.token, uuid_of(leg)).turn is Turn.HANG_UP
    assert core.alert_calls.silence(leg.token, uuid_of(leg)).turn is Turn.HANG_UP
    end(core, leg, "completed", 4000, "Normal Hangup", duration=14)
    ended = core.legs.get(leg.token)
    assert (ended.outcome, ended.duration) == (Outcome.VOICEMAIL, 14)
    assert core.alerts.get(alert_id).status == ACTIVE
    clock.advance(seconds=60)
    settle(core)
    assert dialled(plivo_rest) == [ALICE.number, ALICE.number]


def test_the_menu_repeats_three_times_without_a_key_then_says_goodbye(core, plivo_rest):
    alert_id = raise_alert(core, ALICE)
    leg = leg_of(core, alert_id, ALICE)
    call = uuid_of(leg)
    answer(core, leg)
    assert core.alert_calls.after_message(leg.token, call).turn is Turn.MENU
    assert [core.alert_calls.silence(leg.token, call).turn for _ in range(MENU_REPEATS)] == [Turn.MENU] * MENU_REPEATS
    # A key in between starts the count again.
    assert core.alert_calls.key_pressed(leg.token, call, Turn.REPEAT).turn is Turn.REPEAT
    assert [core.alert_calls.silence(leg.token, call).turn for _ in range(MENU_REPEATS + 1)] == \
        [Turn.MENU] * MENU_REPEATS + [Turn.NO_INPUT]
    assert core.alert_calls.key_pressed(leg.token, call, Turn.INVALID_KEY).turn is Turn.INVALID_KEY


# -- Plivo's refusals ---------------------------------------------------------------------------------------------


def test_a_refusal_by_plivo_is_not_retried_in_the_next_rounds(core, plivo_rest, plivo_api, clock, fake_slack):
    plivo_rest.refuse_with = (403, {"error": "Calls to this destination country are barred."})
    alert_id = raise_alert(core, ALICE, requester=through_reply_url(fake_slack))
    failed = leg_of(core, alert_id, ALICE)
    assert failed.outcome is Outcome.FAILED and failed.permanent
    assert "does not allow calls to this destination" in failed.cause
    plivo_rest.refuse_with = None
    clock.advance(seconds=60)
    settle(core)
    # Nobody left to call in round 2 or 3: the alert is given up without ringing anyone.
    assert plivo_rest.created == []
    assert sum(1 for call in plivo_api.calls if call.request.url == CREATE_CALL_URL) == 1
    assert core.alerts.get(alert_id).status == EXHAUSTED


def test_a_rate_limit_by_plivo_is_retried_and_the_call_placed(core, plivo_rest, clock):
    plivo_rest.refuse_with = (429, {"error": "too many requests"})
    alert_id = raise_alert(core, ALICE)
    assert leg_of(core, alert_id, ALICE).status == QUEUED  # back in line, not failed
    plivo_rest.refuse_with = None
    clock.advance(seconds=1)
    settle(core)
    assert dialled(plivo_rest) == [ALICE.number]
    assert leg_of(core, alert_id, ALICE).request_uuid == "req-1"
    assert len(core.legs.of_alert(alert_id)) == 1  # the same call, not a new one


def test_an_alert_call_plivo_keeps_failing_says_so_is_tried_through_its_round_then_the_chain_goes_on(
        core, plivo_rest, plivo_api, clock, fake_slack):
    plivo_rest.refuse_with = (503, {"error": "service unavailable"})
    alert_id = raise_alert(core, ALICE, CAROL)
    assert leg_of(core, alert_id, ALICE).status == QUEUED
    settle(core)
    assert "Plivo is having trouble; still trying" in shown(fake_slack)
    # Tried through the round it belongs to (its ring time and the wait for the next round: 45 + 60 s)…
    waited = 0
    while not leg_of(core, alert_id, ALICE).ended:
        clock.advance(seconds=1)
        waited += 1
        settle(core)
        assert waited <= 105
    assert waited > 95
    alice = leg_of(core, alert_id, ALICE)
    assert alice.outcome is Outcome.FAILED and not alice.permanent
    assert alice.cause == (f"Plivo had a problem on its side (HTTP 503); tried again for {waited} s, until the "
                           "alert's round was over. No call was placed.")
    # …then the chain goes on at once to its next link (tried as well), placed once Plivo recovers.
    assert leg_of(core, alert_id, CAROL).retrying
    plivo_rest.refuse_with = None
    clock.advance(seconds=1)
    settle(core)
    assert dialled(plivo_rest) == [CAROL.number]
    assert sum(1 for call in plivo_api.calls if call.request.url == CREATE_CALL_URL) > 20


# -- callbacks late, twice, or for another call ---------------------------------------------------------------


def test_duplicate_and_late_callbacks_change_nothing(core, plivo_rest, fake_slack):
    alert_id = raise_alert(core, ALICE)
    leg = leg_of(core, alert_id, ALICE)
    answer(core, leg)
    ring(core, leg.token, uuid_of(leg))  # a ring delivered after the answer
    settle(core)
    assert core.legs.get(leg.token).status == "answered"
    end(core, leg, "completed", 4000, "Normal Hangup", duration=20)
    updates = len(fake_slack.calls("chat.update"))
    pending = alert_work_pending(core)
    assert end(core, leg, "busy", 3010, "Busy Line") is None
    assert ring(core, leg.token, uuid_of(leg)) is None
    settle(core)
    assert len(fake_slack.calls("chat.update")) == updates
    assert core.legs.get(leg.token).outcome is Outcome.ANSWERED
    assert pending == alert_work_pending(core) == [f"{STEP}:{alert_id}:1"]
    assert answer(core, leg).turn is Turn.ENDED


def test_a_second_call_uuid_cannot_take_over_a_call(core, plivo_rest):
    alert_id = raise_alert(core, ALICE, CAROL)
    leg = leg_of(core, alert_id, ALICE)
    assert answer(core, leg, "call-a").turn is Turn.PLAY
    assert core.alert_calls.answer(leg.token, "call-b").turn is Turn.UNKNOWN
    assert core.alert_calls.acknowledge_by_phone(leg.token, "call-b").turn is Turn.UNKNOWN
    assert end(core, leg, "completed", call_uuid="call-b") is None
    assert core.alert_calls.answer("no-such-token-aaaaaaaaaaaaaaaa", "call-a").turn is Turn.UNKNOWN
    assert core.alerts.get(alert_id).status == ACTIVE and core.legs.get(leg.token).status == "answered"
    assert dialled(plivo_rest) == [ALICE.number]  # the chain did not move on


def test_a_call_plivo_never_reports_on_is_closed_and_the_alert_moves_on(core, plivo_rest, clock):
    alert_id = raise_alert(core, ALICE, CAROL)
    clock.advance(seconds=STALE_AFTER.total_seconds() - 60)
    settle(core)
    assert dialled(plivo_rest) == [ALICE.number]
    clock.advance(seconds=60)
    settle(core)
    alice = leg_of(core, alert_id, ALICE)
    assert (alice.status, alice.cause) == (ENDED, NO_FINAL_REPORT)
    assert dialled(plivo_rest) == [ALICE.number, CAROL.number]


def test_no_row_of_an_alert_call_holds_the_message(core, plivo_rest):
    raise_alert(core, ALICE, message="The vault code is 1234")
    assert all("vault" not in str(row) for row in leg_rows(core))
    assert all("vault" not in str(item) for item in work_of(core, PLACE))
