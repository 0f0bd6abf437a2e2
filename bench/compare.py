"""`python -m bench.compare NAME=TREE NAME=TREE … [--rounds N] [--seconds S] [--json FILE]`

Several source trees of the server (a checkout each: `before=/tmp/before after=.`) measured in one
run, side by side, on the webhooks' steady mix: on a noisy machine a difference of a few percent
between two separate `python -m bench` runs is lost in the noise, while here every round gives
each server the same machine within seconds of the others.

- lockstep: one signed webhook to each server in turn, single-threaded; the median latency of each.
- rounds: short wrk runs at 1 and 16 connections, servers in rotation; for each, requests/s and the
  CPU time its processes (web workers, master, work-queue worker) spent per request, read from
  /proc: CPU per request is what a change costs, whatever else the machine is doing.

Progress goes to stderr, the figures (JSON) to stdout and FILE.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.load import available_generator, run_load, write_request_file
from bench.machine import session_cpu_seconds
from bench.runner import say
from bench.scenarios import RATE_BOUND, _first_pass, _place_calls, _slack_quiet
from bench.servers import BenchError, free_port, start_voicebridge, voicebridge_env
from bench.standins import start_standins
from bench.traffic import plivo_sender, send, steady_mix

CALLS = 120
LOCKSTEP_REQUESTS = 600


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=_tree, metavar="NAME=TREE",
                        help="a name, and the directory of a checkout whose answer_server is run")
    parser.add_argument("--rounds", type=int, default=5, help="wrk runs per server and connection count (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run (default 5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE")
    return parser.parse_args(argv)


def _tree(value: str) -> tuple[str, Path]:
    name, _, path = value.partition("=")
    tree = Path(path).resolve()
    if not name or not (tree / "answer_server").is_dir():
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=DIR, DIR a checkout holding answer_server/")
    return name, tree


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if available_generator("auto") != "wrk":
        raise SystemExit("bench.compare needs wrk (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="voicebridge-compare-"))
    with ExitStack() as stack:
        slack, plivo = start_standins(stack, 0.02)
        servers = {name: _start(stack, work, name, tree, slack, plivo) for name, tree in args.trees}
        _slack_quiet(slack)
        output = {"trees": {name: str(tree) for name, tree in args.trees},
                  "lockstep_median_ms": _lockstep(servers),
                  "rounds": _rounds(servers, work, args.rounds, args.seconds)}
    text = json.dumps(output, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


def _start(stack: ExitStack, work: Path, name: str, tree: Path, slack, plivo) -> dict:
    port = free_port()
    (work / name).mkdir()
    env = voicebridge_env(port=port, slack_api_url=slack.base_url, plivo_api_url=plivo.base_url,
                          database_url=f"sqlite:///{work / name / 'voice.sqlite3'}") | {"PYTHONPATH": str(tree)}
    server = start_voicebridge(stack, name=name, workdir=work / name / "cwd", log_dir=work, env=env)
    calls = _place_calls(server, slack, plivo, CALLS)
    sender = plivo_sender(server.url)
    _first_pass(server, sender, calls)
    return {"server": server, "sender": sender, "calls": calls, "next": 0}


def _lockstep(servers: dict) -> dict:
    say(f"compare: {LOCKSTEP_REQUESTS} webhooks to each server in turn")
    mixes = {name: steady_mix(s["sender"], s["calls"], LOCKSTEP_REQUESTS) for name, s in servers.items()}
    latencies: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(LOCKSTEP_REQUESTS):
        for name, s in servers.items():
            sent = send(s["server"].url, next(mixes[name]))
            if sent.status != 200:
                raise BenchError(f"{name} answered {sent.status}: {sent.text[:200]!r}")
            latencies[name].append(sent.ms)
    for s in servers.values():
        s["next"] = LOCKSTEP_REQUESTS
    return {name: round(statistics.median(values), 3) for name, values in latencies.items()}


def _rounds(servers: dict, work: Path, rounds: int, seconds: float) -> dict:
    rows: dict = {name: {"c1": [], "c16": []} for name in servers}
    for round_ in range(rounds):
        for connections in (1, 16):
            for name, s in random.sample(list(servers.items()), len(servers)):  # no server always first
                rows[name][f"c{connections}"].append(_one_run(s, work / f"{name}-{round_}-{connections}.requests",
                                                              connections, seconds))
                last = rows[name][f"c{connections}"][-1]
                say(f"compare: round {round_ + 1}, {name} at {connections}: {last['requests_per_s']} req/s, "
                    f"{last['cpu_ms_per_request']} ms CPU a request")
    return {name: {key: _summary(runs) for key, runs in by.items()} for name, by in rows.items()}


def _one_run(s: dict, path: Path, connections: int, seconds: float) -> dict:
    count = max(len(s["calls"]) * 3, math.ceil(seconds * RATE_BOUND))
    mix = steady_mix(s["sender"], s["calls"], count, start=s["next"])
    s["next"] += count
    server = s["server"]
    write_request_file(path, mix, host=server.url.removeprefix("http://"))
    before = session_cpu_seconds(server.process.pid)
    figures = run_load("wrk", port=int(server.url.rsplit(":", 1)[1]), request_file=path,
                       connections=connections, duration=seconds).as_dict()
    spent = session_cpu_seconds(server.process.pid) - before
    path.unlink()
    return {"requests_per_s": figures["requests_per_s"], "p99_ms": figures["p99_ms"], "non_2xx": figures["non_2xx"],
            "cpu_ms_per_request": round(spent * 1000 / max(1, figures["requests"]), 3)}


def _summary(runs: list[dict]) -> dict:
    return {"median_requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
            "median_cpu_ms_per_request": statistics.median(r["cpu_ms_per_request"] for r in runs),
            "median_p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs), "runs": runs}


if __name__ == "__main__":
    sys.exit(main())
