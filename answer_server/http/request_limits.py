"""How much of a request the server reads, and for how long: the bounds every route shares.

The web server (answer_server/http/buffered_worker.py, and waitress in the sandbox) holds every
request to them before the application sees it; the application holds its own reads to them
too (Flask's MAX_CONTENT_LENGTH), whichever server runs it.
"""

#: The largest request body, on every route but monitoring's. Slack's and Plivo's requests are a few KiB.
MAX_BODY_BYTES = 64 * 1024
#: The largest body on the routes monitoring posts alerts to: an Alertmanager group of many alerts with
#: their annotations runs to hundreds of KiB.
MAX_ALERT_BODY_BYTES = 1024 * 1024
#: The paths that take monitoring's alerts (answer_server/integrations).
ALERT_PATH_PREFIXES = ("/integrations/", "/opsgenie/", "/pagerduty/")
#: The largest request line and headers together. Slack's and Plivo's are under 2 KiB; a proxy adds some.
MAX_HEAD_BYTES = 32 * 1024
#: How long a request, from its first byte, may take to arrive whole (Slack and Plivo send it at once).
REQUEST_SECONDS = 10
#: The most fields a form may have (Plivo's callbacks carry about 30; Slack's commands about 15).
MAX_FORM_FIELDS = 200


def body_cap(path: str) -> int:
    """The largest body a request to `path` may have."""
    return MAX_ALERT_BODY_BYTES if path.startswith(ALERT_PATH_PREFIXES) else MAX_BODY_BYTES
