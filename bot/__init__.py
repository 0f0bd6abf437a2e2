"""The Slack side: Bolt's listeners, what they say, and the work of saying it in Slack.

One package per capability (codes, alerts, home, workflows, installs); beside them, what every
listener shares: the Bolt app and who may act (app), posting at Slack's pace (delivery), Slack's
directory (directory), the words they share (messages) and Slack's text format (mrkdwn).
It uses `voice`, never `answer_server` (the table: tests/test_layering.py).
"""
