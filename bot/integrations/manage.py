"""What `/voicealert integrations …` does, answered in the command's own acknowledgement.

Like every listener, it only records: one transaction, then the answer, all within Slack's three
seconds. The answer is ephemeral (only the person who typed it sees it), and it is the one place a new
token ever appears: it is made here (`secrets.token_urlsafe`), only its SHA-256 is stored, and it is
neither logged nor queued as work, so no table, log line or channel message holds it.

Who may manage integrations is who may raise alerts (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS). An
integration added in Slack belongs to the workspace it was added in: another workspace neither sees nor
changes it. One defined in ROUTING_FILE is listed in every workspace and changed only in the file.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Callable

from sqlalchemy.exc import IntegrityError

from bot.app import Access, requester_of
from bot.integrations.commands import (
    Adding,
    Listing,
    Removing,
    Rotating,
    parse_integrations,
)
from bot.integrations.messages import (
    MANAGE,
    Endpoints,
    ephemeral,
    failure_reply,
    file_defined_reply,
    file_name_reply,
    listing_reply,
    no_channel_reply,
    not_callable_reply,
    removed_reply,
    taken_reply,
    token_reply,
    unknown_reply,
    usage_reply,
)
from bot.messages import CommandError, HelpRequest
from voice.calls.numbers import PhoneNumber, display_number, parse_phone_number
from voice.incidents.integrations import IntegrationStore
from voice.incidents.models import FILE, Integration
from voice.intake.credentials import token_digest
from voice.routing.models import NUMBER
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Records a refusal (who, where, which number, what kind, why), as /voicealert's listener does.
RecordRefusal = Callable[..., None]


def new_token() -> str:
    """256 random bits, URL-safe: fits a header, a query string and a YAML file unquoted."""
    return secrets.token_urlsafe(32)


class IntegrationCommands:
    def __init__(self, store: IntegrationStore, *, public_url: str, access: Access = Access(),
                 record_refusal: RecordRefusal = lambda **refusal: None,
                 refusal_for: Callable[[PhoneNumber], str | None] = lambda number: None,
                 clock: Callable[[], datetime]):
        self.store = store
        self.endpoints = Endpoints.under(public_url)
        self.access = access
        self.record_refusal = record_refusal
        self.refusal_for = refusal_for
        self.clock = clock

    def answer(self, command: dict) -> dict:
        """The acknowledgement's fields (text, blocks, response_type) for a `/voicealert integrations …`."""
        request = parse_integrations(command.get("text", ""))
        if isinstance(request, HelpRequest):
            return ephemeral(usage_reply())
        requester = requester_of(command)
        if denied := self.access.refusal(requester.user_id, requester.channel_id, MANAGE):
            kind, reply = denied
            self.record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
            return ephemeral(reply)
        if isinstance(request, CommandError):
            return ephemeral(usage_reply(request.problem))
        try:
            if isinstance(request, Listing):
                return listing_reply(self.store.listed(requester.team_id))
            if isinstance(request, Adding):
                return self._add(request, command)
            if isinstance(request, Rotating):
                return self._rotate(request.name, requester.team_id, requester.user_id)
            return self._remove(request, requester.team_id, requester.user_id)
        except Exception:
            log.exception("managing an integration failed")
            return failure_reply()

    def _add(self, request: Adding, command: dict) -> dict:
        requester = requester_of(command)
        if _no_channel(command):
            return no_channel_reply()
        if refused := self._numbers_refused(request):
            return not_callable_reply(refused)
        found = self.store.named(request.name)
        if found is not None:
            return self._taken(found, requester.team_id)
        token = new_token()
        try:
            with transaction(self.store.engine) as conn:
                added = self.store.add(conn, name=request.name, team_id=requester.team_id,
                                       channel_id=requester.channel_id, stages=request.chain.stages,
                                       lang=request.chain.lang, token_sha256=token_digest(token),
                                       created_by=requester.user_id, now=self.clock())
        except IntegrityError:
            added = False  # the same name added at the same moment from elsewhere
        if not added:
            found = self.store.named(request.name)
            return self._taken(found, requester.team_id) if found else failure_reply()
        log.info("integration %s added from Slack by %s in %s (workspace %s)", request.name, requester.user_id,
                 requester.channel_id, requester.team_id or "(none)")
        return token_reply(self.store.named(request.name), token, self.endpoints, rotated=False)

    def _rotate(self, name: str, team_id: str, user_id: str) -> dict:
        found = self._ours(name, team_id)
        if not isinstance(found, Integration):
            return found
        token = new_token()
        with transaction(self.store.engine) as conn:
            rotated = self.store.rotate(conn, name, token_digest(token))
        if not rotated:  # removed meanwhile, or the file took the name since
            return self._gone(name, team_id)
        log.info("integration %s: token rotated from Slack by %s", name, user_id)
        return token_reply(found, token, self.endpoints, rotated=True)

    def _remove(self, request: Removing, team_id: str, user_id: str) -> dict:
        found = self._ours(request.name, team_id)
        if not isinstance(found, Integration):
            return found
        with transaction(self.store.engine) as conn:
            removed = self.store.remove(conn, request.name)
        if not removed:
            return self._gone(request.name, team_id)
        log.info("integration %s removed from Slack by %s", request.name, user_id)
        return removed_reply(found)

    def _ours(self, name: str, team_id: str) -> Integration | dict:
        """The workspace's Slack-defined integration of that name, or the answer saying why not."""
        found = self.store.named(name)
        if found is not None and found.defined_in == FILE:
            return file_defined_reply(name)
        if found is None or found.team_id != team_id:
            return unknown_reply(name)  # another workspace's: not even said to exist
        return found

    def _gone(self, name: str, team_id: str) -> dict:
        found = self._ours(name, team_id)
        return found if isinstance(found, dict) else failure_reply()

    def _taken(self, found: Integration, team_id: str) -> dict:
        if found.defined_in == FILE:
            return file_name_reply(found.name)
        return taken_reply(found.name, found if found.team_id == team_id else None)

    def _numbers_refused(self, request: Adding) -> list[tuple[str, str]]:
        """Numbers among the recipients that no call may go to (ALLOWED_COUNTRIES and the like), with why."""
        refused = []
        for stage in request.chain.stages:
            for ref in stage:
                if ref.kind == NUMBER and (reason := self.refusal_for(parse_phone_number(ref.value))):
                    refused.append((display_number(ref.value), reason))
        return refused


def _no_channel(command: dict) -> bool:
    """A direct message or a group DM: no channel the app can post an integration's alerts in."""
    name = command.get("channel_name") or ""
    return command.get("channel_id", "").startswith("D") or name == "directmessage" or name.startswith("mpdm-")
