"""The alert form: a bare /voicealert and the message shortcut open it; its submission raises the alert.

Everything Slack would receive is checked with slack_sdk's own models; the
Slack stand-in records views.open, and the submissions are signed as Slack
signs them.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from slack_sdk.models.views import View

from bot.alerts.form import (
    CALLBACK_ID,
    IN_ORDER,
    MESSAGE,
    NUMBERS,
    USERS,
    FormErrors,
    Origin,
    alert_form,
    read_submission,
    sign_origin,
    verified_origin,
)
from tests import test_voicealert_flow as flow
from tests.conftest import SIGNING_SECRET, send

ORIGIN = Origin(channel_id="C0OPS", user_id="U0ANA", team_id="T0001", channel_name="ops",
                reply_url="https://hooks.slack.test/commands/1")
alert_app, client, slack, people = flow.alert_app, flow.client, flow.slack, flow.people


def values(users=(), groups=(), numbers="", how="at_once", message="The database is down") -> dict:
    return {
        "who_users": {"value": {"type": "multi_users_select", "selected_users": list(users)}},
        "who_groups": {"value": {"type": "multi_static_select", "selected_options": [
            {"text": {"type": "plain_text", "text": f"@{g}"}, "value": g} for g in groups]}},
        "who_numbers": {"value": {"type": "plain_text_input", "value": numbers or None}},
        "how": {"value": {"type": "radio_buttons", "selected_option": {"text": {"type": "plain_text", "text": how},
                                                                        "value": how}}},
        "message": {"value": {"type": "plain_text_input", "value": message}},
    }


# -- pure ---------------------------------------------------------------------------------------------


def test_the_form_is_a_valid_modal_with_its_fields():
    view = alert_form(ORIGIN, SIGNING_SECRET, groups=[("S1", "oncall")], message="x" * 1500)
    View(**view).validate_json()
    assert view["callback_id"] == CALLBACK_ID
    assert [block["block_id"] for block in view["blocks"]] == ["who_users", "who_groups", "who_numbers", "how",
                                                                "message"]
    assert len(view["blocks"][-1]["element"]["initial_value"]) == 1000  # a long message is shortened to fit
    assert "who_groups" not in json.dumps(alert_form(ORIGIN, SIGNING_SECRET))  # no groups: no field


def test_schedules_are_offered_and_a_chosen_one_phones_whoever_it_has_on_call():
    view = alert_form(ORIGIN, SIGNING_SECRET, schedules=["backend", "frontend"])
    View(**view).validate_json()
    field = next(block for block in view["blocks"] if block["block_id"] == "who_schedules")
    assert [option["value"] for option in field["element"]["options"]] == ["backend", "frontend"]
    chosen = values(users=["U1"], how=IN_ORDER) | {"who_schedules": {"value": {
        "type": "multi_static_select", "selected_options": [{"text": {"type": "plain_text", "text": "backend"},
                                                             "value": "backend"}]}}}
    request = read_submission(chosen)
    assert [[(r.kind, r.id, r.label) for r in stage] for stage in request.stages] == [
        [("user", "U1", "<@U1>")], [("schedule", "backend", "schedule:backend")]]
    assert "who_schedules" not in json.dumps(alert_form(ORIGIN, SIGNING_SECRET))  # none: no field


def test_a_submission_becomes_the_alert_the_command_would_raise():
    request = read_submission(values(users=["U1", "U2"], numbers="+14155550103", how=IN_ORDER,
                                     message="DB <down> & out"))
    assert [[r.id for r in stage] for stage in request.stages] == [["U1"], ["U2"], ["+14155550103"]]
    assert request.message == "DB &lt;down&gt; &amp; out"  # as Slack would have sent it in a command
    at_once = read_submission(values(users=["U1"], groups=["S1"]))
    assert [[r.kind for r in stage] for stage in at_once.stages] == [["user", "group"]]


@pytest.mark.parametrize("changes, block, words", [
    (dict(numbers="+1415555"), NUMBERS, "“+1415555”"),
    (dict(), USERS, "Choose someone to call"),
    (dict(users=["U1"], message="   "), MESSAGE, "Write the message"),
    (dict(users=["U1"], message="x" * 1001), MESSAGE, "1001 characters"),
])
def test_what_is_wrong_is_said_on_its_field(changes, block, words):
    errors = read_submission(values(**changes))
    assert isinstance(errors, FormErrors) and words in errors.errors[block]


def test_only_an_origin_we_signed_is_believed():
    signed = sign_origin(ORIGIN, SIGNING_SECRET)
    assert verified_origin(signed, SIGNING_SECRET) == ORIGIN
    payload, mac = signed.split(".")
    forged = sign_origin(replace(ORIGIN, channel_id="C0OTHER"), "another-secret")
    assert verified_origin(forged, SIGNING_SECRET) is None
    assert verified_origin(forged.split(".")[0] + "." + mac, SIGNING_SECRET) is None
    assert verified_origin("", SIGNING_SECRET) is None and verified_origin("garbage", SIGNING_SECRET) is None


# -- through the app ----------------------------------------------------------------------------------


def opened_view(fake_slack) -> dict:
    [call] = fake_slack.wait_for(lambda: fake_slack.calls("views.open"))
    view = call["view"] if isinstance(call["view"], dict) else json.loads(call["view"])
    View(**view).validate_json()
    return view


def submit(client_, slack_, view, form_values, **kwargs):
    return send(client_, slack_.view_submission(view, form_values, **kwargs))


def test_a_bare_voicealert_opens_the_form_and_its_submission_raises_the_alert(
        client, slack, fake_slack, plivo_rest, plivo):
    fake_slack.add_usergroup("S1", ["U1", "U2"])
    reply = send(client, slack.command("", command="/voicealert"))
    assert reply.status_code == 200 and reply.get_data(as_text=True) == ""  # nothing said: the form opens
    view = opened_view(fake_slack)
    assert fake_slack.calls("views.open")[0]["trigger_id"]
    # Opened at once; the user groups added after, to the same view (views.update, with its hash).
    [update] = fake_slack.wait_for(lambda: fake_slack.calls("views.update"))
    updated = update["view"] if isinstance(update["view"], dict) else json.loads(update["view"])
    View(**updated).validate_json()
    assert (update["view_id"], update["hash"]) == ("V00000001", "h1")
    assert updated["blocks"][1]["element"]["options"][0]["value"] == "S1"
    view = updated | {"id": update["view_id"]}
    answer = submit(client, slack, view, values(users=["U1"], numbers="+14155550102", how=IN_ORDER,
                                                 message="Primary is down"))
    assert answer.status_code == 200 and answer.get_data(as_text=True) == ""  # the form closes
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [body["to"] for body in plivo_rest.created] == ["+14155550101"]  # one after another: Alice first
    flow.alert_message(fake_slack, "Primary is down", "1. <@U1>", "2. +1 415-555-0102")


def test_errors_show_on_their_field_and_nothing_is_called(client, slack, fake_slack, plivo_rest):
    send(client, slack.command("", command="/voicealert"))
    view = opened_view(fake_slack)
    answer = submit(client, slack, view, values(numbers="+1900555012"))
    assert answer.get_json()["response_action"] == "errors" and NUMBERS in answer.get_json()["errors"]
    premium = submit(client, slack, view, values(numbers="+19005550123"))
    assert "premium" in premium.get_json()["errors"][NUMBERS].lower()
    nobody = submit(client, slack, view, values()).get_json()
    assert nobody == {"response_action": "errors", "errors": {
        USERS: "Choose someone to call: people, a user group, a schedule or a phone number."}}
    flow.settle(client)
    assert plivo_rest.created == []


def test_a_form_submitted_twice_raises_one_alert(client, slack, fake_slack, plivo_rest):
    send(client, slack.command("", command="/voicealert"))
    view = opened_view(fake_slack)
    for _ in range(2):
        submit(client, slack, view, values(users=["U1"]))
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    flow.settle(client)
    assert len(plivo_rest.created) == 1
    assert len([m for m in fake_slack.messages(flow.CHANNEL) if "The database is down" in (m.text or "")]) == 1


def test_a_forged_origin_raises_nothing(client, slack, fake_slack, plivo_rest):
    send(client, slack.command("", command="/voicealert"))
    view = opened_view(fake_slack)
    forged = view | {"private_metadata": sign_origin(replace(ORIGIN, channel_id="C0ELSE"), "not-our-secret")}
    answer = submit(client, slack, forged, values(users=["U1"])).get_json()
    assert answer["response_action"] == "errors" and "not opened by VoiceBridge" in answer["errors"][MESSAGE]
    # Someone else submitting the form opened for Ana is refused too.
    other = submit(client, slack, view, values(users=["U1"]), user_id="U0MALLORY").get_json()
    assert other["response_action"] == "errors"
    flow.settle(client)
    assert plivo_rest.created == []


def test_a_user_not_allowed_is_refused_on_the_form(settings, plivo_api, clock, fake_slack, plivo_rest, slack):
    app = flow.clocked_app(replace(settings, allowed_slack_users=frozenset({"U0BOSS"})), clock)
    try:
        client_ = app.test_client()
        assert "not allowed" in send(client_, slack.command("", command="/voicealert")).get_data(as_text=True)
        view = alert_form(ORIGIN, SIGNING_SECRET)
        answer = submit(client_, slack, view, values(users=["U1"])).get_json()
        assert answer["response_action"] == "errors" and "not allowed" in answer["errors"][USERS]
        assert fake_slack.calls("views.open") == []
    finally:
        app.extensions["voicebridge"]["close"]()


def test_a_stale_trigger_is_said_to_the_person_only(client, slack, fake_slack):
    fake_slack.fail_method("views.open", "expired_trigger_id")
    reply_url = fake_slack.response_url("stale")
    send(client, slack.command("", command="/voicealert", response_url=reply_url))
    [told] = fake_slack.wait_for(lambda: fake_slack.responses_to(reply_url))
    assert told["response_type"] == "ephemeral" and "could not be opened in time" in told["text"]


def test_the_shortcut_opens_the_form_with_the_message_and_the_alert_links_back_to_it(
        client, slack, fake_slack, plivo_rest):
    message = {"type": "message", "ts": "1700000000.123456", "user": "U2",
               "text": "Checkout is failing for <@U1> &amp; friends"}
    reply = send(client, slack.message_shortcut("phone_about_message", message))
    assert reply.status_code == 200
    view = opened_view(fake_slack)
    assert view["blocks"][-1]["element"]["initial_value"] == "Checkout is failing for @U1 & friends"
    submit(client, slack, view, values(users=["U1"], message="Checkout is failing"))
    flow.settle(client)
    posted = flow.alert_message(fake_slack, "Checkout is failing")
    context = next(block for block in posted.blocks if block["type"] == "context")
    assert context["elements"][0]["text"] == (
        "About <https://example.slack.com/archives/C0OPS/p1700000000123456|this message>")


def test_with_text_the_command_raises_the_alert_as_before_and_no_form_opens(client, slack, fake_slack, plivo_rest):
    reply = send(client, slack.command("<@U1> down", command="/voicealert")).get_data(as_text=True)
    assert "Raising the alert" in reply
    flow.settle(client)
    assert fake_slack.calls("views.open") == []


def test_a_number_at_its_limit_is_refused_under_the_numbers_field_and_not_called(
        alert_app, client, slack, fake_slack, plivo_rest, clock):
    for _ in range(5):  # the default ALERT_LIMIT_NUMBER_HOUR: five alerts typed this number already
        send(client, slack.command("+14155550166 Call me back", command="/voicealert"))
    flow.settle(client)
    fake_slack.wait_for(lambda: len(plivo_rest.created) == 5)
    clock.advance(minutes=20)
    send(client, slack.command("", command="/voicealert"))
    answer = submit(client, slack, opened_view(fake_slack), values(users=["U1"], numbers="+14155550166")).get_json()
    assert answer == {"response_action": "errors", "errors": {NUMBERS: (
        "Limit reached for +1 415-555-0166: at most 5 calls per hour to a number typed into an alert (alerts, voice "
        "codes and test calls to it count together). The next call is possible at 11:00 UTC (in 40 min). "
        "No call was placed.")}}
    flow.settle(client)
    assert len(plivo_rest.created) == 5  # nobody called, Alice neither: the form stays open to be changed
    assert flow.refusal_kinds(alert_app) == ["rate_limit"]
