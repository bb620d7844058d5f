"""What the process's own log set-up (`setup_logging`, at DEBUG) writes, as a string; for a
fixture (`yield from process_log()`). pytest's capture handlers stay attached beside it, so
`caplog` keeps working in the same test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

from bot import redact
from bot.app.log_config import QUIET_LOGGERS, setup_logging


def process_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    before = redact.active()
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    root.handlers.extend(handlers)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
        redact.configure(before)
