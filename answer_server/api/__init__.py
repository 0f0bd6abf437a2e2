"""The HTTP API for apps (/api/v1): its routes, its requests and answers, and its OpenAPI description.

Uses: voice.
"""
