"""The App Home tab: whether calls reach you, the test call, your next on-call shifts, your recent calls.

Uses: bot.app, bot.delivery, bot.directory, bot.installs, bot.messages, bot.mrkdwn, bot.oncall, voice.
"""
