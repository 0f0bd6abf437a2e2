"""Load generators: wrk replaying pre-built requests, or Python processes doing the same.

Both take the same request file (records "<byte length>\\n<raw HTTP request>") so that
every request carries its own signature and body, and both report the same fields:
requests/s, p50/p99/max latency, responses that were not 2xx, and whether the run
outlasted the file (so some signed requests were sent twice).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.standins import Signed
from bench.stats import percentile

LUA_SCRIPT = Path(__file__).with_name("replay.lua")
WRK = "/usr/bin/wrk"
REQUEST_TIMEOUT = 10.0


@dataclass
class LoadResult:
    generator: str
    connections: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    non_2xx: int  # answered, but not 2xx (wrk counts 3xx as fine; nothing here redirects)
    errors: int  # connection errors and timeouts
    requests_repeated: bool  # the run went past the end of the file and re-sent some requests

    def as_dict(self) -> dict:
        return asdict(self)


# -- the request file ---------------------------------------------------------------

def raw_request(signed: Signed, host: str) -> bytes:
    """The bytes of one POST as it goes on the wire, keep-alive."""
    body = signed.body.encode()
    lines = [f"POST {signed.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in signed.headers.items()
              if name.lower() not in ("host", "content-length", "connection")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def write_request_file(path: Path, requests: Iterable[Signed], host: str) -> Path:
    with open(path, "wb") as out:
        for signed in requests:
            raw = raw_request(signed, host)
            out.write(f"{len(raw)}\n".encode() + raw)
    return path


def read_request_file(path: Path) -> list[bytes]:
    data = path.read_bytes()
    records, pos = [], 0
    while pos < len(data):
        newline = data.index(b"\n", pos)
        length = int(data[pos:newline])
        records.append(data[newline + 1:newline + 1 + length])
        pos = newline + 1 + length
    return records


def count_records(path: Path) -> int:
    return len(read_request_file(path))


# -- choosing a generator -----------------------------------------------------------

def available_generator(preferred: str = "auto") -> str:
    """"wrk" when it is installed (and not refused), else "python"."""
    if preferred == "python":
        return "python"
    has_wrk = os.access(WRK, os.X_OK) or shutil.which("wrk") is not None
    if preferred == "wrk" and not has_wrk:
        raise RuntimeError("wrk was asked for but is not installed")
    return "wrk" if has_wrk else "python"


def run_load(generator: str, *, port: int, request_file: Path, connections: int, duration: float) -> LoadResult:
    if generator == "wrk":
        return run_wrk(port=port, request_file=request_file, connections=connections, duration=duration)
    return run_python(port=port, request_file=request_file, connections=connections, duration=duration)


# -- wrk ------------------------------------------------------------------------------

def wrk_threads(connections: int) -> int:
    # One wrk thread drives thousands of requests/s, far more than the servers here
    # serve; a second one only when there are connections for it, since every
    # thread the client uses is CPU taken from the server on this 2-core machine.
    return 1 if connections < 8 else 2


def run_wrk(*, port: int, request_file: Path, connections: int, duration: float) -> LoadResult:
    threads = wrk_threads(connections)
    wrk = WRK if os.access(WRK, os.X_OK) else shutil.which("wrk")
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               f"--timeout={REQUEST_TIMEOUT:.0f}s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}/",
               "--", str(request_file), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (status {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    figures = json.loads(line[len("BENCH_JSON "):])
    seconds = figures["duration_us"] / 1e6
    return LoadResult(
        generator="wrk", connections=connections, duration_s=round(seconds, 2), requests=figures["requests"],
        requests_per_s=round(figures["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=round(figures["p50_us"] / 1000, 2), p99_ms=round(figures["p99_us"] / 1000, 2),
        max_ms=round(figures["max_us"] / 1000, 2), non_2xx=figures["non_2xx_3xx"],
        errors=figures["connect_errors"] + figures["read_errors"] + figures["write_errors"] + figures["timeouts"],
        requests_repeated=figures["sent"] > figures["loaded"],
    )


# -- Python -------------------------------------------------------------------------

def python_processes(connections: int) -> int:
    # Python's client is GIL-bound: a process per core, the connections shared among them.
    return max(1, min(connections, os.cpu_count() or 1))


def run_python(*, port: int, request_file: Path, connections: int, duration: float) -> LoadResult:
    processes = python_processes(connections)
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    context = multiprocessing.get_context("spawn")  # not fork: this process runs server threads
    offsets = [sum(shares[:i]) for i in range(processes)]
    jobs = [(port, str(request_file), share, offset, connections, duration) for share, offset in zip(shares, offsets)]
    with context.Pool(processes) as pool:
        parts = pool.starmap_async(_python_worker, jobs).get(timeout=duration + 60)
    latencies = [ms for part in parts for ms in part["latencies_ms"]]
    elapsed = max(part["elapsed_s"] for part in parts)
    requests = len(latencies)
    return LoadResult(
        generator="python", connections=connections, duration_s=round(elapsed, 2), requests=requests,
        requests_per_s=round(requests / elapsed, 1) if elapsed else 0.0,
        p50_ms=_ms(percentile(latencies, 50)), p99_ms=_ms(percentile(latencies, 99)),
        max_ms=_ms(max(latencies) if latencies else None),
        non_2xx=sum(part["non_2xx"] for part in parts), errors=sum(part["errors"] for part in parts),
        requests_repeated=any(part["repeated"] for part in parts),
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _python_worker(port: int, request_file: str, share: int, offset: int, stride: int, duration: float) -> dict:
    """One process: `share` connections, connection k sending records k, k + stride, … (k from `offset`)."""
    records = read_request_file(Path(request_file))
    parsed = [_parse_raw(raw) for raw in records]
    results: list[dict] = []
    start = time.perf_counter()
    deadline = start + duration
    threads = [threading.Thread(target=_connection_loop,
                                args=(port, parsed[offset + k::stride] or parsed, deadline, results))
               for k in range(share)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies_ms": [ms for r in results for ms in r["latencies_ms"]],
            "non_2xx": sum(r["non_2xx"] for r in results), "errors": sum(r["errors"] for r in results),
            "repeated": any(r["repeated"] for r in results), "elapsed_s": time.perf_counter() - start}


def _connection_loop(port: int, requests: list[tuple[str, dict, bytes]], deadline: float, results: list) -> None:
    latencies, non_2xx, errors, sent = [], 0, 0, 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    while time.perf_counter() < deadline:
        path, headers, body = requests[sent % len(requests)]
        sent += 1
        began = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            continue
        latencies.append((time.perf_counter() - began) * 1000)
        if not 200 <= response.status < 300:
            non_2xx += 1
    connection.close()
    results.append({"latencies_ms": latencies, "non_2xx": non_2xx, "errors": errors,
                    "repeated": sent > len(requests)})  # list.append is atomic


def _parse_raw(raw: bytes) -> tuple[str, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode().split("\r\n")
    path = request_line.split(" ")[1]
    headers = dict(line.split(": ", 1) for line in header_lines)
    for name in ("Host", "Content-Length", "Connection"):
        headers.pop(name, None)  # http.client writes its own
    return path, headers, body
