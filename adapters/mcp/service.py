"""The `draftloop.services` entry point of the outside front doors: for `serve` (role "web") the JSON
API's routes go on the web app (adapters/mcp/http_api.py); no other role starts anything here. The
MCP server is its own command (`draftloop mcp`, run.py). Light on purpose: every process loads the
entry points, and only `serve` imports the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app.runtime import Runtime


def create(runtime: Runtime, role: str) -> None:
    if role != "web":
        return None
    from adapters.mcp.http_api import offer

    offer(runtime)
    return None
