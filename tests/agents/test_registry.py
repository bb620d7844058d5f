"""Providers: the built-ins registered in code, third parties by `register_backend` or the
`draftloop.agents` entry point. The core learns a provider's key variable and endpoint from the
backend, never by the provider's name."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

import adapters.agents
from adapters.agents.base import ProviderBackend
from bot import agent_registry
from bot.agent_spec import AgentSpec, installed_providers
from bot.agents import AgentFacts, AgentPool, load_factory, register_backend, unregister_backend
from bot.errors import ConfigError
from bot.settings import Settings
from tests.agents.conftest import request
from tests.fakes.agents import EchoAgent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def echo_provider() -> Iterator[str]:
    register_backend("echo-test", EchoAgent, key_env="ECHO_TEST_KEY")
    yield "echo-test"
    unregister_backend("echo-test")


def test_builtins_are_registered_in_code_and_declare_what_their_classes_declare() -> None:
    known = agent_registry.providers()
    for declared in adapters.agents.BUILTINS:
        assert known[declared.name] is declared, "the table in code, not the install metadata, names them"
        backend_class = load_factory(declared.name)
        assert isinstance(backend_class, type) and issubclass(backend_class, ProviderBackend)
        assert backend_class.key_env == declared.key_env
    assert {"offline", "openai", "openai-compatible", "anthropic"} <= installed_providers()


async def test_a_registered_provider_is_valid_in_the_config_drafts_and_describes_itself(
    echo_provider: str, settings_factory: Callable[..., Settings]
) -> None:
    toml = f'[agents.echo]\nprovider = "{echo_provider}"\nmodel = "e1"\nkey_env = "ECHO_AGENT_KEY"\n'
    pool = AgentPool(settings_factory(toml, draftloop_agent="echo"))
    result, spec = await pool.draft(agents=["echo"], request=request("hello from the brief"))
    assert result.text == "hello from the brief" and spec.provider == "echo-test"
    assert pool.spec("echo-test:e2").provider == "echo-test"  # DRAFTLOOP_AGENT=NAME:MODEL works at once
    (line,) = await pool.check()
    # EchoAgent says nothing of itself: the config's endpoint and key variable are shown, nobody's default.
    assert line.facts == AgentFacts("echo-test default", "ECHO_AGENT_KEY", False) and line.ok
    await pool.aclose()


def test_unregistering_forgets_the_provider() -> None:
    register_backend("echo-test", EchoAgent)
    assert AgentSpec(provider="echo-test", model="m").provider == "echo-test"
    unregister_backend("echo-test")
    with pytest.raises(ValidationError, match="unknown provider 'echo-test'"):
        AgentSpec(provider="echo-test", model="m")


async def test_a_registration_replaces_a_builtin_until_it_is_undone(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    register_backend("offline", EchoAgent)
    try:
        replaced, _ = await AgentPool(settings).draft(agents=["offline"], request=request("echo me"))
    finally:
        unregister_backend("offline")
    builtin, _ = await AgentPool(settings).draft(agents=["offline"], request=request("echo me"))
    assert replaced.text == "echo me"
    assert builtin.text != "echo me" and "Offline draft" in builtin.text


async def test_use_gives_one_agent_a_backend_and_the_pool_closes_it(settings_factory: Callable[..., Settings]) -> None:
    pool = AgentPool(settings_factory())
    echo = EchoAgent(AgentSpec(name="offline"), pool.settings)
    pool.use("offline", echo)
    result, _ = await pool.draft(agents=["offline"], request=request("from the given backend"))
    await pool.aclose()
    assert result.text == "from the given backend" and echo.closed


async def test_a_provider_that_cannot_be_imported_is_a_config_error_not_a_crash(
    settings_factory: Callable[..., Settings],
) -> None:
    register_backend("broken-test", "tests.agents.no_such_module:Agent")
    try:
        pool = AgentPool(settings_factory(draftloop_agent="broken-test:m"))
        with pytest.raises(ConfigError, match="'broken-test' cannot be loaded"):
            await pool.draft(agents=["broken-test:m"], request=request())
        (line,) = await pool.check()
        assert "cannot be loaded" in line.status and line.facts is None and not line.ok
        assert "OPENAI_API_KEY" in agent_registry.declared_key_envs()  # the others are still masked
    finally:
        unregister_backend("broken-test")


# -- a third-party package, installed as an entry point (a dist-info on sys.path, in a subprocess) ------

PLUG_IMPL = """
from adapters.agents.base import ProviderBackend
from bot.ports import DraftResult


class PlugAgent(ProviderBackend):
    key_env = "PLUG_TEST_KEY"
    base_url_env = "PLUG_TEST_URL"
    default_endpoint = "https://plug.example/v1"
    title = "Plug"

    async def _stream(self, request):
        yield "plugged"
        yield DraftResult(text="plugged", model=self.model)
"""
PLUG_LIGHT = """
from bot.agent_registry import Provider

PROVIDER = Provider("plug-light", "plug_light_impl:LightAgent", key_env="PLUG_LIGHT_KEY")
"""
ENTRY_POINTS = """
[draftloop.agents]
plug-test = plug_test_impl:PlugAgent
plug-light = plug_light_decl:PROVIDER
"""
CHECK_SCRIPT = """
import os, sys
from bot.agent_spec import AgentSpec, installed_providers
from bot.redact import Redactor
assert {"plug-test", "plug-light"} <= installed_providers(), installed_providers()
AgentSpec(provider="plug-light", model="x")
masked = Redactor.from_environ()(os.environ["PLUG_TEST_KEY"] + " " + os.environ["PLUG_LIGHT_KEY"])
print(masked, "plug_light_impl" in sys.modules)
"""
PLUG_CONFIG = '[agents.plug]\nprovider = "plug-test"\nmodel = "p1"\n'


def _plugin(folder: Path) -> dict[str, str]:
    (folder / "plug_test_impl.py").write_text(PLUG_IMPL, encoding="utf-8")
    (folder / "plug_light_decl.py").write_text(PLUG_LIGHT, encoding="utf-8")
    (folder / "plug_light_impl.py").write_text("raise RuntimeError('imported')\n", encoding="utf-8")
    info = folder / "plug_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plug-test\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS), encoding="utf-8")
    (folder / "draftloop.toml").write_text(PLUG_CONFIG, encoding="utf-8")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
        "PLUG_TEST_KEY": "plug-secret-0123456789",
        "PLUG_LIGHT_KEY": "light-secret-0123456789",
        "OPENAI_BASE_URL": "http://openai.invalid/v1",  # nothing of OpenAI's may show for a new provider
        "DRAFTLOOP_CONFIG": str(folder / "draftloop.toml"),
        "DRAFTLOOP_AGENT": "plug",
        "DRAFTLOOP_DATA_DIR": str(folder / "data"),
    }


async def _python(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_an_entry_point_provider_is_known_masked_and_described_by_itself(tmp_path: Path) -> None:
    env = _plugin(tmp_path)
    code, out, err = await _python(env, "-c", CHECK_SCRIPT)
    assert code == 0, err
    # Both keys masked before anything drafts; the light declaration kept its module unimported.
    assert out.strip() == "[redacted] [redacted] False"

    code, out, err = await _python(env, "-m", "bot.app.cli", "agents")
    assert code == 0, err
    (line,) = out.splitlines()
    assert line.startswith("* plug: plug-test p1 at https://plug.example/v1 · key PLUG_TEST_KEY: set")
    assert line.endswith("· ok") and "openai" not in line
