"""ROUTING_FILE: the integrations as code, read whole (every problem at once, with its line, no
secret echoed), at start-up (exit status 2 on a bad file) and again on SIGHUP (a bad file refused,
the previous one kept; a good one taken by the web processes and the worker process)."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest
import requests
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import running_app
from tests.server_process import bare_env, free_port, settings_env
from voice.intake.credentials import token_digest
from voice.routing.holder import RoutingHolder
from voice.routing.loading import MAX_BYTES, load_routing, parse_routing
from voice.routing.models import (
    IntegrationDef,
    RecipientRef,
    Routing,
    RoutingProblems,
)
from voice.settings import SettingsError, load_settings

TOKEN = "backend-prod-token-0123456789"
OTHER_TOKEN = "another-token-abcdefghijklmnop"
ENV = {"BACKEND_PROD_TOKEN": TOKEN, "OTHER_TOKEN": OTHER_TOKEN, "SHORT_TOKEN": "short-secret", "EMPTY_TOKEN": "",
       "SPACED_TOKEN": "a token with spaces in it"}

VALID = """\
# Alerts from monitoring, and whom they phone.
integrations:
  - name: backend-prod
    token_env: BACKEND_PROD_TOKEN
    channel: C0123ABCD
    call: "S0BACKEND > U0LEAD > +14155550100"
    lang: en
    phone: [critical, error, P1, P2]
  - name: payments
    token_sha256: {digest}
    channel: G0PRIVATE1
    call: "U0ANA, W0BOB U0ANA > S0DBA,+442071838750 lang=es-mx"
    phone: [Critical, p1]
  - name: warnings-feed
    token_env: OTHER_TOKEN
    channel: C0FEED
    phone: []
"""


def parse(text: str, environ=None) -> Routing | RoutingProblems:
    return parse_routing(textwrap.dedent(text), ENV if environ is None else environ)


def problems(text: str, environ=None) -> list[str]:
    result = parse(text, environ)
    assert isinstance(result, RoutingProblems), result
    return list(result.lines)


def one(**fields: str) -> str:
    """A file of one integration: a good one, with `fields` (YAML text each) in place of its own."""
    base = {"name": "backend-prod", "token_env": "BACKEND_PROD_TOKEN", "channel": "C0123ABCD",
            "call": '"U0LEAD"'}
    merged = {key: value for key, value in (base | fields).items() if value is not None}
    return "integrations:\n" + "".join(
        f"  {'- ' if index == 0 else '  '}{key}: {value}\n" for index, (key, value) in enumerate(merged.items()))


# -- a good file -------------------------------------------------------------------------------

def test_a_complex_file_becomes_its_integrations():
    digest = hashlib.sha256(b"payments-token-0123456789").hexdigest()
    routing = parse(VALID.replace("{digest}", digest))
    assert isinstance(routing, Routing)
    backend, payments, feed = routing.integrations
    assert backend == IntegrationDef(
        name="backend-prod", token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest(), channel="C0123ABCD",
        stages=((RecipientRef("group", "S0BACKEND"),), (RecipientRef("user", "U0LEAD"),),
                (RecipientRef("number", "+14155550100"),)),
        lang="en", phone=("critical", "error", "P1", "P2"))
    assert payments.stages == ((RecipientRef("user", "U0ANA"), RecipientRef("user", "W0BOB")),
                               (RecipientRef("group", "S0DBA"), RecipientRef("number", "+442071838750")))
    assert (payments.token_sha256, payments.channel, payments.lang, payments.phone) == (
        digest, "G0PRIVATE1", "es-MX", ("critical", "P1"))
    assert feed == IntegrationDef(name="warnings-feed", token_sha256=token_digest(OTHER_TOKEN), channel="C0FEED",
                                  stages=(), lang=None, phone=())
    assert routing.by_token(TOKEN) is backend and routing.by_token("payments-token-0123456789") is payments
    assert routing.by_token("backend-prod-token-012345678") is None
    assert routing.named("payments") is payments and routing.named("nope") is None


def test_phone_left_out_means_the_default_and_lang_may_come_from_the_call():
    [integration] = parse(one(call='"U0LEAD lang=fr > +33142685300"')).integrations
    assert integration.phone is None and integration.lang == "fr"
    assert integration.stages == ((RecipientRef("user", "U0LEAD"),), (RecipientRef("number", "+33142685300"),))


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n", "integrations:\n", "integrations: []\n",
                                  "---\n", "\ufeffintegrations: []\n"])
def test_an_empty_file_defines_no_integrations(text):
    assert parse(text) == Routing(integrations=())


def test_the_holder_hands_out_the_routing_it_was_last_given():
    holder = RoutingHolder()
    assert holder.current() == Routing()
    routing = parse(one())
    holder.replace(routing)
    assert holder.current() is routing


# -- each problem, with its line -----------------------------------------------------------------

FIELD_PROBLEMS = [
    ({"name": "Backend_Prod"}, 'line 2: integrations[0].name: "Backend_Prod" must be 1 to 40 lowercase letters, '
                               "digits and dashes (e.g. backend-prod)"),
    ({"name": "a" * 41}, "line 2: integrations[0].name: " + '"' + "a" * 41 + '" must be 1 to 40 lowercase'),
    ({"name": None}, "line 2: integrations[0]: name is required"),
    ({"name": "~"}, "line 2: integrations[0]: name is required"),
    ({"name": "[a, b]"}, "line 2: integrations[0].name: must be text, not a list"),
    ({"name": "123"}, 'line 2: integrations[0].name: must be text, and YAML reads 123 as a number: put it in '
                      'quotes ("123")'),
    ({"channel": '"#ops"'}, 'line 4: integrations[0].channel: "#ops" is a channel\'s name; give its ID (C… or G…, '
                            "at the bottom of the channel's details)"),
    ({"channel": "D0123ABCD"}, 'line 4: integrations[0].channel: "D0123ABCD" is not a Slack channel ID (C… or G…)'),
    ({"channel": "c0123abcd"}, 'line 4: integrations[0].channel: "c0123abcd" is not a Slack channel ID'),
    ({"channel": "{id: C0123ABCD}"}, "line 4: integrations[0].channel: must be text, not a mapping"),
    ({"channel": None}, "line 2: integrations[0]: channel is required"),
    ({"lang": "no"}, 'line 6: integrations[0].lang: must be text, and YAML reads no as true or false: put it in '
                     'quotes ("no")'),
    ({"lang": "xx"}, 'line 6: integrations[0].lang: "xx" is not a language calls speak; use one of '
                     "en, es, fr, de, pt, it, hi"),
    ({"phone": "critical"}, "line 6: integrations[0].phone: must be a list of severities, e.g. [critical, P1] "
                            "([] for none), not text"),
    ({"phone": ""}, "line 6: integrations[0].phone: must be a list of severities, e.g. [critical, P1] ([] for "
                    "none), not empty"),
    ({"phone": "[critcal]"}, 'line 6: integrations[0].phone[0]: "critcal" is not a severity; the severities are: '
                             "critical, error, warning, info, none, P1, P2, P3, P4, P5"),
    ({"phone": "[P1, 2]"}, 'line 6: integrations[0].phone[1]: must be text, and YAML reads 2 as a number: put it '
                           'in quotes ("2")'),
    ({"phone": "[[P1]]"}, "line 6: integrations[0].phone[0]: must be text, not a list"),
    ({"call": None}, "line 2: integrations[0]: call is required (whom to phone), unless phone: [] says its alerts "
                     "never phone"),
    ({"call": '""'}, "line 5: integrations[0].call: names nobody to phone: Slack user IDs (U…), user group IDs "
                     "(S…), numbers (+14155550100) or schedule:<name>"),
    ({"call": "[U0LEAD]"}, "line 5: integrations[0].call: must be text, not a list"),
    ({"call": '"U0LEAD >"'}, "line 5: integrations[0].call: “>” goes between two links of the chain, with someone "
                             "on each side (e.g. S0BACKEND > U0LEAD)"),
    ({"call": '"> U0LEAD"'}, "line 5: integrations[0].call: “>” goes between two links"),
    ({"call": '"U0A > > U0B"'}, "line 5: integrations[0].call: “>” goes between two links"),
    ({"call": '"@alice"'}, 'line 5: integrations[0].call: "@alice" is a name or a mention; use the Slack ID: a '
                           "person's member ID (U…, in their profile: ⋮ → Copy member ID) or a user group's ID (S…)"),
    ({"call": '"<@U0LEAD> > +14155550100"'},
     'line 5: integrations[0].call: "<@U0LEAD>" is a Slack mention; write the bare ID (U0LEAD)'),
    ({"call": '"U0LEAD > <!subteam^S0DBA|@dba>"'},
     'line 5: integrations[0].call: "<!subteam^S0DBA|@dba>" is a Slack mention; write the bare ID (S0DBA)'),
    ({"call": '"u0lead"'}, 'line 5: integrations[0].call: "u0lead": Slack IDs are written in capitals (U0LEAD)'),
    ({"call": '"C0123ABCD"'}, 'line 5: integrations[0].call: "C0123ABCD" is not a recipient: a Slack user ID (U… or '
                              "W…), a user group ID (S…) or a number in E.164 form (+14155550100)"),
    ({"call": '"U0LEAD > +1 (415) 555-0100"'}, 'line 5: integrations[0].call: "+1 (415) 555-0100": write a number '
                                               "without spaces, dashes or dots (+14155550100)"),
    ({"call": '"U0LEAD 415"'}, 'line 5: integrations[0].call: "415" is not a recipient: a number is written with + '
                               "and its country code, without spaces (+14155550100)"),
    ({"call": '"+1415555O100"'}, 'line 5: integrations[0].call: "+1415555O100" is not a number in E.164 form: + and '
                                 "up to 15 digits, with no spaces (+14155550100)"),
    ({"call": '"+999123456789"'}, "line 5: integrations[0].call: “+999123456789” is not a phone number with a known "
                                  "country code"),
    ({"call": '"+14155550100999"'}, "line 5: integrations[0].call: “+14155550100999” is too long to be a phone "
                                    "number"),
    ({"call": '"+1415"'}, "line 5: integrations[0].call: “+1415” is too short to be a phone number"),
    ({"call": '"U0LEAD lang=xx"'}, 'line 5: integrations[0].call: "lang=xx" is not a language calls speak; use one '
                                   "of en, es, fr, de, pt, it, hi (e.g. lang=es)"),
    ({"call": '"U0LEAD lang=es lang=de"'}, "line 5: integrations[0].call: names 2 languages (de, es); give one"),
    ({"call": '"U0LEAD lang=es"', "lang": "de"}, "line 5: integrations[0].call: lang=es differs from lang: de; "
                                                 "give one"),
    ({"call": '"' + " > ".join(f"U0P{i:03}" for i in range(11)) + '"'},
     "line 5: integrations[0].call: has 11 links; at most 10"),
    ({"call": '"' + " ".join(f"U0P{i:03}" for i in range(51)) + '"'},
     "line 5: integrations[0].call: names 51 recipients; at most 50"),
    ({"call": '"' + "U0LEAD " * 400 + '"'}, "line 5: integrations[0].call: is 2800 characters long; at most 2000"),
    ({"phones": "[P1]"}, 'line 6: integrations[0]: unknown key "phones" (did you mean phone?); the known keys are: '
                         "name, token_env, token_sha256, channel, call, lang, phone"),
    ({"escalate_after": "5m"}, 'line 6: integrations[0]: unknown key "escalate_after"; the known keys are: name, '),
    ({"<<": "{lang: en}"}, "line 6: integrations[0]: merge keys (<<) are not supported: write each key out"),
]


@pytest.mark.parametrize(("fields", "expected"), FIELD_PROBLEMS)
def test_each_problem_has_its_own_line_and_message(fields, expected):
    found = problems(one(**fields))
    assert len(found) == 1, found
    assert found[0].startswith("ROUTING_FILE " + expected), found[0]


def test_a_key_given_twice_is_a_problem_rather_than_the_last_one_winning():
    text = one() + "    phone: [critical]\n    phone: []\n"
    assert problems(text) == ["ROUTING_FILE line 7: integrations[0].phone: given twice (first on line 6): say it "
                              "once"]


TOKEN_PROBLEMS = [
    ({"token_env": "NOT_SET_TOKEN"}, "line 3: integrations[0].token_env: the environment variable NOT_SET_TOKEN is "
                                     "not set"),
    ({"token_env": "EMPTY_TOKEN"}, "line 3: integrations[0].token_env: the environment variable EMPTY_TOKEN is "
                                   "empty"),
    ({"token_env": "SHORT_TOKEN"}, "line 3: integrations[0].token_env: the token in SHORT_TOKEN is shorter than 16 "
                                   "characters: use a long random one (openssl rand -hex 32)"),
    ({"token_env": "SPACED_TOKEN"}, "line 3: integrations[0].token_env: the token in SPACED_TOKEN holds spaces or "
                                    "characters other than printable ASCII"),
    ({"token_env": '"$TOKEN"'}, 'line 3: integrations[0].token_env: "$TOKEN" is not the name of an environment '
                                "variable (letters, digits and _)"),
    ({"token_env": None}, "line 2: integrations[0]: a token is required: token_env (the name of an environment "
                          "variable holding it) or token_sha256 (its SHA-256 in hex)"),
    ({"token_sha256": "a" * 64}, "line 2: integrations[0]: give token_env or token_sha256, not both"),
]


@pytest.mark.parametrize(("fields", "expected"), TOKEN_PROBLEMS)
def test_a_token_must_come_from_a_set_long_variable_or_a_digest(fields, expected):
    found = problems(one(**fields))
    assert len(found) == 1 and found[0].startswith("ROUTING_FILE " + expected), found
    assert not any(secret in found[0] for secret in ("short-secret", "a token with spaces"))


def test_a_token_in_clear_is_refused_without_being_shown():
    found = problems(one(token_env=None, token="s3cr3t-written-in-the-file-0123"))
    assert found == ["ROUTING_FILE line 5: integrations[0].token: a token is never written in this file: give "
                     "token_env (the name of an environment variable holding it) or token_sha256 (its SHA-256 in "
                     "hex)",
                     "ROUTING_FILE line 2: integrations[0]: a token is required: token_env (the name of an "
                     "environment variable holding it) or token_sha256 (its SHA-256 in hex)"][::-1]


@pytest.mark.parametrize("written", ["s3cr3t-pasted-here-by-mistake-01", "A" * 64, "ab" * 31, '"12345"'])
def test_a_bad_digest_is_refused_without_being_shown(written):
    # Someone may paste the token itself where its digest goes: it must not reach the log.
    found = problems(one(token_env=None, token_sha256=written))
    assert found == ["ROUTING_FILE line 5: integrations[0].token_sha256: must be 64 lowercase hexadecimal digits, "
                     'the SHA-256 of the token (printf %s "$TOKEN" | sha256sum)']
    assert written.strip('"') not in found[0]


def test_names_and_tokens_are_unique():
    text = VALID.replace("{digest}", token_digest(TOKEN)).replace("name: warnings-feed", "name: backend-prod")
    assert problems(text) == [
        "ROUTING_FILE line 9: integrations[1]: its token is the same as integrations[0]'s; each integration needs "
        "its own",
        'ROUTING_FILE line 14: integrations[2].name: "backend-prod" is already the name of integrations[0]; names '
        "are unique",
    ]


def test_every_problem_is_reported_at_once_in_the_files_order():
    text = """\
        integrations:
          - name: Backend
            token: abc
            channel: "#ops"
            call: "U0LEAD > @bob"
            phone: [urgent]
          - just text
          - name: ok-one
            token_env: SHORT_TOKEN
            channel: C0123ABCD
            call: U0LEAD
        rotas: []
        """
    assert problems(text) == [
        'ROUTING_FILE line 2: integrations[0].name: "Backend" must be 1 to 40 lowercase letters, digits and dashes '
        "(e.g. backend-prod)",
        "ROUTING_FILE line 2: integrations[0]: a token is required: token_env (the name of an environment variable "
        "holding it) or token_sha256 (its SHA-256 in hex)",
        "ROUTING_FILE line 3: integrations[0].token: a token is never written in this file: give token_env (the "
        "name of an environment variable holding it) or token_sha256 (its SHA-256 in hex)",
        'ROUTING_FILE line 4: integrations[0].channel: "#ops" is a channel\'s name; give its ID (C… or G…, at the '
        "bottom of the channel's details)",
        'ROUTING_FILE line 5: integrations[0].call: "@bob" is a name or a mention; use the Slack ID: a person\'s '
        "member ID (U…, in their profile: ⋮ → Copy member ID) or a user group's ID (S…)",
        'ROUTING_FILE line 6: integrations[0].phone[0]: "urgent" is not a severity; the severities are: critical, '
        "error, warning, info, none, P1, P2, P3, P4, P5",
        "ROUTING_FILE line 7: integrations[1]: must be a mapping of name, token_env, token_sha256, channel, call, "
        "lang, phone, not text",
        "ROUTING_FILE line 9: integrations[2].token_env: the token in SHORT_TOKEN is shorter than 16 characters: use "
        "a long random one (openssl rand -hex 32)",
        'ROUTING_FILE line 12: unknown section "rotas"; the known sections are: integrations, schedules, hotlines',
    ]


# -- the file as a whole -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("integrations:\n  - name: a\n    channel: [C1\n", "ROUTING_FILE line 4: not valid YAML: expected ',' or ']', "
                                                       "but got '<stream end>'"),
    ("integrations:\n  - name: a\n   channel: C1\n", "ROUTING_FILE line 3: not valid YAML: expected <block end>, "
                                                    "but found '<block mapping start>'"),
    ("integrations:\n\t- name: a\n", "ROUTING_FILE line 2: not valid YAML: found character '\\t' that cannot start "
                                     "any token"),
    ("a: 1\n---\nb: 2\n", "ROUTING_FILE line 2: not valid YAML: but found another document"),
    ("x: *nowhere\n", "ROUTING_FILE line 1: not valid YAML: found undefined alias 'nowhere'"),
    ("[" * 3000, "ROUTING_FILE: not valid YAML: nested too deeply"),
    ("- integrations\n", "ROUTING_FILE line 1: the file must be a mapping of sections (integrations, schedules, hotlines), not a list"),
    ("integrations\n", "ROUTING_FILE line 1: the file must be a mapping of sections (integrations, schedules, hotlines), not text"),
    ("integrations: {name: a}\n", "ROUTING_FILE line 1: integrations: must be a list of integrations (each starting "
                                  "with “- name:”), not a mapping"),
    ("integration: []\n", 'ROUTING_FILE line 1: unknown section "integration" (did you mean integrations?); the '
                          "known sections are: integrations"),
    ("rotas: []\n",
     'ROUTING_FILE line 1: unknown section "rotas"; the known sections are: integrations, schedules, hotlines'),
    ("[a]: 1\n", "ROUTING_FILE line 1: a key must be a name, not a list"),
    ("integrations: !!python/object/apply:os.system [echo pwned]\n",
     "ROUTING_FILE line 1: integrations: must be a list of integrations (each starting with “- name:”), not a value "
     'tagged "tag:yaml.org,2002:python/object/apply:os.system"'),
    ("!!python/object:dict {integrations: []}\n",
     'ROUTING_FILE line 1: the file must be a mapping of sections (integrations, schedules, hotlines), not a value tagged'),
])
def test_a_file_that_is_not_routing_says_where(text, expected):
    found = problems(text)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_tagged_value_is_never_constructed():
    found = problems(one(name="!!python/object/apply:os.system [touch /tmp/pwned]"))
    assert found == ["ROUTING_FILE line 2: integrations[0].name: must be text, not a value tagged "
                     '"tag:yaml.org,2002:python/object/apply:os.system"']
    found = problems(one(channel='!!python/name:os.system ""'))
    assert found == ['ROUTING_FILE line 4: integrations[0].channel: must be text, not a value tagged '
                     '"tag:yaml.org,2002:python/name:os.system"']


def test_values_in_problem_lines_are_bounded_and_escaped():
    [line] = problems(one(name='"bad\\u202ename\\u0007' + "x" * 100 + '"'))
    assert "\u202e" not in line and "\x07" not in line and "\\u202e" in line
    assert len(line) < 200 and "x" * 61 not in line


def test_a_file_that_cannot_be_read(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert load_routing(str(missing), ENV) == RoutingProblems(
        (f"ROUTING_FILE: {missing} cannot be read: No such file or directory",))
    assert load_routing(str(tmp_path), ENV) == RoutingProblems(
        (f"ROUTING_FILE: {tmp_path} cannot be read: Is a directory",))
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("integrations: [] # café\n".encode("latin-1"))
    assert load_routing(str(latin1), ENV) == RoutingProblems(
        (f"ROUTING_FILE: {latin1} is not UTF-8 text (byte 22)",))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    assert load_routing(str(big), ENV) == RoutingProblems(
        (f"ROUTING_FILE: {big} is larger than {MAX_BYTES} bytes",))
    good = tmp_path / "routing.yaml"
    good.write_text(one())
    assert load_routing(str(good), ENV) == parse(one())
    assert load_routing(str(good), {}) == RoutingProblems(
        ("ROUTING_FILE line 3: integrations[0].token_env: the environment variable BACKEND_PROD_TOKEN is not set",))


# -- settings --------------------------------------------------------------------------------------

SETTINGS = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s3cr3t-signing",
            "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX", "PLIVO_AUTH_TOKEN": "pl1vo-t0ken",
            "PLIVO_FROM_NUMBER": "+1 415 555 0100", "PUBLIC_URL": "https://calls.example.com/"}


def test_settings_hold_the_routing_file_and_its_integrations(tmp_path):
    assert load_settings(SETTINGS).routing == Routing() and load_settings(SETTINGS).routing_file == ""
    path = tmp_path / "routing.yaml"
    path.write_text(one())
    settings = load_settings(SETTINGS | ENV | {"ROUTING_FILE": f" {path} "})
    assert settings.routing_file == str(path) and settings.routing == parse(one())


def test_a_bad_routing_file_is_reported_with_the_other_settings_problems(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(one(channel='"#ops"', lang="xx"))
    with pytest.raises(SettingsError) as raised:
        load_settings(SETTINGS | ENV | {"ROUTING_FILE": str(path), "PORT": "http"})
    assert raised.value.problems == [
        "PORT must be a port number from 1 to 65535",
        "ROUTING_FILE line 4: integrations[0].channel: \"#ops\" is a channel's name; give its ID (C… or G…, at the "
        "bottom of the channel's details)",
        'ROUTING_FILE line 6: integrations[0].lang: "xx" is not a language calls speak; use one of en, es, fr, de, '
        "pt, it, hi",
    ]


# -- the real server -------------------------------------------------------------------------------

@pytest.fixture
def server_env(tmp_path, fake_slack, fake_plivo) -> dict[str, str]:
    return bare_env() | settings_env(tmp_path, free_port(), fake_slack.base_url, fake_plivo.base_url) | ENV


def test_a_server_with_a_bad_routing_file_does_not_start(tmp_path, server_env):
    path = tmp_path / "routing.yaml"
    path.write_text(one(token_env="SHORT_TOKEN", call='"U0LEAD > @bob"'))
    result = subprocess.run([sys.executable, "-m", "answer_server"], cwd=tmp_path,
                            env=server_env | {"ROUTING_FILE": str(path)}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: ROUTING_FILE line 3: integrations[0].token_env: the token in SHORT_TOKEN is shorter than 16 "
        "characters: use a long random one (openssl rand -hex 32)",
        'error: ROUTING_FILE line 5: integrations[0].call: "@bob" is a name or a mention; use the Slack ID: a '
        "person's member ID (U…, in their profile: ⋮ → Copy member ID) or a user group's ID (S…)",
    ]
    assert "short-secret" not in result.stderr + result.stdout


def _booted(output: str) -> int:
    return len(re.findall(r"Booting worker with pid", output))


def test_sighup_takes_a_good_file_and_refuses_a_bad_one_keeping_the_previous(tmp_path, launch):
    path = tmp_path / "routing.yaml"
    path.write_text(one())
    server = launch(ROUTING_FILE=str(path), WEB_CONCURRENCY="2")
    server.wait_for_output(f"routing: 1 integration from {path}\n")
    server.wait_for_output(f"routing: 1 integration from {path} (worker process)\n")
    deadline = time.monotonic() + 10
    while _booted(server.output()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _booted(server.output()) == 2

    path.write_text(one(channel='"#ops"', token_env="SHORT_TOKEN"))
    os.kill(server.process.pid, signal.SIGHUP)
    server.wait_for_output(f"routing: {path} refused; the previous one stays (1 integration)")
    output = server.output()
    assert re.search(r" ERROR answer_server: ROUTING_FILE line 3: integrations\[0\].token_env: the token in "
                     r"SHORT_TOKEN is shorter than 16 characters", output)
    assert re.search(r" ERROR answer_server: ROUTING_FILE line 4: integrations\[0\].channel: \"#ops\" is a "
                     r"channel's name", output)
    assert "short-secret" not in output
    time.sleep(1.0)  # what a reload would have done by now: start web processes, tell the worker process
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    assert _booted(server.output()) == 2
    assert server.output().count("(worker process)") == 1

    two = one() + "  - name: payments\n    token_env: OTHER_TOKEN\n    channel: C0PAY\n    call: S0DBA\n"
    path.write_text(two)
    os.kill(server.process.pid, signal.SIGHUP)
    server.wait_for_output(f"routing: 2 integrations from {path}\n")
    server.wait_for_output(f"routing: 2 integrations from {path} (worker process)\n")
    # gunicorn's reload: new web processes, built on the new file, in place of the old ones.
    deadline = time.monotonic() + 10
    while _booted(server.output()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _booted(server.output()) == 4
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    assert TOKEN not in server.output() and OTHER_TOKEN not in server.output()


def test_the_app_reaches_the_routing_its_settings_hold(settings, plivo_api):
    # The HTTP endpoints look integrations up through services.routing.current().
    routing = parse(one())
    app = running_app(replace(settings, routing=routing))
    holder = app.extensions["voicebridge"]["services"].routing
    assert holder.current() is routing and holder.current().by_token(TOKEN).name == "backend-prod"


KEYS = st.sampled_from(["name", "token_env", "token_sha256", "token", "channel", "call", "lang", "phone", "<<",
                        "integrations", "? ", "- ", "-", "&a", "*a", "!!binary", "!!python/none", "{", "[", "'", '"'])
VALUES = st.sampled_from(["backend-prod", "BACKEND_PROD_TOKEN", "SHORT_TOKEN", "C0123ABCD", "U0LEAD > +14155550100",
                          "[P1, critical]", "[]", "~", "no", "12", "lang=es", "<@U1>", "+1 415", "|", ">", "\t", "٣"])
LINES = st.lists(st.tuples(st.integers(0, 6), KEYS, VALUES), max_size=12).map(
    lambda lines: "".join(f"{' ' * indent}{key}: {value}\n" for indent, key, value in lines))


@hypothesis_settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=200), LINES, LINES.map(lambda body: "integrations:\n  - " + body.lstrip())))
def test_any_text_gives_routing_or_problem_lines_never_an_exception(text):
    result = parse_routing(text, ENV)
    assert isinstance(result, (Routing, RoutingProblems))
    if isinstance(result, RoutingProblems):
        assert result.lines and all(line.startswith("ROUTING_FILE") and "\n" not in line for line in result.lines)
        assert not any(secret in line for line in result.lines for secret in ENV.values() if secret)


# -- schedules -------------------------------------------------------------------------------------


def test_the_issues_schedule_reads_as_written():
    routing = parse_routing(textwrap.dedent("""\
        schedules:
          - name: backend
            time_zone: Europe/Berlin
            rotation: [U0ALICE, U0BOB, U0CAROL]
            shift: weekly
            handoff: "monday 09:00"
            start: 2026-12-07
            user_group: S0BACKENDONCALL   # optional: kept equal to who is on call
            channel: C0123ABCD            # optional: hand-off notices
        """), {})
    (backend,) = routing.schedules
    assert backend.name == "backend" and backend.user_group == "S0BACKENDONCALL" and backend.channel == "C0123ABCD"
    rotation = backend.rotation
    assert (rotation.time_zone, rotation.members, rotation.shift.written(), rotation.handoff.written(),
            rotation.start.isoformat()) == ("Europe/Berlin", ("U0ALICE", "U0BOB", "U0CAROL"), "weekly",
                                            "monday 09:00", "2026-12-07")
    assert routing.described() == "1 schedule"


def test_every_problem_of_a_schedule_is_said_with_its_line():
    assert problems(textwrap.dedent("""\
        schedules:
          - name: Backend
            time_zone: Mars/Base
            rotation: [U0ALICE, "@bob"]
            shift: 2w
            handoff: "monday 09:00"
            start: "2026-13-07"
            user_group: backend-oncall
          - name: daily
            time_zone: UTC
            rotation: U0ALICE
            shift: daily
            handoff: "monday 09:00"
        """)) == [
        'ROUTING_FILE line 2: schedules[0].name: "Backend" must be 1 to 40 lowercase letters, digits and dashes '
        "(e.g. backend)",
        "ROUTING_FILE line 3: schedules[0].time_zone: a time zone is an IANA name, e.g. Europe/Berlin or "
        "America/New_York",
        'ROUTING_FILE line 4: schedules[0].rotation[1]: "@bob" is a mention; give the person\'s Slack member ID '
        "(U…, in their profile's ⋮ menu)",
        "ROUTING_FILE line 5: schedules[0].shift: a shift is daily, weekly, <n>d (days) or <n>h (hours), e.g. 12h",
        "ROUTING_FILE line 7: schedules[0].start: a date is written YYYY-MM-DD, e.g. 2026-12-07",
        'ROUTING_FILE line 8: schedules[0].user_group: "backend-oncall" is not a Slack user group ID (S…)',
        "ROUTING_FILE line 9: schedules[1]: start is required",
        "ROUTING_FILE line 11: schedules[1].rotation: must be a list of Slack user IDs, e.g. [U0ALICE, U0BOB], "
        "not text",
        'ROUTING_FILE line 13: schedules[1].handoff: only weekly schedules hand off on a weekday; write the time '
        'alone, e.g. "09:00"',
    ]


# -- hotlines -------------------------------------------------------------------------------------


def test_the_issues_hotline_reads_as_written_and_its_problems_are_said():
    routing = parse_routing(textwrap.dedent("""\
        hotlines:
          - number: "+14155550000"
            name: Backend on call
            call: "schedule:backend > U0LEAD"   # the recipients syntax; a chain is tried link by link
            channel: C0123ABCD
            lang: en                 # optional; the greeting's language
            greeting: "You have reached the backend on-call line."   # optional
        """), {})
    (line,) = routing.hotlines
    assert (line.number, line.name, line.channel, line.lang, line.greeting) == (
        "+14155550000", "Backend on call", "C0123ABCD", "en", "You have reached the backend on-call line.")
    assert [[(ref.kind, ref.value) for ref in stage] for stage in line.stages] == [
        [("schedule", "backend")], [("user", "U0LEAD")]]
    assert routing.hotline("+14155550000") == line and routing.hotline("+14155550001") is None
    assert problems(textwrap.dedent("""\
        hotlines:
          - number: "+1 415 555 0000"
            name: Backend
            call: "@lead"
            channel: "#ops"
          - number: "+14155550000"
            name: ""
        """)) == [
        'ROUTING_FILE line 2: hotlines[0].number: write it in E.164, as Plivo shows it: +14155550000',
        'ROUTING_FILE line 4: hotlines[0].call: "@lead" is a name or a mention; use the Slack ID: a person\'s member '
        "ID (U…, in their profile: ⋮ → Copy member ID) or a user group's ID (S…)",
        'ROUTING_FILE line 5: hotlines[0].channel: "#ops" is not a Slack channel ID (C… or G…)',
        "ROUTING_FILE line 6: hotlines[1]: call is required",
        "ROUTING_FILE line 6: hotlines[1]: channel is required",
        "ROUTING_FILE line 7: hotlines[1].name: must be 1 to 80 printable characters",
    ]
