"""Installs in many workspaces: Slack's OAuth flow, and each workspace on its own bot token.

Everything goes through the app as Slack and a browser would use it: the
install page, Slack's redirect back (with the state cookie), oauth.v2.access
on the Slack stand-in, then signed commands and events from two workspaces.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from bot.installs.oauth import BOT_SCOPES
from tests.conftest import CREATE_CALL_URL, hear_code, plivo_accepts, running_app, send
from voice.settings import SettingsError, load_settings

CLIENT_ID = "1234567890.9876543210"
CLIENT_SECRET = "client-secret-for-tests-0123"
NUMBER = "+14155550123"


@pytest.fixture
def installs(settings, fake_slack):
    fake_slack.accept_oauth(CLIENT_ID, CLIENT_SECRET)
    return replace(settings, slack_bot_token="", slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET)


@pytest.fixture
def app(installs, plivo_api):
    app = running_app(installs)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(app):
    return app.test_client()


def start_install(client) -> str:
    """Open the install page as the installer's browser; the state Slack will hand back."""
    page = client.get("/slack/install")
    assert page.status_code == 200 and page.mimetype == "text/html"
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.get_data(as_text=True))[1]
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"][0].split(",") == list(BOT_SCOPES)
    assert query["redirect_uri"] == ["https://voice.example.test/slack/oauth_redirect"]
    return query["state"][0]


def install(client, fake_slack, team_id: str, bot_token: str, team_name: str = ""):
    """The whole flow: install page, consent in Slack (a code), redirect back."""
    state = start_install(client)
    fake_slack.grant(f"code-{team_id}", team_id=team_id, bot_token=bot_token, team_name=team_name)
    return client.get(f"/slack/oauth_redirect?code=code-{team_id}&state={state}")


def installed_bots(app) -> list[tuple[str, str]]:
    """(workspace, bot token) of each installed bot, as the server reads them (the tokens are sealed at rest)."""
    store = app.extensions["voicebridge"]["services"].workspaces._store
    with store.engine.connect() as conn:
        rows = conn.execute(select(store.bots.c.team_id, store.bots.c.bot_token)).all()
    for _, sealed in rows:
        assert sealed.startswith("v1.") and "xoxb-" not in sealed  # a copy of the database holds no token
    return [(team, store.opened(SimpleNamespace(bot_token=sealed)).bot_token) for team, sealed in rows]


def test_an_install_exchanges_the_code_and_keeps_the_workspace_token(app, client, fake_slack):
    done = install(client, fake_slack, "T0ONE", "xoxb-one", team_name="Acme Ops")
    assert done.status_code == 200
    assert "VoiceBridge is installed in Acme Ops" in done.get_data(as_text=True)
    exchange = fake_slack.calls("oauth.v2.access")
    assert [call["code"] for call in exchange] == ["code-T0ONE"]
    assert exchange[0]["redirect_uri"] == "https://voice.example.test/slack/oauth_redirect"
    assert installed_bots(app) == [("T0ONE", "xoxb-one")]


def test_a_forged_state_gets_a_clear_page_and_installs_nothing(app, client, fake_slack):
    start_install(client)  # a real flow under way in this browser, whose state is not the one sent back
    fake_slack.grant("code-T0EVIL", team_id="T0EVIL", bot_token="xoxb-evil")
    client.set_cookie("slack-app-oauth-state", "forged-state")
    page = client.get("/slack/oauth_redirect?code=code-T0EVIL&state=forged-state")
    text = page.get_data(as_text=True)
    assert page.status_code == 401 and page.mimetype == "text/html"
    assert "not one this server started" in text and "Nothing was installed" in text
    assert 'href="/slack/install"' in text
    assert fake_slack.calls("oauth.v2.access") == [] and installed_bots(app) == []


def test_a_state_is_good_for_one_install_only(app, client, fake_slack):
    state = start_install(client)
    fake_slack.grant("code-1", team_id="T0ONE", bot_token="xoxb-one")
    assert client.get(f"/slack/oauth_redirect?code=code-1&state={state}").status_code == 200
    client.set_cookie("slack-app-oauth-state", state)  # the same redirect, replayed
    fake_slack.grant("code-2", team_id="T0TWO", bot_token="xoxb-two")
    replayed = client.get(f"/slack/oauth_redirect?code=code-2&state={state}")
    assert replayed.status_code == 401 and "Nothing was installed" in replayed.get_data(as_text=True)
    assert installed_bots(app) == [("T0ONE", "xoxb-one")]


def test_two_redirects_racing_on_one_link_install_once(app, client, fake_slack, monkeypatch):
    states = app.extensions["voicebridge"]["services"].installs.settings.state_store
    monkeypatch.setattr(states, "consume", states._valid)  # both passed the check before either was saved
    state = start_install(client)
    fake_slack.grant("code-1", team_id="T0ONE", bot_token="xoxb-one")
    fake_slack.grant("code-2", team_id="T0TWO", bot_token="xoxb-two")
    assert client.get(f"/slack/oauth_redirect?code=code-1&state={state}").status_code == 200
    client.set_cookie("slack-app-oauth-state", state)
    second = client.get(f"/slack/oauth_redirect?code=code-2&state={state}")
    assert second.status_code == 401 and "used already" in second.get_data(as_text=True)
    assert installed_bots(app) == [("T0ONE", "xoxb-one")]


def test_a_redirect_without_the_browsers_cookie_installs_nothing(app, client, fake_slack):
    state = start_install(client)
    client.delete_cookie("slack-app-oauth-state")
    fake_slack.grant("code-1", team_id="T0ONE", bot_token="xoxb-one")
    page = client.get(f"/slack/oauth_redirect?code=code-1&state={state}")
    assert page.status_code == 400 and "another browser" in page.get_data(as_text=True)
    assert installed_bots(app) == []


def test_cancelling_in_slack_is_said_plainly(app, client, fake_slack):
    start_install(client)
    page = client.get("/slack/oauth_redirect?error=access_denied&state=whatever")
    assert "cancelled in Slack" in page.get_data(as_text=True) and installed_bots(app) == []


def test_each_workspace_is_answered_and_reported_with_its_own_token(app, client, slack, fake_slack, plivo_api,
                                                                    plivo):
    install(client, fake_slack, "T0ONE", "xoxb-one")
    install(client, fake_slack, "T0TWO", "xoxb-two")
    for team, channel in (("T0ONE", "C0ONE"), ("T0TWO", "C0TWO")):
        plivo_accepts(plivo_api)
        reply = send(client, slack.command(NUMBER, team_id=team, channel_id=channel)).get_data(as_text=True)
        assert "Calling" in reply
        fake_slack.wait_for(lambda channel=channel: fake_slack.messages(channel))
    posts = {call.body_dict["channel"]: call.headers["authorization"] for call in fake_slack.requests
             if call.method_or_path == "chat.postMessage"}
    assert posts == {"C0ONE": "Bearer xoxb-one", "C0TWO": "Bearer xoxb-two"}
    # No round trip to Slack before a command's answer: the token comes from the database.
    assert fake_slack.calls("auth.test") == [{}, {}]  # one per install (Bolt reads the bot's ID), none per command


def test_an_alert_reads_its_own_workspaces_directory(app, client, slack, fake_slack, plivo_api):
    install(client, fake_slack, "T0ONE", "xoxb-one")
    install(client, fake_slack, "T0TWO", "xoxb-two")
    fake_slack.add_user("U0CAL", "Cal", "+1 415 555 0101")
    plivo_accepts(plivo_api)
    reply = send(client, slack.command("<@U0CAL|cal> db down", command="/voicealert", team_id="T0TWO",
                                       channel_id="C0TWO")).get_data(as_text=True)
    assert "Raising the alert" in reply
    fake_slack.wait_for(lambda: [c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL])
    assert set(fake_slack.tokens_used("users.info")) == {"xoxb-two"}
    fake_slack.wait_for(lambda: fake_slack.messages("C0TWO"))
    assert set(fake_slack.tokens_used("chat.postMessage")) == {"xoxb-two"}


def test_codes_are_kept_per_workspace_and_a_numbers_limits_across_them(installs, fake_slack, plivo_api, slack, plivo):
    app = running_app(replace(installs, otp_limit_number_10min=1))
    client = app.test_client()
    install(client, fake_slack, "T0ONE", "xoxb-one")
    install(client, fake_slack, "T0TWO", "xoxb-two")
    plivo_accepts(plivo_api)
    send(client, slack.command(NUMBER, team_id="T0ONE"))
    call = fake_slack.wait_for(lambda: [json.loads(c.request.body) for c in plivo_api.calls
                                        if c.request.url == CREATE_CALL_URL])[0]
    code = hear_code(client, plivo, call)
    # Another workspace neither sees the code nor can check it.
    elsewhere = send(client, slack.command(f"check {NUMBER} {code}", team_id="T0TWO")).get_data(as_text=True)
    assert "verified" not in elsewhere.lower()
    # A number's limits protect its owner whichever workspace asks: two workspaces may not call it twice as often.
    assert "Limit reached" in send(client, slack.command(NUMBER, team_id="T0ONE")).get_data(as_text=True)
    assert "Limit reached" in send(client, slack.command(NUMBER, team_id="T0TWO")).get_data(as_text=True)
    here = send(client, slack.command(f"check {NUMBER} {code}", team_id="T0ONE")).get_data(as_text=True)
    assert "verified" in here.lower()
    app.extensions["voicebridge"]["close"]()  # its work done while Plivo's stand-in still answers


def test_only_the_allowed_workspaces_may_install(installs, fake_slack, plivo_api):
    app = running_app(replace(installs, allowed_slack_teams=frozenset({"T0ONE"})))
    client = app.test_client()
    refused = install(client, fake_slack, "T0EVIL", "xoxb-evil")
    assert refused.status_code == 403 and "Nothing was installed" in refused.get_data(as_text=True)
    assert installed_bots(app) == []
    assert install(client, fake_slack, "T0ONE", "xoxb-one").status_code == 200
    assert installed_bots(app) == [("T0ONE", "xoxb-one")]


def test_an_org_wide_install_serves_its_workspaces(app, client, fake_slack):
    from slack_sdk.oauth.installation_store.models.installation import Installation

    store = app.extensions["voicebridge"]["services"].workspaces._store
    store.save(Installation(app_id="A0VOICE", enterprise_id="E0ORG", team_id=None, user_id="U0ADMIN",
                            bot_token="xoxb-org", bot_id="B0ORG", bot_user_id="U0ORGBOT", is_enterprise_install=True))
    assert app.extensions["voicebridge"]["services"].workspaces.client("T0INORG").token == "xoxb-org"


def test_a_token_that_cannot_be_opened_counts_as_not_installed(app, client, fake_slack, caplog):
    from voice.queue.work import GiveUp

    install(client, fake_slack, "T0ONE", "xoxb-one")
    store = app.extensions["voicebridge"]["services"].workspaces._store
    with store.engine.begin() as conn:  # as if sealed under another OTP_HASH_KEY
        conn.execute(store.bots.update().values(bot_token="v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    with pytest.raises(GiveUp, match="not installed"):
        app.extensions["voicebridge"]["services"].workspaces.client("T0ONE")
    assert "cannot be opened" in caplog.text


def test_a_workspace_that_has_not_installed_the_app_is_told_to_and_nothing_is_called(app, client, slack,
                                                                                     fake_slack, plivo_api):
    install(client, fake_slack, "T0ONE", "xoxb-one")
    reply_url = fake_slack.response_url("new")
    response = send(client, slack.command(NUMBER, team_id="T0NEW", response_url=reply_url))
    assert response.status_code == 200
    said = response.get_data(as_text=True) + json.dumps(fake_slack.responses_to(reply_url))
    assert "reinstall this app" in said.lower()
    assert [c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL] == []


def test_uninstalling_deletes_the_workspaces_token_and_its_reports_stop(app, client, slack, fake_slack, plivo_api):
    install(client, fake_slack, "T0ONE", "xoxb-one")
    install(client, fake_slack, "T0TWO", "xoxb-two")
    assert send(client, slack.event({"type": "app_uninstalled"}, team_id="T0ONE")).status_code == 200
    fake_slack.wait_for(lambda: ("T0ONE", "xoxb-one") not in installed_bots(app))
    assert installed_bots(app) == [("T0TWO", "xoxb-two")]
    workspaces = app.extensions["voicebridge"]["services"].workspaces
    from voice.queue.work import GiveUp

    with pytest.raises(GiveUp, match="not installed in the Slack workspace T0ONE"):
        workspaces.client("T0ONE")
    assert workspaces.client("T0TWO").token == "xoxb-two"


def test_a_report_of_no_workspace_goes_to_the_one_installed(app, client, fake_slack):
    workspaces = app.extensions["voicebridge"]["services"].workspaces
    from voice.queue.work import GiveUp

    with pytest.raises(GiveUp, match="exactly one workspace"):
        workspaces.client("")
    install(client, fake_slack, "T0ONE", "xoxb-one")
    assert workspaces.client("").token == "xoxb-one"
    install(client, fake_slack, "T0TWO", "xoxb-two")
    with pytest.raises(GiveUp, match="exactly one workspace"):
        workspaces.client("")


def test_a_reinstall_replaces_the_token(app, client, fake_slack):
    install(client, fake_slack, "T0ONE", "xoxb-old")
    workspaces = app.extensions["voicebridge"]["services"].workspaces
    assert workspaces.client("T0ONE").token == "xoxb-old"
    install(client, fake_slack, "T0ONE", "xoxb-new")
    assert workspaces.client("T0ONE").token == "xoxb-new"


# -- settings ---------------------------------------------------------------------------------------

BASE = {"SLACK_SIGNING_SECRET": "s" * 32, "PLIVO_AUTH_ID": "MA" + "A" * 18, "PLIVO_AUTH_TOKEN": "t" * 30,
        "PLIVO_FROM_NUMBER": "+14155550100", "PUBLIC_URL": "https://calls.example.com"}


def test_the_client_id_and_secret_stand_in_for_the_bot_token():
    settings = load_settings(BASE | {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET})
    assert settings.installs and settings.slack_bot_token == ""
    assert CLIENT_SECRET in settings.secrets()
    assert not load_settings(BASE | {"SLACK_BOT_TOKEN": "xoxb-1"}).installs


@pytest.mark.parametrize("extra, problem", [
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET},
     "not both"),
    ({"SLACK_CLIENT_ID": CLIENT_ID}, "SLACK_CLIENT_SECRET is required"),
    ({"SLACK_CLIENT_SECRET": CLIENT_SECRET}, "SLACK_CLIENT_ID is required"),
    ({"SLACK_CLIENT_ID": "not-an-id", "SLACK_CLIENT_SECRET": CLIENT_SECRET}, "must look like"),
    ({}, "SLACK_BOT_TOKEN is required"),
])
def test_a_half_configured_slack_app_is_refused_with_what_to_set(extra, problem):
    with pytest.raises(SettingsError) as refused:
        load_settings(BASE | extra)
    assert problem in "\n".join(refused.value.problems)
    assert CLIENT_SECRET not in "\n".join(refused.value.problems)


def test_installed_workspaces_count_each_team_once(app, client, fake_slack):
    install(client, fake_slack, "T0ONE", "xoxb-one")
    install(client, fake_slack, "T0ONE", "xoxb-one-again")
    store = app.extensions["voicebridge"]["services"].workspaces._store
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.bots)).scalar() >= 1
    assert app.extensions["voicebridge"]["services"].workspaces.client("").token == "xoxb-one-again"


def test_one_workspace_hears_an_uninstall_and_slacks_url_check(settings, plivo_api, slack):
    client = running_app(settings).test_client()
    assert send(client, slack.event({"type": "app_uninstalled"})).status_code == 200
    check = slack.sign("/slack/events", json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}),
                       content_type="application/json")
    answer = client.post(check.path, data=check.body, headers=check.headers)
    assert answer.status_code == 200 and answer.get_json() == {"challenge": "c-123"}


def test_three_thousand_visits_to_the_install_page_write_no_row_and_an_install_still_works(app, client,
                                                                                            fake_slack):
    engine = app.extensions["voicebridge"]["engine"]
    before = row_counts(engine)
    states = {start_install(client) for _ in range(3000)}
    assert len(states) == 3000  # each visit its own link
    after = row_counts(engine)
    assert {table: after[table] - before[table] for table in after if after[table] > before[table]} == {}
    fake_slack.grant("code-1", team_id="T0ONE", bot_token="xoxb-one")
    assert client.get(f"/slack/oauth_redirect?code=code-1&state={start_install(client)}").status_code == 200
    assert installed_bots(app) == [("T0ONE", "xoxb-one")]


def row_counts(engine) -> dict[str, int]:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        return {table: conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()
                for table in inspect(conn).get_table_names()}


def test_a_refused_workspace_loses_the_token_it_got_and_nothing_is_kept(installs, fake_slack, plivo_api, caplog):
    app = running_app(replace(installs, allowed_slack_teams=frozenset({"T0ONE"})))
    client = app.test_client()
    refused = install(client, fake_slack, "T0EVIL", "xoxb-evil-token-1")
    assert refused.status_code == 403 and "Nothing was installed" in refused.get_data(as_text=True)
    assert fake_slack.tokens_used("auth.revoke") == ["xoxb-evil-token-1"]
    assert fake_slack.calls("auth.revoke") == [{}]  # the token in the Authorization header, not in the request
    # Slack no longer takes the token, and nothing of the install is kept here.
    test = app.extensions["voicebridge"]["services"].slack_client.auth_test
    with pytest.raises(Exception, match="invalid_auth"):
        test(token="xoxb-evil-token-1")
    assert installed_bots(app) == []
    assert "refused an install in Slack workspace T0EVIL" in caplog.text and "the token it got is revoked" in caplog.text
    assert "xoxb-evil-token-1" not in caplog.text


def test_a_token_slack_would_not_revoke_is_said_in_the_log(installs, fake_slack, plivo_api, caplog):
    app = running_app(replace(installs, allowed_slack_teams=frozenset({"T0ONE"})))
    fake_slack.fail_http("auth.revoke", 500, times=5)
    refused = install(app.test_client(), fake_slack, "T0EVIL", "xoxb-evil-token-2")
    assert refused.status_code == 403 and installed_bots(app) == []
    assert "its token could NOT be revoked: remove the app from that workspace in Slack" in caplog.text


def test_an_install_link_is_signed_for_ten_minutes_and_good_for_one_install(clock):
    from bot.installs.oauth import SignedStates

    class Remembered:  # voice.store.once.UsedOnce's answers, without a database (tests/test_once.py has the real one)
        def __init__(self):
            self.seen = set()

        def used(self, kind, value):
            return (kind, value) in self.seen

        def first_use(self, kind, value, keep):
            new = (kind, value) not in self.seen
            self.seen.add((kind, value))
            return new

    states = SignedStates(CLIENT_SECRET, Remembered(), clock)
    state = states.issue()
    assert states.consume(state) and states.consume(state)  # checking it does not use it up
    expiry, random, mac = state.split(".")
    assert not states.consume(f"{int(expiry) + 600}.{random}.{mac}")  # a later expiry, same signature
    assert not states.consume(f"{expiry}.{random}x.{mac}") and not states.consume("forged-state")
    assert not SignedStates("another-client-secret-000", Remembered(), clock).consume(state)
    assert states.mark_used(state) and not states.consume(state) and not states.mark_used(state)
    later = states.issue()
    clock.advance(seconds=601)
    assert not states.consume(later)


def test_install_links_an_earlier_release_stored_are_forgotten_once_expired(migrated_sqlite, tmp_path):
    from datetime import datetime, timedelta

    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
    from sqlalchemy import MetaData

    from bot.installs.oauth import forget_expired_states
    from tests.conftest import fresh_sqlite
    from voice.store.db import make_engine

    # A database of its own: a running app's hourly sweep would race this one.
    engine = make_engine(fresh_sqlite(migrated_sqlite, tmp_path / "states.sqlite3"))
    states = SQLAlchemyOAuthStateStore.build_oauth_states_table(MetaData(), "slack_oauth_states")
    now = datetime.utcnow()
    with engine.begin() as conn:
        conn.execute(states.insert(), [{"state": "old", "expire_at": now - timedelta(minutes=1)},
                                       {"state": "live", "expire_at": now + timedelta(minutes=9)}])
    assert forget_expired_states(engine) == 1
    with engine.connect() as conn:
        assert [row.state for row in conn.execute(states.select())] == ["live"]
    engine.dispose()
