"""The console in a real headless browser: type a command, hear the code, see the channel update.

Uses Debian's chromium through Playwright (no downloaded browser). `.ci/run`
installs chromium; elsewhere the test is skipped and says why.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.sandbox_process import SandboxProcess

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (bash .ci/run does) to run the console test",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")


@pytest.fixture
def sandbox(tmp_path):
    process = SandboxProcess(tmp_path, speed=20)
    process.wait_until_ready()
    yield process
    process.stop()


@pytest.fixture
def slow_sandbox(tmp_path):
    # Slow enough (the code script lasts ~8 s) for a person, or a test, to press a key mid-call.
    process = SandboxProcess(tmp_path, speed=2)
    process.wait_until_ready()
    yield process
    process.stop()


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # In the sandbox workspace's time zone, as a person of it would be (times are shown in the browser's).
        page = browser.new_page(viewport={"width": 1280, "height": 820}, timezone_id="America/Los_Angeles")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert errors == [], errors


def test_a_person_types_voiceotp_hears_the_digits_and_sees_the_message_change_to_answered(sandbox, page):
    page.goto(f"{sandbox.url}/sandbox")
    expect = sync_api.expect
    expect(page.locator(".banner")).to_have_text("SANDBOX — no real calls are placed")
    page.fill("#composer-input", "/voiceotp +14155550123 483920")
    page.press("#composer-input", "Enter")

    expect(page.locator(".message.ephemeral").first).to_contain_text("Calling +1 415-555-0123…")
    phone = page.locator(".phone").first
    expect(phone.locator(".phone-number")).to_contain_text("+14155550123")
    # The voicemail guard: the callee presses a key on the console's keypad to hear the code.
    expect(phone.locator(".transcript")).to_contain_text("Press any key to hear your code.", timeout=20_000)
    phone.locator(".keypad button[data-key='5']").click()
    expect(phone.locator(".transcript")).to_contain_text("4, 8, 3, 9, 2, 0.", timeout=20_000)
    status = page.locator(".message:not(.ephemeral) .body").first
    expect(status).to_contain_text(re.compile(r"code read · \d+ s"), timeout=20_000)
    expect(phone.locator(".state")).to_contain_text("ended", timeout=20_000)
    assert "@you" in status.inner_text()  # <@U0SANDBOX> is shown as a name
    if os.environ.get("SANDBOX_SCREENSHOT"):
        page.screenshot(path=os.environ["SANDBOX_SCREENSHOT"])


def test_the_keypad_and_the_hang_up_button_act_on_the_call(slow_sandbox, page):
    page.goto(f"{slow_sandbox.url}/sandbox")
    page.fill("#composer-input", "/voiceotp +14155550123 2468")
    page.press("#composer-input", "Enter")
    phone = page.locator(".phone").first
    sync_api.expect(phone.locator(".transcript")).to_contain_text("Press any key", timeout=20_000)
    phone.locator(".keypad button[data-key='9']").click()
    sync_api.expect(phone.locator(".transcript")).to_contain_text("Your code is:", timeout=20_000)
    phone.locator(".keypad button[data-key='5']").click()
    # While the code is read no GetDigits listens, so Plivo (and the sandbox) ignore the key, and say so.
    sync_api.expect(phone.locator(".transcript")).to_contain_text("[pressed 5: nothing was listening]")
    phone.locator(".hangup").click()
    sync_api.expect(phone.locator(".state")).to_contain_text("Normal Hangup (4000)", timeout=20_000)


def test_block_kit_messages_render_and_a_confirmed_button_sends_a_click_the_app_receives(tmp_path, page):
    from slack_sdk import WebClient

    from tests.sandbox_server import start_sandbox

    sandbox, server = start_sandbox(f"sqlite:///{tmp_path / 'sandbox.sqlite3'}")
    try:
        clicks: list[dict] = []

        def on_retry(ack, body):
            ack()
            clicks.append(body)

        sandbox.app.extensions["voicebridge"]["bolt"].action("retry_call")(on_retry)
        WebClient(token=sandbox.settings.slack_bot_token, base_url=sandbox.settings.slack_api_url).chat_postMessage(
            channel="C0SANDBOX", text="Call to <@U0ALICE> failed", blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": "*Call failed* for <@U0ALICE> :x:"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "cause: _busy_ `3010`"}]},
                {"type": "divider"},
                {"type": "actions", "block_id": "b1", "elements": [{
                    "type": "button", "action_id": "retry_call", "value": "call-42", "style": "primary",
                    "text": {"type": "plain_text", "text": "Retry"},
                    "confirm": {"title": {"type": "plain_text", "text": "Call again?"},
                                "text": {"type": "plain_text", "text": "Alice's phone rings again."},
                                "confirm": {"type": "plain_text", "text": "Call"},
                                "deny": {"type": "plain_text", "text": "Cancel"}}}]},
            ])
        page.goto(f"{sandbox.url}/sandbox")
        body = page.locator(".message .body").first
        sync_api.expect(body.locator("b")).to_have_text("Call failed")
        sync_api.expect(body).to_contain_text("@alice")
        sync_api.expect(body.locator(".context")).to_contain_text("cause: busy 3010")
        questions: list[str] = []
        page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        body.locator("button", has_text="Retry").click()
        deadline = time.monotonic() + 10
        while not clicks and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert questions == ["Call again?\n\nAlice's phone rings again."]
        assert clicks and clicks[0]["actions"][0]["value"] == "call-42"
    finally:
        server.stop()
        sandbox.app.extensions["voicebridge"]["close"]()


def test_an_alert_acknowledged_on_the_keypad_and_9_puts_the_console_on_the_voice_bridge(slow_sandbox, page):
    page.goto(f"{slow_sandbox.url}/sandbox")
    expect = sync_api.expect
    page.fill("#composer-input", "/voicealert @alice The database is down")
    page.press("#composer-input", "Enter")
    alice = page.locator(".phone", has=page.locator(".phone-number", has_text="+14155550101"))
    expect(alice.locator(".transcript")).to_contain_text("Press 1 to acknowledge", timeout=20_000)
    alice.locator(".keypad button[data-key='1']").click()
    expect(alice.locator(".transcript")).to_contain_text("Press 9 to be connected to you now", timeout=20_000)
    alice.locator(".keypad button[data-key='9']").click()
    expect(alice.locator(".transcript")).to_contain_text("[on the conference call", timeout=20_000)
    # Whoever raised the alert (the console, whose profile number ends in 0199) is called into it.
    you = page.locator(".phone", has=page.locator(".phone-number", has_text="+14155550199"))
    expect(you.locator(".transcript")).to_contain_text("acknowledged your alert and is waiting on the line",
                                                       timeout=20_000)
    expect(you.locator(".transcript")).to_contain_text("with +14155550101, +14155550199", timeout=20_000)
    message = page.locator(".message:not(.ephemeral) .body", has_text="Voice bridge").first
    expect(message).to_contain_text("Voice bridge", timeout=20_000)
    expect(message.locator("button", has_text="Join the call")).to_be_visible()


def test_the_alert_form_errors_on_its_field_and_submitted_rings_alice_and_the_home_tab_shows(sandbox, page):
    page.goto(f"{sandbox.url}/sandbox")
    expect = sync_api.expect
    page.fill("#composer-input", "/voicealert")
    page.press("#composer-input", "Enter")
    modal = page.locator("#modal .modal")
    expect(modal).to_be_visible(timeout=20_000)
    expect(modal.locator("h3")).to_have_text("Phone people")
    expect(modal.locator(".field[data-block='who_groups']")).to_contain_text("@oncall")  # added by views.update
    modal.locator("button[type=submit]").click()
    expect(modal.locator(".field[data-block='who_users'] .field-error")).to_contain_text("Choose someone to call")
    modal.locator(".field[data-block='who_users'] input[value='U0ALICE']").check()
    modal.locator(".field[data-block='message'] textarea").fill("The database is down")
    modal.locator("button[type=submit]").click()
    expect(page.locator("#modal")).to_have_count(0, timeout=20_000)
    expect(page.locator(".phone .phone-number", has_text="+14155550101")).to_be_visible(timeout=20_000)
    page.locator("#channels button", has_text="VoiceBridge Home").click()
    expect(page.locator(".message.home .body")).to_contain_text("Alerts reach you at +1", timeout=20_000)
    expect(page.locator(".message.home .body button", has_text="Test call to me")).to_be_visible()


def test_a_test_alert_rings_alice_and_resolve_it_hangs_up_and_the_message_says_resolved(slow_sandbox, page):
    page.goto(f"{slow_sandbox.url}/sandbox")
    expect = sync_api.expect
    resolve = page.locator("#resolve-alert")
    expect(resolve).to_be_disabled()  # nothing fires yet
    page.locator("#send-alert").click()
    answer = page.locator("#monitoring-answer")
    expect(answer).to_contain_text("firing → POST /integrations/alertmanager: 202, opened (incident", timeout=20_000)
    alice = page.locator(".phone", has=page.locator(".phone-number", has_text="+14155550101"))
    expect(alice.locator(".transcript")).to_contain_text("This is an alert from sandbox-demo", timeout=20_000)
    expect(alice.locator(".transcript")).to_contain_text("Press 1 to acknowledge", timeout=20_000)
    message = page.locator(".message:not(.ephemeral) .body", has_text="sandbox-demo").first
    expect(message).to_contain_text("(Alertmanager)")
    expect(message).to_contain_text("Checkout errors above 5%")
    resolve.click()
    expect(answer).to_contain_text("resolved → POST /integrations/alertmanager: 202, resolved (incident")
    expect(alice.locator(".state")).to_contain_text("ended", timeout=20_000)
    # Slack's <!date^…> shown as the time in the reader's zone, as Slack shows it.
    expect(message).to_contain_text(re.compile(r"Resolved by Alertmanager at \d{1,2}:\d{2}:\d{2}"), timeout=20_000)
    expect(resolve).to_be_disabled()


def test_call_the_hotline_rings_alice_her_1_connects_both_and_the_message_follows_the_call(slow_sandbox, page):
    page.goto(f"{slow_sandbox.url}/sandbox")
    expect = sync_api.expect
    expect(page.locator("#hotline-from")).to_have_value("+14155550142")
    page.locator("#call-hotline").click()
    caller = page.locator("#caller-phones .phone")  # the caller's own phone, under the button
    expect(caller.locator(".phone-number")).to_contain_text("+14155550142 → ☎️ +14155550180")
    expect(caller.locator(".transcript")).to_contain_text("You have reached Sandbox on call.", timeout=20_000)
    expect(caller.locator(".state")).to_contain_text("waiting in the conference room", timeout=20_000)
    alice = page.locator(".phone", has=page.locator(".phone-number", has_text="+14155550101"))
    expect(alice.locator(".transcript")).to_contain_text("Press 1 to take it", timeout=20_000)
    message = page.locator(".message:not(.ephemeral) .body", has_text="Sandbox on call").first
    expect(message).to_contain_text("☎️ Incoming call to Sandbox on call from +1 415-•••-0142")
    alice.locator(".keypad button[data-key='1']").click()
    expect(alice.locator(".state")).to_contain_text("connected · with +14155550142", timeout=20_000)
    expect(caller.locator(".state")).to_contain_text("connected · with +14155550101", timeout=20_000)
    expect(message).to_contain_text("connected with @alice", timeout=20_000)
    caller.locator(".hangup").click()
    expect(alice.locator(".state")).to_contain_text("ended", timeout=20_000)
    expect(message).to_contain_text("ended", timeout=20_000)


def test_the_console_offers_oncall_shows_who_is_on_call_and_a_cover_hands_off_with_dms(sandbox, page):
    page.goto(f"{sandbox.url}/sandbox")
    expect = sync_api.expect
    now = page.locator("#oncall-now")
    expect(now).to_contain_text(re.compile(r"^@alice until \d{1,2}:\d{2}.*, then @bob · @sandbox-oncall = @alice$"))
    page.locator("#examples button", has_text=re.compile(r"^/oncall$")).click()
    page.press("#composer-input", "Enter")
    reply = page.locator(".message.ephemeral .body", has_text="On call now").first
    expect(reply).to_contain_text("sandbox-oncall: @alice until", timeout=20_000)
    expect(reply).to_contain_text("then @bob")
    expect(reply.locator("b", has_text="sandbox-oncall")).to_be_visible()

    # An override from now is a hand-off: the group, #sandbox and both DMs follow.
    page.fill("#composer-input", "/oncall cover sandbox-oncall until tomorrow 09:00")
    page.press("#composer-input", "Enter")
    expect(page.locator(".message.ephemeral .body", has_text="✅")).to_contain_text(
        "@you is on call for sandbox-oncall from now until", timeout=20_000)
    line = page.locator(".message:not(.ephemeral) .body", has_text="📟").first
    # Until the override's end, not the rotation's next hand-off under it.
    expect(line).to_contain_text(re.compile(r"@you is on call for sandbox-oncall from @alice until tomorrow 0?9:00"
                                            r"\W*(AM)? \(an override\)"), timeout=20_000)
    expect(now).to_contain_text("@you (override)", timeout=20_000)
    expect(now).to_contain_text("@sandbox-oncall = @you")
    page.locator("#channels button", has_text="Direct messages").click()
    expect(page.locator(".message", has_text="to @you")).to_contain_text("You are on call for sandbox-oncall")
    expect(page.locator(".message", has_text="to @alice")).to_contain_text(
        "You are no longer on call for sandbox-oncall: @you is")
    expect(page.locator(".message .shortcut")).to_have_count(0)
