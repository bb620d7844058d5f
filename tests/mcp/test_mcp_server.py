"""The MCP server (adapters/mcp/server.py) through the SDK's own client, in-process, on SQLite and
PostgreSQL: schemas, one-sentence tool errors for malformed or oversized arguments (nothing stored),
the transcript resource. The same server over stdio and HTTP: test_mcp_processes.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from sqlalchemy import func, select

from adapters.mcp.server import build_server
from bot.app.runtime import Runtime
from storage.models import Project, Version
from tests.conftest import reply_event
from tests.mcp.conftest import EXPERT, chat

ONLY_OWN = "an agent reads and revises only its own projects."


def _client(runtime: Runtime, name: str = "Claude Code") -> Client:
    return Client(build_server(runtime), client_info=types.Implementation(name=name, version="1.0"))


async def _rows(runtime: Runtime) -> tuple[int, int]:
    async with runtime.db.session() as session:
        projects = (await session.execute(select(func.count()).select_from(Project))).scalar_one()
        versions = (await session.execute(select(func.count()).select_from(Version))).scalar_one()
    return int(projects), int(versions)


async def _ok(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    block = result.content[0]
    assert isinstance(block, types.TextContent) and json.loads(block.text) == result.structured_content
    return result.structured_content


async def _error(client: Client, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error and result.structured_content is None
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_the_tools_are_listed_with_their_schemas(runtime: Runtime) -> None:
    async with _client(runtime) as agent:
        tools = {t.name: t for t in (await agent.list_tools()).tools}
        assert list(tools) == ["request_review", "get_review", "submit_revision", "list_projects"]
        for tool in tools.values():
            schema = tool.input_schema
            assert schema["type"] == "object" and schema["additionalProperties"] is False
            assert set(schema["required"]) <= set(schema["properties"])
            assert tool.description and "\n" not in tool.description
        assert tools["request_review"].input_schema["required"] == ["brief"]
        assert "writing" in tools["request_review"].input_schema["properties"]["category"]["enum"]
        assert tools["get_review"].input_schema["properties"]["wait_seconds"]["maximum"] == 60
        assert tools["submit_revision"].input_schema["required"] == ["number", "draft"]
        assert tools["get_review"].annotations is not None and tools["get_review"].annotations.read_only_hint


@pytest.mark.parametrize(
    ("name", "args", "said"),
    [
        ("request_review", {}, "'brief' is required: what the work is for."),
        ("request_review", {"brief": 12}, "'brief' must be text (a JSON string), not a number."),
        ("request_review", {"brief": "x", "draft": ["a"]}, "'draft' must be text (a JSON string), not a list."),
        ("request_review", {"brief": "x", "drafts": "a"}, "request_review has no argument 'drafts'; it takes brief,"),
        (
            "request_review",
            {"brief": "x" * 20_001, "draft": "d"},
            "The brief is 20,001 characters; the limit is 20,000.",
        ),
        ("request_review", {"brief": "x", "draft": "d" * 200_001}, "The draft is 200,001 characters; the limit is"),
        ("get_review", {"number": "twelve"}, "'number' must be a project number, like 12."),
        ("get_review", {"number": 0}, "'number' must be a project number, like 12."),
        ("get_review", {"number": 1, "wait_seconds": -1}, "'wait_seconds' must be a number of seconds from 0 to 60."),
        ("get_review", {"number": 99}, "There is no project #99."),
        ("submit_revision", {"number": 1}, "'draft' is required: the whole new version."),
        ("list_projects", {"mine": "perhaps"}, "'mine' must be true or false."),
        ("delete_everything", {}, "There is no tool 'delete_everything'"),
    ],
)
async def test_a_malformed_or_oversized_argument_is_one_sentence_and_stores_nothing(
    runtime: Runtime, name: str, args: dict[str, Any], said: str
) -> None:
    async with _client(runtime) as agent:
        text = await _error(agent, name, args)
        assert text.startswith(said) and "\n" not in text and "validation error" not in text
        assert await _rows(runtime) == (0, 0) and chat(runtime).sent == []


async def test_a_full_exchange_through_the_client(runtime: Runtime) -> None:
    async with _client(runtime) as agent:
        opened = await _ok(agent, "request_review", {"brief": "[writing] release notes", "draft": "v1 text"})
        number = opened["number"]
        assert opened["agent"] == "external:claude-code" and opened["asked"] == [EXPERT]
        await runtime.workflow.handle(reply_event(number, "Name the date. 5m", who=EXPERT))
        review = await _ok(agent, "get_review", {"number": number, "wait_seconds": 30})  # at once: it is our move
        assert review["waiting_for"] == "you" and [p["text"] for p in review["feedback"]] == ["Name the date. 5m"]
        revised = await _ok(agent, "submit_revision", {"number": number, "draft": "v2 text", "notes": "dated"})
        assert revised["version"] == 2 and revised["answered"] == 1
        await runtime.workflow.handle(reply_event(number, "accept", who=EXPERT))
        done = await _ok(agent, "get_review", {"number": number})
        assert done["state"] == "accepted" and done["decision"]["by"] == EXPERT
        listed = await _ok(agent, "list_projects", {"state": "all"})
        assert [p["number"] for p in listed["projects"]] == [number]
        resources = await agent.list_resources()
        assert resources.resources == []  # open projects only, and this one is decided
        read = await agent.read_resource(f"draftloop://projects/{number}")
        [content] = read.contents
        assert isinstance(content, types.TextResourceContents) and content.mime_type == "text/markdown"
        assert content.text.startswith(f"# Project #{number} · writing · accepted") and "v2 text" in content.text
        with pytest.raises(MCPError, match="not a project"):
            await agent.read_resource("draftloop://projects/nine")


async def test_another_agent_cannot_read_or_revise_it(runtime: Runtime) -> None:
    async with _client(runtime) as agent:
        number = (await _ok(agent, "request_review", {"brief": "a plan", "draft": "plan"}))["number"]
        async with _client(runtime, "cursor") as other:
            said = await _error(other, "submit_revision", {"number": number, "draft": "mine now"})
            assert said == f"Project #{number} was not opened by external:cursor; {ONLY_OWN}"
            with pytest.raises(MCPError, match="was not opened by external:cursor"):
                await other.read_resource(f"draftloop://projects/{number}")
        assert await _rows(runtime) == (1, 1)


async def test_two_clients_revising_one_project_take_turns(runtime: Runtime) -> None:
    async with _client(runtime) as agent:
        number = (await _ok(agent, "request_review", {"brief": "a plan", "draft": "plan"}))["number"]
        async with _client(runtime) as second:  # the same agent in a second session
            results = await asyncio.gather(
                *(
                    client.call_tool("submit_revision", {"number": number, "draft": f"take {i}"})
                    for i, client in enumerate([agent, second, agent, second])
                )
            )
        assert sorted((r.structured_content or {})["version"] for r in results) == [2, 3, 4, 5]
        assert await _rows(runtime) == (1, 5)
