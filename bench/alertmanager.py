"""What the `intake` scenario sends: Alertmanager's webhook posts (version 4) on a timetable.

Pure: bodies and times only, no I/O and no clock, so a run can be read (and repeated) from its seed.
The body is the one Alertmanager's webhook receiver documents
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): one post per
aggregation group, keyed by `groupKey`, carrying that group's alerts with their labels and annotations.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# What each post is, for the figures: a group's first post (it opens an incident), a later one (the
# group fires again), or a sender's retry of an earlier post, the same bytes, sent after the first was
# answered (Alertmanager's backoff after a 5xx or a time-out) or while it is still being answered.
FIRST, AGAIN, RETRY, OVERLAP = "first", "again", "retry", "overlap"

TEAMS = ("payments", "search", "storage", "identity", "edge")
ALERTS = (("HighErrorRate", "5xx answers", "%"), ("HighLatency", "p99 latency", " ms"),
          ("DiskFillingUp", "disk used", "%"), ("QueueBacklog", "messages waiting", ""),
          ("CertificateExpiry", "days left on the certificate", " d"), ("ReplicaLag", "replication lag", " s"),
          ("PodCrashLooping", "restarts in 10 minutes", ""))
STARTED = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
NOT_ENDED = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt while an alert fires


@dataclass(frozen=True)
class Post:
    at: float  # seconds after the run's start
    group: int
    kind: str  # FIRST, AGAIN, RETRY or OVERLAP
    body: bytes  # a retry's is its original's, byte for byte


def group_key(group: int) -> str:
    """Alertmanager's groupKey: the route's matchers, then the group's labels (`group_by: [alertname, service]`)."""
    alertname, _, _ = ALERTS[group % len(ALERTS)]
    return f'{{}}/{{team="{TEAMS[group % len(TEAMS)]}"}}:{{alertname="{alertname}", service="svc-{group:02d}"}}'


def body(group: int, nth: int) -> dict:
    """The group's `nth` post (0: its first): 2 to 4 alerts, one per instance, and a value that moves, as
    templated annotations do, so no two posts of a group are the same bytes."""
    alertname, measured, unit = ALERTS[group % len(ALERTS)]
    service, team = f"svc-{group:02d}", TEAMS[group % len(TEAMS)]
    common = {"alertname": alertname, "service": service, "team": team, "env": "prod", "job": service,
              "severity": "critical" if group % 3 else "error"}
    summary = f"{alertname}: {service} ({team})"
    runbook = f"https://runbooks.example.com/{team}/{alertname.lower()}"
    alerts = []
    for instance in range(2 + nth % 3):
        labels = common | {"instance": f"{service}-{instance}.prod:9100"}
        value = 50 + group + nth * 0.7 + instance * 0.1
        alerts.append({
            "status": "firing", "labels": labels,
            "annotations": {"summary": summary, "runbook_url": runbook,
                            "description": f"{measured} is {value:.1f}{unit} on {labels['instance']}"},
            "startsAt": (STARTED + timedelta(minutes=group, seconds=15 * instance)).isoformat().replace("+00:00", "Z"),
            "endsAt": NOT_ENDED,
            "generatorURL": f"http://prometheus:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{alertname}%22%7D",
            "fingerprint": _fingerprint(labels),
        })
    return {
        "version": "4", "groupKey": group_key(group), "truncatedAlerts": 0, "status": "firing",
        "receiver": "voicebridge", "groupLabels": {"alertname": alertname, "service": service},
        "commonLabels": common, "commonAnnotations": {"summary": summary, "runbook_url": runbook},
        "externalURL": "http://alertmanager:9093",
        "notification_reason": "first notification" if nth == 0 else "new alerts added",
        "alerts": alerts,
    }


def _fingerprint(labels: dict[str, str]) -> str:
    """16 hex characters from the labels, as Alertmanager's (a hash of the label set) looks."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def timetable(*, posts: int, groups: int, rate: float, retry_share: float = 0.1, overlapping: int = 10,
              seed: int = 19) -> list[Post]:
    """`posts` distinct posts at `rate` a second over `groups` groups, plus retries of about `retry_share`
    of them; sorted by time.

    Group g's first post is post g * posts / groups, so new groups keep arriving all through the run
    (each meets a server already busy with the others); every other post goes to a group already open.
    A fifth of the retries repeat a group's first post, the one that opens an incident; `overlapping` of
    them are sent at the same moment as the post they repeat, on another connection.
    """
    rng = random.Random(seed)
    firsts = {round(g * posts / groups): g for g in range(groups)}
    sent_per_group = [0] * groups
    distinct: list[Post] = []
    for index in range(posts):
        group = firsts.get(index)
        if group is None:
            group = rng.randrange(max(g for i, g in firsts.items() if i <= index) + 1)
        nth = sent_per_group[group]
        sent_per_group[group] += 1
        distinct.append(Post(at=index / rate, group=group, kind=FIRST if nth == 0 else AGAIN,
                             body=json.dumps(body(group, nth)).encode()))
    retries = round(posts * retry_share)
    first_indexes = sorted(firsts)
    of_firsts = rng.sample(first_indexes, min(len(first_indexes), retries // 5))
    others = [i for i in range(posts) if i not in firsts]
    repeated = of_firsts + rng.sample(others, min(len(others), retries - len(of_firsts)))
    overlap = set(of_firsts[:overlapping // 2]) | set(repeated[len(of_firsts):][:overlapping - overlapping // 2])
    extra = []
    for index in repeated:
        original = distinct[index]
        delay = 0.0 if index in overlap else rng.uniform(0.5, 2.5)  # Alertmanager's backoff: 0.5 s and up
        extra.append(Post(at=original.at + delay, group=original.group, kind=OVERLAP if index in overlap else RETRY,
                          body=original.body))
    return sorted(distinct + extra, key=lambda post: post.at)
