"""Real draftloop processes for the fault suite: `draftloop serve` (or worker, chat) started with
its environment and config, waited for on GET /healthz, killed with SIGKILL or stopped with SIGTERM.

Each process writes its log (stdout and stderr, INFO) to a file in the test's directory; a test that
fails shows the tail of every log (`ProcessSet.tails()`), which is where a traceback will be.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

EXE = str(Path(sys.executable).parent / "draftloop")
SECRET = "faults-signing-secret"
CHANNEL = "C0FAULTS"
REQUESTER = "UREQ"
EXPERT = "UEXP"
MODEL = "fault-model"
LEASE_SECONDS = 3.0
SWEEP_SECONDS = 0.5
# Run the processes from another checkout (a directory holding bot/, adapters/, storage/), e.g. the
# code before a fix, to see the suite fail there. That code migrates its own fresh database, and
# gets no `sweep_seconds` when it is older than the sweeper (its config would refuse the key).
OTHER_CODE = os.environ.get("DRAFTLOOP_FAULTS_CODE") or None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(llm_base_url: str, *, lease: float = LEASE_SECONDS, sweep: float | None = SWEEP_SECONDS) -> str:
    """The TOML file: one agent on the fake model server, the writing category's expert, short leases."""
    if OTHER_CODE and not (Path(OTHER_CODE) / "bot" / "loop" / "sweeper.py").exists():
        sweep = None
    sweep_line = f"sweep_seconds = {sweep}\n" if sweep is not None else ""
    return (
        'default_agent = "fake"\n\n'
        "[agents.fake]\n"
        'provider = "openai-compatible"\n'
        f'model = "{MODEL}"\n'
        f'base_url = "{llm_base_url}"\n'
        'key_env = "OPENAI_API_KEY"\n'
        "max_concurrency = 500\n"
        "max_retries = 1\n"
        "timeout = 30\n\n"
        "[categories.writing]\n"
        f'experts = ["{EXPERT}"]\n\n'
        "[workflow]\n"
        f"lease_seconds = {lease}\n"
        f"{sweep_line}"
    )


def base_env(workdir: Path) -> dict[str, str]:
    """The parent's environment without anything that would point a process elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DRAFTLOOP_", "DISCORD_", "OPENAI_", "ANTHROPIC_"))
        and k not in ("DATABASE_URL", "PORT")
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env["DRAFTLOOP_DATA_DIR"] = str(workdir)
    env["DRAFTLOOP_LOG_LEVEL"] = "INFO"
    env["PYTHONUNBUFFERED"] = "1"
    if OTHER_CODE:
        env["PYTHONPATH"] = OTHER_CODE
    return env


@dataclass
class Process:
    """One draftloop process. `port` is its HTTP port (serve only)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = 0
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    exits: list[int] = field(default_factory=list)

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> Process:
        assert not self.running, f"{self.name} is running"
        log = self.log_path.open("ab")
        log.write(f"\n===== {self.name} start {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        self.proc = await asyncio.create_subprocess_exec(
            EXE,
            *self.args,
            env=self.env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        log.close()
        self.started_at = time.monotonic()
        return self

    async def wait_healthy(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> float:
        """Poll GET /healthz until it answers 200; fail at once when the process exits. Returns the
        seconds it took from start."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                async with session.get(f"{self.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return time.monotonic() - self.started_at
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not answer /healthz in {timeout} s:\n{self.tail()}")

    async def kill(self) -> None:
        """SIGKILL: no drain, no lease handed back, nothing flushed."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            self.exits.append(await self.proc.wait())

    async def terminate(self, timeout: float = 12.0) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        self.exits.append(code)
        return code

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class ProcessSet:
    """Every process a test started; all are stopped at the end (SIGKILL: the test is over)."""

    def __init__(self, workdir: Path, *, llm_base_url: str, slack_api_url: str, slack_token: str) -> None:
        self.workdir = workdir
        self.llm_base_url = llm_base_url
        self.slack_api_url = slack_api_url
        self.slack_token = slack_token
        self.processes: list[Process] = []
        self.session: aiohttp.ClientSession | None = None

    def config(self, **kw: Any) -> Path:
        path = self.workdir / "draftloop.toml"
        path.write_text(config_text(self.llm_base_url, **kw))
        return path

    def env(self, database_url: str, *, port: int = 0, config: Path | None = None) -> dict[str, str]:
        env = base_env(self.workdir)
        env.update(
            DATABASE_URL=database_url,
            DRAFTLOOP_CONFIG=str(config or self.config()),
            OPENAI_API_KEY="fault-key",
            SLACK_BOT_TOKEN=self.slack_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=self.slack_api_url,
        )
        if port:
            env["PORT"] = str(port)
        return env

    def serve(self, database_url: str, *, name: str | None = None, config: Path | None = None) -> Process:
        """A `draftloop serve` on a port of its own (not started; `await p.start()`)."""
        port = free_port()
        name = name or f"serve-{len(self.processes) + 1}"
        process = Process(
            name, ["serve"], self.env(database_url, port=port, config=config), self.workdir / f"{name}.log", port
        )
        self.processes.append(process)
        return process

    async def started(self, process: Process) -> Process:
        """Start `process` and wait for its /healthz."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        await process.start()
        await process.wait_healthy(self.session)
        return process

    def tails(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log_path})\n{p.tail()}" for p in self.processes)

    async def close(self) -> None:
        for process in self.processes:
            await process.kill()
        if self.session is not None:
            await self.session.close()
