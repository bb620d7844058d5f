"""`draftloop mcp` as a client starts it, driven by the SDK's own client: over stdio (a subprocess with
the console as its platform, an expert answering from another process on the same database) and over
streamable HTTP behind the bearer token. Each starts a real process (about a second): the transports
are what these tests are for; the tools' behaviour is tested in-process (test_mcp_server.py)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bot.app.runtime import Runtime
from bot.settings import Settings
from tests.conftest import reply_event
from tests.fakes.recording_chat import RecordingChat
from tests.mcp.conftest import CONFIG, EXPERT, TOKEN

EXE = str(Path(sys.executable).parent / "draftloop")
INFO = types.Implementation(name="Claude Code", version="2.1")


@pytest.fixture
def env(tmp_path: Path, sqlite_template: Path) -> dict[str, str]:
    shutil.copy(sqlite_template, tmp_path / "draftloop.db")  # migrated already: the process starts sooner
    (tmp_path / "draftloop.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DRAFTLOOP_"))}
    env.pop("DATABASE_URL", None)
    return env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'draftloop.db'}",
        "DRAFTLOOP_DATA_DIR": str(tmp_path),
        "DRAFTLOOP_CONFIG": str(tmp_path / "draftloop.toml"),
        "DRAFTLOOP_AGENT": "offline",
        "DRAFTLOOP_MCP_TOKEN": TOKEN,
    }


@pytest.fixture
async def expert_side(env: dict[str, str]) -> AsyncIterator[Runtime]:
    """Another process on the same database: where the expert's reply arrives (a chat service's)."""
    settings = Settings(
        database_url=env["DATABASE_URL"],
        draftloop_data_dir=Path(env["DRAFTLOOP_DATA_DIR"]),
        draftloop_config=Path(env["DRAFTLOOP_CONFIG"]),
        draftloop_agent="offline",
    )
    runtime = await Runtime.create(settings, migrate=False)
    runtime.register_platform(RecordingChat())
    try:
        yield runtime
    finally:
        await runtime.close()


def _json(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_over_stdio_a_full_exchange_with_an_expert_in_the_thread(
    env: dict[str, str], expert_side: Runtime
) -> None:
    params = StdioServerParameters(command=EXE, args=["mcp"], env=env)
    async with Client(params, client_info=INFO) as client:
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == ["request_review", "get_review", "submit_revision", "list_projects"]
        assert all(t.input_schema["type"] == "object" and t.description for t in tools)
        opened = _json(await client.call_tool("request_review", {"brief": "[writing] notes for 2.0", "draft": "v1"}))
        number = opened["number"]
        assert opened["agent"] == "external:claude-code" and opened["state"] == "in_review"
        assert opened["thread"] == {"platform": "console", "channel": "console", "thread": str(number)}

        # The agent waits; the expert answers in the thread from another process.
        waiting = asyncio.create_task(client.call_tool("get_review", {"number": number, "wait_seconds": 20}))
        await asyncio.sleep(0.6)
        assert not waiting.done()
        await expert_side.workflow.handle(reply_event(number, "Say what breaks. 15m", who=EXPERT))
        stored = time.monotonic()
        review = _json(await asyncio.wait_for(waiting, 10))
        assert time.monotonic() - stored < 0.5
        assert review["waiting_for"] == "you" and review["state"] == "revising"
        assert [(p["author"], p["text"], p["stated_minutes"]) for p in review["feedback"]] == [
            (EXPERT, "Say what breaks. 15m", 15)
        ]

        revised = _json(await client.call_tool("submit_revision", {"number": number, "draft": "v2", "notes": "done"}))
        assert revised["version"] == 2 and revised["answered"] == 1 and revised["state"] == "in_review"
        await expert_side.workflow.handle(reply_event(number, "accept", who=EXPERT))
        final = _json(await client.call_tool("get_review", {"number": number, "wait_seconds": 5}))
        assert final["state"] == "accepted" and final["decision"]["by"] == EXPERT
        transcript = (await client.read_resource(f"draftloop://projects/{number}")).contents[0]
        assert isinstance(transcript, types.TextResourceContents) and "- erin (expert, 15 min)" in transcript.text


class Served:
    """A `draftloop mcp --http` process and what it printed on stderr."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                found = re.search(r"listening on (http://\S+)", line)
                if found:
                    self.url = found.group(1)
                    return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no listening line: " + "".join(self.lines))


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[Served]:
    proc = subprocess.Popen([EXE, "mcp", "--http", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    server = Served(proc)
    try:
        server.wait_url()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_over_http_the_token_is_required_and_two_clients_revise_in_turn(served: Served) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx2.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
            response = await http.post(served.url, json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "DRAFTLOOP_MCP_TOKEN" in response.json()["error"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # Behind a reverse proxy that forwards its own host name: served (the token guards, not the Host).
    initialize = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}}
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            served.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize},
            headers={**headers, "Host": "draftloop.example.com", "Accept": "application/json, text/event-stream"},
        )
        assert response.status_code == 200, response.text
    async with (
        httpx2.AsyncClient(headers=headers) as http_a,
        httpx2.AsyncClient(headers=headers) as http_b,
        Client(streamable_http_client(served.url, http_client=http_a), client_info=INFO) as first,
        Client(streamable_http_client(served.url, http_client=http_b), client_info=INFO) as second,
    ):
        assert [t.name for t in (await first.list_tools()).tools][0] == "request_review"
        number = _json(await first.call_tool("request_review", {"brief": "a plan", "draft": "v1"}))["number"]
        results = await asyncio.gather(
            *(
                c.call_tool("submit_revision", {"number": number, "draft": f"take {i}"})
                for i, c in enumerate([first, second] * 3)
            )
        )
        assert sorted(_json(r)["version"] for r in results) == [2, 3, 4, 5, 6, 7]
        listed = _json(await second.call_tool("list_projects", {}))["projects"]
        assert [(p["number"], p["version"]) for p in listed] == [(number, 7)]
    served.proc.terminate()
    assert served.proc.wait(10) == 0  # SIGTERM: a clean stop, like serve and worker


@pytest.mark.parametrize(("token", "said"), [("", "set DRAFTLOOP_MCP_TOKEN"), ("short", "has 5 characters")])
def test_http_without_a_usable_token_does_not_start(env: dict[str, str], token: str, said: str) -> None:
    done = subprocess.run(
        [EXE, "mcp", "--http"], env={**env, "DRAFTLOOP_MCP_TOKEN": token}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("draftloop: configuration error: ") and said in line and "short" not in line
