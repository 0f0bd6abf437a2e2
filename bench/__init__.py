"""VoiceBridge's benchmark: the whole server process, driven over HTTP only.

`python -m bench` starts `python -m answer_server` against loopback stand-ins of
Slack and Plivo and prints one JSON document of figures. It reads nothing of the
server's internals, so the same run works on today's server and on a rewrite of
it, and the two outputs can be compared figure by figure. See bench/README.md.
"""
