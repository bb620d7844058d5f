"""One redaction for everything that leaves the process: chat posts, stored errors, logs, the digest.

A `Redactor` masks every configured secret by value (Slack and Discord tokens, the signing
secret, the database password, the key variable every agent provider declares (bot/agent_registry.py,
e.g. OPENAI_API_KEY) and each agent's `key_env` variable) and, whatever their
source, the shapes of the tokens people paste: Slack `xox…-`/`xapp-` tokens, `sk-` keys (also
half-masked ones as providers echo them), bearer tokens, Discord bot tokens and the password in a
URL's `user:password@`. It is built from Settings; the process keeps one (`configure`, `active`)
for the places that have no Settings at hand: the logging filter and the digest's JSON.

A value shorter than MIN_SECRET_CHARS is not masked by value (it would blank ordinary words
everywhere); in a URL it is still masked by shape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from bot.agent_registry import declared_key_envs
from bot.errors import ConfigError
from bot.settings import Settings

MASK = "[redacted]"
MIN_SECRET_CHARS = 8
# Read when no Settings are given (logging before the runtime exists): the same variables. Agent
# providers' key variables are not listed: each provider declares its own (declared_key_envs).
SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DISCORD_TOKEN",
)

# Token shapes. Each needs its prefix at a word start and enough length (keys: a digit too), so
# words like "risk-assessment" or "Bearer YOUR_TOKEN" in a draft stay as written. Each pattern
# runs only when its literal hint is in the text: a long draft is scanned in microseconds.
_SLACK = re.compile(r"(?<![\w-])(?:xox[a-z]|xapp)-[A-Za-z0-9-]{8,}", re.IGNORECASE)  # bot/user/app tokens
_KEY = re.compile(r"(?<![\w-])sk-(?=[\w*-]*\d)[\w*-]{12,}", re.IGNORECASE)  # OpenAI/Anthropic, half-masked too
_BEARER = re.compile(r"(\bBearer\s+)(?=[\w.~+/=-]*\d)[\w.~+/=-]{8,}", re.IGNORECASE)
_USERINFO = re.compile(r"(://[^:/@\s]+:)[^@/\s]+(?=@)")  # postgresql://user:password@host
_DISCORD = re.compile(r"(?<![\w.-])[\w-]{23,28}\.[\w-]{6}\.[\w-]{27,}")  # a Discord bot token
_DISCORD_HINT = re.compile(r"\.[\w-]{6}\.")
# What database drivers put in an error about a bad argument: the argument's value (asyncpg
# shows up to 40 characters of it). SQLAlchemy's "[parameters: …]" too, should an engine show it.
_SQL_VALUES = re.compile(r"(invalid input for query argument [^:\n]*:)[^\n]*|\[parameters: [^\n]*")


def _keep_first(match: re.Match[str]) -> str:
    return match.group(1) + MASK


def mask_shapes(text: str) -> str:
    """Token shapes masked, whatever their source (no configuration needed)."""
    low = text.lower()
    if "xox" in low or "xapp" in low:
        text = _SLACK.sub(MASK, text)
    if "sk-" in low:
        text = _KEY.sub(MASK, text)
    if "bearer" in low:
        text = _BEARER.sub(_keep_first, text)
    if "://" in text:
        text = _USERINFO.sub(_keep_first, text)
    if _DISCORD_HINT.search(text):
        text = _DISCORD.sub(MASK, text)
    return text


def _sql_mask(match: re.Match[str]) -> str:
    head = match.group(1)
    return f"{head} (value hidden)" if head else "[parameters hidden]"


class Redactor:
    """Masks `secrets` (by value) and token shapes. Calling it on clean text returns it unchanged."""

    __slots__ = ("_values", "secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        kept = {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}
        # Longest first, in one pass: a secret holding another is masked whole.
        self.secrets: tuple[str, ...] = tuple(sorted(kept, key=lambda s: (-len(s), s)))
        self._values = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(MASK, text)
        return mask_shapes(text)

    def log_text(self, text: str) -> str:
        """For log lines and tracebacks: also no value of a SQL statement's parameters."""
        return _SQL_VALUES.sub(_sql_mask, self(text))

    def json(self, value: Any) -> Any:
        """Every string in a JSON-like value masked (mappings, lists and tuples walked)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        return value

    def extended(self, *more: str | None) -> Redactor:
        return Redactor((*self.secrets, *more))

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        return cls(settings_secrets(settings))

    @classmethod
    def from_environ(cls, extra_names: Iterable[str] = ()) -> Redactor:
        """Before Settings exist: the secret variables, providers' key variables, DATABASE_URL's password
        and `extra_names`."""
        values = [os.environ.get(name) for name in (*SECRET_ENV, *declared_key_envs(), *extra_names)]
        return cls([*values, *url_passwords(os.environ.get("DATABASE_URL"))])


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret the settings know of: SecretStr fields, the database password, the key variable of
    every provider (declared by the provider, whether or not an agent uses it) and of every agent."""
    found: list[str | None] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
    found += url_passwords(settings.database_url)
    try:
        agents = list(settings.file.agents.values())
    except ConfigError:
        agents = []  # a broken file stops the start elsewhere; the keys it names are unknown
    key_envs = [*declared_key_envs(), *(spec.key_env for spec in agents if spec.key_env)]
    found += [settings.env(env) for env in dict.fromkeys(key_envs)]
    return [value for value in found if value]


def url_passwords(url: str | None) -> list[str]:
    """A URL's password as written and percent-decoded (logs may show either)."""
    if not url:
        return []
    try:
        raw = urlsplit(url).password
    except ValueError:
        return []
    return [raw, unquote(raw)] if raw else []


_active = Redactor()


def configure(redactor: Redactor) -> Redactor:
    """Make `redactor` the process's: the logging filter and the digest use it from now on."""
    global _active
    _active = redactor
    return redactor


def active() -> Redactor:
    return _active
