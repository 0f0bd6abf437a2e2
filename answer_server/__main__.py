"""`python -m answer_server`: serve Slack, Plivo's webhooks and /healthz."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from dotenv import dotenv_values

from voice.settings import VARIABLES, SettingsError, load_settings

log = logging.getLogger("answer_server")

SWEEP_INTERVAL = 60  # seconds between looks for calls Plivo never reported on


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    environ = {**dotenv_values(".env"), **os.environ}  # the real environment wins
    try:
        settings = load_settings(environ)
    except SettingsError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets())

    # Imported here so --help and configuration errors stay fast and quiet.
    import waitress

    from answer_server.app import create_app

    app = create_app(settings)
    start_sweeper(app)
    # Alert retries and escalations are jobs in the database: this runs the due ones.
    app.extensions["voicebridge"]["scheduler"].start_polling()
    log.info("VoiceBridge listening on http://%s:%s (public URL %s)", settings.host, settings.port, settings.public_url)
    waitress.serve(app, host=settings.host, port=settings.port, threads=8, ident="voicebridge")
    return 0


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
    return parser.parse_args(argv)


class RedactingFormatter(logging.Formatter):
    """Replace any configured secret by [redacted], tracebacks included."""

    def __init__(self, fmt: str, secrets: tuple[str, ...]):
        super().__init__(fmt)
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: tuple[str, ...]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)


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
