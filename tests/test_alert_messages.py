"""The alert message in Slack: pure functions over an alert and its calls."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from bot.alerts.messages import (
    alert_blocks,
    alert_text,
    gave_up_text,
    not_called_reply,
    too_late_reply,
)
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    EXHAUSTED,
    AlertRecord,
    AlertView,
    Skipped,
    Target,
)
from voice.calls.models import ALERT as ALERT_CALL
from voice.calls.models import ENDED, RINGING, Leg, Requester
from voice.calls.outcomes import Outcome

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
ALERT = AlertRecord(
    id=7, requester=Requester("U0ANA", "C0OPS"), sender_name="Ana", channel_name="ops",
    message="DB <primary> & replica down\n<!channel> look", rounds=3, retry_delay=60, position=0,
    status=ACTIVE, created_at=NOW, skipped=(Skipped("<@U3>", "has no phone number in their Slack profile"),),
    targets=(Target("+14155550101", 0, "U1", "Alice"), Target("+14155550102", 1, None, None)),
)


def leg(target, status=RINGING, outcome=None, position=0, **changes):
    return Leg(purpose=ALERT_CALL, id=target + 1 + 10 * position, alert_id=7, token=f"t{target}", position=position, target=target,
               to_number="+1", status=status, created_at=NOW, outcome=outcome, **changes)


def texts(blocks):
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


def actions(blocks):
    return [element["action_id"] for block in blocks if block["type"] == "actions" for element in block["elements"]]


def test_an_active_alert_shows_the_message_each_recipient_and_both_buttons():
    blocks = alert_blocks(AlertView(ALERT, (leg(0),)))
    head, status, recipients = texts(blocks)
    assert head == (":rotating_light: *Alert* from <@U0ANA>\n"
                    ">DB &lt;primary&gt; &amp; replica down\n>&lt;!channel&gt; look")
    assert status == ":telephone_receiver: Calling… round 1 of 3."
    assert recipients.splitlines() == [
        "1. <@U1> :bell: ringing · call 1 of 3",
        "2. +1 415-555-0102 :double_vertical_bar: waiting for the earlier calls",
        "• <@U3> :no_entry: not called: has no phone number in their Slack profile",
    ]
    assert actions(blocks) == ["alert_acknowledge", "alert_cancel"]
    assert {element["value"] for block in blocks if block["type"] == "actions" for element in block["elements"]} == {"7"}


def test_a_pending_round_says_when_it_starts_in_the_readers_time_zone():
    pending = replace(ALERT, next_at=NOW + timedelta(seconds=60))
    status = texts(alert_blocks(AlertView(pending, (leg(0, ENDED, Outcome.VOICEMAIL, machine_at=NOW),))))[1]
    stamp = int((NOW + timedelta(seconds=60)).timestamp())
    assert status == (f":hourglass: Nobody has acknowledged yet. Round 2 of 3 starts "
                      f"<!date^{stamp}^at {{time_secs}}|at 10:01:00 UTC>.")
    assert "voicemail — not acknowledged · call 1 of 3" in texts(alert_blocks(AlertView(pending, (
        leg(0, ENDED, Outcome.VOICEMAIL, machine_at=NOW),))))[2]


def test_who_acknowledged_how_and_after_how_long_and_no_more_buttons():
    by_phone = replace(ALERT, status=ACKNOWLEDGED, resolved_at=NOW + timedelta(seconds=65), resolved_via="phone",
                       resolved_by="U1", resolved_leg=1)
    blocks = alert_blocks(AlertView(by_phone, (leg(0, ENDED, Outcome.ANSWERED),)))
    assert texts(blocks)[1] == ":white_check_mark: *Acknowledged* by <@U1> by phone after 1 min 5 s."
    assert "1. <@U1> :white_check_mark: acknowledged · call 1 of 3" in texts(blocks)[2]
    assert "2. +1 415-555-0102 :heavy_minus_sign: not called" in texts(blocks)[2]
    assert actions(blocks) == []
    by_number = replace(by_phone, resolved_by=None, resolved_number="+14155550102")
    assert "by +1 415-555-0102 by phone" in texts(alert_blocks(AlertView(by_number)))[1]
    in_slack = replace(by_phone, resolved_via="slack", resolved_by="U9", resolved_at=NOW + timedelta(seconds=9))
    assert texts(alert_blocks(AlertView(in_slack)))[1] == ":white_check_mark: *Acknowledged* by <@U9> in Slack after 9 s."


def test_a_cancelled_alert_says_who_cancelled_it():
    cancelled = replace(ALERT, status=CANCELLED, resolved_at=NOW + timedelta(minutes=2), resolved_via="slack",
                        resolved_by="U9")
    blocks = alert_blocks(AlertView(cancelled, (leg(0, ENDED, Outcome.CANCELLED, stop_requested=True),)))
    assert texts(blocks)[1].startswith(":heavy_multiplication_x: *Cancelled* by <@U9> in Slack after 2 min 0 s.")
    assert "<@U1> :heavy_multiplication_x: cancelled" in texts(blocks)[2]
    assert actions(blocks) == []


def test_nobody_acknowledging_mentions_the_requester_and_keeps_the_acknowledge_button():
    exhausted = replace(ALERT, status=EXHAUSTED, position=5, resolved_at=NOW + timedelta(minutes=5))
    blocks = alert_blocks(AlertView(exhausted, (leg(0, ENDED, Outcome.NO_ANSWER, position=4),
                                                leg(1, ENDED, Outcome.FAILED, position=5, cause="out of service"))))
    assert texts(blocks)[1] == ":warning: *Nobody acknowledged* after 3 rounds of calls. <@U0ANA>"
    assert "1. <@U1> :no_bell: no answer · call 3 of 3" in texts(blocks)[2]
    assert "2. +1 415-555-0102 :x: failed: out of service · call 3 of 3" in texts(blocks)[2]
    assert actions(blocks) == ["alert_acknowledge"]
    assert gave_up_text(exhausted).startswith("<@U0ANA> :warning: Nobody acknowledged the alert after 3 rounds")


def test_the_notification_text_carries_the_message_escaped():
    assert alert_text(AlertView(ALERT)).startswith(
        ":rotating_light: Alert from <@U0ANA>: DB &lt;primary&gt; &amp; replica down")


def test_many_recipients_are_split_into_sections_slack_accepts():
    crowd = replace(ALERT, targets=tuple(Target(f"+1415555{index:04d}", 0, f"U{index:09d}", "x")
                                         for index in range(50)), skipped=())
    blocks = alert_blocks(AlertView(crowd))
    assert all(len(text) <= 3000 for text in texts(blocks))
    assert sum(text.count("<@U") for text in texts(blocks)[2:]) == 50
    assert len(blocks) <= 50


def test_replies_to_the_requester_and_to_a_late_click():
    reply = not_called_reply((Skipped("<@U3>", "has no phone <number>"),), nobody_left=True)
    assert reply == ":no_entry: Nobody can be called, so no call was placed:\n• <@U3>: has no phone &lt;number&gt;"
    taken = replace(ALERT, status=ACKNOWLEDGED, resolved_via="slack", resolved_by="U9")
    assert too_late_reply(taken) == ":white_check_mark: <@U9> already acknowledged this alert in Slack."
    assert too_late_reply(replace(ALERT, status=CANCELLED, resolved_by="U9")) == \
        ":heavy_multiplication_x: <@U9> already cancelled this alert."
