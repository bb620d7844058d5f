"""Logging set-up with a filter that masks secrets, so a token never reaches a log line.

The filter runs every record through the process's redactor (bot/redact.py): the message, the
formatted traceback and the stack. Tracebacks matter as much as messages: an SDK's exception text
may quote a token, and a failed SQL statement's would quote what the parameters held (the engine
hides them, `hide_parameters=True`; the filter removes any that still appear).

A calm terminal: at INFO (serve, worker) a start shows draftloop's own lines only. What libraries
say that asks nothing of the user (Alembic's migration steps, APScheduler's job bookkeeping, a
voice library discord.py does not find, slack_bolt's note on the token it does not need) is
`CHATTER`: shown as DEBUG with DRAFTLOOP_LOG_LEVEL=DEBUG, dropped otherwise.
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

from bot import redact
from bot.redact import Redactor
from bot.settings import Settings

SECRET_ENV = redact.SECRET_ENV
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Kept at WARNING whatever the level: SDK debug logs include request headers, and the database
# drivers' and SQLAlchemy's debug and info logs show statements, aiosqlite's with their values.
QUIET_LOGGERS = (
    "httpx",
    "httpx2",
    "openai",
    "anthropic",
    "slack_sdk",
    "slack_bolt",
    "discord",
    "aiohttp.access",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
)


# (logger, what it says or None for all of its records at INFO and below). draftloop never gives bolt
# a token beside its client on purpose, and never uses voice.
CHATTER: tuple[tuple[str, re.Pattern[str] | None], ...] = (
    ("alembic", None),
    ("apscheduler", None),
    ("slack_bolt", re.compile(r"As you gave `client` as well, `token` will be unused")),
    ("discord", re.compile(r"(PyNaCl|davey) is not installed, voice will NOT be supported")),
)


def _from(logger: str, record: logging.LogRecord) -> bool:
    return record.name == logger or record.name.startswith(logger + ".")


class DemoteChatter(logging.Filter):
    """A handler filter: a `CHATTER` record becomes DEBUG, and is kept only when the process logs at
    DEBUG (the root logger's level, read at each record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(_from(name, record) and self._says(pattern, record) for name, pattern in CHATTER):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().level <= logging.DEBUG

    @staticmethod
    def _says(pattern: re.Pattern[str] | None, record: logging.LogRecord) -> bool:
        if pattern is None:
            return record.levelno <= logging.INFO
        try:
            message = record.getMessage()
        except Exception:
            return False
        return pattern.search(message) is not None


class RedactSecrets(logging.Filter):
    """A handler filter; `redactor` fixed, or the process's (`redact.active()`) at each record."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._fixed = redactor
        self._formatter = logging.Formatter()

    @property
    def redactor(self) -> Redactor:
        return self._fixed or redact.active()

    def redact(self, text: str) -> str:
        return self.redactor.log_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self.redactor
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)  # a bad format string: the record is still shown, masked
        clean = redactor.log_text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            # Formatted here, so every formatter (which reuses exc_text) prints the masked form.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.log_text(record.stack_info)
        return True


def redacting_handler(stream: TextIO | None = None, redactor: Redactor | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(DemoteChatter())
    handler.addFilter(RedactSecrets(redactor))
    return handler


def setup_logging(
    level: str = "INFO",
    *,
    key_env_names: tuple[str, ...] = (),
    settings: Settings | None = None,
    stream: TextIO | None = None,
) -> None:
    """Log to stderr (or `stream`) through the redacting filter. With `settings`, the process
    redactor is built from them; without, from the environment (the same variables) and
    `key_env_names`. A Runtime built later configures it from its settings again."""
    redact.configure(Redactor.from_settings(settings) if settings else Redactor.from_environ(key_env_names))
    root = logging.getLogger()
    root.handlers[:] = [redacting_handler(stream)]
    root.setLevel(level.upper())
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
