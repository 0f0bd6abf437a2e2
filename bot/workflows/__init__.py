"""Workflow Builder's custom steps: a step runs a voice code's call or an alert as the commands do,
and completes when it ends.

Uses: bot.app, bot.codes, bot.alerts, bot.delivery, bot.directory, bot.messages, bot.mrkdwn, voice.
"""
