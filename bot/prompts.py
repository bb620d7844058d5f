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


# Token budget: a conservative estimate (about three characters per token for English prose and
# code), so a prompt we think fits does fit; the output allowance and a margin come off the top.
CHARS_PER_TOKEN = 3
BUDGET_MARGIN_TOKENS = 256
ELIDED = "\n\n[… {n:,} characters of this draft left out to fit the model's context …]\n\n"


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _draft_block(number: int, text: str, *, latest: bool) -> str:
    title = f"Latest draft (v{number})" if latest else f"Earlier draft (v{number}), for context"
    return f"\n# {title}\n\n{text.strip()}\n\n"


def _shorten(text: str, max_chars: int) -> str:
    """Keep the head and the tail of a draft, eliding the middle, within `max_chars`."""
    if len(text) <= max_chars:
        return text
    keep = max(0, max_chars - len(ELIDED.format(n=len(text))))
    head = keep * 2 // 3
    tail = keep - head
    cut = len(text) - head - tail
    return text[:head] + ELIDED.format(n=cut) + (text[len(text) - tail :] if tail else "")


def fit_drafts(
    *,
    fixed_chars: int,
    latest: tuple[int, str] | None,
    earlier: tuple[tuple[int, str], ...],
    budget_tokens: int | None,
) -> tuple[str, tuple[int, ...]]:
    """The drafts section within the budget: older drafts are dropped first (oldest before newer),
    then the latest draft is shortened in the middle. The brief and the feedback (`fixed_chars`)
    are never cut. Returns the text and the version numbers of the earlier drafts kept."""
    kept = list(earlier)
    if budget_tokens is None:
        room = None
    else:
        room = max(0, budget_tokens * CHARS_PER_TOKEN - fixed_chars)

    def render() -> str:
        blocks = [_draft_block(n, t, latest=False) for n, t in kept]
        if latest is not None:
            blocks.append(_draft_block(latest[0], latest[1], latest=True))
        return "".join(blocks)

    text = render()
    while room is not None and len(text) > room and kept:
        kept.pop(0)
        text = render()
    if room is not None and latest is not None and len(text) > room:
        frame = len(_draft_block(latest[0], "", latest=True))
        short = _shorten(latest[1].strip(), max(0, room - frame))
        text = _draft_block(latest[0], short, latest=True)
    return text, tuple(n for n, _ in kept)


def build_request(
    *,
    project_number: int,
    version: int,
    category: str,
    brief: str,
    previous_draft: str | None,
    feedback: tuple[FeedbackPoint, ...],
    max_output_tokens: int,
    context_tokens: int | None = None,
    earlier_drafts: tuple[tuple[int, str], ...] = (),
) -> DraftRequest:
    """Render the prompt for version `version` (1 = first draft).

    `context_tokens` is the agent's prompt budget (None: unlimited); `earlier_drafts` are
    (number, text) of versions before the latest, oldest first, included while they fit.
    """
    system = system_prompt(category)
    prefix = _brief_block(brief)
    if version == 1 or previous_draft is None:
        user = prefix + "\nWrite the deliverable now."
        if feedback:
            user = prefix + "\n" + _feedback_block(feedback) + "\nWrite the deliverable now, taking up the feedback."
    else:
        tail = _feedback_block(feedback) + "\n" + REVISION_ASK.format(version=version)
        budget = None
        if context_tokens is not None:
            budget = context_tokens - max_output_tokens - BUDGET_MARGIN_TOKENS - estimate_tokens(system)
        drafts, _ = fit_drafts(
            fixed_chars=len(prefix) + len(tail),
            latest=(version - 1, previous_draft),
            earlier=earlier_drafts,
            budget_tokens=budget,
        )
        user = prefix + drafts + tail
    return DraftRequest(
        project_number=project_number,
        version=version,
        category=category,
        brief=brief,
        system=system,
        messages=(("user", user),),
        max_output_tokens=max_output_tokens,
        previous_draft=previous_draft,
        feedback=feedback,
        cache_prefix_chars=len(prefix),
    )
