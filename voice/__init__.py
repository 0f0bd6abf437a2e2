"""The call domain: every call placed, voice codes, alerts, and the store and work queue beneath them.

It knows nothing of Flask or Slack and imports neither `bot` nor `answer_server`, which use it.
Its packages use each other one way only (the table: tests/test_layering.py).
"""
