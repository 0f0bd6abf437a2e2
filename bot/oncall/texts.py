"""What the bot says about schedules: hand-off notices. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.mrkdwn import Markup, date, mention, slack_text


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
