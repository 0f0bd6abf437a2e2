"""What Slack itself does when a person types a command or clicks a button:
build the request exactly as Slack does, sign it, POST it to the app's own
/slack/events over real HTTP, and show the reply.

Field order and encoding follow Slack's slash-command payload
(https://docs.slack.dev/interactivity/implementing-slash-commands), signing its
v0 request signature (https://docs.slack.dev/authentication/verifying-requests-from-slack/).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import requests
import yaml

from answer_server.sandbox.slack_workspace import (
    CHANNELS,
    CONSOLE_USER,
    GROUPS,
    SLACKBOT,
    TEAM_DOMAIN,
    TEAM_ID,
    USERS,
    SlackWorkspace,
)

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
API_APP_ID = "A0VOICEBRIDGE"
ACK_TIMEOUT = 3.0  # Slack gives up on an app after 3 s: "operation_timeout"
_MENTION = re.compile(r"(?<![\w<])([@#])([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)


def manifest_commands(path: Path = MANIFEST) -> dict[str, bool]:
    """The app's slash commands and whether Slack escapes their text (should_escape)."""
    try:
        manifest = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    commands = ((manifest or {}).get("features") or {}).get("slash_commands") or []
    return {c["command"]: bool(c.get("should_escape")) for c in commands if c.get("command")}


def escape_text(text: str, should_escape: bool) -> str:
    """The `text` field Slack sends: &, < and > always as entities; with should_escape,
    @user, @group and #channel turned into Slack's <@U…|name> style escapes."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not should_escape:
        return text
    return _MENTION.sub(_mention, text)


def _mention(match: re.Match) -> str:
    sigil, name = match.group(1), match.group(2)
    lowered = name.lower()
    if sigil == "#":
        channel = next((c for c in CHANNELS.values() if c.name == lowered), None)
        return f"<#{channel.id}|{channel.name}>" if channel else match.group(0)
    if lowered in ("here", "channel", "everyone"):
        return f"<!{lowered}>"
    user = next((u for u in USERS.values() if u.name == lowered), None)
    if user:
        return f"<@{user.id}|{user.name}>"
    group = next((g for g in GROUPS.values() if g.handle == lowered), None)
    return f"<!subteam^{group.id}|@{group.handle}>" if group else match.group(0)


def command_body(command: str, text: str, *, channel_id: str, user_id: str, response_url: str,
                 trigger_id: str) -> str:
    """A slash command's form body, fields in the order Slack sends them."""
    channel = CHANNELS[channel_id]
    return urlencode([
        ("token", "sandbox-verification-token"),
        ("team_id", TEAM_ID),
        ("team_domain", TEAM_DOMAIN),
        ("channel_id", channel_id),
        ("channel_name", "privategroup" if channel.is_private else channel.name),
        ("user_id", user_id),
        ("user_name", USERS[user_id].name),
        ("command", command),
        ("text", text),
        ("api_app_id", API_APP_ID),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ])


def block_actions_body(message: dict, action: dict, block_id: str, *, user_id: str, response_url: str,
                       trigger_id: str) -> str:
    """A button click: `payload=` and the URL-encoded JSON Slack sends."""
    user = USERS[user_id]
    payload = {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "sandbox-verification-token",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"],
                      "is_ephemeral": message["ephemeral"]},
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "channel": {"id": message["channel"], "name": CHANNELS[message["channel"]].name},
        "message": {"type": "message", "ts": message["ts"], "user": message["user"],
                    "text": message["text"], "blocks": message["blocks"]},
        "response_url": response_url,
        "actions": [{
            "action_id": action.get("action_id", ""), "block_id": block_id,
            "text": action.get("text", {}), "value": action.get("value", ""),
            "type": "button", "action_ts": f"{time.time():.6f}",
        }],
    }
    return "payload=" + quote(json.dumps(payload, separators=(",", ":")))


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def trigger_id() -> str:
    return f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}"


class Composer:
    def __init__(self, workspace: SlackWorkspace, *, app_url: str, signing_secret: str,
                 commands: dict[str, bool] | None = None):
        self.workspace = workspace
        self.app_url = app_url.rstrip("/")
        self.signing_secret = signing_secret
        self.commands = manifest_commands() if commands is None else commands
        self._http = requests.Session()
        self._http.trust_env = False  # loopback only: never through a proxy

    def response_url(self, key: str) -> str:
        return f"{self.app_url}/sandbox/slack/commands/{TEAM_ID}/{key}"

    def type(self, text: str, channel_id: str) -> None:
        """What happens when the console user sends `text` in `channel_id`."""
        text = text.strip()
        if not text.startswith("/"):
            self.workspace.post(channel_id, CONSOLE_USER, escape_text(text, True))
            return
        command, _, rest = text.partition(" ")
        if self.commands and command not in self.commands:
            self._slackbot(channel_id, f"`{command}` is not a valid command. In Slack, all messages that start "
                                       "with the \"/\" character are interpreted as commands.")
            return
        key = self.workspace.new_response_url(channel_id, CONSOLE_USER)
        body = command_body(command, escape_text(rest.strip(), self.commands.get(command, False)),
                            channel_id=channel_id, user_id=CONSOLE_USER,
                            response_url=self.response_url(key), trigger_id=trigger_id())
        self._deliver(body, channel_id, command, show_reply=True)

    def click(self, channel_id: str, ts: str, action_id: str) -> bool:
        """The console user clicks a button; False if there is no such button."""
        message = next((m for m in self.workspace.messages() if m["channel"] == channel_id and m["ts"] == ts), None)
        found = _find_button(message["blocks"], action_id) if message and channel_id in CHANNELS else None
        if found is None:
            return False
        action, block_id = found
        key = self.workspace.new_response_url(channel_id, CONSOLE_USER, original_ts=ts)
        body = block_actions_body(message, action, block_id, user_id=CONSOLE_USER,
                                  response_url=self.response_url(key), trigger_id=trigger_id())
        self._deliver(body, channel_id, "the button", show_reply=False)
        return True

    # -- modals, the message shortcut and the Home tab ---------------------------------------

    def shortcut(self, channel_id: str, ts: str, callback_id: str) -> bool:
        """The console user picks a message shortcut on a message; False if there is no such message."""
        message = next((m for m in self.workspace.messages() if m["channel"] == channel_id and m["ts"] == ts), None)
        if message is None or message["ephemeral"] or channel_id not in CHANNELS:  # not in the app's DMs
            return False
        key = self.workspace.new_response_url(channel_id, CONSOLE_USER)
        user = USERS[CONSOLE_USER]
        payload = {
            "type": "message_action", "callback_id": callback_id, "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "channel": {"id": channel_id, "name": CHANNELS[channel_id].name},
            "user": {"id": user.id, "name": user.name}, "action_ts": f"{time.time():.6f}",
            "message_ts": ts, "message": {"type": "message", "ts": ts, "user": message["user"],
                                          "text": message["text"]},
            "response_url": self.response_url(key), "trigger_id": trigger_id(),
            "token": "sandbox-verification-token", "is_enterprise_install": False, "enterprise": None,
        }
        self._deliver("payload=" + quote(json.dumps(payload, separators=(",", ":"))), channel_id, "the shortcut",
                      show_reply=False)
        return True

    def submit_view(self, values: dict) -> dict:
        """Submit the open modal with `values` (Slack's state.values), as Slack does: {} when it closed,
        or {"errors": {block: text}} to show under the fields."""
        view = self.workspace.modal()
        if view is None:
            return {"errors": {}, "closed": True}
        user = USERS[CONSOLE_USER]
        payload = {
            "type": "view_submission", "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
            "api_app_id": API_APP_ID, "token": "sandbox-verification-token", "trigger_id": trigger_id(),
            "view": view | {"state": {"values": values}, "team_id": TEAM_ID, "hash": "sandbox"},
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        body = "payload=" + quote(json.dumps(payload, separators=(",", ":")))
        try:
            reply = self._http.post(f"{self.app_url}/slack/events", data=body.encode(),
                                    headers=signed_headers(self.signing_secret, body), timeout=ACK_TIMEOUT)
        except requests.RequestException:
            return {"errors": {}, "problem": "the app did not answer the submission"}
        answer = reply.json() if reply.content.strip() and reply.headers.get(
            "Content-Type", "").startswith("application/json") else {}
        if reply.status_code == 200 and answer.get("response_action") == "errors":
            return {"errors": answer.get("errors") or {}}
        if reply.status_code != 200:
            return {"errors": {}, "problem": f"the app answered HTTP {reply.status_code}"}
        self.workspace.close_view()  # an empty 200: Slack closes the modal
        return {}

    def open_home(self) -> None:
        """The console user opens the app's Home tab: app_home_opened, as Slack sends it."""
        body = json.dumps({
            "token": "sandbox-verification-token", "team_id": TEAM_ID, "api_app_id": API_APP_ID,
            "type": "event_callback", "event_id": f"Ev{secrets.token_hex(5).upper()}", "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": CONSOLE_USER, "channel": "D0SANDBOXHOME", "tab": "home",
                      "event_ts": f"{time.time():.6f}"},
        })
        headers = signed_headers(self.signing_secret, body) | {"Content-Type": "application/json"}
        try:
            self._http.post(f"{self.app_url}/slack/events", data=body.encode(), headers=headers, timeout=ACK_TIMEOUT)
        except requests.RequestException:
            pass  # the tab stays as it was, as in Slack

    def click_home(self, action_id: str) -> bool:
        """A button in the console user's Home tab."""
        home = self.workspace.home(CONSOLE_USER)
        found = _find_button((home or {}).get("blocks"), action_id)
        if found is None:
            return False
        action, block_id = found
        user = USERS[CONSOLE_USER]
        payload = {
            "type": "block_actions", "user": {"id": user.id, "username": user.name, "name": user.name,
                                              "team_id": TEAM_ID},
            "api_app_id": API_APP_ID, "token": "sandbox-verification-token",
            "container": {"type": "view", "view_id": "VSANDBOXHOME"}, "trigger_id": trigger_id(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "view": {"id": "VSANDBOXHOME", "type": "home"},
            "actions": [{"action_id": action.get("action_id", ""), "block_id": block_id,
                         "text": action.get("text", {}), "value": action.get("value", ""), "type": "button",
                         "action_ts": f"{time.time():.6f}"}],
        }
        self._deliver("payload=" + quote(json.dumps(payload, separators=(",", ":"))), "C0SANDBOX", "the button",
                      show_reply=False)
        return True

    def _deliver(self, body: str, channel_id: str, what: str, *, show_reply: bool) -> None:
        try:
            reply = self._http.post(f"{self.app_url}/slack/events", data=body.encode(),
                                    headers=signed_headers(self.signing_secret, body), timeout=ACK_TIMEOUT)
        except requests.Timeout:
            return self._slackbot(channel_id, f"{what} failed with the error \"operation_timeout\"")
        except requests.RequestException:
            return self._slackbot(channel_id, f"{what} failed with the error \"dispatch_failed\"")
        if reply.status_code != 200:
            kind = "http_client_error" if reply.status_code < 500 else "http_service_error"
            return self._slackbot(channel_id, f"{what} failed with the error \"{kind}\"")
        if show_reply and reply.content.strip():
            self._show_ack(reply, channel_id)
        return None

    def _show_ack(self, reply: requests.Response, channel_id: str) -> None:
        # Bolt's ack: plain text, or JSON with text/blocks/response_type (slack.md §1.4).
        if reply.headers.get("Content-Type", "").startswith("application/json"):
            body = reply.json()
            visible = body.get("response_type") == "in_channel"
            self.workspace.post(channel_id, "U0VOICEBOT", body.get("text", ""), body.get("blocks"),
                                ephemeral=not visible)
        else:
            self.workspace.post(channel_id, "U0VOICEBOT", reply.text, ephemeral=True)

    def _slackbot(self, channel_id: str, text: str) -> None:
        self.workspace.post(channel_id, SLACKBOT, text, ephemeral=True)


def _find_button(blocks: list, action_id: str) -> tuple[dict, str] | None:
    for block in blocks or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return element, block.get("block_id", "")
    return None
