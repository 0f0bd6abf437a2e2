"""On-call schedules in Slack: the hand-off (the user group set to who is on call, the notices), and
`/oncall`: who is on call now and next, a schedule's next shifts and calendar feed, overrides (cover,
list, remove), and the form that makes or changes a schedule.

Uses: bot.app, bot.delivery, bot.directory, bot.installs, bot.messages, bot.mrkdwn, voice.
"""
