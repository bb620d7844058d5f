"""What the Slack benchmarks share: the environment a draftloop process runs in against the fakes,
and waiting for a served process to answer /healthz."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import aiohttp

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], name: str, session: aiohttp.ClientSession) -> None:
    """Poll `GET /healthz` for up to 30 s; fail at once when the process has exited."""
    for _ in range(300):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready")


def clean_env() -> dict[str, str]:
    """This process's environment without draftloop's, Slack's or a database's settings, or a proxy
    (the fakes are on 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DRAFTLOOP_", "DATABASE_"))}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(proxy, None)
    return env


def draftloop_env(*, workdir: Path, database_url: str, llm: FakeLLMServer, fake: FakeSlackAPI) -> dict[str, str]:
    """draftloop with its defaults against the fakes: one openai-compatible agent on the fake model
    server (no SDK retries: the pool's are the only ones), the fake Slack's token and URL."""
    config = workdir / "bench.toml"
    config.write_text(
        '[agents.bench]\nprovider = "openai-compatible"\nmodel = "bench-model"\n'
        f'base_url = "{llm.openai_base_url}"\nkey_env = "OPENAI_API_KEY"\nmax_retries = 0\n'
    )
    return clean_env() | {
        "DATABASE_URL": database_url,
        "DRAFTLOOP_DATA_DIR": str(workdir),
        "DRAFTLOOP_CONFIG": str(config),
        "DRAFTLOOP_AGENT": "bench",
        "DRAFTLOOP_LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "bench",
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_API_URL": fake.api_url,
    }
