"""The app installed in many workspaces: Slack's OAuth flow, the installations sealed in our database,
and which bot token speaks for which workspace.

Uses: voice.
"""
