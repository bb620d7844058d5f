"""Compare two agents: one request drafted by A (the agent the project is routed to) and B (the
category's best other candidate, or its first fallback), shown side by side; a pick (`pick A` /
`pick B`, by the requester or an expert) makes one the project's version and counts as a win.

Asked with `--compare` at the start of a request (before or after its `[category]`), by a
platform's own option (RequestPosted.compare), or by default in a category with `compare = true`.
B's model call starts with A's, so the two overlap; B is stored and shown once A is (its agent is
asked once: no fallback stands in for it). Both drafts are kept as written (storage/routing.py:
comparisons); the picked one is the project's current version, the other is marked not picked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

from bot.agent_spec import AgentSpec
from bot.agents import AgentPool, cost_usd
from bot.config import CategoryConfig
from bot.ports import DraftResult
from bot.prompts import build_request
from bot.settings import Settings
from storage import Session, routing as store, versions
from storage.engine import Database
from storage.routing import Comparison

_log = logging.getLogger(__name__)

FLAG = "--compare"
LABELS = ("A", "B")
_FLAG = re.compile(r"--compare(?:\s+|$)", re.IGNORECASE)
_PICK = re.compile(r"pick\s+([ab])", re.IGNORECASE)


def split_flag(text: str) -> tuple[bool, str]:
    """(`--compare` was given, the text without it): the flag counts at the start only."""
    stripped = text.lstrip()
    match = _FLAG.match(stripped)
    if match is None:
        return False, text
    return True, stripped[match.end() :]


def pick_label(text: str) -> str | None:
    """`pick B`, `Pick a.`: the label a reply picks, if it is only a pick."""
    match = _PICK.fullmatch(text.strip().rstrip(".! "))
    return match.group(1).upper() if match else None


def by_default(cat: CategoryConfig) -> bool:
    """A category's `compare = true` (read leniently: the key is new to the config file)."""
    return bool(getattr(cat, "compare", False))


def possible(cat: CategoryConfig) -> bool:
    """Whether the category can name two agents at all (no query needed to say no)."""
    return len(set(cat.agents)) > 1 or bool(cat.fallback)


def rival_by_fallback(cat: CategoryConfig, agent: str) -> str | None:
    """B when the category has no candidates to rank: its first fallback other than A."""
    return next((name for name in cat.fallback if name != agent), None)


@dataclass
class Rival:
    """Draft B of a compared request, from its model call to its place in the comparison."""

    agent: str
    task: asyncio.Task[tuple[DraftResult, AgentSpec]] | None = None
    stored: Comparison | None = field(default=None, repr=False)

    def begin(self, pool: AgentPool, *, category: str, brief: str) -> None:
        spec = pool.spec(self.agent)
        request = build_request(
            project_number=0,  # as A's early call: the prompt needs only the brief and the category
            version=1,
            category=category,
            brief=brief,
            previous_draft=None,
            feedback=(),
            max_output_tokens=spec.max_tokens,
            context_tokens=spec.context_tokens,
        )
        self.task = asyncio.create_task(pool.draft(agents=[self.agent], request=request))

    async def result(self) -> tuple[DraftResult, AgentSpec]:
        """B's draft; AgentError when its agent could not write it."""
        assert self.task is not None, "begin() first"
        return await self.task

    def cancel(self) -> None:
        task, self.task = self.task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn about a result nobody shows

    async def keep(self, db: Database, project_id: int) -> Comparison | None:
        """Store B beside A (v1 as written) once A is there; None when there is nothing to compare
        (A failed or was dropped, B was stored already) or B failed (AgentError is raised)."""
        result, spec = await self.result()

        async def keep(session: Session) -> Comparison | None:
            a = await versions.latest_version(session=session, project_id=project_id)
            if a is None or a.number != 1:
                return None
            stored = await store.store_drafts(
                session=session,
                project_id=project_id,
                a=a,
                text_b=result.text,
                model_b=result.model or spec.model,
                cost_b_usd=cost_usd(spec, result),
                input_tokens_b=result.input_tokens,
                output_tokens_b=result.output_tokens,
            )
            return await store.get_comparison(session=session, project_id=project_id) if stored else None

        return await db.run(keep)


async def comparing(db: Database, settings: Settings, project: object) -> Comparison | None:
    """The project's comparison while it waits for its pick at v1; asks the database only for a v1
    in a category that can name two agents."""
    number = getattr(project, "id", None)
    category = str(getattr(project, "category", ""))
    if number is None or getattr(project, "current_version", 0) != 1 or not possible(settings.category(category)):
        return None
    async with db.session() as session:
        found = await store.get_comparison(session=session, project_id=number)
    return found if found is not None and found.picked is None else None


def unpickable(comparison: Comparison | None, *, state: str, in_review: str, version: int) -> str | None:
    """Why no pick can be made now, in a sentence; None when it can."""
    if comparison is None:
        return "It was drafted by one agent; there is nothing to pick."
    if comparison.picked is not None:
        return f"{comparison.picked} was picked already."
    if comparison.text_b is None:
        return "Draft B was not written; draft A stands."
    if state != in_review or version != comparison.version:
        return (
            f"It is {state.replace('_', ' ')} at v{version}; a pick is made on v{comparison.version}, "
            "before any feedback or decision."
        )
    return None
