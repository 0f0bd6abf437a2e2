"""The HTTP host: one Flask app serving Slack, Plivo's webhooks, the API and /healthz, and the
processes that run it. It uses `bot` and `voice`; neither uses it (the table: tests/test_layering.py).
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    # Imported on first use, not with the package: `python -m answer_server` must set up the
    # metrics' multiprocess mode before anything imports prometheus_client (answer_server/metrics.py).
    if name == "create_app":
        from answer_server.app import create_app

        return create_app
    raise AttributeError(name)
