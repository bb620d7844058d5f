"""Slack interactivity: the Accept / Request changes / Reject buttons, 👍 / 👎, the Pick A / Pick B
buttons of a compared request and the forms → core events.

Reject opens a form (why: one of the core's reasons, and a comment) for someone who may decide the
project; for anyone else, and when the form cannot open, the click goes to the core as it is (which
refuses it privately, or rejects without a reason). 👍 / 👎 is a SignalGiven: stored, never feedback.
A pick button is the reply `pick A` / `pick B` on its project, decided by the core as a typed one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from adapters.chat.common.minutes import NotMinutes, form_minutes
from adapters.chat.slack import blocks, forms
from adapters.chat.slack.intake import SlackIntake
from adapters.chat.slack.platform import PLATFORM
from bot.errors import DraftloopError
from bot.events import (
    REJECT_REASONS,
    Actor,
    DecisionSignal,
    Event,
    Locator,
    Outcome,
    SignalGiven,
    ThreadRef,
    ThreadReply,
)
from bot.orchestrator.compare import LABELS
from bot.permissions import may_decide

log = logging.getLogger(__name__)


class InteractivityListeners:
    def __init__(self, intake: SlackIntake) -> None:
        self.intake = intake

    def register(self, app: AsyncApp) -> None:
        app.action(blocks.ACTION_ACCEPT)(self.on_decision_button)
        app.action(blocks.ACTION_REJECT)(self.on_reject_button)
        app.action(blocks.ACTION_CHANGES)(self.on_changes_button)
        app.action(blocks.ACTION_SIGNAL)(self.on_signal)
        for label in LABELS:
            app.action(f"{blocks.ACTION_PICK}{label}")(self.on_pick)
        app.view(forms.DRAFT_FORM)(self.on_draft_form)
        app.view(forms.CHANGES_FORM)(self.on_changes_form)
        app.view(forms.REJECT_FORM)(self.on_reject_form)

    async def on_reject_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The reason form for someone who may decide; anyone else's click is refused by the core."""
        await ack()
        number = _number(action.get("value"))
        user = body.get("user") or {}
        if number is not None and await self._may_decide(number, str(user.get("id") or "")):
            channel, thread = _where(body)
            view = forms.reject_form(number=number, channel_id=channel, thread_ts=thread, reasons=REJECT_REASONS)
            try:
                await self.intake.platform.client.views_open(trigger_id=body["trigger_id"], view=view)
                return
            except Exception as exc:  # noqa: BLE001 - the click still counts, without a reason
                log.warning("slack: views.open failed for the reject form: %s", type(exc).__name__)
        await self.on_decision_button(_acked, body, action)

    async def _actor(self, user: dict[str, Any]) -> Actor:
        """The person of a payload's `user` object (id, and the name Slack sent as a stand-in)."""
        return await self.intake.actor(str(user["id"]), str(user.get("name") or ""))

    async def _may_decide(self, number: int, user: str) -> bool:
        find = self.intake.find
        if find is None or not user:
            return False
        try:
            project = await find(Locator(number=number))
        except Exception as exc:  # noqa: BLE001 - the core decides, and says so
            log.info("slack: could not read #%s before the reject form: %s", number, type(exc).__name__)
            return False
        if project is None:
            return False
        actor = Actor(
            PLATFORM, user, roles=await self.intake.groups.of(user) if self.intake.groups.groups else frozenset()
        )
        return may_decide(
            actor, requester_id=project.requester_id, category=project.category, settings=self.intake.settings
        )

    async def on_reject_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = forms.form_values(view)
        reason = values.get("reason")
        if reason not in REJECT_REASONS:
            await ack(response_action="errors", errors={"reason": "Choose one of the reasons."})
            return
        await ack()
        meta = _meta(view)
        number = _number(meta.get("number"))
        if number is None:
            return
        user = body["user"]
        key = f"view:{view.get('id')}"
        channel, thread = str(meta.get("channel") or ""), str(meta.get("thread") or "")
        comment = (values.get("comment") or "").strip() or None

        async def build() -> Event:
            return DecisionSignal(
                locator=Locator(number=number),
                actor=await self._actor(user),
                outcome=Outcome.REJECT,
                via="form",
                event_key=key,
                reply_to=ThreadRef(PLATFORM, channel, thread) if channel else None,
                reason=reason,
                comment=comment,
            )

        await self.intake.submit(key, build(), body)

    async def on_signal(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """👍 / 👎 on a draft: a light signal, stored per version and person."""
        await ack()
        parsed = blocks.signal_value(action.get("value"))
        user = body.get("user") or {}
        if parsed is None or not user.get("id"):
            return
        value, number, version = parsed
        channel, _ = _where(body)
        key = _click_key("signal", channel, action, user)

        async def build() -> Event:
            actor = await self._actor(user)
            return SignalGiven(Locator(number=number), actor, version, "up" if value == "up" else "down", event_key=key)

        await self.intake.submit(key, build(), body)

    async def on_pick(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Pick A / Pick B: the reply `pick <label>` on the project the button names."""
        await ack()
        parsed = blocks.pick_value(action.get("value"))
        user = body.get("user") or {}
        if parsed is None or not user.get("id"):
            return
        number, label = parsed
        channel, _ = _where(body)
        key = _click_key("action", channel, action, user)
        shown = str(_object(body.get("message")).get("ts") or _object(body.get("container")).get("message_ts") or "")

        async def build() -> Event:
            actor = await self._actor(user)
            return ThreadReply(Locator(number=number), actor, f"pick {label}", event_key=key, on_message=shown)

        await self.intake.submit(key, build(), body)

    async def on_decision_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        number = _number(action.get("value"))
        if number is None:
            return
        outcome = Outcome.ACCEPT if action["action_id"] == blocks.ACTION_ACCEPT else Outcome.REJECT
        channel, thread = _where(body)
        user = body["user"]
        key = _click_key("action", channel, action, user)

        async def build() -> Event:
            return DecisionSignal(
                locator=Locator(number=number),
                actor=await self._actor(user),
                outcome=outcome,
                via="button",
                event_key=key,
                reply_to=ThreadRef(PLATFORM, channel, thread) if channel else None,
            )

        await self.intake.submit(key, build(), body)

    async def on_changes_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        number = _number(action.get("value"))
        if number is None:
            return
        channel, thread = _where(body)
        view = forms.changes_form(number=number, channel_id=channel, thread_ts=thread)
        try:
            await self.intake.platform.client.views_open(trigger_id=body["trigger_id"], view=view)
        except Exception as exc:  # noqa: BLE001
            log.warning("slack: views.open failed: %s", type(exc).__name__)

    async def on_draft_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = forms.form_values(view)
        checked = await _checked_form(ack, values, "brief", "Write what the agent should do.")
        if checked is None:
            return
        brief, minutes = checked
        category = values.get("category")
        key = f"view:{view.get('id')}"
        work = self.intake.rooted_request(
            channel=str(_meta(view).get("channel") or ""),
            user=str(body["user"]["id"]),
            text=brief,
            key=key,
            category=None if category in (None, "auto") else category,
            deadline=values.get("deadline"),
            minutes=minutes,
        )
        await self.intake.submit(key, work, body)

    async def on_changes_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        checked = await _checked_form(ack, forms.form_values(view), "feedback", "Say what should change.")
        if checked is None:
            return
        feedback, minutes = checked
        meta = _meta(view)
        number = _number(meta.get("number"))
        if number is None:
            return
        key = f"view:{view.get('id')}"
        await self.intake.submit(
            key, self._form_feedback(number, meta, str(body["user"]["id"]), feedback, minutes, key), body
        )

    async def _form_feedback(
        self, number: int, meta: dict[str, Any], user: str, feedback: str, minutes: int | None, key: str
    ) -> Event:
        """Show the form's feedback in the thread (so the thread tells the whole story), then hand it on."""
        message_id = ""
        channel, thread = str(meta.get("channel") or ""), str(meta.get("thread") or "")
        if channel and thread:
            self.intake.platform.note_recipient(channel, thread, user, None)
            spent = f" ({minutes} min)" if minutes else ""
            quoted = "\n".join("> " + line for line in feedback[:2500].splitlines())
            try:
                # The person's mention is draftloop's own choice, so it stays live past the neutralising.
                ref = await self.intake.platform.post_attributed(
                    channel, f"asked for changes{spent}:\n{quoted}", user=user, thread_ts=thread
                )
                message_id = ref.message_id
            except DraftloopError as exc:
                log.warning("slack: %s", exc)
        actor = await self.intake.actor(user)
        if channel and thread:
            self.intake.platform.note_speaker(channel, thread, actor.display)
        return ThreadReply(
            locator=Locator(number=number),
            actor=actor,
            text=feedback,
            message_id=message_id,
            stated_minutes=minutes,
            event_key=key,
        )


async def _acked(**_: Any) -> None:
    """The ack of a click already acknowledged."""


def _click_key(kind: str, channel: str, action: dict[str, Any], user: dict[str, Any]) -> str:
    """A click's event key: Slack's action_ts is unique per click, per channel and person."""
    return f"{kind}:{channel}:{action.get('action_ts')}:{user['id']}"


def _number(value: Any) -> int | None:
    try:
        number = int(str(value).lstrip("#"))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


async def _checked_form(ack: Any, values: dict[str, Any], field: str, missing: str) -> tuple[str, int | None] | None:
    """Validate a form's text field and optional minutes; answer Slack with the errors, or ack."""
    text = (values.get(field) or "").strip()
    if not text:
        await ack(response_action="errors", errors={field: missing})
        return None
    try:
        minutes = form_minutes(values.get("minutes"))
    except NotMinutes:
        await ack(response_action="errors", errors={"minutes": "A number of minutes up to 1440 (a day), please."})
        return None
    await ack()
    return text, minutes


def _meta(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _where(body: dict[str, Any]) -> tuple[str, str]:
    """(channel, thread ts) of the message whose button was clicked."""
    container = _object(body.get("container"))
    message = _object(body.get("message"))
    # The edge lets `channel` through as an id or an object, as bolt reads both.
    named = body.get("channel")
    channel_id = named if isinstance(named, str) else _object(named).get("id")
    channel = str(channel_id or container.get("channel_id") or "")
    thread = str(message.get("thread_ts") or container.get("thread_ts") or message.get("ts") or "")
    return channel, thread
