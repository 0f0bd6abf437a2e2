"""`/voicealert`: the command parsed, the form, the listeners and buttons, the alert's message, the work
of opening an alert (its people looked up), and the voice bridge's "Join the call".

Uses: bot.app, bot.clicks, bot.delivery, bot.directory, bot.hotline, bot.integrations, bot.messages, bot.mrkdwn,
voice.
"""
