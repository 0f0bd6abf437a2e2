"""Faults, with the real server as a process driven over HTTP: kill -9 at the worst moments, a
Slack that limits or fails for a while, a slow Plivo, and two instances on one PostgreSQL.

Each test asserts what the people involved would observe: the create-calls Plivo received
(when, and how many for each number), what the callee hears, and what the channel shows.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import Counter

import pytest
import requests

from answer_server.server import GRACEFUL_SECONDS
from tests.conftest import AUTH_TOKEN, SIGNING_SECRET
from tests.fakes.plivo_api import FakePlivoApi
from tests.fakes.senders import PlivoSender, SlackSender
from tests.server_process import (
    Launcher,
    ServerProcess,
    bare_env,
    free_port,
    settings_env,
)
from voice.queue.work import LEASE

CODE = "483920"
SPOKEN = "4, 8, 3, 9, 2, 0."
CHANNEL = "C0OPS"
NO_LIMITS = {"OTP_LIMIT_NUMBER_10MIN": "0", "OTP_LIMIT_NUMBER_DAY": "0", "OTP_LIMIT_REQUESTER_HOUR": "0"}


def numbers(count: int) -> list[str]:
    return [f"+1415555{1000 + index:04d}" for index in range(count)]


@pytest.fixture
def server_env(tmp_path, fake_slack, fake_plivo) -> dict[str, str]:
    return bare_env() | settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url) | NO_LIMITS


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


@pytest.fixture
def plivo(server_env) -> PlivoSender:
    return PlivoSender(AUTH_TOKEN, server_env["PUBLIC_URL"])


def dials(fake_plivo: FakePlivoApi) -> Counter:
    """Create-calls Plivo received, by number."""
    return Counter(body.get("to") for _, body in list(fake_plivo.arrivals))


def wait_for_dials(fake_plivo: FakePlivoApi, expected: list[str], timeout: float) -> None:
    fake_plivo.wait_for(lambda: set(dials(fake_plivo)) >= set(expected), timeout)


def alert_command(slack: SlackSender, targets: list[str], message: str):
    return slack.command(" ".join(targets) + " " + message, command="/voicealert")


def callback(server: ServerProcess, plivo: PlivoSender, body: dict, event: str, call_uuid: str, **fields):
    """Plivo's callback for the call created with `body`, to `server`; its HTTP reply."""
    url = {"ring": body["ring_url"], "answer": body["answer_url"], "hangup": body["hangup_url"]}[event]
    sign = {"ring": plivo.ring, "answer": plivo.answer, "hangup": plivo.hangup}[event]
    return server.send(sign(server.path_of(url), call_uuid=call_uuid, to=body["to"], **fields))


def press(server: ServerProcess, plivo: PlivoSender, action_url: str, body: dict, call_uuid: str, digits: str):
    return server.send(plivo.digits(server.path_of(action_url), call_uuid=call_uuid, to=body["to"], digits=digits))


def action_of(xml: str) -> str:
    return re.search(r'<GetDigits[^>]* action="([^"]+)"', xml).group(1).replace("&amp;", "&")


# -- kill -9 -------------------------------------------------------------------------------------------

def test_commands_acked_before_a_kill_9_are_each_dialled_once_after_the_restart(launch, slack, fake_slack, fake_plivo):
    server = launch(PLIVO_CPS="1")
    wanted = numbers(6)
    for number in wanted:
        reply = server.send(slack.command(f"{number} {CODE}"))
        assert reply.status_code == 200 and "Calling" in reply.text, reply.text
    fake_plivo.wait_for(lambda: fake_plivo.created)
    time.sleep(0.3)  # between two dials: at one call a second the next is ~0.7 s away
    server.kill()
    assert sum(dials(fake_plivo).values()) < len(wanted), "the kill came too late to leave calls undialled"

    restarted = time.monotonic()
    server.start()
    wait_for_dials(fake_plivo, wanted, timeout=15)
    assert time.monotonic() - restarted < 10, "the calls acked before the kill waited for a timeout"
    time.sleep(1.5)  # a second dial of any of them would arrive by now
    assert dials(fake_plivo) == Counter({number: 1 for number in wanted})
    assert fake_plivo.most_in_one_second(jitter=0.08) <= 1
    for number in wanted:  # each request has its message in the channel
        shown = re.sub(r"\D", "", number)[-4:]
        fake_slack.wait_for_message(CHANNEL, lambda m, shown=shown: shown in (m.text or ""), timeout=15)


def test_a_create_call_in_flight_at_a_kill_9_is_never_sent_again_and_the_call_still_works(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch()
    fake_plivo.answering.clear()  # Plivo has the request and has not answered yet
    assert server.send(slack.command(f"+14155551000 {CODE}")).status_code == 200
    fake_plivo.wait_for(lambda: fake_plivo.arrivals)
    server.kill()
    fake_plivo.answering.set()

    server.start()
    # The dead worker's lease runs out and its item is taken up again: it must not dial a second time.
    time.sleep(LEASE.total_seconds() + 2)
    assert sum(dials(fake_plivo).values()) == 1
    body = fake_plivo.arrivals[0][1]

    # Plivo placed the call all the same: its callbacks find it by the token in their URLs.
    assert callback(server, plivo, body, "ring", "call-1").status_code == 200
    answer = callback(server, plivo, body, "answer", "call-1")
    assert answer.status_code == 200 and "Press any key" in answer.text, answer.text
    read = press(server, plivo, action_of(answer.text), body, "call-1", "5")
    assert read.text.count(SPOKEN) == 2
    assert callback(server, plivo, body, "hangup", "call-1", duration=21).status_code == 200
    fake_slack.wait_for_message(CHANNEL, lambda m: "code read · 21 s" in (m.text or ""), timeout=10)
    assert sum(dials(fake_plivo).values()) == 1


def test_an_alert_stage_cut_by_a_kill_9_resumes_at_once_and_calls_each_person_once(launch, slack, fake_plivo):
    server = launch(PLIVO_CPS="1")
    people = numbers(3)
    assert server.send(alert_command(slack, people, "Primary database is down")).status_code == 200
    fake_plivo.wait_for(lambda: fake_plivo.created)
    time.sleep(0.3)
    server.kill()
    assert sum(dials(fake_plivo).values()) < 3

    restarted = time.monotonic()
    server.start()
    wait_for_dials(fake_plivo, people, timeout=10)
    assert time.monotonic() - restarted < 6, "the stage waited for a timeout after the restart"
    time.sleep(1.5)
    assert dials(fake_plivo) == Counter({number: 1 for number in people})


def test_a_kill_9_right_after_a_keypress_still_stops_the_other_calls(launch, slack, plivo, fake_slack, fake_plivo):
    server = launch(PLIVO_CPS="10")
    people = numbers(3)
    assert server.send(alert_command(slack, people, "Primary database is down")).status_code == 200
    wait_for_dials(fake_plivo, people, timeout=10)
    created = fake_plivo.wait_for(lambda: len(fake_plivo.created) == 3 and list(fake_plivo.created))
    for index, body in enumerate(created):
        assert callback(server, plivo, body, "ring", f"call-{index}").status_code == 200
    first = created[0]
    answer = callback(server, plivo, first, "answer", "call-0")
    menu = server.send(plivo.redirect(server.path_of(re.search(r"<Redirect[^>]*>([^<]+)<", answer.text)
                                                     .group(1).replace("&amp;", "&")),
                                      call_uuid="call-0", to=first["to"]))
    done = press(server, plivo, action_of(menu.text), first, "call-0", "1")
    assert "Acknowledged. Thank you." in done.text
    server.kill()  # the job that stops the others may be claimed by the dead process, or not yet run

    server.start()
    others = [body for body in created[1:]]
    fake_plivo.wait_for(lambda: all(any(method == "DELETE" and body["request_uuid"] in path or f"call-{index}" in path
                                        for method, path in fake_plivo.requests)
                                    for index, body in enumerate(others, start=1)),
                        timeout=LEASE.total_seconds() + 5)
    fake_slack.wait_for_message(CHANNEL, lambda m: "*Acknowledged* by" in str(m.blocks), timeout=10)
    assert sum(dials(fake_plivo).values()) == 3


def test_an_alert_round_due_during_a_kill_9_fires_once_after_the_restart(launch, slack, plivo, fake_plivo):
    server = launch(ALERT_RETRY_DELAY="2", ALERT_RETRIES="1")
    [person] = numbers(1)
    assert server.send(alert_command(slack, [person], "Primary database is down")).status_code == 200
    first = fake_plivo.wait_for(lambda: list(fake_plivo.created))[0]
    missed = callback(server, plivo, first, "hangup", "call-1", status="no-answer", duration=0, cause_code=3030,
                      cause_name="No Answer")
    assert missed.status_code == 200
    server.wait_for_output("next round at")
    server.kill()
    time.sleep(2.5)  # the round falls due while nothing runs

    server.start()
    fake_plivo.wait_for(lambda: dials(fake_plivo)[person] == 2, timeout=10)
    time.sleep(2)
    assert dials(fake_plivo)[person] == 2, "the round fired more than once"


# -- Slack limiting and failing ------------------------------------------------------------------------

STEPS = ("calling…", "ringing…", "waiting for a key press…", "code read")


def step_of(text: str) -> int:
    return max(index for index, step in enumerate(STEPS) if step in text or index == 0)


def test_slack_limiting_and_failing_for_a_while_loses_no_final_state_and_never_goes_back(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch()
    fake_slack.fail_http("chat.postMessage", 500, times=2)
    wanted = numbers(3)
    for number in wanted:
        assert server.send(slack.command(f"{number} {CODE}")).status_code == 200
    created = fake_plivo.wait_for(lambda: len(fake_plivo.created) == 3 and list(fake_plivo.created))
    fake_slack.wait_for(lambda: len(fake_slack.messages(CHANNEL)) == 3, timeout=15)
    # Each step of each call is now an update, and Slack limits, then fails, a run of them.
    fake_slack.fail_http("chat.update", 429, times=4, retry_after="1")
    fake_slack.fail_http("chat.update", 500, times=2)
    for index, body in enumerate(created):
        uuid = f"call-{index}"
        callback(server, plivo, body, "ring", uuid)
        time.sleep(0.3)
        answer = callback(server, plivo, body, "answer", uuid)
        time.sleep(0.3)
        assert press(server, plivo, action_of(answer.text), body, uuid, "5").text.count(SPOKEN) == 2
        time.sleep(0.3)
        assert callback(server, plivo, body, "hangup", uuid, duration=21).status_code == 200

    finals = fake_slack.wait_for(lambda: [m for m in fake_slack.messages(CHANNEL) if "code read" in (m.text or "")]
                                 if sum("code read" in (m.text or "") for m in fake_slack.messages(CHANNEL)) == 3
                                 else None, timeout=30)
    assert len(fake_slack.messages(CHANNEL)) == 3, "a message was posted twice"
    for message in finals:
        shown = [text for text, _ in message.versions] + [message.text]
        steps = [step_of(text or "") for text in shown]
        assert steps == sorted(steps), f"an older state was shown after a newer one: {shown}"
    assert fake_slack.failures_left() == 0, "the test did not meet every failure it set up"


def test_a_slow_plivo_leaves_every_ack_of_30_commands_well_under_slacks_3_seconds(launch, slack, fake_plivo):
    server = launch()
    fake_plivo.delay = 4
    elapsed: list[float] = []
    for number in numbers(30):
        started = time.monotonic()
        reply = server.send(slack.command(f"{number} {CODE}"))
        elapsed.append(time.monotonic() - started)
        assert reply.status_code == 200 and "Calling" in reply.text, reply.text
    assert max(elapsed) < 1.0, f"the slowest ack took {max(elapsed):.2f} s"
    fake_plivo.wait_for(lambda: len(fake_plivo.arrivals) >= 8, timeout=10)  # and the calls are being placed


# -- Plivo failing ---------------------------------------------------------------------------------------

#: As measured: Plivo answering 503 for 15 s, then refusing connections for 15 s, a 30 s blip in all (each
#: create-call backs off to one every 5 s, so each call is tried several times in each half).
BLIP = 15.0


def test_voice_codes_asked_for_during_a_plivo_blip_are_each_placed_once_when_plivo_is_back(
        launch, slack, fake_slack, fake_plivo):
    server = launch(PLIVO_CPS="5")
    wanted = numbers(10)
    fake_plivo.reply = (503, {"api_id": "x", "error": "service unavailable"})  # Plivo answers 503…
    for number in wanted:
        assert server.send(slack.command(f"{number} {CODE}")).status_code == 200
    fake_plivo.wait_for(lambda: set(dials(fake_plivo)) >= set(wanted), timeout=10)
    time.sleep(BLIP)
    fake_plivo.refuse_connections()  # …then cannot be reached at all…
    time.sleep(BLIP)
    fake_plivo.reply = None
    fake_plivo.accept_connections()  # …then is back
    back = time.monotonic()

    fake_plivo.wait_for(lambda: {body["to"] for body in fake_plivo.created} >= set(wanted), timeout=20)
    assert time.monotonic() - back < 10, "the calls waited long after Plivo was back"
    time.sleep(2)
    assert Counter(body["to"] for body in fake_plivo.created) == Counter({number: 1 for number in wanted})
    assert all(tries > 2 for tries in dials(fake_plivo).values()), dials(fake_plivo)  # tried through the blip
    for message in fake_slack.wait_for(lambda: len(fake_slack.messages(CHANNEL)) == 10 and fake_slack.messages(CHANNEL)):
        shown = [text or "" for text, _ in message.versions] + [message.text or ""]
        assert any(text.endswith(":hourglass: Plivo is having trouble; still trying…") for text in shown), shown
        assert not any("failed" in text for text in shown), shown
    for message in fake_slack.wait_for(lambda: all((m.text or "").endswith("calling…")
                                                   for m in fake_slack.messages(CHANNEL)) and fake_slack.messages(CHANNEL),
                                       timeout=10):
        assert message.text.endswith(": calling…")


# -- Slack's Web API failing -------------------------------------------------------------------------------

#: As measured: every Web API method answering 503 for 60 s (users.info retried with a backoff that grows to
#: a minute: the alert's people must still be looked up once Slack is back, and its numbers not wait).
SLACK_OUTAGE = 60.0


def intro_of(server: ServerProcess, plivo: PlivoSender, body: dict, call_uuid: str) -> str:
    """What the callee of an alert call hears first ("This is an alert from …")."""
    answer = callback(server, plivo, body, "answer", call_uuid)
    assert answer.status_code == 200, answer.text
    return re.search(r"<Speak[^>]*>([^<]*)</Speak>", answer.text).group(1)


def test_an_alert_raised_while_slacks_api_fails_calls_its_numbers_at_once_and_its_people_once_slack_is_back(
        launch, slack, plivo, fake_slack, fake_plivo):
    fake_slack.add_user("U0ANA", "Ana Lopez", "+1 415 555 0199")
    fake_slack.add_user("U1", "Alice Smith", "+1 415 555 0101")
    first, second = numbers(2)
    server = launch(PLIVO_CPS="5")  # two calls in the same second
    fake_slack.outage(503)  # every Web API method: users.info, chat.postMessage…
    asked = time.time()
    reply = server.send(alert_command(slack, [first, second, "<@U1>"], "Primary database is down"))
    assert reply.status_code == 200 and "Raising the alert" in reply.text, reply.text
    wait_for_dials(fake_plivo, [first, second], timeout=3)
    assert max(at for at, _ in fake_plivo.arrivals) - asked < 1.0, "the calls to numbers waited on Slack"
    # A callee hears who raised it by their Slack handle while Slack cannot say their name.
    created = {body["to"]: body for body in fake_plivo.wait_for(lambda: len(fake_plivo.created) == 2
                                                                and list(fake_plivo.created))}
    assert intro_of(server, plivo, created[first], "call-1").startswith("This is an alert from ana,")

    time.sleep(SLACK_OUTAGE)
    assert "+14155550101" not in dials(fake_plivo), "Alice was called before Slack could give her number"
    assert fake_slack.messages(CHANNEL) == []
    fake_slack.outage(None)

    # Slack is back: Alice is looked up and called, the message lands, and names are said.
    fake_plivo.wait_for(lambda: "+14155550101" in dials(fake_plivo), timeout=20)
    message = fake_slack.wait_for_message(CHANNEL, lambda m: "Primary database is down" in str(m.blocks), timeout=20)
    fake_slack.wait_for(lambda: "<@U1>" in str(fake_slack.messages(CHANNEL)[0].blocks), timeout=10)
    assert len(fake_slack.messages(CHANNEL)) == 1 and message.ts == fake_slack.messages(CHANNEL)[0].ts
    fake_plivo.wait_for(lambda: intro_of(server, plivo, created[second], "call-2")
                        .startswith("This is an alert from Ana,"), timeout=10)
    time.sleep(1)
    assert dials(fake_plivo) == Counter({first: 1, second: 1, "+14155550101": 1})


# -- two instances -------------------------------------------------------------------------------------

def test_two_instances_on_one_postgresql_dial_once_and_hold_the_account_cps_together(
        tmp_path, postgres_url, fake_slack, fake_plivo, slack):
    port = free_port()
    shared = bare_env() | settings_env(tmp_path, port, fake_slack.base_url, fake_plivo.base_url) | NO_LIMITS | {
        "DATABASE_URL": postgres_url, "PLIVO_CPS": "5", "ALERT_RETRY_DELAY": "1", "ALERT_RETRIES": "1"}
    launcher = Launcher(tmp_path, shared)
    plivo = PlivoSender(AUTH_TOKEN, shared["PUBLIC_URL"])
    try:
        # Both start at once on an empty database. PUBLIC_URL names the first; both answer for it
        # (as behind a load balancer), and each signs and checks with it.
        servers: dict[int, ServerProcess] = {}
        starting = [threading.Thread(target=lambda i=i, p=p: servers.__setitem__(i, launcher(PORT=str(p))))
                    for i, p in enumerate((port, free_port()))]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        first, second = servers[0], servers[1]

        wanted = numbers(20)
        for index, number in enumerate(wanted):
            assert (first, second)[index % 2].send(slack.command(f"{number} {CODE}")).status_code == 200
        [person] = ["+14155559999"]
        assert second.send(alert_command(slack, [person], "Primary database is down")).status_code == 200
        wait_for_dials(fake_plivo, wanted + [person], timeout=20)

        alert_call = next(body for _, body in fake_plivo.arrivals if body["to"] == person)
        # The missed call's hangup reaches the other instance; the next round is placed once.
        assert callback(first, plivo, alert_call, "hangup", "call-a", status="no-answer", duration=0,
                        cause_code=3030, cause_name="No Answer").status_code == 200
        fake_plivo.wait_for(lambda: dials(fake_plivo)[person] == 2, timeout=10)
        time.sleep(2)
        assert dials(fake_plivo) == Counter({number: 1 for number in wanted} | {person: 2})
        moments = sorted(moment for moment, _ in fake_plivo.arrivals)
        # Slots are 1.05/CPS apart; the stand-in reads arrival times up to some tens of ms late when
        # the machine is busy. Two instances each keeping its own limit would put 10 in a second.
        assert fake_plivo.most_in_one_second(jitter=0.08) <= 5, \
            f"more create-calls in one second than PLIVO_CPS: {[round(b - a, 3) for a, b in zip(moments, moments[1:])]}"
    finally:
        launcher.stop_all()


# -- SIGTERM ---------------------------------------------------------------------------------------

def sigterm(server: ServerProcess) -> tuple[int, float]:
    """SIGTERM to the server, as a supervisor sends it; its exit status and how long it took."""
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    status = server.process.wait(timeout=40)
    server.process = None
    return status, time.monotonic() - began


def test_sigterm_lets_a_create_call_in_flight_finish_stops_taking_requests_and_exits_in_time(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch()
    fake_plivo.answering.clear()  # Plivo has the create-call and has not answered yet
    assert server.send(slack.command(f"{numbers(1)[0]} {CODE}")).status_code == 200
    fake_plivo.wait_for(lambda: fake_plivo.arrivals)
    threading.Timer(2.0, fake_plivo.answering.set).start()  # Plivo answers 2 s into the shutdown
    refused = []

    def knock():  # a request sent during the shutdown is not taken
        time.sleep(0.5)
        try:
            requests.get(server.url + "/healthz", timeout=2)
        except requests.ConnectionError:
            refused.append(True)

    knocker = threading.Thread(target=knock)
    knocker.start()
    status, took = sigterm(server)
    knocker.join()
    assert status == 0 and took < GRACEFUL_SECONDS + 5, (status, took)
    assert refused == [True]
    output = server.output()
    assert "call " in output and "placed: request" in output  # the worker finished it before it went

    # The next process does not send it again, and its callbacks still find the call.
    server.start()
    created = fake_plivo.created[0]
    time.sleep(1.5)
    assert len(fake_plivo.arrivals) == 1
    answer = server.send(plivo.answer(server.path_of(created["answer_url"]), call_uuid="call-t", to=created["to"]))
    assert "<GetDigits" in answer.text


def test_sigterm_hands_waiting_calls_back_and_the_next_process_dials_each_once_at_once(
        launch, slack, fake_slack, fake_plivo):
    server = launch(PLIVO_CPS="1")
    wanted = numbers(5)
    for number in wanted:
        assert server.send(slack.command(f"{number} {CODE}")).status_code == 200
    fake_plivo.wait_for(lambda: fake_plivo.created)
    status, took = sigterm(server)
    assert status == 0 and took < GRACEFUL_SECONDS + 5, (status, took)
    assert sum(dials(fake_plivo).values()) < len(wanted), "the shutdown came too late to leave calls waiting"
    restarted = time.monotonic()
    server.start()
    wait_for_dials(fake_plivo, wanted, timeout=15)
    # Nothing waited for a lease to run out (LEASE is longer than this).
    assert time.monotonic() - restarted < LEASE.total_seconds() - 3
    time.sleep(1.5)
    assert dials(fake_plivo) == Counter({number: 1 for number in wanted})


# -- the database stopped under live calls --------------------------------------------------------------

OUTAGE_SECONDS = 15


@pytest.fixture
def private_postgres():
    from tests.private_postgres import PrivatePostgres

    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def health(server: ServerProcess) -> int:
    return requests.get(server.url + "/healthz", timeout=5).status_code


def test_callbacks_during_a_15_second_database_outage_land_once_it_is_back_and_a_live_call_waits(
        tmp_path, private_postgres, fake_slack, fake_plivo, slack):
    env = bare_env() | settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url) | NO_LIMITS | {
        "DATABASE_URL": private_postgres.url, "CALLBACK_JOURNAL_DIR": str(tmp_path / "journal")}
    launcher = Launcher(tmp_path, env)
    plivo = PlivoSender(AUTH_TOKEN, env["PUBLIC_URL"])
    reader, later, first_link, next_link = numbers(4)
    try:
        server = launcher()
        assert server.send(slack.command(f"{reader} {CODE}")).status_code == 200
        assert server.send(slack.command(f"{later} {CODE}")).status_code == 200
        # Slack escapes ">" in a command's text.
        assert server.send(alert_command(slack, [first_link, "&gt;", next_link], "Primary is down")).status_code == 200
        placed = fake_plivo.wait_for(lambda: (bodies := {body["to"]: body for body in fake_plivo.created})
                                     and {reader, later, first_link} <= set(bodies) and bodies, timeout=15)
        code_call, held_call, link_call = placed[reader], placed[later], placed[first_link]
        callback(server, plivo, code_call, "ring", "call-r")
        answer = callback(server, plivo, code_call, "answer", "call-r")
        assert press(server, plivo, action_of(answer.text), code_call, "call-r", "5").text.count(SPOKEN) == 2
        callback(server, plivo, link_call, "ring", "call-l")

        private_postgres.stop_immediately()
        went = time.monotonic()
        assert health(server) == 503
        # Plivo's hangups meanwhile: each answered at once, with a valid (empty) document.
        for body, uuid, fields in ((code_call, "call-r", {"duration": 21}),
                                   (link_call, "call-l", {"status": "no-answer", "duration": 0, "cause_code": 3030,
                                                          "cause_name": "No Answer"})):
            began = time.monotonic()
            reply = callback(server, plivo, body, "hangup", uuid, **fields)
            assert reply.status_code == 200 and reply.text.strip().endswith("<Response />"), reply.text
            assert time.monotonic() - began < 1.0
        # A call answered meanwhile waits on the line rather than hearing an apology and a hangup.
        held = callback(server, plivo, held_call, "answer", "call-h")
        assert "One moment, please." in held.text and "<Redirect" in held.text, held.text
        again = re.search(r"<Redirect[^>]*>([^<]+)<", held.text).group(1).replace("&amp;", "&")
        assert again.endswith("?held=1")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - went)))
        assert sum(dials(fake_plivo).values()) == 3 and health(server) == 503

        private_postgres.start()
        back = time.monotonic()
        while health(server) != 200:
            assert time.monotonic() - back < 1.0, "/healthz did not recover within a second"
            time.sleep(0.05)
        # The held call's next request finds its call: the key gate.
        gate = server.send(plivo.redirect(server.path_of(again), call_uuid="call-h", to=later))
        assert "Press any key to hear your code." in gate.text, gate.text
        # The missed first link's hangup moves the chain on: the next link is called, once.
        fake_plivo.wait_for(lambda: dials(fake_plivo)[next_link] == 1, timeout=10)
        # The code call's status message reaches its last state (an update in hand when the database went
        # is taken up again once its lease has run out).
        fake_slack.wait_for_message(CHANNEL, lambda m: "code read · 21 s" in (m.text or ""),
                                    timeout=LEASE.total_seconds() + 5)
        assert not list((tmp_path / "journal").glob("*.jsonl")), "kept callbacks were left unapplied"
        # Plivo sending the hangup again changes nothing: no second call to the next link.
        callback(server, plivo, link_call, "hangup", "call-l", status="no-answer", duration=0, cause_code=3030,
                 cause_name="No Answer")
        time.sleep(1.5)
        assert dials(fake_plivo) == Counter({reader: 1, later: 1, first_link: 1, next_link: 1})
        assert "no final report" not in str([m.text for m in fake_slack.messages(CHANNEL)])
    finally:
        launcher.stop_all()
