"""Integrations as code: ROUTING_FILE, a YAML file, read whole into frozen values or a list of
problems (one line each, with its line number), and the holder through which the running server
sees the file it last read well (re-read on SIGHUP). Pure: reading the file is the only I/O.

Uses: voice.calls, voice.hotline, voice.intake, voice.schedules, voice.speech.
"""
