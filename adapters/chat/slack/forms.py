"""The Slack modals (the /draft form, the "Request changes" form) and reading a submitted one.

Pure functions: no I/O, no SDK objects. Limits respected (platform-facts A9): modal title ≤ 24
characters, private_metadata ≤ 3,000, plain-text inputs ≤ 3,000.
"""

from __future__ import annotations

import json
from typing import Any

from bot import texts

Block = dict[str, Any]

DRAFT_FORM = "dl_draft_form"
CHANGES_FORM = "dl_changes_form"
REJECT_FORM = "dl_reject_form"
COMMENT_CHARS = 2000
SHORTCUT = "dl_draft_from_message"


def draft_form(*, channel_id: str, categories: tuple[str, ...], brief: str = "") -> Block:
    """The /draft form: brief, category (or auto), optional deadline and expert minutes."""
    options = [_option("Let draftloop decide", "auto")] + [_option(c, c) for c in categories[:99]]
    brief_input: Block = {"type": "plain_text_input", "action_id": "brief", "multiline": True, "max_length": 3000}
    if brief:
        brief_input["initial_value"] = brief[:3000]
    return {
        "type": "modal",
        "callback_id": DRAFT_FORM,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": {"type": "plain_text", "text": "New draft request"},
        "submit": {"type": "plain_text", "text": "Start"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "brief",
                "label": _plain("What should the agent write?"),
                "element": brief_input,
            },
            {
                "type": "input",
                "block_id": "category",
                "label": _plain("Category"),
                "element": {
                    "type": "static_select",
                    "action_id": "category",
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": "deadline",
                "optional": True,
                "label": _plain("Deadline"),
                "element": {"type": "datepicker", "action_id": "deadline"},
            },
            _minutes_input("Expert minutes you can give (optional)"),
        ],
    }


def changes_form(*, number: int, channel_id: str, thread_ts: str) -> Block:
    """The "Request changes" form: feedback text and minutes spent."""
    meta = json.dumps({"number": number, "channel": channel_id, "thread": thread_ts})
    return {
        "type": "modal",
        "callback_id": CHANGES_FORM,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": f"Changes to #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "feedback",
                "label": _plain("What should change?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "feedback",
                    "multiline": True,
                    "max_length": 3000,
                },
            },
            _minutes_input("Minutes you spent reviewing (optional)"),
        ],
    }


def reject_form(*, number: int, channel_id: str, thread_ts: str, reasons: tuple[str, ...]) -> Block:
    """The reject form: why (radio buttons, one of the core's reasons) and an optional comment."""
    meta = json.dumps({"number": number, "channel": channel_id, "thread": thread_ts})
    return {
        "type": "modal",
        "callback_id": REJECT_FORM,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": f"Reject #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain(texts.REJECT_REASON_PROMPT),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "reason",
                    "options": [_option(r.capitalize(), r) for r in reasons[:10]],
                },
            },
            {
                "type": "input",
                "block_id": "comment",
                "optional": True,
                "label": _plain(texts.REJECT_COMMENT_PROMPT),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "comment",
                    "multiline": True,
                    "max_length": COMMENT_CHARS,
                },
            },
        ],
    }


def _minutes_input(label: str) -> Block:
    return {
        "type": "input",
        "block_id": "minutes",
        "optional": True,
        "label": _plain(label),
        "element": {"type": "number_input", "action_id": "minutes", "is_decimal_allowed": False, "min_value": "0"},
    }


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


def _option(label: str, value: str) -> Block:
    return {"text": _plain(label[:75]), "value": value[:150]}


def form_values(view: dict[str, Any]) -> dict[str, str | None]:
    """Flatten a submitted view's state into {block_id: value} (selects give their value)."""
    out: dict[str, str | None] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        for item in actions.values():
            value = item.get("value")
            if value is None and item.get("selected_option"):
                value = item["selected_option"].get("value")
            if value is None:
                value = item.get("selected_date")
            out[block_id] = value
    return out
