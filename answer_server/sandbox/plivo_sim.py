"""A stand-in for Plivo's Voice API: the REST routes and the calls they start.

Requests are checked as Plivo checks them
(https://www.plivo.com/docs/voice/api/call/make-a-call,
https://www.plivo.com/docs/voice/api/call/hangup-a-call): Basic auth, a JSON
body with from, to and answer_url, '<'-separated bulk
destinations (one call and one request UUID each), 201 with the request UUIDs.
Each call then runs in its own thread (call_driver.py), never inside the request
that created it, so the app's callbacks can reach this same server meanwhile.

The account's numbers can be linked to an application (its answer and hangup
URLs), as a rented number is in Plivo's console; `call_in` is someone phoning
one of them. A live call can be moved to another document (transfer:
https://www.plivo.com/docs/voice/api/call/transfer-a-call), and what <Record>
recorded is served under /sandbox/plivo/recordings/.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Callable

from flask import Blueprint, Response, jsonify, request

from answer_server.sandbox.call_driver import CallDriver
from answer_server.sandbox.callbacks import CallbackSender
from answer_server.sandbox.destinations import HUMAN_ANSWERS, destination_for
from answer_server.sandbox.recordings import Recordings
from answer_server.sandbox.rooms import Rooms
from answer_server.sandbox.sim_call import (
    BY_API,
    BY_CALLEE,
    INBOUND,
    CallControl,
    Line,
    SimCall,
    SimClock,
    plivo_time,
)

MAX_DESTINATIONS = 1000
_NUMBER = re.compile(r"^\+?[0-9]{6,15}$")
_URL = re.compile(r"^https?://\S+$")
_URL_KEYS = ("answer_url", "ring_url", "hangup_url", "fallback_url", "machine_detection_url")
_METHOD_KEYS = ("answer_method", "ring_method", "hangup_method", "fallback_method", "machine_detection_method")


def create_call_problem(body: object) -> str | None:
    """Why Plivo would answer 400 to this create-call body; None when it is accepted."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    for key in ("from", "to", "answer_url"):
        if not str(body.get(key) or "").strip():
            return f"{key} is a mandatory parameter"
    source = str(body["from"]).strip()
    if not _NUMBER.match(source):
        return f"from must be a phone number: {source!r}"
    destinations = split_destinations(str(body["to"]))
    if len(destinations) > MAX_DESTINATIONS:
        return f"at most {MAX_DESTINATIONS} destinations are allowed"
    for destination in destinations:
        if not (_NUMBER.match(destination) or destination.startswith("sip:")):
            return f"invalid destination: {destination!r}"
        if destination.lstrip("+") == source.lstrip("+"):
            return "src and destination cannot overlap"
    for key in _URL_KEYS:
        if body.get(key) and not _URL.match(str(body[key])):
            return f"{key} must be an http(s) URL"
    for key in _METHOD_KEYS:
        if body.get(key) and str(body[key]).upper() not in ("GET", "POST"):
            return f"{key} must be GET or POST"
    for key in ("ring_timeout", "time_limit", "hangup_on_ring"):
        if body.get(key) not in (None, "") and not str(body[key]).isdigit():
            return f"{key} must be a whole number of seconds"
    if str(body.get("machine_detection", "")).lower() not in ("", "false", "true", "hangup"):
        return "machine_detection must be true or hangup"
    if body.get("machine_detection_time") not in (None, "") and not (
            str(body["machine_detection_time"]).isdigit() and 2000 <= int(body["machine_detection_time"]) <= 10000):
        return "machine_detection_time must be from 2000 to 10000 ms"
    return None


def transfer_problem(body: object) -> str | None:
    """Why Plivo would answer 400 to this transfer body (the A leg is what the sandbox moves)."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    legs = str(body.get("legs") or "")
    if legs not in ("aleg", "bleg", "both"):
        return "legs must be aleg, bleg or both"
    if legs != "aleg":
        return "the sandbox's calls have no B leg: transfer the aleg"
    if not _URL.match(str(body.get("aleg_url") or "")):
        return "aleg_url must be an http(s) URL"
    if body.get("aleg_method") and str(body["aleg_method"]).upper() not in ("GET", "POST"):
        return "aleg_method must be GET or POST"
    return None


def split_destinations(to: str) -> list[str]:
    """Bulk `to`: '<'-separated, each destination once, in order."""
    return list(dict.fromkeys(part.strip() for part in to.split("<") if part.strip()))


class PlivoSimulator:
    def __init__(self, auth_id: str, auth_token: str, *, speed: float = 1.0,
                 on_change: Callable[[], None] = lambda: None, sender: CallbackSender | None = None,
                 recordings_url: str = "http://127.0.0.1/sandbox/plivo/recordings"):
        self.auth_id, self.auth_token = auth_id, auth_token
        self.clock = SimClock(speed)
        self.sender = sender or CallbackSender(auth_token)
        self.on_change = on_change
        self._lock = threading.Lock()
        self._calls: dict[str, SimCall] = {}  # by call UUID, in creation order
        self.threads: list[threading.Thread] = []
        self.rooms = Rooms()  # conference rooms (the voice bridge, a hotline's), shared by every call
        self.recordings = Recordings(recordings_url)
        self._numbers: dict[str, dict] = {}  # the account's numbers (digits only) → their application's URLs

    def create(self, body: dict) -> list[str]:
        """Start one call per destination; their request UUIDs."""
        request_uuids = []
        for destination in split_destinations(str(body["to"])):
            call = SimCall(
                call_uuid=str(uuid.uuid4()), request_uuid=str(uuid.uuid4()),
                from_number=str(body["from"]).strip(), to_number=destination, request=dict(body),
                destination=destination_for(destination), control=CallControl(self.clock),
                started_at=self.clock.now(),
            )
            with self._lock:
                self._calls[call.call_uuid] = call
            request_uuids.append(call.request_uuid)
            self._start(call)
        self.on_change()
        return request_uuids

    def link_number(self, number: str, answer_url: str, hangup_url: str | None = None) -> None:
        """Link one of the account's numbers to an application: calls to it fetch `answer_url` (POST)."""
        self._numbers[_digits(number)] = {"answer_url": answer_url, "answer_method": "POST"} | (
            {"hangup_url": hangup_url, "hangup_method": "POST"} if hangup_url else {})

    def linked(self, number: str) -> bool:
        return _digits(number) in self._numbers

    def call_in(self, from_number: str, to_number: str) -> SimCall | None:
        """Someone at `from_number` phones `to_number`; None if that is no number of the account's."""
        application = self._numbers.get(_digits(to_number))
        if application is None:
            return None
        call = SimCall(call_uuid=str(uuid.uuid4()), request_uuid="", from_number=from_number, to_number=to_number,
                       request=dict(application), destination=HUMAN_ANSWERS, control=CallControl(self.clock),
                       started_at=self.clock.now(), direction=INBOUND)
        with self._lock:
            self._calls[call.call_uuid] = call
        self._start(call)
        self.on_change()
        return call

    def _start(self, call: SimCall) -> None:
        self.threads.append(CallDriver(call, self.sender, self.clock, self.auth_id, self.on_change,
                                       rooms=self.rooms, recordings=self.recordings).start())

    def call(self, call_uuid: str) -> SimCall | None:
        with self._lock:
            return self._calls.get(call_uuid)

    def calls(self) -> list[SimCall]:
        with self._lock:
            return list(self._calls.values())

    def cancel_request(self, request_uuid: str) -> bool:
        """DELETE …/Request/{uuid}/: cancel a call not answered yet."""
        call = next((c for c in self.calls() if c.request_uuid == request_uuid), None)
        return bool(call and call.state in ("queued", "ringing") and call.control.stop(BY_API))

    def hang_up(self, call_uuid: str, *, by: str = BY_API) -> bool:
        """DELETE …/Call/{uuid}/ (by the API) or the console's Hang up button (by the callee)."""
        call = self.call(call_uuid)
        return bool(call and call.state != "ended" and call.control.stop(by))

    def transfer(self, call_uuid: str, url: str, method: str = "POST") -> bool:
        """POST …/Call/{uuid}/ with aleg_url: a live (answered) call is moved to the document at `url`."""
        call = self.call(call_uuid)
        return bool(call and call.state == "answered" and call.control.transfer(url, method))

    def say(self, call_uuid: str, text: str) -> bool | None:
        """The caller speaks: None for no such live call, else whether a recording heard it."""
        call = self.call(call_uuid)
        if call is None or call.state != "answered":
            return None
        return call.control.say(text)

    def press(self, call_uuid: str, digits: str) -> bool | None:
        """The callee presses keys: None for no such live call, else whether anything listened."""
        call = self.call(call_uuid)
        if call is None or call.state != "answered":
            return None
        heard = call.control.press(digits)
        if not heard:
            call.transcript.append(Line("event", f"[pressed {digits}: nothing was listening]"))
            self.on_change()
        return heard

    def callee_hangs_up(self, call_uuid: str) -> bool:
        return self.hang_up(call_uuid, by=BY_CALLEE)


def plivo_blueprint(sim: PlivoSimulator) -> Blueprint:
    bp = Blueprint("sandbox_plivo", __name__, url_prefix="/sandbox/plivo/v1/Account/<auth_id>")

    @bp.before_request
    def authenticate():
        auth = request.authorization
        if (request.view_args or {}).get("auth_id") != sim.auth_id or auth is None or (
                auth.username, auth.password) != (sim.auth_id, sim.auth_token):
            return _error(401, "authentication failed")
        return None

    @bp.post("/Call/")
    def create_call(auth_id: str):
        body = request.get_json(silent=True)
        problem = create_call_problem(body)
        if problem:
            return _error(400, problem)
        uuids = sim.create(body)
        return jsonify(api_id=str(uuid.uuid4()), message="call fired",
                       request_uuid=uuids[0] if len(uuids) == 1 else uuids), 201

    @bp.delete("/Call/")
    def hang_up_everything(auth_id: str):
        # Plivo's documented trap: no UUID hangs up every live call on the account.
        for call in sim.calls():
            sim.hang_up(call.call_uuid)
        return Response(status=204)

    @bp.delete("/Call/<call_uuid>/")
    def hang_up(auth_id: str, call_uuid: str):
        return Response(status=204) if sim.hang_up(call_uuid) else _error(404, "not found")

    @bp.post("/Call/<call_uuid>/")
    def transfer(auth_id: str, call_uuid: str):
        body = request.get_json(silent=True)
        problem = transfer_problem(body)
        if problem:
            return _error(400, problem)
        if not sim.transfer(call_uuid, str(body["aleg_url"]), str(body.get("aleg_method") or "POST").upper()):
            return _error(404, "not found")
        return jsonify(api_id=str(uuid.uuid4()), message="call transferred"), 202

    @bp.get("/Call/<call_uuid>/")
    def call_detail(auth_id: str, call_uuid: str):
        call = sim.call(call_uuid)
        if call is None or call.state != "ended":
            return _error(404, "not found")
        return jsonify(api_id=str(uuid.uuid4()), call_uuid=call.call_uuid, call_direction=call.direction,
                       from_number=call.from_number.lstrip("+"), to_number=call.to_number.lstrip("+"),
                       call_duration=call.duration(), bill_duration=call.bill_duration(),
                       total_amount=call.total_cost(), initiation_time=plivo_time(call.started_at),
                       answer_time=plivo_time(call.answered_at), end_time=plivo_time(call.ended_at),
                       hangup_cause_name=call.ending.name, hangup_cause_code=call.ending.code,
                       hangup_source=call.ending.source)

    @bp.post("/Conference/<room>/Member/<member>/Speak/")
    def speak_to_member(auth_id: str, room: str, member: str):
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("text"), str) or not body["text"].strip():
            return _error(400, "text is required")
        call = sim.rooms.member(room, member)
        if call is None:
            return _error(404, "conference member not found")
        call.transcript.append(Line("speak", body["text"]))
        sim.on_change()
        return jsonify(api_id=str(uuid.uuid4()), message="speak queued"), 202

    @bp.delete("/Request/<request_uuid>/")
    def cancel(auth_id: str, request_uuid: str):
        return Response(status=204) if sim.cancel_request(request_uuid) else _error(404, "not found")

    return bp


def recordings_blueprint(sim: PlivoSimulator) -> Blueprint:
    """What <Record> recorded, at the RecordUrl the action was given: public, as Plivo's media URLs are."""
    bp = Blueprint("sandbox_recordings", __name__, url_prefix="/sandbox/plivo/recordings")

    @bp.get("/<recording_id>")
    def recording(recording_id: str):
        found = sim.recordings.get(recording_id)
        if found is None:
            return Response("no such recording\n", 404, mimetype="text/plain")
        return Response(found.page(), mimetype="text/plain")

    return bp


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _error(status: int, message: str):
    return jsonify(api_id=str(uuid.uuid4()), error=message), status
