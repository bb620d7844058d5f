"""The `draftloop` command: chat, serve, worker, digest, route, agents, db upgrade.

Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error (click's convention).
Every failure a user can cause or meet is one line on stderr, `draftloop: …` or `draftloop CMD: …`:
the settings are checked whole before any command runs (bot/settings.py), usage errors name the option
and what it accepts, and runtime failures (the database unreachable, a port in use, a file that
cannot be written) say what failed and what to do. A traceback comes only with DRAFTLOOP_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from bot.errors import ConfigError, DraftloopError

# Each command imports what it uses, inside the command: `draftloop --help` loads typer and this file
# only, `draftloop digest` the settings, storage and the report, never the workflow, the agents or the
# chat platforms (benchmarks/bench_startup.py measures both).
if TYPE_CHECKING:
    from bot.agents import AgentCheck
    from bot.app.runtime import Role, Runtime
    from bot.report.digest import DigestReport, Period
    from bot.settings import Settings
    from storage import Database
    from storage.metrics_read import PostgresReader, SqliteFileReader

# \b: Click prints the paragraph as written (aligned columns), without rewrapping it.
ENVIRONMENT = """\
\b
Environment variables (secrets only ever come from here):
  DATABASE_URL          sqlite:///PATH.db, postgresql://… or postgres://…
                        (default: draftloop.db in DRAFTLOOP_DATA_DIR)
  DRAFTLOOP_AGENT       offline (default), PROVIDER:MODEL such as
                        openai:gpt-4.1, or an agent of the config file
  DRAFTLOOP_CONFIG      the TOML file: agents, categories, workflow, digests
  DRAFTLOOP_DATA_DIR    the default SQLite file and attachments (data)
  DRAFTLOOP_LOG_LEVEL   DEBUG (with tracebacks), INFO, WARNING, ERROR,
                        CRITICAL (default INFO; WARNING for chat, digest)
  PORT                  HTTP port of draftloop serve (3000)
  SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL
  DISCORD_TOKEN, DISCORD_API_URL, DISCORD_GATEWAY_URL
  OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
  DRAFTLOOP_MCP_TOKEN   bearer token of draftloop mcp --http and serve's /api
  DRAFTLOOP_SLACK_CONNECTIONS  Socket Mode connections of draftloop worker (2)
  DRAFTLOOP_EVENT_LOOP  auto (default: uvloop when installed), uvloop, asyncio
Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error.
"""

_log = logging.getLogger("draftloop")
# Typer's click: its own copy in newer Typers, the click package in older ones; found through a class
# Typer exports, so both work.
_CLICK: Any = sys.modules[typer.BadParameter.__module__]


def _debug() -> bool:
    """Tracebacks are for DRAFTLOOP_LOG_LEVEL=DEBUG only (read raw: the settings may be what failed)."""
    return os.environ.get("DRAFTLOOP_LOG_LEVEL", "").strip().upper() == "DEBUG"


def _fail(code: int, message: str, exc: BaseException | None = None, *, prefix: str = "draftloop") -> NoReturn:
    """Print one line (and, at DEBUG, the traceback before it), masked, and exit with `code`."""
    from bot import redact

    mask = redact.active()
    if exc is not None and _debug():
        sys.stderr.write(mask.log_text("".join(traceback.format_exception(exc))))
    line = " ".join(mask(message).split())  # one line, whatever the message held
    typer.echo(f"{prefix}: {line}", err=True)
    raise typer.Exit(code)


class _OneLineErrors(TyperGroup):
    """Usage errors as one line (`draftloop digest: invalid value for --format: …`) instead of click's
    usage block; exit codes stay click's (2)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("draftloop: interrupted", err=True)
            sys.exit(130)
        except _CLICK.ClickException as exc:
            sys.exit(_show(exc))
        sys.exit(result if isinstance(result, int) else 0)


def _show(exc: Any) -> int:
    """A click usage error as one line; its exit code."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # `draftloop` alone: the help, as click gives it
    elif isinstance(exc, _CLICK.UsageError):
        where = exc.ctx.command_path if exc.ctx is not None else "draftloop"
        message = " ".join(str(exc.format_message()).split()).rstrip(".")
        typer.echo(f"{where}: {message[:1].lower()}{message[1:]} (see {where} --help)", err=True)
    else:
        typer.echo(f"draftloop: {exc.format_message()}", err=True)
    return int(exc.exit_code)


app = typer.Typer(
    name="draftloop",
    cls=_OneLineErrors,
    help="AI drafts, expert feedback in threads, acceptance: in Slack, Discord or this console.",
    epilog=ENVIRONMENT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: rich's formatting costs more start-up (0.18 s of imports) than the rest of --help
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

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
    """The settings, checked whole before the command does anything; exit 2 with one line if wrong."""
    from bot.app.log_config import setup_logging
    from bot.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(2, f"configuration error: {exc}", exc)
    # The console prints the conversation on stdout; only problems belong on stderr there.
    level = "WARNING" if quiet and "DRAFTLOOP_LOG_LEVEL" not in os.environ else settings.draftloop_log_level
    setup_logging(level, settings=settings)
    return settings


class _DatabaseDown(Exception):
    """The database could not be reached or opened at start-up; the message is the one line to show."""


async def _runtime(settings: Settings) -> Runtime:
    """Runtime.create, with a database that cannot be reached said in one sentence."""
    from bot.app.runtime import Runtime

    url = _database_url(settings)
    try:
        return await Runtime.create(settings)
    except Exception as exc:
        down = _database_down(exc, url)
        if down is None:
            raise
        raise down from exc


async def _database(settings: Settings) -> Database:
    """The database alone (what the digest reads), with one that cannot be reached said in one sentence."""
    from bot.app.database import open_database

    try:
        return await open_database(settings)
    except Exception as exc:
        down = _database_down(exc, _database_url(settings))
        if down is None:
            raise
        raise down from exc


def _database_down(exc: Exception, url: str) -> _DatabaseDown | None:
    """`exc` met while connecting, as _DatabaseDown with its one sentence; None when it is something else."""
    from storage.failures import describe_failure

    failure = describe_failure(exc, url, connecting=True)
    return None if failure is None else _DatabaseDown(failure)


def _os_failure(exc: OSError, port: int | None) -> str:
    if exc.errno == errno.EADDRINUSE:
        where = f"port {port}" if port is not None else "the port"
        return f"cannot listen on {where}: another process is using it; stop it or set PORT to a free port"
    return f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc)


def _run(
    main: Callable[[], Coroutine[Any, Any, T]],
    *,
    url: str | None = None,
    port: int | None = None,
    loop: str = "asyncio",
) -> T:
    """`main()` on a new event loop of the kind `loop` names (bot/app/event_loop.py), its failures as
    one line and an exit code."""
    import asyncio

    from bot.app.event_loop import loop_factory

    # Not SQLAlchemy (storage.failures) before a failure: a one-shot digest on SQLite never loads it.
    from storage.migrate import RevisionError

    try:
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            return runner.run(main())
    except (typer.Exit, _CLICK.ClickException):
        raise
    except ConfigError as exc:
        _fail(2, f"configuration error: {exc}", exc)
    except RevisionError as exc:
        _fail(2, str(exc), exc)
    except _DatabaseDown as exc:
        _fail(1, str(exc), exc)
    except DraftloopError as exc:
        _fail(1, str(exc), exc)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        from storage.failures import describe_failure

        failure = describe_failure(exc, url) if url else None
        if failure is not None:
            _fail(1, failure, exc)
        if isinstance(exc, OSError):
            _fail(1, _os_failure(exc, port), exc)
        _fail(1, f"unexpected error ({type(exc).__name__}: {exc}); DRAFTLOOP_LOG_LEVEL=DEBUG shows where", exc)


def _database_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.draftloop_data_dir / 'draftloop.db'}"


@app.command(short_help="Run the loop in this terminal (#N <reply> answers in thread N).")
def chat() -> None:
    """Run the loop in this terminal: type a request; `#N <reply>` answers in thread N."""
    settings = _settings(quiet=True)

    async def main() -> None:
        from bot.app.runtime import load_services

        runtime = await _runtime(settings)
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

    _run(main, url=_database_url(settings))


# A digest period lies within these days: wider asks (`--since 1900-01-01`) mean "everything" and are
# taken as that, since dates far outside overflow the period before it and the database's timestamps.
EARLIEST = date(1970, 1, 1)
LATEST = date(2200, 1, 1)
DEFAULT_DAYS = 7


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-16", param_hint=name) from None


def _clamped(day: date | None, name: str) -> date | None:
    if day is None or EARLIEST <= day <= LATEST:
        return day
    edge = EARLIEST if day < EARLIEST else LATEST
    typer.echo(f"draftloop: {name} {day} is outside {EARLIEST} … {LATEST}; taken as {edge}", err=True)
    return edge


def _period_days(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """[since, until): the defaults are the last 7 days up to and including today; `--until` alone
    takes the 7 days before it, `--since` alone runs to today."""
    if since is None and until is None:
        return today - timedelta(days=DEFAULT_DAYS - 1), today + timedelta(days=1)
    if since is None:
        assert until is not None
        return until - timedelta(days=DEFAULT_DAYS), until
    if until is None:
        return since, max(today + timedelta(days=1), since + timedelta(days=1))
    return since, until  # the command checked that until is after since


def _chart_path(chart: Path | None) -> Path | None:
    """The chart's file, checked before any work: a file in a directory that exists and can be written."""
    if chart is None:
        return None
    path = chart.expanduser()
    if path.is_dir():
        raise typer.BadParameter(
            f"{chart} is a directory; name a file, like {path / 'digest.png'}", param_hint="--chart"
        )
    parent = path.parent
    if not parent.is_dir():
        raise typer.BadParameter(f"the directory {parent} does not exist; create it first", param_hint="--chart")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise typer.BadParameter(f"{path} cannot be written (permission denied)", param_hint="--chart")
    return path


@app.command(short_help="Completion, feedback cycles, expert minutes and cost for a period.")
def digest(
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: 7 days before --until).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Day after the last, YYYY-MM-DD (default: 7 days after --since, or tomorrow).")
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json (any case).")] = "text",
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also write the chart (PNG) to this file; its path goes to stderr.")
    ] = None,
    post: Annotated[
        str | None,
        typer.Option("--post", help="Post it to PLATFORM:CHANNEL (slack:C123, discord:456, console:-) too."),
    ] = None,
) -> None:
    """Completion rates, feedback cycles, expert minutes and cost for a period (local days [since, until))."""
    shape = format.strip().lower()
    if shape not in ("text", "json"):
        raise typer.BadParameter(f"{format!r} is not a format; use text or json", param_hint="--format")
    target = _parse_post(post)
    chart_file = _chart_path(chart)
    first = _clamped(_parse_date(since, "--since"), "--since")
    end = _clamped(_parse_date(until, "--until"), "--until")
    if first is not None and end is not None and end <= first:
        raise typer.BadParameter(f"{end} is not after --since {first}", param_hint="--until")
    settings = _settings(quiet=True)

    async def main() -> str:
        import asyncio

        from bot.report.digest import Period, read_report

        # Only a post needs the runtime (its chat platform); reading figures needs the database alone,
        # and a database at the current schema not even the engine (_one_shot_reader).
        reader = await _one_shot_reader(settings) if target is None else None
        runtime = await _runtime(settings) if target is not None else None
        try:
            now = runtime.clock.now() if runtime is not None else datetime.now(UTC)
            period = Period(*_period_days(first, end, now.astimezone(settings.tz).date()), settings.tz)
            if reader is not None:
                report = await read_report(reader, period, now=now)
            else:
                report = await _report_through_engine(settings, runtime, period, now)
            if chart_file is not None:
                from bot.report.chart import chart_png

                png = await asyncio.to_thread(chart_png, report.to_json())
                await asyncio.to_thread(chart_file.write_bytes, png)
            if runtime is not None and target is not None:
                await _post_digest(runtime, report, *target)
        finally:
            if reader is not None:
                await reader.aclose()
            if runtime is not None:
                await runtime.close()
        if chart_file is not None:
            typer.echo(f"draftloop: chart written to {chart_file.resolve()}", err=True)
        if shape == "json":
            return json.dumps(report.to_json(), indent=2)
        from bot.report.render import render_text

        # Posted to the console, the digest is already on this terminal: once is enough.
        return "" if target is not None and target[0] == "console" else render_text(report)

    out = _run(main, url=_database_url(settings))
    if out:
        typer.echo(out)


async def _one_shot_reader(settings: Settings) -> SqliteFileReader | PostgresReader | None:
    """The database itself through its bare driver (sqlite3, asyncpg) when it is at the current
    schema: a one-shot digest then imports no SQLAlchemy (benchmarks/bench_startup.py). None for
    a database that is new, behind, unreachable or named by a URL with options: the engine opens
    (migrates, explains) those."""
    from storage.metrics_read import PostgresReader, SqliteFileReader, sqlite_file
    from storage.migrate import head_revision
    from storage.urls import plain_postgres_dsn

    dsn = plain_postgres_dsn(settings.database_url)
    if dsn is not None:
        return await PostgresReader.open(dsn, revision=head_revision())
    path = sqlite_file(settings.database_url, settings.draftloop_data_dir)
    return None if path is None else SqliteFileReader.open(path, revision=head_revision())


async def _report_through_engine(
    settings: Settings, runtime: Runtime | None, period: Period, now: datetime
) -> DigestReport:
    """The digest read through the engine: the runtime's when posting, else the database alone."""
    from bot.report.digest import build_report

    if runtime is not None:
        return await build_report(runtime.db, period, now=now)
    db = await _database(settings)
    try:
        return await build_report(db, period, now=now)
    finally:
        await db.dispose()


@app.command(short_help="Which agent the next request in CATEGORY goes to, and why.")
def route(
    category: Annotated[str, typer.Argument(help="A category: a built-in one or one of the config file's.")],
    format: Annotated[str, typer.Option("--format", "-f", help="text or json (any case).")] = "text",
) -> None:
    """Which agent the next request in CATEGORY goes to, why, and every candidate's record there."""
    shape = format.strip().lower()
    if shape not in ("text", "json"):
        raise typer.BadParameter(f"{format!r} is not a format; use text or json", param_hint="--format")
    settings = _settings(quiet=True)
    from bot.triage import normalise_category

    names = settings.file.category_names
    found = normalise_category(category, names)
    if found is None:
        raise typer.BadParameter(
            f"{category!r} is not a category; use one of {', '.join(names)}", param_hint="CATEGORY"
        )

    async def main() -> dict[str, Any]:
        from bot.orchestrator.routing import Router

        db = await _database(settings)
        try:
            return await Router(settings=settings, db=db).explain(found)
        finally:
            await db.dispose()

    explained = _run(main, url=_database_url(settings))
    if shape == "json":
        typer.echo(json.dumps(explained, indent=2))
        return
    from bot.orchestrator.routing import render_route

    typer.echo(render_route(explained))


def _parse_post(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    platform, _, channel = value.partition(":")
    if not platform or not channel:
        raise typer.BadParameter("use PLATFORM:CHANNEL, e.g. slack:C0123 or discord:1234", param_hint="--post")
    from bot import platforms

    known = platforms.installed()
    if platform not in known:
        raise typer.BadParameter(
            f"{platform!r} is not an installed platform; use one of {', '.join(sorted(known))}", param_hint="--post"
        )
    return platform, channel


async def _post_digest(runtime: Runtime, report: DigestReport, platform: str, channel: str) -> None:
    """Start the platform's adapter just long enough to post the digest (with its chart)."""
    import asyncio

    from bot.app.runtime import load_services
    from bot.events import ThreadRef

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


@app.command(short_help="List the agents and check each one's key and reachability.")
def agents(
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Call each agent's API to test reachability.")
    ] = True,
) -> None:
    """List the agents (routes, endpoint, key variable set or not, prices) and check each one.

    Exit code 1 when an agent in use has no key or cannot be reached. The endpoint and key variable
    are the backend's own answer: the command knows no provider.
    """
    from bot.agents import AgentPool

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
        f" · {item.concurrency or 'adaptive concurrency'} · used by: {used} · {item.status}"
    )


async def _serve(settings: Settings, role: Role) -> None:
    import asyncio
    import gc

    from bot.app.event_loop import loop_name
    from bot.app.runtime import STOP_GRACE_SECONDS, load_services

    runtime = await _runtime(settings)
    services = load_services(runtime, role)
    scheduler_only = role == "worker" and not services
    if role == "worker":
        # the scheduler runs here only, never in the web process; it starts after the platforms it posts to
        from bot.app.scheduler import JobScheduler  # APScheduler is the worker's alone: the web process never loads it

        services.append(JobScheduler(runtime))
    if not services and role == "web":
        await runtime.close()
        raise ConfigError("nothing to serve: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README)")
    runtime.agents.prepare()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _log.debug("event loop: %s", loop_name(loop))
    try:
        for service in services:
            await service.start()
            _log.info("%s started (%s)", service.name, role)
        if scheduler_only:
            _log.warning(
                "no chat platform to connect (set SLACK_BOT_TOKEN and SLACK_APP_TOKEN, or DISCORD_TOKEN): "
                "only the scheduler runs (digests, reminders, expiry)"
            )
        if role == "worker":
            await runtime.workflow.resume_pending()
        # What start-up built (modules, the app, the clients) lives as long as the process: kept
        # out of the collector's way, a full collection walks only what replies allocate.
        gc.collect()  # start-up's garbage is not kept for good
        gc.freeze()
        await stop.wait()
        _log.info("stopping: %d tasks in flight", runtime.in_flight)
    finally:
        for service in reversed(services):
            try:
                await asyncio.wait_for(service.stop(), timeout=STOP_GRACE_SECONDS / 2)
            except Exception:
                _log.exception("%s did not stop cleanly", service.name)
        await runtime.close()


@app.command(short_help="The web process: Slack's HTTP events, /healthz, the JSON API.")
def serve(
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Processes sharing $PORT (SO_REUSEPORT), coordinated through PostgreSQL; 1 by default."
        ),
    ] = 1,
) -> None:
    """The web process: Slack's HTTP events on $PORT (default 3000) and GET /healthz."""
    settings = _settings()
    if workers > 1:
        from bot.app.runtime import serve_workers, shared_port

        if not shared_port():  # a child of a supervisor serves; only the first process supervises
            if not _database_url(settings).startswith(("postgresql", "postgres:")):
                raise typer.BadParameter(
                    "more than one process needs PostgreSQL (DATABASE_URL=postgresql://…); SQLite has one writer",
                    param_hint="--workers",
                )
            if not settings.port:
                raise typer.BadParameter("more than one process needs a fixed PORT, not 0", param_hint="--workers")
            raise typer.Exit(serve_workers(workers, [sys.executable, "-m", "bot", "serve"]))
    _run(
        lambda: _serve(settings, "web"),
        url=_database_url(settings),
        port=settings.port,
        loop=settings.draftloop_event_loop,
    )


@app.command(short_help="Socket Mode, the Discord gateway and the scheduler, in one loop.")
def worker() -> None:
    """The worker process: Slack Socket Mode, the Discord gateway and the scheduler, in one loop."""
    settings = _settings()
    _run(lambda: _serve(settings, "worker"), url=_database_url(settings), loop=settings.draftloop_event_loop)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision: head (default) or a revision id.")] = "head",
) -> None:
    """Apply database migrations (safe to run on every release; draftloop never downgrades)."""
    from storage.engine import async_url
    from storage.migrate import RevisionError, target_revision, upgrade

    try:
        target_revision(revision)  # an unknown revision is refused before anything connects
    except RevisionError as exc:
        raise typer.BadParameter(str(exc), param_hint="REVISION") from None
    settings = _settings()

    async def main() -> str:
        url = async_url(settings.database_url, data_dir=settings.draftloop_data_dir)
        try:
            return await upgrade(url, revision)
        except RevisionError:
            raise
        except Exception as exc:
            down = _database_down(exc, url)
            if down is None:
                raise
            raise down from exc

    typer.echo(f"database at {_run(main, url=_database_url(settings))}")


MCP_SERVER = "adapters.mcp.run"  # imported by name when `mcp` runs: bot never imports adapters


@app.command(short_help="An MCP server any agent can ask for expert review.")
def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http", help="Streamable HTTP at /mcp instead of stdio; clients send Bearer $DRAFTLOOP_MCP_TOKEN."
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="With --http: the address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="With --http: the port (0: any free one, said on stderr).")
    ] = 8765,
) -> None:
    """An MCP server any agent can ask for expert review: request_review, get_review, submit_revision, list_projects."""
    settings = _settings(quiet=not http)
    try:
        server: Any = importlib.import_module(MCP_SERVER)
    except ImportError as exc:
        _fail(2, f"the MCP server cannot be loaded ({exc}); run pip install -e .", exc)
    try:
        server.check(settings, http=http)
    except ConfigError as exc:
        _fail(2, f"configuration error: {exc}", exc)

    def announce(line: str) -> None:
        typer.echo(line, err=True)

    _run(
        lambda: server.main(settings, _runtime, http=http, host=host, port=port, announce=announce),
        url=_database_url(settings),
        port=port,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
