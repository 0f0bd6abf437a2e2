"""A busy channel, with the real server: a dozen alerts (or voice codes) asked for within a second in one
channel by a dozen people, each call ending unanswered at once, before its message can be posted (Slack
lets an app post about one message a second in a channel). Every message ends showing its last state
within seconds of the last callback and of its own turn to be posted; each is posted once; whoever's
message is far behind Slack's pace hears it, once, and only them. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from bot.delivery import PACE_NOTICE_AFTER
from tests import test_faults
from tests.conftest import AUTH_TOKEN, SIGNING_SECRET
from tests.fakes.senders import PlivoSender, SlackSender
from tests.test_faults import CHANNEL, callback

#: The server's settings, as for the fault tests (`launch` starts servers with them).
server_env = test_faults.server_env

COUNT = 12
#: How long after both the last callback and its own posting slot a message may still show an older state.
FEW_SECONDS = 4.0
#: Every call rings out at once: "no answer", as the sandbox's numbers ending 0002 do.
NO_ANSWER = dict(status="no-answer", duration=0, cause_code=3030, cause_name="No Answer")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> dict[str, str]:
    """Where the server keeps its state: its own SQLite file, or this test's PostgreSQL schema."""
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url")}


class RingOut:
    """Plivo's side: each create-call that arrives is answered by its hangup, no answer, at once."""

    def __init__(self, server, plivo, fake_plivo):
        self.server, self.plivo, self.fake_plivo = server, plivo, fake_plivo
        self.ended = 0
        self.last_ended_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RingOut":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            arrived = list(self.fake_plivo.arrivals)
            for index, (_, body) in enumerate(arrived[self.ended:], start=self.ended):
                reply = callback(self.server, self.plivo, body, "hangup", f"call-{index}", **NO_ANSWER)
                assert reply.status_code == 200
                self.ended, self.last_ended_at = index + 1, time.monotonic()
            time.sleep(0.01)


def watch_until_final(fake_slack, is_final, calls_expected: int, ring_out: RingOut, timeout: float = 60) -> dict:
    """Poll the channel until COUNT messages show their final state and every call ended; for each
    message (by ts), when it was first seen final."""
    final_at: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(final_at) < COUNT or ring_out.ended < calls_expected:
        assert time.monotonic() < deadline, (
            f"{len(final_at)} of {COUNT} messages show their last state; the others: "
            f"{[m.text for m in fake_slack.messages(CHANNEL) if m.ts not in final_at]}")
        now = time.monotonic()
        for message in fake_slack.messages(CHANNEL):
            if message.ts not in final_at and is_final(message):
                final_at[message.ts] = now
        time.sleep(0.05)
    return final_at


def check_the_channel(fake_slack, final_at: dict, ring_out: RingOut, people: list[str]) -> None:
    messages = fake_slack.messages(CHANNEL)
    assert len(messages) == COUNT, "a message was posted twice, or not at all"
    posted_at = [request.received_at for request in fake_slack.requests
                 if request.method_or_path == "chat.postMessage" and not request.body_dict.get("thread_ts")]
    assert len(posted_at) == COUNT
    for message, posted in zip(messages, posted_at):  # both in the order Slack took them
        late = final_at[message.ts] - max(posted, ring_out.last_ended_at)
        assert late < FEW_SECONDS, f"{message.text!r} showed its last state {late:.1f} s after it could"
    # Slack's pace held the later messages back for seconds: their requesters heard it, each once, and
    # only them; whoever's message came within seconds heard nothing.
    told = Counter(note["user"] for note in fake_slack.calls("chat.postEphemeral"))
    assert told and max(told.values()) == 1, told
    for note in fake_slack.calls("chat.postEphemeral"):
        assert note["channel"] == CHANNEL and "about one message a second" in note["text"]
    asker = {message.ts: next(person for person in people if f"<@{person}>" in (message.text or ""))
             for message in messages}
    for message, posted in zip(messages, posted_at):
        behind = posted - posted_at[0]
        if behind < PACE_NOTICE_AFTER - 1:
            assert asker[message.ts] not in told, f"told of a message posted {behind:.1f} s after the first"
        elif behind > PACE_NOTICE_AFTER + 3:
            assert asker[message.ts] in told, f"not told of a message posted {behind:.1f} s after the first"


def ask_all(server, fake_slack, commands: list[tuple[str, tuple[str, str]]]) -> None:
    """Each (user, (command, text)) typed in CHANNEL, one after the other, as fast as Slack sends them."""
    slack = SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())
    for user_id, (command, text) in commands:
        reply = server.send(slack.command(text, command=command, user_id=user_id))
        assert reply.status_code == 200, reply.text


def plivo_of(server) -> PlivoSender:
    return PlivoSender(AUTH_TOKEN, server.env["PUBLIC_URL"])


def test_a_dozen_alerts_in_one_channel_whose_calls_end_before_their_messages_are_posted_all_show_their_end(
        database, launch, fake_slack, fake_plivo):
    # Two rounds, no second ring and no wait between rounds: each alert's last state comes within a
    # second or two of its first call, long before Slack's pace lets its message be posted.
    server = launch(ALERT_RETRIES="1", ALERT_RETRY_DELAY="0", PLIVO_CPS="20", **database)
    people = [f"U0P{index:02d}" for index in range(COUNT)]
    targets = [f"+1415{551 + index}0002" for index in range(COUNT)]
    with RingOut(server, plivo_of(server), fake_plivo) as ring_out:
        ask_all(server, fake_slack, list(zip(people, [("/voicealert", f"{target} Primary database is down")
                                                 for target in targets])))
        final_at = watch_until_final(
            fake_slack, lambda m: "*Nobody acknowledged* after 2 rounds" in str(m.blocks)
            and str(m.blocks).count("no answer · call 2 of 2") == 1, 2 * COUNT, ring_out)
    check_the_channel(fake_slack, final_at, ring_out, people)


def test_a_dozen_voice_codes_in_one_channel_whose_calls_end_before_their_messages_are_posted_all_show_their_end(
        database, launch, fake_slack, fake_plivo):
    server = launch(PLIVO_CPS="20", **database)
    people = [f"U0P{index:02d}" for index in range(COUNT)]
    targets = [f"+1415{551 + index}0002" for index in range(COUNT)]
    with RingOut(server, plivo_of(server), fake_plivo) as ring_out:
        ask_all(server, fake_slack, list(zip(people, [("/voiceotp", f"{target} 483920") for target in targets])))
        final_at = watch_until_final(fake_slack, lambda m: ":no_entry_sign: no answer" in (m.text or ""), COUNT,
                                     ring_out)
    check_the_channel(fake_slack, final_at, ring_out, people)
