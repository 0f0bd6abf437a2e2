"""The real server, started as `python -m answer_server` in its own process and
driven over real HTTP exactly as Slack and Plivo would. Loopback fakes stand in
for Slack's Web API (FakeSlackApi) and Plivo's REST API (FakePlivoApi)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import (
    AUTH_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    assert_no_code,
)
from tests.fakes.plivo_api import FakePlivoApi
from tests.fakes.senders import PlivoSender, SlackSender
from tests.server_process import (
    ServerProcess,
    bare_env,
    free_port,
    settings_env,
)
from voice.settings import REQUIRED_UNLESS, VARIABLES

CODE = "483920"
SPOKEN = "4, 8, 3, 9, 2, 0."
NUMBER = "+14155550123"
CHANNEL = "C0OPS"
@pytest.fixture
def server_env(tmp_path, fake_slack, fake_plivo) -> dict[str, str]:
    return bare_env() | settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url)


@pytest.fixture
def server(launch) -> ServerProcess:
    return launch()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


@pytest.fixture
def plivo(server_env) -> PlivoSender:
    return PlivoSender(AUTH_TOKEN, server_env["PUBLIC_URL"])


def request_call(server: ServerProcess, slack: SlackSender, text: str = f"{NUMBER} {CODE}"):
    """Send the slash command; Slack's HTTP reply and how long it took."""
    started = time.monotonic()
    reply = server.send(slack.command(text))
    return reply, time.monotonic() - started


def created_call(fake_plivo: FakePlivoApi, timeout: float = 5.0) -> dict:
    return fake_plivo.wait_for(lambda: list(fake_plivo.created), timeout)[0]


def channel_message(fake_slack, text: str):
    return fake_slack.wait_for_message(CHANNEL, lambda m: text in (m.text or ""))


def run_answered_call(server, slack, plivo, fake_slack, fake_plivo):
    """/voiceotp, then Plivo's ring, answer and hangup, checking each step; the final message."""
    reply, elapsed = request_call(server, slack)
    assert reply.status_code == 200, reply.text
    assert elapsed < 1.0, f"Slack's reply took {elapsed:.2f} s"
    assert "Calling +1 415-555-0123…" in reply.text
    assert_no_code(reply.text, CODE)

    posted = channel_message(fake_slack, "calling…")
    created = created_call(fake_plivo)
    assert created["to"] == NUMBER and created["from"] == "+14155550100"
    for key in ("answer_url", "hangup_url", "ring_url"):
        assert created[key].startswith(server.url + "/plivo/"), created[key]
        assert_no_code(created[key], CODE)

    ring = server.send(plivo.ring(server.path_of(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    assert ring.status_code == 200
    channel_message(fake_slack, "ringing…")

    answer = server.send(plivo.answer(server.path_of(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert "Press any key to hear your code." in answer.text and SPOKEN not in answer.text
    channel_message(fake_slack, "waiting for a key press…")
    assert press_key(server, plivo, created).text.count(SPOKEN) == 2

    hangup = plivo.hangup(server.path_of(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21)
    assert server.send(hangup).status_code == 200
    final = channel_message(fake_slack, "code read · 21 s")
    assert final.ts == posted.ts
    assert final.text.endswith(":white_check_mark: code read · 21 s")
    # An update for each step (ringing, answered, the key press, the hangup), at most about one a
    # second: steps closer together are shown together, the last one always.
    assert 1 <= len(fake_slack.calls("chat.update")) <= 4
    return hangup, final


def press_key(server, plivo, created, digits="5"):
    key_url = created["answer_url"].replace("/plivo/answer/", "/plivo/key/")
    reply = server.send(plivo.digits(server.path_of(key_url), call_uuid="call-1", to=NUMBER, digits=digits))
    assert reply.status_code == 200
    return reply


# -- the whole flow ------------------------------------------------------------

def test_a_voice_code_call_runs_from_slash_command_to_hangup_over_real_http(
        server, slack, plivo, fake_slack, fake_plivo):
    hangup, final = run_answered_call(server, slack, plivo, fake_slack, fake_plivo)
    time.sleep(1.5)  # any update still on its way has landed
    updates = len(fake_slack.calls("chat.update"))

    # Plivo retries the hangup: nothing changes and nothing more is sent to Slack.
    assert server.send(hangup).status_code == 200
    time.sleep(1.5)
    assert len(fake_slack.calls("chat.update")) == updates
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert [m.text for m in fake_slack.messages(CHANNEL)] == [final.text]


def test_slack_gets_its_reply_at_once_even_when_plivo_is_slow(server, slack, fake_slack, fake_plivo):
    fake_plivo.delay = 3
    reply, elapsed = request_call(server, slack)
    assert reply.status_code == 200 and "Calling +1 415-555-0123…" in reply.text
    assert elapsed < 1.5, f"the reply waited for Plivo: {elapsed:.2f} s"
    assert created_call(fake_plivo, timeout=10)["to"] == NUMBER


def test_a_call_placed_before_a_restart_is_read_and_reported_by_the_new_process(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch()
    request_call(server, slack)
    posted = channel_message(fake_slack, "calling…")
    created = created_call(fake_plivo)
    server.wait_for_output("placed: request")  # the request UUID is stored
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=1)

    server.start()
    answer = server.send(plivo.answer(server.path_of(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert answer.status_code == 200 and "Press any key" in answer.text
    assert press_key(server, plivo, created).text.count(SPOKEN) == 2
    hangup = plivo.hangup(server.path_of(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21)
    assert server.send(hangup).status_code == 200
    final = channel_message(fake_slack, "code read · 21 s")
    assert final.ts == posted.ts and final.text.endswith(":white_check_mark: code read · 21 s")
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_an_alert_retry_pending_at_a_restart_fires_once_in_the_new_process(
        launch, slack, plivo, fake_slack, fake_plivo):
    from xml.etree import ElementTree as ET

    server = launch(ALERT_RETRY_DELAY="2", ALERT_RETRIES="2", LOG_LEVEL="DEBUG")
    reply = server.send(slack.command(f"{NUMBER} Primary database is down", command="/voicealert"))
    assert reply.status_code == 200 and "Raising the alert" in reply.text
    first = created_call(fake_plivo)
    posted = fake_slack.wait_for_message(CHANNEL, lambda m: "Primary database is down" in str(m.blocks))
    assert first["to"] == NUMBER and first["machine_detection"] == "true"

    missed = plivo.hangup(server.path_of(first["hangup_url"]), call_uuid="call-1", to=NUMBER, status="no-answer",
                          duration=0, cause_code=3030, cause_name="No Answer")
    assert server.send(missed).status_code == 200
    server.wait_for_output("next round at")  # the retry is a job in the database
    server.stop()
    time.sleep(2.5)  # it falls due while no process is running

    server.start()
    fake_plivo.wait_for(lambda: len(fake_plivo.created) == 2, timeout=10)
    time.sleep(2.5)  # a few more polls of the new process's scheduler
    assert len(fake_plivo.created) == 2, "the retry fired more than once"
    retry = fake_plivo.created[1]
    assert retry["to"] == NUMBER and retry["answer_url"] != first["answer_url"]

    document = ET.fromstring(server.send(
        plivo.answer(server.path_of(retry["answer_url"]), call_uuid="call-2", to=NUMBER)).content)
    assert [speak.text for speak in document.iter("Speak")][1] == "Primary database is down"
    menu = ET.fromstring(server.send(
        plivo.redirect(server.path_of(document.find("Redirect").text), call_uuid="call-2", to=NUMBER)).content)
    keys = server.path_of(menu.find("GetDigits").get("action"))
    done = ET.fromstring(server.send(plivo.digits(keys, call_uuid="call-2", to=NUMBER, digits="1")).content)
    assert [speak.text for speak in done.iter("Speak")][0] == "Acknowledged. Thank you."
    final = fake_slack.wait_for_message(CHANNEL, lambda m: "*Acknowledged* by +1 415-555-0123 by phone" in str(m.blocks))
    assert final.ts == posted.ts
    server.stop()
    assert " DEBUG " in server.output()
    assert "Digits" not in server.output()  # keypresses never reach the log, even at DEBUG


# -- refusals and failures -------------------------------------------------------

def test_a_plivo_callback_with_a_bad_signature_gets_403_and_changes_nothing(
        server, slack, plivo, fake_slack, fake_plivo):
    request_call(server, slack)
    channel_message(fake_slack, "calling…")
    created = created_call(fake_plivo)
    fields = {"CallUUID": "call-1", "CallStatus": "busy", "HangupCauseCode": "3010", "Duration": "0"}
    for key in ("hangup_url", "answer_url"):
        forged = plivo.post(server.path_of(created[key]), fields, auth_token="not-our-token")
        reply = server.send(forged)
        assert reply.status_code == 403
        assert_no_code(reply.text, CODE)
    time.sleep(0.3)
    assert fake_slack.calls("chat.update") == []
    assert fake_slack.messages(CHANNEL)[0].text.endswith("calling…")


def test_a_slack_command_with_a_bad_signature_gets_401_and_places_no_call(server, slack, fake_slack, fake_plivo):
    signed = slack.command(f"{NUMBER} {CODE}")
    reply = server.send(signed, headers=signed.headers | {"X-Slack-Signature": "v0=" + "0" * 64})
    assert reply.status_code == 401
    time.sleep(0.3)
    assert fake_plivo.requests == []
    assert fake_slack.requests == []


def test_an_invalid_number_gets_a_specific_error_with_the_usage_and_places_no_call(
        server, slack, fake_slack, fake_plivo):
    reply, _ = request_call(server, slack, "+15551234567 483920")
    assert reply.status_code == 200
    assert "is not a valid number" in reply.text
    assert "Usage:\n• `/voiceotp &lt;number&gt;`" in reply.text
    time.sleep(0.3)
    assert fake_plivo.requests == []
    assert fake_slack.calls("chat.postMessage") == []


def test_plivo_barring_the_destination_is_reported_in_words_in_the_channel(server, slack, fake_slack, fake_plivo):
    fake_plivo.reply = (403, {"error": "Calls to this destination country are barred."})
    reply, _ = request_call(server, slack)
    assert reply.status_code == 200
    message = channel_message(fake_slack, "failed")
    assert "could not be placed" in message.text
    assert "Plivo does not allow calls to this destination" in message.text
    assert fake_plivo.requests and fake_plivo.created == []
    for sent in fake_slack.requests:
        assert b"Traceback" not in sent.raw_body
    assert "Traceback" not in reply.text


# -- start-up configuration -------------------------------------------------------

def run_module(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "answer_server", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=30)


def test_a_misconfigured_server_exits_with_status_2_and_one_error_line_per_problem(tmp_path, server_env):
    env = server_env | {"PORT": "abc"}
    del env["SLACK_BOT_TOKEN"]
    result = run_module(tmp_path, env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), lines
    assert any(line.startswith("error: SLACK_BOT_TOKEN") for line in lines)
    assert any(line.startswith("error: PORT") for line in lines)
    assert "Traceback" not in result.stderr + result.stdout


def test_a_server_whose_public_url_is_plain_http_to_another_host_does_not_start(tmp_path, server_env):
    result = run_module(tmp_path, server_env | {"PUBLIC_URL": "http://calls.example.com"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: PUBLIC_URL must be an https:// URL: Plivo fetches the call scripts, codes included, from it "
        "(http:// only for a loopback host such as 127.0.0.1 or localhost)"]


def test_help_lists_every_configuration_variable(tmp_path):
    result = run_module(tmp_path, bare_env(), "--help")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ") and line.split()}
    for name, _, default in VARIABLES:
        assert name in result.stdout
        # Only what has no default is required; an optional one with nothing set says so.
        if name in REQUIRED_UNLESS:
            assert lines[name].endswith(f" (required, unless {REQUIRED_UNLESS[name]})"), lines[name]
            continue
        assert lines[name].endswith(" (required)") == (default is None), lines[name]
    assert lines["API_KEYS"].endswith(" (optional)") and lines["PLIVO_CPS"].endswith(" (default: 2)")


def test_settings_are_read_from_a_dot_env_file_in_the_working_directory(tmp_path, fake_slack, fake_plivo):
    values = settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url)
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    server = ServerProcess(tmp_path, bare_env(), values["PUBLIC_URL"])
    try:
        server.start()
        assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    finally:
        server.stop()


# -- secrets -----------------------------------------------------------------------

def test_no_code_or_secret_reaches_the_server_output_even_at_debug_level(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch(LOG_LEVEL="DEBUG")
    run_answered_call(server, slack, plivo, fake_slack, fake_plivo)
    server.stop()  # everything is written out
    output = server.output()
    assert " DEBUG " in output  # the check below means something
    assert_no_code(output, CODE)
    assert SPOKEN not in output
    for secret in (BOT_TOKEN, SIGNING_SECRET, AUTH_TOKEN):
        assert secret not in output


def test_no_whole_call_token_reaches_the_server_output_even_at_debug_level(
        launch, slack, plivo, fake_slack, fake_plivo):
    """A callback's request line at DEBUG ("POST /plivo/answer/<token>") shows the token shortened,
    as every other line does: the whole token would let anyone reading the log drive the call."""
    server = launch(LOG_LEVEL="DEBUG")
    run_answered_call(server, slack, plivo, fake_slack, fake_plivo)
    server.stop()
    token = created_call(fake_plivo)["answer_url"].rsplit("/", 1)[1]
    output = server.output()
    assert f"POST /plivo/answer/{token[:6]}…" in output
    assert token not in output


def test_a_refused_slack_request_leaves_no_body_code_or_response_url_in_the_log(
        launch, slack, fake_slack, fake_plivo):
    """A forged or stale request is refused without its body ever being written down, at any level."""
    server = launch(LOG_LEVEL="DEBUG")
    response_url = fake_slack.response_url("refused-request")
    stale = slack.command(f"{NUMBER} {CODE}", response_url=response_url, timestamp=int(time.time()) - 600)
    assert server.send(stale).status_code == 401
    forged = slack.command(f"{NUMBER} {CODE}", response_url=response_url)
    assert server.send(forged, headers=forged.headers | {"X-Slack-Signature": "v0=" + "0" * 64}).status_code == 401
    odd = slack.command(f"{NUMBER} {CODE}", response_url=response_url)
    assert server.send(odd, headers=odd.headers | {"X-Slack-Request-Timestamp": "12e3"}).status_code == 401
    # And a good one, so that every library has had its say at DEBUG.
    good_url = fake_slack.response_url("accepted-request")
    assert server.send(slack.command(f"{NUMBER} {CODE}", response_url=good_url)).status_code == 200
    created_call(fake_plivo)
    server.stop()
    output = server.output()
    assert "refused a Slack request with a missing, invalid or stale signature" in output
    assert " DEBUG " in output
    assert_no_code(output, CODE)
    for leaked in ("refused-request", "accepted-request", "/commands/T0001/", "%2B14155550123", "text="):
        assert leaked not in output, leaked
    assert fake_plivo.created and len(fake_plivo.created) == 1


def test_json_logs_are_one_object_a_line_with_the_call_and_request_and_no_secret(
        launch, slack, plivo, fake_slack, fake_plivo):
    server = launch(LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    run_answered_call(server, slack, plivo, fake_slack, fake_plivo)
    server.stop()
    output = server.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    # Everything the server and its libraries wrote is JSON (gunicorn's own start-up banner aside).
    others = [line for line in output.splitlines() if line and not line.startswith("{")]
    assert not [line for line in others if " DEBUG " in line or " INFO " in line], others[:5]
    assert len(lines) > 20 and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "DEBUG" for line in lines)
    placed = [line for line in lines if "placed: request" in line["message"]]
    assert placed and placed[0].get("call") and placed[0].get("work") == "call.place"
    requests_seen = {line["request"] for line in lines if "request" in line}
    assert requests_seen and all(len(value) == 16 for value in requests_seen)
    assert_no_code(output, CODE)
    assert SPOKEN not in output
    for secret in (BOT_TOKEN, SIGNING_SECRET, AUTH_TOKEN):
        assert secret not in output


# -- metrics -----------------------------------------------------------------------

METRICS_TOKEN = "m" * 24


def scrape(url: str, token: str | None = METRICS_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(url, headers=headers, timeout=5)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent); labels in any order."""
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        found, _, rest = series.partition("{")
        if found == name and dict(re.findall(r'(\w+)="([^"]*)"', rest)) == labels:
            return float(value)
    return 0.0


def test_metrics_add_up_every_process_and_need_their_token(launch, slack, plivo, fake_slack, fake_plivo):
    port = free_port()
    server = launch(METRICS_TOKEN=METRICS_TOKEN, METRICS_PORT=str(port), WEB_CONCURRENCY="2")
    assert scrape(server.url + "/metrics", token=None).status_code == 401
    wrong = scrape(server.url + "/metrics", token="n" * 24)
    assert wrong.status_code == 401 and "voicebridge" not in wrong.text
    run_answered_call(server, slack, plivo, fake_slack, fake_plivo)
    time.sleep(1.0)  # the worker process has recorded the ending too
    # Any web process answers a scrape with the figures of all of them (ring, answer, key, hangup,
    # spread over two web processes) and of the worker process (the call's ending).
    for _ in range(4):
        figures = scrape(server.url + "/metrics")
        assert figures.status_code == 200 and figures.headers["Content-Type"].startswith("text/plain")
        webhooks = sum(sample(figures.text, "voicebridge_webhook_seconds_count", event=event)
                       for event in ("ring", "answer", "key", "hangup"))
        assert webhooks >= 4
        assert sample(figures.text, "voicebridge_calls_total", purpose="otp", outcome="answered") == 1
        assert sample(figures.text, "voicebridge_slack_ack_seconds_count", kind="/voiceotp") == 1
        assert "voicebridge_work_oldest_due_seconds" in figures.text
    # The same figures on the local port, without a token.
    local = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert local.status_code == 200
    assert sample(local.text, "voicebridge_calls_total", purpose="otp", outcome="answered") == 1
    assert METRICS_TOKEN not in server.output()


def test_metrics_are_off_without_a_token(server):
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 404


def test_installs_in_many_workspaces_run_the_install_flow_in_the_real_server(launch, server_env, fake_slack):
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, no SLACK_BOT_TOKEN: the install page, the code exchanged
    against Slack's stand-in, and the new workspace's command answered, by the real process."""
    fake_slack.accept_oauth("1234567890.9876543210", "client-secret-for-tests-0123")
    env = {name: value for name, value in server_env.items() if name != "SLACK_BOT_TOKEN"}
    server = launch(env=env | {"SLACK_CLIENT_ID": "1234567890.9876543210",
                               "SLACK_CLIENT_SECRET": "client-secret-for-tests-0123"})
    browser = requests.Session()
    page = browser.get(f"{server.url}/slack/install", timeout=5)
    state = re.search(r"state=([A-Za-z0-9._-]+)", page.text)[1]
    # The state cookie is Secure: behind TLS a browser sends it back; this plain-HTTP test must do so itself.
    assert "Secure" in page.headers["Set-Cookie"]
    browser.cookies.set("slack-app-oauth-state", state)
    fake_slack.grant("code-1", team_id="T0ONE", bot_token="xoxb-one", team_name="Acme")
    done = browser.get(f"{server.url}/slack/oauth_redirect", params={"code": "code-1", "state": state}, timeout=5)
    assert done.status_code == 200 and "installed in Acme" in done.text
    reply = server.send(SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url()).command(
        "help", team_id="T0ONE"))
    assert reply.status_code == 200 and "/voiceotp" in reply.text
    assert "client-secret-for-tests-0123" not in server.output()


def test_a_sigterm_to_the_whole_process_group_stops_it_without_an_error(server):
    """systemd's default (KillMode=control-group) and Ctrl-C in a terminal signal every process at once: the
    worker process may exit before the server notices it is stopping; that is no failure to report."""
    process = server.process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    server.process = None
    assert process.returncode == 0, server.output()
    assert "ERROR" not in server.output(), server.output()
