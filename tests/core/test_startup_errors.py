"""Start-up: every command checks the whole configuration first. A mistake is one line on stderr naming
the setting, what is wrong and what is accepted, exit code 2, no traceback; a runtime failure (the
database unreachable or missing, a port in use) is one line and exit code 1 (issue 14)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app.cli import app
from bot.config import FileConfig
from bot.report.digest import Period, build_report
from bot.settings import Settings
from storage.models import Project
from storage.urls import database_url_problem
from tests.conftest import PG_BASE, reply_event, request_event

EXE = str(Path(sys.executable).parent / "draftloop")
COMMANDS = (["chat"], ["serve"], ["worker"], ["digest"], ["agents", "--no-check"], ["db", "upgrade"])
_VARIABLES = ("DATABASE_URL", "DRAFTLOOP_AGENT", "DRAFTLOOP_CONFIG", "DRAFTLOOP_LOG_LEVEL", "PORT", "OPENAI_BASE_URL")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A clean environment for the command: its own data directory, nothing else set."""
    for name in (*_VARIABLES, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    yield {}


def _invoke(args: list[str], env: dict[str, str], tmp_path: Path, toml: str | None = None) -> Any:
    given = dict(env)
    if toml is not None:
        config = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
        config.write_text(toml, encoding="utf-8")
        given["DRAFTLOOP_CONFIG"] = str(config)
    return CliRunner().invoke(app, args, env=given, input="")


def _one_line(result: Any, code: int) -> str:
    """The command failed with `code` and said so in exactly one line on stderr, without a traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("draftloop"), lines[0]
    return str(lines[0])


# -- agents --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("agent", "said"),
    [
        ("ghost", "DRAFTLOOP_AGENT: unknown agent 'ghost'; use offline, PROVIDER:MODEL or an agent of the config"),
        ("openai", "DRAFTLOOP_AGENT: 'openai' names provider 'openai' but no model; use openai:MODEL"),
        ("openai:", "DRAFTLOOP_AGENT: 'openai:' names provider 'openai' but no model; use openai:MODEL"),
        ("ghost:gpt", "DRAFTLOOP_AGENT: 'ghost:gpt': unknown provider 'ghost'; installed: anthropic, offline"),
    ],
)
def test_an_unusable_agent_stops_every_command_at_start_up(
    env: dict[str, str], tmp_path: Path, command: list[str], agent: str, said: str
) -> None:
    # Before: chat and serve started, then every request failed with a ConfigError traceback.
    line = _one_line(_invoke(command, {**env, "DRAFTLOOP_AGENT": agent}, tmp_path), 2)
    assert line.startswith("draftloop: configuration error: ") and said in line
    assert not (tmp_path / "data" / "draftloop.db").exists(), "refused before the database is touched"


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('default_agent = "ghost"\n', "default_agent: unknown agent 'ghost'"),
        ('triage_agent = "ghost"\n', "triage_agent: unknown agent 'ghost'"),
        ('[categories.writing]\nagent = "ghost"\n', "categories.writing.agent: unknown agent 'ghost'"),
        (
            '[agents.gpt]\nprovider = "openai"\nmodel = "g"\n[categories.writing]\nfallback = ["gpt", "ghost"]\n',
            "categories.writing.fallback[1]: unknown agent 'ghost'; use offline, PROVIDER:MODEL or an agent of "
            "the config file (gpt)",
        ),
        ('[agents.x]\nprovider = "ghost"\n', "agents.x.provider: unknown provider 'ghost'; installed: anthropic"),
        ('[agents.x]\nprovider = "openai"\nmodel = ""\n', "agents.x.model: must have at least 1 character (got '')"),
        ('[agents.x]\nprovider = "openai"\nmodel = "m"\nmax_concurrency = 0\n', "agents.x.max_concurrency: must be"),
        (
            '[agents.x]\nprovider = "openai"\nmodel = "m"\ntimeout = -1\n',
            "agents.x.timeout: must be greater than 0 (got -1)",
        ),
        ('[agents.x]\nprovider = "openai"\nmodel = "m"\nbase_url = "localhost:11434"\n', "not an http:// or https://"),
    ],
)
def test_agents_in_the_file_are_checked_and_the_agents_command_reports_it(
    env: dict[str, str], tmp_path: Path, toml: str, said: str
) -> None:
    # Before: `draftloop agents` listed "ghost" as not usable (or crashed), exit 0; chat started.
    for command in (["agents"], ["digest"]):
        line = _one_line(_invoke(command, env, tmp_path, toml), 2)
        assert "configuration error: " in line and said in line, line


def test_a_key_pasted_as_key_env_is_refused_and_never_shown(env: dict[str, str], tmp_path: Path) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    toml = f'[agents.x]\nprovider = "openai"\nmodel = "m"\nkey_env = "{key}"\n'
    result = _invoke(["agents", "--no-check"], env, tmp_path, toml)
    line = _one_line(result, 2)
    assert "agents.x.key_env: must be the name of an environment variable" in line
    assert key not in result.output and "A1b2C3d4" not in result.output


def test_openai_compatible_without_an_endpoint_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    # Before: it quietly called api.openai.com with whatever key was set.
    line = _one_line(
        _invoke(["agents", "--no-check"], {**env, "DRAFTLOOP_AGENT": "openai-compatible:llama"}, tmp_path), 2
    )
    assert "agent 'openai-compatible:llama' (openai-compatible) has no endpoint" in line and "OPENAI_BASE_URL" in line
    toml = '[agents.local]\nprovider = "openai-compatible"\nmodel = "llama"\n'
    line = _one_line(_invoke(["digest"], env, tmp_path, toml), 2)
    assert "set base_url in [agents.local]" in line
    given = {**env, "DRAFTLOOP_AGENT": "openai-compatible:llama", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    assert _invoke(["agents", "--no-check"], given, tmp_path).exit_code == 0


def test_a_provider_that_declares_no_default_endpoint_needs_one(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.agents import register_backend, unregister_backend
    from tests.fakes.agents import EchoAgent

    register_backend("nowhere-test", EchoAgent, base_url_env="NOWHERE_TEST_URL", base_url_required=True)
    try:
        monkeypatch.delenv("NOWHERE_TEST_URL", raising=False)
        line = _one_line(_invoke(["agents", "--no-check"], {**env, "DRAFTLOOP_AGENT": "nowhere-test:m"}, tmp_path), 2)
        assert "has no endpoint of its own and none is set; set NOWHERE_TEST_URL" in line
        toml = '[agents.n]\nprovider = "nowhere-test"\nmodel = "m"\n'
        line = _one_line(_invoke(["agents", "--no-check"], env, tmp_path, toml), 2)
        assert "agents.n: agent 'n' (nowhere-test) has no endpoint" in line and "set base_url in [agents.n]" in line
        ok = {**env, "DRAFTLOOP_AGENT": "nowhere-test:m", "NOWHERE_TEST_URL": "http://127.0.0.1:9"}
        assert _invoke(["agents", "--no-check"], ok, tmp_path).exit_code == 0
        with_url = toml + 'base_url = "http://127.0.0.1:9"\n'
        assert _invoke(["agents", "--no-check"], env, tmp_path, with_url).exit_code == 0
    finally:
        unregister_backend("nowhere-test")


# -- the database URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("nonsense", "DATABASE_URL: it is not a database URL; use sqlite:///PATH.db, postgresql://"),
        ("mysql://u:pw@h/db", "DATABASE_URL: 'mysql' databases are not supported; use sqlite:///PATH.db"),
        ("sqlite:///:memory:", "DATABASE_URL: an in-memory SQLite database would lose every project at exit"),
        ("sqlite://", "an in-memory SQLite database would lose every project at exit"),
        ("postgresql://u:pw@h:99999/db", "DATABASE_URL: port 99999 is not a TCP port"),
        ("postgresql://u:pw@h:port/db", "DATABASE_URL: it is not a database URL"),
    ],
)
def test_a_database_url_draftloop_cannot_use_is_a_configuration_error(
    env: dict[str, str], tmp_path: Path, url: str, said: str
) -> None:
    # Before: 57 to 67 lines of traceback (ArgumentError, ValueError, TypeError about pool_size), exit 1.
    result = _invoke(["digest"], {**env, "DATABASE_URL": url}, tmp_path)
    line = _one_line(result, 2)
    assert said in line
    assert "pw" not in line  # the URL may hold a password: it is never repeated


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data/draftloop.db",
        "sqlite:////var/lib/draftloop.db",
        "sqlite+aiosqlite:///x.db",
        "postgresql://user:pw@db.example:5432/draftloop",
        "postgres://user:pw@db.example/draftloop?sslmode=require",
        "postgresql+asyncpg://user@localhost/draftloop",
        "postgresql:///draftloop",
    ],
)
def test_the_database_url_forms_the_readme_names_are_accepted(url: str) -> None:
    assert database_url_problem(url) is None
    assert Settings(database_url=url).database_url == url


# -- the file ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('[[digest.channels]]\nplatform = "teams"\nchannel = "x"\n', "digest.channels[0].platform: 'teams' is not an"),
        (
            '[[digest.channels]]\nplatform = "console"\nchannel = "x"\ncron = "bad"\n',
            "digest.channels[0].cron: 'bad' is not a cron expression (Wrong number of fields; got 1, expected 5); "
            'use five fields: minute hour day month weekday, like "0 9 * * mon"',
        ),
        ('[[digest.channels]]\nplatform = "console"\nchannel = "x"\ncron = "0 25 * * *"\n', "is not a cron expression"),
        ('[[digest.channels]]\nplatform = "console"\nchannel = "x"\ncron = "0 9 31 2 *"\n', "never fires"),
        (
            '[[digest.channels]]\nplatform = "console"\nchannel = "x"\ntimezone = "Mars/Olympus"\n',
            "digest.channels[0].timezone: unknown time zone 'Mars/Olympus'; use an IANA name",
        ),
        (
            '[[digest.channels]]\nplatform = "console"\nchannel = ""\n',
            "digest.channels[0].channel: must have at least 1 character (got '')",
        ),
        ('timezone = "Moon/Base"\n', "timezone: unknown time zone 'Moon/Base'"),
        ("[workflow]\nlease_seconds = -1\n", "workflow.lease_seconds: must be greater than or equal to 1 (got -1)"),
        ("[workflow]\nlease_seconds = 0\n", "workflow.lease_seconds: must be greater than or equal to 1 (got 0)"),
        (
            "[workflow]\nexpert_minutes_cap = -5\n",
            "workflow.expert_minutes_cap: must be greater than or equal to 0 (got -5)",
        ),
        ("[workflow]\nmax_reply_chars = 0\n", "workflow.max_reply_chars: must be greater than or equal to 1 (got 0)"),
        (
            "[workflow]\nmax_request_chars = 0\n",
            "workflow.max_request_chars: must be greater than or equal to 1 (got 0)",
        ),
        ("[workflow]\nnudge_after_hours = 0\n", "workflow.nudge_after_hours: must be greater than 0 (got 0)"),
        ("[workflow]\nexpire_after_days = -1\n", "workflow.expire_after_days: must be greater than 0 (got -1)"),
        (
            "[workflow]\nfeedback_debounce_seconds = -1\n",
            "workflow.feedback_debounce_seconds: must be greater than or equal to 0 (got -1)",
        ),
        ('[workflow]\naside_marker = " "\n', "workflow.aside_marker: must be visible characters, like //"),
        ('[workflow]\nlease_seconds = "soon"\n', "workflow.lease_seconds: must be a number (got 'soon')"),
        ("[workflow]\nlease_secnds = 60\n", "workflow.lease_secnds: unknown key (check its spelling"),
        ('[categories."Poetry Club"]\n', "categories: 'Poetry Club' cannot be a category name: use 2 to 40 lower-case"),
        ("[categories.x]\n", "categories: 'x' cannot be a category name"),
    ],
)
def test_the_file_is_checked_whole_at_start_up(env: dict[str, str], tmp_path: Path, toml: str, said: str) -> None:
    # Before: all of these were accepted; the worker failed later on the cron, the rest never.
    line = _one_line(_invoke(["digest"], env, tmp_path, toml), 2)
    assert line.startswith("draftloop: configuration error: ") and ".toml: " in line and said in line, line


def test_several_mistakes_in_the_file_are_named_together_on_one_line(env: dict[str, str], tmp_path: Path) -> None:
    toml = "[workflow]\nlease_seconds = -1\nexpert_minutes_cap = -5\nmax_reply_chars = 0\nmax_request_chars = 0\n"
    line = _one_line(_invoke(["agents"], env, tmp_path, toml), 2)
    assert (
        "lease_seconds: must be greater than or equal to 1 (got -1)" in line
        and "(got -5)" in line
        and "(and 1 more)" in line
    )


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"DRAFTLOOP_LOG_LEVEL": "LOUD"}, "DRAFTLOOP_LOG_LEVEL: 'LOUD' is not a log level; use one of DEBUG, INFO"),
        ({"PORT": "abc"}, "PORT: must be a whole number (got 'abc')"),
        (
            {"DRAFTLOOP_EVENT_LOOP": "fast"},
            "DRAFTLOOP_EVENT_LOOP: 'fast' is not an event loop; use one of auto, uvloop, asyncio",
        ),
        ({"PORT": "70000"}, "PORT: must be less than or equal to 65535 (got '70000')"),
    ],
)
def test_environment_mistakes_name_the_variable(
    env: dict[str, str], tmp_path: Path, variables: dict[str, str], said: str
) -> None:
    line = _one_line(_invoke(["serve"], {**env, **variables}, tmp_path), 2)
    assert said in line


def test_paths_that_cannot_be_used(env: dict[str, str], tmp_path: Path) -> None:
    # Before: a directory as DRAFTLOOP_CONFIG was an IsADirectoryError traceback.
    line = _one_line(_invoke(["digest"], {**env, "DRAFTLOOP_CONFIG": str(tmp_path)}, tmp_path), 2)
    assert f"DRAFTLOOP_CONFIG points at {tmp_path}, a directory" in line
    missing = tmp_path / "nope.toml"
    line = _one_line(_invoke(["digest"], {**env, "DRAFTLOOP_CONFIG": str(missing)}, tmp_path), 2)
    assert "which does not exist" in line
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('timezone = "Europe/Zürich"\n'.encode("latin-1"))
    line = _one_line(_invoke(["digest"], {**env, "DRAFTLOOP_CONFIG": str(latin1)}, tmp_path), 2)
    assert "is not UTF-8 text" in line
    a_file = tmp_path / "file"
    a_file.write_text("")
    line = _one_line(_invoke(["digest"], {**env, "DRAFTLOOP_DATA_DIR": str(a_file)}, tmp_path), 2)
    assert f"DRAFTLOOP_DATA_DIR: {a_file} is a file; name a directory" in line


def test_a_traceback_only_at_debug(env: dict[str, str], tmp_path: Path) -> None:
    result = _invoke(["digest"], {**env, "DRAFTLOOP_AGENT": "ghost", "DRAFTLOOP_LOG_LEVEL": "debug"}, tmp_path)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.rstrip().splitlines()[-1].startswith("draftloop: ")


# -- custom categories ---------------------------------------------------------------------------


def test_categories_named_in_the_file_are_categories() -> None:
    cfg = FileConfig.model_validate({"categories": {"poetry": {"experts": ["ed"]}, "writing": {}}})
    assert cfg.category_names[-1] == "poetry" and cfg.category_names.count("writing") == 1
    assert FileConfig().category_names[-1] == "other"


async def test_a_category_named_in_the_config_is_routed_to_and_counted(
    make_runtime: Any, settings_factory: Any
) -> None:
    # Before: `[poetry] …` was triaged by keywords (it went to `other`) and the digest never named poetry.
    rt = make_runtime(settings_factory(toml='[categories.poetry]\nexperts = ["ed"]\n'))
    await rt.workflow.handle(request_event("[poetry] a sonnet about tea"))
    async with rt.db.session() as s:
        project = (await s.execute(select(Project))).scalar_one()
    assert (project.category, project.category_reason) == ("poetry", "given")
    await rt.workflow.handle(reply_event(1, "accept"))
    now = rt.clock.now()
    report = await build_report(rt.db, Period.last_days(7, now=now, tz=rt.settings.tz), now=now)
    assert [row["name"] for row in report.to_json()["by_category"]] == ["poetry"]


# -- runtime failures, end to end ----------------------------------------------------------------


def _run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _VARIABLES and not k.startswith(("SLACK_", "DISCORD_"))}
    env.update(DRAFTLOOP_DATA_DIR=str(tmp_path / "data"), **variables)
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg(database: str) -> str:
    base = PG_BASE.rsplit("/", 1)[0]
    return f"{base}/{database}"


def test_an_unreachable_or_missing_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    # Before: 155 and 233 lines of traceback.
    down = _run(["digest"], tmp_path, DATABASE_URL=f"postgresql://draftloop:s3cret@127.0.0.1:{_free_port()}/x")
    assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr
    assert down.stderr.count("\n") == 1 and "connection refused; is the database running" in down.stderr
    assert "s3cret" not in down.stderr
    missing = _run(["db", "upgrade"], tmp_path, DATABASE_URL=_pg(f"draftloop_missing_{uuid.uuid4().hex[:6]}"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr and "create it" in missing.stderr


def test_serve_on_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = _run(
            ["serve"],
            tmp_path,
            PORT=str(port),
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="test-secret",
            SLACK_API_URL="http://127.0.0.1:9/api/",
            DRAFTLOOP_LOG_LEVEL="ERROR",
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"draftloop: cannot listen on port {port}: another process is using it" in done.stderr
    assert done.stderr.count("\n") == 1 and time.monotonic() - started < 30


def test_a_data_directory_that_cannot_be_made_is_one_line_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # Before: a NotADirectoryError traceback from the engine's set-up.
    line = _one_line(_invoke(["digest"], {**env, "DRAFTLOOP_DATA_DIR": str(blocker / "data")}, tmp_path), 1)
    assert line == f"draftloop: {blocker / 'data'}: Not a directory"


# -- [mcp] and its token (requested by h7) -------------------------------------------------------


def test_the_mcp_channel_names_an_installed_platform(env: dict[str, str], tmp_path: Path) -> None:
    line = _one_line(_invoke(["digest"], env, tmp_path, '[mcp]\nchannel = "slak:C1"\n'), 2)
    assert "mcp.channel: 'slak:C1' is not PLATFORM:CHANNEL on an installed platform (console, discord" in line
    assert FileConfig.model_validate({"mcp": {"channel": " slack:C1 "}}).mcp.channel == "slack:C1"
    assert FileConfig.model_validate({"mcp": {"channel": "console"}}).mcp.channel == "console"
    assert FileConfig().mcp.channel is None


def test_the_mcp_token_is_a_secret_masked_everywhere() -> None:
    from bot.redact import Redactor

    token = "mcp-" + "Zq9" * 12
    settings = Settings(draftloop_mcp_token=token)
    assert token not in repr(settings)
    assert token not in Redactor.from_settings(settings)(f"Authorization: Bearer {token} and {token}")


def test_the_accepted_url_forms_are_not_masked_as_a_secret(env: dict[str, str], tmp_path: Path) -> None:
    # Before: the hint's example password was masked by the redaction: "postgresql://USER:[redacted]@HOST".
    line = _one_line(_invoke(["digest"], {**env, "DATABASE_URL": "nonsense"}, tmp_path), 2)
    assert "[redacted]" not in line and "postgresql://USER@HOST:PORT/NAME" in line
