"""The App Home's test call: a short call to someone's own profile number, to prove alerts reach them;
and the recent calls the Home tab lists beside it.

Uses: voice.store, voice.queue, voice.calls, voice.speech, voice.clock, voice.log_context, voice.metrics.
"""
