"""Slack's text boundary: what a person or a model wrote never notifies anyone on Slack.

Everything draftloop posts to Slack is rendered here. Text from a request, a reply or a model is escaped
whole (`&`, `<`, `>` as entities), so `<!channel>`, `<!here|here>`, `<!everyone>`, `<!subteam^S…>`,
`<@U…>` and `<#C…>` show as the characters typed and ping nobody. The only `<…>` tokens in the output are
the ones made here:

- links, `<url>` or `<url|label>`, from Markdown links, Slack-style links and bare URLs; a label that
  names another site than the target is shown beside it instead (`label (<url>)`, see `links`);
- mentions of configured experts (`mention`) and of the person a message is posted for (`user`).

Slack parses more than `<…>` tokens when asked to: `link_names` turns a plain `@channel` into a ping and
the default `verbatim: false` of a mrkdwn object runs "automatic parsing" over it. The platform posts
with `parse="none"` and `link_names=False`, and every mrkdwn object is `verbatim`, so plain text stays
plain; bare URLs are linked here instead.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.chat.common import links

# Placeholders for rendered tokens while bold/strike marks are converted around them (private use;
# taken out of the input first).
_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}([0-9]+){_CLOSE}")

_URL_CHARS = r"[^\s<>|()]"
_SEGMENT = re.compile(
    r"(?P<code>`[^`\n]+`)"
    rf"|\[(?P<label>[^\[\]\n]{{1,300}})\]\((?P<target>https?://(?:{_URL_CHARS}|\({_URL_CHARS}*\)){{1,1000}})\)"
    r"|<(?P<slack>https?://[^\s<>|]{1,1000})(?:\|(?P<slabel>[^<>\n]{0,300}))?>"
    r"|(?P<bare>https?://[^\s<>|]{1,1000})"
)
_TRAILING = ".,;:!?'\"*_~"
# A longer link is shown as text: a message is split into sections of ~2,900 characters and a token
# must fit whole into one (half a token would swallow what follows it).
MAX_TOKEN = 1200
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_STRIKE = re.compile(r"~~(.+?)~~")

USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
# A configured mention written as Slack's own token: the admin's explicit choice, kept as given.
_CONFIGURED_TOKEN = re.compile(
    r"<(?:@[UW][A-Z0-9]{2,}|!subteam\^S[A-Z0-9]{2,}|!(?:here|channel|everyone)|#C[A-Z0-9]{2,})(?:\|[^<>]*)?>"
)

POST_PARAMS: dict[str, Any] = {"parse": "none", "link_names": False}


def esc(text: str) -> str:
    """Slack's three control characters as entities: the text shows as typed and parses as nothing."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Text for a `plain_text` object or a file title (entities would show literally there)."""
    return text.replace("<", "\u2039").replace(">", "\u203a")


def inline(line: str) -> str:
    """One line of Markdown as safe mrkdwn: links made here, everything else escaped, then bold/strike."""
    line = line.replace(_OPEN, "\ufffd").replace(_CLOSE, "\ufffd")
    kept: list[str] = []
    out: list[str] = []
    last = 0
    for m in _SEGMENT.finditer(line):
        out.append(esc(line[last : m.start()]))
        rendered, tail = _segment(m)
        if len(rendered) > MAX_TOKEN:
            rendered, tail = esc(m.group(0)), ""
        kept.append(rendered)
        out.append(f"{_OPEN}{len(kept) - 1}{_CLOSE}{esc(tail)}")
        last = m.end()
    out.append(esc(line[last:]))
    text = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", "".join(out))
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    return _SLOT.sub(lambda m: kept[int(m.group(1))], text)


def _segment(m: re.Match[str]) -> tuple[str, str]:
    """(the rendered token, text after it that was not part of it)."""
    if m.group("code") is not None:
        return esc(m.group("code")), ""
    if m.group("target") is not None:
        return link(m.group("target"), m.group("label")), ""
    if m.group("slack") is not None:
        return link(m.group("slack"), m.group("slabel")), ""
    url, tail = _trim(m.group("bare"))
    return link(url), tail


def _trim(url: str) -> tuple[str, str]:
    """A bare URL without the punctuation that ends its sentence (as GitHub's autolinks do)."""
    end = len(url)
    while end > 0:
        if url[end - 1] in _TRAILING:
            end -= 1
        elif url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end):
            end -= 1
        else:
            break
    return url[:end], url[end:]


def link(url: str, label: str | None = None) -> str:
    """A link that shows where it goes: `<url>`, `<url|label>`, or `label (<url>)` for a disguise."""
    target = _url(url)
    text = (label or "").strip()
    if not text or text in (url, url.split("://", 1)[-1]):
        return f"<{target}>"
    if links.disguised(text, url):
        return f"{esc(text)} (<{target}>)"
    return f"<{target}|{esc(text)}>"


def _url(url: str) -> str:
    # Slack sends URLs it linked with `&amp;`; a model writes `&`. Either way, one `&amp;` goes out.
    raw = url.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return esc(raw)


def mention(handle: str) -> str:
    """A configured expert as a Slack mention: U…/W… user ids, S… user groups, or a token as written.

    `here`, `channel` and `everyone` written as words stay words (`@here`, pinging nobody): a
    channel-wide ping must be configured as Slack's token, `<!here>`, so that it is a choice and not
    a name that happened to match.
    """
    handle = handle.strip()
    if _CONFIGURED_TOKEN.fullmatch(handle):
        return handle
    name = handle.removeprefix("@")
    if USER_ID.fullmatch(name):
        return f"<@{name}>"
    if GROUP_ID.fullmatch(name):
        return f"<!subteam^{name}>"
    return esc(f"@{name}")


def user(user_id: str) -> str:
    """The mention of one person draftloop posts for (a requester); anything but an id stays text."""
    return f"<@{user_id}>" if USER_ID.fullmatch(user_id) else esc(user_id)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, never ending inside a `<…>` token (half a link would swallow what follows)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    return head


def neutral_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks built elsewhere (the digest) with every text object made inert: mrkdwn escaped and
    verbatim, plain_text without angle brackets. For blocks that carry no token of draftloop's own."""
    return [_neutral(block) for block in blocks]


def _neutral(node: Any) -> Any:
    if isinstance(node, list):
        return [_neutral(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _neutral(value) for key, value in node.items()}
    if isinstance(out.get("text"), str) and out.get("type") == "mrkdwn":
        out["text"] = esc(out["text"])
        out["verbatim"] = True
    elif isinstance(out.get("text"), str) and out.get("type") == "plain_text":
        out["text"] = plain(out["text"])
    return out


# ---------------------------------------------------------------- standard Markdown (markdown blocks, streams)

_MD_BROADCAST = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)
_MD_LINK = re.compile(r"\[(?P<label>[^\[\]\n]{1,300})\]\((?P<target>https?://[^\s()]{1,1000})\)")


def markdown(text: str) -> str:
    """Standard Markdown (a `markdown` block, a streamed message) that notifies nobody and hides no link.

    Slack reads its own tokens (`<!channel>`, `<@U…>`, `<#C…>`, `<https://…|label>`) inside Markdown
    too; every `<` goes out as `&lt;`, which Slack shows as the character and never reads as a token.
    `>` stays (a Markdown quote) and so does `&` (an entity is shown, never read again as a token, and
    link targets keep their query strings). A plain `@here` gets a zero-width space; a Markdown link
    whose label names another site than its target shows both (`label (url)`). Everything else is
    left as written: code, emphasis, lists and headings render as the model wrote them.
    """
    text = text.replace("<", "&lt;")
    text = _MD_BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)
    return _MD_LINK.sub(_md_link, text)


def _md_link(m: re.Match[str]) -> str:
    label, target = m.group("label"), m.group("target")
    if links.disguised(label.strip(), target):
        return f"{label} ({target})"
    return m.group(0)
