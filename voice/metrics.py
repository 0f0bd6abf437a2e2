"""What the service counts, in Prometheus' model (https://prometheus.io/docs/practices/naming/).

The metrics are module-level objects of the official client, recorded where
things happen (a call ends, an item is retried, Plivo or Slack answers with an
error) and read by GET /metrics or METRICS_PORT (answer_server/metrics.py).
`python -m answer_server` runs several processes: it points the client's
multiprocess mode at one directory (PROMETHEUS_MULTIPROC_DIR) before any of
them starts, so a scrape of any process sees the sum of all
(https://prometheus.github.io/client_python/multiprocess/). What lives in the
database (the work queue's depth and oldest item) is read at scrape time, by
voice/queue/depth.py.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

CALLS = Counter("voicebridge_calls_total", "Calls that ended, by purpose (otp, alert) and outcome",
                ["purpose", "outcome"])
CALL_SECONDS = Histogram("voicebridge_call_duration_seconds", "Billed length of answered calls",
                         ["purpose"], buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300))
WEBHOOK_SECONDS = Histogram("voicebridge_webhook_seconds", "Time to answer a Plivo webhook, by event",
                            ["event"], buckets=_FAST)
ACK_SECONDS = Histogram("voicebridge_slack_ack_seconds", "Time to answer a request from Slack, by kind",
                        ["kind"], buckets=_FAST)
WORK_RETRIES = Counter("voicebridge_work_retries_total", "Work items to be tried again, by kind", ["kind"])
WORK_FAILURES = Counter("voicebridge_work_failures_total", "Work items that failed for good, by kind", ["kind"])
RATE_LIMITED = Counter("voicebridge_rate_limited_total",
                       "Work put back to wait for a rate slot (PLIVO_CPS, Slack's pace), by kind", ["kind"])
PLIVO_ERRORS = Counter("voicebridge_plivo_errors_total", "Failed requests to Plivo, by HTTP status or 'network'",
                       ["status"])
SLACK_ERRORS = Counter("voicebridge_slack_errors_total", "Failed requests to Slack, by HTTP status or 'network'",
                       ["status"])
INTEGRATION_EVENTS = Counter("voicebridge_integration_events_total",
                             "Events from monitoring taken, by source and what they did (opened, fired again, "
                             "acknowledged, resolved, updated, repeated, no open incident)", ["source", "outcome"])
REFUSALS = Counter("voicebridge_refusals_total", "Requests refused before any call, by kind", ["kind"])


def status_label(status: int | None) -> str:
    return str(status) if status else "network"
