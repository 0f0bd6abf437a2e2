"""Loopback fake of the Slack Web API and command ``response_url``s, for tests.

slack_sdk talks HTTP through urllib, which mocking libraries such as
``responses`` cannot intercept, so this fake is a real HTTP server on
127.0.0.1 speaking Slack's wire format. Point ``WebClient(base_url=fake.base_url)``
and ``WebhookClient(fake.response_url())`` at it and inspect what arrived.
Standard library only, so it works in any test environment.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from tests.fakes.slack_checks import message_problems, view_problems

AUTH_TEST = {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "voicebot",
             "team_id": "T0001", "user_id": "UBOT", "bot_id": "BBOT"}
SCOPES = "commands,chat:write,chat:write.public"
RESPONSE_URL_MAX_USES = 5  # Slack's documented limit per response_url
COMMANDS_PREFIX = "/commands/T0001/"


@dataclass
class RecordedRequest:
    method_or_path: str  # Web API method ("chat.update") or URL path for response_urls
    headers: dict[str, str]  # keys lower-cased
    body_dict: dict[str, Any]
    raw_body: bytes
    received_at: float = field(default_factory=time.monotonic)  # for pacing checks


@dataclass
class Message:
    ts: str
    channel: str
    text: str | None
    blocks: list | None
    versions: list[tuple[str | None, list | None]] = field(default_factory=list)  # older states, oldest first
    thread_ts: str | None = None  # set on a reply in a thread


@dataclass
class Gate:
    arrived: threading.Event  # a held call came in
    opened: threading.Event  # set: held calls go on (and later ones pass)


def _parse_body(raw: bytes) -> dict[str, Any]:
    """slack_sdk sends JSON for chat.* but form-encoded params for other calls."""
    text = raw.decode("utf-8").strip()
    if not text:
        return {}
    if text.startswith("{"):
        return json.loads(text)
    body: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text).items()}
    for key in ("blocks", "attachments"):  # form-encoded calls carry these as JSON strings
        if isinstance(body.get(key), str) and body[key].startswith("["):
            body[key] = json.loads(body[key])
    return body


class FakeSlackApi:
    def __init__(self, bot_token: str = "xoxb-test-token") -> None:
        self.bot_token = bot_token
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.reset()

    # ---- lifecycle -------------------------------------------------------
    def start(self) -> "FakeSlackApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802 slack_sdk reads users.* and usergroups.* with GET
                fake._handle(self)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a hung request must not block interpreter exit
        port = self._server.server_address[1]
        self._root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self._root}/api/"
        # Short poll interval: shutdown() waits up to one interval, which adds up across many tests.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="FakeSlackApi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    __enter__ = start

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def response_url(self, name: str = "default") -> str:
        return f"{self._root}{COMMANDS_PREFIX}{name}"

    # ---- configuration ---------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._messages: dict[str, list[Message]] = {}
            self._ts_counter = 0
            self._failing_channels: dict[str, str] = {}
            self._failing_methods: dict[str, str] = {}
            # method -> (status, Retry-After), or None for a call answered as usual
            self._http_failures: dict[str, list[tuple[int, str | None] | None]] = {}
            self._outage: int | None = None  # every Web API method answers this HTTP status…
            self._outage_methods: frozenset[str] = frozenset()  # …or only these
            self._delay = 0.0
            self._holds: dict[str, Gate] = {}  # method -> the gate its calls wait at
            self._responses: dict[str, list[dict]] = {}  # accepted response_url payloads
            self._rejected: dict[str, list[dict]] = {}  # payloads refused after the 5-use limit
            self._response_messages: dict[str, list[dict]] = {}  # what the user would see
            self._users: dict[str, dict] = {}  # users.info's "user" objects
            self._usergroups: dict[str, list[str]] = {}
            # What Slack would refuse or show wrongly in what the app sent: (where, problem).
            self._problems: list[tuple[str, str]] = []
            # Bot tokens Slack knows, each with its workspace's auth.test answer.
            self._tokens: dict[str, dict] = {self.bot_token: dict(AUTH_TEST)}
            self._oauth_client: tuple[str, str] | None = None  # (client ID, secret) oauth.v2.access accepts
            self._oauth_codes: dict[str, dict] = {}  # authorization code -> the grant it is exchanged for

    def add_workspace(self, team_id: str, bot_token: str, name: str = "") -> None:
        """Another workspace with the app installed: its bot token works, and auth.test names it."""
        with self._lock:
            self._tokens[bot_token] = dict(AUTH_TEST, team_id=team_id, team=name or team_id,
                                           bot_id=f"B{team_id}", user_id=f"U{team_id}BOT")

    def accept_oauth(self, client_id: str, client_secret: str) -> None:
        """The app's credentials, which oauth.v2.access checks (HTTP Basic, as slack_sdk sends them)."""
        with self._lock:
            self._oauth_client = (client_id, client_secret)

    def grant(self, code: str, *, team_id: str, bot_token: str, installer: str = "UINSTALLER",
              team_name: str = "") -> None:
        """An authorization code Slack gave an installer; oauth.v2.access exchanges it once."""
        with self._lock:
            self._oauth_codes[code] = {
                "ok": True, "app_id": "A0VOICE", "authed_user": {"id": installer}, "token_type": "bot",
                "scope": "commands,chat:write,chat:write.public,users:read,usergroups:read,usergroups:write",
                "access_token": bot_token, "bot_user_id": f"U{team_id}BOT",
                "team": {"id": team_id, "name": team_name or team_id}, "enterprise": None,
                "is_enterprise_install": False,
            }

    def tokens_used(self, method: str) -> list[str]:
        """The bot token each call of `method` carried, in order."""
        return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in self.requests
                if r.method_or_path == method]

    def fail_channel(self, channel_id: str, error: str = "not_in_channel") -> None:
        with self._lock:
            self._failing_channels[channel_id] = error

    def fail_method(self, method: str, error: str) -> None:
        with self._lock:
            self._failing_methods[method] = error

    def fail_http(self, method: str, status: int, times: int = 1, retry_after: str | None = None,
                  after: int = 0) -> None:
        """Answer the next `times` calls of `method` (once `after` more have been answered as usual) with
        HTTP `status` (429 with `Retry-After`, 500…), doing nothing, as Slack does when it limits or
        fails a call."""
        with self._lock:
            self._http_failures.setdefault(method, []).extend([None] * after + [(status, retry_after)] * times)

    def failures_left(self) -> int:
        """How many of the failures set by fail_http have not been met yet."""
        with self._lock:
            return sum(1 for left in self._http_failures.values() for failure in left if failure)

    def outage(self, status: int | None = 503, *methods: str) -> None:
        """Every Web API method (or those named) answers HTTP `status` until outage(None): Slack's API
        is down."""
        with self._lock:
            self._outage = status
            self._outage_methods = frozenset(methods)

    def add_user(self, user_id: str, name: str, phone: str = "", *, deleted: bool = False,
                 is_bot: bool = False, locale: str = "en-US", tz: str = "America/Los_Angeles") -> None:
        """A workspace member as users.info describes them; `phone` is the profile's free text,
        `locale` their Slack language (sent only when asked for with include_locale, as Slack does),
        `tz` their time zone (IANA, as Slack sends it on every user)."""
        with self._lock:
            self._users[user_id] = {
                "id": user_id, "team_id": "T0001", "name": name.lower().replace(" ", "."), "deleted": deleted,
                "real_name": name, "is_bot": is_bot, "locale": locale, "tz": tz,
                "profile": {"real_name": name, "display_name": name.split()[0], "phone": phone},
            }

    def add_usergroup(self, group_id: str, members: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(members)

    def usergroup(self, group_id: str) -> list[str] | None:
        """A user group's members as Slack holds them now."""
        with self._lock:
            members = self._usergroups.get(group_id)
            return list(members) if members is not None else None

    def deactivate(self, user_id: str, deleted: bool = True) -> None:
        with self._lock:
            self._users[user_id]["deleted"] = deleted

    def hold(self, method: str) -> "Gate":
        """Hold every call of `method` once it has arrived, before Slack acts on it, until the gate
        opens (a Slack slow to take a message; the app's request is in flight meanwhile)."""
        with self._lock:
            gate = self._holds[method] = Gate(threading.Event(), threading.Event())
        return gate

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    # ---- inspection ------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def problems(self) -> list[tuple[str, str]]:
        """Every Block Kit or mrkdwn problem in a message the app sent (see slack_checks)."""
        with self._lock:
            return list(self._problems)

    def calls(self, method: str) -> list[dict]:
        with self._lock:
            return [r.body_dict for r in self._requests if r.method_or_path == method]

    def messages(self, channel: str) -> list[Message]:
        """Messages in the channel itself, not in threads."""
        # Copies, so callers never observe a half-applied update from a server thread.
        with self._lock:
            return [replace(m, versions=list(m.versions)) for m in self._messages.get(channel, [])
                    if m.thread_ts is None]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        with self._lock:
            return [replace(m) for m in self._messages.get(channel, []) if m.thread_ts == thread_ts]

    def responses_to(self, response_url: str) -> list[dict]:
        with self._lock:
            return list(self._responses.get(urlparse(response_url).path, []))

    def rejected_responses_to(self, response_url: str) -> list[dict]:
        with self._lock:
            return list(self._rejected.get(urlparse(response_url).path, []))

    def response_messages(self, response_url: str) -> list[dict]:
        """Messages currently shown for a response_url, after replace_original/delete_original."""
        with self._lock:
            return list(self._response_messages.get(urlparse(response_url).path, []))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        # The app under test answers Slack asynchronously, so tests must poll.
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                seen = [r.method_or_path for r in self.requests]
                raise AssertionError(f"wait_for({getattr(predicate, '__name__', predicate)!r}) still falsy "
                                     f"after {timeout}s (last value {value!r}); requests seen: {seen}")
            time.sleep(0.02)

    def wait_for_message(self, channel: str, predicate_on_message: Callable[[Message], Any],
                         timeout: float = 5.0) -> Message:
        def matching_message() -> Message | None:
            return next((m for m in self.messages(channel) if predicate_on_message(m)), None)
        try:
            return self.wait_for(matching_message, timeout)
        except AssertionError:
            texts = [m.text for m in self.messages(channel)]
            raise AssertionError(f"no message in {channel!r} matched within {timeout}s; texts: {texts}") from None

    # ---- HTTP handling ---------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        url = urlparse(h.path)
        path = url.path
        headers = {k.lower(): v for k, v in h.headers.items()}
        try:
            body = _parse_body(raw or url.query.encode())
        except (ValueError, UnicodeDecodeError):
            body = {}
        time.sleep(self._delay)  # simulate a slow Slack; float read is atomic, no lock needed
        if path.startswith("/api/"):
            method = path[len("/api/"):]
            gate = self._holds.get(method)
            if gate is not None:
                gate.arrived.set()
                gate.opened.wait(30)
            with self._lock:
                self._requests.append(RecordedRequest(method, headers, body, raw))
                failures = self._http_failures.get(method)
                failure = failures.pop(0) if failures else None
                if self._outage is not None and (not self._outage_methods or method in self._outage_methods):
                    failure = (self._outage, None)
                payload = None if failure else self._web_api(method, body, headers.get("authorization", ""))
            if failure:
                status, retry_after = failure
                error = {"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"}
                extra = {"Retry-After": retry_after} if retry_after is not None else {}
                return self._reply(h, status, json.dumps(error).encode(), "application/json; charset=utf-8", extra)
            # Real Slack sends the token's scopes on every authenticated reply, not just auth.test.
            extra = {"x-oauth-scopes": SCOPES} if payload.get("ok") else {}
            self._reply(h, 200, json.dumps(payload).encode(), "application/json; charset=utf-8", extra)
        elif path.startswith(COMMANDS_PREFIX):
            with self._lock:
                self._requests.append(RecordedRequest(path, headers, body, raw))
                status, text = self._response_url(path, body)
            self._reply(h, status, text.encode(), "text/html", {})
        else:
            self._reply(h, 404, b"not found", "text/plain", {})

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str, extra: dict) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _web_api(self, method: str, body: dict, authorization: str) -> dict:
        """Called with the lock held. Slack reports errors as HTTP 200 with ok:false."""
        if method == "oauth.v2.access":
            return self._oauth_access(body, authorization)
        token = authorization.removeprefix("Bearer ")
        if method.startswith("functions.") and token.startswith("xwfp-"):
            return {"ok": True}  # a workflow step's own token completes it
        if not authorization.startswith("Bearer ") or token not in self._tokens:
            return {"ok": False, "error": "invalid_auth"}
        if method in self._failing_methods:
            return {"ok": False, "error": self._failing_methods[method]}
        if method == "auth.test":
            return dict(self._tokens[token])
        if method == "auth.revoke":  # https://docs.slack.dev/reference/methods/auth.revoke
            if str(body.get("test")).lower() not in ("true", "1"):
                del self._tokens[token]
            return {"ok": True, "revoked": True}
        if method == "users.info":
            user = self._users.get(body.get("user"))
            if not user:
                return {"ok": False, "error": "user_not_found"}
            user = json.loads(json.dumps(user))
            if str(body.get("include_locale")).lower() not in ("true", "1"):
                user.pop("locale", None)
            return {"ok": True, "user": user}
        if method.startswith("views."):  # open, update, push, publish: a view Slack would refuse is recorded
            view = body.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            self._problems += [(method, problem) for problem in view_problems(view)]
        if method == "views.open":
            view = body.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if not body.get("trigger_id") or not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            self._view_counter = getattr(self, "_view_counter", 0) + 1
            return {"ok": True, "view": view | {"id": f"V{self._view_counter:08d}", "hash": f"h{self._view_counter}"}}
        if method == "views.update":
            return {"ok": True} if body.get("view_id") else {"ok": False, "error": "not_found"}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": [{"id": group_id, "handle": group_id.lower(), "name": group_id}
                                               for group_id in self._usergroups]}
        if method == "usergroups.users.list":
            members = self._usergroups.get(body.get("usergroup"))
            return {"ok": True, "users": list(members)} if members is not None else \
                {"ok": False, "error": "no_such_subteam"}
        if method == "usergroups.users.update":  # https://docs.slack.dev/reference/methods/usergroups.users.update
            group, users = body.get("usergroup"), [user for user in str(body.get("users") or "").split(",") if user]
            if group not in self._usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            if not users:
                return {"ok": False, "error": "no_users_provided"}
            if any(user not in self._users or self._users[user]["deleted"] for user in users):
                return {"ok": False, "error": "invalid_users"}
            self._usergroups[group] = users
            return {"ok": True, "usergroup": {"id": group, "users": users}}
        if method not in ("chat.postMessage", "chat.update"):
            return {"ok": True}
        self._problems += [(method, problem) for problem in message_problems(body)]
        channel = body.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._failing_channels:
            return {"ok": False, "error": self._failing_channels[channel]}
        if method == "chat.postMessage":
            self._ts_counter += 1
            micros = 1_700_000_000_000_000 + self._ts_counter * 100  # unique, increasing, Slack-shaped
            ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
            msg = Message(ts, channel, body.get("text"), body.get("blocks"), thread_ts=body.get("thread_ts"))
            self._messages.setdefault(channel, []).append(msg)
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": msg.text, "blocks": msg.blocks, "ts": ts, "bot_id": "BBOT", "type": "message"}}
        msg = next((m for m in self._messages.get(channel, []) if m.ts == body.get("ts")), None)
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        msg.versions.append((msg.text, msg.blocks))
        msg.text = body.get("text", msg.text)
        msg.blocks = body.get("blocks", msg.blocks)  # omitted blocks are left untouched, as in Slack
        return {"ok": True, "channel": channel, "ts": msg.ts, "text": msg.text}

    def _oauth_access(self, body: dict, authorization: str) -> dict:
        """oauth.v2.access: the app's credentials (Basic auth or form fields) and a code, used once."""
        import base64

        credentials = None
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            credentials = (client_id, secret)
        elif body.get("client_id"):
            credentials = (body.get("client_id"), body.get("client_secret"))
        if self._oauth_client is None or credentials != self._oauth_client:
            return {"ok": False, "error": "invalid_client_id"}
        grant = self._oauth_codes.pop(body.get("code", ""), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team = grant["team"]
        self._tokens[grant["access_token"]] = dict(AUTH_TEST, team_id=team["id"], team=team["name"],
                                                   bot_id=f"B{team['id']}", user_id=grant["bot_user_id"])
        return grant

    def _response_url(self, path: str, body: dict) -> tuple[int, str]:
        """Called with the lock held."""
        self._problems += [(path, problem) for problem in message_problems(body)]
        accepted = self._responses.setdefault(path, [])
        if len(accepted) >= RESPONSE_URL_MAX_USES:
            self._rejected.setdefault(path, []).append(body)
            return 404, "used_url"
        accepted.append(body)
        shown = self._response_messages.setdefault(path, [])
        if body.get("delete_original"):
            if shown:
                shown.pop()
        elif body.get("replace_original") and shown:
            shown[-1] = body
        else:
            shown.append(body)
        return 200, "ok"
