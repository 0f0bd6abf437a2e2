"""`/voicealert integrations`: monitoring's integrations seen and managed from Slack: listed, added in
the channel that gets their alerts (a token shown once to whoever added it), given a new token,
removed. The command's text is parsed here; bot/alerts/listeners.py hands it over.

Uses: bot.app, bot.messages, bot.mrkdwn, voice.
"""
