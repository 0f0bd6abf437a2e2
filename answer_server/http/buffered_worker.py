"""gunicorn's threaded worker, with each request read whole before a thread serves it.

gunicorn's gthread worker gives a connection to a thread as soon as it is readable, and the
thread then blocks reading the headers and the body: forty clients sending a header line every
few seconds (slowloris), or dripping a body, hold every thread of every process, and Slack's
acknowledgements and Plivo's webhooks wait behind them. Here the worker's event loop, which
already watches every idle connection, also reads the requests, without blocking and within
the bounds of answer_server/http/request_limits.py: the request line and headers within
MAX_HEAD_BYTES (else 431), the whole within REQUEST_SECONDS of its first byte (else 408), and
of the body at most its path's cap (body_cap) + 1 bytes: a larger one is not read, and the application
refuses it (413) from its Content-Length, or from the bytes past the cap of a chunked body.
A thread is given a request only once it is in memory, and never reads from the client: a
thread's time is the application's.

Everything else is gunicorn's own: its parser (run here, on the bytes received), the WSGI
environment, responses, keep-alive, the graceful shutdown. Plain HTTP/1.x only: no TLS (it is
terminated in front, see README) and no HTTP/2, which this server never turns on.
https://docs.gunicorn.org/en/stable/design.html
"""

from __future__ import annotations

import errno
import logging
import re
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial

from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from answer_server.http.request_limits import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    REQUEST_SECONDS,
    body_cap,
)

log = logging.getLogger(__name__)

#: After a refusal, or a response that closes the connection, how long what the client still
#: sends is read and dropped: closing with unread bytes would reset the connection, and the
#: client could lose the answer (RFC 9112 §9.6). Nothing read then is kept.
LINGER_SECONDS = 2.0
_RECV_BYTES = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: A chunk-size line, or a trailer line, longer than this is not one (RFC 9112 §7.1).
_MAX_LINE = 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


@dataclass(frozen=True)
class Refusal:
    """An answer the server gives itself, before the application sees the request."""

    status: int
    reason: str
    text: str

    def response(self) -> bytes:
        body = (self.text + "\n").encode()
        head = (f"HTTP/1.1 {self.status} {self.reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        return head.encode() + body


HEAD_TOO_LARGE = Refusal(431, "Request Header Fields Too Large",
                         f"request line and headers too large: at most {MAX_HEAD_BYTES} bytes")
TOO_SLOW = Refusal(408, "Request Timeout", f"the request did not arrive whole within {REQUEST_SECONDS} s")
BAD_CHUNKS = Refusal(400, "Bad Request", "malformed chunked body")
SMALL_CHUNKS = Refusal(400, "Bad Request", "chunked body with more framing than data")
BAD_HEAD = Refusal(400, "Bad Request", "malformed request")


@dataclass(frozen=True)
class Ready:
    """A request to serve, its body in memory; or gunicorn's reason for refusing its head."""

    request: Request | None
    error: Exception | None = None
    #: No other request is read from the connection after this one: its body was not read to its end
    #: (over the cap), or it was chunked (where the next request starts is then ours to say, not the
    #: parser's), or its head could not be read.
    close: bool = False


class ChunkedBody:
    """A chunked body (RFC 9112 §7.1), decoded as its bytes arrive, up to one byte past the cap."""

    def __init__(self, start: int, limit: int):
        self.data = bytearray()
        self._pos, self._start, self._limit = start, start, limit
        self._state = "size"
        self._remaining = 0

    def advance(self, raw: bytearray) -> int | Refusal | None:
        """The offset in `raw` just past the body, or past the byte that took it over the cap;
        None while more is needed."""
        while True:
            if self._pos - self._start - len(self.data) > self._limit:
                return SMALL_CHUNKS  # tiny chunks or endless trailers: bytes that carry nothing
            if self._state == "data":
                take = min(self._remaining, len(raw) - self._pos, self._limit + 1 - len(self.data))
                self.data += raw[self._pos:self._pos + take]
                self._pos, self._remaining = self._pos + take, self._remaining - take
                if len(self.data) > self._limit:
                    return self._pos  # the application refuses it (413); nothing more is read
                if self._remaining or len(raw) < self._pos + 2:
                    return None
                if raw[self._pos:self._pos + 2] != b"\r\n":
                    return BAD_CHUNKS
                self._pos, self._state = self._pos + 2, "size"
                continue
            line_end = raw.find(b"\r\n", self._pos, self._pos + _MAX_LINE + 2)
            if line_end < 0:
                return BAD_CHUNKS if len(raw) - self._pos > _MAX_LINE else None
            line, self._pos = bytes(raw[self._pos:line_end]), line_end + 2
            if self._state == "trailer":
                if not line:
                    return self._pos
                continue
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size):
                return BAD_CHUNKS
            self._remaining = int(size, 16)
            self._state = "data" if self._remaining else "trailer"


class RequestReader:
    """One connection's requests, taken whole from the bytes as they arrive.

    A body over the cap is not read: a Content-Length over it is handed on with no body, and a
    chunked body with its first MAX_BODY_BYTES + 1 bytes, for the application to refuse (413, by
    Werkzeug's MAX_CONTENT_LENGTH: one mechanism, in each route's own format, after its own
    checks: an unsigned request is refused as such); the connection then closes.
    """

    def __init__(self, cfg, peer, *, max_head: int = MAX_HEAD_BYTES, max_body: int | None = None):
        self._cfg, self._peer = cfg, peer
        self._max_head, self._fixed_body = max_head, max_body  # None: each path's own (body_cap)
        self._max_body = MAX_BODY_BYTES
        self.buffer = bytearray()
        self._count = 0
        self._begin()

    def _begin(self) -> None:
        self._head: Request | None = None
        self._head_end = 0
        self._scanned = 0
        self._length = 0
        self._chunks: ChunkedBody | None = None
        self._continue = False

    @property
    def started(self) -> bool:
        """Whether any of a request has arrived."""
        return bool(self.buffer)

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def take_continue(self) -> bool:
        """Once per request: the client waits for "100 Continue" before it sends the body."""
        wanted, self._continue = self._continue, False
        return wanted

    def advance(self) -> Ready | Refusal | None:
        """The next request, once whole; a refusal; or None while more is needed."""
        if self._head is None:
            failed = self._read_head()
            if failed is not None or self._head is None:
                return failed
        if self._chunks is not None:
            end = self._chunks.advance(self.buffer)
            if end is None or isinstance(end, Refusal):
                return end
            return self._take(end, self._dechunked(), close=True)
        if self._length > self._max_body:
            return self._take(self._head_end, b"", close=True)
        end = self._head_end + self._length
        if len(self.buffer) < end:
            return None
        return self._take(end, bytes(self.buffer[self._head_end:end]), close=False)

    def _read_head(self) -> Ready | Refusal | None:
        if self._scanned == 0:
            while self.buffer.startswith(b"\r\n"):  # empty lines before a request are ignored (RFC 9112 §2.2)
                del self.buffer[:2]
        found = self.buffer.find(b"\r\n\r\n", max(0, self._scanned - 3), self._max_head + 1)
        self._scanned = len(self.buffer)
        if found < 0:
            return HEAD_TOO_LARGE if len(self.buffer) > self._max_head else None
        head_end = found + 4
        self._count += 1
        unreader = IterUnreader(())
        unreader.unread(bytes(self.buffer[:head_end]))
        try:
            head = Request(self._cfg, unreader, self._peer, self._count)
        except NoMoreData:
            return BAD_HEAD
        except Exception as error:  # gunicorn's own refusals (400, 414, 501…), answered as it answers them
            self.buffer = bytearray()
            return Ready(None, error, close=True)
        self._max_body = self._fixed_body if self._fixed_body is not None else body_cap(head.path or "")
        if isinstance(head.body.reader, ChunkedReader):
            self._chunks = ChunkedBody(head_end, self._max_body)
        else:
            self._length = head.body.reader.length  # Content-Length, or 0 without one
        # gunicorn sends "100 Continue" as the application starts: here the body is needed first,
        # and one over the cap is not wanted at all.
        self._continue = head._expected_100_continue and (
            0 < self._length <= self._max_body or self._chunks is not None)
        head._expected_100_continue = False
        self._head, self._head_end = head, head_end
        return None

    def _dechunked(self) -> bytes:
        """The chunked body, now as one of known length: the application sees its Content-Length
        (Werkzeug refuses one over the cap before reading; a stream over it, it would cut short)."""
        body = bytes(self._chunks.data)
        self._head.headers = [(name, value) for name, value in self._head.headers if name != "TRANSFER-ENCODING"]
        self._head.headers.append(("CONTENT-LENGTH", str(len(body))))
        return body

    def _take(self, end: int, body: bytes, *, close: bool) -> Ready:
        head = self._head
        head.body = Body(LengthReader(head.unreader, len(body)))  # the body, decoded, from memory
        head.unreader.unread(body)
        if close:
            head.force_close()  # the answer says "Connection: close"
        self.buffer = bytearray() if close else self.buffer[end:]  # new: an idle connection keeps no large one
        self._begin()
        return Ready(head, close=close)


class _Given:
    """The parser a thread reads its one request from: the request, whole, or why it was refused."""

    def __init__(self, ready: Ready):
        self._ready = ready

    def __next__(self) -> Request:
        if self._ready.error is not None:
            raise self._ready.error
        return self._ready.request

    def finish_body(self, deadline=None, max_bytes=None) -> bool:
        return True  # the body is in memory, and where the next request starts is the reader's to say


class BufferedConn(TConn):
    def __init__(self, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        # Nothing for init() to set up (no TLS, no HTTP/2), and nothing for a thread to wait for.
        self.initialized = self.data_ready = True
        self.reader = RequestReader(cfg, client)
        self.deadline = 0.0
        self.close_after = False


_CLOSED = object()


class BufferedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker whose event loop reads each request whole (see the module's note)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Connections by deadline, oldest first (each gets the same time from when it is added).
        self.receiving: dict[BufferedConn, None] = {}
        self.lingering: dict[BufferedConn, None] = {}
        self._stop_by: float | None = None

    # -- a connection's life: idle, receiving, served by a thread, idle again (or lingering, closed)

    def accept(self, listener):
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._idle(BufferedConn(self.cfg, sock, client, listener.getsockname()))

    def _idle(self, conn: BufferedConn) -> None:
        """Wait for a request's first byte, as gunicorn waits on a kept-alive connection."""
        conn.sock.setblocking(False)
        conn.set_timeout()
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))

    def on_client_socket_readable(self, conn: BufferedConn, client) -> None:
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        conn.deadline = time.monotonic() + REQUEST_SECONDS
        self._receive(conn, waiting=False)

    def _receive(self, conn: BufferedConn, *, waiting: bool) -> None:
        outcome = self._read(conn)
        if outcome is None:
            if not waiting:
                self.receiving[conn] = None
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
            return
        if waiting:
            self._stop_receiving(conn)
        self._conclude(conn, outcome)

    def _on_readable(self, conn: BufferedConn, _client) -> None:
        self._receive(conn, waiting=True)

    def _read(self, conn: BufferedConn):
        """What the client sent, read until it would block: a request, a refusal, _CLOSED, or None."""
        reader = conn.reader
        while True:
            try:
                data = conn.sock.recv(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                return _CLOSED
            if not data:
                return _CLOSED
            reader.feed(data)
            outcome = reader.advance()
            if outcome is not None:
                return outcome
            if reader.take_continue():
                self._send(conn, _CONTINUE)

    def _conclude(self, conn: BufferedConn, outcome) -> None:
        if outcome is _CLOSED:
            self._close(conn)
        elif isinstance(outcome, Refusal):
            self._refuse(conn, outcome)
        else:
            conn.parser = _Given(outcome)
            conn.close_after = outcome.close
            self.enqueue_req(conn)  # a thread serves it (gunicorn's handle), then finish_request

    def finish_request(self, conn: BufferedConn, fs) -> None:
        try:
            keep = not fs.cancelled() and fs.result() is True
            conn.sock.setblocking(False)
        except Exception:  # the thread failed, or closed the socket on an error
            self._close(conn)
            return
        if not keep or conn.close_after:
            self._linger(conn)
        elif conn.reader.started:  # the client sent its next request behind this one
            conn.deadline = time.monotonic() + REQUEST_SECONDS
            outcome = conn.reader.advance()
            if outcome is None:
                self._receive(conn, waiting=False)
            else:
                self._conclude(conn, outcome)
        else:
            self._idle(conn)

    # -- endings ------------------------------------------------------------------------------------

    def _refuse(self, conn: BufferedConn, refusal: Refusal) -> None:
        log.info("refused a request from %s: %s", conn.client[0] if conn.client else "?", refusal.text)
        self._send(conn, refusal.response())
        self._linger(conn)

    def _send(self, conn: BufferedConn, data: bytes) -> None:
        try:
            conn.sock.send(data)  # a few hundred bytes: a connection's send buffer takes them
        except OSError:
            pass

    def _linger(self, conn: BufferedConn) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.deadline = time.monotonic() + LINGER_SECONDS
        self.lingering[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._discard, conn))

    def _discard(self, conn: BufferedConn, _client) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._end_linger(conn)

    def _end_linger(self, conn: BufferedConn) -> None:
        del self.lingering[conn]
        self.poller.unregister(conn.sock)
        self._close(conn)

    def _stop_receiving(self, conn: BufferedConn) -> None:
        del self.receiving[conn]
        self.poller.unregister(conn.sock)

    def _close(self, conn: BufferedConn) -> None:
        self.nr_conns -= 1
        conn.close()

    def _time_out(self, conn: BufferedConn) -> None:
        self._stop_receiving(conn)
        self._refuse(conn, TOO_SLOW)

    # -- deadlines, checked by gunicorn's loop after each turn --------------------------------------

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self._stop_by is None:
            # Stopping: what is still arriving has as long as a kept-alive connection is kept.
            self._stop_by = now + STOP_KEEPALIVE_LINGER
            for conn in (*self.receiving, *self.lingering):
                conn.deadline = min(conn.deadline, self._stop_by)
        _expire(self.receiving, now, self._time_out)
        _expire(self.lingering, now, self._end_linger)


def _expire(conns: dict[BufferedConn, None], now: float, end) -> None:
    while conns:
        conn = next(iter(conns))
        if conn.deadline > now:
            return
        end(conn)  # takes it out of `conns`
