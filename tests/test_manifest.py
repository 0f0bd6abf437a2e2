"""Checks that manifest.yml is a valid Slack app manifest for VoiceBridge.

The schema in tests/data/slack_manifest.schema.json is a verbatim copy of
``schemas/manifest.schema.1.0.0.json`` from https://github.com/slackapi/manifest-schema
(the v1 manifest schema; it only uses local ``#/definitions`` references).

Needs: PyYAML, jsonschema (>= 4.18, which pulls in referencing / rpds-py / attrs).
"""

import copy
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml
from jsonschema.validators import validator_for

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "manifest.yml"
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "slack_manifest.schema.json"

EVENTS_PATH = "/slack/events"
PLACEHOLDER_HOST = "YOUR-PUBLIC-HOST"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def schema():
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def validator_cls(schema):
    # Pick the validator class from the schema's own "$schema" declaration;
    # default=None makes a missing/unknown "$schema" an error instead of a
    # silent fallback to the latest draft.
    cls = validator_for(schema, default=None)
    assert cls is not None, f"unrecognised $schema: {schema.get('$schema')!r}"
    cls.check_schema(schema)
    return cls


@pytest.fixture(scope="module")
def validator(schema, validator_cls):
    return validator_cls(schema)


@pytest.fixture(scope="module")
def manifest_text():
    return MANIFEST_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def manifest(manifest_text):
    data = yaml.safe_load(manifest_text)
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


@pytest.fixture()
def manifest_copy(manifest):
    return copy.deepcopy(manifest)


def _errors(validator, instance):
    return sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))


def _commands(manifest):
    return {c["command"]: c for c in manifest["features"]["slash_commands"]}


def _assert_events_url(url):
    parsed = urlparse(url)
    assert parsed.scheme == "https", url
    assert parsed.netloc == PLACEHOLDER_HOST, url
    assert parsed.path == EVENTS_PATH, url
    assert not parsed.query and not parsed.fragment, url


# --------------------------------------------------------------------------- schema


def test_vendored_schema_is_the_slack_v1_manifest_schema(schema, validator_cls):
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert validator_cls is jsonschema.Draft7Validator
    assert schema["title"] == "App Manifest"
    assert schema["additionalProperties"] is False
    slash = schema["definitions"]["app-manifests.v1.features.slash_commands"]
    assert slash["items"]["properties"]["command"]["pattern"] == "^\\/"


def test_manifest_is_valid_against_slack_schema(validator, manifest):
    errors = _errors(validator, manifest)
    assert not errors, "manifest.yml fails Slack schema:\n" + "\n".join(
        f"  {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


# --------------------------------------------------------------------------- content


def test_metadata_major_version_1(manifest):
    assert manifest["_metadata"]["major_version"] == 1


def test_display_information(manifest):
    info = manifest["display_information"]
    assert info["name"] == "VoiceBridge"
    assert 1 <= len(info["description"]) <= 140
    # The schema spells this constraint with the non-standard "regex" keyword,
    # which JSON Schema validators ignore, so check it here.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])


def test_bot_user(manifest):
    bot = manifest["features"]["bot_user"]
    assert bot["display_name"] == "voicebridge"
    assert bot["always_online"] is True


def test_every_command_declared_and_points_at_events_endpoint(manifest):
    commands = _commands(manifest)
    assert set(commands) == {"/voiceotp", "/voicealert", "/oncall"}
    for cmd in commands.values():
        _assert_events_url(cmd["url"])
        assert cmd["description"].strip()


def test_voiceotp_command(manifest):
    otp = _commands(manifest)["/voiceotp"]
    assert otp["should_escape"] is False
    assert otp["usage_hint"] == "+14155550123 483920 | help"


def test_voicealert_command_escapes_mentions(manifest):
    alert = _commands(manifest)["/voicealert"]
    # Must be a real boolean true (not the string "true") so Slack sends
    # <@U…> / <!subteam^S…> escapes that we can resolve to IDs.
    assert alert["should_escape"] is True
    assert "@" in alert["usage_hint"] and "+" in alert["usage_hint"]


def test_oncall_escapes_mentions_and_its_usage_names_the_subcommands(manifest):
    from bot.oncall.commands import SUBCOMMANDS

    oncall = _commands(manifest)["/oncall"]
    assert oncall["should_escape"] is True  # `cover … @bob` must arrive as <@U…>, an ID
    assert all(word in oncall["usage_hint"] for word in ("cover", "overrides", "new", "help"))
    assert {"cover", "overrides", "new"} <= set(SUBCOMMANDS)


def test_interactivity_enabled_and_points_at_events_endpoint(manifest):
    inter = manifest["settings"]["interactivity"]
    assert inter["is_enabled"] is True
    _assert_events_url(inter["request_url"])
    _assert_events_url(inter["message_menu_options_url"])  # the schedule form's time zones, as typed


def test_bot_scopes(manifest):
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert "commands" in scopes
    assert "chat:write" in scopes
    # Exactly these: Slack refuses a manifest naming a scope it does not have
    # (there is no "users:read.phone"; users:read includes the profile's phone).
    assert set(scopes) == {
        "commands",
        "chat:write",
        "chat:write.public",
        "users:read",
        "usergroups:read",
        "usergroups:write",  # a schedule's user group, set at each hand-off
    }
    assert len(scopes) == len(set(scopes)), "duplicate scopes"
    # The install flow asks for the same scopes (bot/installs/oauth.py).
    from bot.installs.oauth import BOT_SCOPES

    assert scopes == list(BOT_SCOPES)


def test_installs_come_back_to_the_redirect_route_and_uninstalls_are_heard(manifest):
    from bot.installs.oauth import REDIRECT_PATH

    assert manifest["oauth_config"]["redirect_urls"] == [f"https://{PLACEHOLDER_HOST}{REDIRECT_PATH}"]
    events = manifest["settings"]["event_subscriptions"]
    _assert_events_url(events["request_url"])
    assert events["bot_events"] == ["app_home_opened", "app_uninstalled", "function_executed", "tokens_revoked"]


def test_the_home_tab_and_the_message_shortcut_are_declared(manifest):
    from bot.alerts.form import SHORTCUT_ID

    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SHORTCUT_ID)


def test_settings_flags(manifest):
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is True  # Workflow Builder's custom steps need an org-ready app
    assert settings["function_runtime"] == "remote"
    assert settings["token_rotation_enabled"] is False


def test_placeholder_host_is_documented(manifest_text):
    header = []
    for line in manifest_text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    header_text = "\n".join(header)
    assert PLACEHOLDER_HOST in header_text
    assert "PUBLIC_URL" in header_text


# --------------------------------------------------------------------------- the validator is live


def _cmd(m, name):
    return next(c for c in m["features"]["slash_commands"] if c["command"] == name)


BROKEN = {
    "command_without_leading_slash": lambda m: _cmd(m, "/voiceotp").update(command="voiceotp"),
    "command_url_not_http": lambda m: _cmd(m, "/voicealert").update(url="YOUR-PUBLIC-HOST/slack/events"),
    "should_escape_as_string": lambda m: _cmd(m, "/voicealert").update(should_escape="true"),
    "description_too_long": lambda m: m["display_information"].update(description="x" * 141),
    "interactivity_missing_is_enabled": lambda m: m["settings"]["interactivity"].pop("is_enabled"),
    "unknown_top_level_key": lambda m: m.update(slash_commands=[]),
    "missing_display_information": lambda m: m.pop("display_information"),
    "unknown_command_key": lambda m: _cmd(m, "/voiceotp").update(escape=False),
}


@pytest.mark.parametrize("mutate", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_manifest_fails_schema_validation(validator, manifest_copy, mutate):
    mutate(manifest_copy)
    assert _errors(validator, manifest_copy), "schema accepted a broken manifest"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(manifest_copy)


def test_command_without_leading_slash_error_points_at_command(validator, manifest_copy):
    BROKEN["command_without_leading_slash"](manifest_copy)
    errors = _errors(validator, manifest_copy)
    assert any(
        list(e.absolute_path)[-1:] == ["command"] and e.validator == "pattern" for e in errors
    ), [e.message for e in errors]


def test_the_workflow_steps_are_declared_with_the_callback_ids_the_app_listens_for(manifest):
    from bot.workflows.steps import CODE_STEP, PHONE_STEP

    assert set(manifest["functions"]) == {PHONE_STEP, CODE_STEP}
    assert manifest["functions"][PHONE_STEP]["input_parameters"]["message"]["is_required"] is True
    assert set(manifest["functions"][PHONE_STEP]["output_parameters"]) == {
        "acknowledged", "acknowledged_by", "seconds", "outcome"}
