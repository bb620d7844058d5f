"""Small pure numbers: Wilson intervals, thin flags, expert-minute parsing and estimates."""

from __future__ import annotations

import math
import re
from datetime import datetime

Z95 = 1.959963984540054
THIN_BELOW = 5

_DURATION = re.compile(
    r"(?<![\w.])(?:(?P<h>\d{1,2})\s*h(?:ours?|rs?)?(?:\s*(?P<hm>\d{1,2})\s*m(?:in(?:ute)?s?)?)?"
    r"|(?P<m>\d{1,3})\s*m(?:in(?:ute)?s?)?)(?![\w])",
    re.IGNORECASE,
)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """95% Wilson score interval for k successes in n trials; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> dict[str, float | int | bool | None]:
    """The digest's rate object: exact k/n, counts, Wilson bounds, thin when n < 5."""
    low, high = wilson(k, n)
    return {
        "rate": (k / n) if n else None,
        "k": k,
        "n": n,
        "ci_low": low,
        "ci_high": high,
        "thin": n < THIN_BELOW,
    }


def parse_minutes(text: str) -> int | None:
    """Minutes an expert states in a reply: `20m`, `1h`, `1h30m`, `45 min`. None when absent."""
    match = _DURATION.search(text)
    if match is None:
        return None
    if match.group("h") is not None:
        minutes = int(match.group("h")) * 60 + int(match.group("hm") or 0)
    else:
        minutes = int(match.group("m"))
    return minutes if 0 < minutes <= 24 * 60 else None


def estimate_minutes(draft_at: datetime | None, reply_at: datetime, cap: int) -> int | None:
    """Time between a draft and the reply to it, capped: the labelled estimate of expert time."""
    if draft_at is None:
        return None
    gap = (reply_at - draft_at).total_seconds() / 60
    return max(1, min(cap, math.ceil(gap)))


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2
