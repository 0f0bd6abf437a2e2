"""Every call placed (a leg), whatever it is for: its lifecycle, dialling and pacing, outcomes, the
Plivo client, phone numbers and which may be called, and the limits on phoning. What a call says is
decided by what it is for (voice.codes, voice.alerts, voice.testcall).

Uses: voice.store, voice.queue, voice.clock, voice.log_context, voice.metrics.
"""
