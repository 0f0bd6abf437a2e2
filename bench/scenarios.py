"""The scenarios of the benchmark: ack, webhooks, alert_50, two_instances, and intake (bench/intake.py).

Each returns a dict of figures (the names are the JSON's). They drive the server
over HTTP only and read what arrived at the Slack and Plivo stand-ins, so they
run unchanged against any server that keeps the same settings and wire formats.
"""

from __future__ import annotations

import math
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from bench.database import fresh_schema
from bench.intake import intake
from bench.load import LoadResult, run_load, write_request_file
from bench.runner import Context, isolated, say
from bench.servers import (
    BenchError,
    Process,
    free_port,
    scenario_server,
    start_bare,
)
from bench.standins import API_KEY, TimedPlivoApi, number, start_standins
from bench.stats import duplicates, latency_summary, max_in_window, ratio
from bench.traffic import (
    PlacedCall,
    Sent,
    api_code_request,
    in_parallel,
    placed_call,
    plivo_sender,
    send,
    slash_command,
    status_counts,
    steady_mix,
    token_of,
    webhook,
)

SLACK_TIMEOUT_MS = 3000  # past this Slack shows the user "operation_timeout"


# -- 1. ack ---------------------------------------------------------------------------

PLACE_WINDOW = 15.0  # seconds after the last ack in which every call should have been placed


def ack(ctx: Context) -> dict:
    """Slack's 3-second ack, with a fast Plivo and with a slow one (each on a fresh server)."""
    return {
        "plivo_20ms": isolated(ctx, "ack.plivo_20ms", 180, lambda c, s: _ack_run(c, s, "ack.plivo_20ms", 0.02)),
        "plivo_4s": isolated(ctx, "ack.plivo_4s", 240, lambda c, s: _ack_run(c, s, "ack.plivo_4s", 4.0)),
    }


def _ack_run(ctx: Context, stack: ExitStack, name: str, plivo_delay: float) -> dict:
    slack, plivo = start_standins(stack, plivo_delay)
    server = scenario_server(ctx, stack, name, slack, plivo)
    count = ctx.pick(30, 10)
    sent: list[Sent] = []
    # One after another, each sent when the previous one is answered: each ack is timed on its
    # own, and what slows it is the server's work for earlier commands, not our queueing.
    for i in range(count):
        sent.append(slash_command(server.url, number(3000 + i), response_url=slack.response_url(f"ack-{i}")))
    last_ack = max(one.at for one in sent)
    say(f"{name}: {count} commands acked, waiting up to {PLACE_WINDOW:.0f} s for their calls")
    plivo.wait_for_arrivals(count, last_ack + PLACE_WINDOW)
    placed = sum(1 for at in plivo.arrival_times() if at <= last_ack + PLACE_WINDOW)
    return latency_summary([one.ms for one in sent]) | {
        "commands": count,
        "plivo_delay_ms": round(plivo_delay * 1000),
        "not_200": sum(1 for one in sent if one.status != 200),
        "over_3s": sum(1 for one in sent if one.ms > SLACK_TIMEOUT_MS),
        "status_counts": status_counts(sent),
        "calling_replies": sum(1 for one in sent if one.status == 200 and "Calling" in one.text),
        "calls_placed": placed,
        "placed_window_s": PLACE_WINDOW,
        # The first command meets a process that has served nothing yet: shown apart.
        "first_ms": round(sent[0].ms, 1),
        "slowest_at": max(range(count), key=lambda i: sent[i].ms),
    }


# -- 2. webhooks ----------------------------------------------------------------------

RATE_BOUND = 4000  # req/s the request files are sized for; past it a run re-sends signed requests


def webhooks(ctx: Context) -> dict:
    return isolated(ctx, "webhooks", ctx.pick(600, 240), _webhooks)


def _webhooks(ctx: Context, stack: ExitStack) -> dict:
    slack, plivo = start_standins(stack, 0.02)
    server = scenario_server(ctx, stack, "webhooks", slack, plivo)
    calls = _place_calls(server, slack, plivo, ctx.pick(300, 60))
    sender = plivo_sender(server.url)  # PUBLIC_URL is the server's own URL here
    first_pass = _first_pass(server, sender, calls)
    first_pass["slack_quiet_after_s"] = _slack_quiet(slack)
    bare = start_bare(stack, workdir=ctx.workdir(stack, "bare"), log_dir=ctx.logs_for("webhooks"))
    files = ctx.workdir(stack, "requests")
    duration, warmup = ctx.pick(10, 3), ctx.pick(2, 1)
    cursor = {"next": 0}  # one steady mix across all runs: each call's webhooks stay in order
    result: dict = {"calls": len(calls), "first_pass": first_pass, "generator": ctx.generator,
                    "duration_s": duration, "warmup_s": warmup}
    for connections in (1, 16):
        row = {}
        for target_name, target in (("ours", server), ("bare", bare)):
            for tag, seconds in (("warmup", warmup), ("measure", duration)):  # the warm-up's figures are dropped
                figures = _load(ctx, files, sender, calls, cursor, target, f"{target_name}-c{connections}-{tag}",
                                connections, seconds)
            row[target_name] = figures.as_dict()
            _require_alive(target)
            say(f"webhooks: {target_name} at {connections} connection(s): {row[target_name]['requests_per_s']} req/s, "
                f"p99 {row[target_name]['p99_ms']} ms, non-2xx {row[target_name]['non_2xx']}")
        row["throughput_ratio"] = ratio(row["ours"]["requests_per_s"], row["bare"]["requests_per_s"])
        row["p99_ratio"] = ratio(row["ours"]["p99_ms"], row["bare"]["p99_ms"])
        result[f"c{connections}"] = row
    return result


def _place_calls(server: Process, slack, plivo: TimedPlivoApi, count: int) -> list[PlacedCall]:
    """Create `count` calls through /voiceotp, and return them as Plivo was asked to place them."""
    say(f"webhooks: placing {count} calls through /voiceotp")
    offset = len(plivo.arrivals)

    def command(i: int) -> Sent:
        # A channel each: Slack's pace of one new message a second per channel would keep the
        # workers posting all through the measurement, which is of the webhooks alone.
        return slash_command(server.url, number(4000 + i), response_url=slack.response_url(f"wh-{i}"),
                             channel=f"C0WH{i:05d}")

    sent = in_parallel(command, list(range(count)), workers=4)
    refused = [one for one in sent if one.status != 200]
    if refused:
        say(f"webhooks: {len(refused)} of {count} commands were not acked with 200: {status_counts(refused)}")
    if not plivo.wait_for_arrivals(offset + count - len(refused), time.monotonic() + 60 + count / 10):
        say(f"webhooks: only {len(plivo.arrivals) - offset} of {count} calls reached Plivo; going on with those")
    bodies = {token_of(body): body for body in plivo.bodies()[offset:] if body.get("answer_url")}
    if not bodies:
        raise BenchError("no call reached the Plivo stand-in: nothing to send webhooks for")
    run = uuid.uuid4().hex[:8]
    return [placed_call(body, f"bench-{run}-{i:04d}") for i, body in enumerate(bodies.values())]


def _slack_quiet(slack, quiet: float = 1.0, timeout: float = 60.0) -> float | None:
    """Wait until the server has sent Slack nothing for `quiet` seconds (its status messages posted
    and updated); how long that took, or None if it never went quiet."""
    began = time.monotonic()
    seen, since = len(slack.requests), time.monotonic()
    while time.monotonic() - began < timeout:
        time.sleep(0.1)
        if len(slack.requests) != seen:
            seen, since = len(slack.requests), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return round(since - began, 2)
    say("webhooks: the server kept talking to Slack; measuring anyway")
    return None


def _first_pass(server: Process, sender, calls: list[PlacedCall]) -> dict:
    """Ring, then answer, each call once: Plivo's order, so later key presses find an answered call."""
    def ring_and_answer(call: PlacedCall) -> tuple[Sent, Sent]:
        return send(server.url, webhook(sender, call, "ring")), send(server.url, webhook(sender, call, "answer"))

    pairs = in_parallel(ring_and_answer, calls, workers=4)
    sent = [one for pair in pairs for one in pair]
    return {"requests": len(sent), "status_counts": status_counts(sent),
            # The voicemail guard's answer asks for a key: the server knew the call.
            "answers_with_getdigits": sum(1 for _, answer in pairs if "<GetDigits" in answer.text)}


def _load(ctx: Context, files: Path, sender, calls: list[PlacedCall], cursor: dict, target: Process,
          tag: str, connections: int, seconds: float) -> LoadResult:
    """Build a file of fresh signed webhooks for one run, and run the load generator over it."""
    count = max(len(calls) * 3, math.ceil(seconds * RATE_BOUND))
    mix = steady_mix(sender, calls, count, start=cursor["next"])
    cursor["next"] += count  # the next file goes on where this one stops
    path = write_request_file(files / f"{tag}.requests", mix, host=target.url.removeprefix("http://"))
    port = int(target.url.rsplit(":", 1)[1])
    return run_load(ctx.generator, port=port, request_file=path, connections=connections, duration=seconds)


def _require_alive(server: Process) -> None:
    if not server.alive():
        raise BenchError(f"{server.name} died under load; log: {server.log_path}")


# -- 3. alert_50 ----------------------------------------------------------------------

ALERT_RECIPIENTS = 50
ALERT_CPS = 10


def alert_50(ctx: Context) -> dict:
    return isolated(ctx, "alert_50", 150, _alert_50)


def _alert_50(ctx: Context, stack: ExitStack) -> dict:
    slack, plivo = start_standins(stack, 0.2)
    server = scenario_server(ctx, stack, "alert_50", slack, plivo, PLIVO_CPS=str(ALERT_CPS))
    numbers = [number(5000 + i) for i in range(ALERT_RECIPIENTS)]
    text = " ".join(numbers) + " Bench: the primary database is down"
    acked = slash_command(server.url, text, command="/voicealert", response_url=slack.response_url("alert"))
    if acked.status != 200:
        raise BenchError(f"/voicealert was answered {acked.status}: {acked.text[:200]!r}; log: {server.log_path}")
    say(f"alert_50: acked in {acked.ms:.0f} ms, waiting for {ALERT_RECIPIENTS} create-calls")
    plivo.wait_for_arrivals(ALERT_RECIPIENTS, acked.at + 60)
    times = plivo.arrival_times()
    floor = (ALERT_RECIPIENTS - 1) / ALERT_CPS
    last = times[ALERT_RECIPIENTS - 1] - acked.at if len(times) >= ALERT_RECIPIENTS else None
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    return {
        "recipients": ALERT_RECIPIENTS,
        "plivo_cps": ALERT_CPS,
        "plivo_delay_ms": 200,
        "ack_ms": round(acked.ms, 1),
        "created_calls": len(times),
        "distinct_numbers_called": len({body.get("to") for body in plivo.bodies()}),
        "first_call_s": round(times[0] - acked.at, 3) if times else None,
        "time_to_50th_s": None if last is None else round(last, 3),
        "floor_s": floor,
        "ratio_to_floor": ratio(last, floor),
        "max_in_1s": max_in_window(times),
        # How evenly the calls came: the shortest and longest gap between two arrivals.
        "gap_ms": {"min": round(min(gaps) * 1000, 1), "max": round(max(gaps) * 1000, 1)} if gaps else None,
    }


# -- 4. two_instances -----------------------------------------------------------------

TWO_CPS = 5


def two_instances(ctx: Context) -> dict:
    return isolated(ctx, "two_instances", ctx.pick(360, 180), _two_instances)


def _two_instances(ctx: Context, stack: ExitStack) -> dict:
    database_url = fresh_schema(stack, ctx.postgres_url)
    slack, plivo = start_standins(stack, 0.02)
    port_a, port_b = free_port(), free_port()
    shared = {"database_url": database_url, "public_url": f"http://127.0.0.1:{port_a}",
              "PLIVO_CPS": str(TWO_CPS), "API_KEYS": API_KEY}
    # One after the other: the first creates the tables, so the second never races it.
    servers = [scenario_server(ctx, stack, "two_instances.a", slack, plivo, group="two_instances", port=str(port_a), **shared),
               scenario_server(ctx, stack, "two_instances.b", slack, plivo, group="two_instances", port=str(port_b), **shared)]
    count = ctx.pick(200, 40)
    say(f"two_instances: {count} code requests through POST /api/v1/otp, alternating between the two")
    began = time.monotonic()
    sent = in_parallel(lambda i: api_code_request(servers[i % 2].url, number(6000 + i)), list(range(count)),
                       workers=4)
    sent_s = time.monotonic() - began
    accepted = sum(1 for one in sent if one.status == 202)
    plivo.wait_for_arrivals(accepted, began + count / TWO_CPS * 1.5 + 30)
    time.sleep(3)  # a duplicate placed late would still show
    for server in servers:
        _require_alive(server)
    times, bodies = plivo.arrival_times(), plivo.bodies()
    floor = (count - 1) / TWO_CPS
    placed_s = max(times) - began if times else None
    return {
        "instances": 2,
        "plivo_cps": TWO_CPS,
        "requests": count,
        "status_counts": status_counts(sent),
        "send_s": round(sent_s, 2),
        "created_calls": len(times),
        "duplicates": duplicates(token_of(body) for body in bodies),
        "max_in_1s": max_in_window(times),
        "time_to_place_all_s": None if placed_s is None else round(placed_s, 2),
        "floor_s": floor,  # (n - 1) / PLIVO_CPS: one limit for the account, as Plivo counts it
        "ratio_to_floor": ratio(placed_s, floor),
    }


SCENARIOS = {"ack": ack, "webhooks": webhooks, "alert_50": alert_50, "two_instances": two_instances,
             "intake": intake}
