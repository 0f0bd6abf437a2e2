"""`python -m answer_server --sandbox` as a person runs it, driven only as the console page drives it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.sandbox_process import ROOT, SandboxProcess

# Real-looking settings that a sandbox must never use: the URLs lead nowhere.
REAL = {"SLACK_BOT_TOKEN": "xoxb-real-token", "SLACK_SIGNING_SECRET": "real-signing-secret",
        "PLIVO_AUTH_ID": "MAREALREALREALREALRE", "PLIVO_AUTH_TOKEN": "real-plivo-token",
        "PLIVO_FROM_NUMBER": "+14155550199", "PUBLIC_URL": "http://127.0.0.1:9",
        "PLIVO_API_URL": "http://127.0.0.1:9", "SLACK_API_URL": "http://127.0.0.1:9/api/"}


@pytest.fixture
def sandbox(tmp_path):
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in REAL.items()) + "PORT=9\n")
    process = SandboxProcess(tmp_path, extra_env=REAL)
    yield process
    process.stop()
    print(process.output())  # shown when the test failed


def test_voiceotp_runs_end_to_end_in_the_sandbox_process_as_the_console_shows_it(sandbox):
    assert sandbox.wait_until_ready() == f"Sandbox console: {sandbox.url}/sandbox — no real calls are placed"
    console = sandbox.client
    assert console.command("/voiceotp +14155550123 483920").json() == {"ok": True}

    reply = console.wait_for(lambda s: next((m for m in s["messages"] if m["ephemeral"]), None))
    assert reply["text"].startswith(":telephone_receiver: Calling +1 415-555-0123…")
    console.press_when_asked("+14155550123")
    call = console.wait_for(lambda s: next((c for c in s["calls"] if c["state"] == "ended"), None), timeout=30)
    heard = [line["text"] for line in call["transcript"] if line["kind"] == "speak"]
    assert "Your code is: 4, 8, 3, 9, 2, 0." in heard and heard[-1] == "Goodbye."
    assert call["from"] == "+14155550100"  # the sandbox's own caller ID, not the real one
    final = console.wait_for(lambda s: next((m for m in s["messages"] if "code read · " in m["text"]), None),
                             timeout=30)
    assert re.search(r":white_check_mark: code read · \d+ s · \$[0-9.]+$", final["text"]), final["text"]
    output = sandbox.output()
    for secret in ("real-signing-secret", "real-plivo-token", "483920"):
        assert secret not in output


def test_help_documents_the_sandbox_and_its_speed(tmp_path):
    result = subprocess.run([sys.executable, "-m", "answer_server", "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0
    assert "--sandbox" in result.stdout and "SANDBOX_SPEED" in result.stdout
