"""What the bot says about schedules: hand-off notices, and `/oncall`'s replies and messages. Pure.

Times are Slack's date tokens wherever Slack shows them to one reader or many (each sees their own time
zone); a reply that must say a period in two named time zones (an override's) writes the wall clocks out.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from bot.messages import Act, plain_text
from bot.mrkdwn import Markup, date, escape, mention, slack_text, web_link
from voice.schedules.models import Override, Segment
from voice.schedules.rotation import zone
from voice.schedules.store import ScheduleRecord


def until(moment: datetime) -> Markup:
    """A time each reader sees in their own time zone."""
    return date(moment, "{date_short_pretty} {time}", f"{moment:%Y-%m-%d %H:%M} UTC")


def incoming_text(schedule: str, moment: datetime, override: bool) -> str:
    return slack_text(":pager: You are on call for ", Markup("*"), schedule, Markup("*"), " from now until ",
                      until(moment), " (an override)." if override else ".")


def outgoing_text(schedule: str, next_user: str | None, moment: datetime) -> str:
    if next_user is None:
        return slack_text(":wave: You are no longer on call for ", Markup("*"), schedule, Markup("*"), ".")
    return slack_text(":wave: You are no longer on call for ", Markup("*"), schedule, Markup("*"), ": ",
                      mention(next_user), " is, until ", until(moment), ".")


def channel_text(schedule: str, user: str | None, before: str | None, moment: datetime, override: bool,
                 skipped: tuple[str, ...]) -> str:
    passed = (slack_text(" (", Markup(", ".join(mention(person) for person in skipped)),
                         " cannot be on call: deactivated in Slack)") if skipped else "")
    if user is None:
        return slack_text(":warning: Nobody is on call for ", Markup("*"), schedule, Markup("*"), " now",
                          Markup(passed), ". Alerts to it go to the next link of their chain.")
    handed = slack_text(" from ", mention(before)) if before else ""
    return slack_text(":pager: ", mention(user), " is on call for ", Markup("*"), schedule, Markup("*"),
                      Markup(handed), " until ", until(moment), " (an override)" if override else "", Markup(passed),
                      ".")


# -- /oncall ------------------------------------------------------------------------------------------

#: Who may use /oncall, as a refusal says it (ALLOWED_SLACK_USERS, ALLOWED_SLACK_CHANNELS: as for calls).
SCHEDULES = Act("use on-call schedules", "On-call schedules cannot be used", "Nothing was changed.")
#: Where the file-defined schedules come from, as the settings name it.
FILE_SETTING = "ROUTING_FILE"
#: At most this many lines of shifts in a reply, and overrides in a list (a message holds 50 blocks).
MAX_LINES = 15
MAX_OVERRIDES = 40

ONCALL_USAGE = escape(
    "Usage:\n"
    "• `/oncall`: who is on call now and next, for every schedule\n"
    "• `/oncall <schedule>`: its next shifts and your calendar feed link; "
    "`/oncall <schedule> feed rotate` makes a new link (the old one stops working)\n"
    "• `/oncall cover <schedule> [@person] until fri 18:00`, or `from fri 18:00 until mon 09:00`: "
    "someone else on call for a while (you, without @person); times in your Slack time zone\n"
    "• `/oncall overrides <schedule>`: the overrides to come, with a way to remove one\n"
    "• `/oncall new`, `/oncall edit <schedule>`, `/oncall delete <schedule>`: make, change or delete a schedule"
)


def usage_reply(problem: str) -> str:
    return slack_text(":x: ", problem, "\n") + ONCALL_USAGE


def unknown_schedule_reply(name: str, names: list[str]) -> str:
    if not names:
        return slack_text(":x: There is no schedule “", name, "”, nor any other yet: `/oncall new` makes one, "
                          f"or they are written in {FILE_SETTING}.")
    return slack_text(":x: There is no schedule “", name, "”. The schedules are: ", ", ".join(names), ".")


def file_defined_reply(name: str) -> str:
    return slack_text(":x: ", Markup("*"), name, Markup("*"), f" is defined in {FILE_SETTING}; change it there. "
                      "Its overrides (`/oncall cover …`) and its calendar feed work from Slack.")


def when(moment: datetime, now: datetime | None = None) -> Markup:
    """A moment in each reader's own time zone; "now" for one not after `now`."""
    return Markup("now") if now is not None and moment <= now else until(moment)


def _period(segment: Segment, now: datetime, horizon: datetime) -> str:
    """"<start> – <end>"; a stretch cut by how far we looked goes on: "<start> onwards"."""
    if segment.end >= horizon:
        return slack_text(when(segment.start, now), " onwards")
    return slack_text(when(segment.start, now), " – ", until(segment.end))


def local_text(moment: datetime, time_zone: str) -> str:
    """A moment as a wall clock in `time_zone` reads it: "Fri 4 Dec 18:00"."""
    local = moment.astimezone(zone(time_zone))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _who(segment: Segment, schedule: ScheduleRecord) -> str:
    if segment.user:
        passed = slack_text(", ", Markup(", ".join(mention(user) for user in segment.skipped)),
                            " passed over (deactivated)") if segment.skipped else ""
        return slack_text(mention(segment.user), " (override)" if segment.is_override else "", Markup(passed))
    if not schedule.rotation.members:
        return slack_text("nobody (the rotation is empty)")
    if segment.skipped:
        return slack_text("nobody (everyone in the rotation is deactivated in Slack)")
    return slack_text("nobody yet")


def _name(schedule: ScheduleRecord) -> str:
    return slack_text(Markup("*"), schedule.name, Markup("*"))


def listing_reply(rows: list[tuple[ScheduleRecord, Segment, Segment | None]], now: datetime,
                  horizon: datetime) -> str:
    """`/oncall`: each schedule's person on call now, until when, and who is next."""
    if not rows:
        return slack_text(f"No on-call schedules yet. `/oncall new` makes one, or they are written in "
                          f"{FILE_SETTING}.")
    lines = [slack_text("*On call now* (times in your time zone)")]
    for schedule, current, following in rows:
        if following is None:
            lines.append(slack_text("• ", Markup(_name(schedule)), ": ", Markup(_who(current, schedule)),
                                    ", with no change in the next 8 weeks"))
            continue
        lines.append(slack_text("• ", Markup(_name(schedule)), ": ", Markup(_who(current, schedule)), " until ",
                                when(following.start, now), ", then ", Markup(_who(following, schedule)),
                                Markup(slack_text(" until ", until(following.end))) if following.end < horizon
                                else ""))
    lines.append(slack_text("`/oncall <schedule>` shows its next shifts and its calendar feed; "
                            "`/oncall help` the rest."))
    return "\n".join(lines)


def schedule_reply(schedule: ScheduleRecord, shifts: list[Segment], now: datetime, horizon: datetime,
                   feed: str | None) -> str:
    """`/oncall <name>`: how the schedule turns, its next shifts (overrides marked), the calendar feed's link."""
    rotation = schedule.rotation
    members = ", ".join(mention(user) for user in rotation.members) or "nobody yet"
    lines = [slack_text(Markup(_name(schedule)), f" · {rotation.time_zone} · {rotation.shift.written()}, "
                        f"hand-off {rotation.handoff.written()} · rotation: ", Markup(members),
                        f" · defined in {FILE_SETTING}" if schedule.defined_in == "file" else "")]
    kept = [part for part in (
        slack_text("its user group ", Markup(f"<!subteam^{schedule.user_group}>")) if schedule.user_group else "",
        slack_text("hand-off notices in ", _channel(schedule.channel)) if schedule.channel else "") if part]
    if kept:
        lines.append(slack_text("Keeps ", Markup(" and ".join(kept)), " up to date."))
    lines.append(slack_text("*Next shifts* (times in your time zone):"))
    for segment in shifts[:MAX_LINES]:
        lines.append(slack_text("• ", Markup(_period(segment, now, horizon)), " · ", Markup(_who(segment, schedule)),
                                Markup(slack_text(", added by ", mention(segment.override.created_by)))
                                if segment.override and segment.override.created_by else ""))
    if len(shifts) > MAX_LINES:
        lines.append(slack_text(f"… and {len(shifts) - MAX_LINES} more in the next 4 weeks."))
    if feed:
        lines.append(slack_text(":calendar: Your calendar feed: ", web_link(feed, f"{schedule.name}.ics"),
                                " (in Google Calendar: Other calendars, From URL; in Outlook: Add calendar, "
                                "Subscribe from web). The link is the key: anyone who has it sees these shifts. "
                                f"`/oncall {schedule.name} feed rotate` makes a new one, and this one stops "
                                "working."))
    return "\n".join(lines)


def feed_url(public_url: str, name: str, token: str) -> str:
    """The schedule's calendar feed (answer_server serves GET /schedules/<name>.ics?token=…). The token is in
    the URL because calendar programs subscribe to a URL and send nothing else."""
    return f"{public_url.rstrip('/')}/schedules/{quote(name)}.ics?token={quote(token)}"


def saved_reply(schedule: ScheduleRecord, created: bool, current: Segment | None, following: Segment | None,
                now: datetime) -> str:
    """Told to whoever submitted the form: the schedule is made (or changed), and who is on call."""
    said = slack_text(":white_check_mark: ", "Created" if created else "Saved", " the schedule ",
                      Markup(_name(schedule)), ". ")
    if current is not None and following is not None and current.user is None and not current.skipped:
        said += slack_text(Markup(_who(following, schedule)), " is on call first, from ", until(following.start),
                           ".")
    elif current is not None:
        said += slack_text("On call now: ", Markup(_who(current, schedule)),
                           Markup(slack_text(", until ", until(following.start))) if following else "", ".")
    return said + slack_text(f" `/oncall {schedule.name}` shows its shifts and calendar feed.")


def feed_rotated_reply(name: str, feed: str) -> str:
    return slack_text(":white_check_mark: A new calendar feed for ", Markup("*"), name, Markup("*"), ": ",
                      web_link(feed, f"{name}.ics"), ". The old link no longer works: everyone who subscribed "
                      "to it subscribes again with this one.")


def _channel(channel: str) -> Markup:
    return Markup(f"<#{channel}>") if channel.startswith("C") else Markup(escape(channel))


# -- overrides ------------------------------------------------------------------------------------

REMOVE_OVERRIDE = "oncall_remove_override"


def covering_reply(name: str, user: str) -> str:
    """Said at once, while Slack is asked for the time zone the times are read in."""
    return slack_text(":hourglass_flowing_sand: Putting ", mention(user), " on call for ", Markup("*"), name,
                      Markup("*"), " (reading the times in your Slack time zone)…")


def covered_reply(name: str, user: str, start: datetime, end: datetime, started_now: bool,
                  reader_zone: str | None, schedule_zone: str) -> str:
    """An override added: the period in the reader's time zone and in the schedule's."""
    def period(time_zone: str) -> str:
        begin = "now" if started_now else local_text(start, time_zone)
        return f"from {begin} until {local_text(end, time_zone)}"

    if reader_zone is None:
        said = f"{period(schedule_zone)} in {name}'s time zone, {schedule_zone} (Slack did not say yours)"
    elif reader_zone == schedule_zone:
        said = f"{period(schedule_zone)} ({schedule_zone}, your time zone and {name}'s)"
    else:
        said = (f"{period(reader_zone)} in your time zone ({reader_zone}); that is {period(schedule_zone)} in "
                f"{name}'s ({schedule_zone})")
    return slack_text(":white_check_mark: ", mention(user), " is on call for ", Markup("*"), name, Markup("*"),
                      f" {said}. `/oncall overrides {name}` lists the overrides, with a way to remove one.")


def not_covered_reply(problem: str) -> str:
    return slack_text(":x: No override was added: ", problem)


def deactivated_reply(user: str) -> str:
    return not_covered_reply(Markup(slack_text(mention(user), " is deactivated in Slack (or is an app), and cannot "
                                               "be on call.")))


def overrides_message(schedule: ScheduleRecord, overrides: list[Override], note: str = "") -> tuple[str, list[dict]]:
    """`/oncall overrides <name>`: (text, blocks), each override with its Remove button; `note` above them."""
    name = schedule.name
    blocks: list[dict] = [_section(note)] if note else []
    if not overrides:
        text = slack_text("No overrides to come for ", Markup("*"), name, Markup("*"), ". ",
                          f"`/oncall cover {name} [@person] until <time>` adds one.")
        return text, blocks + [_section(text)]
    text = slack_text(f"Overrides of {name} to come: {len(overrides)}")
    blocks.append(_section(slack_text("*Overrides of ", name, "* (times in your time zone; the later added wins "
                                      "where two overlap)")))
    for item in overrides[:MAX_OVERRIDES]:
        line = slack_text(mention(item.user), " from ", until(item.start), " until ", until(item.end),
                          Markup(slack_text(", added by ", mention(item.created_by))) if item.created_by else "")
        blocks.append(_section(line) | {"accessory": {
            "type": "button", "action_id": REMOVE_OVERRIDE, "value": f"{name}:{item.id}",
            "text": {"type": "plain_text", "text": "Remove"},
            "confirm": {"title": plain_text("Remove this override?"),
                        "text": plain_text("Whoever the rotation says is on call again for this period."),
                        "confirm": plain_text("Remove"), "deny": plain_text("Keep it"), "style": "danger"}}})
    if len(overrides) > MAX_OVERRIDES:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(
            f"… and {len(overrides) - MAX_OVERRIDES} more, later.")}]})
    return text, blocks


def removed_note(user: str, removed: bool) -> str:
    if not removed:
        return slack_text(":information_source: That override was removed already.")
    return slack_text(":white_check_mark: Removed ", mention(user), "'s override.")


# -- deleting ---------------------------------------------------------------------------------------

DELETE_SCHEDULE = "oncall_delete_schedule"


def delete_message(name: str, overrides: int) -> tuple[str, list[dict]]:
    """`/oncall delete <name>`: what goes with it, and the one button that deletes it."""
    text = slack_text("Delete the schedule ", Markup("*"), name, Markup("*"), "? Its rotation, ",
                      f"{overrides} override{'s' if overrides != 1 else ''} to come and its calendar feed go "
                      "with it; its user group keeps its members. Dismiss this message to keep it.")
    return text, [_section(text), {"type": "actions", "block_id": "oncall_delete", "elements": [{
        "type": "button", "action_id": DELETE_SCHEDULE, "value": name, "style": "danger",
        "text": plain_text(f"Delete {name}")}]}]


def deleted_reply(name: str, deleted: bool) -> str:
    if not deleted:
        return slack_text(":information_source: ", Markup("*"), name, Markup("*"), " was deleted already.")
    return slack_text(":wastebasket: Deleted the schedule ", Markup("*"), name, Markup("*"), ".")


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# -- the Home tab ------------------------------------------------------------------------------------

#: The Home tab shows at most this many of the viewer's next shifts.
HOME_SHIFTS = 5


def next_shifts_text(shifts: list[tuple[str, Segment]], feeds: list[tuple[str, str]], now: datetime,
                     horizon: datetime) -> str:
    """"Your next shifts" (schedule, stretch), soonest first, and the calendar feeds of the viewer's schedules."""
    lines = [slack_text("*Your next shifts* (in your time zone)")]
    for name, segment in shifts[:HOME_SHIFTS]:
        lines.append(slack_text("• ", Markup("*"), name, Markup("*"), ": ", Markup(_period(segment, now, horizon)),
                                " (override)" if segment.is_override else ""))
    if not shifts:
        lines.append(slack_text("None in the next 4 weeks."))
    if feeds:
        lines.append(slack_text(":calendar: Calendar feeds: ", Markup(" · ".join(
            web_link(url, f"{name}.ics") for name, url in feeds)), " (subscribe from your calendar; "
            "the link is the key: keep it to yourself)"))
    return "\n".join(lines)
