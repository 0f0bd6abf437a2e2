"""What a monitoring tool's request means, as pure functions: Alertmanager's and Grafana's webhooks, the
generic webhook, and Opsgenie's and PagerDuty's APIs, each parsed into Events (or a Rejected with the
reasons); whether an event phones (severity.py); and the token a request carries (credentials.py).

Uses: voice.speech.
"""
