"""Nothing a person or a model writes notifies anyone on Slack (issue 11, item 2).

Properties over hostile text (Slack's special tokens, disguised links, Markdown, Unicode) for every way a
text reaches Slack, and end to end through the signed web app of `draftloop serve` and the fake Web API:
the only live tokens are the experts' configured mentions, the requester's own, and links that show
where they go.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings, strategies as st

from adapters.chat.slack import blocks as sb, safe as slack_safe
from adapters.chat.slack.platform import SlackPlatform, make_client
from bot.replies import DraftHeader, Reply, ReplyKind
from tests.fakes.llm_server import FakeLLMServer
from tests.slack.conftest import CHANNEL, EXPERT, GROUP, REQUESTER, SlackHarness

EXPERT_MENTIONS = (EXPERT, GROUP)
LIVE_EXPERTS = {f"<@{EXPERT}>", f"<!subteam^{GROUP}>"}
DECOY_HOSTS = ("slack.com", "evil.example", "google.com", "xn--slck-8na.com")

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S0EVIL>",
    "<!subteam^S0EVIL|@writers>",
    "<@U0EVIL>",
    "<@W0EVIL|boss>",
    "<#C0GENERAL>",
    "<#C0GENERAL|general>",
    "@channel",
    "@here",
    "<https://evil.example/login|https://slack.com/login>",
    "<https://evil.example|slack.com>",
    "<https://slack.com@evil.example/|https://slack.com>",
    "[https://slack.com/login](https://evil.example/login)",
    "[slack.com](https://evil.example)",
    "[ｓｌａｃｋ．ｃｏｍ](https://evil.example)",
    "[Google](https://google.com)",
    "[docs](https://slack.com/help)",
    "https://evil.example/a?b=1&c=2",
    "<https://evil.example>",
    "**",
    "__",
    "~~",
    "`",
    "```",
    "\n```\n",
    "\n# ",
    "\n> ",
    "\n- ",
    "<",
    ">",
    "&",
    "|",
    "!",
    "@",
    "[",
    "](",
    ")",
    "&lt;!channel&gt;",
    "\ue000",
    "\ue0010\ue001",
    "\u200b",
    "\n",
    " ",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=40).map("".join)


# ---------------------------------------------------------------------- the oracle


def texts_of(node: Any) -> list[str]:
    """Every string under a `text` key, at any depth (section, context, header, button labels)."""
    if isinstance(node, list):
        return [t for item in node for t in texts_of(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if isinstance(node.get("text"), str) else []
    return found + [t for value in node.values() for t in texts_of(value)]


def assert_inert(text: str, allowed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every `<…>` in `text` is an allowed mention or a link that does not lie about its target."""
    tokens = re.findall(r"<([^<>]*)>", text)
    assert text.count("<") == len(tokens), f"an unterminated token in {text!r}"
    for token in tokens:
        if f"<{token}>" in allowed:
            continue
        assert re.match(r"https?://", token), f"a live token <{token}> in {text!r}"
        url, _, label = token.partition("|")
        if label:
            named = unicodedata.normalize("NFKC", html.unescape(label)).lower()
            target = (urlsplit(html.unescape(url)).hostname or "").lower()
            for decoy in DECOY_HOSTS:
                assert decoy not in named or decoy == target, f"link to {url} labelled {label!r}"


def assert_message_inert(text: str, blocks: list[dict[str, Any]], allowed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    assert_inert(text, allowed)
    for field in texts_of(blocks):
        assert_inert(field, allowed)


# ---------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(text=hostile_text)
def test_any_text_renders_with_only_the_experts_live(text: str) -> None:
    header = DraftHeader(number=3, state="in_review", version=1, category="writing", model="m")
    for reply in (
        Reply(text, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=EXPERT_MENTIONS),
        Reply(text, kind=ReplyKind.NOTICE),
        Reply(text, kind=ReplyKind.PROGRESS, header=header),
    ):
        fallback, blocks = sb.render(reply)
        assert_message_inert(fallback, blocks, LIVE_EXPERTS)
    # a long draft's summary beside its file
    fallback, blocks = sb.render(Reply("x", kind=ReplyKind.DRAFT, header=header), text_override=text)
    assert_message_inert(fallback, blocks)
    assert_inert(slack_safe.cut(sb.to_mrkdwn(text), 200))  # a private notice, cut to size


LONG = ["word " * 300, "https://evil.example/" + "a&" * 600, "[slack.com](https://evil.example/" + "b" * 900 + ")"]
long_text = st.lists(st.one_of(st.sampled_from(HOSTILE + LONG), st.text(max_size=12)), max_size=80).map("".join)


@settings(max_examples=60, deadline=None)
@given(text=long_text)
def test_long_text_split_and_cut_keeps_every_token_whole(text: str) -> None:
    for chunk in sb.split_text(sb.to_mrkdwn(text)):
        assert_inert(chunk)
    fallback, blocks = sb.render(Reply(text * 4, kind=ReplyKind.DRAFT, mentions=EXPERT_MENTIONS))
    assert_message_inert(fallback, blocks, LIVE_EXPERTS)


@settings(max_examples=100, deadline=None)
@given(category=hostile_text, model=hostile_text, agent=hostile_text, state=hostile_text)
def test_header_fields_render_inert(category: str, model: str, agent: str, state: str) -> None:
    header = DraftHeader(number=9, state=state, version=2, category=category, model=model, agent=agent)
    fallback, blocks = sb.render(Reply("body", kind=ReplyKind.DRAFT, header=header, controls=True))
    assert_message_inert(fallback, blocks)
    assert "<" not in sb.header_line(header)  # also the title of an uploaded file


@settings(max_examples=100, deadline=None)
@given(name=hostile_text, category=hostile_text)
def test_digest_blocks_render_inert(name: str, category: str) -> None:
    from bot.report.render import render_slack

    report = {
        "title": name,
        "by_expert": [{"name": name, "feedback": 1, "projects": 1, "expert_minutes": {}}],
        "by_category": [{"name": category, "decided": 1}],
        "waiting": [{"number": 1, "category": category, "version": 1, "waiting_hours": 2}],
    }
    assert_message_inert("", slack_safe.neutral_blocks(render_slack(report)))


# ---------------------------------------------------------------------- what the reader sees


def test_a_disguised_link_shows_its_real_target() -> None:
    out = sb.to_mrkdwn("<https://evil.example/login|https://slack.com/login>")
    assert out == "https://slack.com/login (<https://evil.example/login>)"
    assert sb.to_mrkdwn("[slack.com](https://evil.example)") == "slack.com (<https://evil.example>)"
    assert sb.to_mrkdwn("[the docs](https://slack.com/help)") == "<https://slack.com/help|the docs>"
    assert sb.to_mrkdwn("[slack.com/help](https://www.slack.com/help)") == "<https://www.slack.com/help|slack.com/help>"
    assert sb.to_mrkdwn("see https://x.example/a_b_c.") == "see <https://x.example/a_b_c>."


def test_special_tokens_show_as_typed() -> None:
    out = sb.to_mrkdwn("<!channel> <!here|here> <!subteam^S1> <@U1> <#C1> urgent")
    assert out == "&lt;!channel&gt; &lt;!here|here&gt; &lt;!subteam^S1&gt; &lt;@U1&gt; &lt;#C1&gt; urgent"
    assert sb.to_mrkdwn("```<!channel>\n<!here>\n```") == "```&lt;!channel&gt;\n&lt;!here&gt;\n```"


def test_configured_words_here_channel_everyone_are_not_pings() -> None:
    assert [sb.mention(w) for w in ("here", "@channel", "everyone")] == ["@here", "@channel", "@everyone"]
    assert sb.mention("<!here>") == "<!here>"  # written as Slack's token: the admin's explicit choice
    assert sb.mention("UEXP1") == "<@UEXP1>" and sb.mention("@S0GROUP") == "<!subteam^S0GROUP>"
    assert sb.mention("<https://evil.example|x>") == "@&lt;https://evil.example|x&gt;"


def test_blocks_are_verbatim_and_cuts_keep_tokens_whole() -> None:
    _, blocks = sb.render(Reply("a @channel b", mentions=(EXPERT,)))
    objects = [b["text"] for b in blocks if b["type"] == "section"]
    objects += [e for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert objects and all(o.get("verbatim") is True for o in objects)
    assert slack_safe.cut("ab <https://x.example|label> cd", 10) == "ab "


# ---------------------------------------------------------------------- through the platform and the app


async def test_a_request_is_posted_with_only_the_requester_live(fake_slack: Any) -> None:
    platform = SlackPlatform(make_client(fake_slack.token, base_url=fake_slack.api_url))
    root = await platform.post_root(CHANNEL, "asked for a draft:\n> <!channel> urgent", requester=REQUESTER)
    [call] = fake_slack.calls_of("chat.postMessage")
    assert call.params["parse"] == "none" and call.params["link_names"] is False
    text = fake_slack.find(CHANNEL, root.message_id)["text"]
    assert text == f"<@{REQUESTER}> asked for a draft:\n> &lt;!channel&gt; urgent"
    assert_inert(text, {f"<@{REQUESTER}>"})


def posted(fake: Any) -> list[dict[str, Any]]:
    """The params of every message call draftloop made."""
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral")
    return [c.params for c in fake.calls if c.method in methods]


async def test_draft_command_with_channel_ping_pings_nobody(slack: SlackHarness) -> None:
    status, _ = await slack.command("/draft", "[writing] <!channel> urgent: everyone read this", user=REQUESTER)
    assert status == 200
    await slack.settle()
    assert slack.drafts(), "the request went through"
    calls = posted(slack.fake)
    for params in calls:
        assert params["parse"] == "none" and params["link_names"] is False
        assert_message_inert(params.get("text", ""), params.get("blocks") or [], LIVE_EXPERTS | {f"<@{REQUESTER}>"})
    shown = [params.get("text", "") for params in calls]
    assert any("&lt;!channel&gt; urgent" in t for t in shown)  # what was asked is shown, as typed
    assert any(f"<@{EXPERT}>" in t for t in shown)  # the configured experts are pinged


async def test_a_model_draft_pings_nobody_but_the_experts(fake_slack: Any, slack_settings: Any) -> None:
    reply = "Dear <!everyone> and <!here|here>, see <https://evil.example/login|https://slack.com/login>. <@U0BOSS>"
    async with FakeLLMServer(reply=lambda model, prompt: reply) as llm:
        harness = SlackHarness(fake_slack, _with_model(fake_slack, slack_settings, llm))
        await harness.start()
        try:
            await harness.mention("[writing] Write the all-hands note")
            await harness.settle()
        finally:
            await harness.close()
    [draft] = [m for m in fake_slack.bot_messages(CHANNEL) if any(b["type"] == "actions" for b in m["blocks"])]
    assert_message_inert(draft["text"], draft["blocks"], LIVE_EXPERTS)
    assert "&lt;!everyone&gt;" in draft["text"] and "(<https://evil.example/login>)" in draft["text"]
    assert f"<@{EXPERT}>" in draft["text"] and f"<!subteam^{GROUP}>" in draft["text"]
    for params in posted(fake_slack):
        assert_message_inert(params.get("text", ""), params.get("blocks") or [], LIVE_EXPERTS)


async def test_a_long_draft_summary_and_file_title_ping_nobody(fake_slack: Any, slack_settings: Any) -> None:
    head = "<!channel> <!subteam^S0EVIL> [https://slack.com](https://evil.example)\n\n"
    long_text = head + "\n\n".join("All work and no play. " * 45 for _ in range(20))
    async with FakeLLMServer(reply=lambda model, prompt: long_text) as llm:
        harness = SlackHarness(fake_slack, _with_model(fake_slack, slack_settings, llm))
        await harness.start()
        try:
            await harness.mention("[writing] Write a very long report")
            await harness.settle()
        finally:
            await harness.close()
    [upload] = fake_slack.uploads.values()
    assert upload.completed and "<" not in upload.title
    assert any("&lt;!channel&gt;" in params.get("text", "") for params in posted(fake_slack))  # the summary
    for params in posted(fake_slack):
        assert_message_inert(params.get("text", ""), params.get("blocks") or [], LIVE_EXPERTS)


def _with_model(fake: Any, slack_settings: Any, llm: FakeLLMServer) -> Any:
    return slack_settings(
        fake, draftloop_agent="openai:gpt-test", openai_api_key="test-key", openai_base_url=llm.openai_base_url
    )
