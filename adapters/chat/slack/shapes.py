"""What a signed Slack request may look like: parse the verified bytes, then check the shape per kind.

Runs only after the signature check (adapters/chat/slack/http.py), so everything here comes from
Slack or from someone holding the signing secret. The checks cover the fields that bolt's
middleware and draftloop's listeners read before or right after the ack (a wrong type there is a
500 or a traceback); unknown fields are let through, since Slack adds fields over time.

A refusal says which of *our* schema paths failed (`event.channel: expected a string`), never a
value from the payload, so it can be logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from adapters.chat.slack.json_shapes import (
    DICT,
    INT,
    OPT_INT,
    OPT_STR,
    STR,
    Check,
    Malformed,
    either,
    is_,
    list_of,
    null,
    obj,
    ref,
    values_of,
)

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
MAX_FORM_FIELDS = 64


@dataclass(frozen=True)
class Parsed:
    kind: str  # "events", "command", "interactive" or "ssl_check"
    body: dict[str, Any]
    text: str  # the raw body, decoded


# ---------------------------------------------------------------------- fields bolt reads everywhere

# bolt builds its context from these fields at several levels (top, event, message, item,
# authorizations[0], …) before any listener runs; a wrong type there raises inside bolt.
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")


def context_fields(value: Any, path: str, depth: int = 0) -> None:
    DICT(value, path)
    checks: dict[str, Check] = {
        "enterprise": ref({"id": OPT_STR}),
        "team": ref({"id": OPT_STR, "enterprise_id": OPT_STR}),
        "user": ref({"id": STR, "team_id": OPT_STR}),
        "channel": ref({"id": STR}),
        "view": DICT,
        "team_id": OPT_STR,
        "user_id": OPT_STR,
        "channel_id": OPT_STR,
        "enterprise_id": OPT_STR,
        "thread_ts": OPT_STR,
        "is_ext_shared_channel": is_(bool, "a boolean or null", nullable=True),
        "function_data": DICT,
        "response_urls": list_of(obj(optional={"response_url": STR})),
        "actions": list_of(DICT),
    }
    obj(optional=checks)(value, path)
    if depth >= 3:
        return
    for key in _NESTED:
        if key in value:
            context_fields(value[key], f"{path}.{key}", depth + 1)
    auths = value.get("authorizations")
    if auths is not None:
        list_of(DICT)(auths, f"{path}.authorizations")
        for i, auth in enumerate(auths[:1]):
            context_fields(auth, f"{path}.authorizations[{i}]", depth + 1)


# ---------------------------------------------------------------------- Events API

FILE = obj(
    optional={
        "name": OPT_STR,
        "title": OPT_STR,
        "size": OPT_INT,
        "mimetype": OPT_STR,
        "filetype": OPT_STR,
        "url_private": OPT_STR,
        "url_private_download": OPT_STR,
    }
)
_MESSAGE_FIELDS: dict[str, Check] = {
    "user": STR,
    "text": OPT_STR,
    "thread_ts": OPT_STR,
    "subtype": OPT_STR,
    "channel_type": OPT_STR,
    "bot_id": OPT_STR,
    "files": list_of(FILE),
}
INNER_EVENTS: dict[str, Check] = {
    "app_mention": obj({"channel": STR, "ts": STR}, _MESSAGE_FIELDS),
    "message": obj({"channel": STR, "ts": STR}, {**_MESSAGE_FIELDS, "message": DICT, "previous_message": DICT}),
    "reaction_added": obj(
        {"user": STR, "reaction": STR, "item": obj({"type": STR}, {"channel": STR, "ts": STR})},
        {"item_user": OPT_STR},
    ),
}


def _event_callback(body: dict[str, Any]) -> None:
    obj(
        {"event": obj({"type": STR})},
        {"event_id": STR, "api_app_id": STR, "event_time": INT},
    )(body, "body")
    event = body["event"]
    INNER_EVENTS.get(event["type"], DICT)(event, "event")  # type is a str: checked above
    item = event.get("item")
    if event["type"] == "reaction_added" and item["type"] == "message":
        obj({"channel": STR, "ts": STR})(item, "event.item")


EVENT_KINDS: dict[str, Callable[[dict[str, Any]], None]] = {
    "event_callback": _event_callback,
    "url_verification": lambda body: obj({"challenge": STR})(body, "body"),
    "app_rate_limited": lambda body: obj(optional={"minute_rate_limited": INT})(body, "body"),
}


# ---------------------------------------------------------------------- interactivity

STATE = obj(
    optional={
        "values": values_of(
            values_of(
                obj(
                    optional={
                        "value": OPT_STR,
                        "selected_option": either(null, obj(optional={"value": OPT_STR}), what="an option"),
                        "selected_date": OPT_STR,
                    }
                )
            )
        )
    }
)
VIEW = obj({"id": STR, "type": STR, "callback_id": STR}, {"private_metadata": OPT_STR, "state": STATE})
ACTION = obj({"action_id": STR}, {"block_id": STR, "type": STR, "value": OPT_STR, "action_ts": STR})
MESSAGE = obj({"ts": STR}, {"text": OPT_STR, "thread_ts": OPT_STR, "files": list_of(FILE)})
USER = obj({"id": STR}, {"name": OPT_STR, "username": OPT_STR})

INTERACTIVE_KINDS: dict[str, Check] = {
    "block_actions": obj(
        {"user": USER, "actions": list_of(ACTION, at_least=1), "trigger_id": STR},
        {
            "container": obj(optional={"channel_id": OPT_STR, "message_ts": OPT_STR, "thread_ts": OPT_STR}),
            "message": MESSAGE,
            "view": VIEW,
            "state": STATE,
        },
    ),
    "view_submission": obj({"user": USER, "view": VIEW}),
    "view_closed": obj({"user": USER, "view": VIEW}),
    "shortcut": obj({"user": USER, "callback_id": STR, "trigger_id": STR}),
    "message_action": obj(
        {"user": USER, "callback_id": STR, "trigger_id": STR, "channel": obj({"id": STR}), "message": MESSAGE}
    ),
}

COMMAND_FIELDS = ("command", "team_id", "channel_id", "user_id", "trigger_id")


# ---------------------------------------------------------------------- parsing


def media_type(header: str | None) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type header, both lower case."""
    if not header:
        return "", None
    media, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def parse(raw: bytes, content_type: str | None) -> Parsed:
    """The body of a verified request, checked; raises Malformed."""
    media, charset = media_type(content_type)
    if charset is not None and charset not in UTF8_NAMES:
        raise Malformed("content-type: a charset other than UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body: not UTF-8") from None
    if media == JSON_TYPE:
        body = _json(text)
        kind = body.get("type")
        if not isinstance(kind, str) or kind not in EVENT_KINDS:
            raise Malformed("body.type: not an Events API type")
        context_fields(body, "body")
        EVENT_KINDS[kind](body)
        return Parsed("events", body, text)
    if media == FORM_TYPE:
        kind, form = _form(text)
        return Parsed(kind, form, text)
    raise Malformed("content-type: neither JSON nor a form")


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise Malformed("body: not JSON") from None
    if not isinstance(body, dict):
        raise Malformed("body: not a JSON object")
    return body


def _form(text: str) -> tuple[str, dict[str, Any]]:
    try:
        fields = parse_qs(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # UnicodeDecodeError of a %-escape is a ValueError too
        raise Malformed("body: not a form") from None
    if any(len(values) != 1 for values in fields.values()):
        raise Malformed("body: a form field given twice")
    form = {key: values[0] for key, values in fields.items()}
    if "payload" in form:
        if len(form) != 1:
            raise Malformed("body: fields beside payload")
        payload = _json(form["payload"])
        kind = payload.get("type")
        if not isinstance(kind, str) or kind not in INTERACTIVE_KINDS:
            raise Malformed("payload.type: not an interactivity type")
        context_fields(payload, "payload")
        INTERACTIVE_KINDS[kind](payload, "payload")
        return "interactive", payload
    if form.get("ssl_check") == "1":
        return "ssl_check", {}
    for key in COMMAND_FIELDS:
        if not form.get(key):
            raise Malformed(f"command.{key}: missing")
    if not form["command"].startswith("/"):
        raise Malformed("command.command: not a slash command")
    return "command", form
