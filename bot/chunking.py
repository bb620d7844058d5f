"""Packing text into messages: shared by every chat adapter that has a per-message limit."""

from __future__ import annotations

from collections.abc import Iterable


def pack(pieces: Iterable[str], limit: int, joiner: str) -> list[str]:
    """Greedily join `pieces` (each at most `limit` long) with `joiner` into chunks of at most `limit`."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = piece
    if current:
        chunks.append(current)
    return chunks
