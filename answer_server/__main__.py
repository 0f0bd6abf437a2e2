"""`python -m answer_server`: serve Slack, Plivo's webhooks and /healthz."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from dotenv import dotenv_values

from answer_server.logs import configure_logging
from voice.settings import VARIABLES, SettingsError, load_settings

log = logging.getLogger("answer_server")

SWEEP_INTERVAL = 60  # seconds between looks for calls Plivo never reported on


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sandbox:
        return run_sandbox()
    environ = {**dotenv_values(".env"), **os.environ}  # the real environment wins
    try:
        settings = load_settings(environ)
    except SettingsError as error:
        return report_problems(error)
    configure_logging(settings.log_level, settings.secrets())

    # Imported here so --help and configuration errors stay fast and quiet.
    import waitress

    from answer_server.app import create_app

    app = create_app(settings)
    start_background_work(app)
    log.info("VoiceBridge listening on http://%s:%s (public URL %s)", settings.host, settings.port, settings.public_url)
    waitress.serve(app, host=settings.host, port=settings.port, threads=8, ident="voicebridge")
    return 0


def run_sandbox() -> int:
    """The real app against in-process stand-ins of Slack and Plivo, with a console."""
    from answer_server.sandbox import create_sandbox_app, load_sandbox_settings
    from answer_server.sandbox.app import SERVER_THREADS

    try:
        # The process environment only, never .env: a .env is for the real deployment.
        settings, speed = load_sandbox_settings(os.environ)
    except SettingsError as error:
        return report_problems(error)
    for name in PROXY_VARIABLES:
        # Every request a sandbox makes goes to itself; a proxy would only get in the way.
        os.environ.pop(name, None)
    configure_logging(settings.log_level, settings.secrets())
    import waitress

    app = create_sandbox_app(settings, speed=speed)
    start_background_work(app)
    server = waitress.create_server(app, host=settings.host, port=settings.port, threads=SERVER_THREADS,
                                    ident="voicebridge-sandbox")
    print(f"Sandbox console: http://127.0.0.1:{settings.port}/sandbox — no real calls are placed", flush=True)
    server.run()
    return 0


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def report_problems(error: SettingsError) -> int:
    for problem in error.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    width = max(len(name) for name, _, _ in VARIABLES)
    lines = [f"  {name:<{width}}  {meaning}" + (f" (default: {default})" if default else " (required)")
             for name, meaning, default in VARIABLES]
    parser = argparse.ArgumentParser(
        prog="python -m answer_server",
        description="Serve the VoiceBridge Slack app: POST /slack/events for Slack, "
        "/plivo/… for Plivo's callbacks and GET /healthz, with a production WSGI server (waitress).",
        epilog="Configuration comes from environment variables, also read from a .env file "
        "in the working directory (the environment wins):\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sandbox", action="store_true",
        help="try everything with no accounts: Slack and Plivo are simulated in this process, and a console "
        "at http://127.0.0.1:PORT/sandbox shows the channel and what each callee hears. No real call is placed; "
        "only DATABASE_URL (default sqlite:///voicebridge-sandbox.sqlite3), HOST (default 127.0.0.1), PORT, "
        "LOG_LEVEL and SANDBOX_SPEED (1 = real time, 20 = twenty times faster) are read, from the environment only.",
    )
    return parser.parse_args(argv)


def start_background_work(app) -> None:
    """What runs beside the requests: the stale-call sweep, and the due alert jobs."""
    start_sweeper(app)
    # Alert retries and escalations are jobs in the database: this runs the due ones.
    app.extensions["voicebridge"]["scheduler"].start_polling()


def start_sweeper(app) -> threading.Thread:
    """Close calls that never got a final callback: codes are erased, alerts move on."""
    services = app.extensions["voicebridge"]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(SWEEP_INTERVAL):
            for service in (services["calls"], services["alerts"]):
                try:
                    service.expire_stale()
                except Exception:
                    log.exception("sweeping stale calls failed")

    thread = threading.Thread(target=loop, name="stale-call-sweeper", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    sys.exit(main())
