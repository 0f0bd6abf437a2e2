"""Hostile slash-command text through the whole app: never a 500, never a traceback."""

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import send

TOKENS = st.sampled_from(["+1", "415", "555", "0123", "+14155550123", "483920", "check", "lang=es", "lang=",
                          "help", "<tel:+14155550123|x>", "(415)", "-", ".", "+", "٣", "<@U1>", "&", "payload="])
TEXT = st.one_of(st.text(max_size=60), st.lists(TOKENS, max_size=6).map(" ".join))


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_command_text_gets_a_polite_reply(client, slack, plivo_api, text):
    reply = send(client, slack.command(text))
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert body.strip()
    assert "Traceback" not in body and "Error" not in body
