"""Slack users and groups turned into numbers, with a reason for everyone left out."""

import pytest
from slack_sdk import WebClient

from bot.directory import (
    GROUP,
    MAX_PEOPLE,
    MAX_TARGETS,
    NUMBER,
    USER,
    Lookups,
    Recipient,
    SlackDirectory,
    TooManyRecipients,
)
from voice.alerts.models import Skipped, Target
from voice.calls.policy import DestinationPolicy, refusal_for
from voice.queue.work import RetryLater

US_ONLY = DestinationPolicy(allowed_countries=frozenset({"US"}), own_number="+14155550100")


def policy(number):
    return refusal_for(number, US_ONLY)


@pytest.fixture
def directory(fake_slack):
    fake_slack.add_user("U1", "Alice Smith", "(415) 555-0101")  # no country code: DEFAULT_REGION
    fake_slack.add_user("U2", "Bob Jones", "+1 415 555 0102 ext. 7")
    fake_slack.add_user("U3", "Carol Diaz", "")
    fake_slack.add_user("U4", "Dan Old", "+1 415 555 0104", deleted=True)
    fake_slack.add_user("U5", "Eve Paris", "+33 6 12 34 56 78")
    fake_slack.add_user("U6", "Fay Typo", "call me maybe")
    fake_slack.add_usergroup("S1", ["U1", "U2", "U3"])
    fake_slack.add_usergroup("S0", [])
    return SlackDirectory(WebClient(token=fake_slack.bot_token, base_url=fake_slack.base_url), "US")


def user(user_id):
    return Recipient(USER, user_id, f"<@{user_id}>")


def test_users_are_called_at_their_profile_numbers_read_in_the_default_region(directory):
    found = directory.resolve([[user("U1"), user("U2")]], policy)
    # Each speaks their Slack locale (the stand-in's users are en-US).
    assert found.targets == (Target("+14155550101", 0, "U1", "Alice", "en-US"),
                             Target("+14155550102", 0, "U2", "Bob", "en-US"))
    assert found.skipped == ()


def test_a_group_is_expanded_to_its_members_and_someone_in_it_twice_is_called_once(directory):
    found = directory.resolve([[Recipient(GROUP, "S1", "<!subteam^S1>"), user("U1")]], policy)
    assert [target.user_id for target in found.targets] == ["U1", "U2"]
    assert found.skipped == (Skipped("<@U3>", "has no phone number in their Slack profile"),)


def test_everyone_who_cannot_be_called_is_named_with_the_reason(directory):
    found = directory.resolve([[user("U3"), user("U4"), user("U5"), user("U6"), user("U404"),
                                Recipient(GROUP, "S0", "<!subteam^S0>"), Recipient(GROUP, "S404", "<!subteam^S404>"),
                                Recipient(NUMBER, "+14155550100", "+1 415-555-0100")]], policy)
    assert found.targets == ()
    reasons = dict((item.label, item.reason) for item in found.skipped)
    assert reasons["<@U3>"] == "has no phone number in their Slack profile"
    assert reasons["<@U4>"] == "is deactivated or a bot"
    assert reasons["<@U5>"].startswith("+33 6 12 34 56 78 is in France, which this workspace does not call")
    assert reasons["<@U6>"] == ("has a phone number that cannot be called: "
                                "The profile number “call me maybe” is not a phone number.")
    assert reasons["<@U404>"] == "is not a user this app can see in Slack (user_not_found)"
    assert reasons["<!subteam^S0>"] == "has no members"
    assert reasons["<!subteam^S404>"] == "could not be read from Slack (no_such_subteam)"
    assert reasons["+1 415-555-0100"] == "+1 415-555-0100 is this app's own caller ID; it cannot call itself."


def test_a_chain_keeps_its_order_and_closes_up_around_an_empty_link(directory):
    found = directory.resolve([[user("U1")], [user("U3")], [Recipient(NUMBER, "+14155550102", "x")]], policy)
    assert [(target.stage, target.number) for target in found.targets] == [(0, "+14155550101"), (1, "+14155550102")]


def a_group(fake_slack, size: int, group_id: str = "SALL") -> Recipient:
    """A user group of `size` people, each with a phone number."""
    members = [f"U{index:04d}" for index in range(size)]
    for index, member in enumerate(members):
        fake_slack.add_user(member, f"Person {index}", f"+1 415 555 {1000 + index}")
    fake_slack.add_usergroup(group_id, members)
    return Recipient(GROUP, group_id, f"<!subteam^{group_id}>")


def test_one_alert_calls_a_bounded_number_of_phones(directory, fake_slack):
    group = a_group(fake_slack, MAX_TARGETS + 1)
    with pytest.raises(TooManyRecipients, match=f"That would call more than {MAX_TARGETS} phones; one alert calls "
                                                f"at most {MAX_TARGETS}."):
        directory.resolve([[group]], policy)


def test_a_3000_member_group_is_refused_before_anyone_in_it_is_looked_up(directory, fake_slack):
    group = a_group(fake_slack, 3000)
    with pytest.raises(TooManyRecipients, match="That names 3,000 people; one alert calls at most 50 phones."):
        directory.resolve([[group]], policy)
    assert len(fake_slack.calls("usergroups.users.list")) == 1
    assert fake_slack.calls("users.info") == []


def test_a_group_with_more_phones_than_the_cap_stops_at_the_first_phone_past_it(directory, fake_slack):
    group = a_group(fake_slack, MAX_PEOPLE)
    with pytest.raises(TooManyRecipients, match="more than 50 phones"):
        directory.resolve([[group]], policy)
    assert len(fake_slack.calls("users.info")) == MAX_TARGETS + 1


def test_a_retry_after_slacks_429_goes_on_from_the_lookups_already_done(fake_slack):
    group = a_group(fake_slack, 40)
    fake_slack.fail_http("users.info", 429, retry_after="1", after=25)  # Slack limits the 26th look-up
    lookups = Lookups()
    client = WebClient(token=fake_slack.bot_token, base_url=fake_slack.base_url)
    with pytest.raises(RetryLater) as limited:
        SlackDirectory(client, "US", lookups).resolve([[group]], policy)
    assert limited.value.after == 1.0
    found = SlackDirectory(client, "US", lookups).resolve([[group]], policy)  # the retry, as the queue runs it
    assert len(found.targets) == 40
    asked = [call["user"] for call in fake_slack.calls("users.info")]
    assert len(asked) == 41 and len(set(asked)) == 40  # each person once, the limited one twice
    assert len(fake_slack.calls("usergroups.users.list")) == 1


def test_names_come_from_the_profile(directory):
    assert directory.name("U1") == "Alice"
    assert directory.name("U404") is None
