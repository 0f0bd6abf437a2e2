"""Voice codes: generated or given, sealed until their call reads them, kept as a keyed hash, checked;
and what their calls do.

Uses: voice.store, voice.queue, voice.calls, voice.speech, voice.workflows, voice.clock,
voice.log_context, voice.metrics.
"""
