"""The call domain: settings, phone numbers, the Plivo REST client, the store,
the lifecycle of a call, alerts and their escalation, and scheduled jobs.

This package knows nothing of Flask or Slack; `bot/` and `answer_server/` use it.
"""
