"""The load generator: N concurrent streaming POSTs over raw asyncio streams.

It runs as its own process (``python -m tests.bench.loadgen``, a JSON spec on
stdin, a JSON result on stdout) so its CPU never competes with the harness's
bookkeeping, and uses uvloop when installed. No HTTP client library: a request
is one pre-encoded ``bytes`` write, a response is parsed with a minimal HTTP/1.1
reader (status line, headers, chunked / Content-Length / close framing) and an
SSE line splitter, so the client costs a few microseconds per event.

Connections are opened (in small batches, so a server's listen backlog is not
what is measured) and kept alive before the first round; each round then
writes every request at the same instant and reads every stream to its end.
Times are ``time.perf_counter()`` seconds relative to the request write:

- ``ttft``: the first text delta (``{"type":"text_delta"}`` for our SSE format,
  a non-empty ``choices[0].delta.content`` for the upstream's Chat Completions
  stream);
- ``total``: the end of the stream (``data: [DONE]`` and the end of the body).

A stream is an error when the status is not 200, an ``error`` event arrives,
``[DONE]`` is missing, the text is not the expected length, or it times out.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

CRLF2 = b"\r\n\r\n"


@dataclass
class Spec:
    host: str
    port: int
    path: str
    body: list[str]  # one JSON body per request, used round-robin
    headers: list[dict[str, str]]  # one header set per request, used round-robin
    mode: str = "sse"  # "sse" (our event format) | "upstream" (Chat Completions chunks)
    concurrency: int = 1
    rounds: int = 1
    sequential: int = 1  # requests per connection per round, one after the other
    expect_chars: int | None = None
    timeout: float = 60.0
    round_pause: float = 0.2
    connect_batch: int = 32


@dataclass
class Sample:
    round: int
    status: int = 0
    ttft: float | None = None
    total: float | None = None
    chars: int = 0
    events: int = 0
    error: str | None = None


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    client_cpu: float = 0.0
    loop: str = "asyncio"


class ProtocolError(Exception):
    pass


def _request_bytes(spec: Spec, i: int) -> bytes:
    body = spec.body[i % len(spec.body)].encode()
    headers = {
        "Host": f"{spec.host}:{spec.port}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Content-Length": str(len(body)),
        **spec.headers[i % len(spec.headers)],
    }
    head = f"POST {spec.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


class Conn:
    """One keep-alive connection; ``stream()`` runs one request to its end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.reusable = True

    async def _fill(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            raise ProtocolError("connection closed")
        self.buf += data

    async def stream(self, request: bytes, mode: str, sample: Sample) -> None:
        start = time.perf_counter()
        self.writer.write(request)
        # Status line and headers.
        while (end := self.buf.find(CRLF2)) < 0:
            await self._fill()
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        sample.status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip().lower()
        if headers.get("connection") == "close" or head[0].startswith("HTTP/1.0"):
            self.reusable = False
        sse = _SSE(mode, start, sample)
        if "chunked" in headers.get("transfer-encoding", ""):
            await self._chunked(sse)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                await self._fill()
            sse.feed(bytes(self.buf[:n]))
            del self.buf[:n]
        else:  # close-delimited
            self.reusable = False
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                sse.feed(data)
        sample.total = time.perf_counter() - start
        if sample.status != 200:
            sample.error = sample.error or f"http_{sample.status}"
        elif not sse.done:
            sample.error = sample.error or "no_done"

    async def _chunked(self, sse: _SSE) -> None:
        while True:
            while (nl := self.buf.find(b"\r\n")) < 0:
                await self._fill()
            size = int(bytes(self.buf[:nl]).split(b";", 1)[0], 16)
            del self.buf[: nl + 2]
            if size == 0:
                while (nl := self.buf.find(b"\r\n")) < 0:  # no trailers expected
                    await self._fill()
                del self.buf[: nl + 2]
                return
            while len(self.buf) < size + 2:
                await self._fill()
            sse.feed(bytes(self.buf[:size]))
            del self.buf[: size + 2]


class _SSE:
    """Split ``data:`` lines and classify them; cheap enough for 50k events/s."""

    __slots__ = ("done", "mode", "pending", "sample", "start")

    def __init__(self, mode: str, start: float, sample: Sample) -> None:
        self.mode = mode
        self.start = start
        self.sample = sample
        self.pending = b""
        self.done = False

    def feed(self, data: bytes) -> None:
        data = self.pending + data
        lines = data.split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            if line.startswith(b"data: "):
                self._event(line[6:].rstrip(b"\r"))

    def _event(self, payload: bytes) -> None:
        sample = self.sample
        if payload == b"[DONE]":
            self.done = True
            return
        sample.events += 1
        try:
            event = json.loads(payload)
        except ValueError:
            sample.error = sample.error or "bad_json"
            return
        text = None
        if self.mode == "sse":
            kind = event.get("type")
            if kind == "text_delta":
                text = event.get("delta") or ""
            elif kind == "error":
                sample.error = sample.error or f"error_event:{event.get('code')}"
        else:
            choices = event.get("choices") or []
            if choices:
                text = (choices[0].get("delta") or {}).get("content") or None
        if text:
            if sample.ttft is None:
                sample.ttft = time.perf_counter() - self.start
            sample.chars += len(text)


async def _connect(spec: Spec) -> Conn:
    reader, writer = await asyncio.open_connection(spec.host, spec.port, limit=1 << 20)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Conn(reader, writer)


async def run(spec: Spec) -> Result:
    result = Result(loop=type(asyncio.get_running_loop()).__module__.split(".")[0])
    cpu0 = time.process_time()
    conns: list[Conn] = []
    for i in range(0, spec.concurrency, spec.connect_batch):
        n = min(spec.connect_batch, spec.concurrency - i)
        conns += await asyncio.gather(*(_connect(spec) for _ in range(n)))
    requests = [_request_bytes(spec, i) for i in range(spec.concurrency)]

    async def one(idx: int, rnd: int) -> list[Sample]:
        out = []
        for _ in range(spec.sequential):
            sample = Sample(round=rnd)
            out.append(sample)
            for attempt in (1, 2):
                conn = conns[idx]
                # A keep-alive connection the server closed while idle (uvicorn's
                # keep-alive timeout is 5 s) is replaced, as a browser would.
                if not conn.reusable or conn.reader.at_eof() or conn.writer.is_closing():
                    conn.writer.close()
                    conn = conns[idx] = await _connect(spec)
                try:
                    await asyncio.wait_for(
                        conn.stream(requests[idx], spec.mode, sample), spec.timeout
                    )
                except TimeoutError:
                    sample.error = "timeout"
                    conn.reusable = False
                except (OSError, ProtocolError, ValueError, IndexError) as exc:
                    conn.reusable = False
                    if attempt == 1 and sample.status == 0 and sample.events == 0:
                        continue  # closed before any response byte: retry once, fresh
                    sample.error = f"{type(exc).__name__}: {exc}"[:120]
                break
            if (
                not sample.error
                and spec.expect_chars is not None
                and sample.chars != spec.expect_chars
            ):
                sample.error = f"text_length:{sample.chars}!={spec.expect_chars}"
        return out

    t0 = time.perf_counter()
    for rnd in range(spec.rounds):
        if rnd:
            await asyncio.sleep(spec.round_pause)
        for samples in await asyncio.gather(*(one(i, rnd) for i in range(spec.concurrency))):
            result.samples += samples
    result.wall = time.perf_counter() - t0
    result.client_cpu = time.process_time() - cpu0
    for conn in conns:
        conn.writer.close()
    return result


def main() -> int:
    spec = Spec(**json.load(sys.stdin))
    # Hundreds of sockets: raise the soft fd limit as far as allowed.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    if os.environ.get("BENCH_CLIENT_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
    result = asyncio.run(run(spec))
    json.dump(
        {**asdict(result), "samples": [asdict(s) for s in result.samples]},
        sys.stdout,
    )
    return 0


def run_in_process(
    spec: Spec, python: str = sys.executable, timeout: float = 600, cpus: set[int] | None = None
) -> dict[str, Any]:
    """Run one load in a fresh client process (on ``cpus`` if given); returns the result."""
    import subprocess

    proc = subprocess.run(
        [python, "-m", "tests.bench.loadgen"],
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


if __name__ == "__main__":
    sys.exit(main())
