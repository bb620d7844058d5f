"""Who may decide and whose reply is feedback: pure functions over the config and an actor.

People are matched by id on Slack and Discord and by name only on the console (see bot/identity.py).
Besides the shared `admins`, each platform's policy names its own admins and admin roles from its
config table (bot/platforms.py).
"""

from __future__ import annotations

from bot import platforms
from bot.events import Actor
from bot.identity import has_role, names
from bot.settings import Settings


def is_admin(actor: Actor, settings: Settings) -> bool:
    cfg = settings.file
    policy = platforms.policy(actor.platform)
    if names(actor, cfg.admins + policy.admins_in(cfg)):
        return True
    roles = policy.admin_roles_in(cfg)
    return bool(roles) and has_role(actor, roles)


def is_expert(actor: Actor, category: str, settings: Settings) -> bool:
    cat = settings.category(category)
    return names(actor, cat.experts) or has_role(actor, cat.expert_roles)


def has_experts(category: str, settings: Settings) -> bool:
    cat = settings.category(category)
    return bool(cat.experts or cat.expert_roles)


def is_requester(actor: Actor, requester_id: str) -> bool:
    return actor.user_id == requester_id


def may_decide(actor: Actor, *, requester_id: str, category: str, settings: Settings) -> bool:
    if actor.is_bot:
        return False
    return is_requester(actor, requester_id) or is_expert(actor, category, settings) or is_admin(actor, settings)


def may_see(actor: Actor, *, requester_id: str, category: str, settings: Settings) -> bool:
    """Who may read a project's state and brief from outside its channel: those who may decide it."""
    return may_decide(actor, requester_id=requester_id, category=category, settings=settings)


def may_give_feedback(actor: Actor, *, requester_id: str, category: str, settings: Settings) -> bool:
    """With no experts configured for the category, any human in the thread gives feedback."""
    if actor.is_bot:
        return False
    if not has_experts(category, settings):
        return True
    return may_decide(actor, requester_id=requester_id, category=category, settings=settings)
