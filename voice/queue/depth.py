"""The work queue's depth for Prometheus: gauges read from the database at each scrape.

Kept beside the queue, not with the counters (voice/metrics.py): every package
records into those, so they may depend on nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from voice.clock import as_utc, utcnow
from voice.queue.work import PENDING, RUNNING
from voice.store.db import reading
from voice.store.schema import work_items


class QueueCollector:
    """The work queue as the database holds it, read at each scrape: items due and not yet taken,
    items running, and the age of the oldest due item (work that waits means trouble)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        due = (work_items.c.state == PENDING) & (work_items.c.due_at <= now)
        with reading(self.engine) as conn:
            waiting = conn.execute(select(work_items.c.kind, func.count()).where(due)
                                   .group_by(work_items.c.kind)).all()
            running = conn.execute(select(work_items.c.kind, func.count()).where(work_items.c.state == RUNNING)
                                   .group_by(work_items.c.kind)).all()
            oldest = conn.execute(select(func.min(work_items.c.due_at)).where(due)).scalar()
        depth = GaugeMetricFamily("voicebridge_work_queue_depth", "Work items due and waiting for a worker",
                                  labels=["kind"])
        for kind, count in waiting:
            depth.add_metric([kind], count)
        busy = GaugeMetricFamily("voicebridge_work_running", "Work items being done now", labels=["kind"])
        for kind, count in running:
            busy.add_metric([kind], count)
        age = GaugeMetricFamily("voicebridge_work_oldest_due_seconds",
                                "How long the oldest due work item has waited (0: none)")
        age.add_metric([], max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest is not None else 0.0)
        yield from (depth, busy, age)
