"""The sandbox plays the hotline, through the console's endpoints as the page drives them: the built-in hotline
"Sandbox on call" phoned from the console (the simulated Plivo fetches the app's signed /plivo/hotline/answer
with Direction=inbound), its waiting room and wait sound, Alice's phone ringing with the press-1 prompt, and
the three endings: Alice takes it (both in one room), nobody does (the transfer to voicemail and a recording),
the caller hangs up while waiting. Every document the simulated Plivo fetches is checked against the Plivo XML
rules table, and no call meets an invalid one."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from answer_server.sandbox.callbacks import CallbackSender, Delivery
from answer_server.sandbox.hotline import CALLER, MESSAGE, NUMBER
from answer_server.sandbox.plivo_xml_rules import document_problems
from tests.sandbox_server import RunningSandbox
from tests.test_sandbox_monitoring import heard, start, stop
from voice.settings import SettingsError

ALICE, BOB = "+14155550101", "+14155550102"
GREETING = "You have reached Sandbox on call."
CONNECTING = "Connecting you to the engineer on call. Please stay on the line."
STILL_TRYING = "Still trying to reach someone. Please stay on the line."


class Recorder(CallbackSender):
    """The simulated Plivo's requests to the app, and what came back: each is sent as before, and kept."""

    def __init__(self, sender: CallbackSender):
        self._sender = sender
        self._lock = threading.Lock()
        self.sent: list[tuple[str, dict, Delivery]] = []

    def send(self, url: str, method: str, params: dict[str, str]) -> Delivery:
        delivery = self._sender.send(url, method, params)
        with self._lock:
            self.sent.append((url, dict(params), delivery))
        return delivery

    def to(self, path: str) -> list[tuple[str, dict, Delivery]]:
        with self._lock:
            return [sent for sent in self.sent if path in sent[0]]

    def wait_for(self, path: str, timeout: float = 10) -> list[tuple[str, dict, Delivery]]:
        deadline = time.monotonic() + timeout
        while not self.to(path):
            assert time.monotonic() < deadline, f"nothing sent to {path}"
            time.sleep(0.02)
        return self.to(path)

    def documents(self) -> list[bytes]:
        with self._lock:
            return [delivery.body for _, _, delivery in self.sent
                    if delivery.content_type.startswith(("text/xml", "application/xml"))]


@pytest.fixture
def sandbox(tmp_path):
    running, server = start(tmp_path, speed=20)
    sim = running.app.extensions["sandbox"]["simulator"]
    sim.sender = Recorder(sim.sender)
    yield running
    stop(running, server)


def recorder(sandbox: RunningSandbox) -> Recorder:
    return sandbox.app.extensions["sandbox"]["simulator"].sender


def console(sandbox: RunningSandbox, path: str, body: dict | None = None, status: int = 200) -> dict:
    reply = requests.post(f"{sandbox.url}/sandbox/api/{path}", json=body or {}, timeout=10)
    assert reply.status_code == status, reply.text
    return reply.json()


def call_the_hotline(sandbox: RunningSandbox, caller: str | None = None) -> str:
    answer = console(sandbox, "hotline/call", {"from": caller} if caller else {})
    assert answer["ok"]
    return answer["call_uuid"]


def the_call(sandbox: RunningSandbox, call_uuid: str, when=lambda call: True, timeout: float = 20) -> dict:
    return sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["call_uuid"] == call_uuid and when(c)), None),
                            timeout=timeout)


def phone_of(sandbox: RunningSandbox, number: str, when=lambda call: True, timeout: float = 20) -> dict:
    return sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == number and when(c)), None),
                            timeout=timeout)


def hotline_message(sandbox: RunningSandbox, showing: str) -> dict:
    return sandbox.wait_for(lambda s: next((m for m in s["messages"] if m["channel"] == "C0SANDBOX"
                                            and "Incoming call to *Sandbox on call*" in m["text"]
                                            and showing in m["text"]), None))


def assert_every_document_was_valid(sandbox: RunningSandbox) -> None:
    documents = recorder(sandbox).documents()
    assert documents
    for document in documents:
        assert document_problems(document) == [], document.decode()
    for call in sandbox.state()["calls"]:
        assert [line for line in call["transcript"] if line["kind"] == "error"] == [], call
        assert call["ending"] is None or call["ending"]["code"] not in (7011, 7012, 8011, 8012), call


def test_alice_takes_the_call_both_are_connected_in_one_room_and_the_message_follows_it(sandbox):
    caller_uuid = call_the_hotline(sandbox)
    (answer_url, answered, _), = recorder(sandbox).wait_for("/plivo/hotline/answer")
    assert answer_url == f"{sandbox.url}/plivo/hotline/answer"
    assert answered["Direction"] == "inbound" and answered["CallStatus"] == "ringing"
    assert (answered["From"], answered["To"], answered["CallUUID"]) == (CALLER[1:], NUMBER[1:], caller_uuid)
    assert "RequestUUID" not in answered  # an inbound call was placed by no API request
    # The caller: the greeting, then the waiting room, whose wait sound says it is still trying.
    caller = the_call(sandbox, caller_uuid, lambda c: STILL_TRYING in heard(c))
    assert caller["direction"] == "inbound" and caller["from"] == CALLER and caller["to"] == NUMBER
    assert heard(caller).index(GREETING) < heard(caller).index(CONNECTING) < heard(caller).index(STILL_TRYING)
    assert caller["conference"]["started"] is False and caller["conference"]["with"] == []
    assert recorder(sandbox).to("/plivo/hotline/hold/")
    # Alice's phone rings with who is calling and the press-1 prompt; the channel says whom it rings.
    alice = phone_of(sandbox, ALICE, lambda c: c["listening"])
    assert "Incoming call for Sandbox on call from 4 1 5 5 5 5 0 1 4 2." in heard(alice)
    assert "Press 1 to take it." in heard(alice)
    message = hotline_message(sandbox, "ringing <@U0ALICE>")
    assert "+1 415-•••-0142" in message["text"] and CALLER not in json.dumps(message)

    console(sandbox, f"calls/{alice['call_uuid']}/digits", {"digits": "1"})
    alice = the_call(sandbox, alice["call_uuid"], lambda c: (c["conference"] or {}).get("with") == [CALLER])
    caller = the_call(sandbox, caller_uuid, lambda c: (c["conference"] or {}).get("with") == [ALICE])
    assert alice["conference"]["room"] == caller["conference"]["room"]
    assert alice["conference"]["started"] and caller["conference"]["started"]
    assert "Connecting you to the caller." in heard(alice) and "[connected: with +14155550101]" in heard(caller)
    hotline_message(sandbox, "connected with <@U0ALICE>")

    # The caller hangs up: the room ends, Alice hears goodbye, and the message says it ended.
    console(sandbox, f"calls/{caller_uuid}/hangup")
    caller = the_call(sandbox, caller_uuid, lambda c: c["state"] == "ended")
    assert caller["ending"]["source"] == "Caller"
    assert recorder(sandbox).wait_for("/plivo/hotline/hangup")[0][1]["CallUUID"] == caller_uuid
    alice = the_call(sandbox, alice["call_uuid"], lambda c: c["state"] == "ended")
    assert "[the conference ended]" in heard(alice) and heard(alice).endswith("Goodbye. call ended: completed, "
                                                                              "Normal Hangup (4000)")
    message = hotline_message(sandbox, "ended")
    assert "connected with <@U0ALICE>" in message["text"]
    assert not [c for c in sandbox.state()["calls"] if c["to"] == BOB]  # the chain stopped at Alice
    assert_every_document_was_valid(sandbox)


def test_nobody_takes_it_so_the_caller_is_moved_to_voicemail_and_a_simulated_recording_is_posted(sandbox):
    caller_uuid = call_the_hotline(sandbox, "+14155550143")
    # Alice, then Bob, decline (hang up on) the call-out: the chain ends, and Plivo's transfer moves the caller.
    for number in (ALICE, BOB):
        callee = phone_of(sandbox, number, lambda c: c["state"] in ("ringing", "answered"))
        console(sandbox, f"calls/{callee['call_uuid']}/hangup")
    caller = the_call(sandbox, caller_uuid, lambda c: c["recording"])
    assert "[moved by the API to" in heard(caller) and "/plivo/hotline/voicemail/" in heard(caller)
    assert heard(caller).index(CONNECTING) < heard(caller).index("Nobody could take your call.")
    assert "[beep]" in heard(caller)
    # The move made the caller leave the room (its exit reported), which is not the caller hanging up.
    exits = [params for _, params, _ in recorder(sandbox).to("/plivo/hotline/conference/")
             if params["ConferenceAction"] == "exit"]
    assert [params["CallUUID"] for params in exits] == [caller_uuid]
    services = sandbox.app.extensions["voicebridge"]["services"]
    assert services.hotline.store.by_uuid(caller_uuid).status == "voicemail"
    hotline_message(sandbox, "leaving a voicemail")

    said = "Hello, the payment page is down for all our customers. Call me back please."
    console(sandbox, f"calls/{caller_uuid}/message", {"text": said})
    the_call(sandbox, caller_uuid, lambda c: said in heard(c))
    console(sandbox, f"calls/{caller_uuid}/digits", {"digits": "#"})
    caller = the_call(sandbox, caller_uuid, lambda c: c["state"] == "ended")
    assert "Thank you. Your message has been passed on. Goodbye." in heard(caller)
    (_, recorded, _), = recorder(sandbox).wait_for("/plivo/hotline/recorded/")
    assert recorded["RecordUrl"].startswith(f"{sandbox.url}/sandbox/plivo/recordings/")
    assert int(recorded["RecordingDurationMs"]) >= 5000 and recorded["RecordingID"] in recorded["RecordUrl"]
    message = hotline_message(sandbox, "voicemail, ")
    assert f"<{recorded['RecordUrl']}|listen>" in message["text"] and "nobody took it" in message["text"]
    page = requests.get(recorded["RecordUrl"], timeout=10)
    assert page.status_code == 200 and said in page.text
    assert_every_document_was_valid(sandbox)


def test_the_caller_hangs_up_while_waiting_and_every_call_out_stops(sandbox):
    caller_uuid = call_the_hotline(sandbox, "+14155550144")
    alice = phone_of(sandbox, ALICE, lambda c: c["listening"])
    console(sandbox, f"calls/{caller_uuid}/hangup")
    alice = the_call(sandbox, alice["call_uuid"], lambda c: c["state"] == "ended")
    assert alice["ending"]["source"] == "API Request"
    hotline_message(sandbox, "the caller hung up after")
    assert not [c for c in sandbox.state()["calls"] if c["to"] == BOB]
    assert not recorder(sandbox).to("/plivo/hotline/voicemail/")
    assert_every_document_was_valid(sandbox)


def test_the_console_checks_the_caller_the_hotline_and_that_a_message_has_a_recording_to_go_into(sandbox):
    assert console(sandbox, "hotline/call", {"from": "call me"}, status=400)["error"].startswith("from is a phone")
    assert console(sandbox, "hotline/call", {"to": "+14155559999"}, status=404)["error"] == (
        "+14155559999 is not a hotline of this sandbox")
    assert console(sandbox, "calls/no-such-call/message", status=404)["ok"] is False
    caller_uuid = call_the_hotline(sandbox, "anonymous")  # a withheld number
    the_call(sandbox, caller_uuid, lambda c: CONNECTING in heard(c))
    assert console(sandbox, f"calls/{caller_uuid}/message", status=409)["error"].startswith("nothing is recording")
    hotline_message(sandbox, "from a withheld number")
    state = sandbox.state()["hotline"]
    assert (state["number"], state["name"], state["channel"], state["calls"]) == (
        NUMBER, "Sandbox on call", "C0SANDBOX", ["U0ALICE", "U0BOB"])
    assert state["message"] == MESSAGE


def test_the_hotline_is_listed_and_a_routing_file_may_not_take_its_number(sandbox, tmp_path):
    assert sandbox.command("/voicealert hotlines").status_code == 200
    listed = sandbox.wait_for(lambda s: next((m for m in s["messages"] if "hotline" in m["text"]
                                              and "Sandbox on call" in m["text"]), None))
    assert "+1 415-555-0180" in listed["text"] or "(415) 555-0180" in listed["text"], listed["text"]
    (tmp_path / "routing.yaml").write_text(
        f'hotlines:\n  - number: "{NUMBER}"\n    name: Mine\n    call: U0BOB\n    channel: C0SANDBOX\n')
    from answer_server.sandbox import load_sandbox_settings

    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"ROUTING_FILE": str(tmp_path / "routing.yaml")})
    assert raised.value.problems == [
        f"ROUTING_FILE: {NUMBER} is the sandbox's built-in hotline: give yours another number"]
