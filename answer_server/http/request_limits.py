"""How much of a request the server reads, and for how long: the bounds every route shares.

The web server (answer_server/http/buffered_worker.py, and waitress in the sandbox) holds every
request to them before the application sees it; the application holds its own reads to them
too (Flask's MAX_CONTENT_LENGTH), whichever server runs it.
"""

#: The largest request body, on every route. Slack's and Plivo's requests are a few KiB.
MAX_BODY_BYTES = 64 * 1024
#: The largest request line and headers together. Slack's and Plivo's are under 2 KiB; a proxy adds some.
MAX_HEAD_BYTES = 32 * 1024
#: How long a request, from its first byte, may take to arrive whole (Slack and Plivo send it at once).
REQUEST_SECONDS = 10
#: The most fields a form may have (Plivo's callbacks carry about 30; Slack's commands about 15).
MAX_FORM_FIELDS = 200
