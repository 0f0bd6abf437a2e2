"""Workflow Builder steps: each waits, in the database, for its alert or call to end, then completes.

A step is recorded when Slack runs it (function_executed) with the alert or
call it started; when that ends, `STEP_DONE` work completes it with its
outputs (the Slack side sends functions.completeSuccess with the step's own
token, kept sealed until then). It survives a restart like any other work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from voice.queue.work import WorkQueue
from voice.store.db import reading, transaction
from voice.store.schema import workflow_steps
from voice.store.sealing import SecretBox

#: Completes the steps waiting on a subject; subject "alert:<id>" or "call:<token>".
STEP_DONE = "workflow.complete"
ALERT_STEP = "alert"
CALL_STEP = "call"


@dataclass(frozen=True)
class PendingStep:
    execution_id: str
    kind: str
    subject: str
    token: str  # unsealed: only in memory, for the one request that completes the step
    team_id: str


def done_subject(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


class WorkflowSteps:
    def __init__(self, engine: Engine, box: SecretBox, queue: WorkQueue, *, clock: Callable[[], datetime]):
        self.engine = engine
        self.box = box
        self.queue = queue
        self.clock = clock

    def record(self, execution_id: str, kind: str, subject: str, token: str, team_id: str) -> None:
        """A step waiting for `subject` to end (once per execution, however often Slack delivers it);
        checked at once, in case it ended already."""
        with transaction(self.engine) as conn:
            if conn.execute(select(workflow_steps.c.execution_id).where(
                    workflow_steps.c.execution_id == execution_id)).first():
                return
            conn.execute(workflow_steps.insert().values(
                execution_id=execution_id, kind=kind, subject=subject, token=self.box.seal(token, execution_id),
                team_id=team_id, created_at=self.clock()))
            self.queue.poke(conn, STEP_DONE, done_subject(kind, subject))

    def pending(self, kind: str, subject: str) -> list[PendingStep]:
        with reading(self.engine) as conn:
            rows = conn.execute(select(workflow_steps).where(
                workflow_steps.c.kind == kind, workflow_steps.c.subject == subject,
                workflow_steps.c.completed_at.is_(None))).mappings().all()
        return [PendingStep(row["execution_id"], row["kind"], row["subject"],
                            self.box.open(row["token"], row["execution_id"]), row["team_id"]) for row in rows]

    def completed(self, execution_id: str) -> None:
        """The step is done: its token is erased."""
        with transaction(self.engine) as conn:
            conn.execute(update(workflow_steps).where(workflow_steps.c.execution_id == execution_id).values(
                completed_at=self.clock(), token=""))


def poke_steps(queue: WorkQueue, conn: Connection, kind: str, subject: str) -> None:
    """Something a step may wait on ended: its steps complete. Work only where a step waits (most calls and
    alerts come from commands): a step recorded after this commits is checked by `record` itself."""
    waiting = conn.execute(select(workflow_steps.c.execution_id).where(
        workflow_steps.c.kind == kind, workflow_steps.c.subject == subject,
        workflow_steps.c.completed_at.is_(None)).limit(1)).first()
    if waiting is not None:
        queue.poke(conn, STEP_DONE, done_subject(kind, subject))
