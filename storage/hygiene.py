"""Text every database accepts: no NUL or other control bytes, no lone surrogates.

User text reaches us from chat messages, files and PDFs, and may carry bytes PostgreSQL refuses
(NUL in `text`) or code points no driver can encode (lone surrogates, which is what undecodable
bytes become under Python's `surrogateescape`). Such text is cleaned, never refused: the core
cleans every inbound event with `clean_text`, and `install` makes the engine clean every bound
string parameter as a last line of defence, so a request is stored, never a failed statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# C0 controls except tab and newline, DEL, and the surrogate block.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Line breaks written the old ways become newlines (a PDF's form feed separates pages).
_BREAKS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n"})
_DROPPED = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def needs_cleaning(text: str) -> bool:
    return _UNWANTED.search(text) is not None


def clean_text(text: str) -> str:
    """`text` with CR LF / CR / VT / FF as newlines, other C0 controls and DEL removed, surrogate
    pairs joined and lone surrogates as U+FFFD. Clean text is returned as is (the same object)."""
    if not needs_cleaning(text):
        return text
    text = _DROPPED.sub("", text.replace("\r\n", "\n").translate(_BREAKS))
    if _SURROGATE.search(text):
        # UTF-16 round trip: a high+low pair becomes its character, anything else U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _clean_value(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _clean_row(row: Any) -> Any:
    """One statement's parameters (a tuple, list or mapping), rebuilt only when a string needs it."""
    if isinstance(row, Mapping):
        if any(isinstance(v, str) and needs_cleaning(v) for v in row.values()):
            return {k: _clean_value(v) for k, v in row.items()}
        return row
    if isinstance(row, Sequence) and not isinstance(row, str | bytes):
        if any(isinstance(v, str) and needs_cleaning(v) for v in row):
            return type(row)(_clean_value(v) for v in row) if isinstance(row, tuple | list) else row
        return row
    return row


def _before_cursor_execute(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> tuple[str, Any]:
    if executemany and isinstance(parameters, list | tuple):
        return statement, type(parameters)(_clean_row(row) for row in parameters)
    return statement, _clean_row(parameters)


def install(engine: Engine) -> None:
    """Clean every string parameter this engine binds (the sync engine under an AsyncEngine)."""
    event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)
