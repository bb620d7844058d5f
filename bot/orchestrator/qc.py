"""The check a draft passes before experts see it (a category's `qc`: off, revise or flag).

A configured cheap agent (`qc_agent`) compares the draft with the brief; without one, the rules
below read the brief's explicit requirements and look for each in the draft:

- length: "600 words" (within 20%), "at least / at most / under / over N words", "N to M words";
  "N pages" (at least 250 words a page); "N tips / ideas / bullet points / steps …" (at least N list
  items or numbered headings);
- sections: "a Pricing section", "sections on A, B and C", "headings: A, B" (a heading line naming it);
- format: a table, a code block, a bulleted or numbered list, JSON;
- named items: every "double-quoted" phrase and what follows "mention …" appear in the draft;
- language: the language the brief asks for ("in German", "into French"), else the brief's own.

Outcomes: passed (shown as is); revised (one automatic revision with the gaps as its feedback, an
agent cycle never counted as expert feedback: it is no feedback row); flagged (shown with a short
checklist of the gaps, so the expert starts there). Gaps left after the revision are flagged too.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime

from bot.agent_spec import AgentSpec
from bot.agents import AgentPool
from bot.errors import DraftloopError
from bot.ports import DraftRequest, DraftResult, FeedbackPoint
from bot.prompts import build_request
from bot.settings import Settings
from storage import Session, routing as store

_log = logging.getLogger(__name__)

QC_AUTHOR = "draftloop QC"
PASSED, REVISED, FLAGGED = "passed", "revised", "flagged"
RULES = "rules"
MAX_GAPS = 8
WORDS_TOLERANCE = 0.2
WORDS_PER_PAGE = 250

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
}  # fmt: skip
_N = r"(\d[\d,]*|" + "|".join(_NUMBERS) + r")"
_AT_LEAST = ("at least", "no fewer than", "no less than", "over", "more than", "minimum", "min", "min.")
_AT_MOST = ("at most", "no more than", "under", "fewer than", "less than", "maximum", "max", "max.", "up to")
_WORDS_RANGE = re.compile(_N + r"\s*(?:-|–|to)\s*" + _N + r"[\s-]*words?\b", re.IGNORECASE)
_WORDS = re.compile(
    r"(?P<cmp>at least|at most|no more than|no fewer than|no less than|under|over|fewer than|less than|"
    r"more than|about|around|roughly|approximately|maximum|minimum|max\.?|min\.?|up to)?\s*"
    + _N.replace("(", "(?P<n>", 1)
    + r"[\s-]*words?\b",
    re.IGNORECASE,
)
_PAGES = re.compile(_N.replace("(", "(?P<n>", 1) + r"[\s-]*pages?\b", re.IGNORECASE)
_ITEMS = re.compile(
    _N.replace("(", "(?P<n>", 1)
    + r"\s+(?:[a-z-]+\s+){0,2}?(?P<what>bullet points|bullets|items|ideas|tips|examples|reasons|steps|questions|"
    r"headlines|taglines|titles|options|names|slogans|subject lines|tweets|points|variants|versions)\b",
    re.IGNORECASE,
)
_SECTION_BEFORE = re.compile(r"\b(?:an?|the)\s+[\"“']?(?P<name>[A-Z][\w&/-]*(?: [\w&/-]+){0,3}?)[\"”']?\s+section\b")
_SECTION_LIST = re.compile(
    r"\b(?:sections?|headings?|headers?)\s+(?:called|named|titled|headed|on|for|about)\s+(?P<list>[^.;:\n]+)"
    r"|\b(?:sections?|headings?|headers?)\s*:\s*(?P<list2>[^.;\n]+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“]([^\"”\n]{2,60})[\"”]")
_MENTION = re.compile(r"\bmention(?:s|ing)?\s+(?P<list>[^.;:!?\n]+)", re.IGNORECASE)
_LIST_LINE = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\S", re.MULTILINE)
_NUMBERED_LINE = re.compile(r"^\s*\d+[.)]\s+\S", re.MULTILINE)
_NUMBERED_HEADING = re.compile(r"^\s*#{1,6}\s*\d+[.):]?\s+\S", re.MULTILINE)
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s+(?P<md>.+)|\*\*(?P<bold>[^*]+)\*\*:?\s*|(?P<colon>[^\n:]{2,60}):\s*)$", re.MULTILINE
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\bor\b)\s*", re.IGNORECASE)

_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("table", re.compile(r"\b(?:a|in|as|the)\s+(?:\w+\s+)?table\b(?! of contents)", re.IGNORECASE)),
    (
        "code",
        re.compile(
            r"\bcode (?:block|snippet|sample|example)s?\b|\bsnippet\b|\b(?:python|bash|shell|sql|javascript|"
            r"typescript) (?:script|function|code|query|snippet)\b",
            re.IGNORECASE,
        ),
    ),
    ("numbered list", re.compile(r"\bnumbered (?:list|steps)\b", re.IGNORECASE)),
    ("list", re.compile(r"\bbullet(?:ed)? (?:list|points)\b|\b(?:as|in) a list\b", re.IGNORECASE)),
    ("json", re.compile(r"\b(?:in|as) json\b|\bjson (?:object|format|output|file)\b", re.IGNORECASE)),
)

LANGUAGES: dict[str, frozenset[str]] = {
    "English": frozenset("the and of to is in that for with this are be on it as you your by from".split()),
    "German": frozenset("der die das und ist nicht mit für ein eine zu den von auf sie ich wir dem des".split()),
    "French": frozenset("le la les et est des une un pour que dans avec sur pas nous vous du au ce".split()),
    "Spanish": frozenset("el la los las y es de que en un una para con por del se no su al como".split()),
    "Italian": frozenset("il lo la gli le e è di che un una per con non del della sono nel alla".split()),
    "Portuguese": frozenset("o a os as e é de que em um uma para com não do da no na por se".split()),
    "Dutch": frozenset("de het een en is van dat op te in met voor niet zijn er aan ook".split()),
}
_ASKED_LANGUAGE = re.compile(r"\b(?:in|into|to)\s+(?P<lang>" + "|".join(LANGUAGES) + r")\b", re.IGNORECASE)


def _number(raw: str) -> int:
    raw = raw.lower().replace(",", "")
    return _NUMBERS[raw] if raw in _NUMBERS else int(raw)


def words_in(text: str) -> int:
    return len(_WORD.findall(text))


def _length_gaps(brief: str, draft: str) -> list[str]:
    gaps: list[str] = []
    count = words_in(draft)
    ranged = _WORDS_RANGE.search(brief)
    if ranged:
        low, high = sorted((_number(ranged.group(1)), _number(ranged.group(2))))
        if not low <= count <= high:
            gaps.append(f"length: {low}–{high} words asked, the draft has {count}")
    else:
        match = _WORDS.search(brief)
        if match:
            n, cmp = _number(match.group("n")), (match.group("cmp") or "").lower()
            if cmp in _AT_LEAST and count < n:
                gaps.append(f"length: at least {n} words asked, the draft has {count}")
            elif cmp in _AT_MOST and count > n:
                gaps.append(f"length: at most {n} words asked, the draft has {count}")
            elif cmp not in _AT_LEAST + _AT_MOST and abs(count - n) > n * WORDS_TOLERANCE:
                gaps.append(f"length: about {n} words asked, the draft has {count}")
    pages = _PAGES.search(brief)
    if pages and count < _number(pages.group("n")) * WORDS_PER_PAGE:
        n = _number(pages.group("n"))
        gaps.append(f"length: {n} page{'s' if n != 1 else ''} asked, the draft has {count} words")
    items = _ITEMS.search(brief)
    if items:
        n, what = _number(items.group("n")), items.group("what").lower()
        found = max(len(_LIST_LINE.findall(draft)), len(_NUMBERED_HEADING.findall(draft)))
        if found < n:
            gaps.append(f"items: {n} {what} asked, the draft lists {found}")
    return gaps


def _names(raw: str) -> list[str]:
    out = []
    for part in _SPLIT.split(raw):
        name = re.sub(r"^(?:a|an|the)\s+", "", part.strip(" \"'“”‘’`*"), flags=re.IGNORECASE).strip()
        if name and len(name.split()) <= 5:
            out.append(name)
    return out


def sections_asked(brief: str) -> list[str]:
    asked = [m.group("name") for m in _SECTION_BEFORE.finditer(brief)]
    for m in _SECTION_LIST.finditer(brief):
        asked += _names(m.group("list") or m.group("list2") or "")
    return list(dict.fromkeys(asked))


def _headings(draft: str) -> list[str]:
    return [(m.group("md") or m.group("bold") or m.group("colon") or "").lower() for m in _HEADING.finditer(draft)]


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _section_gaps(brief: str, draft: str) -> list[str]:
    heads = [_norm(h) for h in _headings(draft)]

    def named(name: str) -> bool:
        # A heading that names the section, not a title quoting the brief ("… with a Pricing section").
        key = _norm(name)
        return any(key in h and len(h.split()) <= len(key.split()) + 3 for h in heads)

    return [f"section: no section named “{name}”" for name in sections_asked(brief) if not named(name)]


def _format_gaps(brief: str, draft: str) -> list[str]:
    gaps = []
    for name, asked in _FORMATS:
        if not asked.search(brief):
            continue
        if name == "table" and not (_TABLE_RULE.search(draft) or "<table" in draft.lower()):
            gaps.append("format: a table was asked for; the draft has none")
        elif name == "code" and "```" not in draft and not re.search(r"^( {4}|\t)\S", draft, re.MULTILINE):
            gaps.append("format: code was asked for; the draft has no code block")
        elif name == "numbered list" and len(_NUMBERED_LINE.findall(draft)) < 2:
            gaps.append("format: a numbered list was asked for; the draft has none")
        elif name == "list" and len(_LIST_LINE.findall(draft)) < 2:
            gaps.append("format: a list was asked for; the draft has none")
        elif name == "json" and not _has_json(draft):
            gaps.append("format: JSON was asked for; the draft has no JSON block")
    return gaps


def _has_json(draft: str) -> bool:
    if "```json" in draft.lower():
        return True
    start, end = draft.find("{"), draft.rfind("}")
    if start < 0 or end <= start:
        return False
    try:
        json.loads(draft[start : end + 1])
    except ValueError:
        return False
    return True


def _item_gaps(brief: str, draft: str, sections: list[str]) -> list[str]:
    named = [m.group(1).strip() for m in _QUOTED.finditer(brief)]
    for m in _MENTION.finditer(brief):
        named += _names(m.group("list"))
    body = _norm(draft)
    seen = {_norm(s) for s in sections}
    gaps = []
    for item in dict.fromkeys(named):
        key = _norm(item)
        if key and key not in seen and key not in body:
            gaps.append(f"named item: “{item}” is not in the draft")
    return gaps


def language_of(text: str) -> str | None:
    """The language whose common words the text uses most, when it clearly leads."""
    words = [w.lower() for w in _WORD.findall(text)]
    scores = sorted(((sum(1 for w in words if w in common), lang) for lang, common in LANGUAGES.items()), reverse=True)
    (best, lang), (second, _) = scores[0], scores[1]
    return lang if best >= 3 and best >= 2 * second else None


def _language_gaps(brief: str, draft: str) -> list[str]:
    asked = _ASKED_LANGUAGE.findall(brief)
    expected = asked[-1].capitalize() if asked else language_of(brief)
    found = language_of(draft)
    if expected is None or found is None or found == expected:
        return []
    return [f"language: {expected} expected, the draft is in {found}"]


def rule_gaps(brief: str, draft: str) -> list[str]:
    """The brief's explicit requirements the draft misses, one short line each."""
    sections = sections_asked(brief)
    gaps = [
        *_length_gaps(brief, draft),
        *_section_gaps(brief, draft),
        *_format_gaps(brief, draft),
        *_item_gaps(brief, draft, sections),
        *_language_gaps(brief, draft),
    ]
    return gaps[:MAX_GAPS]


def checklist(gaps: list[str] | tuple[str, ...]) -> str:
    """What the experts see under a flagged draft: where to start."""
    return "\n\n---\n**Check first** (the automatic check found):\n" + "\n".join(f"- [ ] {g}" for g in gaps)


QC_SYSTEM = (
    "You check a draft against its brief before experts read it. List only the brief's explicit "
    "requirements the draft misses (length, sections, format, named items, language), one per line "
    "starting with '- ', at most eight. If it misses none, answer PASS."
)
QC_TIMEOUT = 30.0


def parse_answer(text: str) -> list[str]:
    gaps = [ln.strip()[2:].strip()[:200] for ln in text.splitlines() if ln.strip()[:2] in ("- ", "* ")]
    return [g for g in gaps if g][:MAX_GAPS]


@dataclass(frozen=True)
class Checked:
    """A version after its check: what to store and show."""

    result: DraftResult
    used: AgentSpec
    verdict: str
    checker: str
    gaps: tuple[str, ...] = ()
    remaining: tuple[str, ...] = ()
    auto_revisions: int = 0

    @property
    def shown(self) -> str:
        """The text the thread shows: the draft, and the checklist when gaps remain."""
        return self.result.text + (checklist(self.remaining) if self.remaining else "")

    async def store(self, session: Session, project_id: int, version: int, now: datetime) -> None:
        await store.record_check(
            session=session,
            project_id=project_id,
            version=version,
            verdict=self.verdict,
            checker=self.checker,
            gaps=self.gaps,
            remaining=self.remaining,
            auto_revisions=self.auto_revisions,
            now=now,
        )


class QualityGate:
    def __init__(self, *, settings: Settings, agents: AgentPool) -> None:
        self.settings = settings
        self.agents = agents

    def enabled(self, category: str) -> bool:
        return self.settings.category(category).qc != "off"

    async def gaps(self, category: str, brief: str, draft: str, *, number: int = 0) -> tuple[list[str], str]:
        """The gaps and who found them: the category's qc agent, else (or when it fails) the rules."""
        name = self.settings.category(category).qc_agent
        if name is None:
            return rule_gaps(brief, draft), RULES
        request = DraftRequest(
            project_number=number,
            version=0,
            category="qc",
            brief=brief,
            system=QC_SYSTEM,
            messages=(("user", f"BRIEF:\n{brief[:6000]}\n\nDRAFT:\n{draft[:20000]}"),),
            max_output_tokens=400,
        )
        try:
            answer = await self.agents.complete(name, request, timeout=QC_TIMEOUT)
        except DraftloopError as exc:
            _log.warning("qc agent %s failed, using the rules: %s", name, type(exc).__name__)
            return rule_gaps(brief, draft), RULES
        return parse_answer(answer.text), name

    async def run(
        self, request: DraftRequest, result: DraftResult, used: AgentSpec, *, fallbacks: tuple[str, ...] = ()
    ) -> Checked:
        """Check the draft; in `revise` mode, one automatic revision with the gaps as its feedback
        (the version stored is the revision, its tokens the sum of both calls)."""
        mode = self.settings.category(request.category).qc
        found, checker = await self.gaps(request.category, request.brief, result.text, number=request.project_number)
        if not found:
            return Checked(result, used, PASSED, checker)
        if mode != "revise":
            return Checked(result, used, FLAGGED, checker, tuple(found), tuple(found))
        point = FeedbackPoint(
            "Fix what the automatic check found:\n" + "\n".join(f"- {g}" for g in found),
            QC_AUTHOR,
            request.version,
            True,
        )
        spec = self.agents.spec(used.name)
        again = build_request(
            project_number=request.project_number,
            version=request.version,
            category=request.category,
            brief=request.brief,
            previous_draft=result.text,
            feedback=(*request.feedback, point),
            max_output_tokens=spec.max_tokens,
            context_tokens=spec.context_tokens,
        )
        try:
            revised, used_again = await self.agents.draft(agents=[used.name, *fallbacks], request=again)
        except DraftloopError as exc:
            _log.warning("the automatic revision failed (%s); the draft is shown with its gaps", type(exc).__name__)
            return Checked(result, used, FLAGGED, checker, tuple(found), tuple(found))
        total = replace(
            revised,
            input_tokens=result.input_tokens + revised.input_tokens,
            output_tokens=result.output_tokens + revised.output_tokens,
            cached_tokens=result.cached_tokens + revised.cached_tokens,
        )
        left, _ = await self.gaps(request.category, request.brief, revised.text, number=request.project_number)
        return Checked(total, used_again, REVISED, checker, tuple(found), tuple(left), auto_revisions=1)
