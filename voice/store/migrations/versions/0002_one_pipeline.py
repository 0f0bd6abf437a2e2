"""One call lifecycle and one work queue: legs, work_items and rate_slots replace calls, alert_legs
and scheduled_jobs; every row is carried over.

- Voice codes' calls and alerts' legs become `legs` (purpose otp / alert). An
  alert's leg keeps its id shifted past the calls' ids, and `alerts.resolved_leg`
  follows it. A code still waiting to be read was kept in clear: it is sealed
  here (voice/sealing.py) with the key the server hands over, or erased when
  none is given (the call then reads nothing).
- The scheduled jobs still to run become work items of the same kind and key.
- Every call still under way gets its "no final report" timer, every open
  alert a look at what comes next, every status message a refresh: nothing
  that was in flight at the upgrade is forgotten.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STALE_AFTER = timedelta(minutes=10)  # voice/lifecycle.py's STALE_AFTER when this was written


def _message_columns() -> list[sa.Column]:
    return [
        sa.Column("message_via", sa.String(16)),
        sa.Column("message_channel", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("reply_uses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_digest", sa.String(16)),
    ]


def upgrade() -> None:
    _create_new_tables()
    # Added columns, no table rebuilt: on SQLite, rebuilding `alerts` would break the legs that refer to it.
    op.add_column("alerts", sa.Column("recipients", sa.Text))
    op.add_column("alerts", sa.Column("reply_uses", sa.Integer, nullable=False, server_default="0"))
    op.add_column("alerts", sa.Column("message_digest", sa.String(16)))
    op.add_column("alerts", sa.Column("reported_status", sa.String(16)))
    _carry_over_calls()
    _carry_over_jobs()
    _expect_what_was_in_flight()
    op.drop_table("scheduled_jobs")
    op.drop_table("alert_legs")
    op.drop_table("calls")


def downgrade() -> None:
    raise NotImplementedError("the calls of the first release cannot hold what legs hold; restore a backup")


# -- the new tables ------------------------------------------------------------------------------


def _create_new_tables() -> None:
    op.create_table(
        "legs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("requester_id", sa.String(32)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("team_id", sa.String(32)),
        sa.Column("reply_url", sa.Text),
        sa.Column("request_id", sa.String(128), unique=True),
        sa.Column("code_id", sa.String(64), index=True),
        sa.Column("secret", sa.String(96)),
        sa.Column("code_length", sa.Integer, nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("code_read_at", sa.DateTime(timezone=True)),
        *_message_columns(),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), index=True),
        sa.Column("position", sa.Integer),
        sa.Column("target", sa.Integer),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("silences", sa.Integer, nullable=False),
        sa.Column("permanent", sa.Boolean, nullable=False),
        sa.Column("request_uuid", sa.String(64), index=True),
        sa.Column("call_uuid", sa.String(64)),
        sa.Column("dialled_at", sa.DateTime(timezone=True)),
        sa.Column("confirm_by", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("machine_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("cause", sa.Text),
        sa.Column("duration", sa.Integer),
        sa.Column("cost", sa.String(16)),
        sa.UniqueConstraint("alert_id", "position", "target"),
    )
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("key", sa.String(240), unique=True),
        sa.Column("payload", sa.Text),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("again", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(80)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Index("ix_work_items_state_due_at", "state", "due_at"),
    )
    op.create_table(
        "rate_slots",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("next_free", sa.Float, nullable=False),
    )


# -- carrying the rows over -----------------------------------------------------------------------

_TYPES = {name: sa.DateTime(timezone=True) for name in (
    "created_at", "answered_at", "code_read_at", "machine_at", "ended_at", "due_at", "finished_at")}
_TYPES |= {name: sa.Boolean() for name in ("machine", "stop_requested", "permanent", "again")}


def _columns(*names: str) -> list[sa.ColumnClause]:
    """Columns of a table as this migration reads and writes them (typed where it matters)."""
    return [sa.column(name, _TYPES.get(name)) for name in names]


_calls = sa.table(
    "calls", *_columns(*(
        "id", "token", "to_number", "requester_id", "channel_id", "team_id", "reply_url", "request_id", "secret",
        "code_length", "status", "message_via", "message_channel", "message_ts", "request_uuid", "call_uuid",
        "outcome", "cause", "duration", "cost", "code_id", "language", "created_at", "answered_at", "code_read_at",
        "machine_at", "ended_at")),
)
_alert_legs = sa.table(
    "alert_legs", *_columns(*(
        "id", "alert_id", "token", "position", "target", "to_number", "status", "machine", "stop_requested",
        "permanent", "silences", "request_uuid", "call_uuid", "outcome", "cause", "created_at", "answered_at",
        "ended_at")),
)
_legs = sa.table("legs", *_columns(*(
    "id", "token", "purpose", "to_number", "status", "created_at", "requester_id", "channel_id", "team_id",
    "reply_url", "request_id", "code_id", "secret", "code_length", "language", "code_read_at", "message_via",
    "message_channel", "message_ts", "reply_uses", "alert_id", "position", "target", "stop_requested", "silences",
    "permanent", "request_uuid", "call_uuid", "answered_at", "machine_at", "ended_at", "outcome", "cause",
    "duration", "cost")))
_alerts = sa.table("alerts", sa.column("id"), sa.column("status"), sa.column("resolved_leg"))
_jobs = sa.table("scheduled_jobs", *_columns("key", "kind", "subject", "due_at", "finished_at"))
_work = sa.table("work_items", *_columns(*(
    "kind", "subject", "key", "payload", "state", "due_at", "again", "attempts", "created_at")))


def _carry_over_calls() -> None:
    conn = op.get_bind()
    box = context.config.attributes.get("secret_box")
    for row in conn.execute(sa.select(_calls).order_by(_calls.c.id)).mappings():
        secret = row["secret"]
        if secret is not None:
            # Kept in clear by the first release: sealed now, bound to its call, or erased.
            secret = box.seal(secret, row["token"]) if box is not None else None
        conn.execute(_legs.insert().values(
            id=row["id"], token=row["token"], purpose="otp", to_number=row["to_number"], status=row["status"],
            created_at=row["created_at"], requester_id=row["requester_id"], channel_id=row["channel_id"],
            team_id=row["team_id"], reply_url=row["reply_url"], request_id=row["request_id"],
            code_id=row["code_id"], secret=secret, code_length=row["code_length"], language=row["language"],
            code_read_at=row["code_read_at"], message_via=row["message_via"],
            message_channel=row["message_channel"], message_ts=row["message_ts"], reply_uses=0,
            stop_requested=False, silences=0, permanent=False, request_uuid=row["request_uuid"],
            call_uuid=row["call_uuid"], answered_at=row["answered_at"], machine_at=row["machine_at"],
            ended_at=row["ended_at"], outcome=row["outcome"], cause=row["cause"], duration=row["duration"],
            cost=row["cost"],
        ))
    shift = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_legs.c.id), 0))).scalar()
    for row in conn.execute(sa.select(_alert_legs).order_by(_alert_legs.c.id)).mappings():
        conn.execute(_legs.insert().values(
            id=row["id"] + shift, token=row["token"], purpose="alert", to_number=row["to_number"],
            status=row["status"], created_at=row["created_at"], code_length=0, reply_uses=0,
            alert_id=row["alert_id"], position=row["position"], target=row["target"],
            stop_requested=bool(row["stop_requested"]), silences=row["silences"], permanent=bool(row["permanent"]),
            request_uuid=row["request_uuid"], call_uuid=row["call_uuid"], answered_at=row["answered_at"],
            # The first release knew only that a machine answered, not when.
            machine_at=(row["answered_at"] or row["created_at"]) if row["machine"] else None,
            ended_at=row["ended_at"], outcome=row["outcome"], cause=row["cause"],
        ))
    conn.execute(_alerts.update().where(_alerts.c.resolved_leg.is_not(None))
                 .values(resolved_leg=_alerts.c.resolved_leg + shift))
    if conn.dialect.name == "postgresql":
        # Ids were given explicitly: the next one the sequence hands out must be past them.
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('legs', 'id'), "
                             "GREATEST((SELECT COALESCE(MAX(id), 0) FROM legs), 1))"))


def _carry_over_jobs() -> None:
    conn = op.get_bind()
    now = datetime.now(timezone.utc)
    for row in conn.execute(sa.select(_jobs).where(_jobs.c.finished_at.is_(None))).mappings():
        # alert.step and alert.stop keep their kind, subject and key.
        _add_work(conn, row["kind"], row["subject"], key=row["key"], due_at=row["due_at"], now=now)


def _expect_what_was_in_flight() -> None:
    conn = op.get_bind()
    now = datetime.now(timezone.utc)
    live = conn.execute(sa.select(_legs.c.token, _legs.c.purpose, _legs.c.created_at, _legs.c.alert_id)
                        .where(_legs.c.status != "ended")).all()
    for token, purpose, created_at, alert_id in live:
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        _add_work(conn, "call.stale", token, key=f"call.stale:{token}", due_at=max(now, created_at + STALE_AFTER),
                  now=now)
        if purpose == "otp":
            _add_work(conn, "report.call", token, key=f"poke:report.call:{token}", due_at=now, now=now)
    for (alert_id,) in conn.execute(sa.select(_alerts.c.id).where(_alerts.c.status == "active")).all():
        _add_work(conn, "alert.next", str(alert_id), key=f"poke:alert.next:{alert_id}", due_at=now, now=now)
        _add_work(conn, "report.alert", str(alert_id), key=f"poke:report.alert:{alert_id}", due_at=now, now=now)


def _add_work(conn, kind: str, subject: str, *, key: str, due_at, now) -> None:
    exists = conn.execute(sa.select(sa.func.count()).select_from(_work).where(_work.c.key == key)).scalar()
    if not exists:
        conn.execute(_work.insert().values(kind=kind, subject=subject, key=key, payload=None, state="pending",
                                           due_at=due_at, again=False, attempts=0, created_at=now))
