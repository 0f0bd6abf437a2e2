"""Every table, in one place: what the database holds, and why each column is there.

The schema changes only through the migrations in voice/store/migrations
(voice/store/migrate.py runs them); tests check that these tables and the
migrations agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


def _requester_columns(nullable: bool = False) -> list[Column]:
    """Who asked, and where to report: the same columns for voice-code calls and alerts."""
    return [
        Column("requester_id", String(32), nullable=nullable),
        Column("channel_id", String(32), nullable=nullable),
        Column("team_id", String(32), nullable=nullable, default=""),
        Column("reply_url", Text),  # Slack's response_url: a per-command webhook, 5 uses in 30 minutes
    ]


def _message_columns() -> list[Column]:
    """Where a status message lives: "chat" (channel + ts) or "reply_url", and its response_url uses."""
    return [
        Column("message_via", String(16)),
        Column("message_channel", String(32)),
        Column("message_ts", String(32)),
        Column("reply_uses", Integer, nullable=False, default=0),
        # What the message last showed (a digest): an update that would show the same is not sent.
        Column("message_digest", String(16)),
    ]


#: Every phone call placed: a voice code's call, or one call (leg) of an alert.
#: Its status only moves forward: queued → dialling → calling → ringing → answered → ended.
legs = Table(
    "legs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(64), nullable=False, unique=True),  # opaque: the only thing in callback URLs
    Column("purpose", String(8), nullable=False),  # "otp" or "alert"
    Column("to_number", String(20), nullable=False),  # E.164
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    # A voice-code call: who asked, the command it came from, its code.
    *_requester_columns(nullable=True),
    Column("request_id", String(128), unique=True),  # dedupes a command or API request delivered twice
    Column("code_id", String(64), index=True),  # the otp_codes row it reads
    Column("secret", String(96)),  # the code, sealed (voice/store/sealing.py), only while the call may need it
    Column("code_length", Integer, nullable=False, default=0),
    Column("language", String(8)),  # the `lang=` asked for, if any
    Column("code_read_at", DateTime(timezone=True)),
    *_message_columns(),
    # An alert's call: which alert, at which step of its plan, to whom.
    Column("alert_id", Integer, ForeignKey("alerts.id"), index=True),
    Column("position", Integer),  # round * stages + stage when it was placed
    Column("target", Integer),  # index into the alert's targets
    Column("stop_requested", Boolean, nullable=False, default=False),  # the alert was taken meanwhile
    Column("silences", Integer, nullable=False, default=0),  # menus in a row without a key
    # Plivo's side.
    Column("permanent", Boolean, nullable=False, default=False),  # refused in a way a retry cannot fix
    Column("request_uuid", String(64), index=True),  # from the create-call reply
    Column("call_uuid", String(64)),  # the first one reported binds the call
    Column("dialled_at", DateTime(timezone=True)),  # the create-call was sent
    # Plivo did not confirm the create-call: the call may still ring until then, and stays answerable.
    Column("confirm_by", DateTime(timezone=True)),
    # Plivo failed the create-call since then in a way that certainly placed nothing (a 5xx, no
    # connection, a 429): it is tried again, with backoff, for as long as the call is still useful.
    Column("retrying_since", DateTime(timezone=True)),
    Column("answered_at", DateTime(timezone=True)),
    Column("machine_at", DateTime(timezone=True)),  # Plivo's machine detection heard an answering machine
    Column("ended_at", DateTime(timezone=True)),
    Column("outcome", String(16)),
    Column("cause", Text),  # words, for a failure
    Column("duration", Integer),  # seconds, once answered and ended
    Column("cost", String(16)),  # USD, as Plivo reports it ("0.00850")
    Column("attempt", Integer, nullable=False, default=0, server_default="0"),  # 1: the second ring
    Column("passed_at", DateTime(timezone=True)),  # the callee pressed 3: passed on to the next link
    # The voice bridge (a Plivo conference): when this call entered and left it.
    Column("bridge_joined_at", DateTime(timezone=True)),
    Column("bridge_left_at", DateTime(timezone=True)),
    Column("bridge_member", String(32)),  # its ConferenceMemberID: to speak to it alone
    Column("confirmed_at", DateTime(timezone=True)),  # a test call (App Home): the callee pressed 1
    # A target is called once per position and attempt, however often the position is opened.
    UniqueConstraint("alert_id", "position", "target", "attempt", name="uq_legs_call_of_target"),
    # The rate limits count a number's recent calls (voice/calls/limits.py).
    Index("ix_legs_to_number_created_at", "to_number", "created_at"),
)

otp_codes = Table(
    "otp_codes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("number", String(20), nullable=False, index=True),
    # Equal to `number` while the code is live, NULL after: the unique
    # constraint keeps one live code per number and owner, across instances.
    Column("live_number", String(20)),
    # The code's owner: the Slack workspace it was sent from, or the API key that asked for it
    # ("api:" and the key's fingerprint, never the key). Only its owner checks or replaces it.
    Column("team_id", String(32), nullable=False, default="", server_default=""),
    Column("code_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("checks_left", Integer, nullable=False),
    Column("requester_id", String(64), nullable=False),
    Column("channel_id", String(32), nullable=False, default=""),
    Column("source", String(8), nullable=False),
    Column("call_token", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("verified_at", DateTime(timezone=True)),
    UniqueConstraint("team_id", "live_number", name="uq_otp_codes_team_live"),
)

refusals = Table(
    "refusals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("source", String(8), nullable=False),  # "slack" or "api"
    Column("requester_id", String(64), nullable=False),
    Column("channel_id", String(32), nullable=False, default=""),
    Column("number", String(32)),
    Column("kind", String(32), nullable=False),
    Column("reason", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", String(128), unique=True),
    *_requester_columns(),
    Column("sender_name", String(200), nullable=False),
    Column("channel_name", String(200)),
    # The message lives here and nowhere else: never in a URL.
    Column("message", Text, nullable=False),
    Column("targets", Text, nullable=False),  # JSON list of Target
    Column("skipped", Text, nullable=False, default="[]"),  # JSON list of Skipped
    # While the recipients are being looked up in Slack: the parsed request (JSON), else NULL. An alert
    # whose numbers were called before Slack answered keeps it, with the people still `awaiting`.
    Column("recipients", Text),
    Column("rounds", Integer, nullable=False),
    Column("retry_delay", Integer, nullable=False),
    # The links of its chain as typed, when its numbers were called before Slack could look its
    # people up (their links are filled in later); NULL: as many as its targets name.
    Column("links", Integer),
    # Seconds before a busy or unanswered call rings once more (ALERT_REDIAL_DELAY when raised; 0: never).
    Column("redial_delay", Integer, nullable=False, default=0, server_default="0"),
    # Whoever raised it, for the voice bridge: their profile's number (E.164), or why it cannot be
    # called, and their Slack locale; read with the recipients.
    Column("requester_number", String(20)),
    Column("requester_problem", Text),
    Column("requester_locale", String(16)),
    # The voice bridge: the Plivo conference's name once the acknowledger pressed 9; its start and end.
    Column("bridge_room", String(64)),
    Column("bridge_started_at", DateTime(timezone=True)),
    Column("bridge_ended_at", DateTime(timezone=True)),
    # The Slack message the alert was raised about (the "Phone someone about this" shortcut).
    Column("source_link", Text),
    Column("position", Integer, nullable=False, default=-1),
    Column("next_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_via", String(8)),
    Column("resolved_by", String(32)),
    Column("resolved_name", String(200)),
    Column("resolved_number", String(20)),
    Column("resolved_leg", Integer),
    *_message_columns(),
    # Through a response_url (5 uses), the message is sent again only when this changes.
    Column("reported_status", String(16)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # An incident from monitoring (voice/incidents): its integration and source, the key the source
    # dedupes by (as given: senders answer with it), and while the source has not resolved it, a digest
    # of (integration, key), unique: one open incident per key, on one instance or several.
    Column("integration", String(40)),
    Column("source", String(16)),
    Column("dedup_key", Text),
    Column("open_key", String(64)),
    Column("severity", String(32)),
    Column("details", Text),  # JSON: the source's details, a few labels, links, its own reference
    Column("fire_count", Integer, nullable=False, default=0, server_default="0"),
    Column("last_fired_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),  # the source resolved it
    Column("closed_source", String(16)),
    # The hotline call (voice/hotline) whose call-outs this alert places, or that it calls back; NULL for every
    # other alert.
    Column("hotline_call", Integer),
    # ALERT_LIMIT_REQUESTER_HOUR counts a person's recent alerts.
    Index("ix_alerts_requester_created_at", "team_id", "requester_id", "created_at"),
    # An alert storm lists an integration's recent incidents.
    Index("ix_alerts_integration_created_at", "integration", "created_at"),
    Index("uq_alerts_open_key", "open_key", unique=True),
)

#: Calls to a hotline (voice/hotline): the caller waits in `room` while `alert_id` phones the recipients.
hotline_calls = Table(
    "hotline_calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(64), nullable=False, unique=True),  # opaque: the only thing in its webhooks' URLs
    Column("call_uuid", String(64), nullable=False, unique=True),  # Plivo's: its answer URL may come twice
    Column("hotline", String(20), nullable=False),  # the number called (E.164)
    Column("name", String(80), nullable=False),
    Column("caller", String(20)),  # E.164; NULL: withheld
    Column("status", String(16), nullable=False),
    Column("room", String(64), nullable=False),
    Column("channel_id", String(32)),
    Column("team_id", String(32), nullable=False, default="", server_default=""),
    Column("alert_id", Integer),
    Column("voicemail_reason", String(16)),
    Column("taker", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("connected_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("recording_url", Text),
    Column("recording_seconds", Integer),
    Column("transcript", Text),
    Column("callback_by", String(32)),
    *_message_columns(),
    # HOTLINE_LIMIT_CALLER_HOUR counts a caller's recent calls that phoned someone.
    Index("ix_hotline_calls_caller_created_at", "caller", "created_at"),
)

#: On-call schedules (voice/schedules): ROUTING_FILE's, rewritten whenever it is read, and those made in
#: Slack. What was last announced (who is on call, until when) is what the hand-off work compares with,
#: so each change is announced once, across processes and instances.
schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("team_id", String(32), nullable=False, default="", server_default=""),
    Column("time_zone", String(64), nullable=False),
    Column("members", Text, nullable=False),  # JSON list of Slack user IDs, in rotation order
    Column("shift", String(8), nullable=False),  # as written: daily, weekly, 12h, 3d
    Column("handoff", String(16), nullable=False),  # as written: 09:00, monday 09:00
    Column("start", String(10), nullable=False),  # YYYY-MM-DD
    Column("user_group", String(32)),
    Column("channel_id", String(32)),
    Column("defined_in", String(8), nullable=False),  # "file" or "slack"
    Column("created_by", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The calendar feed's token is HMAC(OTP_HASH_KEY, salt): only the salt is kept; a new salt rotates it.
    Column("feed_salt", String(64)),
    # Members Slack says cannot be on call (deactivated), as last seen: passed over.
    Column("inactive", Text, nullable=False, default="[]", server_default="[]"),
    Column("announced_user", String(32)),
    Column("announced_at", DateTime(timezone=True)),
)

#: Overrides: someone else on call for a period; where two overlap, the later added (higher id) wins.
schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schedule", String(40), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_schedule_overrides_schedule_end_at", "schedule", "end_at"),
)

#: Integrations: where monitoring's alerts come in (voice/incidents). Those of ROUTING_FILE are
#: written here whenever it is read (`defined_in` "file"); those added in Slack live only here. Only
#: the SHA-256 of a token is kept.
integrations = Table(
    "integrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("team_id", String(32), nullable=False, default="", server_default=""),
    Column("channel_id", String(32), nullable=False),
    Column("call", Text, nullable=False),  # whom it phones, as written ("S0BACKEND > U0LEAD")
    Column("stages", Text, nullable=False),  # JSON: [[{"kind", "id", "label"}, …], …]
    Column("lang", String(16)),
    Column("phone", Text),  # JSON list of the severities that phone; NULL: the default
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("defined_in", String(8), nullable=False),  # "file" or "slack"
    Column("created_by", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_alert_at", DateTime(timezone=True)),
    # INTEGRATION_CALL_INTERVAL: when it last phoned anyone; an incident within the interval is held.
    Column("last_call_out_at", DateTime(timezone=True)),
    # The alert storm under way: since when, how many incidents held, and its one line in the channel.
    Column("storm_started_at", DateTime(timezone=True)),
    Column("storm_count", Integer, nullable=False, default=0, server_default="0"),
    Column("storm_channel", String(32)),
    Column("storm_ts", String(32)),
    Column("storm_digest", String(16)),
)

#: The numbers people typed into alerts (not Slack users' profile numbers): one row per alert and
#: number, written with the alert, which ALERT_LIMIT_NUMBER_HOUR counts. An alert's own rounds,
#: chain links and second rings are its one row: they never count as more.
alert_numbers = Table(
    "alert_numbers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, nullable=False),
    Column("number", String(20), nullable=False),  # E.164
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_alert_numbers_number_created_at", "number", "created_at"),
)

#: The work queue: every action that must happen after a request has been answered.
#: A row is claimed by one worker at a time (its lease), retried with backoff, and
#: ends done or failed. Rows with a `key` coalesce: poking a key that is waiting
#: adds nothing, poking one that is running makes it run once more afterwards.
work_items = Table(
    "work_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(200), nullable=False),  # what it acts on: a call's token, an alert's id
    Column("key", String(240), unique=True),  # one live item per key (NULL: no dedupe)
    Column("payload", Text),  # JSON, for the few kinds that carry data
    Column("state", String(12), nullable=False),  # pending, running, idle, done, failed
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("again", Boolean, nullable=False, default=False),  # poked while running: run once more
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(80)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_work_items_state_due_at", "state", "due_at"),
)

#: Shared rate limits (PLIVO_CPS for every create-call, Slack's posting rate per
#: channel): the time the next request may go, reserved by one atomic UPDATE.
rate_slots = Table(
    "rate_slots",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("next_free", Float, nullable=False),  # seconds since the epoch
)


#: Workflow Builder steps under way: each completes when its alert or call ends (voice/workflows/steps.py).
workflow_steps = Table(
    "workflow_steps",
    metadata,
    Column("execution_id", String(64), primary_key=True),  # Slack's function_execution_id
    Column("kind", String(16), nullable=False),  # "alert" or "call"
    Column("subject", String(64), nullable=False, index=True),  # the alert's id, or the call's token
    Column("token", Text, nullable=False),  # the step's bot access token, sealed (voice/store/sealing.py)
    Column("team_id", String(32), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
)


#: What may be used only once, kept until it could no longer be used anyway: the V3 nonce of each Plivo
#: request that serves a call script (a captured request replayed is refused), and the state of each
#: install link that completed an install (voice/store/once.py). A SHA-256 digest, never the value itself.
used_once = Table(
    "used_once",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # no index: the hourly sweep reads it all
    sqlite_with_rowid=False,  # one B-tree, keyed by the digest: one page written per use
)


#: Tables kept by slack_sdk's installation and OAuth state stores (installs in many
#: workspaces): migration 0003 makes them, slack_sdk's stores describe them, not this module.
SLACK_STORE_TABLES = frozenset({"slack_installations", "slack_bots", "slack_oauth_states"})


def described_here(name: str | None, type_: str, parent_names: dict) -> bool:
    """For Alembic's comparisons (`include_name`): whether this module describes the object."""
    return type_ == "schema" or not of_slack_stores(name, type_, parent_names)


def of_slack_stores(name: str | None, type_: str, parent_names: dict) -> bool:
    """For Alembic's comparisons (`include_name`): whether the object is one of slack_sdk's stores'."""
    if type_ == "schema":
        return True
    table = name if type_ == "table" else parent_names.get("table_name")
    return table in SLACK_STORE_TABLES
