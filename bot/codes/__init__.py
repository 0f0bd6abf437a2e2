"""`/voiceotp`: the command parsed, its listener, what the bot says about a code, and the code's status
message kept up to date.

Uses: bot.app, bot.delivery, bot.directory, bot.messages, bot.mrkdwn, voice.
"""
