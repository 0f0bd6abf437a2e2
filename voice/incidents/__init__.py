"""Incidents from monitoring: integrations, and what each event from a source does to its incident.

An integration (ROUTING_FILE's, or added in Slack) turns one source's alerts into incidents, one per
integration and key: a trigger opens one (an alert, phoned as /voicealert's are) or is counted against
the open one; the source's acknowledge and resolve stop its calls. Each event is one transaction.

Uses: voice.store, voice.queue, voice.calls, voice.alerts, voice.intake, voice.routing, voice.clock,
voice.log_context, voice.metrics.
"""
