"""The `intake` scenario: Alertmanager's webhook posts at a steady rate, against the real server.

500 posts over 50 groups at 50 a second (bench/alertmanager.py), plus a tenth of them sent again as a
sender retries, on SQLite and on PostgreSQL. Figures: how long each post waited for its answer, how long
from a group's first post to its first create-call at the Plivo stand-in, and anything recorded or
placed twice, counted at the stand-in and in the database.

The database is the one place the bench looks inside the server: which incident (`alerts` row, by its
`dedup_key`, the groupKey) each placed call (`legs.token`, the last part of its answer URL) belongs to,
and how often each incident was counted as fired (`fire_count`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import requests
from sqlalchemy import create_engine, text

from bench.alertmanager import AGAIN, FIRST, OVERLAP, RETRY, Post, timetable
from bench.database import fresh_schema
from bench.machine import session_processes
from bench.runner import Context, isolated, say
from bench.servers import BenchError, scenario_server
from bench.standins import number, start_standins
from bench.stats import latency_summary, percentile
from bench.traffic import token_of

INTEGRATION = "bench-intake"
TOKEN = "bench-intake-token-0123456789abcdef"
CHANNEL = "C0INTAKE"
ON_CALL = "U0ONCALL"
RATE = 50.0  # posts a second
ANSWER_GOAL_MS = 50.0
CALL_GOAL_S = 1.0
SENDERS = 16  # threads sending: a slow answer must not hold back the posts due after it
SEND_TIMEOUT = 10.0
CALL_WAIT_S = 20.0  # after the last post, how long the groups' calls may take to arrive
LATE_WAIT_S = 3.0  # then, how long a duplicate create-call would still be seen


def intake(ctx: Context) -> dict:
    return {
        "sqlite": isolated(ctx, "intake.sqlite", 240, lambda c, s: _intake(c, s, "intake.sqlite", None)),
        "postgres": isolated(ctx, "intake.postgres", 240,
                             lambda c, s: _intake(c, s, "intake.postgres", fresh_schema(s, c.postgres_url))),
    }


@dataclass(frozen=True)
class Answer:
    post: Post
    status: int | str  # the HTTP status, or "timeout" / "error"
    ms: float
    outcome: str | None  # the server's word for what the post did: opened, fired again, repeated
    incident: int | None
    dedup_key: str | None  # the incident's key, as the server keeps it (a digest of the groupKey)
    sent_at: float  # time.monotonic() just before sending


def _intake(ctx: Context, stack: ExitStack, name: str, database_url: str | None) -> dict:
    posts, groups = ctx.pick(500, 150), ctx.pick(50, 15)
    slack, plivo = start_standins(stack, 0.02)
    slack.add_user(ON_CALL, "Oncall Person", number(7000))
    routing = ctx.workdir(stack, f"{name}-routing") / "routing.yml"
    # The token by environment variable: the file never holds it in clear.
    routing.write_text(f"integrations:\n  - name: {INTEGRATION}\n    token_env: BENCH_INTAKE_TOKEN\n"
                       f"    channel: {CHANNEL}\n    call: \"{ON_CALL}\"\n")
    settings = {"ROUTING_FILE": str(routing), "BENCH_INTAKE_TOKEN": TOKEN,
                # Every group phones: at the default (300 s) all but the first would be held in a storm line.
                "INTEGRATION_CALL_INTERVAL": "0"}
    if database_url:
        settings["database_url"] = database_url
    server = scenario_server(ctx, stack, name, slack, plivo, group="intake", **settings)
    table = timetable(posts=posts, groups=groups, rate=RATE)
    say(f"{name}: {len(table)} posts ({posts} distinct, {len(table) - posts} retries) over {groups} groups "
        f"at {RATE:.0f}/s")
    cpu_before = session_processes(server.process.pid)
    answers = _send_all(server.url, table)
    # What else ran meanwhile: on a shared machine, the answers' tail moves with it.
    load = os.getloadavg()[0]
    last_sent = max(answer.sent_at for answer in answers)
    plivo.wait_for_arrivals(groups, last_sent + CALL_WAIT_S)
    time.sleep(LATE_WAIT_S)  # a second create-call for a group, placed late, would still show
    if not server.alive():
        raise BenchError(f"{server.name} died; log: {server.log_path}")
    cpu = _cpu_spent(cpu_before, session_processes(server.process.pid))
    stored = _stored(server.env["DATABASE_URL"])
    return _figures(answers, plivo, slack, stored, posts=posts, groups=groups,
                    database="postgresql" if database_url else "sqlite") | {
        "server_cpu_ms_per_post": {part: round(seconds * 1000 / len(table), 2) for part, seconds in cpu.items()},
        "load_average_1m": round(load, 2)}


def _cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """The server's CPU seconds between two looks, in all, in its worker process (calls placed, Slack
    posted) and in the rest (the web server answering): what intake costs, whatever else the machine does."""
    spent = {"total": 0.0, "worker": 0.0, "web": 0.0}
    for pid, (command, seconds) in after.items():
        used = seconds - before.get(pid, ("", 0.0))[1]
        spent["total"] += used
        spent["worker" if command.endswith(" worker --child") else "web"] += used
    return spent


def _send_all(url: str, table: list[Post]) -> list[Answer]:
    """Each post at its time (open loop: a late answer does not delay the next post), each thread on its
    own keep-alive connection, as a sender's HTTP client would be."""
    local = threading.local()

    def send(post: Post) -> Answer:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False  # every request goes to 127.0.0.1
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                   "User-Agent": "Alertmanager/0.28.1"}
        sent_at, began = time.monotonic(), time.perf_counter()
        try:
            reply = session.post(url + "/integrations/alertmanager", data=post.body, headers=headers,
                                 timeout=SEND_TIMEOUT)
            status, said = reply.status_code, _json(reply)
        except requests.Timeout:
            status, said = "timeout", {}
        except requests.RequestException as error:
            status, said = "error", {"outcome": type(error).__name__}
        return Answer(post, status, (time.perf_counter() - began) * 1000, said.get("outcome"),
                      said.get("incident"), said.get("dedup_key"), sent_at)

    start = time.monotonic() + 0.2
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        futures = []
        for post in table:
            wait = start + post.at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            futures.append(pool.submit(send, post))
        return [future.result() for future in futures]


def _json(reply: requests.Response) -> dict:
    try:
        found = reply.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Stored:
    incidents: list[tuple[str, int]]  # (dedup_key, fire_count) of each of the integration's incidents
    calls: dict[str, str]  # leg token -> the dedup_key of its incident


def _stored(database_url: str) -> Stored:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            incidents = [(row.dedup_key, row.fire_count) for row in conn.execute(
                text("SELECT dedup_key, fire_count FROM alerts WHERE integration = :name"), {"name": INTEGRATION})]
            calls = {row.token: row.dedup_key for row in conn.execute(
                text("SELECT legs.token, alerts.dedup_key FROM legs JOIN alerts ON alerts.id = legs.alert_id "
                     "WHERE alerts.integration = :name"), {"name": INTEGRATION})}
    finally:
        engine.dispose()
    return Stored(incidents, calls)


def _figures(answers: list[Answer], plivo, slack, stored: Stored, *, posts: int, groups: int,
             database: str) -> dict:
    keys = {a.dedup_key: a.post.group for a in answers if a.dedup_key}  # the server's key of each group
    first_sent = {answer.post.group: answer.sent_at for answer in answers if answer.post.kind == FIRST}
    # Each create-call at the stand-in, with the group whose incident placed it (None: a call the
    # database does not know, itself a fault).
    arrivals = [(at, keys.get(stored.calls.get(token_of(body), ""))) for at, body in list(plivo.arrivals)]
    first_call: dict[int, float] = {}
    for at, group in arrivals:
        if group is not None:
            first_call.setdefault(group, at)
    to_call = [first_call[g] - first_sent[g] for g in first_call if g in first_sent]
    calls_per_group = Counter(group for _, group in arrivals if group is not None)
    incidents_per_key = Counter(key for key, _ in stored.incidents)
    fires = sum(count for _, count in stored.incidents)
    distinct_accepted = sum(1 for a in answers if a.post.kind in (FIRST, AGAIN) and a.status == 202)
    retries = [a for a in answers if a.post.kind in (RETRY, OVERLAP)]
    # Each retry with the post it repeats (the same bytes): of the two, exactly one is recorded, and
    # the other answered "repeated"; which one, when both were sent at once, is the server's choice.
    original = {a.post.body: a for a in answers if a.post.kind in (FIRST, AGAIN)}
    recorded = Counter(sum(1 for one in (original[a.post.body], a) if one.outcome != "repeated") for a in retries)
    latencies = [a.ms for a in answers]
    return {
        "database": database,
        "posts": posts,
        "groups": groups,
        "rate_per_s": RATE,
        "retries_sent": len(retries),
        "integration_call_interval_s": 0,
        "note": "INTEGRATION_CALL_INTERVAL=0 in this scenario, so every new group phones; at the default "
                "(300 s) one call goes out and the other groups are held in one storm line",
        "answer": latency_summary(latencies) | {
            "goal_p99_ms": ANSWER_GOAL_MS,
            "status_counts": _counts(a.status for a in answers),
            "by_kind": {kind: latency_summary([a.ms for a in answers if a.post.kind == kind])
                        for kind in (FIRST, AGAIN, RETRY, OVERLAP)},
            "slowest": _slowest(answers),
        },
        "first_post_to_call": {
            "n": len(to_call),
            "p50_s": _seconds(percentile(to_call, 50)),
            "p99_s": _seconds(percentile(to_call, 99)),
            "max_s": _seconds(max(to_call) if to_call else None),
            "goal_p99_s": CALL_GOAL_S,
            "groups_not_called": groups - len(first_call),
        },
        "duplicates": {
            # At the stand-in: every create-call past one per group (whatever the database says).
            "create_calls": len(arrivals),
            "create_calls_beyond_one_per_group": len(arrivals) - len(first_call),
            "create_calls_unknown_to_database": sum(1 for _, group in arrivals if group is None),
            "groups_called_more_than_once": sum(1 for count in calls_per_group.values() if count > 1),
            # In the database: incidents past one per group, and a retry counted as a firing.
            "incidents": len(stored.incidents),
            "incidents_beyond_groups": len(stored.incidents) - groups,
            "groups_with_more_than_one_incident": sum(1 for count in incidents_per_key.values() if count > 1),
            "fires_recorded": fires,
            "distinct_posts_accepted": distinct_accepted,
            "fires_beyond_posts": fires - distinct_accepted,
        },
        "retries": {
            "sent": len(retries),
            "of_first_posts": sum(1 for a in retries if original[a.post.body].post.kind == FIRST),
            "overlapping": sum(1 for a in retries if a.post.kind == OVERLAP),
            "outcomes": _counts(f"{a.post.kind}: {a.outcome}" for a in retries),
            "recorded_once": recorded[1],
            "recorded_twice": recorded[2],
            "recorded_never": recorded[0],
            # A retry's answer names the incident its first delivery's answer named.
            "other_incident": sum(1 for a in retries if a.incident != original[a.post.body].incident),
        },
        "outcomes": _counts(f"{a.post.kind}: {a.outcome}" for a in answers if a.post.kind in (FIRST, AGAIN)),
        # Slack takes about a message a second in one channel: many new incidents at once lag here.
        "slack_messages_at_end": len(slack.messages(CHANNEL)),
        "slack_requests": _counts(request.method_or_path for request in slack.requests),
        "goals_met": {
            "answer_p99": (percentile(latencies, 99) or 0) <= ANSWER_GOAL_MS,
            "first_post_to_call_p99": bool(to_call) and percentile(to_call, 99) <= CALL_GOAL_S
                                      and len(first_call) == groups,
            "no_duplicates": len(arrivals) == groups == len(first_call) and len(stored.incidents) == groups
                             and fires == distinct_accepted and recorded[1] == len(retries),
        },
    }


def _slowest(answers: list[Answer], shown: int = 5) -> list[dict]:
    """The slowest answers, with when they were sent (s after the first post) and what they were."""
    began = min(a.sent_at for a in answers)
    return [{"ms": round(a.ms, 1), "at_s": round(a.sent_at - began, 2), "kind": a.post.kind, "outcome": a.outcome}
            for a in sorted(answers, key=lambda a: a.ms, reverse=True)[:shown]]


def _counts(values) -> dict[str, int]:
    return dict(sorted(Counter(str(value) for value in values).items()))


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

