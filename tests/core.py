"""The core (voice/) wired as the server wires it, and driven as Plivo drives it, without HTTP.

`core` is answer_server.services.build_services on the `database_url`
fixture (SQLite and, with TEST_DATABASE_URL, PostgreSQL), on the test's
`clock`, with Plivo's REST API mocked by `plivo_rest` and Slack's by
`fake_slack`. Its workers are not started: a test runs the work that is
due with `settle(core)`, in its own thread, after moving the clock.

Plivo's progress callbacks (ring, machine, hangup) go through the same
calls as answer_server/plivo/webhooks.py's ProgressEvents: the leg read once,
checked against the call UUID that binds it, then one conditional write.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

from sqlalchemy import select

from answer_server.services import Services, build_services
from voice.calls.models import HangupReport, Leg
from voice.store.db import reading
from voice.store.schema import legs, work_items


def wire(settings, database_url: str, clock, **changes) -> Services:
    """A fully wired core on `database_url`; `changes` replace settings (limits, the guard, the CPS…)."""
    return build_services(replace(settings, database_url=database_url, **changes), clock=clock, message_pace=0,
                          slack_post_rate=100.0)


def settle(core: Services) -> int:
    """Run every item due now (the clock may have moved) until nothing is due or running."""
    return core.workers.drain(timeout=5)


# -- Plivo's progress callbacks, as ProgressEvents receives them ----------------------------------

def ring(core: Services, token: str, call_uuid: str) -> Leg | None:
    leg = core.lifecycle.bound(core.legs.get(token), token, call_uuid, "ring")
    return core.lifecycle.ringing(leg, call_uuid) if leg else None


def machine(core: Services, token: str, call_uuid: str) -> Leg | None:
    leg = core.lifecycle.bound(core.legs.get(token), token, call_uuid, "machine detection")
    return core.lifecycle.machine(leg, call_uuid) if leg else None


def hang_up(core: Services, token: str, call_uuid: str, status: str = "completed", cause_code: int | None = 4000,
            cause_name: str | None = "Normal Hangup", duration: int | None = 20,
            total_cost: str | None = None) -> Leg | None:
    report = HangupReport(call_uuid=call_uuid, call_status=status, cause_code=cause_code, cause_name=cause_name,
                          duration=duration, total_cost=total_cost)
    leg = core.lifecycle.bound(core.legs.get(token), token, call_uuid, "hangup")
    return core.lifecycle.hung_up(leg, report) if leg else None


# -- what the database holds -------------------------------------------------------------------------

def leg_rows(core: Services) -> list[dict]:
    with reading(core.engine) as conn:
        return [dict(row) for row in conn.execute(select(legs).order_by(legs.c.id)).mappings()]


def work_of(core: Services, kind: str) -> list[dict]:
    """The queue's items of one kind, oldest first."""
    with reading(core.engine) as conn:
        query = select(work_items).where(work_items.c.kind == kind).order_by(work_items.c.id)
        return [dict(row) for row in conn.execute(query).mappings()]


def token_of(body: dict) -> str:
    """The call's token, from the answer URL of a create-call Plivo received."""
    return body["answer_url"].rstrip("/").rsplit("/", 1)[1]


# -- many requests at once -----------------------------------------------------------------------------

def at_once(count: int, ask: Callable[[int], str]) -> list[str]:
    """Run ask(0) … ask(count - 1) in threads released together; what each said, in the order they ended."""
    gate = threading.Barrier(count)
    outcomes: list[str] = []

    def run(n: int) -> None:
        gate.wait()
        outcomes.append(ask(n))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return outcomes
