"""The durable work queue: work items, the workers that run them, wake-ups, and rate slots shared by
every process; and its depth, for the metrics.

Uses: voice.store, voice.clock, voice.log_context, voice.metrics.
"""
