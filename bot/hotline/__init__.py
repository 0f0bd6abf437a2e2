"""The hotline in Slack: one message per call in the hotline's channel, following it live (ringing whom,
connected with whom and for how long, or the voicemail and its transcript), and its Call back button (the
clicker is phoned, then the caller; its clicks are guarded as an alert's buttons are).

Uses: bot.app, bot.clicks, bot.delivery, bot.directory, bot.messages, bot.mrkdwn, voice.
"""
