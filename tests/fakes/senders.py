"""Requests built and signed exactly as Slack and Plivo build them.

Each builder returns a `Signed` request (path, body, headers) that a test
sends either through Flask's test client or over real HTTP to a server
process, so both kinds of test speak the same wire format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from answer_server.plivo.signature import compute_signature


@dataclass(frozen=True)
class Signed:
    path: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class SlackSender:
    """Slash commands as Slack sends them: form-encoded, in Slack's field order, signed v0."""

    def __init__(self, signing_secret: str, response_url: str = "https://hooks.slack.com/commands/T0001/1/x"):
        self.signing_secret = signing_secret
        self.response_url = response_url

    def command(
        self,
        text: str,
        *,
        command: str = "/voiceotp",
        user_id: str = "U0ANA",
        channel_id: str = "C0OPS",
        response_url: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
        team_id: str = "T0001",
    ) -> Signed:
        body = urlencode(
            [
                ("token", "deprecated-verification-token"),
                ("team_id", team_id),
                ("team_domain", "example"),
                ("channel_id", channel_id),
                ("channel_name", "ops"),
                ("user_id", user_id),
                ("user_name", "ana"),
                ("command", command),
                ("text", text),
                ("api_app_id", "A0VOICE"),
                ("is_enterprise_install", "false"),
                ("response_url", response_url or self.response_url),
                ("trigger_id", trigger_id or f"{secrets.randbelow(10**12)}.1.{uuid.uuid4().hex}"),
            ]
        )
        return self.sign("/slack/events", body, timestamp)

    def action(
        self,
        action_id: str,
        value: str,
        *,
        message: dict,
        block_id: str = "actions",
        user_id: str = "U0BOB",
        username: str = "bob",
        channel_id: str = "C0OPS",
        response_url: str = "https://hooks.slack.com/actions/T0001/2/y",
        timestamp: int | None = None,
        team_id: str = "T0001",
    ) -> Signed:
        """A button click (`block_actions`) as Slack sends it: `payload=<urlencoded JSON>`, signed v0.

        `message` is the message that carries the button, as Slack shows it (ts, text, blocks).
        """
        now = time.time()
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": username, "name": username, "team_id": team_id},
            "api_app_id": "A0VOICE",
            "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": f"{secrets.randbelow(10**12)}.1.{uuid.uuid4().hex}",
            "team": {"id": team_id, "domain": "example"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "ops"},
            "message": {"type": "message", "user": "UBOT", "bot_id": "BBOT"} | message,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [{
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{now:.6f}",
            }],
        }
        return self.sign("/slack/events", urlencode({"payload": json.dumps(payload)}), timestamp)

    def view_submission(self, view: dict, values: dict, *, user_id: str = "U0ANA", username: str = "ana",
                        team_id: str = "T0001", view_id: str = "V0FORM1", timestamp: int | None = None) -> Signed:
        """A modal submitted (`view_submission`): the view as Slack holds it, with the state's values."""
        payload = {
            "type": "view_submission", "team": {"id": team_id, "domain": "example"},
            "user": {"id": user_id, "username": username, "name": username, "team_id": team_id},
            "api_app_id": "A0VOICE", "token": "deprecated-verification-token",
            "trigger_id": f"{secrets.randbelow(10**12)}.1.{uuid.uuid4().hex}",
            "view": view | {"id": view_id, "team_id": team_id, "state": {"values": values}, "hash": "h1",
                            "app_id": "A0VOICE", "bot_id": "BBOT"},
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        return self.sign("/slack/events", urlencode({"payload": json.dumps(payload)}), timestamp)

    def message_shortcut(self, callback_id: str, message: dict, *, user_id: str = "U0ANA", channel_id: str = "C0OPS",
                         response_url: str = "https://hooks.slack.com/app/T0001/3/z", team_id: str = "T0001",
                         timestamp: int | None = None) -> Signed:
        """A message shortcut (`message_action`) as Slack sends it."""
        payload = {
            "type": "message_action", "callback_id": callback_id, "team": {"id": team_id, "domain": "example"},
            "channel": {"id": channel_id, "name": "ops"}, "user": {"id": user_id, "name": "ana"},
            "action_ts": f"{time.time():.6f}", "message_ts": message["ts"], "message": message,
            "response_url": response_url, "trigger_id": f"{secrets.randbelow(10**12)}.1.{uuid.uuid4().hex}",
            "token": "deprecated-verification-token", "is_enterprise_install": False, "enterprise": None,
        }
        return self.sign("/slack/events", urlencode({"payload": json.dumps(payload)}), timestamp)

    def event(self, event: dict, *, team_id: str = "T0001", timestamp: int | None = None) -> Signed:
        """An Events API delivery (`event_callback`) as Slack sends it: JSON, signed v0."""
        body = json.dumps({
            "token": "deprecated-verification-token", "team_id": team_id, "api_app_id": "A0VOICE",
            "event": event, "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": f"U{team_id}BOT",
                                "is_bot": True, "is_enterprise_install": False}],
        })
        return self.sign("/slack/events", body, timestamp, content_type="application/json")

    def sign(self, path: str, body: str, timestamp: int | None = None, *,
             content_type: str = "application/x-www-form-urlencoded") -> Signed:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return Signed(
            path,
            body,
            {
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": f"v0={digest}",
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
        )


class PlivoSender:
    """Plivo's callbacks: POSTed form fields with X-Plivo-Signature-V3 over the public URL."""

    def __init__(self, auth_token: str, public_url: str, *, from_number: str = "14155550100"):
        self.auth_token = auth_token
        self.public_url = public_url.rstrip("/")
        self.from_number = from_number

    def answer(self, path: str, *, call_uuid: str, to: str, request_uuid: str = "") -> Signed:
        return self.post(path, self._standard(call_uuid, to, request_uuid, "in-progress") | {"Event": "StartApp"})

    def ring(self, path: str, *, call_uuid: str, to: str, request_uuid: str = "") -> Signed:
        return self.post(path, self._standard(call_uuid, to, request_uuid, "ringing") | {"Event": "Ring"})

    def hangup(
        self,
        path: str,
        *,
        call_uuid: str,
        to: str,
        status: str = "completed",
        duration: int = 21,
        cause_code: int = 4000,
        cause_name: str = "Normal Hangup",
        request_uuid: str = "",
        total_cost: str | None = None,
    ) -> Signed:
        fields = self._standard(call_uuid, to, request_uuid, status) | {
            "Event": "Hangup",
            "Duration": str(duration),
            "BillDuration": str(60 if duration else 0),
            "HangupCause": cause_name.upper().replace(" ", "_"),
            "HangupCauseCode": str(cause_code),
            "HangupCauseName": cause_name,
            "HangupSource": "Callee",
            "StartTime": "2026-11-29 10:00:00",
            "EndTime": "2026-11-29 10:00:30",
        }
        if total_cost is not None:
            fields["TotalCost"] = total_cost
        return self.post(path, fields)

    def machine(self, path: str, *, call_uuid: str, to: str, request_uuid: str = "",
                if_machine: str = "continue") -> Signed:
        """Asynchronous machine detection: an answering machine picked up."""
        fields = self._standard(call_uuid, to, request_uuid, "in-progress")
        fields = {key: fields[key] for key in ("From", "To", "RequestUUID", "ALegRequestUUID", "CallUUID",
                                               "Direction", "ALegUUID", "CallStatus")}
        return self.post(path, fields | {"Machine": "true", "IfMachine": if_machine, "Event": "MachineDetection"})

    def digits(self, path: str, *, call_uuid: str, to: str, digits: str, request_uuid: str = "") -> Signed:
        """GetDigits' action: the key pressed, with the standard fields."""
        return self.post(path, self._standard(call_uuid, to, request_uuid, "in-progress") | {"Digits": digits})

    def redirect(self, path: str, *, call_uuid: str, to: str, request_uuid: str = "") -> Signed:
        """A <Redirect> to our URL: the standard fields only."""
        return self.post(path, self._standard(call_uuid, to, request_uuid, "in-progress"))

    def conference(self, path: str, *, call_uuid: str, room: str, action: str, member_id: str = "1") -> Signed:
        """A <Conference callbackUrl> event: a member entered or left (ConferenceAction enter / exit)."""
        return self.post(path, {
            "ConferenceAction": action, "ConferenceName": room, "ConferenceUUID": f"conf-{room}",
            "ConferenceMemberID": member_id, "CallUUID": call_uuid, "Event": f"Conference{action.capitalize()}",
        })

    def post(self, path: str, fields: dict[str, str], *, auth_token: str | None = None) -> Signed:
        nonce = str(secrets.randbelow(10**20))
        url = self.public_url + path
        signature = compute_signature(auth_token or self.auth_token, "POST", url, fields, nonce)
        return Signed(
            path,
            urlencode(fields),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Plivo-Signature-V3": signature,
                "X-Plivo-Signature-Ma-V3": signature,
                "X-Plivo-Signature-V3-Nonce": nonce,
                "User-Agent": "PlivoHTTP/1.0",
            },
        )

    def _standard(self, call_uuid: str, to: str, request_uuid: str, status: str) -> dict[str, str]:
        # Plivo sends numbers without the +.
        return {
            "CallUUID": call_uuid,
            "ALegUUID": call_uuid,
            "RequestUUID": request_uuid or call_uuid,
            "ALegRequestUUID": request_uuid or call_uuid,
            "From": self.from_number,
            "To": to.lstrip("+"),
            "CallStatus": status,
            "Direction": "outbound",
            "BillRate": "0.0085",
            "ParentAuthID": "MAXXXXXXXXXXXXXXXXXX",
            "SessionStart": "2026-11-29 10:00:00.000000",
        }
