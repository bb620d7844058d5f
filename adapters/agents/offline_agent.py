"""The offline agent: deterministic drafts with no network and no key. It says so in every draft.

It turns the brief into a structured draft and, on revision, takes up each feedback point under
"Changes in vN", so the whole loop can be run, tested and demonstrated without a model.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

from adapters.agents.base import ProviderBackend
from bot.agent_spec import AgentSpec
from bot.ports import DraftRequest, DraftResult
from bot.settings import Settings

BANNER = "> Offline draft: written by draftloop's built-in offline agent, no model was called."
_WORDS = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = {"with", "this", "that", "about", "from", "into", "write", "make", "please", "draft", "words", "word"}
CHUNK = 48

OUTLINES: dict[str, tuple[str, ...]] = {
    "writing": ("Opening", "Main points", "Closing"),
    "translation": ("Source summary", "Translation", "Terms kept as is"),
    "data-science": ("Question", "Method", "Results", "Caveats"),
    "web-dev": ("Structure", "Code", "How to run"),
    "engineering": ("Requirements", "Design", "Checks"),
    "sales-marketing": ("Audience", "Message", "Call to action"),
    "design": ("Layout", "Typography and colour", "Rationale"),
    "other": ("Summary", "Deliverable", "Next steps"),
}


def _keywords(text: str, n: int = 5) -> list[str]:
    seen: list[str] = []
    for word in _WORDS.findall(text):
        w = word.lower()
        if w not in _STOP and w not in seen:
            seen.append(w)
        if len(seen) == n:
            break
    return seen


def _title(brief: str) -> str:
    first = brief.strip().splitlines()[0] if brief.strip() else "Untitled"
    return first[:70].rstrip(" .,:;") or "Untitled"


def compose(request: DraftRequest) -> str:
    keys = _keywords(request.brief) or ["the brief"]
    sections = OUTLINES.get(request.category, OUTLINES["other"])
    lines = [BANNER, "", f"# {_title(request.brief)}", "", f"*{request.category} · v{request.version}*", ""]
    for i, section in enumerate(sections):
        focus = keys[i % len(keys)]
        lines += [f"## {section}", "", f"This part addresses **{focus}** as the brief asks.", ""]
    points = [p for p in request.feedback if p.new]
    if request.version > 1 or points:
        lines += [f"## Changes in v{request.version}", ""]
        lines += [f"- Took up {p.author}'s point (on v{p.version}): \u201c{p.text.strip()}\u201d" for p in points]
        if not points:
            lines.append("- No new feedback; text refreshed.")
        earlier = [p for p in request.feedback if not p.new]
        if earlier:
            lines += ["", f"Earlier feedback still applied: {len(earlier)} point(s)."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


class OfflineAgent(ProviderBackend):
    """No key, no endpoint, nothing to reach: `check()` is always ok."""

    key_required = False
    default_endpoint = "built in"

    def __init__(self, spec: AgentSpec, settings: Settings | None = None) -> None:
        super().__init__(spec, settings)
        self.name = spec.name or "offline"
        self.model = spec.model or "offline-v1"

    async def _stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        text = compose(request)
        for start in range(0, len(text), CHUNK):
            yield text[start : start + CHUNK]
        prompt_chars = len(request.system) + sum(len(body) for _, body in request.messages)
        yield DraftResult(
            text=text,
            model=self.model,
            input_tokens=prompt_chars // 4,
            output_tokens=len(text) // 4,
            finish_reason="stop",
        )
