"""Prompts for drafts and revisions, in one place a reviewer can read.

The draft prompt asks for a finished deliverable, not a chat answer. The revision prompt holds the
brief, the latest draft and every feedback point (new ones marked) and asks what changed.
"""

from __future__ import annotations

from bot.ports import DraftRequest, FeedbackPoint

SYSTEM_BASE = (
    "You are a professional freelancer delivering a finished piece of work for a client. "
    "Return the deliverable itself, complete and ready to hand over, in Markdown. "
    "Do not chat, do not ask questions back, do not describe what you would do: do it. "
    "Where the brief leaves a choice open, make a sensible one and state it in one line at the end."
)

CATEGORY_GUIDANCE: dict[str, str] = {
    "writing": "Write polished prose with a clear structure, headline and sections; match the requested length.",
    "translation": "Translate faithfully and idiomatically; keep formatting; list terms you chose not to translate.",
    "data-science": "Give the analysis, code and results; state assumptions; make every number reproducible.",
    "web-dev": "Deliver working code with file names, and short run instructions.",
    "engineering": "Deliver the design or calculation with units, assumptions, and checks of the result.",
    "sales-marketing": "Deliver ready-to-use copy with the audience, channel and call to action explicit.",
    "design": "Deliver a concrete specification: layout, typography, colours and rationale, ready to build.",
    "other": "Deliver the finished result the brief asks for.",
}

REVISION_ASK = (
    "Revise the latest draft so that it takes up every feedback point, the new ones above all. "
    "Return the complete revised deliverable, then a section '## Changes in v{version}' listing, "
    "point by point, what you changed for each new feedback point."
)


def system_prompt(category: str) -> str:
    guidance = CATEGORY_GUIDANCE.get(category, CATEGORY_GUIDANCE["other"])
    return f"{SYSTEM_BASE}\n\nCategory: {category}. {guidance}"


def _brief_block(brief: str) -> str:
    return f"# Brief\n\n{brief.strip()}\n"


def _feedback_block(points: tuple[FeedbackPoint, ...]) -> str:
    lines = ["# Feedback so far"]
    for i, point in enumerate(points, 1):
        mark = "NEW" if point.new else f"on v{point.version}, already addressed"
        lines.append(f"{i}. [{mark}] {point.author}: {point.text.strip()}")
    return "\n".join(lines) + "\n"


def build_request(
    *,
    project_number: int,
    version: int,
    category: str,
    brief: str,
    previous_draft: str | None,
    feedback: tuple[FeedbackPoint, ...],
    max_output_tokens: int,
) -> DraftRequest:
    """Render the prompt for version `version` (1 = first draft)."""
    prefix = _brief_block(brief)
    if version == 1 or previous_draft is None:
        user = prefix + "\nWrite the deliverable now."
        if feedback:
            user = prefix + "\n" + _feedback_block(feedback) + "\nWrite the deliverable now, taking up the feedback."
    else:
        user = (
            prefix
            + f"\n# Latest draft (v{version - 1})\n\n{previous_draft.strip()}\n\n"
            + _feedback_block(feedback)
            + "\n"
            + REVISION_ASK.format(version=version)
        )
    return DraftRequest(
        project_number=project_number,
        version=version,
        category=category,
        brief=brief,
        system=system_prompt(category),
        messages=(("user", user),),
        max_output_tokens=max_output_tokens,
        previous_draft=previous_draft,
        feedback=feedback,
        cache_prefix_chars=len(prefix),
    )
