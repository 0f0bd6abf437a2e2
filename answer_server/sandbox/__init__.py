"""Try VoiceBridge with no accounts: `python -m answer_server --sandbox`.

Runs the real application; only Slack and Plivo are replaced, by stand-ins in
this package served under /sandbox/… (which exist only in sandbox mode).

Uses: answer_server.app, answer_server.plivo, voice.
"""

from answer_server.sandbox.app import create_sandbox_app
from answer_server.sandbox.settings import load_sandbox_settings, sandbox_settings

__all__ = ["create_sandbox_app", "load_sandbox_settings", "sandbox_settings"]
