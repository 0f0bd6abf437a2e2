"""The comparator for the webhooks: a bare Flask route, the same path shape, `return "ok"`.

Served by gunicorn (2 workers, gthread, 8 threads each) in the same run as the
real server, it says what this machine does with a Flask request that does no
work, so "ours / bare" reads as a fraction of what the stack itself allows.
"""

from flask import Flask

app = Flask(__name__)


@app.post("/plivo/<kind>/<token>")
def webhook(kind: str, token: str) -> str:
    return "ok"


@app.get("/healthz")
def healthz() -> str:
    return "ok"
