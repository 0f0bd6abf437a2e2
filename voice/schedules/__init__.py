"""On-call schedules: a rotation of people in shifts, overrides on top, and who is on call when.

The arithmetic is pure (rotation.py: when each shift starts and ends, in the schedule's time zone;
oncall.py: who is on call, overrides applied; parsing.py: the written forms of shifts, hand-offs and
times). Modelled on GoAlert's schedule/rotation, oncall and override packages
(https://github.com/target/goalert), written for our own shapes.

Uses: voice.store, voice.queue, voice.clock, voice.log_context, voice.metrics.
"""
