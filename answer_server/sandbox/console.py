"""The sandbox console: one page, a live stream of the whole state, and the
endpoints behind its composer, buttons, keypads and hang-up buttons.

The JSON endpoints are also what tests drive, exactly as the page does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_from_directory

from answer_server.sandbox import hotline
from answer_server.sandbox.composer import Composer
from answer_server.sandbox.events import Changes
from answer_server.sandbox.monitoring import DemoAlertmanager
from answer_server.sandbox.oncall import SandboxOncall
from answer_server.sandbox.plivo_sim import PlivoSimulator
from answer_server.sandbox.rooms import Rooms
from answer_server.sandbox.sim_call import SimCall
from answer_server.sandbox.slack_workspace import (
    CHANNELS,
    CONSOLE_USER,
    DIRECT,
    GROUPS,
    USERS,
    SlackWorkspace,
)

STATIC = Path(__file__).resolve().parent / "static"
STREAM_SECONDS = 20  # then the browser reconnects, so long-lived streams never pin all server threads
KEYS = set("0123456789*#")
MAX_SAID = 500  # characters the console's caller may say at once


def console_blueprint(workspace: SlackWorkspace, sim: PlivoSimulator, composer: Composer, changes: Changes,
                      alertmanager: DemoAlertmanager, oncall: SandboxOncall) -> Blueprint:
    bp = Blueprint("sandbox_console", __name__, url_prefix="/sandbox", static_folder=str(STATIC),
                   static_url_path="/static")

    @bp.before_request
    def json_only():
        # A page on another site can send a "simple" cross-origin POST, but not one with a
        # JSON content type: requiring it keeps other sites from driving the console.
        if request.method == "POST" and not request.is_json:
            return jsonify(ok=False, error="send JSON (Content-Type: application/json)"), 415
        return None

    @bp.get("")
    @bp.get("/")
    def page():
        response = send_from_directory(STATIC, "console.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.get("/api/state")
    def state():
        return jsonify(snapshot(workspace, sim, alertmanager, oncall, changes.version))

    @bp.get("/api/events")
    def events():
        def stream():
            version = -1
            deadline = time.monotonic() + STREAM_SECONDS
            yield "retry: 500\n\n"
            while time.monotonic() < deadline:
                current = changes.wait_after(version, min(5.0, max(0.0, deadline - time.monotonic())))
                if current == version:
                    yield ": still here\n\n"  # a comment keeps proxies and the browser from timing out
                    continue
                time.sleep(0.03)  # let a burst of changes land, then send them as one update
                version = changes.version
                yield f"event: state\ndata: {json.dumps(snapshot(workspace, sim, alertmanager, oncall, version))}\n\n"

        return Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @bp.post("/api/command")
    def command():
        body = request.get_json()
        text, channel = str(body.get("text", "")), str(body.get("channel", "C0SANDBOX"))
        if channel not in CHANNELS or not text.strip():
            return jsonify(ok=False, error="say something, in a known channel"), 400
        composer.type(text, channel)
        return jsonify(ok=True)

    @bp.post("/api/actions")
    def action():
        body = request.get_json()
        if not composer.click(str(body.get("channel", "")), str(body.get("ts", "")), str(body.get("action_id", ""))):
            return jsonify(ok=False, error="no such button"), 404
        return jsonify(ok=True)

    @bp.post("/api/shortcut")
    def shortcut():
        body = request.get_json()
        if not composer.shortcut(str(body.get("channel", "")), str(body.get("ts", "")),
                                 str(body.get("callback_id", "phone_about_message"))):
            return jsonify(ok=False, error="no such message"), 404
        return jsonify(ok=True)

    @bp.post("/api/view/submit")
    def submit_view():
        values = request.get_json().get("values")
        if not isinstance(values, dict):
            return jsonify(ok=False, error="values are the form's state.values"), 400
        return jsonify(ok=True, **composer.submit_view(values))

    @bp.post("/api/view/close")
    def close_view():
        workspace.close_view()
        return jsonify(ok=True)

    @bp.post("/api/home")
    def open_home():
        composer.open_home()
        return jsonify(ok=True)

    @bp.post("/api/home/actions")
    def home_action():
        if not composer.click_home(str(request.get_json().get("action_id", ""))):
            return jsonify(ok=False, error="no such button"), 404
        return jsonify(ok=True)

    # sandbox-demo's alert, sent by the server as Alertmanager sends it: the whole path, token check included.
    @bp.post("/api/monitoring/alert")
    def monitoring_alert():
        sent = alertmanager.fire()
        return jsonify(sent), 200 if sent["ok"] else 502

    @bp.post("/api/monitoring/resolve")
    def monitoring_resolve():
        sent = alertmanager.resolve()
        return jsonify(sent), 200 if sent["ok"] else 502

    # Someone phones a hotline (the sandbox's own unless `to` names another): Plivo fetches the app's answer URL.
    @bp.post("/api/hotline/call")
    def call_the_hotline():
        body = request.get_json()
        caller = str(body.get("from") or hotline.CALLER).strip()
        to = str(body.get("to") or hotline.NUMBER).strip()
        problem = hotline.caller_problem(caller)
        if problem:
            return jsonify(ok=False, error=problem), 400
        call = sim.call_in(caller, to)
        if call is None:
            return jsonify(ok=False, error=f"{to} is not a hotline of this sandbox"), 404
        return jsonify(ok=True, call_uuid=call.call_uuid)

    # The caller speaks into a recording (a voicemail): what they say is what the recording holds.
    @bp.post("/api/calls/<call_uuid>/message")
    def leave_a_message(call_uuid: str):
        text = " ".join(str(request.get_json().get("text") or hotline.MESSAGE).split())[:MAX_SAID]
        heard = sim.say(call_uuid, text)
        if heard is None:
            return jsonify(ok=False, error="no such call in progress"), 404
        if not heard:
            return jsonify(ok=False, error="nothing is recording on this call: wait for the tone"), 409
        return jsonify(ok=True)

    @bp.post("/api/calls/<call_uuid>/digits")
    def digits(call_uuid: str):
        keys = str(request.get_json().get("digits", ""))
        if not keys or not set(keys) <= KEYS:
            return jsonify(ok=False, error="digits are 0-9, * and #"), 400
        heard = sim.press(call_uuid, keys)
        if heard is None:
            return jsonify(ok=False, error="no such call in progress"), 404
        return jsonify(ok=True, heard=heard)

    @bp.post("/api/calls/<call_uuid>/hangup")
    def hangup(call_uuid: str):
        if not sim.callee_hangs_up(call_uuid):
            return jsonify(ok=False, error="no such call in progress"), 404
        return jsonify(ok=True)

    return bp


def snapshot(workspace: SlackWorkspace, sim: PlivoSimulator, alertmanager: DemoAlertmanager, oncall: SandboxOncall,
             version: int) -> dict:
    """Everything the console shows, as JSON."""
    return {
        "version": version,
        "me": CONSOLE_USER,
        "speed": sim.clock.speed,
        "users": {u.id: u.name for u in USERS.values()},
        "groups": {g.id: g.handle for g in GROUPS.values()},
        "group_members": workspace.groups(),
        "channels": [{"id": c.id, "name": c.name, "is_private": c.is_private, "bot_is_member": c.bot_is_member}
                     for c in CHANNELS.values()],
        "direct": {c.id: c.user for c in DIRECT.values()},  # the app's DM with each person: whose it is
        "messages": workspace.messages(),
        "modal": workspace.modal(),
        "home": workspace.home(CONSOLE_USER),
        "calls": [call_json(call, sim.rooms) for call in sim.calls()],
        "monitoring": alertmanager.state(),
        "hotline": hotline.state(),
        "oncall": oncall.state(),
    }


def call_json(call: SimCall, rooms: Rooms) -> dict:
    ending = call.ending
    return {
        "call_uuid": call.call_uuid,
        "request_uuid": call.request_uuid,
        "from": call.from_number,
        "to": call.to_number,
        "direction": call.direction,
        "test_number": call.destination.description,
        "state": call.state,
        "listening": call.control.listening,
        "recording": call.control.recording,
        "conference": rooms.state(call),
        "duration": call.duration(),
        "ending": None if ending is None else {
            "status": ending.status, "code": ending.code, "name": ending.name, "source": ending.source},
        "transcript": [{"kind": line.kind, "text": line.text} for line in list(call.transcript)],
    }
