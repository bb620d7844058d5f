"""Logging set-up with a filter that masks secrets, so a token never reaches a log line."""

from __future__ import annotations

import logging
import os
import re

SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DISCORD_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)
# Token shapes worth masking even when they did not come from our environment.
_PATTERNS = re.compile(r"(xox[abprs]-[\w-]{6,}|xapp-[\w-]{6,}|sk-[\w-]{8,}|sk-ant-[\w-]{8,})")


class RedactSecrets(logging.Filter):
    def __init__(self, extra_names: tuple[str, ...] = ()) -> None:
        super().__init__()
        names = SECRET_ENV + extra_names
        self.values = [v for v in (os.environ.get(n, "") for n in names) if len(v) >= 6]

    def redact(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, "***")
        return _PATTERNS.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def setup_logging(level: str = "INFO", *, key_env_names: tuple[str, ...] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(key_env_names))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # SDK debug logs include request headers; keep them at WARNING whatever the level.
    for noisy in ("httpx", "httpx2", "openai", "anthropic", "slack_sdk", "slack_bolt", "discord", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
