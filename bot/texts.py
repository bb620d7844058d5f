"""Every sentence draftloop says in a chat, in one place (a platform's own help sentences are in its
policy, bot/platforms.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from bot import platforms
from bot.events import Actor, Outcome

if TYPE_CHECKING:
    from bot.triage import Triage
    from storage.models import Project


def plural(count: float, one: str, many: str | None = None) -> str:
    """`1 project`, `2 projects`, `1,200 characters`: the count and the word that agrees with it.

    `many` is the plural when adding an s is wrong (`1 feedback point`, `3 feedback points` need no
    `many`; `1 person`, `2 people` do). A fraction is plural: `1.5 cycles`.
    """
    word = one if count == 1 else (many or f"{one}s")
    shown = f"{count:,}" if isinstance(count, int) else f"{count:,g}"
    return f"{shown} {word}"


# What went wrong is said as it is: whether the message was saved decides what the person must do.
INTERNAL_ERROR = "Something went wrong on our side and this message was not saved. Please send it again in a moment."
SAVED_THEN_FAILED = (
    "Something went wrong on our side after your message was saved; draftloop picks it up again shortly."
)
KEPT_FOR_RETRY = "Something went wrong on our side. Your message is kept and will be handled again shortly."

_HELP = """*draftloop* turns a request into an AI draft that experts improve in the thread.

• Start: {start} — e.g. `{example}`.
  Begin with `[category]` to choose one of: writing, translation, data-science, web-dev,
  engineering, sales-marketing, design, other.
• Feedback: reply in the project's thread; each reply starts a revision.
  Say how long you spent (`20m`) to count expert time.
• Aside: start a reply with `//` to comment without a revision.
• Decide: {decide} (the requester, the category's experts or an admin).
• Commands: {commands}."""


def help_text(platform: str) -> str:
    """The help, with the platform's own sentences (its policy's; a generic set for an unknown name)."""
    return _HELP.format(**asdict(platforms.policy(platform).help))


def too_long(what: str, size: int, limit: int) -> str:
    return f"That {what} is {plural(size, 'character')}; the limit is {limit:,}. Attach the material as a file instead."


def already_a_project(number: int | None) -> str:
    which = f" #{number}" if number is not None else ""  # None: its project is not committed yet
    return f"That message is already project{which}; reply in its thread."


def unknown_project(number: int) -> str:
    return f"There is no project #{number}. `/status` lists the open ones."


def no_project_here(number: int) -> str:
    """A command naming a project that does not exist, or that lives elsewhere: one text for both."""
    return f"No project #{number} here."


def ack(number: int, found: Triage, *, asking: str | None = None, quiet: bool = False) -> str:
    """`quiet`: the project is likely fine as is, so no expert is named or pinged until someone asks."""
    experts = ", ".join(found.mentions) if found.mentions else "anyone in this thread"
    who = REVIEW_ON_REQUEST if quiet else f"Feedback from: {experts}."
    why = "" if found.reason == "given" else f" ({found.reason})"
    if asking:
        return f"Project #{number} · {found.category}{why}; asking {asking} for the category before drafting. {who}"
    return (
        f"Project #{number} · {found.category}{why} · agent {found.agent.name} ({found.agent.model}). "
        f"{who} Drafting v1 now."
    )


# Human or agent (bot/orchestrator/routing.py): a project likely fine as is pings experts only when asked.
REVIEW_ON_REQUEST = "No expert is pinged: reply `review` to ask them."


def review_asked(project: Project, who: str, mentions: tuple[str, ...]) -> str:
    experts = ", ".join(mentions) if mentions else "anyone in this thread"
    return f"#{project.id}: {who} asks for a review of v{project.current_version}. Feedback from: {experts}."


def review_already(project: Project) -> str:
    return f"#{project.id}'s experts were asked already; its drafts are shown to them from now on."


def review_not_quiet(project: Project) -> str:
    return f"#{project.id} is not marked likely fine as is: its experts see its drafts already."


# Compare two agents (bot/orchestrator/compare.py): one request, drafts A and B, one pick.
def compare_label(label: str, agent: str, model: str) -> str:
    return f"**{label}** · agent {agent} ({model})"


def compare_choose(number: int) -> str:
    return f"Two drafts of #{number} to compare: reply `pick A` or `pick B` (the requester or an expert)."


def compare_ack(agent_a: str, agent_b: str) -> str:
    return f"Comparing two agents: A is {agent_a}, B is {agent_b}; both drafts appear here, then pick one."


def compare_unavailable(category: str) -> str:
    return f"Compare needs two agents in {category} (`agents` or a `fallback`); drafting with one."


def compare_failed(project: Project, agent: str, reason: str) -> str:
    return f"⚠️ #{project.id}: draft B ({agent}) could not be written. {reason}. Draft A stands alone."


def picked(project: Project, who: str, label: str, agent: str, other: str, other_agent: str) -> str:
    return (
        f"#{project.id}: {label} ({agent}) picked by {who}; it is v{project.current_version} now. "
        f"{other} ({other_agent}) is kept, marked not picked."
    )


def pick_made(project: Project, who: str, label: str, agent: str) -> str:
    return f"#{project.id}: {label} ({agent}) was picked by {who}."


def not_allowed_pick(project: Project) -> str:
    return f"Not allowed: only the requester, a {project.category} expert or an admin can pick for #{project.id}."


def pick_refused(project: Project, why: str) -> str:
    return f"#{project.id}: no pick. {why}"


def drafting(version: int) -> str:
    return f"Writing v{version}…"


def moved_to_file(version: int) -> str:
    return f"v{version} is attached as a file below."


def file_summary(project: Project, text: str) -> str:
    head = " ".join(text.split())[:400]
    size = plural(len(text), "character")
    return f"v{project.current_version} is {size}, attached as a Markdown file. It begins: {head}…"


def closed(project: Project) -> str:
    return f"#{project.id} is already {project.state}; your note is kept. Start a new request to continue."


def comment_only(project: Project) -> str:
    return (
        f"Your comment on #{project.id} is kept, but only the requester and the {project.category} experts "
        "start revisions."
    )


def noted_busy(project: Project) -> str:
    return f"Noted for #{project.id}: a version is being written now; your feedback goes into the next one."


def noted_failed(project: Project) -> str:
    return f"Noted. #{project.id} failed earlier ({project.last_error}); reply `retry` to try again with your feedback."


def not_allowed(project: Project) -> str:
    return (
        f"Not allowed: only the requester, a {project.category} expert or an admin can accept or reject #{project.id}."
    )


def no_draft_yet(project: Project) -> str:
    return f"#{project.id} has no draft yet; wait for v1 or reply `reject` to drop it."


def person(actor: Actor, project: Project | None = None) -> str:
    """How a message names someone: by name, never by a ping.

    The name the platform gave with the event; for the requester when it gave none (a Slack message
    or reaction carries only an id), the name stored with their request; the platform id last.
    """
    if actor.name:
        return actor.name
    if project is not None and actor.user_id == project.requester_id and project.requester_name:
        return project.requester_name
    return actor.user_id


def decided(
    project: Project, actor: Actor, outcome: Outcome, *, reason: str | None = None, comment: str | None = None
) -> str:
    who = person(actor, project)
    end = "" if who.endswith(".") else "."  # "by Alice B." ends the sentence once
    if outcome == Outcome.ACCEPT:
        return f"✅ #{project.id} accepted at v{project.current_version} by {who}{end}"
    text = f"❌ #{project.id} rejected at v{project.current_version} by {who}{end}"
    if reason:
        text += f" Reason: {reason}."
    if comment:
        shown = " ".join(comment.split())
        text += f"\n> {shown[:500]}{'…' if len(shown) > 500 else ''}"
    return text


def failed(project: Project, version: int, reason: str) -> str:
    return f"⚠️ #{project.id}: v{version} could not be written. {reason}. Nothing was lost: reply `retry` to try again."


def status_line(project: Project) -> str:
    brief = " ".join(project.brief.split())[:60]
    v = f"v{project.current_version}" if project.current_version else "no draft yet"
    return f"#{project.id} · {project.state.replace('_', ' ')} · {v} · {project.category} · {brief}"


# `mine` (and a platform's home view): what waits on one person, by why.
MINE_HEADINGS = {
    "decide": "Drafts waiting on your decision",
    "review": "Waiting on your feedback as an expert",
    "requested": "Your open requests",
}
NOTHING_WAITS = "Nothing waits on you right now."


def mine_line(number: int, state: str, version: int, category: str, brief: str) -> str:
    v = f"v{version}" if version else "no draft yet"
    return f"#{number} · {state.replace('_', ' ')} · {v} · {category} · {brief}"


# One-tap feedback and reject reasons, as a platform shows them.
SIGNAL_THANKS = {"up": "Thanks: 👍 noted for v{version}.", "down": "Thanks: 👎 noted for v{version}."}
REJECT_REASON_PROMPT = "Why reject it?"
REJECT_COMMENT_PROMPT = "Anything the agent or the experts should know? (optional)"
