"""Drive one simulated call the way Plivo does, in its own thread.

Ring (ring URL), answer, fetch the answer URL, check the document as Plivo
would, play it element by element (keys from the console), follow actions and
redirects, and finally post the hangup callback. Time is simulated: `speed`
simulated seconds pass per real second, so tests run a 20 s call in a second.
An inbound call (someone phoning one of the account's numbers) fetches the
answer URL of the number's application first, and is answered as it plays. A
transfer (the REST API) moves a live call to another document wherever it is.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from answer_server.sandbox import plivo_script as s
from answer_server.sandbox.callbacks import (
    CallbackSender,
    hangup_params,
    machine_params,
    record_params,
    standard_params,
)
from answer_server.sandbox.destinations import BUSY as DEST_BUSY
from answer_server.sandbox.destinations import FAILED, MACHINE, NO_ANSWER
from answer_server.sandbox.plivo_xml_rules import document_problems
from answer_server.sandbox.recordings import Recordings
from answer_server.sandbox.rooms import Membership, Rooms
from answer_server.sandbox.sim_call import (
    ACTION_URL_ERROR,
    ANSWER_URL_ERROR,
    BUSY,
    BY_API,
    CANCELLED,
    END_OF_XML,
    INBOUND,
    INVALID_ACTION_XML,
    INVALID_ANSWER_XML,
    INVALID_DESTINATION,
    NORMAL,
    REJECTED,
    CallEnded,
    Ending,
    Line,
    SimCall,
    SimClock,
    Transferred,
)
from answer_server.sandbox.sim_call import NO_ANSWER as NO_ANSWER_ENDING

log = logging.getLogger(__name__)

CHARS_PER_SECOND = 15  # a text-to-speech voice speaks about 150 words a minute
PLAY_SECONDS = 3  # an audio file's length is unknown; a short jingle
ANSWER_ATTEMPTS = 3  # Plivo tries the answer URL 3 times before the fallback URL
XML_TYPES = ("text/xml", "application/xml")
BEEP_SECONDS = 0.5


def speech_seconds(text: str) -> float:
    return max(1.0, len(text) / CHARS_PER_SECOND)


class CallDriver:
    def __init__(self, call: SimCall, sender: CallbackSender, clock: SimClock, auth_id: str,
                 on_change: Callable[[], None] = lambda: None, rooms: Rooms | None = None,
                 recordings: Recordings | None = None):
        self.call, self.sender, self.clock, self.auth_id = call, sender, clock, auth_id
        self.rooms = rooms or Rooms()
        self.recordings = recordings or Recordings("http://127.0.0.1/sandbox/plivo/recordings")
        self.control = call.control
        self._on_change = on_change
        self._timers: list[threading.Timer] = []
        self._first_step = False

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"sim-call-{self.call.call_uuid[:8]}", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        try:
            if self.call.direction == INBOUND:
                self._call_in()
            else:
                self._ring()
                self._answer()
                self._follow(lambda: self._document(self._answer_urls(), "StartApp", ANSWER_URL_ERROR,
                                                    INVALID_ANSWER_XML))
            ending: Ending = END_OF_XML
        except CallEnded as ended:
            ending = self._resolve(ended.reason)
        except Exception:  # a bug here must still end the call and report it
            log.exception("the simulated call failed")
            ending = END_OF_XML.by("Error")
        self._finish(ending)

    def _follow(self, fetch: Callable[[], s.Script]) -> None:
        """Play what `fetch` gives, and wherever the API moves the call to (Plivo's transfer)."""
        while True:
            try:
                self._play(fetch())
                return
            except Transferred as moved:
                self.control.listen(False)
                self._line(Line("event", f"[moved by the API to {moved.url}]"))
                fetch = lambda url=moved.url, method=moved.method: self._document(  # noqa: E731
                    [(url, method)], None, ACTION_URL_ERROR, INVALID_ACTION_XML)

    # -- the phases of a call ------------------------------------------------

    def _call_in(self) -> None:
        """Someone phones a number of the account: its application's answer URL is fetched while it rings
        (CallStatus ringing), and the call is answered as the document starts."""
        self._set_state("ringing", Line("event", f"calling {self.call.to_number}…"))
        self.control.pause(0.2)  # the carrier reaches Plivo
        first = self._document(self._answer_urls(), "StartApp", ANSWER_URL_ERROR, INVALID_ANSWER_XML,
                               status="ringing")
        self.call.answered_at = self.clock.now()
        self._set_state("answered", Line("event", "answered by Plivo (the number's application)"))
        self._follow(lambda: first)

    def _ring(self) -> None:
        call, request = self.call, self.call.request
        self.control.pause(0.2)  # Plivo takes a moment to reach the carrier
        if call.destination.kind == FAILED:
            raise CallEnded(INVALID_DESTINATION)
        if call.destination.kind == DEST_BUSY:
            raise CallEnded(BUSY)
        self._set_state("ringing", Line("event", "ringing…"))
        if request.get("ring_url"):
            self.sender.send(request["ring_url"], request.get("ring_method", "POST"),
                             standard_params(call, "ringing", self.auth_id) | {"Event": "Ring"})
        ring_timeout = float(request.get("ring_timeout") or 120)
        rings = min(call.destination.ring_seconds, ring_timeout)
        self.control.pause(rings)
        if call.destination.kind == NO_ANSWER or rings < call.destination.ring_seconds:
            raise CallEnded(NO_ANSWER_ENDING)

    def _answer(self) -> None:
        self.call.answered_at = self.clock.now()
        who = "an answering machine" if self.call.destination.kind == MACHINE else "the callee"
        self._set_state("answered", Line("event", f"answered by {who}"))
        limit = self.call.request.get("time_limit")
        if limit:
            self._later(float(limit), lambda: self.control.stop(NORMAL.by("Plivo")))
        detect = str(self.call.request.get("machine_detection", "")).lower()
        if detect in ("true", "hangup") and self.call.destination.kind == MACHINE:
            detect_ms = float(self.call.request.get("machine_detection_time") or 5000)
            self._later(min(detect_ms, 3000) / 1000, lambda: self._machine_detected(detect))

    def _machine_detected(self, mode: str) -> None:
        if self.call.state != "answered":
            return
        self._line(Line("event", "answering machine detected"))
        url = self.call.request.get("machine_detection_url")
        if url:
            self.sender.send(url, self.call.request.get("machine_detection_method", "POST"),
                             machine_params(self.call, "hangup" if mode == "hangup" else "continue"))
        if mode == "hangup":
            self.control.stop(NORMAL.by("Plivo"))

    def _finish(self, ending: Ending) -> None:
        for timer in self._timers:
            timer.cancel()
        self.control.listen(False)
        call = self.call
        call.ended_at, call.ending = self.clock.now(), ending
        self._set_state("ended", Line("event", f"call ended: {ending.status}, {ending.name} ({ending.code})"))
        if call.request.get("hangup_url"):
            delivery = self.sender.send(call.request["hangup_url"], call.request.get("hangup_method", "POST"),
                                        hangup_params(call, ending, self.auth_id))
            if not delivery.ok:
                self._line(Line("error", f"the hangup callback failed: {delivery.error}"))

    # -- documents -----------------------------------------------------------

    def _answer_urls(self) -> list[tuple[str, str]]:
        request = self.call.request
        urls = [(request["answer_url"], request.get("answer_method", "POST"))] * ANSWER_ATTEMPTS
        if request.get("fallback_url"):
            urls.append((request["fallback_url"], request.get("fallback_method", "POST")))
        return urls

    def _document(self, urls, event, unreachable: Ending, invalid: Ending, extra=None, *,
                  status: str = "in-progress") -> s.Script:
        """Fetch a document (trying each URL in turn) and check it; the call ends if it is bad."""
        params = standard_params(self.call, status, self.auth_id) | ({"Event": event} if event else {})
        params |= extra or {}
        delivery = None
        for url, method in urls:
            self.control.check()
            delivery = self.sender.send(url, method, params)
            if delivery.ok:
                break
        if delivery is None or not delivery.ok:
            self._line(Line("error", f"could not fetch the XML: {delivery.error if delivery else 'no URL'}"))
            raise CallEnded(unreachable)
        problems = document_problems(delivery.body)
        content_type = delivery.content_type.split(";")[0].strip().lower()
        if content_type not in XML_TYPES:
            problems.insert(0, f"the Content-Type is {content_type or 'missing'}, not text/xml or application/xml")
        if problems:
            self._line(Line("error", "invalid Plivo XML: " + "; ".join(problems[:3])))
            raise CallEnded(invalid)
        return s.parse_script(delivery.body)

    def _play(self, script: s.Script) -> None:
        steps, index = script.steps, 0
        self._first_step = True
        while index < len(steps):
            step, index = steps[index], index + 1
            replacement = self._step(step)
            self._first_step = False
            if replacement is not None:  # a redirect or an action's document takes over
                steps, index = replacement.steps, 0

    def _step(self, step) -> s.Script | None:
        self.control.check()
        if isinstance(step, (s.Speak, s.Play, s.Wait)):
            self._audio(step)
        elif isinstance(step, s.PreAnswer):
            for inner in step.steps:
                self._audio(inner)
        elif isinstance(step, s.Gather):
            return self._gather(step)
        elif isinstance(step, s.Redirect):
            return self._document([(step.url, step.method)], "Redirect", ACTION_URL_ERROR, INVALID_ACTION_XML)
        elif isinstance(step, s.Hangup):
            self._hangup(step)
        elif isinstance(step, s.Conference):
            return self._conference(step)
        elif isinstance(step, s.Record):
            return self._record(step)
        else:
            self._line(Line("event", f"<{step.tag}> is not simulated; skipped"))
        return None

    def _audio(self, step, *, barge_in: bool = False, until: Callable[[], bool] | None = None) -> None:
        """Speak, Play or Wait; with barge_in, a key pressed ends it early; so does `until()` turning true."""
        if isinstance(step, s.Wait):
            self._line(Line("pause", f"[pause {step.seconds} s]"))
            self.control.pause(step.seconds, until_key=barge_in, until=until)
            return
        loops = step.loop if step.loop > 0 else 10_000  # loop=0: until the call ends (time_limit)
        for _ in range(loops):
            if isinstance(step, s.Speak):
                self._line(Line("speak", step.text))
                self.control.pause(speech_seconds(step.text), until_key=barge_in, until=until)
            else:
                self._line(Line("play", f"[audio: {step.url}]"))
                self.control.pause(PLAY_SECONDS, until_key=barge_in, until=until)
            if (barge_in and self.control.has_keys()) or (until is not None and until()):
                return

    def _gather(self, gather: s.Gather) -> s.Script | None:
        """GetDigits/GetInput: prompt, take keys, post them; no keys after every attempt falls through."""
        if not gather.takes_keys:
            self._line(Line("keys", "[listening for speech: not simulated]"))
            self.control.pause(gather.timeout)
            return None
        for _ in range(gather.attempts):
            self.control.listen(True)  # keys pressed before the prompt do not count
            for step in gather.prompt:
                self._audio(step, barge_in=True)
                if self.control.has_keys():
                    break
            if not self.control.has_keys():  # a key during the prompt cut it short: no wait then
                self._line(Line("keys", "[waiting for a key…]"))
            digits = self._collect(gather)
            self.control.listen(False)
            if digits:
                self._line(Line("pressed", f"[pressed {digits}]"))
                return self._submit(gather, digits)
        self._line(Line("event", "[no key pressed]"))
        return None

    def _collect(self, gather: s.Gather) -> str | None:
        """Keys until numDigits, finishOnKey or a timeout; None for an invalid key."""
        digits, wait = "", gather.timeout
        while len(digits) < gather.num_digits:
            key = self.control.next_key(wait)
            if key is None or (gather.finish_on_key and key == gather.finish_on_key):
                break
            if key not in gather.valid_digits:
                self._line(Line("event", f"[key {key} is not accepted here]"))
                return None
            digits, wait = digits + key, gather.digit_timeout
        return digits

    def _submit(self, gather: s.Gather, digits: str) -> s.Script | None:
        if not gather.action:
            return None
        extra = {"Digits": digits}
        if gather.input_type is not None:
            extra |= {"InputType": "dtmf", "Speech": "", "SpeechConfidenceScore": "0", "BilledAmount": "0.00000"}
        if gather.redirect:
            return self._document([(gather.action, gather.method)], None, ACTION_URL_ERROR, INVALID_ACTION_XML, extra)
        # redirect="false": the action is told, and the document goes on.
        self.sender.send(gather.action, gather.method, standard_params(self.call, "in-progress", self.auth_id) | extra)
        return None

    def _conference(self, room: s.Conference) -> s.Script | None:
        """In the room until the call ends, the room's time is up or its conference ends; enter and exit are
        reported. Until the conference starts, the wait sound plays."""
        deadline = self.clock.now().timestamp() + room.time_limit
        membership = self.rooms.enter(room.room, self.call, starts=room.starts, ends=room.ends)
        conference = membership.conference
        self._line(Line("event", f"[on the conference call {room.room}: {self.rooms.describe(conference)}]"))
        self._conference_event(room, "enter", membership)
        try:
            if not self.rooms.started(conference):
                self._wait_for_start(room, membership)
                if not self.rooms.over(conference):
                    self._line(Line("event", f"[connected: {self.rooms.describe(conference, self.call)}]"))
            self.control.pause(max(0.0, deadline - self.clock.now().timestamp()),
                               until=lambda: self.rooms.over(conference))
            if self.rooms.over(conference):
                self._line(Line("event", "[the conference ended]"))
        finally:
            self.rooms.leave(membership, self.call)
            self._conference_event(room, "exit", membership)
        self._line(Line("event", f"[left the conference call {room.room}]"))
        if room.action:
            return self._document([(room.action, room.method)], None, ACTION_URL_ERROR, INVALID_ACTION_XML)
        return None

    def _wait_for_start(self, room: s.Conference, membership: Membership) -> None:
        """Alone (or with others who wait too) until a member who starts the conference enters: the wait
        sound's document (Speak, Play and Wait; anything else is ignored, as Plivo does) plays in a loop."""
        started = lambda: self.rooms.started(membership.conference)  # noqa: E731
        self._line(Line("event", "[waiting for the conference to start]"))
        steps = self._wait_sound(room, membership) if room.wait_sound else ()
        while not started():
            if not steps:
                self.control.pause(PLAY_SECONDS, until=started)
            for step in steps:
                self._audio(step, until=started)
                if started():
                    break

    def _wait_sound(self, room: s.Conference, membership: Membership) -> tuple:
        params = standard_params(self.call, "in-progress", self.auth_id) | {
            "ConferenceName": room.room, "ConferenceUUID": membership.conference.uuid,
            "ConferenceMemberID": membership.member_id}
        delivery = self.sender.send(room.wait_sound, "POST", params)
        if not delivery.ok:
            self._line(Line("error", f"could not fetch the wait sound: {delivery.error}"))
            return ()
        problems = document_problems(delivery.body)
        if problems:
            self._line(Line("error", "invalid wait sound XML: " + "; ".join(problems[:3])))
            return ()
        return tuple(step for step in s.parse_script(delivery.body).steps
                     if isinstance(step, (s.Speak, s.Play, s.Wait)))

    def _conference_event(self, room: s.Conference, action: str, membership: Membership) -> None:
        if not room.callback_url:
            return
        self.sender.send(room.callback_url, room.callback_method, {
            "ConferenceAction": action, "ConferenceName": room.room,
            "ConferenceUUID": membership.conference.uuid, "ConferenceMemberID": membership.member_id,
            "CallUUID": self.call.call_uuid, "Event": f"Conference{action.capitalize()}"})

    def _record(self, record: s.Record) -> s.Script | None:
        """A beep, then what the caller says (the console's "leave a message") until a finish key, `timeout`
        seconds of silence or `max_length`. Something said is a recording, posted to the action (also when
        the caller hangs up while recording); nothing said records nothing, and the document goes on."""
        if record.play_beep:
            self._line(Line("play", "[beep]"))
            self.control.pause(BEEP_SECONDS)
        self._line(Line("keys", f"[recording, at most {record.max_length} s: speak, then press "
                                f"{'#' if '#' in record.finish_on_key else 'a key'} when done]"))
        began = self.clock.now()
        said: list[str] = []
        self.control.listen(True, record=True)
        try:
            self._recording(record, began, said)
        except CallEnded:
            if said:  # hung up while recording: what was said is still a recording
                self._recorded(record, began, said, follow=False)
            raise
        finally:
            self.control.listen(False)
        if not said:
            self._line(Line("event", "[nothing was said: no recording]"))
            return None
        return self._recorded(record, began, said, follow=record.redirect)

    def _recording(self, record: s.Record, began, said: list[str]) -> None:
        elapsed = lambda: (self.clock.now() - began).total_seconds()  # noqa: E731
        last_sound = 0.0
        while True:
            left = min(record.max_length - elapsed(), record.timeout - (elapsed() - last_sound))
            if left <= 0:
                return
            self.control.pause(left, until_key=True)
            text = self.control.next_said()
            if text is not None:
                self._line(Line("said", text))
                said.append(text)
                self.control.pause(min(speech_seconds(text), max(0.0, record.max_length - elapsed())))
                last_sound = elapsed()
                continue
            key = self.control.next_key(0)
            if key is not None and key in record.finish_on_key:
                self._line(Line("pressed", f"[pressed {key}: recording finished]"))
                return

    def _recorded(self, record: s.Record, began, said: list[str], *, follow: bool) -> s.Script | None:
        ended = self.clock.now()
        started_ms = int(began.timestamp() * 1000)
        ended_ms = max(started_ms + 1, int(ended.timestamp() * 1000))
        recording = self.recordings.add(self.call.call_uuid, (ended_ms - started_ms) / 1000, said, ended)
        self._line(Line("event", f"[recorded {(ended_ms - started_ms) / 1000:.0f} s: {recording.url}]"))
        if record.transcription_url:
            self._line(Line("event", "[transcription is not simulated]"))
        if not record.action:
            return None
        extra = record_params(recording.id, recording.url, started_ms, ended_ms)
        if follow:
            return self._document([(record.action, record.method)], None, ACTION_URL_ERROR, INVALID_ACTION_XML, extra)
        self.sender.send(record.action, record.method, standard_params(self.call, "in-progress", self.auth_id) | extra)
        return None

    def _hangup(self, step: s.Hangup) -> None:
        if step.reason == "busy":
            ending = BUSY.by("Answer XML")
        elif step.reason == "rejected" or (self._first_step and not step.schedule):
            ending = REJECTED.by("Answer XML")
        else:
            ending = NORMAL.by("Answer XML")
        if step.schedule:
            self._later(step.schedule, lambda: self.control.stop(ending))
        else:
            raise CallEnded(ending)

    # -- helpers ---------------------------------------------------------------

    def _resolve(self, reason: Ending | str) -> Ending:
        """A hang-up request as Plivo reports it, given how far the call got."""
        if isinstance(reason, Ending):
            return reason
        answered = self.call.state == "answered"
        if reason == BY_API:
            return NORMAL.by("API Request") if answered else CANCELLED
        if self.call.direction == INBOUND:  # the console's Hang up on a caller's phone
            return NORMAL.by("Caller") if answered else CANCELLED.by("Caller")
        return NORMAL if answered else REJECTED  # BY_CALLEE: hung up, or declined while ringing

    def _later(self, seconds: float, action: Callable[[], object]) -> None:
        timer = threading.Timer(self.clock.real(seconds), action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _set_state(self, state: str, line: Line) -> None:
        self.call.state = state
        self._line(line)

    def _line(self, line: Line) -> None:
        self.call.transcript.append(line)
        self._on_change()
