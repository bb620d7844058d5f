"""The four tools, as both front doors offer them: a JSON schema and a one-line description each, and
`call`, which reads the arguments and runs the core's operation (bot/loop/external.py).

The MCP server (server.py) lists these schemas and answers `tools/call` through `call`; the JSON API
(http_api.py) maps its endpoints onto the same `call`, so the two never differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.mcp import arguments as arg
from bot.loop.external import External
from bot.loop.outside import MAX_DRAFT_CHARS, MAX_REQUESTER_CHARS, MAX_WAIT_SECONDS, Caller
from bot.settings import Settings
from bot.states import State


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    schema: dict[str, Any]
    read_only: bool


def specs(settings: Settings) -> list[ToolSpec]:
    """The tools with their schemas; limits and category names from this configuration."""
    cfg = settings.file
    number = {"type": "integer", "minimum": 1, "description": "The project's number (#12 is 12)."}
    states = ["open", "all", *(s.value for s in State)]
    return [
        ToolSpec(
            "request_review",
            "Ask the team's experts for a review",
            "Put work in front of the team's experts: opens a numbered project in their chat with your draft "
            "as v1 (or drafted by draftloop's agent when you send none) and returns at once; poll get_review "
            "for their feedback and decision.",
            _object(
                {
                    "brief": {
                        "type": "string",
                        "maxLength": cfg.workflow.max_request_chars,
                        "description": "What the work is for and what a good result looks like.",
                    },
                    "draft": {
                        "type": "string",
                        "maxLength": MAX_DRAFT_CHARS,
                        "description": "Your own draft: it becomes v1 and no model is asked. Leave it out to "
                        "have draftloop's agent write v1.",
                    },
                    "category": {
                        "type": "string",
                        "enum": list(cfg.category_names),
                        "description": "The kind of work, which decides the experts; guessed from the brief "
                        "when left out.",
                    },
                    "channel": {
                        "type": "string",
                        "description": "Where the project appears: slack:C0123, discord:<channel id> or console; "
                        "the configured channel when left out.",
                    },
                    "requester": {
                        "type": "string",
                        "maxLength": MAX_REQUESTER_CHARS,
                        "description": "The person you work for (their chat user id; a name on the console): "
                        "they may accept or reject too.",
                    },
                },
                required=["brief"],
            ),
            read_only=False,
        ),
        ToolSpec(
            "get_review",
            "Read a project's review",
            "Read a project you opened: its state, current version, the experts' feedback no version has "
            "answered yet (author, text, stated minutes) and the decision; wait_seconds waits for a change.",
            _object(
                {
                    "number": number,
                    "wait_seconds": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": MAX_WAIT_SECONDS,
                        "description": "Wait up to this long (at most 60 s) for something to change; returns at "
                        "once when feedback waits for you or the project is decided.",
                    },
                },
                required=["number"],
            ),
            read_only=True,
        ),
        ToolSpec(
            "submit_revision",
            "Send your next version",
            "Send the next version of a project you opened with your own draft: it is stored, posted in the "
            "thread and answers the feedback pending until now.",
            _object(
                {
                    "number": number,
                    "draft": {"type": "string", "maxLength": MAX_DRAFT_CHARS, "description": "The whole new version."},
                    "notes": {
                        "type": "string",
                        "maxLength": cfg.workflow.max_reply_chars,
                        "description": "What changed and why, shown in the thread above the version.",
                    },
                },
                required=["number", "draft"],
            ),
            read_only=False,
        ),
        ToolSpec(
            "list_projects",
            "List your projects",
            "List the projects you opened, newest first: open ones unless state says otherwise.",
            _object(
                {
                    "state": {"type": "string", "enum": states, "description": "open (default), all, or one state."},
                    "mine": {
                        "type": "boolean",
                        "description": "false: every outside agent's projects, not only yours (default true).",
                    },
                },
                required=[],
            ),
            read_only=True,
        ),
    ]


def _object(properties: dict[str, Any], *, required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


OUR_FAULT = "Something went wrong on draftloop's side; the call may not have been stored. Try again in a moment."
TOOL_NAMES = ("request_review", "get_review", "submit_revision", "list_projects")
_ARGS = {
    "request_review": ("brief", "draft", "category", "channel", "requester"),
    "get_review": ("number", "wait_seconds"),
    "submit_revision": ("number", "draft", "notes"),
    "list_projects": ("state", "mine"),
}


async def call(external: External, caller: Caller, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Run tool `name` for `caller`; a UserFacingError (one sentence) for any mistake, nothing stored then."""
    if name not in _ARGS:
        raise arg.BadArgument(f"There is no tool {name!r}; use one of {', '.join(TOOL_NAMES)}.")
    arg.only(name, args, _ARGS[name])
    if name == "request_review":
        opened = await external.open(
            caller,
            brief=arg.text(args, "brief", required=True, what="what the work is for") or "",
            draft=arg.text(args, "draft"),
            category=arg.text(args, "category"),
            channel=arg.text(args, "channel"),
            requester=arg.text(args, "requester"),
        )
        return opened.to_json()
    if name == "get_review":
        number = arg.number(args)
        wait = arg.seconds(args, "wait_seconds", most=MAX_WAIT_SECONDS)
        return (await external.review(caller, number, wait_seconds=wait)).to_json()
    if name == "submit_revision":
        number = arg.number(args)
        draft = arg.text(args, "draft", required=True, what="the whole new version") or ""
        revised = await external.revise(caller, number, draft=draft, notes=arg.text(args, "notes"))
        return revised.to_json()
    projects = await external.projects(caller, state=arg.text(args, "state"), mine=arg.flag(args, "mine", default=True))
    return {"projects": projects}
