"""The `draftloop` command: chat, serve, worker, digest, agents, db upgrade.

Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error (click's convention).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.agents import AgentCheck, AgentPool
from bot.app.log_config import setup_logging
from bot.app.runtime import STOP_GRACE_SECONDS, Role, Runtime, load_services
from bot.errors import ConfigError, DraftloopError
from bot.events import ThreadRef
from bot.report.chart import chart_png
from bot.report.digest import DigestReport, Period, build_report, render_text
from bot.settings import Settings, load_settings
from storage.engine import async_url
from storage.migrate import upgrade

app = typer.Typer(
    name="draftloop",
    help="AI drafts, expert feedback in threads, acceptance: in Slack, Discord or this console.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

_log = logging.getLogger("draftloop")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"draftloop {metadata.version('draftloop')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """AI drafts, expert feedback in threads, acceptance: in Slack, Discord or this console."""


T = TypeVar("T")


def _settings(*, quiet: bool = False) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        typer.echo(f"draftloop: configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # The console prints the conversation on stdout; only problems belong on stderr there.
    level = "WARNING" if quiet and "DRAFTLOOP_LOG_LEVEL" not in os.environ else settings.draftloop_log_level
    setup_logging(level, settings=settings)
    return settings


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(main())
    except ConfigError as exc:
        typer.echo(f"draftloop: configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except DraftloopError as exc:
        typer.echo(f"draftloop: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def chat() -> None:
    """Run the loop in this terminal: type a request; `#N <reply>` answers in thread N."""
    settings = _settings(quiet=True)

    async def main() -> None:
        runtime = await Runtime.create(settings)
        try:
            services = load_services(runtime, "chat", names=("console",))
            if not services:
                raise ConfigError("the console adapter is not installed; run pip install -e .")
            console: Any = services[0]
            await console.start()
            await runtime.workflow.resume_pending()
            await console.run()
        finally:
            await runtime.close()

    _run(main)


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-16", param_hint=name) from None


@app.command()
def digest(
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: 7 days ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Day after the last, YYYY-MM-DD (default: tomorrow).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    chart: Annotated[Path | None, typer.Option("--chart", help="Also write the chart (PNG) to this file.")] = None,
    post: Annotated[
        str | None,
        typer.Option("--post", help="Post it to PLATFORM:CHANNEL (slack:C123, discord:456, console:-) too."),
    ] = None,
) -> None:
    """Completion rates, feedback cycles, expert minutes and cost for a period."""
    if format not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    target = _parse_post(post)
    settings = _settings(quiet=True)
    first, end = _parse_date(since, "--since"), _parse_date(until, "--until")

    async def main() -> str:
        runtime = await Runtime.create(settings)
        try:
            default = Period.last_days(7, now=runtime.clock.now(), tz=settings.tz)
            period = Period(first or default.since, end or default.until, settings.tz)
            if period.until <= period.since:
                raise ConfigError("--until must be after --since")
            report = await build_report(runtime.db, period, now=runtime.clock.now())
            if chart is not None:
                png = await asyncio.to_thread(chart_png, report.to_json())
                chart.write_bytes(png)
            if target is not None:
                await _post_digest(runtime, report, *target)
        finally:
            await runtime.close()
        return json.dumps(report.to_json(), indent=2) if format == "json" else render_text(report)

    typer.echo(_run(main))


def _parse_post(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    platform, _, channel = value.partition(":")
    if not platform or not channel:
        raise typer.BadParameter("use PLATFORM:CHANNEL, e.g. slack:C0123 or discord:1234", param_hint="--post")
    return platform, channel


async def _post_digest(runtime: Runtime, report: DigestReport, platform: str, channel: str) -> None:
    """Start the platform's adapter just long enough to post the digest (with its chart)."""
    services = load_services(runtime, "chat" if platform == "console" else "worker", names=(platform,))
    if not services:
        raise ConfigError(f"cannot post to {platform}: it is not installed or its token is not set")
    try:
        for service in services:
            await service.start()
        from bot.app.jobs import digest_reply

        reply = await asyncio.to_thread(digest_reply, report)
        await runtime.workflow.platform(platform).post(ThreadRef(platform, channel, ""), reply)
    finally:
        for service in reversed(services):
            await service.stop()
    _log.info("digest posted to %s:%s", platform, channel)


@app.command()
def agents(
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Call each agent's API to test reachability.")
    ] = True,
) -> None:
    """List the agents (routes, endpoint, key variable set or not, prices) and check each one.

    Exit code 1 when an agent in use has no key or cannot be reached. The endpoint and key variable
    are the backend's own answer: the command knows no provider.
    """
    settings = _settings()
    pool = AgentPool(settings)

    async def main() -> list[AgentCheck]:
        try:
            return await pool.check(probe=check)
        finally:
            await pool.aclose()

    failing = 0
    for item in _run(main):
        typer.echo(_agent_line(item))
        if check and item.roles and not item.ok:
            failing += 1
    if failing:
        raise typer.Exit(1)


def _agent_line(item: AgentCheck) -> str:
    mark = "*" if "default" in item.roles else " "
    used = ", ".join(item.roles) or "not routed"
    spec, facts = item.spec, item.facts
    if spec is None or facts is None:
        return f"{mark} {item.name}: {item.provider} {item.model} · used by: {used} · {item.status}"
    key = f" · key {facts.key_env}: {'set' if facts.key_set else 'MISSING'}" if facts.key_env else ""
    return (
        f"{mark} {item.name}: {item.provider} {item.model}"
        f"{' (responses API)' if spec.api == 'responses' else ''} at {facts.endpoint}{key}"
        f" · ${spec.price_input:g}/${spec.price_output:g}/${spec.price_cached:g} per M tokens in/out/cached"
        f" · max {spec.max_concurrency} in flight · used by: {used} · {item.status}"
    )


async def _serve(settings: Settings, role: Role) -> None:
    runtime = await Runtime.create(settings)
    services = load_services(runtime, role)
    if role == "worker":
        # the scheduler runs here only, never in the web process; it starts after the platforms it posts to
        from bot.app.scheduler import JobScheduler  # APScheduler is the worker's alone: the web process never loads it

        services.append(JobScheduler(runtime))
    if not services and role == "web":
        await runtime.close()
        raise ConfigError("nothing to serve: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for service in services:
            await service.start()
            _log.info("%s started (%s)", service.name, role)
        if role == "worker":
            await runtime.workflow.resume_pending()
        await stop.wait()
        _log.info("stopping: %d tasks in flight", runtime.in_flight)
    finally:
        for service in reversed(services):
            try:
                await asyncio.wait_for(service.stop(), timeout=STOP_GRACE_SECONDS / 2)
            except Exception:
                _log.exception("%s did not stop cleanly", service.name)
        await runtime.close()


@app.command()
def serve() -> None:
    """The web process: Slack's HTTP events on $PORT (default 3000) and GET /healthz."""
    settings = _settings()
    _run(lambda: _serve(settings, "web"))


@app.command()
def worker() -> None:
    """The worker process: Slack Socket Mode, the Discord gateway and the scheduler, in one loop."""
    settings = _settings()
    _run(lambda: _serve(settings, "worker"))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (safe to run on every release)."""
    settings = _settings()
    url = async_url(settings.database_url, data_dir=settings.draftloop_data_dir)
    _run(lambda: upgrade(url, revision))
    typer.echo(f"database at {revision}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
