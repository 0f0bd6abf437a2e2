"""`python -m answer_server`: serve Slack, Plivo's webhooks, the API and /healthz, and run the work.

    python -m answer_server            the web server and the worker process (the one command)
    python -m answer_server web        only the web server (workers run elsewhere)
    python -m answer_server worker     only the workers, for deployments that separate them
    python -m answer_server migrate    bring the database's schema up to date, then exit
    python -m answer_server --sandbox  everything against in-process stand-ins of Slack and Plivo
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from functools import partial

from dotenv import dotenv_values

from answer_server.logs import configure_logging
from voice.settings import (
    REQUIRED_UNLESS,
    VARIABLES,
    Settings,
    SettingsError,
    load_settings,
)

log = logging.getLogger("answer_server")

COMMANDS = ("serve", "web", "worker", "migrate")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sandbox:
        return run_sandbox()
    try:
        settings = load_settings(environment())
    except SettingsError as error:
        return report_problems(error)
    configure_logging(settings.log_level, settings.secrets(), settings.log_format)
    command = args.command or "serve"
    if command == "migrate":
        return migrate(settings)
    if settings.routing_file:
        log.info("routing: %s from %s%s", settings.routing.described(), settings.routing_file,
                 " (worker process)" if command == "worker" else "")
    if command == "worker":
        return worker(settings, parent_pid=os.getppid() if args.child else None)
    return serve(settings, with_workers=command == "serve")


def environment() -> dict[str, str]:
    """The variables settings are read from, ROUTING_FILE's token_env ones included."""
    return {**dotenv_values(".env"), **os.environ}  # the real environment wins


def routing_reader(settings: Settings):
    """ROUTING_FILE read again, as at start-up, with the .env of the moment (SIGHUP)."""
    from voice.routing.loading import load_routing

    return lambda: load_routing(settings.routing_file, environment())


def serve(settings: Settings, *, with_workers: bool) -> int:
    shared = _share_metrics(settings)  # before prometheus_client is imported, here or in a child
    try:
        return _serve(settings, with_workers=with_workers)
    finally:
        if shared:
            shutil.rmtree(shared, ignore_errors=True)


def _share_metrics(settings: Settings) -> str | None:
    """With metrics on, every process of this server writes its figures to one fresh directory, and a
    scrape of any of them adds them up (prometheus_client's multiprocess mode, chosen at its import).
    An operator's own PROMETHEUS_MULTIPROC_DIR is kept (and must be emptied between runs)."""
    if not (settings.metrics_token or settings.metrics_port) or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    directory = tempfile.mkdtemp(prefix="voicebridge-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def _serve(settings: Settings, *, with_workers: bool) -> int:
    # Imported here so --help and configuration errors stay fast and quiet.
    from answer_server.app import create_app
    from answer_server.server import WebServer, WorkerProcess

    if migrate(settings) != 0:
        return 1
    workers = WorkerProcess([sys.executable, "-m", "answer_server", "worker", "--child"]).start() \
        if with_workers else None
    log.info("VoiceBridge listening on http://%s:%s (public URL %s): %s web processes × %s threads%s",
             settings.host, settings.port, settings.public_url, settings.web_concurrency, settings.threads,
             ", and a worker process" if workers else "; no workers here")
    # The worker process writes ROUTING_FILE to the database (at its start, on SIGHUP); the web processes read it.
    app_factory = partial(create_app, keeps_routing=workers is None)
    WebServer(settings, app_factory, on_exit=workers.stop if workers else lambda: None,
              read_routing=routing_reader(settings),
              on_routing=workers.reread_routing if workers else lambda: None).run()
    return 0


def worker(settings: Settings, *, parent_pid: int | None) -> int:
    from answer_server.server import run_worker
    from answer_server.services import build_services

    return run_worker(build_services(settings), parent_pid=parent_pid, read_routing=routing_reader(settings))


def migrate(settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from answer_server.services import otp_key
    from voice.store.db import make_engine
    from voice.store.migrate import prepare_database
    from voice.store.sealing import SecretBox

    engine = make_engine(settings.database_url)
    try:
        # The key seals any code a first-release database kept in clear.
        prepare_database(engine, SecretBox(otp_key(settings)))
    except SQLAlchemyError as error:
        print(f"error: the database could not be prepared: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def run_sandbox() -> int:
    """The real app against in-process stand-ins of Slack and Plivo, with a console: one process."""
    from answer_server.sandbox import create_sandbox_app, load_sandbox_settings
    from answer_server.sandbox.app import SERVER_THREADS
    from answer_server.sandbox.monitoring import new_token

    try:
        # The process environment only, never .env: a .env is for the real deployment.
        settings, speed = load_sandbox_settings(os.environ)
    except SettingsError as error:
        return report_problems(error)
    for name in PROXY_VARIABLES:
        # Every request a sandbox makes goes to itself; a proxy would only get in the way.
        os.environ.pop(name, None)
    demo_token = new_token()  # sandbox-demo's, for this run: kept out of every log line like the other secrets
    configure_logging(settings.log_level, (*settings.secrets(), demo_token), settings.log_format)
    if settings.routing_file:
        log.info("routing: %s from %s, and the sandbox's own sandbox-demo", settings.routing.described(),
                 settings.routing_file)
    import waitress

    from answer_server.http.request_limits import MAX_ALERT_BODY_BYTES, MAX_HEAD_BYTES

    # Its workers run in this process, beside the stand-ins.
    app = create_sandbox_app(settings, speed=speed, demo_token=demo_token)
    # waitress reads each request whole before a thread serves it, within the same bounds as the server (the
    # largest body, monitoring's; the application holds every other route to its own).
    server = waitress.create_server(app, host=settings.host, port=settings.port, threads=SERVER_THREADS,
                                    ident="voicebridge-sandbox", max_request_body_size=MAX_ALERT_BODY_BYTES,
                                    max_request_header_size=MAX_HEAD_BYTES)
    print(f"Sandbox console: http://127.0.0.1:{settings.port}/sandbox — no real calls are placed", flush=True)
    server.run()
    return 0


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def report_problems(error: SettingsError) -> int:
    for problem in error.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 2


def _default_note(name: str, default: str | None) -> str:
    if name in REQUIRED_UNLESS:
        return f" (required, unless {REQUIRED_UNLESS[name]})"
    if default is None:
        return " (required)"
    return f" (default: {default})" if default else " (optional)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    width = max(len(name) for name, _, _ in VARIABLES)
    lines = [f"  {name:<{width}}  {meaning}" + _default_note(name, default) for name, meaning, default in VARIABLES]
    parser = argparse.ArgumentParser(
        prog="python -m answer_server",
        description="Serve the VoiceBridge Slack app: POST /slack/events for Slack, /plivo/… for Plivo's "
        "callbacks, /api/v1 and GET /healthz, with gunicorn, and run the work queue in a worker process.\n\n"
        "commands:\n"
        "  (none)   the web server and a worker process: the one command to run\n"
        "  web      only the web server (run the workers elsewhere)\n"
        "  worker   only the workers (any number, on any host sharing the database)\n"
        "  migrate  bring the database's schema up to date, then exit (the server also does it at start)",
        epilog="Configuration comes from environment variables, also read from a .env file "
        "in the working directory (the environment wins):\n" + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", choices=COMMANDS, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # a worker started by the server
    parser.add_argument(
        "--sandbox", action="store_true",
        help="try everything with no accounts: Slack and Plivo are simulated in this process, and a console "
        "at http://127.0.0.1:PORT/sandbox shows the channel and what each callee hears. No real call is placed; "
        "only DATABASE_URL (default sqlite:///voicebridge-sandbox.sqlite3), HOST (default 127.0.0.1), PORT, "
        "LOG_LEVEL, SANDBOX_SPEED (1 = real time, 20 = twenty times faster), INTEGRATION_CALL_INTERVAL (default 0) "
        "and ROUTING_FILE (read once, beside the built-in integration sandbox-demo) are read, from the environment "
        "only.",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
