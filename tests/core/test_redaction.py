"""One redaction for everything that leaves the process: chat posts (every path), stored errors,
logs (messages and tracebacks) and the digest. Secrets come from the settings: every token and
key, the signing secret, the database password and each agent's `key_env` variable."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot import redact
from bot.agents import register_backend, unregister_backend
from bot.app.runtime import Runtime
from bot.events import Actor, CommandInvoked, Locator, MessageRef, ThreadRef, ThreadReply
from bot.ports import PlatformLimits
from bot.redact import MASK, Redactor
from bot.replies import Reply, ReplyKind
from bot.report import render as digest_render
from bot.settings import Settings
from storage.models import Project
from tests.conftest import reply_event, request_event
from tests.core._process_log import process_log
from tests.fakes.agents import EchoAgent
from tests.fakes.llm_server import FakeLLMServer, Fault
from tests.fakes.recording_chat import RecordingChat


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    yield from process_log()


BOT_TOKEN = "xoxb-1111111111-2222222222-QWERTYuiopASDFGHjkl"
APP_TOKEN = "xapp-1-A0123456789-1234567890-abcdef0123456789"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"  # 32 hex, no shape: masked by value only
DISCORD = "discord-token-value-Zq8Ww2"
OPENAI = "sk-test-redact-0123456789abcdef"
ANTHROPIC = "sk-ant-test-redact-0123456789"
TEAM_KEY = "team-key-value-77aa88bb"
DB_PASSWORD = "Db-Pass/w0rd@example"  # written %-encoded in the URL
DB_URL = "postgresql://draftloop:Db-Pass%2Fw0rd%40example@db.internal:5432/draftloop"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING, DISCORD, OPENAI, ANTHROPIC, TEAM_KEY, DB_PASSWORD, "Db-Pass%2Fw0rd%40example")

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the store plays no part

CONFIG = """
[agents.writer]
provider = "openai"
model = "gpt-leaky"
max_retries = 0
key_env = "TEAM_OPENAI_KEY"

[categories.writing]
agent = "writer"
"""


@pytest.fixture
def secret_settings(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Settings]:
    monkeypatch.setenv("TEAM_OPENAI_KEY", TEAM_KEY)

    def make(**fields: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_app_token": APP_TOKEN,
            "slack_signing_secret": SIGNING,
            "discord_token": DISCORD,
            "openai_api_key": OPENAI,
            "anthropic_api_key": ANTHROPIC,
            "database_url": DB_URL,
        }
        values.update(fields)
        return settings_factory(CONFIG, **values)

    return make


@pytest.fixture(autouse=True)
def keep_process_redactor() -> Iterator[None]:
    before = redact.active()
    yield
    redact.configure(before)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as server:
        yield server


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


# ---------------------------------------------------------------------------- the function


def test_every_configured_secret_is_masked(secret_settings: Callable[..., Settings]) -> None:
    r = Redactor.from_settings(secret_settings())
    text = " | ".join(f"value {i}: {secret}." for i, secret in enumerate(SECRETS))
    masked = r(text)
    assert leaked(masked) == []
    assert masked.count(MASK) == len(SECRETS)
    assert r(masked) == masked  # idempotent: masking twice changes nothing


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-9876543210-1234567890-abcdefABCDEF",
        "xoxp-1-abcdefgh12345",
        "xapp-1-A0FFFF-12345-deadbeef",
        "sk-proj-Ab3dEfGhIjKlMnOpQrStUv",
        "sk-ant-api03-abc123DEF456ghi789",
        "sk-proj-ab12**********************wxyz",  # a provider's half-masked echo
        "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123",  # a Discord bot token
    ],
)
def test_token_shapes_are_masked_without_configuration(token: str) -> None:
    assert token not in Redactor()(f"the server said: {token}, twice: ({token})")


def test_bearer_and_url_passwords_keep_their_context() -> None:
    r = Redactor()
    assert r("Authorization: Bearer abc123def456ghi") == f"Authorization: Bearer {MASK}"
    assert r("postgresql://bot:hunter2@db:5432/x") == f"postgresql://bot:{MASK}@db:5432/x"


@pytest.mark.parametrize(
    "text",
    [
        "A risk-assessment-2024 model for the board",
        "Use scikit-learn's pipeline; sk-learn is its nickname",
        "Send `Authorization: Bearer YOUR_TOKEN` with each call",
        "postgresql://db.example:5432/app and https://example.com/a:b",
        "xoxo-hugs from the team",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor(["not-in-this-text-secret"])(text) == text


_TOKEN_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~+/=-")


@hsettings(max_examples=150, deadline=None)
@given(
    secrets=st.lists(st.text(_TOKEN_CHARS, min_size=8, max_size=40), min_size=1, max_size=4),
    parts=st.lists(st.text(max_size=30), min_size=2, max_size=6),
    picks=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=5),
)
def test_no_configured_secret_survives_anywhere_in_any_text(
    secrets: list[str], parts: list[str], picks: list[int]
) -> None:
    # Secrets (token alphabet) dropped between arbitrary text, touching, overlapping their neighbours.
    text = parts[0]
    for i, pick in enumerate(picks):
        text += secrets[pick % len(secrets)] + parts[(i + 1) % len(parts)]
    masked = Redactor(secrets)(text)
    assert [s for s in secrets if s in masked] == []


# ---------------------------------------------------------------------------- keys the providers declare


def test_a_providers_declared_key_is_masked_though_no_agent_uses_it(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "echo-provider-key-5566aa"  # no token shape: masked by value only
    monkeypatch.setenv("ECHO_TEST_KEY", secret)
    register_backend("echo-test", EchoAgent, key_env="ECHO_TEST_KEY")
    try:
        from_settings, from_environ = Redactor.from_settings(settings_factory()), Redactor.from_environ()
    finally:
        unregister_backend("echo-test")
    assert from_settings(f"key {secret}.") == f"key {MASK}." == from_environ(f"key {secret}.")


def test_built_in_keys_are_masked_with_no_settings_field_of_their_own(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not {"openai_api_key", "anthropic_api_key"} & set(Settings.model_fields)  # the backends declare them
    monkeypatch.setenv("OPENAI_API_KEY", "openai-env-key-0011")
    given = settings_factory(anthropic_api_key="anthropic-given-key-0022")  # a value given, not in the env
    assert Redactor.from_settings(given)("openai-env-key-0011 / anthropic-given-key-0022") == f"{MASK} / {MASK}"
    assert Redactor.from_environ()("openai-env-key-0011") == MASK
    assert "anthropic-given-key-0022" not in repr(given)


# ---------------------------------------------------------------------------- chat, store, logs


async def test_provider_error_quoting_slack_secrets_reaches_no_thread_store_or_log(
    secret_settings: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    llm: FakeLLMServer,
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = make_runtime(secret_settings(openai_base_url=llm.openai_base_url, draftloop_agent="writer"))
    body = f"upstream rejected token {BOT_TOKEN} signed with {SIGNING}; db {DB_URL}; key {TEAM_KEY}"
    llm.inject(Fault.http(400, body), model="gpt-leaky", times=None)

    await rt.workflow.handle(request_event("[writing] a post on onboarding"))
    await rt.workflow.handle(reply_event(1, "status"))

    async with rt.db.session() as s:
        project = await s.get(Project, 1)
    assert project is not None and project.state == "failed"
    assert "request rejected (400)" in project.last_error and MASK in project.last_error
    shown = "\n".join(rt.chat.texts())  # type: ignore[attr-defined]
    assert "request rejected (400)" in shown
    assert leaked(project.last_error) == [] and leaked(shown) == []
    assert leaked(log_output.getvalue()) == [] and leaked(caplog.text) == []


@SQLITE_ONLY
async def test_every_way_out_to_a_chat_is_masked(
    secret_settings: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> None:
    """Posts, streaming edits, uploads (file, name, summary), private notices, thread titles and
    the digest's data: every method of the registered platform, as commands, jobs and the cycle
    runner call it (`workflow.platform(name)`)."""
    chat = RecordingChat(limits=PlatformLimits(min_edit_interval=1.0))
    rt = make_runtime(secret_settings(), chat=chat)
    platform = rt.workflow.platform("console")
    thread = ThreadRef("console", "C1", "1")
    leak = f"token {BOT_TOKEN} and secret {SIGNING}"

    await platform.post(thread, Reply(leak, kind=ReplyKind.DRAFT, summary=leak))
    await platform.edit(MessageRef("console", "C1", "m1", "1"), Reply(f"streaming… {leak}", kind=ReplyKind.PROGRESS))
    await platform.upload(thread, filename=f"{SIGNING}.md", content=leak, reply=Reply(leak, files=((SIGNING, b"x"),)))
    await platform.notify_private(thread, Actor("console", "bob", "bob"), leak)
    digest = Reply("digest", kind=ReplyKind.DIGEST, data={"by_expert": [{"name": f"wendy {BOT_TOKEN}"}]})
    await platform.post(thread, digest)
    titled = RecordingTitles(name="titles")
    rt.workflow.register_platform(titled)
    await rt.workflow.platform("titles").open_thread(MessageRef("titles", "C1", "r1"), number=1, title=leak)

    assert [s.op for s in chat.sent] == ["post", "edit", "upload", "private", "post"]
    for sent in chat.sent:
        seen = " ".join(
            [sent.reply.text, sent.reply.summary, sent.content, repr(sent.reply.files), repr(sent.reply.data)]
        )
        assert leaked(seen) == [], sent.op
    assert chat.sent[0].reply.text == f"token {MASK} and secret {MASK}"
    assert titled.titles and leaked(titled.titles[0]) == []


class RecordingTitles(RecordingChat):
    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.titles: list[str] = []

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        self.titles.append(title)
        return await super().open_thread(origin, number=number, title=title)


@SQLITE_ONLY
async def test_the_digest_shows_no_secret_in_a_name(
    secret_settings: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> None:
    """A name is whatever a person set; the digest (text, JSON, the report a platform renders) masks it."""
    rt = make_runtime(secret_settings())
    await rt.workflow.handle(request_event("[writing] a post on onboarding"))
    named = Actor("console", "w1", f"wendy {BOT_TOKEN}")
    await rt.workflow.handle(ThreadReply(Locator(number=1), named, "shorter, 10m"))
    await rt.workflow.handle(CommandInvoked("digest", named, ThreadRef("console", "C1", "")))
    sent = rt.chat.sent[-1].reply  # type: ignore[attr-defined]
    assert sent.kind == ReplyKind.DIGEST and "wendy" in sent.text
    report = sent.data.to_json()
    assert report["by_expert"][0]["name"] == f"wendy {MASK}"
    out = " ".join([sent.text, digest_render.render_json(sent.data), str(digest_render.render_slack(sent.data))])
    assert leaked(out) == []


@SQLITE_ONLY
async def test_digest_json_is_masked(
    secret_settings: Callable[..., Settings], make_runtime: Callable[..., Runtime]
) -> None:
    make_runtime(secret_settings())  # a runtime makes its settings' redaction the process's
    data = {"by_expert": [{"name": f"eve {DISCORD}", "feedback": 2}], "waiting": []}
    out = digest_render.render_json(data) + digest_render.render_text(data)
    assert leaked(out) == [] and "eve" in out and '"feedback": 2' in out


def test_log_messages_and_tracebacks_are_masked(
    secret_settings: Callable[..., Settings], log_output: io.StringIO
) -> None:
    redact.configure(Redactor.from_settings(secret_settings()))
    log = logging.getLogger("draftloop.test")
    log.warning("connecting with %s and %s", BOT_TOKEN, DB_URL)
    try:
        raise ConnectionError(f"could not connect to {DB_URL} (token {DISCORD})")
    except ConnectionError:
        log.exception("start-up failed")
    log.debug("settings seen: %r", {"signing_secret": SIGNING, "agent_key": TEAM_KEY})
    out = log_output.getvalue()
    assert "start-up failed" in out and "ConnectionError: could not connect" in out
    assert leaked(out) == []
    assert f"postgresql://draftloop:{MASK}@db.internal:5432/draftloop" in out


def test_a_short_database_password_is_masked_in_urls(log_output: io.StringIO) -> None:
    redact.configure(Redactor.from_environ())
    logging.getLogger("draftloop.test").error("cannot reach postgresql://app:pw7@10.0.0.5/app")
    assert "pw7" not in log_output.getvalue() and f"app:{MASK}@10.0.0.5" in log_output.getvalue()


def test_log_text_drops_the_values_drivers_quote_from_a_statement() -> None:
    r = Redactor()
    asyncpg = "DataError: invalid input for query argument $7: 'Merger with Initech, codename BLUE...' (bad)"
    shown = "[SQL: INSERT INTO projects (brief) VALUES (?)]\n[parameters: ('Merger with Initech',)]\n(Background…)"
    out = r.log_text(f"{asyncpg}\n{shown}")
    assert "Initech" not in out
    assert "invalid input for query argument $7: (value hidden)" in out and "[SQL: INSERT INTO projects" in out
