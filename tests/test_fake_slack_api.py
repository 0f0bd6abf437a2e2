"""The Slack fake must behave like Slack for the real slack_sdk clients, or tests built on it lie."""
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
def fake():
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def client(fake):
    return WebClient(token=fake.bot_token, base_url=fake.base_url)


def test_auth_test_identifies_the_bot_and_reports_its_scopes(client):
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT" and resp["bot_id"] == "BBOT"
    assert "chat:write" in resp.headers["x-oauth-scopes"]


def test_posting_then_updating_a_message_keeps_one_message_with_the_new_text_and_its_history(fake, client):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Calling..."}}]
    posted = client.chat_postMessage(channel="C1", text="Calling...", blocks=blocks)
    assert posted["message"]["bot_id"] == "BBOT"

    updated = client.chat_update(channel="C1", ts=posted["ts"], text="Call answered")

    assert updated["ts"] == posted["ts"]
    [message] = fake.messages("C1")
    assert message.text == "Call answered"
    assert message.blocks == blocks  # update without blocks keeps them
    assert message.versions == [("Calling...", blocks)]
    assert fake.calls("chat.update")[0]["ts"] == posted["ts"]


def test_each_posted_message_gets_a_unique_increasing_ts(client):
    first = client.chat_postMessage(channel="C1", text="a")["ts"]
    second = client.chat_postMessage(channel="C1", text="b")["ts"]
    assert float(second) > float(first)


def test_updating_an_unknown_message_is_message_not_found(client):
    with pytest.raises(SlackApiError) as e:
        client.chat_update(channel="C1", ts="1.000000", text="x")
    assert e.value.response["error"] == "message_not_found"


def test_an_invalid_token_gets_invalid_auth(fake):
    bad = WebClient(token="xoxb-wrong", base_url=fake.base_url)
    with pytest.raises(SlackApiError) as e:
        bad.chat_postMessage(channel="C1", text="hi")
    assert e.value.response.status_code == 200
    assert e.value.response["error"] == "invalid_auth"
    assert fake.messages("C1") == []


def test_a_failing_channel_raises_not_in_channel(fake, client):
    fake.fail_channel("C1")
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C1", text="hi")
    assert e.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel="C2", text="hi")["ok"]


def test_a_failing_method_answers_with_the_given_error(fake, client):
    fake.fail_method("conversations.info", "ratelimited")
    with pytest.raises(SlackApiError) as e:
        client.conversations_info(channel="C1")
    assert e.value.response["error"] == "ratelimited"


def test_form_encoded_calls_are_recorded_as_dicts(fake, client):
    client.api_call("conversations.info", params={"channel": "C9"})
    assert fake.calls("conversations.info") == [{"channel": "C9"}]


def test_set_delay_slows_every_reply(fake, client):
    fake.set_delay(0.3)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3


def test_a_response_url_accepts_five_posts_and_rejects_the_sixth_with_404(fake):
    url = fake.response_url("cmd1")
    webhook = WebhookClient(url)
    statuses = [webhook.send_dict({"text": f"update {i}"}).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert [p["text"] for p in fake.responses_to(url)] == [f"update {i}" for i in range(5)]
    assert fake.rejected_responses_to(url) == [{"text": "update 5"}]


def test_a_response_url_answers_ok(fake):
    resp = WebhookClient(fake.response_url()).send(text="hi")
    assert (resp.status_code, resp.body) == (200, "ok")


def test_replace_original_replaces_the_current_message(fake):
    url = fake.response_url()
    webhook = WebhookClient(url)
    webhook.send_dict({"text": "Dialling...", "response_type": "ephemeral"})
    webhook.send_dict({"text": "Connected", "replace_original": True})
    webhook.send_dict({"text": "A new one"})
    assert [m["text"] for m in fake.response_messages(url)] == ["Connected", "A new one"]
    assert len(fake.responses_to(url)) == 3


def test_wait_for_returns_the_truthy_value_once_it_appears(fake, client):
    client.chat_postMessage(channel="C1", text="ringing")
    message = fake.wait_for_message("C1", lambda m: m.text == "ringing", timeout=1)
    assert message.channel == "C1"
    assert fake.wait_for(lambda: fake.calls("chat.postMessage"), timeout=1)[0]["text"] == "ringing"


def test_wait_for_times_out_with_an_assertion_error(fake):
    started = time.monotonic()
    with pytest.raises(AssertionError, match="0.2s"):
        fake.wait_for(lambda: fake.messages("C1"), timeout=0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(AssertionError, match="no message in 'C1'"):
        fake.wait_for_message("C1", lambda m: True, timeout=0.1)


def test_reset_clears_state_and_explicit_start_stop_work():
    fake = FakeSlackApi(bot_token="xoxb-other").start()
    try:
        client = WebClient(token="xoxb-other", base_url=fake.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        fake.reset()
        assert fake.messages("C1") == [] and fake.requests == []
    finally:
        fake.stop()


def test_users_info_describes_a_user_with_their_profile_phone(fake, client):
    fake.add_user("U1", "Alice Smith", "+1 415 555 0101")
    user = client.users_info(user="U1")["user"]
    assert user["profile"]["phone"] == "+1 415 555 0101"
    assert user["profile"]["display_name"] == "Alice" and user["real_name"] == "Alice Smith"
    with pytest.raises(SlackApiError) as e:
        client.users_info(user="U404")
    assert e.value.response["error"] == "user_not_found"


def test_usergroups_users_list_gives_the_members(fake, client):
    fake.add_usergroup("S1", ["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as e:
        client.usergroups_users_list(usergroup="S404")
    assert e.value.response["error"] == "no_such_subteam"


def test_a_thread_reply_is_kept_apart_from_the_channel_messages(fake, client):
    parent = client.chat_postMessage(channel="C1", text="alert")["ts"]
    client.chat_postMessage(channel="C1", thread_ts=parent, text="<@U0> nobody acknowledged")
    assert [m.text for m in fake.messages("C1")] == ["alert"]
    assert [m.text for m in fake.replies("C1", parent)] == ["<@U0> nobody acknowledged"]
