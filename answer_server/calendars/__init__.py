"""The calendar feed of on-call schedules: GET /schedules/<name>.ics?token=…, the shifts (overrides
applied) as iCalendar (RFC 5545) for Google Calendar, Outlook or Apple Calendar to subscribe to.

Uses: voice.
"""
