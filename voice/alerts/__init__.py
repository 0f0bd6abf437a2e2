"""Alerts: who is called, in which order, until one acknowledges; what their calls do; and the voice
bridge that follows an acknowledgement.

Uses: voice.store, voice.queue, voice.calls, voice.speech, voice.workflows, voice.clock,
voice.log_context, voice.metrics.
"""
