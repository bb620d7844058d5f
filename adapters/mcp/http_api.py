"""The JSON API for scripts and agents without MCP, on `draftloop serve`'s port beside /slack/events:

    POST /api/projects                   request_review   {"brief", "draft"?, "category"?, "channel"?, "requester"?}
    GET  /api/projects                   list_projects    ?state=open|all|<state>&mine=true|false
    GET  /api/projects/{n}               get_review       ?wait_seconds=0..60
    POST /api/projects/{n}/versions      submit_revision  {"draft", "notes"?}
    GET  /api/projects/{n}/transcript    the project as Markdown

Each endpoint is the MCP tool of the same name (tools.py `call`), so the two doors cannot differ. Every
request needs `Authorization: Bearer $DRAFTLOOP_MCP_TOKEN` (401 otherwise, before the body is read);
the caller is `external:<X-Draftloop-Agent>` (default `external:api`). A mistake is a 4xx with
`{"error": one sentence}`: 400 a bad argument, 403 not yours, 404 no such project, 409 already decided
(nothing stored in any of them); 500 a failure of ours, whose traceback stays in the log.

`offer` runs for `serve` (adapters/mcp/service.py, the `draftloop.services` entry point): with the token
set it hands the runtime the routes to add, and the Slack service's web app mounts them (the API starts
no server of its own: it shares the Slack app's port).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.mcp import auth
from adapters.mcp.tools import OUR_FAULT, call
from bot.errors import InvalidTransition, NotAllowed, UnknownProject, UserFacingError
from bot.loop.outside import Caller

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

_log = logging.getLogger(__name__)

BASE = "/api/projects"
AGENT_HEADER = "X-Draftloop-Agent"
DEFAULT_AGENT = "api"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def offer(runtime: Runtime) -> None:
    """Give the web process's runtime the API's routes, when DRAFTLOOP_MCP_TOKEN is set."""
    expected = auth.token(runtime.settings, required=False)
    if expected is None:
        _log.info("JSON API off: set %s to serve %s", auth.TOKEN_ENV, BASE)
        return None
    runtime.web_routes.append(lambda app: mount(app, runtime, expected))
    return None


def mount(app: web.Application, runtime: Runtime, expected: str) -> None:
    external = runtime.workflow.external

    def guarded(work: Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if not auth.authorized(request.headers.get("Authorization"), expected):
                return _json({"error": auth.REFUSED}, 401, {"WWW-Authenticate": 'Bearer realm="draftloop"'})
            caller = Caller.named(request.headers.get(AGENT_HEADER) or DEFAULT_AGENT)
            try:
                return await work(request, caller)
            except UserFacingError as exc:
                return _json({"error": exc.user_message}, _status(exc))
            except web.HTTPRequestEntityTooLarge:
                return _json({"error": "The body is too large; a draft may be at most 200,000 characters."}, 413)
            except Exception:
                _log.exception("api: %s %s failed", request.method, request.path)
                return _json({"error": OUR_FAULT}, 500)

        return handler

    async def tool(name: str, caller: Caller, args: Mapping[str, Any], status: int = 200) -> web.Response:
        return _json(await call(external, caller, name, args), status)

    async def open_project(request: web.Request, caller: Caller) -> web.StreamResponse:
        return await tool("request_review", caller, await _body(request), 201)

    async def list_projects(request: web.Request, caller: Caller) -> web.StreamResponse:
        return await tool("list_projects", caller, dict(request.query))

    async def review(request: web.Request, caller: Caller) -> web.StreamResponse:
        return await tool("get_review", caller, {**request.query, "number": request.match_info["n"]})

    async def revise(request: web.Request, caller: Caller) -> web.StreamResponse:
        body = await _body(request)
        if "number" in body:
            body.pop("number")  # the path names the project
        return await tool("submit_revision", caller, {**body, "number": request.match_info["n"]}, 201)

    async def transcript(request: web.Request, caller: Caller) -> web.StreamResponse:
        number = request.match_info["n"]
        if not number.isdigit():
            return _json({"error": f"{number!r} is not a project number, like 12."}, 400)
        text = await external.transcript(caller, int(number))
        return web.Response(text=text, content_type="text/markdown")

    app.router.add_post(BASE, guarded(open_project))
    app.router.add_get(BASE, guarded(list_projects))
    app.router.add_get(BASE + "/{n}", guarded(review))
    app.router.add_post(BASE + "/{n}/versions", guarded(revise))
    app.router.add_get(BASE + "/{n}/transcript", guarded(transcript))


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise _NotAnObject('The body must be a JSON object, like {"brief": "…", "draft": "…"}.')
    return body


class _NotAnObject(UserFacingError):
    pass


def _status(exc: UserFacingError) -> int:
    if isinstance(exc, UnknownProject):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, InvalidTransition):
        return 409
    return 400


def _json(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(value, ensure_ascii=False), status=status, content_type="application/json", headers=headers
    )
