"""The sandbox's Slack workspace: its people, groups and channels, and every
message shown in the console (channel messages, ephemeral replies, response_url
posts, the app's direct messages). In memory and thread-safe; each change is
announced through `on_change`.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
BOT_USER_ID = "U0VOICEBOT"
BOT_ID = "B0VOICEBOT"
CONSOLE_USER = "U0SANDBOX"
SLACKBOT = "USLACKBOT"
RESPONSE_URL_MAX_USES = 5  # Slack's limit per response_url, within 30 minutes
RESPONSE_URL_LIFETIME = 30 * 60
#: Everyone's Slack time zone (users.info's `tz`): the workspace's numbers are San Francisco's.
TIME_ZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    phone: str = ""
    tz: str = TIME_ZONE


@dataclass(frozen=True)
class Group:
    id: str
    handle: str
    members: tuple[str, ...]  # at the start of a run; usergroups.users.update changes them (SlackWorkspace)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_private: bool
    bot_is_member: bool
    user: str | None = None  # a direct message's person (the app's DM with them); None for a channel


USERS = {u.id: u for u in (
    # The console's own number: the voice bridge calls whoever raised an alert (any number ending
    # in 0199 answers).
    User(CONSOLE_USER, "you", "You (the console)", "+1 415 555 0199"),
    User("U0ALICE", "alice", "Alice Archer", "+1 415 555 0101"),
    User("U0BOB", "bob", "Bob Baker", "(415) 555-0102"),  # no country code, on purpose
    User("U0CAROL", "carol", "Carol Chen"),
    User(BOT_USER_ID, "voicebridge", "VoiceBridge"),
    User(SLACKBOT, "slackbot", "Slackbot"),
)}
GROUPS = {g.id: g for g in (
    Group("S0ONCALL", "oncall", ("U0ALICE", "U0BOB")),
    # Kept equal to whoever the built-in schedule sandbox-oncall has on call (answer_server/sandbox/oncall.py).
    Group("S0SANDBOXONCALL", "sandbox-oncall", ()),
)}
CHANNELS = {c.id: c for c in (
    Channel("C0SANDBOX", "sandbox", is_private=False, bot_is_member=True),
    # The bot is not a member here, so chat.postMessage fails and the app falls back to response_url.
    Channel("G0PRIVATE", "private-sandbox", is_private=True, bot_is_member=False),
)}
#: The app's direct message with each person, by their user ID: chat.postMessage to a user ID posts there.
DIRECT = {u.id: Channel("D" + u.id[1:], u.name, is_private=True, bot_is_member=True, user=u.id)
          for u in USERS.values() if u.id not in (BOT_USER_ID, SLACKBOT)}


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list = field(default_factory=list)
    ephemeral: bool = False  # "Only visible to you"
    edited: int = 0  # how many times it was updated


@dataclass
class ResponseUrl:
    channel: str
    user: str
    created: float
    original_ts: str | None = None  # the message whose button made this URL
    last_ts: str | None = None  # the last message posted through it
    uses: int = 0


class SlackWorkspace:
    def __init__(self, on_change: Callable[[], None] = lambda: None):
        self._on_change = on_change
        self._lock = threading.RLock()
        self._messages: list[Message] = []
        self._response_urls: dict[str, ResponseUrl] = {}
        self._last_micros = 0
        self._modal: dict | None = None  # the console user's open modal: the view, with its id
        self._homes: dict[str, dict] = {}  # each user's published Home tab
        self._groups = {group.id: group.members for group in GROUPS.values()}

    # -- user groups ------------------------------------------------------------------

    def group_members(self, group_id: str) -> tuple[str, ...] | None:
        with self._lock:
            return self._groups.get(group_id)

    def set_group_members(self, group_id: str, members: tuple[str, ...]) -> None:
        with self._lock:
            self._groups[group_id] = tuple(members)
        self._on_change()

    def groups(self) -> dict[str, list[str]]:
        with self._lock:
            return {group_id: list(members) for group_id, members in self._groups.items()}

    # -- views (modals and the Home tab) --------------------------------------------

    def open_view(self, view: dict) -> dict:
        with self._lock:
            self._modal = dict(view) | {"id": "V" + secrets.token_hex(5).upper()}
            opened = dict(self._modal)
        self._on_change()
        return opened

    def update_view(self, view: dict) -> dict:
        with self._lock:
            self._modal = dict(view) | {"id": self._modal["id"]} if self._modal else None
            updated = dict(self._modal or {})
        self._on_change()
        return updated

    def close_view(self) -> None:
        with self._lock:
            self._modal = None
        self._on_change()

    def modal(self) -> dict | None:
        with self._lock:
            return dict(self._modal) if self._modal else None

    def publish_home(self, user: str, view: dict) -> None:
        with self._lock:
            self._homes[user] = dict(view)
        self._on_change()

    def home(self, user: str) -> dict | None:
        with self._lock:
            return self._homes.get(user)

    # -- messages ----------------------------------------------------------------

    def post(self, channel: str, user: str, text: str, blocks: list | None = None, *,
             ephemeral: bool = False) -> Message:
        with self._lock:
            message = Message(self._next_ts(), channel, user, text or "", list(blocks or []), ephemeral)
            self._messages.append(message)
        self._on_change()
        return message

    def update(self, channel: str, ts: str, text: str | None, blocks: list | None) -> Message | None:
        with self._lock:
            message = self.find(channel, ts)
            if message is None:
                return None
            if text is not None:
                message.text = text
            if blocks is not None:  # omitted blocks stay, as in Slack
                message.blocks = list(blocks)
            message.edited += 1
        self._on_change()
        return message

    def delete(self, channel: str, ts: str) -> None:
        with self._lock:
            self._messages = [m for m in self._messages if not (m.channel == channel and m.ts == ts)]
        self._on_change()

    def find(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def messages(self) -> list[dict]:
        with self._lock:
            return [asdict(m) for m in self._messages]

    # -- response_url ------------------------------------------------------------

    def new_response_url(self, channel: str, user: str, original_ts: str | None = None) -> str:
        """A fresh response_url id, as Slack makes one per command or button click."""
        key = f"{int(time.time())}/{secrets.token_urlsafe(18)}"
        with self._lock:
            self._response_urls[key] = ResponseUrl(channel, user, time.monotonic(), original_ts)
        return key

    def respond(self, key: str, payload: dict) -> tuple[int, str]:
        """A POST to a response_url: Slack's status and body."""
        with self._lock:
            url = self._response_urls.get(key)
            if url is None:
                return 404, "no_such_url"
            if time.monotonic() - url.created > RESPONSE_URL_LIFETIME:
                return 404, "expired_url"
            if url.uses >= RESPONSE_URL_MAX_USES:
                return 404, "used_url"
            url.uses += 1
            target = url.original_ts or url.last_ts
            if payload.get("delete_original") and target:
                self.delete(url.channel, target)
                return 200, "ok"
            if payload.get("replace_original") and target and self.find(url.channel, target):
                self.update(url.channel, target, payload.get("text", ""), payload.get("blocks") or [])
                return 200, "ok"
            visible = payload.get("response_type") == "in_channel"
            message = self.post(url.channel, BOT_USER_ID, payload.get("text", ""), payload.get("blocks"),
                                ephemeral=not visible)
            url.last_ts = message.ts
        return 200, "ok"

    def _next_ts(self) -> str:
        # Slack's ts: seconds.microseconds, unique and increasing within a channel.
        self._last_micros = max(self._last_micros + 1, int(time.time() * 1_000_000))
        return f"{self._last_micros // 1_000_000}.{self._last_micros % 1_000_000:06d}"


def channel_by_name_or_id(value: str) -> Channel | None:
    """A channel by its ID or name; a person's user ID, or their DM's ID, is the app's DM with them."""
    value = (value or "").lstrip("#")
    return CHANNELS.get(value) or next((c for c in CHANNELS.values() if c.name == value), None) or \
        DIRECT.get(value) or next((c for c in DIRECT.values() if c.id == value), None)


def user_json(user: User) -> dict:
    local = datetime.now(ZoneInfo(user.tz))  # tz_label and tz_offset as Slack gives them: as of now
    return {
        "id": user.id, "team_id": TEAM_ID, "name": user.name, "real_name": user.real_name,
        "is_bot": user.id in (BOT_USER_ID,), "deleted": False,
        "tz": user.tz, "tz_label": local.tzname(), "tz_offset": int(local.utcoffset().total_seconds()),
        "profile": {"real_name": user.real_name, "display_name": user.name, "phone": user.phone},
    }


def channel_json(channel: Channel) -> dict:
    if channel.user:
        return {"id": channel.id, "is_im": True, "user": channel.user, "is_member": True}
    return {"id": channel.id, "name": channel.name, "is_channel": not channel.is_private,
            "is_group": channel.is_private, "is_private": channel.is_private, "is_member": channel.bot_is_member}
