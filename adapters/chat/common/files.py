"""Attached files → text for the brief, one rule for every platform.

A text file (by extension or media type) up to MAX_TEXT_BYTES and a PDF with a text layer up to
MAX_PDF_BYTES are read, cut at MAX_FILE_CHARS; any other file is only named in the brief. Bytes that
are not UTF-8 are replaced, not refused (the core cleans the rest, bot/text_hygiene.py).
"""

from __future__ import annotations

import io
import logging
from typing import Literal

_log = logging.getLogger(__name__)

MAX_FILES = 10  # files read per message
MAX_TEXT_BYTES = 2_000_000
MAX_PDF_BYTES = 5_000_000
MAX_FILE_CHARS = 50_000
MAX_PDF_PAGES = 50
TEXT_SUFFIXES = frozenset(
    {"txt", "text", "md", "markdown", "csv", "tsv", "json", "yaml", "yml", "py", "python", "html", "xml"}
)
TEXT_TYPES = frozenset({"application/json"})

Kind = Literal["text", "pdf"]


def kind_of(filename: str, mimetype: str = "", filetype: str = "") -> Kind | None:
    """Whether a file is read as text, as a PDF, or not at all (None), by its type and name.

    `filetype` is the platform's own word for it where there is one (Slack's `filetype`).
    """
    media = mimetype.split(";")[0].strip().lower()
    names = {filetype.lower(), filename.rsplit(".", 1)[-1].lower() if "." in filename else ""} - {""}
    if media == "application/pdf" or "pdf" in names:
        return "pdf"
    if media.startswith("text/") or media in TEXT_TYPES or names & TEXT_SUFFIXES:
        return "text"
    return None


def readable(filename: str, size: int, mimetype: str = "", filetype: str = "") -> Kind | None:
    """`kind_of`, and small enough to read (`size` in bytes, as the platform states it)."""
    kind = kind_of(filename, mimetype, filetype)
    if kind is None or size > max_bytes(kind):
        return None
    return kind


def max_bytes(kind: Kind) -> int:
    return MAX_PDF_BYTES if kind == "pdf" else MAX_TEXT_BYTES


def file_text(data: bytes, kind: Kind) -> str | None:
    """The text of a file's bytes, cut at MAX_FILE_CHARS; None when there is none to read."""
    if kind == "pdf":
        return pdf_text(data)
    return data.decode("utf-8", errors="replace")[:MAX_FILE_CHARS]


def pdf_text(data: bytes) -> str | None:
    """The text layer of a PDF's first pages; None for a scan or a file pypdf cannot read."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        text = "\n\n".join((page.extract_text() or "") for page in reader.pages[:MAX_PDF_PAGES]).strip()
    except Exception as exc:  # noqa: BLE001 - a broken PDF is named, not read
        _log.warning("could not read a PDF: %s", type(exc).__name__)
        return None
    return text[:MAX_FILE_CHARS] or None
