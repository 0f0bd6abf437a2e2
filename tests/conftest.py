"""Fixtures: settings → fakes of Slack and Plivo → the app → signed senders.

Tests start from a cleared environment, build a fresh app per test on a
temporary SQLite file (or PostgreSQL where TEST_DATABASE_URL is set), and
talk to it only as Slack and Plivo would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import responses
from sqlalchemy import create_engine, text

from answer_server import create_app
from answer_server.sandbox.plivo_xml_rules import document_problems
from tests.core import wire
from tests.fakes.plivo_api import FakePlivoApi
from tests.fakes.senders import PlivoSender, Signed, SlackSender
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_checks import message_problems, mrkdwn_problems
from voice.settings import Settings
from voice.store.db import make_engine
from voice.store.migrate import prepare_database

PLIVO_API = "https://api.plivo.test"
AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "plivo-auth-token-for-tests"
SIGNING_SECRET = "slack-signing-secret-for-tests"
BOT_TOKEN = "xoxb-test-token"
PUBLIC_URL = "https://voice.example.test"
CREATE_CALL_URL = f"{PLIVO_API}/v1/Account/{AUTH_ID}/Call/"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch):
    # Slack's OAuth variables would flip Bolt into OAuth mode; ours must come from fixtures.
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PLIVO_")) or name in ("DATABASE_URL", "PUBLIC_URL"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_slack():
    with FakeSlackApi(bot_token=BOT_TOKEN) as fake:
        yield fake
    # Every message the app sent passes Slack's own Block Kit models and reads as meant.
    assert fake.problems == [], fake.problems


@pytest.fixture
def fake_plivo():
    """Plivo's REST API on loopback, for a server run as its own process."""
    with FakePlivoApi(AUTH_ID, AUTH_TOKEN) as fake:
        yield fake
        fake.answering.set()  # nothing left waiting on a held create-call


@pytest.fixture
def launch(tmp_path, server_env):
    """Start `python -m answer_server` (extra variables as keywords); each one is stopped afterwards.
    The test module says what `server_env` is."""
    from tests.server_process import Launcher  # it imports this module's constants

    launcher = Launcher(tmp_path, server_env)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file the migrations have brought to the newest schema, once for the session: each
    test starts from a copy (migrating takes longer than the test). test_migrations.py runs them whole."""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    engine.dispose()  # the last connection's close folds the WAL into the file
    assert not Path(f"{path}-wal").exists()
    return path


def fresh_sqlite(template: Path, path: Path) -> str:
    """A new SQLite database at `path`, already migrated; its URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(tmp_path, fake_slack, migrated_sqlite) -> Settings:
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        plivo_auth_id=AUTH_ID,
        plivo_auth_token=AUTH_TOKEN,
        plivo_from_number="+14155550100",
        public_url=PUBLIC_URL,
        plivo_api_url=PLIVO_API,
        slack_api_url=fake_slack.base_url,
        database_url=fresh_sqlite(migrated_sqlite, tmp_path / "calls.sqlite3"),
        default_region="US",
        plivo_cps=100.0,  # pacing has its own tests; flows should not wait for it
        alert_redial_delay=0,  # the second ring has its own tests; other flows count a missed call at once
        callback_journal_dir=str(tmp_path / "journal"),
    )


@pytest.fixture
def plivo_api():
    """Plivo's REST API as `responses` mocks; create-call answers 201 unless a test says otherwise."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def plivo_accepts(plivo_api, request_uuid: str | None = None) -> str:
    request_uuid = request_uuid or str(uuid.uuid4())
    plivo_api.post(
        CREATE_CALL_URL,
        status=201,
        json={"api_id": str(uuid.uuid4()), "message": "call fired", "request_uuid": request_uuid},
    )
    return request_uuid


class PlivoRest:
    """Plivo's REST API on `responses`: every call accepted with a fresh request
    UUID (req-1, req-2, …), every hang-up and cancel answered 204; all recorded."""

    def __init__(self, mock: responses.RequestsMock):
        self.created: list[dict] = []  # create-call bodies, plus the request_uuid given
        self.created_at: list[float] = []  # time.monotonic() of each
        self.stopped: list[tuple[str, str]] = []  # ("Call" | "Request", uuid) of every DELETE
        self.refuse_with: tuple[int, dict] | None = None  # answer create-calls with this instead
        self.time_out_next = 0  # this many create-calls reach Plivo, but their answer never comes back
        mock.add_callback(responses.POST, CREATE_CALL_URL, callback=self._create)
        mock.add_callback(responses.DELETE, re.compile(rf"{re.escape(PLIVO_API)}/v1/Account/{AUTH_ID}/(Call|Request)/.+/"),
                          callback=self._delete)
        self.transferred: list[tuple[str, dict]] = []  # (call UUID, body) of each transfer (Call/{uuid}/ POST)
        mock.add_callback(responses.POST, re.compile(rf"{re.escape(PLIVO_API)}/v1/Account/{AUTH_ID}/Call/[^/]+/$"),
                          callback=self._transfer)
        self.spoken: list[tuple[str, str, dict]] = []  # (conference, member, body) of each Speak to a member
        mock.add_callback(responses.POST, re.compile(
            rf"{re.escape(PLIVO_API)}/v1/Account/{AUTH_ID}/Conference/[^/]+/Member/[^/]+/Speak/"), callback=self._speak)

    def _create(self, request):
        if self.refuse_with:
            status, body = self.refuse_with
            return status, {}, json.dumps(body)
        request_uuid = f"req-{len(self.created) + 1}"
        self.created.append(json.loads(request.body) | {"request_uuid": request_uuid})
        self.created_at.append(time.monotonic())
        if self.time_out_next > 0:
            self.time_out_next -= 1
            raise requests.ReadTimeout("Plivo placed the call but its answer was lost")
        return 201, {}, json.dumps({"api_id": str(uuid.uuid4()), "message": "call fired", "request_uuid": request_uuid})

    def _delete(self, request):
        kind, uuid_ = request.url.rstrip("/").split("/")[-2:]
        self.stopped.append((kind, uuid_))
        return 204, {}, ""

    def _transfer(self, request):
        self.transferred.append((request.url.rstrip("/").split("/")[-1], json.loads(request.body)))
        return 202, {}, json.dumps({"api_id": str(uuid.uuid4()), "message": "call transferred"})

    def _speak(self, request):
        parts = request.url.rstrip("/").split("/")
        self.spoken.append((parts[-4], parts[-2], json.loads(request.body)))
        return 202, {}, json.dumps({"api_id": str(uuid.uuid4()), "message": "speak queued"})

    def to(self, number: str) -> list[dict]:
        return [body for body in self.created if body["to"] == number]


@pytest.fixture
def plivo_rest(plivo_api) -> PlivoRest:
    return PlivoRest(plivo_api)


class Clock:
    """A clock the test moves by hand: retries and escalations without sleeping."""

    def __init__(self, now: datetime = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class InlineExecutor(Executor):
    """Runs submitted work at once, on the caller's thread: background work made deterministic."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the future, as an executor does
            future.set_exception(error)
        return future


_running_apps: list = []


#: Slack's pace, quickened: tests of the pace itself ask for the real one.
QUICK_SLACK = {"message_pace": 0.05, "slack_post_rate": 100.0}


def running_app(settings, **options):
    """The app, with its workers running in this process (as the sandbox runs them); closed after the test."""
    app = create_app(settings, poll_interval=0.02, **(QUICK_SLACK | options))
    app.extensions["voicebridge"]["workers"].start()
    _running_apps.append(app)
    return app


@pytest.fixture(autouse=True)
def close_running_apps():
    """Every app a test started is closed after it: no worker threads outlive their test."""
    yield
    while _running_apps:
        _running_apps.pop().extensions["voicebridge"]["close"]()


@pytest.fixture
def app(settings, plivo_api):
    app = running_app(settings)
    yield app
    # Let the work in hand finish while the fakes still answer.
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def slack():
    return SlackSender(SIGNING_SECRET)


@pytest.fixture
def plivo():
    return PlivoSender(AUTH_TOKEN, PUBLIC_URL)


def send(client, signed: Signed):
    """Send a signed request; what answers Plivo or Slack is checked as they would check it."""
    response = client.post(signed.path, data=signed.body, headers=signed.headers)
    check_reply(signed.path, response.status_code, response.mimetype, response.get_data())
    return response


def check_reply(path: str, status: int, mimetype: str, body: bytes) -> None:
    """Plivo XML against Plivo's rules; a Slack command's reply as Slack reads mrkdwn."""
    if mimetype in ("text/xml", "application/xml"):
        problems = document_problems(body)
        assert problems == [], f"Plivo would refuse the document from {path}: {problems}"
    elif path == "/slack/events" and status == 200 and mimetype.startswith("text/plain") and body:
        problems = mrkdwn_problems(body.decode("utf-8"))
        assert problems == [], f"Slack would show the reply wrongly: {problems}"
    elif path == "/slack/events" and status == 200 and mimetype == "application/json" and body:
        problems = message_problems(json.loads(body))  # a reply with blocks: Block Kit, and its text
        assert problems == [], f"Slack would refuse or show the reply wrongly: {problems}"


def callback_path(url: str) -> str:
    """The path part of a callback URL we gave Plivo."""
    assert url.startswith(PUBLIC_URL), url
    return url[len(PUBLIC_URL):]


def key_path(call: dict) -> str:
    """The path of a voice-code call's key-press (GetDigits action) URL."""
    return callback_path(call["answer_url"].replace("/plivo/answer/", "/plivo/key/"))


def hear_code(client, plivo, call: dict, to: str = "+14155550123", call_uuid: str = "call-1") -> str:
    """Answer the call and press a key, as the callee; the digits the call reads."""
    send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid=call_uuid, to=to))
    document = send(client, plivo.digits(key_path(call), call_uuid=call_uuid, to=to, digits="9")).get_data(as_text=True)
    return re.search(r":\s*((?:\d, )+\d)\.", document).group(1).replace(", ", "")


# -- databases: every store test runs on SQLite and, where configured, PostgreSQL --

def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, migrated_sqlite):
    if request.param == "sqlite":
        yield fresh_sqlite(migrated_sqlite, tmp_path / "store.sqlite3")
        return
    with _fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def postgres_url():
    """A URL of the local PostgreSQL whose search_path is a schema of this test's own."""
    with _fresh_postgres_schema() as url:
        yield url


@contextmanager
def _fresh_postgres_schema():
    url = _postgres_url()
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (bash .ci/run sets it for the local PostgreSQL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def core(settings, database_url, clock, plivo_rest):
    """The core wired as the server wires it, its workers not started (tests/core.py)."""
    services = wire(settings, database_url, clock)
    yield services
    services.close()


@pytest.fixture
def engine(database_url):
    """A database with our schema, on SQLite and (where configured) PostgreSQL."""
    engine = make_engine(database_url)
    prepare_database(engine)
    yield engine
    engine.dispose()


def assert_no_code(text: str, code: str) -> None:
    """The code must not appear, whole or spelled out as the call reads it."""
    for form in (code, ", ".join(code), " ".join(code), "-".join(code)):
        assert form not in text, f"code leaked into: {text[:300]}"
