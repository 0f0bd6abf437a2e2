"""A stand-in for Slack's Web API and response_urls, over the sandbox workspace.

Wire format as Slack's Web API (https://docs.slack.dev/apis/web-api/): methods at
`SLACK_API_URL + method`, arguments as JSON, form or query (slack_sdk uses all
three), the bot token as Bearer, and errors as HTTP 200 {"ok": false, "error": …}.
"""

from __future__ import annotations

import json
from typing import Callable

from flask import Blueprint, Response, jsonify, request

from answer_server.sandbox.slack_workspace import (
    BOT_ID,
    BOT_USER_ID,
    GROUPS,
    SLACKBOT,
    TEAM_DOMAIN,
    TEAM_ID,
    USERS,
    SlackWorkspace,
    channel_by_name_or_id,
    channel_json,
    user_json,
)

SCOPES = "commands,chat:write,chat:write.public,users:read,users:read.phone,usergroups:read,usergroups:write"


def slack_blueprint(workspace: SlackWorkspace, bot_token: str) -> Blueprint:
    bp = Blueprint("sandbox_slack", __name__, url_prefix="/sandbox/slack")
    methods = web_api_methods(workspace)

    @bp.route("/api/<method>", methods=["GET", "POST"])
    def web_api(method: str):
        args = _arguments()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or args.get("token", "")
        if not token:
            reply = {"ok": False, "error": "not_authed"}
        elif token != bot_token:
            reply = {"ok": False, "error": "invalid_auth"}
        else:
            reply = methods.get(method, lambda _args: {"ok": True})(args)
        response = jsonify(reply)
        if reply.get("ok"):
            response.headers["X-OAuth-Scopes"] = SCOPES  # Slack sends the token's scopes on every reply
        return response

    @bp.post("/commands/<team>/<stamp>/<key>")
    def response_url(team: str, stamp: str, key: str):
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return Response("invalid_payload", 400, mimetype="text/html")
        status, text = workspace.respond(f"{stamp}/{key}", payload)
        return Response(text, status, mimetype="text/html")

    return bp


def web_api_methods(workspace: SlackWorkspace) -> dict[str, Callable[[dict], dict]]:
    """Each method the bot uses: arguments in, Slack's JSON reply out."""

    def auth_test(_args: dict) -> dict:
        return {"ok": True, "url": f"https://{TEAM_DOMAIN}.slack.example/", "team": "VoiceBridge sandbox",
                "user": "voicebridge", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}

    def post_message(args: dict) -> dict:
        channel, problem = _postable(args)
        if problem:
            return problem
        message = workspace.post(channel.id, BOT_USER_ID, args.get("text", ""), _blocks(args))
        return {"ok": True, "channel": channel.id, "ts": message.ts, "message": _message_json(message)}

    def update(args: dict) -> dict:
        channel = channel_by_name_or_id(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        message = workspace.find(channel.id, args.get("ts", ""))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER_ID or message.ephemeral:
            return {"ok": False, "error": "cant_update_message"}
        blocks = _blocks(args) if "blocks" in args else None
        workspace.update(channel.id, message.ts, args.get("text"), blocks)
        return {"ok": True, "channel": channel.id, "ts": message.ts, "text": message.text}

    def post_ephemeral(args: dict) -> dict:
        channel, problem = _postable(args)
        if problem:
            return problem
        if args.get("user") not in USERS:
            return {"ok": False, "error": "user_not_found"}
        message = workspace.post(channel.id, BOT_USER_ID, args.get("text", ""), _blocks(args), ephemeral=True)
        return {"ok": True, "message_ts": message.ts}

    def users_info(args: dict) -> dict:
        user = USERS.get(args.get("user", ""))
        return {"ok": True, "user": user_json(user)} if user else {"ok": False, "error": "user_not_found"}

    def usergroup_members(args: dict) -> dict:
        members = workspace.group_members(args.get("usergroup", ""))
        return {"ok": True, "users": list(members)} if members is not None else {
            "ok": False, "error": "no_such_subteam"}

    def usergroup_update(args: dict) -> dict:
        """usergroups.users.update: the group's members become `users` (IDs, comma-separated), as a whole."""
        group = GROUPS.get(args.get("usergroup", ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        users = args.get("users")
        users = [u.strip() for u in (users.split(",") if isinstance(users, str) else users or []) if u.strip()]
        if not users:
            return {"ok": False, "error": "no_users_provided"}
        if any(user not in USERS or user in (BOT_USER_ID, SLACKBOT) for user in users):
            return {"ok": False, "error": "invalid_users"}
        members = tuple(dict.fromkeys(users))
        workspace.set_group_members(group.id, members)
        return {"ok": True, "usergroup": {"id": group.id, "team_id": TEAM_ID, "handle": group.handle,
                                          "name": group.handle, "users": list(members),
                                          "user_count": len(members)}}

    def conversations_info(args: dict) -> dict:
        channel = channel_by_name_or_id(args.get("channel", ""))
        return {"ok": True, "channel": channel_json(channel)} if channel else {
            "ok": False, "error": "channel_not_found"}

    def views_open(args: dict) -> dict:
        view = _json_arg(args.get("view"))
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": workspace.open_view(view)}

    def views_update(args: dict) -> dict:
        view, modal = _json_arg(args.get("view")), workspace.modal()
        if not isinstance(view, dict) or modal is None or args.get("view_id") != modal["id"]:
            return {"ok": False, "error": "not_found"}
        return {"ok": True, "view": workspace.update_view(view)}

    def views_publish(args: dict) -> dict:
        view = _json_arg(args.get("view"))
        if not isinstance(view, dict) or view.get("type") != "home" or args.get("user_id") not in USERS:
            return {"ok": False, "error": "invalid_arguments"}
        workspace.publish_home(args["user_id"], view)
        return {"ok": True, "view": view}

    def usergroups_list(_args: dict) -> dict:
        return {"ok": True, "usergroups": [{"id": g.id, "handle": g.handle, "name": g.handle} for g in GROUPS.values()]}

    return {
        "views.open": views_open,
        "views.publish": views_publish,
        "views.update": views_update,
        "usergroups.list": usergroups_list,
        "auth.test": auth_test,
        "chat.postMessage": post_message,
        "chat.update": update,
        "chat.postEphemeral": post_ephemeral,
        "users.info": users_info,
        "usergroups.users.list": usergroup_members,
        "usergroups.users.update": usergroup_update,
        "conversations.info": conversations_info,
    }


def _json_arg(value):
    """A Web API argument slack_sdk may send as JSON text (form-encoded calls) or as JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _postable(args: dict):
    """The channel to post in, or Slack's error."""
    channel = channel_by_name_or_id(args.get("channel", ""))
    if channel is None:
        return None, {"ok": False, "error": "channel_not_found"}
    if not channel.bot_is_member and channel.is_private:
        return None, {"ok": False, "error": "not_in_channel"}
    if not args.get("text") and not _blocks(args):
        return None, {"ok": False, "error": "no_text"}
    return channel, None


def _arguments() -> dict:
    args = request.args.to_dict()
    args.update(request.form.to_dict())
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        args.update(body)
    return args


def _blocks(args: dict) -> list:
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):  # form-encoded calls carry blocks as a JSON string
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return []
    return blocks if isinstance(blocks, list) else []


def _message_json(message) -> dict:
    return {"type": "message", "ts": message.ts, "user": message.user, "bot_id": BOT_ID,
            "text": message.text, "blocks": message.blocks}


