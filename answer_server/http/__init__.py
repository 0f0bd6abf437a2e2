"""What the web server holds every request to: gunicorn's worker that reads each request whole before a
thread serves it, and the bounds every route shares.

Uses: nothing of ours.
"""
