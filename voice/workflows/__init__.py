"""Workflow Builder steps: each waits, in the database, for the alert or call it started to end.

Uses: voice.store, voice.queue, voice.clock, voice.log_context, voice.metrics.
"""
