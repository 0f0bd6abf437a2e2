"""A hotline call's message and `/voicealert hotlines`, as Slack would show them (Block Kit and mrkdwn checked
as Slack checks them): the caller's number masked, the state, the voicemail, what the call-outs cost."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from bot.hotline.listing import hotlines_text, is_hotlines
from bot.hotline.messages import hotline_blocks, hotline_text
from tests.fakes.slack_checks import message_problems
from voice.alerts.models import ACTIVE, AlertRecord, AlertView, Target
from voice.calls.models import ALERT, ENDED, RINGING, Leg, Requester
from voice.hotline.models import CONNECTED, VOICEMAIL, WAITING, HotlineDef, InboundCall
from voice.routing.models import RecipientRef

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
CALL = InboundCall(id=1, token="t", call_uuid="in-1", hotline="+14155550000", name="Backend on call",
                   caller="+14155550123", status=WAITING, room="hotline-x", created_at=T0, channel="C0OPS")
ALERT_ = AlertRecord(id=9, requester=Requester("", "C0OPS"), sender_name="Backend on call", channel_name=None,
                     message="4 1 5", targets=(Target("+14155550101", 0, "U0ALICE", "Alice"),), skipped=(), rounds=1,
                     retry_delay=60, position=0, status=ACTIVE, created_at=T0, hotline_call=1)


def leg(status=RINGING, **changes) -> Leg:
    return Leg(id=1, token="l1", purpose=ALERT, to_number="+14155550101", status=status, created_at=T0, alert_id=9,
               position=0, target=0, **changes)


def shown(call: InboundCall, view: AlertView | None, now=T0 + timedelta(seconds=35)) -> tuple[str, str]:
    text, blocks = hotline_text(call, view, now), hotline_blocks(call, view, now)
    assert message_problems({"text": text, "blocks": blocks}) == []
    return text, str(blocks)


def test_a_waiting_caller_is_shown_masked_with_who_is_being_rung():
    text, _ = shown(CALL, AlertView(ALERT_, (leg(),)))
    assert text == (":telephone: Incoming call to *Backend on call* from +1 415-•••-0123 — :hourglass_flowing_sand: "
                    "waiting 35 s · ringing <@U0ALICE>…")
    assert "+14155550123" not in text


def test_connected_and_ended_with_what_the_call_outs_cost():
    ended = replace(CALL, status=CONNECTED, taker="U0ALICE", connected_at=T0 + timedelta(seconds=20))
    text, blocks = shown(ended, AlertView(ALERT_, (leg(ENDED, cost="0.01300"), replace(leg(ENDED, cost="0.0085"), id=2))),
                         now=T0 + timedelta(minutes=4, seconds=32))
    assert text.endswith(":white_check_mark: connected with <@U0ALICE> · 4 min 12 s")
    assert "2 call-outs: $0.0215 (Plivo's price)" in blocks


def test_a_voicemail_with_its_recording():
    left = replace(CALL, status=VOICEMAIL, voicemail_reason="nobody", recording_url="https://media.plivo.com/r.mp3",
                   recording_seconds=42)
    text, _ = shown(left, None)
    assert text.endswith("nobody took it · voicemail, 42 s · <https://media.plivo.com/r.mp3|listen>")


def test_voicealert_hotlines_lists_them():
    line = HotlineDef("+14155550000", "Backend on call", ((RecipientRef("schedule", "backend"),),
                                                         (RecipientRef("user", "U0LEAD"),)), "C0OPS")
    text = hotlines_text([line])
    assert text == (":telephone: 1 hotline (defined in ROUTING_FILE):\n• *Backend on call* — +1 415-555-0000 → "
                    "schedule:backend &gt; <@U0LEAD>, shown in <#C0OPS>")
    assert message_problems({"text": text}) == []
    assert "No hotline yet" in hotlines_text([])
    assert is_hotlines(" hotlines ") and not is_hotlines("hotlines now")
