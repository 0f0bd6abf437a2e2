"""`/voicealert integrations` through the whole app, in-process: signed slash commands as Slack sends
them (should_escape: mentions as <@U…|name>, a typed > as &gt;), what the person who typed them sees
(the command's ephemeral answer, checked with Slack's own Block Kit models), and then what a sender
given the token observes on /integrations/alertmanager: 202 and calls placed, or 401."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

import pytest

from answer_server.logs import formatter
from bot.integrations.commands import Adding, parse_integrations
from bot.messages import CommandError
from tests.conftest import PUBLIC_URL, SIGNING_SECRET, send
from tests.fakes.senders import SlackSender
from tests.fakes.slack_checks import message_problems
from tests.test_monitoring_flow import created_to, group, post_alertmanager
from tests.test_voicealert_flow import (
    CHANNEL,
    alert_message,
    callee,
    clocked_app,
    settle,
    speech,
)
from voice.intake.credentials import token_digest
from voice.routing.loading import parse_routing
from voice.routing.models import GROUP, NUMBER, USER, RecipientRef

ALICE, BOB = "+14155550101", "+14155550102"
FILE_TOKEN = "file-token-0123456789abcdef"
ROUTING = f"""
integrations:
  - name: from-the-file
    token_sha256: {token_digest(FILE_TOKEN)}
    channel: C0FILE
    call: "U0BOB"
    phone: [critical, P1]
"""
ADD = "integrations add backend-prod <@U0ALICE|alice> &gt; <@U0BOB|bob>"
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
_TOKEN = re.compile(r"```([A-Za-z0-9_-]{43})```")


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ANA", "Ana Lopez", "+1 415 555 0199")
    fake_slack.add_user("U0ALICE", "Alice Smith", "(415) 555-0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")
    fake_slack.add_usergroup("S0ONCALL", ["U0ALICE", "U0BOB"])


def make_app(settings, clock, **changes):
    return clocked_app(replace(settings, routing=parse_routing(ROUTING, {}), **changes), clock)


@pytest.fixture
def alert_app(settings, plivo_api, clock):
    app = make_app(settings, clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(alert_app):
    return alert_app.test_client()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


def voicealert(client, slack, text, **where) -> dict:
    """What the person who typed `/voicealert <text>` sees: the command's answer, only to them."""
    reply = send(client, slack.command(text, command="/voicealert", **where))
    assert reply.status_code == 200
    answer = reply.get_json()
    assert answer["response_type"] == "ephemeral"
    assert message_problems(answer) == []
    return answer


def shown(answer: dict) -> str:
    return answer["text"] + "\n" + "\n".join(json.dumps(block) for block in answer.get("blocks") or [])


def token_in(answer: dict) -> str:
    found = {match for block in answer["blocks"] for match in _TOKEN.findall(json.dumps(block))}
    assert len(found) == 1, shown(answer)
    return found.pop()


def log_lines(caplog) -> str:
    """Every record, as the server's own formatters (text and JSON) write it to the log."""
    return "\n".join(formatter(kind, ()).format(record) for record in caplog.records for kind in ("text", "json"))


def everything_sent_to_slack(fake_slack) -> str:
    return json.dumps([request.body_dict for request in fake_slack.requests])


# -- add, then a sender with the token phones ------------------------------------------------------


def test_added_in_the_channel_only_the_person_sees_the_urls_and_the_token_and_alerts_with_it_phone(
        client, slack, fake_slack, plivo, plivo_rest, caplog):
    caplog.set_level(logging.DEBUG)
    answer = voicealert(client, slack, ADD)
    token = token_in(answer)
    text = shown(answer)
    assert "*backend-prod* added" in text and f"<#{CHANNEL}>" in text and "<@U0ALICE> &gt; <@U0BOB>" in text
    for url in (f"{PUBLIC_URL}/integrations/alertmanager", f"{PUBLIC_URL}/integrations/generic",
                f"{PUBLIC_URL}/opsgenie/", f"{PUBLIC_URL}/pagerduty/v2/enqueue"):
        assert url in text
    assert f"webhook_configs:\\n      - url: {PUBLIC_URL}/integrations/alertmanager" in text
    assert f"credentials: {token}" in text
    assert token not in answer["text"]  # a notification or a preview never shows it
    assert fake_slack.messages(CHANNEL) == []  # nothing in the channel

    reply = post_alertmanager(client, group(summary="Disk full on db-1"), token=token)
    assert reply.status_code == 202 and reply.json["outcome"] == "opened"
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    assert created_to(plivo_rest, BOB) == []  # the second link of the chain waits
    said = " ".join(speech(callee(client, plivo, plivo_rest, ALICE).answer()))
    assert "backend-prod" in said and "Disk full on db-1" in said
    alert_message(fake_slack, "Disk full on db-1")

    assert token not in everything_sent_to_slack(fake_slack)
    assert caplog.records and token not in log_lines(caplog)


def test_each_add_gets_its_own_token_and_only_its_hash_is_kept(client, slack, alert_app):
    first = token_in(voicealert(client, slack, "integrations add one <@U0ALICE>"))
    second = token_in(voicealert(client, slack, "integrations add two <@U0ALICE>"))
    assert first != second
    store = alert_app.extensions["voicebridge"]["services"].integrations
    assert store.named("one").token_sha256 == token_digest(first)
    assert store.by_token(second).name == "two"


def test_recipients_as_slack_sends_them_become_the_integrations_chain(client, slack, alert_app):
    voicealert(client, slack, "integrations add payments <!subteam^S0ONCALL|@oncall>, +14155550123 &gt; "
                              "<@U0BOB|bob> lang=es")
    found = alert_app.extensions["voicebridge"]["services"].integrations.named("payments")
    assert found.stages == ((RecipientRef(GROUP, "S0ONCALL"), RecipientRef(NUMBER, "+14155550123")),
                            (RecipientRef(USER, "U0BOB"),))
    assert (found.lang, found.channel_id, found.team_id, found.created_by) == ("es", CHANNEL, "T0001", "U0ANA")


# -- listing ----------------------------------------------------------------------------------------


def test_with_none_yet_the_list_says_how_to_add_one(settings, plivo_api, clock, slack):
    app = clocked_app(settings, clock)  # no ROUTING_FILE
    try:
        answer = voicealert(app.test_client(), slack, "integrations")
    finally:
        app.extensions["voicebridge"]["close"]()
    assert "No integrations yet" in answer["text"]
    assert "/voicealert integrations add backend-prod @oncall &gt; @lead" in answer["text"]


def test_the_list_shows_channel_recipients_severities_last_alert_and_who_defined_each(client, slack, clock):
    token = token_in(voicealert(client, slack, "integrations add payments <!subteam^S0ONCALL|@oncall> &gt; "
                                               "+14155550123 lang=es"))
    clock.advance(minutes=5)
    assert post_alertmanager(client, group(), token=token).status_code == 202
    answer = voicealert(client, slack, "integrations")
    text = shown(answer)
    assert "2 integrations" in answer["text"] and "from-the-file" in answer["text"]
    listed = {block["text"]["text"].split("*")[1]: block["text"]["text"] for block in answer["blocks"][1:-1]}
    assert list(listed) == ["from-the-file", "payments"]
    mine = listed["payments"]
    assert f"posts in <#{CHANNEL}>" in mine
    assert "Phones <!subteam^S0ONCALL> &gt; +1 415-555-0123 (every call in es)" in mine
    assert "Severities that phone: all but the informational ones" in mine
    assert f"Last alert: <!date^{int(clock().timestamp())}^" in mine
    assert "added by <@U0ANA>" in mine
    from_file = listed["from-the-file"]
    assert "posts in <#C0FILE>" in from_file and "Phones <@U0BOB>" in from_file
    assert "Severities that phone: critical, P1" in from_file and "Last alert: none yet" in from_file
    assert "defined in ROUTING_FILE" in from_file
    assert "`rotate &lt;name&gt;`" in text


# -- rotate and remove ------------------------------------------------------------------------------


def test_rotate_shows_a_new_token_once_and_the_old_one_stops_at_once(client, slack, fake_slack, caplog):
    caplog.set_level(logging.DEBUG)
    old = token_in(voicealert(client, slack, ADD))
    answer = voicealert(client, slack, "integrations rotate backend-prod")
    new = token_in(answer)
    assert new != old and "*backend-prod* has a new token" in shown(answer)
    assert post_alertmanager(client, group(), token=old).status_code == 401
    assert post_alertmanager(client, group(), token=new).status_code == 202
    assert new not in everything_sent_to_slack(fake_slack) and new not in log_lines(caplog)


def test_remove_stops_its_token_and_keeps_its_incidents(client, slack, alert_app, plivo_rest, fake_slack):
    token = token_in(voicealert(client, slack, ADD))
    incident = post_alertmanager(client, group(), token=token).json["incident"]
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    answer = voicealert(client, slack, "integrations remove backend-prod")
    assert "*backend-prod* removed" in answer["text"] and "401" in answer["text"]
    assert post_alertmanager(client, group(), token=token).status_code == 401
    assert "backend-prod" not in voicealert(client, slack, "integrations")["text"]
    kept = alert_app.extensions["voicebridge"]["services"].alerts.get(incident)
    assert kept is not None and kept.incident.integration == "backend-prod"
    assert "no integration named *backend-prod*" in voicealert(client, slack, "integrations remove backend-prod")[
        "text"]


@pytest.mark.parametrize("verb", ["rotate", "remove"])
def test_a_file_defined_integration_is_changed_only_in_the_file(client, slack, verb):
    answer = voicealert(client, slack, f"integrations {verb} from-the-file")
    assert answer["text"] == ":no_entry: *from-the-file* is defined in ROUTING_FILE; change it there."
    assert post_alertmanager(client, group(), token=FILE_TOKEN).status_code == 202


def test_a_file_defined_name_cannot_be_added_from_slack(client, slack):
    answer = voicealert(client, slack, "integrations add from-the-file <@U0ALICE>")
    assert "defined in ROUTING_FILE" in answer["text"] and "Nothing was added" in answer["text"]
    assert post_alertmanager(client, group(), token=FILE_TOKEN).status_code == 202


# -- workspaces and who may ---------------------------------------------------------------------------


def test_another_workspace_neither_sees_nor_changes_an_integration(client, slack):
    token = token_in(voicealert(client, slack, ADD))
    other = {"team_id": "T0OTHER", "user_id": "U0EVE", "channel_id": "C0EVE"}
    # The file's integrations are every workspace's.
    assert voicealert(client, slack, "integrations", **other)["text"] == "1 integration: from-the-file"
    for verb in ("rotate", "remove"):
        answer = voicealert(client, slack, f"integrations {verb} backend-prod", **other)
        assert answer["text"].startswith(":warning: This workspace has no integration named *backend-prod*")
    taken = voicealert(client, slack, "integrations add backend-prod <@U0EVE>", **other)
    assert "The name *backend-prod* is taken" in taken["text"] and CHANNEL not in taken["text"]
    assert post_alertmanager(client, group(), token=token).status_code == 202


def test_the_same_workspace_is_told_where_a_taken_name_posts(client, slack):
    voicealert(client, slack, ADD)
    answer = voicealert(client, slack, "integrations add backend-prod <@U0BOB>", channel_id="C0OTHER")
    assert f"already an integration named *backend-prod*, posting in <#{CHANNEL}>" in answer["text"]


def test_only_people_who_may_raise_alerts_may_manage_integrations(settings, plivo_api, clock, slack):
    app = make_app(settings, clock, allowed_slack_users=frozenset({"U0BOB"}))
    client = app.test_client()
    try:
        for text in ("integrations", ADD, "integrations rotate backend-prod"):
            answer = voicealert(client, slack, text)  # Ana is not among ALLOWED_SLACK_USERS
            assert answer["text"] == (":no_entry: Sorry, you are not allowed to manage integrations with this app. "
                                      "An admin can add you to ALLOWED_SLACK_USERS. Nothing was shown or changed.")
            assert "blocks" not in answer
        assert "backend-prod" not in voicealert(client, slack, "integrations", user_id="U0BOB")["text"]
        assert "*backend-prod* added" in shown(voicealert(client, slack, ADD, user_id="U0BOB"))
    finally:
        app.extensions["voicebridge"]["close"]()


def test_only_from_the_channels_alerts_may_come_from(settings, plivo_api, clock, slack):
    app = make_app(settings, clock, allowed_slack_channels=frozenset({CHANNEL}))
    try:
        answer = voicealert(app.test_client(), slack, ADD, channel_id="C0ELSEWHERE")
        assert answer["text"].startswith(":no_entry: Integrations cannot be managed from this channel.")
        assert "added" in shown(voicealert(app.test_client(), slack, ADD))
    finally:
        app.extensions["voicebridge"]["close"]()


# -- what is refused, and why ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "problem"), [
    ("integrations add Backend_Prod <@U0ALICE>", "“Backend_Prod” cannot name an integration: use 1 to 40 "
                                                 "lowercase letters, digits and dashes (e.g. backend-prod)."),
    ("integrations add Backend-Prod <@U0ALICE>", "(e.g. backend-prod)"),
    ("integrations add " + "a" * 41 + " <@U0ALICE>", "use 1 to 40 lowercase letters"),
    ("integrations add <@U0ALICE> &gt; <@U0BOB>", "Start with the integration's name, then whom it phones"),
    ("integrations add backend-prod", "Say whom *backend-prod* phones after its name"),
    ("integrations add backend-prod lang=es", "Say whom *backend-prod* phones"),
    ("integrations add backend-prod @ghost", "“@ghost” is not a person or user group Slack knows here"),
    ("integrations add backend-prod oncall", "“oncall” is nobody to phone"),
    ("integrations add backend-prod <#C0OPS|ops>", "“#ops” is a channel"),
    ("integrations add backend-prod <!here>", "“@here” is nobody to phone"),
    ("integrations add backend-prod <@U0ALICE> &gt;", "“&gt;” goes between two links of the chain"),
    ("integrations add backend-prod +1 415 555 0100", "write a number without spaces"),
    ("integrations add backend-prod +15551234567", "not a valid number"),
    ("integrations add backend-prod <@U0ALICE> lang=xx", "not a language calls speak"),
    ("integrations rotate", "Give `rotate` the integration's name, and nothing else"),
    ("integrations remove a b", "Give `remove` the integration's name"),
    ("integrations rename x y", "“rename” is not something integrations do"),
])
def test_bad_input_says_what_is_wrong_and_adds_nothing(client, slack, text, problem):
    answer = voicealert(client, slack, text)
    assert answer["text"].startswith(":warning: ") and problem in answer["text"]
    assert "/voicealert integrations rotate &lt;name&gt;" in answer["text"]  # and how it is written
    assert voicealert(client, slack, "integrations")["text"] == "1 integration: from-the-file"


def test_a_number_no_call_may_go_to_is_refused_before_adding(settings, plivo_api, clock, slack):
    app = make_app(settings, clock, allowed_countries=frozenset({"US"}))
    try:
        answer = voicealert(app.test_client(), slack, "integrations add uk <@U0ALICE> &gt; +442079460000")
        assert answer["text"].startswith(":no_entry: These numbers cannot be called, so nothing was added:")
        assert "+44 20 7946 0000" in answer["text"]
        assert voicealert(app.test_client(), slack, "integrations")["text"] == "1 integration: from-the-file"
    finally:
        app.extensions["voicebridge"]["close"]()


def test_a_direct_message_cannot_get_the_alerts(client, slack):
    answer = voicealert(client, slack, ADD, channel_id="D0ANA")
    assert "a direct message cannot" in answer["text"]
    assert voicealert(client, slack, "integrations")["text"] == "1 integration: from-the-file"


def test_help_says_how_integrations_are_managed(client, slack):
    reply = send(client, slack.command("help", command="/voicealert"))
    assert "`/voicealert integrations` lists the integrations" in reply.get_data(as_text=True)
    usage = voicealert(client, slack, "integrations help")["text"]
    assert "`/voicealert integrations add backend-prod @oncall &gt; @lead`" in usage
    assert "shown once" in usage


# -- the parser alone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "stages"), [
    ("integrations add x <@U0ALICE|alice>", ((RecipientRef(USER, "U0ALICE"),),)),
    ("INTEGRATIONS add x <@W0ALICE>,<!subteam^S0ONCALL>", ((RecipientRef(USER, "W0ALICE"),
                                                           RecipientRef(GROUP, "S0ONCALL")),)),
    ("integrations add x <tel:+14155550100|+1 415 555 0100>&gt;<@U0BOB>",
     ((RecipientRef(NUMBER, "+14155550100"),), (RecipientRef(USER, "U0BOB"),))),
    ("integrations add x U0ALICE > S0ONCALL", ((RecipientRef(USER, "U0ALICE"),), (RecipientRef(GROUP, "S0ONCALL"),))),
])
def test_slacks_markup_becomes_ids(text, stages):
    parsed = parse_integrations(text)
    assert isinstance(parsed, Adding) and parsed.chain.stages == stages


def test_an_alert_is_never_taken_for_an_integrations_command(client, slack, plivo_rest, fake_slack):
    # Anything but the word itself first is /voicealert's, as before.
    assert isinstance(parse_integrations("integrations add"), CommandError)
    reply = send(client, slack.command("<@U0ALICE> integrations are down", command="/voicealert"))
    assert reply.get_data(as_text=True).startswith(":rotating_light: Raising the alert")
