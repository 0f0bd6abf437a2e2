"""Settings from the environment: every problem reported, secrets never echoed."""

import pytest

from voice.settings import Settings, SettingsError, derive_hash_key, load_settings

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cr3t-signing",
    "PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX",
    "PLIVO_AUTH_TOKEN": "pl1vo-t0ken",
    "PLIVO_FROM_NUMBER": "+1 415 555 0100",
    "PUBLIC_URL": "https://calls.example.com/",
}


def test_it_builds_settings_with_defaults():
    settings = load_settings(GOOD)
    assert settings == Settings(
        slack_bot_token="xoxb-1-2-abc",
        slack_signing_secret="s3cr3t-signing",
        plivo_auth_id="MAXXXXXXXXXXXXXXXXXX",
        plivo_auth_token="pl1vo-t0ken",
        plivo_from_number="+14155550100",
        public_url="https://calls.example.com",
        plivo_api_url="https://api.plivo.com",
        slack_api_url="https://slack.com/api/",
        database_url="sqlite:///voicebridge.sqlite3",
        host="0.0.0.0",
        port=3000,
        log_level="INFO",
        allowed_countries=frozenset({"US"}),
        default_region="US",
        alert_retries=2,
        alert_retry_delay=60,
        plivo_cps=2.0,
        otp_hash_key=derive_hash_key("s3cr3t-signing"),
    )


def test_it_takes_overrides():
    settings = load_settings(GOOD | {
        "PLIVO_API_URL": "http://127.0.0.1:9000/",
        "SLACK_API_URL": "http://127.0.0.1:9001/api",
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
        "HOST": "127.0.0.1",
        "PORT": "8080",
    })
    assert settings.plivo_api_url == "http://127.0.0.1:9000"
    assert settings.slack_api_url == "http://127.0.0.1:9001/api/"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_it_reports_every_missing_variable_at_once():
    with pytest.raises(SettingsError) as caught:
        load_settings({})
    names = [line.split()[0] for line in caught.value.problems]
    assert names == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PLIVO_AUTH_ID",
                     "PLIVO_AUTH_TOKEN", "PLIVO_FROM_NUMBER", "PUBLIC_URL"]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN must be a bot token starting with xoxb-"),
        ("PLIVO_AUTH_ID", "MA123", "PLIVO_AUTH_ID must be 20 characters starting with MA or SA"),
        ("PLIVO_FROM_NUMBER", "4155550100", "PLIVO_FROM_NUMBER must be a number in E.164 form"),
        ("PLIVO_FROM_NUMBER", "+15551234567", "PLIVO_FROM_NUMBER is not a valid phone number"),
        ("PUBLIC_URL", "calls.example.com", "PUBLIC_URL must be an http:// or https:// URL"),
        ("PUBLIC_URL", "https://x.test/?a=1", "PUBLIC_URL must not have a query or a fragment"),
        ("PLIVO_API_URL", "ftp://plivo", "PLIVO_API_URL must be an http:// or https:// URL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a valid SQLAlchemy URL"),
        ("PORT", "abc", "PORT must be a port number from 1 to 65535"),
        ("PORT", "70000", "PORT must be a port number from 1 to 65535"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
        ("ALLOWED_COUNTRIES", "US,XX", "ALLOWED_COUNTRIES must be ISO country codes separated by commas"),
        ("ALLOWED_COUNTRIES", ",", "ALLOWED_COUNTRIES must be ISO country codes separated by commas"),
        ("DEFAULT_REGION", "XX", "DEFAULT_REGION must be an ISO country code"),
        ("ALERT_RETRIES", "-1", "ALERT_RETRIES must be a whole number from 0 to 10"),
        ("ALERT_RETRIES", "11", "ALERT_RETRIES must be a whole number from 0 to 10"),
        ("ALERT_RETRY_DELAY", "1.5", "ALERT_RETRY_DELAY must be a whole number from 0 to 3600"),
        ("ALERT_RETRY_DELAY", "3601", "ALERT_RETRY_DELAY must be a whole number from 0 to 3600"),
        ("PLIVO_CPS", "0", "PLIVO_CPS must be a number of calls per second above 0"),
        ("PLIVO_CPS", "fast", "PLIVO_CPS must be a number of calls per second above 0"),
        ("PLIVO_CPS", "nan", "PLIVO_CPS must be a number of calls per second above 0"),
        ("ALLOWED_NUMBER_TYPES", "PREMIUM_RATE", "ALLOWED_NUMBER_TYPES cannot allow PREMIUM_RATE: premium-rate, "
                                                 "shared-cost, personal and unknown numbers are never called"),
        ("ALLOWED_NUMBER_TYPES", "MOBILE,FAX", "ALLOWED_NUMBER_TYPES must be number types separated by commas, from "
                                               "FIXED_LINE, MOBILE, TOLL_FREE, VOIP, UAN, PAGER, VOICEMAIL; unknown: FAX"),
        ("ALLOWED_COUNTRIES", "US,+44", "ALLOWED_COUNTRIES names +44, which is not an international network"),
        ("ALLOWED_COUNTRIES", "*,GB", "ALLOWED_COUNTRIES is * (every country) or a list of ISO country codes"),
        ("ALERT_LIMIT_NUMBER_HOUR", "-1", "ALERT_LIMIT_NUMBER_HOUR must be a whole number from 0 to 1000"),
        ("ALERT_LIMIT_REQUESTER_HOUR", "many", "ALERT_LIMIT_REQUESTER_HOUR must be a whole number from 0 to 10000"),
    ],
)
def test_it_explains_a_malformed_value(name, value, problem):
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {name: value})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(problem)


@pytest.mark.parametrize("url", ["http://calls.example.com", "http://203.0.113.7:3000", "http://0.0.0.0:3000",
                                 "http://127.0.0.1.example.com"])
def test_a_public_url_over_plain_http_is_refused_where_plivo_would_fetch_codes_across_the_network(url):
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {"PUBLIC_URL": url})
    assert caught.value.problems == [
        "PUBLIC_URL must be an https:// URL: Plivo fetches the call scripts, codes included, from it (http:// only "
        "for a loopback host such as 127.0.0.1 or localhost)"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://127.1.2.3", "http://localhost:8080",
                                 "http://[::1]:3000", "https://calls.example.com"])
def test_a_public_url_on_this_host_may_be_plain_http(url):
    assert load_settings(GOOD | {"PUBLIC_URL": url}).public_url == url


def test_a_malformed_public_url_is_a_clear_line_not_a_traceback():
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {"PUBLIC_URL": "http://[::1"})
    assert caught.value.problems == ["PUBLIC_URL must be an http:// or https:// URL"]


def test_a_problem_line_never_contains_a_secret_value():
    secret_values = {"SLACK_BOT_TOKEN": "xoxp-very-secret", "PLIVO_AUTH_ID": "SECRETISH"}
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | secret_values)
    for line in caught.value.problems:
        assert "very-secret" not in line and "SECRETISH" not in line


def test_the_log_never_shows_a_secret_even_in_a_traceback():
    import io
    import logging

    from answer_server.logs import RedactingFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", ("xoxb-1-2-abc", "pl1vo-t0ken")))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        raise RuntimeError("token pl1vo-t0ken rejected")
    except RuntimeError:
        logger.exception("calling with xoxb-1-2-abc failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "Traceback" in output and "RuntimeError: token [redacted] rejected" in output
    assert "xoxb-1-2-abc" not in output and "pl1vo-t0ken" not in output


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("", frozenset({"US"})), ("*", None), ("gb, fr", frozenset({"GB", "FR"}))],
)
def test_allowed_countries_default_to_the_caller_ids_country(value, allowed):
    assert load_settings(GOOD | {"ALLOWED_COUNTRIES": value}).allowed_countries == allowed


def test_fixed_lines_and_mobiles_are_the_number_types_called_unless_others_are_named():
    assert load_settings(GOOD).allowed_number_types == frozenset({"FIXED_LINE", "MOBILE"})
    named = load_settings(GOOD | {"ALLOWED_NUMBER_TYPES": "mobile, fixed_line,TOLL_FREE"})
    assert named.allowed_number_types == frozenset({"FIXED_LINE", "MOBILE", "TOLL_FREE"})


@pytest.mark.parametrize(
    ("value", "countries", "networks"),
    [("*", None, frozenset()), ("*,+881", None, frozenset({881})), ("US, +870,+881", frozenset({"US"}),
                                                                    frozenset({870, 881}))],
)
def test_international_networks_are_called_only_when_allowed_countries_names_them(value, countries, networks):
    settings = load_settings(GOOD | {"ALLOWED_COUNTRIES": value})
    assert (settings.allowed_countries, settings.allowed_networks) == (countries, networks)


def test_alert_limits_default_to_five_calls_a_typed_number_and_thirty_alerts_a_person_an_hour():
    defaults = load_settings(GOOD)
    assert (defaults.alert_limit_number_hour, defaults.alert_limit_requester_hour) == (5, 30)
    off = load_settings(GOOD | {"ALERT_LIMIT_NUMBER_HOUR": "0", "ALERT_LIMIT_REQUESTER_HOUR": "0"})
    assert (off.alert_limit_number_hour, off.alert_limit_requester_hour) == (0, 0)


def test_logs_are_text_and_metrics_off_unless_asked_for_and_the_token_is_never_logged():
    quiet = load_settings(GOOD)
    assert (quiet.log_format, quiet.metrics_token, quiet.metrics_port) == ("text", "", 0)
    loud = load_settings(GOOD | {"LOG_FORMAT": "JSON", "METRICS_TOKEN": "t" * 24, "METRICS_PORT": "9464"})
    assert (loud.log_format, loud.metrics_port) == ("json", 9464)
    assert "t" * 24 in loud.secrets()


def test_alert_settings_and_the_call_rate_can_be_set():
    settings = load_settings(GOOD | {"ALERT_RETRIES": "0", "ALERT_RETRY_DELAY": "5", "PLIVO_CPS": "0.5",
                                     "DEFAULT_REGION": "gb"})
    assert (settings.alert_retries, settings.alert_retry_delay, settings.plivo_cps) == (0, 5, 0.5)
    assert settings.default_region == "GB"


def test_the_default_region_follows_the_caller_id():
    assert load_settings(GOOD | {"PLIVO_FROM_NUMBER": "+44 20 7183 8750"}).default_region == "GB"


def test_otp_and_access_settings_are_read_and_checked():
    settings = load_settings(GOOD | {
        "OTP_LENGTH": "8", "OTP_TTL": "300", "OTP_MAX_CHECKS": "3", "OTP_HASH_KEY": "k" * 32,
        "OTP_VOICEMAIL_GUARD": "off", "OTP_LIMIT_NUMBER_10MIN": "0", "VOICE": "Polly.Joanna",
        "ALLOWED_SLACK_USERS": "U1, U2", "ALLOWED_SLACK_CHANNELS": "C1", "API_KEYS": "a" * 24 + "," + "b" * 24,
        "OTP_AUDIT_CHANNEL": "C0AUDIT",
    })
    assert (settings.otp_length, settings.otp_ttl, settings.otp_max_checks) == (8, 300, 3)
    assert settings.otp_hash_key == "k" * 32 and settings.otp_voicemail_guard is False
    assert settings.otp_limit_number_10min == 0 and settings.voice == "Polly.Joanna"
    assert settings.allowed_slack_users == frozenset({"U1", "U2"})
    assert settings.allowed_slack_channels == frozenset({"C1"})
    assert settings.api_keys == ("a" * 24, "b" * 24) and settings.otp_audit_channel == "C0AUDIT"
    assert "a" * 24 in settings.secrets() and "k" * 32 in settings.secrets()


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("OTP_LENGTH", "3", "OTP_LENGTH must be a whole number from 4 to 10"),
        ("OTP_TTL", "10", "OTP_TTL must be a whole number from 60 to 86400"),
        ("OTP_HASH_KEY", "short", "OTP_HASH_KEY must be at least 16 characters"),
        ("OTP_VOICEMAIL_GUARD", "maybe", "OTP_VOICEMAIL_GUARD must be on or off"),
        ("VOICE", "Robot", "VOICE must be WOMAN, MAN or an Amazon Polly voice"),
        ("ALLOWED_SLACK_USERS", "U1,@ana", "ALLOWED_SLACK_USERS must be Slack IDs separated by commas"),
        ("API_KEYS", "x" * 24 + ",tooshort", "API_KEYS keys must be at least 20 characters (key number 2"),
        ("OTP_AUDIT_CHANNEL", "#audit", "OTP_AUDIT_CHANNEL must be a Slack ID"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 20 characters"),
        ("METRICS_PORT", "0", "METRICS_PORT must be a port number from 1 to 65535"),
    ],
)
def test_otp_settings_explain_a_malformed_value(name, value, problem):
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {name: value})
    assert caught.value.problems[0].startswith(problem)
    assert "tooshort" not in caught.value.problems[0]


@pytest.mark.parametrize(("value", "voice"), [
    ("WOMAN", "WOMAN"), ("MAN", "MAN"), ("Polly.Joanna", "Polly.Joanna"),
    ("Polly.Céline", "Polly.Celine"), ("Polly.Inês", "Polly.Ines"), ("Polly.Penélope", "Polly.Penelope"),
])
def test_a_polly_voice_written_with_accents_is_kept_as_plivos_sdks_spell_it(value, voice):
    assert load_settings(GOOD | {"VOICE": value}).voice == voice


@pytest.mark.parametrize("value", ["Polly.Foo", "Polly.joanna", "woman", "Polly."])
def test_a_voice_plivo_does_not_offer_is_refused_at_start_up_in_one_line(value):
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {"VOICE": value})
    assert caught.value.problems == [
        f"VOICE must be WOMAN, MAN or an Amazon Polly voice Plivo offers, such as Polly.Joanna ({value} is not one)"]


@pytest.mark.parametrize(("name", "value"), [("PORT", "３０００"), ("PORT", "²"), ("ALERT_RETRIES", "٢"),
                                             ("OTP_TTL", "6_00"), ("PLIVO_AUTH_ID", "MA" + "X" * 18 + "\nX")])
def test_a_value_not_whole_is_one_clear_problem_not_a_traceback(name, value):
    # (Surrounding whitespace is forgiven, as .env files often carry it.)
    with pytest.raises(SettingsError) as caught:
        load_settings(GOOD | {name: value})
    assert [line.split(" ")[0] for line in caught.value.problems] == [name]
