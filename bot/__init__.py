"""The Slack side: Bolt listeners, command parsing, messages and reporting."""
