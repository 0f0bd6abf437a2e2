"""The processes of `python -m answer_server`: gunicorn's web workers, and one worker process.

Web requests are served by gunicorn (WEB_CONCURRENCY processes × THREADS
threads, the gthread worker): several processes, so one busy interpreter
never holds up every request. The work queue is run by one more process,
`python -m answer_server worker`, started and watched over by this one: a
worker that dies is started again, and it dies with us (even by kill -9:
Linux's parent-death signal). Every process coordinates through the
database alone, so more instances can be added beside this one.
https://docs.gunicorn.org/en/stable/design.html

SIGHUP reads ROUTING_FILE again before anything else: a bad file is logged and
refused, and every process keeps the routing it has (gunicorn's reload does not
happen); a good one is handed to new web processes through gunicorn's reload
(https://docs.gunicorn.org/en/stable/signals.html), and the worker process,
told by a SIGHUP of its own, reads it again and takes it in place.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Callable

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from answer_server.http.buffered_worker import BufferedThreadWorker
from answer_server.logs import logging_dict
from answer_server.metrics import process_exited, serve_on_port
from voice.routing.models import Routing, RoutingProblems
from voice.settings import Settings

log = logging.getLogger("answer_server")

#: How long requests in flight, and work in hand, may take to finish at a shutdown.
GRACEFUL_SECONDS = 10
#: How long the server waits for its worker process to say it runs before it serves anyway.
READY_SECONDS = 20
#: The worker process writes a line to this descriptor once its workers run (set by WorkerProcess).
READY_FD = "VOICEBRIDGE_READY_FD"
_PR_SET_PDEATHSIG = 1
SWITCH_INTERVAL = 0.001
GC_THRESHOLD = 50_000


class NoAccessLog(Logger):
    """gunicorn's logger without the access log: request lines carry call tokens, so none is written,
    and gunicorn would still build every line's fields once logging is configured by a dict."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


#: Reads ROUTING_FILE again (`voice.routing.loading.load_routing` with the environment of the moment).
RoutingReader = Callable[[], Routing | RoutingProblems]


class WebServer(BaseApplication):
    """gunicorn, configured from our settings, each worker building its own app from them."""

    def __init__(self, settings: Settings, app_factory: Callable[[Settings], object], *,
                 on_exit: Callable[[], None] = lambda: None, read_routing: RoutingReader | None = None,
                 on_routing: Callable[[], None] = lambda: None):
        self._settings = settings
        self._app_factory = app_factory
        self._on_exit = on_exit
        self._read_routing = read_routing
        self._on_routing = on_routing
        super().__init__()

    def run(self) -> None:
        # BaseApplication.run, with an arbiter that reads ROUTING_FILE before it reloads.
        try:
            _RoutingArbiter(self).run()
        except RuntimeError as error:
            print(f"\nError: {error}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    def routing_reread(self) -> bool:
        """On SIGHUP, in gunicorn's master: whether to go on with its reload (the file was good, or there is none)."""
        if self._read_routing is None or not self._settings.routing_file:
            return True
        loaded = _read(self._read_routing, self._settings.routing_file)
        if not routing_taken(loaded, self._settings.routing_file, self._settings.routing):
            return False
        self._settings = replace(self._settings, routing=loaded)  # what the new web processes are built from
        self._on_routing()
        return True

    def load_config(self) -> None:
        settings = self._settings
        config = {
            "bind": [f"{settings.host}:{settings.port}"],
            "workers": settings.web_concurrency,
            # gthread, with each request read whole by the event loop before a thread serves it:
            # slow clients hold no thread (answer_server/http/buffered_worker.py).
            "worker_class": BufferedThreadWorker,
            "threads": settings.threads,
            "timeout": 30,
            "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": 5,
            "accesslog": None,  # request lines carry call tokens: not written
            "logger_class": NoAccessLog,
            "logconfig_dict": logging_dict(settings.log_level, settings.secrets(), settings.log_format),
            "proc_name": "voicebridge",
            # gunicorn's control socket (~/.gunicorn) is for its own CLI; two instances would share it.
            "control_socket_disable": True,
            "on_exit": lambda server: self._on_exit(),
            "child_exit": lambda server, worker: process_exited(worker.pid),
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self):
        # In each web worker, after the fork: its own engine and connections.
        # A request thread back from the database or a socket waits for the interpreter lock up to
        # the switch interval (5 ms by default) while another runs Python: shorter, less tail latency.
        sys.setswitchinterval(SWITCH_INTERVAL)
        app = self._app_factory(self._settings)
        # Everything built so far lives as long as the process: out of the collector's sight, so a
        # full collection does not walk it in the middle of a request.
        gc.freeze()
        # Requests make many short-lived objects and few cycles: collect the young generation
        # less often (CPython's default threshold is 700 allocations).
        gc.set_threshold(GC_THRESHOLD, 20, 20)
        return app


class _RoutingArbiter(Arbiter):
    def handle_hup(self) -> None:
        # Runs in the master's main loop (gunicorn queues signals), not in the signal handler.
        if self.app.routing_reread():
            super().handle_hup()


def routing_taken(loaded: Routing | RoutingProblems, path: str, previous: Routing, where: str = "") -> bool:
    """Log what reading ROUTING_FILE again gave: whether to take it. A bad file: one ERROR line per problem."""
    if isinstance(loaded, RoutingProblems):
        for line in loaded.lines:
            log.error("%s", line)
        log.error("routing: %s refused; the previous one stays (%s)%s", path, previous.described(), where)
        return False
    log.info("routing: %s from %s%s", loaded.described(), path, where)
    return True


def _read(read_routing: RoutingReader, path: str) -> Routing | RoutingProblems:
    try:
        return read_routing()
    except Exception as error:  # noqa: BLE001 - a SIGHUP must never stop the server: a file we fail on is refused
        # No traceback: what it shows could hold the file's text.
        return RoutingProblems((f"ROUTING_FILE: {path} could not be read ({type(error).__name__})",))


class WorkerProcess:
    """`python -m answer_server worker` as a child: started again if it dies, stopped with us."""

    def __init__(self, argv: list[str] | None = None):
        self._argv = argv or [sys.executable, "-m", "answer_server", "worker"]
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> "WorkerProcess":
        """Start the worker and wait until it runs: once /healthz answers, acked work is done at once."""
        ready = self._spawn()
        if not _wait_readable(ready, READY_SECONDS):
            log.warning("the worker process did not start within %s s; serving anyway", READY_SECONDS)
        os.close(ready)
        threading.Thread(target=self._watch, name="worker-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        """SIGTERM: it finishes what it is doing and hands back the rest, then exits."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(GRACEFUL_SECONDS + 5)
        except subprocess.TimeoutExpired:
            process.kill()

    def reread_routing(self) -> None:
        """Tell the worker process to read ROUTING_FILE again (it takes it in place, or keeps its own)."""
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGHUP)

    def _spawn(self) -> int:
        """Start the worker; the read end of the pipe it says "ready" on."""
        ready, tell = os.pipe()
        try:
            with self._lock:
                self._process = subprocess.Popen(self._argv, preexec_fn=_die_with_parent, pass_fds=(tell,),
                                                 env={**os.environ, READY_FD: str(tell)})
        finally:
            os.close(tell)
        return ready

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                # A SIGTERM to the whole process group (systemd, Ctrl-C) reaches the worker first: the
                # server's own stop follows within moments, and that exit is no failure.
                if self._stopping.wait(STOP_GRACE):
                    return
                log.error("the worker process exited (status %s); starting it again in %.0f s",
                          process.returncode, delay)
                if self._stopping.wait(delay):
                    return
                os.close(self._spawn())
                delay = min(delay * 2, 30.0)
            time.sleep(0.5)


#: How long a worker's exit waits for the server's own stop before it counts as a failure.
STOP_GRACE = 1.0


def _wait_readable(fd: int, seconds: float) -> bool:
    readable, _, _ = select.select([fd], [], [], seconds)
    return bool(readable) and os.read(fd, 16) != b""  # b"": the worker exited without a word


def _tell_ready() -> None:
    fd = os.environ.pop(READY_FD, None)
    if fd is None or not fd.isdigit():
        return  # not started by the server
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except OSError:
        pass  # the server stopped waiting, or is gone


def _die_with_parent() -> None:
    # In the child, before exec: the kernel sends SIGTERM when the parent dies, kill -9 included.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the worker's own parent check (run_worker) still stops it


def run_worker(services, *, parent_pid: int | None = None, read_routing: RoutingReader | None = None) -> int:
    """Run the work queue's workers until SIGTERM or SIGINT (or the parent's death); then hand back.
    SIGHUP reads ROUTING_FILE again (`read_routing`) into services.routing, if it is good."""
    stop = threading.Event()
    reread = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reread.set())  # SIGHUP's default would end the process
    serve_on_port(services.settings, services.engine)
    gc.freeze()  # as in the web workers: a full collection would stall a call waiting for its slot
    services.workers.start()
    log.info("worker process %s running", os.getpid())
    _tell_ready()
    while not stop.wait(0.25):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the server process is gone; the worker stops")
            break
        if reread.is_set():
            reread.clear()
            _reread_routing(services, read_routing)
    services.workers.stop(timeout=GRACEFUL_SECONDS)
    services.engine.dispose()
    return 0


def _reread_routing(services, read_routing: RoutingReader | None) -> None:
    path = services.settings.routing_file
    if read_routing is None or not path:
        log.info("SIGHUP: no ROUTING_FILE to read again")
        return
    loaded = _read(read_routing, path)
    if routing_taken(loaded, path, services.routing.current(), " (worker process)"):
        services.routing.replace(loaded)
        services.integrations.sync_file(loaded.integrations, services.clock())
        services.schedules.sync_file(loaded.schedules)
