"""The running process: settings, database, agents, workflow and the chat platforms around them.

`Service` is what a chat adapter's entry point returns (`draftloop.services` group):
`create(runtime, role) -> Service | None`, role being "web" (`draftloop serve`), "worker"
(`draftloop worker`) or "chat" (`draftloop chat`). None means "not configured for this role".
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol

from bot import redact
from bot.agents import AgentPool
from bot.app.database import open_database
from bot.loop.workflow import Workflow
from bot.ports import ChatPlatform, Clock, SystemClock
from bot.settings import Settings
from bot.states import STORED
from storage.engine import Database

_log = logging.getLogger(__name__)

Role = Literal["web", "worker", "chat"]
SERVICE_GROUP = "draftloop.services"
STOP_GRACE_SECONDS = 8.0  # Procfile platforms kill at 10 s after SIGTERM


class Service(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin handling events; return once running."""
        ...

    async def stop(self) -> None:
        """Stop taking new events; in-flight work is drained by the runtime."""
        ...


class ServiceFactory(Protocol):
    def __call__(self, runtime: Runtime, role: Role) -> Service | None: ...


class Runtime:
    def __init__(self, settings: Settings, *, db: Database, clock: Clock | None = None) -> None:
        self.settings = settings
        # Storage's queries name no state: they get the core's here, whoever made the Database.
        db.use_states(STORED)
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.agents = AgentPool(settings)
        # The process's redaction, from these settings: chat posts, stored errors, logs, digests.
        self.redactor = redact.configure(redact.Redactor.from_settings(settings))
        self.workflow = Workflow(db=db, settings=settings, agents=self.agents, clock=self.clock, redactor=self.redactor)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.workflow.external.spawn = self.spawn  # a first draft asked for from outside is drained on stop
        # Routes other front doors add to the web process's HTTP app (the JSON API: adapters/mcp/http_api.py);
        # each is called with the app, which the chat platform serving HTTP builds.
        self.web_routes: list[Callable[[Any], None]] = []

    @classmethod
    async def create(cls, settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
        return cls(settings, db=await open_database(settings, migrate=migrate), clock=clock)

    def register_platform(self, platform: ChatPlatform) -> None:
        self.workflow.register_platform(platform)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run work after an ack; tracked so shutdown can drain it and errors get logged."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("background task failed", exc_info=task.exception())

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Let in-flight work finish; cancel what is left (leases are released, feedback stays
        pending, and the next start resumes it)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)

    async def close(self) -> None:
        await self.drain()
        await self.agents.aclose()
        await self.db.dispose()


class SweeperService:
    """The sweeper (bot/loop/sweeper.py) as a service: `serve` and `worker` both run one, so work a
    stopped process left is finished whichever process is still (or again) running."""

    name = "sweeper"

    def __init__(self, runtime: Runtime) -> None:
        self.sweeper = runtime.workflow.sweeper

    async def start(self) -> None:
        self.sweeper.start()

    async def stop(self) -> None:
        await self.sweeper.stop()


def load_services(runtime: Runtime, role: Role, *, names: tuple[str, ...] | None = None) -> list[Service]:
    """The chat services configured for `role`, and with them (for serve and worker) the sweeper."""
    services: list[Service] = []
    for ep in sorted(entry_points(group=SERVICE_GROUP), key=lambda e: e.name):
        if names is not None and ep.name not in names:
            continue
        try:
            factory: ServiceFactory = ep.load()
        except ImportError as exc:
            _log.warning("service %s is not importable: %s", ep.name, exc)
            continue
        service = factory(runtime, role)
        if service is not None:
            services.append(service)
    if services and role in ("web", "worker"):
        services.append(SweeperService(runtime))
    return services


# `draftloop serve --workers N`: N processes on one port. The supervisor sets this in each child's
# environment ("2/4": the second of four); a child's web service then binds its port with SO_REUSEPORT,
# and the kernel spreads incoming connections over the children. They share nothing but PostgreSQL.
WORKER_ENV = "DRAFTLOOP_SERVE_WORKER"
RESTART_DELAY_SECONDS = 1.0
EARLY_EXIT_SECONDS = 5.0  # a child failing this soon after its start fails the whole serve (bad config, port)


def shared_port() -> bool:
    """True in a child of `serve --workers N`: its port is shared with its siblings."""
    return bool(os.environ.get(WORKER_ENV))


def _exit_code(rc: int) -> int:
    """A child's return code as a shell would report it: killed by signal N is 128 + N (Popen says -N)."""
    return 128 - rc if rc < 0 else rc


def _stop_with(supervisor: int) -> Callable[[], None] | None:
    """What a child runs between fork and exec so that it gets SIGTERM (and drains) when the supervisor
    dies, even by SIGKILL or the OOM killer: without it the children keep serving the shared port with
    nobody restarting or stopping them, and a new serve's children share it with them. Linux only
    (prctl's parent-death signal); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != supervisor:  # it died before the line above: nobody will send the signal
            os._exit(1)

    return arm


def serve_workers(count: int, command: list[str]) -> int:
    """Run `command` (a `draftloop serve`) `count` times and supervise the children until SIGTERM or
    SIGINT, which each child gets in turn (and has its grace to drain). A child that dies is started
    again after a second; one that fails within seconds of its start (a port in use, the database
    unreachable) stops the others and its exit code is the supervisor's. Returns the exit code."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    arm = _stop_with(os.getpid())

    def start(index: int) -> subprocess.Popen[bytes]:
        env = dict(os.environ, **{WORKER_ENV: f"{index + 1}/{count}"})
        # preexec_fn is unsafe with threads; the supervisor has none (it only waits and signals)
        return subprocess.Popen(command, env=env, preexec_fn=arm)

    children: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(count):
            children[index], started[index] = start(index), time.monotonic()
        _log.info("serving with %d worker processes (pids %s)", count, ", ".join(str(c.pid) for c in children.values()))
        code = 0
        while True:
            if stopping:
                deadline = time.monotonic() + STOP_GRACE_SECONDS + 2
                for child in children.values():
                    try:
                        child.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                return code
            for index, child in list(children.items()):
                rc = child.poll()
                if rc is None or stopping:
                    continue
                if rc != 0 and time.monotonic() - started[index] < EARLY_EXIT_SECONDS:
                    code = _exit_code(rc)
                    _log.error("worker %d failed at start-up (exit %d): stopping the others", index + 1, code)
                    stop(signal.SIGTERM, None)
                    break
                _log.warning("worker %d exited (%d): starting it again", index + 1, _exit_code(rc))
                time.sleep(RESTART_DELAY_SECONDS)
                if stopping:  # SIGTERM came during the delay: a child started now would get no signal
                    break
                children[index], started[index] = start(index), time.monotonic()
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
