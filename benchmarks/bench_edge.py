"""The Slack HTTP edge under unauthenticated load: memory and log lines of a real `draftloop serve`.

    .venv/bin/python -m benchmarks.bench_edge            # 400 concurrent 1.9 MB posts, 1,000 noise posts
    .venv/bin/python -m benchmarks.bench_edge --tiny     # 20 and 20: a smoke run of a few seconds

`draftloop serve` runs in a subprocess (its RSS is its own, sampled by a thread every few ms with
psutil) against the fake Slack Web API on 127.0.0.1; this process is the attacker. Scenarios:

- unsigned: N concurrent 1.9 MB posts with no signature headers (401 before any body is read);
- forged: N concurrent 1.9 MB posts with well-formed but wrong signature headers (413 on the
  declared length, before any body is read);
- forged, under the limit: N concurrent posts just under the edge's 1 MiB body limit with a wrong
  signature (each body is read, at most `readers` at once, then 401);
- log lines: M unsigned 4-byte posts (`null`, as JSON) to a fresh server, lines its stderr gained by the time it
  has shut down (so the pending summary is counted).

Figures: idle RSS, peak RSS per scenario and its ratio to idle (target under 2x), statuses seen,
and the log lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]

from adapters.chat.slack.http import MAX_BODY
from benchmarks._serving import wait_healthy
from tests.fakes.slack_api import FakeSlackAPI

SECRET = "bench-edge-secret"
BIG = 1_900_000


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def rss(self) -> int:
        try:
            return int(psutil.Process(self.proc.pid).memory_info().rss)
        except psutil.Error:
            return 0

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def start(fake: FakeSlackAPI, workdir: Path, name: str) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRAFTLOOP_", "DATABASE_"))}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / f'{port}.db'}",
        DRAFTLOOP_DATA_DIR=str(workdir),
        DRAFTLOOP_AGENT="offline",
        SLACK_BOT_TOKEN=fake.token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        PORT=str(port),
    )
    exe = str(Path(sys.executable).parent / "draftloop")
    subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = workdir / f"{name.replace(' ', '_').replace('/', '_')}.log"
    with log.open("wb") as sink:  # the default log level, as deployed
        proc = subprocess.Popen([exe, "serve"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    return Server(proc, port, log)


async def wait_ready(server: Server, session: aiohttp.ClientSession) -> None:
    await wait_healthy(server.port, server.proc, "draftloop serve", session)


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


class PeakRss:
    """Samples a process's RSS from a thread (the event loop here is busy sending)."""

    def __init__(self, server: Server, every: float = 0.005) -> None:
        self.server = server
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss())
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def burst(session: aiohttp.ClientSession, url: str, n: int, body: bytes, headers: dict[str, str]) -> Counter[str]:
    async def one() -> str:
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return str(resp.status)
        except aiohttp.ClientError as exc:
            return type(exc).__name__  # the server may close before taking the whole body

    return Counter(await asyncio.gather(*(one() for _ in range(n))))


def forged() -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}


async def scenario(fake: FakeSlackAPI, workdir: Path, name: str, n: int, body: bytes, headers: dict[str, str]) -> None:
    """One burst against a fresh server, so one scenario's leftovers do not count in the next."""
    server = start(fake, workdir, name)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            await wait_ready(server, session)
            for _ in range(20):  # warm the code paths a refusal takes
                await burst(session, server.url, 1, b"{}", {"Content-Type": "application/json"})
            await asyncio.sleep(0.5)
            idle = server.rss()
            with PeakRss(server) as peak:
                statuses = await burst(session, server.url, n, body, headers)
                await asyncio.sleep(0.3)
        finally:
            stop(server)
    print(f"{name:<34} {idle / 2**20:>7.1f} {peak.peak / 2**20:>8.1f} {peak.peak / idle:>6.2f}x  {dict(statuses)}")


async def memory(fake: FakeSlackAPI, workdir: Path, n: int) -> None:
    json_type = {"Content-Type": "application/json"}
    under = MAX_BODY - 1024
    print(f"{'scenario (fresh server each)':<34} {'idle MB':>7} {'peak MB':>8} {'x idle':>7}  statuses")
    await scenario(fake, workdir, f"{n} x unsigned 1.9 MB", n, b"x" * BIG, json_type)
    await scenario(fake, workdir, f"{n} x forged signature 1.9 MB", n, b"x" * BIG, {**json_type, **forged()})
    await scenario(fake, workdir, f"{n} x forged, {under:,} B", n, b"x" * under, {**json_type, **forged()})


async def log_lines(fake: FakeSlackAPI, workdir: Path, n: int) -> None:
    server = start(fake, workdir, "noise")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        try:
            await wait_ready(server, session)
            before = len(server.lines())
            json_type = {"Content-Type": "application/json"}
            statuses: Counter[str] = Counter()
            for start_at in range(0, n, 100):
                statuses += await burst(session, server.url, min(100, n - start_at), b"null", json_type)
        finally:
            stop(server)
    new = server.lines()[before:]
    refusals = [line for line in new if "refused" in line]
    tracebacks = [line for line in new if "Traceback" in line]
    print(
        f"{n} unsigned 4-byte posts (null): {dict(statuses)}; log lines written {len(new)} "
        f"(refusal lines {len(refusals)}, tracebacks {len(tracebacks)}, shutdown included)"
    )
    for line in new[:6]:
        print(f"  {line.split(' ', 2)[-1][:160]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=400)
    parser.add_argument("--noise", type=int, default=1000)
    parser.add_argument("--tiny", action="store_true", help="20 concurrent posts, 20 noise posts")
    args = parser.parse_args()
    concurrent, noise = (20, 20) if args.tiny else (args.concurrent, args.noise)
    print(f"Slack HTTP edge of draftloop serve, body limit {MAX_BODY:,} B")
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackAPI() as fake:
            await memory(fake, Path(tmp), concurrent)
            await log_lines(fake, Path(tmp), noise)


if __name__ == "__main__":
    asyncio.run(main())
