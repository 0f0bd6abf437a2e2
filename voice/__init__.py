"""The call domain: settings, phone numbers, the Plivo REST client, the store
and the lifecycle of a call.

This package knows nothing of Flask or Slack; `bot/` and `answer_server/` use it.
"""
