"""On-call schedules in Slack: the hand-off (the user group set to who is on call, the notices), and
`/oncall`.

Uses: bot.app, bot.delivery, bot.directory, bot.installs, bot.messages, bot.mrkdwn, voice.
"""
