"""The web server's request reader: whole requests out of bytes as they arrive, within bounds.

Pure: no sockets. What a thread would be given (a request whose body is all in memory, or none of
a body over the cap, for the application to refuse), and what the server answers on its own
(431, 400), byte by byte, pipelined, chunked.
"""

from __future__ import annotations

import pytest
from gunicorn.config import Config
from gunicorn.http.errors import InvalidRequestLine

from answer_server.http.buffered_worker import (
    BAD_CHUNKS,
    HEAD_TOO_LARGE,
    SMALL_CHUNKS,
    Ready,
    RequestReader,
)
from answer_server.http.request_limits import MAX_BODY_BYTES, MAX_HEAD_BYTES

PEER = ("127.0.0.1", 50000)


def reader() -> RequestReader:
    return RequestReader(Config(), PEER)


def post(body: bytes, *headers: str, path: str = "/plivo/answer/abcdefghijklmnop") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: voice.example.test", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*chunks: bytes, trailer: bytes = b"") -> bytes:
    head = b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailer + b"\r\n"


def take(outcome) -> tuple[str, bytes]:
    assert isinstance(outcome, Ready) and outcome.error is None, outcome
    return outcome.request.path, outcome.request.body.read()


def test_a_request_trickled_byte_by_byte_is_given_whole_and_only_once_its_last_byte_is_in():
    raw, incoming = post(b"CallUUID=abc&Digits=1"), reader()
    for byte in raw[:-1]:
        incoming.feed(bytes([byte]))
        assert incoming.advance() is None
    incoming.feed(raw[-1:])
    assert take(incoming.advance()) == ("/plivo/answer/abcdefghijklmnop", b"CallUUID=abc&Digits=1")
    assert not incoming.started


def test_pipelined_requests_are_given_one_at_a_time_each_with_its_own_body():
    incoming = reader()
    incoming.feed(post(b"first", path="/plivo/ring/abcdefghijklmnop") + post(b"second") + b"GET /hea")
    assert take(incoming.advance()) == ("/plivo/ring/abcdefghijklmnop", b"first")
    assert take(incoming.advance()) == ("/plivo/answer/abcdefghijklmnop", b"second")
    assert incoming.advance() is None and incoming.started  # the third is on its way


def test_a_content_length_over_the_cap_is_given_at_once_without_its_body_and_the_connection_ends():
    incoming = reader()
    head = post(b"")[:-4].replace(b"Content-Length: 0", b"Content-Length: %d" % (MAX_BODY_BYTES + 1))
    incoming.feed(head + b"\r\n\r\n" + b"x" * 1000)
    outcome = incoming.advance()
    assert take(outcome)[1] == b"" and outcome.close and outcome.request.should_close()
    assert outcome.request.headers[-1] == ("CONTENT-LENGTH", str(MAX_BODY_BYTES + 1))  # the app refuses it
    assert not incoming.started  # what came with it is not kept


def test_a_body_of_exactly_the_cap_is_given():
    incoming = reader()
    incoming.feed(post(b"a" * MAX_BODY_BYTES))
    assert len(take(incoming.advance())[1]) == MAX_BODY_BYTES


def test_headers_that_never_end_are_refused_431_once_past_the_cap():
    incoming = reader()
    incoming.feed(b"GET /healthz HTTP/1.1\r\n")
    while len(incoming.buffer) <= MAX_HEAD_BYTES:
        assert incoming.advance() is None
        incoming.feed(b"X-Slow: " + b"a" * 1000 + b"\r\n")
    assert incoming.advance() is HEAD_TOO_LARGE


def test_a_chunked_body_is_given_decoded_and_its_connection_is_not_reused():
    incoming = reader()
    raw = chunked(b"CallUUID=abc", b"&Digits=1", trailer=b"X-Trailer: yes\r\n")
    for start in range(0, len(raw), 7):
        incoming.feed(raw[start:start + 7])
        outcome = incoming.advance()
    assert take(outcome) == ("/slack/events", b"CallUUID=abc&Digits=1")
    assert outcome.close
    assert ("CONTENT-LENGTH", "21") in outcome.request.headers  # as the application sees it
    assert all(name != "TRANSFER-ENCODING" for name, _ in outcome.request.headers)


def test_a_chunked_body_is_given_one_byte_past_the_cap_as_soon_as_it_has_it_without_waiting_for_its_end():
    incoming = reader()
    incoming.feed(chunked(b"x" * 60_000)[:-5])  # no last chunk yet
    assert incoming.advance() is None
    incoming.feed(b"%x\r\n" % 100_000 + b"y" * 5000)
    assert incoming.advance() is None
    incoming.feed(b"y" * 537)  # 60,000 + 5,537 = 65,537: one past the cap
    outcome = incoming.advance()
    assert take(outcome)[1] == b"x" * 60_000 + b"y" * 5537 and outcome.close
    assert ("CONTENT-LENGTH", str(MAX_BODY_BYTES + 1)) in outcome.request.headers  # the app refuses it


@pytest.mark.parametrize("tail", [b"zz\r\nab\r\n", b"2\r\nabXX", b"9" * 2000])
def test_a_malformed_chunk_is_refused_400(tail):
    incoming = reader()
    incoming.feed(chunked()[:-5] + tail)
    assert incoming.advance() is BAD_CHUNKS


def test_one_byte_chunks_cannot_carry_many_times_the_cap_in_framing():
    incoming = reader()
    incoming.feed(chunked()[:-5] + b"1\r\nx\r\n" * (MAX_BODY_BYTES // 2))
    assert incoming.advance() is SMALL_CHUNKS


def test_a_client_expecting_100_continue_is_told_to_send_once_and_gunicorn_does_not_repeat_it():
    incoming = reader()
    incoming.feed(post(b"body", "Expect: 100-continue")[:-4])
    assert incoming.advance() is None
    assert incoming.take_continue() and not incoming.take_continue()
    incoming.feed(b"body")
    outcome = incoming.advance()
    assert take(outcome)[1] == b"body" and not outcome.request._expected_100_continue


def test_a_malformed_request_line_is_given_to_gunicorn_to_answer_and_nothing_after_it_is_read():
    incoming = reader()
    incoming.feed(b"NOT A REQUEST\r\n\r\n" + post(b"x"))
    outcome = incoming.advance()
    assert isinstance(outcome, Ready) and isinstance(outcome.error, InvalidRequestLine) and outcome.close
    assert not incoming.started


def test_empty_lines_before_a_request_are_ignored():
    incoming = reader()
    incoming.feed(b"\r\n\r\n" + post(b"x"))
    assert take(incoming.advance())[1] == b"x"
