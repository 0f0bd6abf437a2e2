"""The HTTP host: one Flask app serving Slack, Plivo's webhooks and /healthz."""

from answer_server.app import create_app

__all__ = ["create_app"]
