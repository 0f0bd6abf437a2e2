"""A click on one of our messages' buttons (an alert's, a hotline call's), read from Slack's payload and guarded
one way: who may act (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS, as for the commands), on what of their own
workspace; and a button that phones whoever clicked it, which only records (a worker looks their number up)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from bot.app import Access
from bot.delivery import NOTICE, notice_payload
from bot.messages import CALL, Act, other_workspace_reply
from voice.calls.models import Requester
from voice.queue.work import WorkQueue
from voice.store.db import transaction

log = logging.getLogger(__name__)

_ID = re.compile(r"[0-9]{1,12}")

#: Records a refusal (who, where, which number, what kind, why), like OtpService.refuse.
RecordRefusal = Callable[..., None]


@dataclass(frozen=True)
class Click:
    """A click on one of our messages' buttons (an alert's, a hotline call's), as Slack says it."""

    subject: int  # the id of what the button acts on: the alert, the hotline call
    user_id: str
    name: str  # the clicker as the click names them
    team_id: str  # the clicker's workspace
    channel_id: str  # where the message with the button is
    reply_url: str | None  # the click's response_url: what only the clicker sees

    @property
    def requester(self) -> Requester:
        return Requester(self.user_id, self.channel_id, self.team_id)


class ClickGuard:
    """Whether a click may act: the clicker may do it (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS, as for the
    command), and what it acts on (`workspace_of` its id) is of the clicker's workspace. A refused click changes
    nothing; the clicker, and only they, is told why (ephemeral, through the click's response_url), and the
    refusal is recorded. `what` names it in that reply: "alert", "call"."""

    def __init__(self, workspace_of: Callable[[int], str | None], queue: WorkQueue, access: Access,
                 record_refusal: RecordRefusal, *, what: str = "alert"):
        self.workspace_of = workspace_of
        self.queue = queue
        self.access = access
        self.record_refusal = record_refusal
        self.what = what

    def allows(self, click: Click, act: Act) -> bool:
        refused = self.access.refusal(click.user_id, click.channel_id, act) or self._other_workspace(click, act)
        if refused is None:
            return True
        kind, reply = refused
        self.record_refusal(source="slack", requester=click.requester, number=None, kind=kind, reason=reply)
        with transaction(self.queue.engine) as conn:
            self.queue.enqueue(conn, NOTICE, str(click.subject), payload=notice_payload(
                reply, reply_url=click.reply_url, ephemeral=True, team=click.team_id))
        return False

    def _other_workspace(self, click: Click, act: Act) -> tuple[str, str] | None:
        workspace = self.workspace_of(click.subject)
        # What is gone is said as such by whoever acts on it. ROUTING_FILE's integrations and hotlines name no
        # workspace (""): theirs is the one the app posts their messages in, whoever clicks there.
        if workspace is None or workspace in ("", click.team_id):
            return None
        log.warning("refused a click from workspace %s on %s %s of workspace %s", click.team_id or "(none)",
                    self.what, click.subject, workspace or "(none)")
        return "other_workspace", other_workspace_reply(act, self.what)


def phone_clicker(queue: WorkQueue, guard: ClickGuard, kind: str):
    """A button that phones whoever clicked it (Join the call, a hotline's Call back): who may place calls may
    be phoned; told, only them, if not. The work `kind` ("<id>:<user id>") looks their number up and calls."""
    def on_click(ack, body) -> None:
        ack()
        click = click_of(body)
        if click is None or not guard.allows(click, CALL):
            return
        with transaction(queue.engine) as conn:
            queue.enqueue(conn, kind, f"{click.subject}:{click.user_id}", payload={
                "reply_url": click.reply_url, "team": click.team_id})

    return on_click


def click_of(body: dict) -> Click | None:
    """The click on one of our buttons, or None when the payload is not one."""
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    # Our buttons carry an id (an alert's, a hotline call's); anything else (" 7\n", "7_0", "٧") is not ours.
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    user = body.get("user") or {}
    return Click(subject=int(value), user_id=user.get("id", ""),
                 name=user.get("name") or user.get("username") or "someone in Slack",
                 team_id=(body.get("team") or {}).get("id") or user.get("team_id") or "",
                 channel_id=(body.get("channel") or {}).get("id", ""), reply_url=body.get("response_url"))
