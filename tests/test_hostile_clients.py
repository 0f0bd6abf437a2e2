"""Hostile clients against the real server, `python -m answer_server`, over real sockets.

Bodies far larger than any Slack or Plivo request, unsigned, in parallel; slow clients that
trickle a request's headers or body (slowloris). What a peer observes: the refusal and how
fast it comes, the web processes' memory (/proc/<pid>/status), and /healthz, which Slack's
acknowledgements and Plivo's webhooks share the server with, answering throughout.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from answer_server.http.request_limits import MAX_BODY_BYTES, REQUEST_SECONDS
from tests.conftest import AUTH_TOKEN, SIGNING_SECRET
from tests.fakes.senders import PlivoSender, SlackSender
from tests.server_process import ServerProcess
from tests.test_server_process import server_env  # noqa: F401 (a fixture: the same server's settings)

MB = 1024 * 1024
KEY_PATH = "/plivo/alert/keys/" + "k" * 24  # any 24 characters pass the token's shape


@pytest.fixture
def server(launch) -> ServerProcess:
    started = launch()
    # /healthz answers as soon as one web process is up: the measures below need every one of them.
    deadline = time.monotonic() + 20
    while len(web_process_ids(started)) < WEB_PROCESSES and time.monotonic() < deadline:
        time.sleep(0.1)
    return started


#: WEB_CONCURRENCY's default, which these servers run with.
WEB_PROCESSES = 2


# -- what a peer observes -------------------------------------------------------------------------------


def web_process_ids(server: ServerProcess) -> list[int]:
    """gunicorn's web workers: the server's children, but for the worker process."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            command = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"\nPPid:\t{server.process.pid}\n" in text and b"worker" not in command:
            children.append(int(status.parent.name))
    assert children, "no web process found"
    return sorted(children)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def memory_of(server: ServerProcess) -> dict[int, float]:
    return {pid: rss_mb(pid) for pid in web_process_ids(server)}


def assert_memory_flat(before: dict[int, float], after: dict[int, float], slack_mb: float = 15.0) -> None:
    assert set(after) == set(before), f"web processes changed: {before} -> {after}"
    grown = {pid: round(after[pid] - before[pid], 1) for pid in before}
    assert all(growth < slack_mb for growth in grown.values()), f"RSS grew by {grown} MB"


def raw_request(server: ServerProcess, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", int(server.env["PORT"])), timeout=5)
    sock.sendall(head.encode())
    return sock


def read_status(sock: socket.socket, timeout: float) -> int | None:
    """The status code of the answer on `sock` within `timeout`, or None if none came."""
    sock.settimeout(timeout)
    received = b""
    try:
        while b"\r\n" not in received:
            data = sock.recv(4096)
            if not data:
                break
            received += data
    except (socket.timeout, ConnectionResetError):
        pass
    if not received.startswith(b"HTTP/1."):
        return None
    return int(received.split(b" ", 2)[1])


def post_head(path: str, length: int | None, *extra: str, content_type: str = "application/x-www-form-urlencoded"):
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}", framing, *extra]
    return "\r\n".join(lines) + "\r\n\r\n"


class HealthProbe:
    """GET /healthz every 0.2 s on a fresh connection, noting how long each answer took."""

    def __init__(self, server: ServerProcess):
        self.url = server.url + "/healthz"
        self.times: list[float | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = requests.get(self.url, timeout=1, headers={"Connection": "close"}).status_code == 200
            except requests.RequestException:
                ok = False
            self.times.append(time.monotonic() - started if ok else None)
            self._stop.wait(0.2)

    def assert_always_answered_within(self, seconds: float) -> None:
        assert len(self.times) >= 10, self.times
        late = [t for t in self.times if t is None or t > seconds]
        assert not late, f"{len(late)} of {len(self.times)} probes failed or took over {seconds} s: {late[:10]}"


# -- item 3: bodies are bounded before they are read -----------------------------------------------------

# Headers of the right shape, a signature that is not: the body would be read, but only to the cap.
SLACK_HEADERS = (f"X-Slack-Request-Timestamp: {int(time.time())}", "X-Slack-Signature: v0=" + "0" * 64)
PLIVO_HEADERS = ("X-Plivo-Signature-V3: Zm9yZ2Vk", "X-Plivo-Signature-V3-Nonce: 12345")
API_KEY = "k" * 32


def as_dict(headers: tuple[str, ...]) -> dict[str, str]:
    return dict(header.split(": ", 1) for header in headers)


@pytest.mark.parametrize("headers, status", [((), 403), (PLIVO_HEADERS, 413)], ids=["unsigned", "signed"])
def test_a_20mb_form_to_a_plivo_route_is_refused_at_once_and_the_web_processes_stay_flat(server, headers, status):
    before = memory_of(server)
    body = b"Digits=1&" * (20 * MB // 9)
    started = time.monotonic()
    reply = requests.post(server.url + KEY_PATH, data=body, timeout=30,
                          headers={"Content-Type": "application/x-www-form-urlencoded"} | as_dict(headers))
    elapsed = time.monotonic() - started
    assert reply.status_code == status, reply.text
    assert elapsed < 3, f"the refusal took {elapsed:.1f} s"
    assert_memory_flat(before, memory_of(server))


@pytest.mark.parametrize("headers, status", [((), 401), (SLACK_HEADERS, 413)], ids=["unsigned", "signed"])
def test_a_100mb_body_to_slack_events_is_refused_before_the_client_has_sent_it(server, headers, status):
    """The refusal comes from the headers alone: the client has sent 1 MB of 100 when it arrives."""
    before = memory_of(server)
    sock = raw_request(server, post_head("/slack/events", 100 * MB, *headers))
    sock.sendall(b"x" * MB)
    started = time.monotonic()
    assert read_status(sock, timeout=2) == status
    assert time.monotonic() - started < 2
    sock.close()
    assert_memory_flat(before, memory_of(server))


@pytest.mark.parametrize("path, headers, status", [
    ("/integrations/alertmanager", (), 401),
    ("/integrations/alertmanager", ("Authorization: Bearer not-a-token-of-any-integration",), 401),
    ("/opsgenie/v2/alerts", ("Authorization: GenieKey not-a-token-of-any-integration",), 401),
    ("/pagerduty/v2/enqueue", (), 413),  # its token is in the body: the length alone refuses it
], ids=["alertmanager-no-token", "alertmanager-unknown-token", "opsgenie-unknown-key", "pagerduty"])
def test_a_100mb_alert_body_is_refused_before_the_client_has_sent_it(server, path, headers, status):
    """Monitoring's routes take up to 1 MiB, and check the token (when a header carries it) first."""
    before = memory_of(server)
    sock = raw_request(server, post_head(path, 100 * MB, *headers, content_type="application/json"))
    sock.sendall(b"x" * MB)
    assert read_status(sock, timeout=2) == status
    sock.close()
    assert_memory_flat(before, memory_of(server))


def test_a_chunked_body_past_the_cap_is_refused_once_the_cap_is_passed(server):
    """No length to check first: the server reads the cap and one byte more, then answers."""
    sock = raw_request(server, post_head("/slack/events", None, *SLACK_HEADERS))
    chunk = b"x" * 8192
    for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    # The body goes on (no last chunk): the answer must not wait for its end.
    assert read_status(sock, timeout=3) == 413
    sock.close()


def test_a_body_longer_than_its_content_length_says_is_not_read_past_it(server):
    """A lying Content-Length: what follows it would be a new request, which is not one, and is refused."""
    sock = raw_request(server, post_head(KEY_PATH, 10))
    sock.sendall(b"Digits=1&" * 20_000)
    assert read_status(sock, timeout=3) == 403  # the first 10 bytes, unsigned
    sock.close()
    assert requests.get(server.url + "/healthz", timeout=2).status_code == 200


def test_requests_sent_together_on_one_connection_are_each_answered_in_order(server):
    """Read whole before it is served, a request does not swallow the one sent behind it."""
    sock = raw_request(server, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2
                       + "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    sock.settimeout(5)
    received = b""
    while data := sock.recv(65536):
        received += data
    sock.close()
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", received) == [b"200", b"200", b"404"]


def test_an_api_body_over_the_servers_cap_gets_the_apis_own_json_413(launch):
    server = launch(API_KEYS=API_KEY)
    reply = requests.post(server.url + "/api/v1/otp", data=b"{" + b" " * MB + b"}", timeout=10,
                          headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "too_large"


def test_many_large_bodies_in_parallel_leave_memory_flat_and_healthz_answering(server):
    before = memory_of(server)
    body = b"a=" + b"x" * (20 * MB)
    targets = [("/slack/events", SLACK_HEADERS, 413), ("/slack/events", (), 401), (KEY_PATH, PLIVO_HEADERS, 413),
               (KEY_PATH, (), 403)]

    def attack(index: int) -> bool:
        path, headers, status = targets[index % len(targets)]
        return status == requests.post(server.url + path, data=body, timeout=30, headers=as_dict(headers) | {
            "Content-Type": "application/x-www-form-urlencoded"}).status_code

    with HealthProbe(server) as probe, ThreadPoolExecutor(8) as pool:
        refused_as_expected = list(pool.map(attack, range(16)))
        time.sleep(2)
    assert all(refused_as_expected)
    probe.assert_always_answered_within(1.0)
    assert_memory_flat(before, memory_of(server))


def test_a_plivo_form_with_thousands_of_fields_is_refused_before_its_signature_is_computed(server):
    """Plivo's V3 signature covers every field, so the form is parsed first: but only so many fields."""
    fields = "&".join(f"f{i}=1" for i in range(6000))
    assert len(fields) < MAX_BODY_BYTES
    reply = requests.post(server.url + KEY_PATH, data=fields, timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded"} | as_dict(PLIVO_HEADERS))
    assert reply.status_code == 413
    assert reply.text == "too many form fields: at most 200\n"


# -- the application holds to the same bounds, whichever server runs it (waitress in the sandbox) -----


class UnreadBody(io.BytesIO):
    """A request body that notes whether anything read it."""

    read_from = False

    def read(self, *args) -> bytes:
        self.read_from = True
        return super().read(*args)

    def readline(self, *args) -> bytes:
        self.read_from = True
        return super().readline(*args)

    def readinto(self, buffer) -> int:
        self.read_from = True
        return super().readinto(buffer)


def post_unread(client, path: str, headers: dict[str, str], length: int = 8):
    body = UnreadBody(b"Digits=1" + b"&Digits=2" * (length // 9))
    reply = client.post(path, input_stream=body, content_type="application/x-www-form-urlencoded",
                        headers=headers, environ_overrides={"CONTENT_LENGTH": str(length)})
    return reply, body.read_from


@pytest.mark.parametrize("headers", [{}, {"X-Plivo-Signature-V3": "c2lnbmVk"}, {"X-Plivo-Signature-V3-Nonce": "1"}])
def test_a_plivo_callback_without_its_signature_headers_is_refused_before_its_body_is_read(client, headers):
    reply, read = post_unread(client, KEY_PATH, headers)
    assert (reply.status_code, read) == (403, False)


@pytest.mark.parametrize("headers", [{}, {"X-Slack-Signature": "v0=" + "0" * 64},
                                     {"X-Slack-Request-Timestamp": "1764000000"}])
def test_a_slack_request_without_its_signature_headers_is_refused_before_its_body_is_read(client, headers):
    reply, read = post_unread(client, "/slack/events", headers)
    assert (reply.status_code, read) == (401, False)


def test_a_content_length_over_the_cap_is_refused_413_by_the_application_before_reading(client):
    signed = {"X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": str(int(time.time()))}
    reply, read = post_unread(client, "/slack/events", signed, length=MAX_BODY_BYTES + 1)
    assert (reply.status_code, read) == (413, False)
    assert reply.text == f"request body too large: at most {MAX_BODY_BYTES} bytes\n"


# -- item 4: slow clients do not take the server down ----------------------------------------------------


class SlowClients:
    """`count` sockets, each sending the start of a request and then `drip` every `every` seconds."""

    def __init__(self, server: ServerProcess, count: int, head: str, drip: bytes, every: float):
        self.server, self.count, self.head, self.drip, self.every = server, count, head, drip, every
        self.sockets: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SlowClients":
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", int(self.server.env["PORT"])), timeout=5)
            sock.sendall(self.head.encode())
            self.sockets.append(sock)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.sockets:
            sock.close()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for sock in list(self.sockets):
                try:
                    sock.sendall(self.drip)
                except OSError:
                    self.closed_by_server += 1
                    self.sockets.remove(sock)


SLOWLORIS_HEAD = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def test_forty_slowloris_connections_leave_healthz_answering_within_a_second(server):
    with SlowClients(server, 40, SLOWLORIS_HEAD, b"X-Slow: 1\r\n", every=5), HealthProbe(server) as probe:
        time.sleep(12)
    probe.assert_always_answered_within(1.0)


def test_forty_bodies_dripped_to_slack_events_leave_healthz_answering_within_a_second(server):
    head = post_head("/slack/events", 2000, f"X-Slack-Request-Timestamp: {int(time.time())}",
                     "X-Slack-Signature: v0=" + "0" * 64)
    with SlowClients(server, 40, head, b"x", every=1), HealthProbe(server) as probe:
        time.sleep(12)
    probe.assert_always_answered_within(1.0)


def test_a_request_still_incomplete_after_its_time_gets_408_and_is_closed(server):
    sock = raw_request(server, SLOWLORIS_HEAD)
    deadline = time.monotonic() + REQUEST_SECONDS + 3
    status = None
    while status is None and time.monotonic() < deadline:
        sock.sendall(b"X-Slow: 1\r\n")
        status = read_status(sock, timeout=1)
    assert status == 408
    sock.close()


def test_slack_and_plivo_are_still_served_while_slow_clients_hang(server, fake_slack, fake_plivo):
    slack = SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())
    with SlowClients(server, 40, SLOWLORIS_HEAD, b"X-Slow: 1\r\n", every=5):
        time.sleep(1)
        started = time.monotonic()
        reply = server.send(slack.command("+14155550123 483920"))
        assert reply.status_code == 200 and "Calling" in reply.text
        assert time.monotonic() - started < 1
        created = fake_plivo.wait_for(lambda: list(fake_plivo.created), 5)[0]
        plivo = PlivoSender(AUTH_TOKEN, server.env["PUBLIC_URL"])
        answer = server.send(plivo.answer(server.path_of(created["answer_url"]), call_uuid="call-1",
                                          to="+14155550123"))
        assert answer.status_code == 200 and "<Speak" in answer.text
