"""The routes monitoring posts alerts to: Alertmanager and Grafana, a generic webhook, and drop-in
Opsgenie- and PagerDuty-shaped endpoints. Each checks the integration's token before it parses the
body, hands the event to voice.incidents in one transaction, and answers as the imitated API does.

Uses: answer_server.http, voice.
"""
