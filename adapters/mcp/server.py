"""The MCP server: the four tools (tools.py) and each project's transcript as a resource, on the
official SDK's low-level `Server`, so every schema is written out and every mistake is answered with
one sentence (the SDK's high-level validation answers with a multi-line report quoting the value).

The caller is the MCP client as it names itself in its client info: `external:<name>`. A tool's
result is a JSON object, as structured content and as the text block beside it; a mistake is a tool
error (`isError`) whose text is one sentence; a failure of ours says so without a traceback (that goes
to the log, without the arguments).
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from adapters.mcp.tools import OUR_FAULT, call, specs
from bot.errors import UserFacingError
from bot.loop.external import External
from bot.loop.outside import Caller

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

_log = logging.getLogger(__name__)

PROJECT_URI = "draftloop://projects/{number}"
_URI_PREFIX = "draftloop://projects/"
INSTRUCTIONS = (
    "draftloop puts your work in front of a team's human experts. request_review with your draft opens a "
    "project in their chat and returns its number at once; keep working, and call get_review (with "
    "wait_seconds to wait cheaply) until feedback waits for you (waiting_for = you), then submit_revision. "
    "Only the experts accept or reject."
)


def client_name(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The name the MCP client gave in its client info, if it gave one."""
    params = ctx.session.client_params
    return params.client_info.name if params is not None and params.client_info is not None else None


def _result(value: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False))],
        structured_content=value,
    )


def _error(sentence: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=sentence)], is_error=True)


def build_server(runtime: Runtime, *, default_client: str | None = None) -> Server[Any]:
    """The MCP server over this runtime's core. `default_client` names a caller that gives no name."""
    external: External = runtime.workflow.external
    tools = specs(runtime.settings)

    def caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
        return Caller.named(client_name(ctx) or default_client)

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=spec.name,
                    title=spec.title,
                    description=spec.description,
                    input_schema=spec.schema,
                    annotations=types.ToolAnnotations(
                        title=spec.title,
                        read_only_hint=spec.read_only,
                        destructive_hint=False,
                        idempotent_hint=spec.read_only,
                        open_world_hint=True,
                    ),
                )
                for spec in tools
            ]
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            return _result(await call(external, caller(ctx), params.name, params.arguments or {}))
        except UserFacingError as exc:
            return _error(exc.user_message)
        except Exception:
            # The arguments are the caller's work: never in the log.
            _log.exception("mcp: tool %s failed", params.name)
            return _error(OUR_FAULT)

    async def list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        found = await external.projects(caller(ctx))
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    name=f"project-{p['number']}",
                    title=f"#{p['number']} · {p['state']} · {p['brief'][:60]}",
                    uri=f"{_URI_PREFIX}{p['number']}",
                    description="The project's transcript: brief, versions, feedback, decision.",
                    mime_type="text/markdown",
                )
                for p in found
            ]
        )

    async def list_templates(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    name="project",
                    title="A project's transcript",
                    uri_template=PROJECT_URI,
                    description="One of your projects as Markdown: brief, every version, the feedback, the decision.",
                    mime_type="text/markdown",
                )
            ]
        )

    async def read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        tail = uri.removeprefix(_URI_PREFIX)
        if tail == uri or not tail.isdigit() or int(tail) < 1:
            raise MCPError(types.INVALID_PARAMS, f"{uri} is not a project; use {PROJECT_URI} with a number.")
        try:
            text = await external.transcript(caller(ctx), int(tail))
        except UserFacingError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.user_message) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown", text=text)]
        )

    return Server(
        "draftloop",
        version=_version(),
        title="draftloop: expert review for agents' work",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


def _version() -> str:
    try:
        return metadata.version("draftloop")
    except metadata.PackageNotFoundError:
        return "0"
