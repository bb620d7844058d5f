"""Who may decide and whose reply is feedback: pure functions over the config and an actor."""

from __future__ import annotations

from bot.events import Actor
from bot.settings import Settings


def _matches(actor: Actor, names: tuple[str, ...]) -> bool:
    wanted = {n.lower() for n in names}
    return actor.user_id.lower() in wanted or (bool(actor.name) and actor.name.lower() in wanted)


def is_admin(actor: Actor, settings: Settings) -> bool:
    cfg = settings.file
    admins = cfg.admins + (cfg.slack.admins if actor.platform == "slack" else ())
    admins += cfg.discord.admins if actor.platform == "discord" else ()
    if _matches(actor, admins):
        return True
    roles = {r.lower() for r in actor.roles}
    return actor.platform == "discord" and bool(roles & {r.lower() for r in cfg.discord.admin_roles})


def is_expert(actor: Actor, category: str, settings: Settings) -> bool:
    cat = settings.category(category)
    if _matches(actor, cat.experts):
        return True
    return bool({r.lower() for r in actor.roles} & {r.lower() for r in cat.expert_roles})


def has_experts(category: str, settings: Settings) -> bool:
    cat = settings.category(category)
    return bool(cat.experts or cat.expert_roles)


def is_requester(actor: Actor, requester_id: str) -> bool:
    return actor.user_id == requester_id


def may_decide(actor: Actor, *, requester_id: str, category: str, settings: Settings) -> bool:
    if actor.is_bot:
        return False
    return is_requester(actor, requester_id) or is_expert(actor, category, settings) or is_admin(actor, settings)


def may_give_feedback(actor: Actor, *, requester_id: str, category: str, settings: Settings) -> bool:
    """With no experts configured for the category, any human in the thread gives feedback."""
    if actor.is_bot:
        return False
    if not has_experts(category, settings):
        return True
    return may_decide(actor, requester_id=requester_id, category=category, settings=settings)
