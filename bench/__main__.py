"""`python -m bench [--quick] [--only ack,webhooks,alert_50,two_instances,intake] [--json FILE]`

Progress goes to stderr; the figures, one JSON document, to stdout (and FILE).
Exit status 1 when a scenario failed (its entry then has an "error" field).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.database import DEFAULT_POSTGRES
from bench.load import available_generator
from bench.machine import machine_info
from bench.runner import Context, say
from bench.scenarios import SCENARIOS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=_scenario_list, default=list(SCENARIOS),
                        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})")
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter runs: a smoke run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator for the webhooks (default: wrk when installed)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, metavar="URL",
                        help=f"PostgreSQL for two_instances and intake; a schema is created and dropped "
                             f"(default: {DEFAULT_POSTGRES})")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs even when all went well")
    return parser.parse_args(argv)


def _scenario_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {unknown}; choose from {','.join(SCENARIOS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="voicebridge-bench-logs-"))
    ctx = Context(quick=args.quick, log_dir=log_dir, generator=available_generator(args.generator),
                  postgres_url=args.postgres)
    began = time.monotonic()
    output: dict = {
        "run": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
                "scenarios": args.only, "load_generator": ctx.generator},
        "machine": machine_info(),
    }
    say(f"running {', '.join(args.only)}{' (quick)' if args.quick else ''}; server logs in {log_dir}")
    for name in args.only:
        output[name] = SCENARIOS[name](ctx)
    output["run"]["elapsed_s"] = round(time.monotonic() - began, 1)
    output["run"]["failed"] = ctx.failures
    text = json.dumps(output, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if ctx.failures or args.keep_logs:
        say(f"server logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    say(f"finished in {output['run']['elapsed_s']} s" + (f"; failed: {', '.join(ctx.failures)}" if ctx.failures else ""))
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
