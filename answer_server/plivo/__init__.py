"""Plivo's side of the HTTP host: the webhooks, the checks every request passes (V3 signatures, nonces,
the form), the Plivo XML they answer with, and the journal of callbacks kept through a database outage.

Uses: answer_server.http, voice.
"""
