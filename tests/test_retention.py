"""What the database forgets, on SQLite and PostgreSQL, on a clock the test moves: the hourly housekeeping
deletes calls, codes, alerts, refusals, steps, finished work and idle rates once RETENTION_DAYS have passed,
and keeps what is newer; no work row is made for work that does not exist; response_urls are erased once
Slack no longer honours them (30 minutes, 5 uses), and nothing tries to use an erased one."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, select

from answer_server.services import REPLY_URL_SWEEP
from tests.core import hang_up, ring, settle, work_of
from voice.alerts.models import Target
from voice.calls.models import Requester
from voice.calls.numbers import parse_phone_number
from voice.clock import as_utc
from voice.codes.service import CodeOrder
from voice.queue.ratelimit import SlotLimiter
from voice.retention import BATCH, Retention
from voice.store.db import reading, transaction
from voice.store.schema import (
    alert_numbers,
    alerts,
    hotline_calls,
    legs,
    otp_codes,
    rate_slots,
    refusals,
    schedule_overrides,
    work_items,
    workflow_steps,
)
from voice.workflows.steps import STEP_DONE

CHANNEL = "C0OPS"
REQUESTER = Requester("U0ANA", CHANNEL, team_id="T0001")
RETENTION_DAYS = 30


def code_call(core, requester: Requester, number: str = "+14155550123"):
    """A voice code's call, stored and placed; its leg."""
    _, leg = core.otp.request(CodeOrder(number=parse_phone_number(number), requester=requester, source="slack",
                                        code="483920"))
    settle(core)
    return leg


def raise_alert(core, requester: Requester, message: str = "DB down") -> int:
    """An alert to Alice, its recipients looked up (as bot/alerts/opening.py does); its id."""
    alert_id = core.alerts.request(requester=requester, sender_name="Ana", channel_name=None, message=message,
                                   recipients={"stages": [], "message": message}, request_id=None)
    core.alerts.opened(alert_id, sender_name="Ana", message=message,
                       targets=(Target("+14155550101", 0, "U1", "Alice"),), skipped=())
    return alert_id


def a_day_of_calls(core, plivo_rest, clock, tag: str, number: str) -> dict:
    """What a day leaves behind: a voice code's call (ended and reported), an alert with its call (taken),
    a refusal, a Workflow step, a rate slot of a channel. Returns what identifies each."""
    leg = code_call(core, REQUESTER, number)
    ring(core, leg.token, f"call-{tag}")
    hang_up(core, leg.token, f"call-{tag}", status="no-answer", cause_code=3030, cause_name="No Answer", duration=0)
    alert_id = raise_alert(core, REQUESTER, f"{tag} down")
    settle(core)
    core.alerts.acknowledge(alert_id, "U7", "Dana")
    settle(core)
    core.otp.refuse(source="slack", requester=REQUESTER, number=number, kind="number_limit", reason=tag)
    core.steps.record(f"Fx{tag}", "call", leg.token, "xwfp-step-token", "T0001")
    settle(core)
    SlotLimiter(core.engine, f"slack.post:C{tag.upper()}", 1.0, clock=lambda: clock().timestamp()).reserve()
    return {"token": leg.token, "alert": alert_id, "refusal": tag, "step": f"Fx{tag}", "slot": f"slack.post:C{tag.upper()}"}


def rows(core, table, column) -> list:
    with reading(core.engine) as conn:
        return list(conn.execute(select(column).select_from(table)).scalars())


def test_the_hourly_housekeeping_deletes_what_is_older_than_retention_days_and_keeps_the_rest(
        core, plivo_rest, clock, fake_slack):
    old = a_day_of_calls(core, plivo_rest, clock, "old", "+14155550123")
    clock.advance(minutes=15)
    settle(core)  # the calls' timers (the check for a final report) run in their time
    old_legs = set(rows(core, legs, legs.c.token))
    clock.advance(days=RETENTION_DAYS - 1)
    settle(core)  # the housekeeping's hourly runs: nothing is old enough yet
    assert set(rows(core, legs, legs.c.token)) == old_legs

    clock.advance(days=2)
    new_day = clock()
    new = a_day_of_calls(core, plivo_rest, clock, "new", "+14155550124")
    clock.advance(hours=1)
    settle(core)  # the housekeeping falls due

    assert old["token"] not in rows(core, legs, legs.c.token) and new["token"] in rows(core, legs, legs.c.token)
    assert rows(core, alerts, alerts.c.id) == [new["alert"]]
    assert {leg.alert_id for leg in core.legs.of_alert(new["alert"])} == {new["alert"]}
    assert rows(core, otp_codes, otp_codes.c.call_token) == [new["token"]]
    assert rows(core, refusals, refusals.c.reason) == ["new"]
    assert rows(core, workflow_steps, workflow_steps.c.execution_id) == [new["step"]]
    assert old["slot"] not in rows(core, rate_slots, rate_slots.c.name)
    assert new["slot"] in rows(core, rate_slots, rate_slots.c.name)
    with reading(core.engine) as conn:
        work = conn.execute(select(work_items.c.kind, work_items.c.created_at)
                            .where(work_items.c.kind.not_like("queue.%"))).all()  # the periodic sweeps stay
    assert work and all(as_utc(created) >= new_day for _, created in work), work
    # The App Home's history: the new day's calls and alert only.
    history = core.test_calls.recent(REQUESTER)
    assert {line.kind for line in history} == {"otp", "alert"} and len(history) == 2


def test_no_work_row_is_made_for_a_workflow_step_that_does_not_exist_nor_kept_for_a_message_long_shown(
        core, plivo_rest, clock, fake_slack):
    leg = code_call(core, REQUESTER)
    ring(core, leg.token, "call-1")
    hang_up(core, leg.token, "call-1")
    settle(core)
    assert work_of(core, STEP_DONE) == []  # no Workflow step waits on a slash command's call
    assert [item["state"] for item in work_of(core, "report.call")] == ["idle"]
    clock.advance(days=1, hours=2)
    settle(core)
    assert work_of(core, "report.call") == []  # the message shows its last state: nothing left to do


def test_a_workflow_step_still_completes_when_its_call_ends(core, plivo_rest, clock, fake_slack):
    leg = code_call(core, REQUESTER)
    core.steps.record("Fx1", "call", leg.token, "xwfp-step-token", "T0001")
    settle(core)
    hang_up(core, leg.token, "call-1", status="busy", cause_code=3010, cause_name="Busy Line", duration=0)
    settle(core)
    assert fake_slack.calls("functions.completeSuccess")[0]["function_execution_id"] == "Fx1"


def test_a_sweep_deletes_in_small_batches_and_leaves_newer_rows(core, clock):
    now = clock()
    with transaction(core.engine) as conn:
        conn.execute(insert(refusals), [
            {"created_at": now - timedelta(days=RETENTION_DAYS + 1), "source": "api", "requester_id": "k",
             "channel_id": "", "number": None, "kind": "k", "reason": "old"}] * (2 * BATCH + 7) + [
            {"created_at": now - timedelta(days=1), "source": "api", "requester_id": "k", "channel_id": "",
             "number": None, "kind": "k", "reason": "recent"}])
    statements = []

    def count(conn, cursor, statement, *_):
        if statement.lstrip().upper().startswith("DELETE FROM REFUSALS"):
            statements.append(statement)

    event.listen(core.engine, "before_cursor_execute", count)
    swept = Retention(core.engine, days=RETENTION_DAYS, clock=clock).sweep()
    assert swept.counts["refusals"] == 2 * BATCH + 7 and len(statements) == 3  # three transactions, not one
    assert rows(core, refusals, refusals.c.reason) == ["recent"]


def test_numbers_typed_into_alerts_are_forgotten_a_day_later_once_their_hourly_limit_cannot_count_them(
        core, clock):
    now = clock()
    with transaction(core.engine) as conn:
        conn.execute(insert(alert_numbers), [
            {"alert_id": 1, "number": "+14155550166", "created_at": now - timedelta(days=1, minutes=1)},
            {"alert_id": 2, "number": "+14155550166", "created_at": now - timedelta(minutes=30)}])
    swept = Retention(core.engine, days=RETENTION_DAYS, clock=clock).sweep()
    assert swept.counts["alert_numbers"] == 1
    assert rows(core, alert_numbers, alert_numbers.c.alert_id) == [2]  # still counted against the limit


# -- response_urls (7.8) --------------------------------------------------------------------------------------

def reply_urls(core) -> list:
    with reading(core.engine) as conn:
        return [*conn.execute(select(legs.c.reply_url)).scalars(), *conn.execute(select(alerts.c.reply_url)).scalars()]


def test_response_urls_are_erased_once_30_minutes_have_passed(core, plivo_rest, clock, fake_slack):
    url = fake_slack.response_url("voiceotp")
    leg = code_call(core, Requester("U0ANA", "", reply_url=url))  # a DM: reported through the response_url
    hang_up(core, leg.token, "call-1")
    settle(core)
    assert fake_slack.responses_to(url) and reply_urls(core) == [url]
    clock.advance(minutes=29)
    settle(core)
    assert reply_urls(core) == [url]  # Slack still honours it
    clock.advance(minutes=REPLY_URL_SWEEP / 60 + 1)  # the sweep runs every few minutes
    settle(core)
    assert set(reply_urls(core)) == {None}


def test_an_alert_ending_after_its_response_url_expired_sends_nothing_to_it_and_keeps_its_message(
        core, plivo_rest, clock, fake_slack, caplog):
    url = fake_slack.response_url("voicealert")
    alert_id = raise_alert(core, Requester("U0ANA", "", reply_url=url))
    settle(core)
    shown = len(fake_slack.responses_to(url))
    assert shown == 1  # the alert's message, through the response_url
    with caplog.at_level(logging.INFO):
        for minutes in (40, 2, 0):  # nobody answers; the rounds go on past Slack's 30 minutes
            [live] = [leg for leg in core.legs.of_alert(alert_id) if not leg.ended]
            hang_up(core, live.token, f"call-{live.id}", status="no-answer", cause_code=3030,
                    cause_name="No Answer", duration=0)
            settle(core)
            clock.advance(minutes=minutes)
            settle(core)
    assert core.alerts.get(alert_id).status == "exhausted"
    assert set(reply_urls(core)) == {None}
    assert len(fake_slack.responses_to(url)) == shown  # nothing sent to a URL Slack would refuse
    assert "no response_url to report through" not in caplog.text
    assert "its response_url has expired" in caplog.text


def test_a_response_url_used_five_times_is_erased_at_once(core, plivo_rest, clock, fake_slack):
    url = fake_slack.response_url("voiceotp")
    leg = code_call(core, Requester("U0ANA", "", reply_url=url))
    while core.legs.spend_reply_use(leg.token, 5):
        pass
    clock.advance(minutes=6)  # the sweep's next run, well within the 30 minutes
    settle(core)
    assert set(reply_urls(core)) == {None}


def test_response_urls_kept_in_alerts_and_work_items_are_erased_too(core, plivo_rest, clock, fake_slack):
    url = fake_slack.response_url("voicealert")
    raise_alert(core, Requester("U0ANA", "", reply_url=url))
    with transaction(core.engine) as conn:
        core.queue.enqueue(conn, "slack.notice", "U0ANA", payload={"text": "Only you can see this", "channel": None,
                                                                   "reply_url": url, "ephemeral": True, "team": ""})
    settle(core)
    clock.advance(minutes=30 + REPLY_URL_SWEEP / 60)
    settle(core)
    assert set(reply_urls(core)) == {None}
    with reading(core.engine) as conn:
        payloads = list(conn.execute(select(work_items.c.payload).where(work_items.c.payload.is_not(None))).scalars())
        assert not [payload for payload in payloads if url in payload]
        assert conn.execute(select(func.count()).select_from(work_items)
                            .where(work_items.c.kind == "slack.notice")).scalar() == 1  # kept, its URL erased


@pytest.mark.parametrize("days", ["0", "3651", "x"])
def test_retention_days_out_of_range_stop_the_server_with_one_line(days):
    from voice.settings import SettingsError, load_settings

    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX",
               "PLIVO_AUTH_TOKEN": "t", "PLIVO_FROM_NUMBER": "+14155550100", "PUBLIC_URL": "https://x.example",
               "RETENTION_DAYS": days}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    assert refused.value.problems == ["RETENTION_DAYS must be a whole number from 1 to 3650"]


def test_hotline_calls_that_are_over_and_overrides_that_ended_are_forgotten_after_retention_days(core, clock):
    """A caller's number, their voicemail's link and its transcript are kept as long as calls are, no longer."""
    now = clock()

    def hotline_call(uuid: str, status: str) -> None:
        with transaction(core.engine) as conn:
            conn.execute(insert(hotline_calls).values(
                token=f"tok-{uuid}", call_uuid=uuid, hotline="+14155550000", name="Backend", caller="+14155550123",
                status=status, room=f"hotline-{uuid}", created_at=now, recording_url="https://media.plivo.com/r.mp3",
                transcript="call me back"))

    hotline_call("over", "ended")
    hotline_call("still-waiting", "waiting")
    with transaction(core.engine) as conn:
        conn.execute(insert(schedule_overrides).values(schedule="backend", user_id="U0BOB", start_at=now,
                                                       end_at=now + timedelta(hours=4), created_at=now))
    clock.advance(days=RETENTION_DAYS + 1)
    Retention(core.engine, days=RETENTION_DAYS, clock=clock).sweep()
    assert rows(core, hotline_calls, hotline_calls.c.call_uuid) == ["still-waiting"]
    assert rows(core, schedule_overrides, schedule_overrides.c.id) == []
