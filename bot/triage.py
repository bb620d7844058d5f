"""Triage: the request's category (explicit `[category]` or classified), its agent, its experts."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Protocol

from bot.agent_spec import AgentSpec, installed_providers
from bot.config import CATEGORIES
from bot.errors import DraftloopError
from bot.ports import DraftRequest, DraftResult
from bot.settings import Settings

_log = logging.getLogger(__name__)

_EXPLICIT = re.compile(r"^\s*\[(?P<cat>[a-z][a-z &/_-]{1,40})\]\s*", re.IGNORECASE)

_ALIASES: dict[str, str] = {
    "data science": "data-science",
    "data": "data-science",
    "datascience": "data-science",
    "web": "web-dev",
    "webdev": "web-dev",
    "web development": "web-dev",
    "sales": "sales-marketing",
    "marketing": "sales-marketing",
    "sales & marketing": "sales-marketing",
    "sales and marketing": "sales-marketing",
    "translate": "translation",
}

# Ordered: the first category with the most hits wins, so specific categories come before "writing".
KEYWORDS: dict[str, tuple[str, ...]] = {
    "translation": ("translate", "translation", "into english", "into german", "into french", "into spanish"),
    "data-science": (
        "csv",
        "dataset",
        "data set",
        "regression",
        "pandas",
        "analysis",
        "analyse",
        "analyze",
        "statistic",
        "forecast",
        "model the",
        "dashboard",
        "sql",
    ),
    "web-dev": (
        "website",
        "web page",
        "landing page",
        "html",
        "css",
        "javascript",
        "react",
        "frontend",
        "wordpress",
        "api endpoint",
    ),
    "engineering": (
        "cad",
        "circuit",
        "pcb",
        "structural",
        "mechanical",
        "load calculation",
        "architecture",
        "floor plan",
        "firmware",
        "embedded",
    ),
    "sales-marketing": (
        "marketing",
        "campaign",
        "seo",
        "ad copy",
        "newsletter",
        "sales",
        "lead",
        "email sequence",
        "social media",
        "pitch",
    ),
    "design": ("logo", "design", "mockup", "figma", "brand", "illustration", "poster", "ui "),
    "writing": (
        "write",
        "blog",
        "post",
        "article",
        "essay",
        "story",
        "copy",
        "summary",
        "summarise",
        "summarize",
        "report",
        "words",
    ),
}


@dataclass(frozen=True)
class Triage:
    category: str
    reason: str
    agent: AgentSpec
    fallbacks: tuple[str, ...]
    experts: tuple[str, ...]
    mentions: tuple[str, ...]


def normalise_category(raw: str, names: tuple[str, ...] = CATEGORIES) -> str | None:
    """The category `raw` names among `names` (the built-ins, or `settings.file.category_names` with the
    config's own); an alias counts only when no category has that very name."""
    name = raw.strip().lower().replace(" ", "-").replace("_", "-")
    if name not in names:
        name = _ALIASES.get(raw.strip().lower(), name).replace(" ", "-").replace("_", "-")
    return name if name in names else None


def split_explicit(text: str, names: tuple[str, ...] = CATEGORIES) -> tuple[str | None, str]:
    """`[data-science] clean this CSV` → ("data-science", "clean this CSV"); unknown tags stay in the text."""
    match = _EXPLICIT.match(text)
    if match is None:
        return None, text
    category = normalise_category(match.group("cat"), names)
    if category is None:
        return None, text
    return category, text[match.end() :]


def classify_keywords(text: str) -> tuple[str, str]:
    lowered = f" {text.lower()} "
    best, best_hits, matched = "other", 0, ""
    for category, words in KEYWORDS.items():
        hits = [w for w in words if w in lowered]
        if len(hits) > best_hits:
            best, best_hits, matched = category, len(hits), hits[0]
    if best_hits == 0:
        return "other", "no category keyword found"
    return best, f"keyword '{matched.strip()}'"


def route(category: str, settings: Settings, specs: dict[str, AgentSpec]) -> tuple[AgentSpec, tuple[str, ...]]:
    """The category's agent (else the first of its candidate `agents`) and fallbacks, else the default
    agent. With two or more candidates the orchestrator then picks one (bot/orchestrator/routing.py)."""
    cat = settings.category(category)
    name = cat.agent or (cat.agents[0] if cat.agents else None) or default_agent_name(settings)
    return specs[name] if name in specs else resolve_spec(name, settings), cat.fallback


def default_agent_name(settings: Settings) -> str:
    return settings.draftloop_agent or settings.file.default_agent or "offline"


@functools.lru_cache(maxsize=256)
def _spec(name: str, provider: str, model: str) -> AgentSpec:
    # Every request and cycle resolves its agent, and validating a new spec each time was 0.8 % of
    # the core's CPU in bench_core's profile. Specs are frozen, so one serves every caller.
    return AgentSpec(name=name, provider=provider, model=model)


def resolve_spec(name: str, settings: Settings) -> AgentSpec:
    """`offline`, `openai:MODEL`, `anthropic:MODEL`, `openai-compatible:MODEL`, or a configured name."""
    from bot.errors import ConfigError

    configured = settings.file.agents.get(name)
    if configured is not None:
        return configured
    if name == "offline":
        return _spec("offline", "offline", "offline-v1")
    provider, _, model = name.partition(":")
    if model and provider in installed_providers():
        return _spec(name, provider, model)
    known = ", ".join(sorted(settings.file.agents)) or "none configured"
    raise ConfigError(
        f"unknown agent {name!r}: use offline, openai:MODEL, anthropic:MODEL or a configured name ({known})"
    )


def experts_for(category: str, settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cat = settings.category(category)
    experts = cat.experts + cat.expert_roles
    return experts, cat.mention or experts


def triage(
    text: str,
    *,
    explicit: str | None,
    settings: Settings,
    specs: dict[str, AgentSpec],
    classified: tuple[str, str] | None = None,
) -> Triage:
    """Category (explicit, else `classified`, else keywords), then route and experts."""
    if explicit is not None:
        category, reason = explicit, "given"
    elif classified is not None:
        category, reason = classified
    else:
        category, reason = classify_keywords(text)
    agent, fallbacks = route(category, settings, specs)
    experts, mentions = experts_for(category, settings)
    return Triage(category, reason, agent, fallbacks, experts, mentions)


# -- classification by a model ----------------------------------------------------------------


def triage_system(names: tuple[str, ...] = CATEGORIES) -> str:
    return (
        "You sort freelance work requests into one category. Categories: "
        + ", ".join(names)
        + ". Answer with one line: the category name, a colon, and a reason of at most twelve words. "
        "Example: data-science: cleaning and summarising a CSV file"
    )


TRIAGE_SYSTEM = triage_system()
TRIAGE_MAX_CHARS = 4000  # of the brief shown to the classifier
TRIAGE_MAX_TOKENS = 40
TRIAGE_TIMEOUT = 15.0


class Completer(Protocol):
    """What triage needs from the agent pool (bot.agents.AgentPool)."""

    async def complete(self, name: str, request: DraftRequest, *, timeout: float) -> DraftResult: ...


def parse_classification(answer: str, names: tuple[str, ...] = CATEGORIES) -> tuple[str, str] | None:
    """`data-science: cleaning a CSV` → ("data-science", "cleaning a CSV"); None when no category is named."""
    line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
    head, _, rest = line.partition(":")
    category = normalise_category(head.strip(" *`'\"[]."), names)
    if category is None:
        lowered = line.lower()
        found = [(lowered.find(c), c) for c in names if c in lowered]
        if not found:
            return None
        category = min(found)[1]
        rest = ""
    reason = " ".join(rest.split())[:100]
    return category, reason


async def classify(text: str, *, settings: Settings, pool: Completer) -> tuple[str, str]:
    """Ask the configured `triage_agent`; keywords when none is configured, the call fails or the
    answer names no category. The reason says which way the category was found."""
    name = settings.file.triage_agent
    if not name:
        return classify_keywords(text)
    brief = text[:TRIAGE_MAX_CHARS]
    request = DraftRequest(
        project_number=0,
        version=0,
        category="triage",
        brief=brief,
        system=triage_system(settings.file.category_names),
        messages=(("user", brief),),
        max_output_tokens=TRIAGE_MAX_TOKENS,
    )
    try:
        result = await pool.complete(name, request, timeout=TRIAGE_TIMEOUT)
    except DraftloopError as exc:
        _log.warning("triage agent %s failed, using keywords: %s", name, exc)
        category, why = classify_keywords(text)
        return category, f"{why}; triage agent unavailable"
    parsed = parse_classification(result.text, settings.file.category_names)
    if parsed is None:
        category, why = classify_keywords(text)
        return category, f"{why}; triage agent gave no category"
    category, reason = parsed
    return category, f"classified by {name}" + (f": {reason}" if reason else "")


async def triage_request(text: str, *, explicit: str | None, settings: Settings, pool: Completer) -> Triage:
    """`triage` with the model classifier in front (only when the request names no category)."""
    classified = None if explicit is not None else await classify(text, settings=settings, pool=pool)
    return triage(text, explicit=explicit, settings=settings, specs=settings.file.agents, classified=classified)
