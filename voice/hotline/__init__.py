"""The hotline: a Plivo number that reaches whoever is on call. The caller waits in a conference room while
the hotline's recipients are phoned, link by link (an alert of its own: the first who presses 1 is put
through); nobody takes it within HOTLINE_WAIT, and the caller leaves a voicemail. Once it is over, someone
in Slack may call the caller back (a voice bridge of its own).

Uses: voice.store, voice.queue, voice.calls, voice.alerts, voice.speech, voice.clock, voice.log_context,
voice.metrics.
"""
