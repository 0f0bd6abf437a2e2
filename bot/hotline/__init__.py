"""The hotline in Slack: one message per call in the hotline's channel, following it live (ringing whom,
connected with whom and for how long, or the voicemail and its transcript).

Uses: bot.app, bot.delivery, bot.directory, bot.messages, bot.mrkdwn, voice.
"""
