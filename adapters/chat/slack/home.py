"""The App Home tab and the bot's DM (Slack's AI-app surface).

- `app_home_opened` (tab "home") → `views.publish`: what waits on the person (the core's
  `Commands.waiting_on`: drafts to decide, threads to review as an expert, open requests, each linked
  to its thread) and this week's headline figures. A person who opened it is remembered (in this
  process), and their tab is published again, at most once a second, when one of their projects
  changes (the platform reports every draft, notice and decision it shows: `on_change`).
- `assistant_thread_started` (the DM with draftloop as an AI app) → `setSuggestedPrompts`: one
  prompt per category, up to Slack's four. A workspace without the AI-app surface sends no such
  event, and nothing happens.

Both go through `intake.submit` like every listener: the delivery is stored before Slack is answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from slack_bolt.app.async_app import AsyncApp

from adapters.chat.slack.home_blocks import home_view
from adapters.chat.slack.intake import SlackIntake
from bot.events import Actor, Event, Locator
from bot.permissions import is_expert
from bot.report.digest import Period, build_report

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

log = logging.getLogger(__name__)

VIEWERS = 1000  # people whose Home tab is kept fresh (the most recent openers)
REFRESH_GAP = 1.0  # seconds: a burst of changes (a draft, then a decision) publishes once
FIGURES_TTL = 60.0  # the week's figures are read at most once a minute
PROMPTS = 4  # Slack shows up to four suggested prompts
EXAMPLES = {
    "writing": "Write a 150-word announcement of our new feature for the blog",
    "translation": "Translate our welcome email into Spanish, keeping the tone friendly",
    "data-science": "Outline an analysis of last quarter's churn: questions, data, method",
    "web-dev": "Draft a plan for adding a dark mode to our web app",
    "engineering": "Write a design note for retrying failed webhook deliveries",
    "sales-marketing": "Draft a three-email outreach sequence for small agencies",
    "design": "Write a brief for a new onboarding illustration set",
    "other": "Summarise the attached notes into five action points",
}


class NativeListeners:
    """App Home and the assistant DM; also hands the intake the core's project lookup."""

    def __init__(self, intake: SlackIntake, runtime: Runtime) -> None:
        self.intake = intake
        self.runtime = runtime
        intake.find = runtime.workflow.find
        self.viewers: OrderedDict[str, tuple[Actor, frozenset[int]]] = OrderedDict()
        self._due: set[str] = set()  # people whose tab is about to be published again
        self._figures: tuple[float, dict[str, Any] | None] = (0.0, None)

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.on_home_opened)
        app.event("assistant_thread_started")(self.on_assistant_thread_started)
        self.intake.platform.on_change = self.changed

    # ---- App Home

    async def on_home_opened(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            return
        await self.intake.submit(body.get("event_id"), self._opened(str(user)), body)

    async def _opened(self, user: str) -> Event | None:
        actor = await self.intake.actor(user)
        await self.publish(actor)
        return None  # nothing for the core: the view is the whole answer

    async def publish(self, actor: Actor) -> None:
        commands = self.runtime.workflow.commands
        found = commands.masked(await commands.waiting_on(actor))
        view = home_view(found, await self.intake.platform.team_url(), await self._week())
        await self.intake.platform.call("views.publish", user_id=actor.user_id, view=view)
        self.viewers[actor.user_id] = (actor, frozenset(i.number for i in found.items))
        self.viewers.move_to_end(actor.user_id)
        while len(self.viewers) > VIEWERS:
            self.viewers.popitem(last=False)

    async def _week(self) -> dict[str, Any] | None:
        at, figures = self._figures
        now = time.monotonic()
        if figures is not None and now - at < FIGURES_TTL:
            return figures
        try:
            clock = self.runtime.workflow.clock
            period = Period.last_days(7, now=clock.now(), tz=self.runtime.settings.tz)
            report = await build_report(self.runtime.db, period, now=clock.now(), compare=False, waiting_limit=0)
            figures = report.to_json()
        except Exception as exc:  # noqa: BLE001 - the list still shows without the figures
            log.warning("slack: the week's figures for the Home tab could not be read: %s", type(exc).__name__)
            return None
        self._figures = (now, figures)
        return figures

    def changed(self, number: int) -> None:
        """A project's thread changed: refresh the tabs it shows on (or should now)."""
        if self.viewers:
            self._figures = (0.0, self._figures[1])
            self.runtime.spawn(self._refresh(number))

    async def _refresh(self, number: int) -> None:
        try:
            project = await self.runtime.workflow.find(Locator(number=number))
        except Exception as exc:  # noqa: BLE001
            log.info("slack: no Home refresh for #%s: %s", number, type(exc).__name__)
            return
        settings = self.runtime.settings
        for user, (actor, shown) in list(self.viewers.items()):
            concerned = project is not None and (
                project.requester_id == user or is_expert(actor, project.category, settings)
            )
            if (number in shown or concerned) and user not in self._due:
                self._due.add(user)
                self.runtime.spawn(self._publish_soon(actor))

    async def _publish_soon(self, actor: Actor) -> None:
        try:
            await asyncio.sleep(REFRESH_GAP)
            self._due.discard(actor.user_id)
            await self.publish(actor)
        except Exception as exc:  # noqa: BLE001 - the next change or opening publishes it again
            self._due.discard(actor.user_id)
            log.info("slack: the Home tab of %s was not refreshed: %s", actor.user_id, type(exc).__name__)

    # ---- the DM with draftloop (AI app)

    async def on_assistant_thread_started(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread") or {}
        channel, ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not ts:
            return
        if thread.get("user_id"):
            self.intake.note_recipient(body, str(channel), str(ts), str(thread["user_id"]))
        await self.intake.submit(body.get("event_id"), self._prompts(str(channel), str(ts)), body)

    async def _prompts(self, channel: str, ts: str) -> Event | None:
        prompts = [
            {
                "title": f"[{name}] request"[:75],
                "message": f"[{name}] {EXAMPLES.get(name, 'Draft: describe what you need')}",
            }
            for name in self.intake.categories[:PROMPTS]
        ]
        try:
            await self.intake.platform.call(
                "assistant.threads.setSuggestedPrompts",
                channel_id=channel,
                thread_ts=ts,
                title="Ask for a draft",
                prompts=prompts,
            )
        except Exception as exc:  # noqa: BLE001 - prompts are a convenience
            log.info("slack: no suggested prompts: %s", type(exc).__name__)
        return None
