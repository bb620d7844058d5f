"""Synthetic history for the digest benchmark: projects, versions and feedback, bulk-inserted.

Deterministic (seeded), shaped like the study: per-category agent-alone rates, a gain per feedback
cycle, a few experts per category, stated and estimated expert minutes, tokens and cost per version.
Rows are inserted with executemany in large chunks (SQLite) or COPY (PostgreSQL), with explicit
ids so versions and feedback reference their project without a round trip.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Feedback, Project, Version

CATEGORIES = (
    ("writing", 0.35),
    ("translation", 0.45),
    ("data-science", 0.64),
    ("web-dev", 0.30),
    ("engineering", 0.30),
    ("sales-marketing", 0.17),
    ("design", 0.25),
    ("other", 0.40),
)
MODELS = ("claude-sonnet-4", "gemini-2.5-pro", "gpt-5", "offline-v1")
EXPERTS = tuple(f"U{n:04d}" for n in range(24))


@dataclass
class Generated:
    projects: int
    versions: int
    feedback: int
    start: datetime
    end: datetime


def _rows(n_projects: int, rows_target: int, end: datetime, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    start = end - timedelta(days=365)
    span = (end - start).total_seconds()
    # Mean versions + feedback per project is about 1 + 2c for c cycles; pick the cycle mix from the target.
    per_project = rows_target / max(n_projects, 1)
    mean_cycles = max(0.0, (per_project - 1.0) / 2.0)
    version_id = 0
    feedback_id = 0
    for pid in range(1, n_projects + 1):
        cat_index = rng.randrange(len(CATEGORIES))
        category, alone = CATEGORIES[cat_index]
        model = MODELS[rng.randrange(len(MODELS))]
        created = start + timedelta(seconds=rng.random() * span)
        roll = rng.random()
        if roll < 0.03:
            final = "cancelled"
        elif roll < 0.09:
            final = "open"
        elif roll < 0.12:
            final = "expired"
        else:
            final = "decided"
        # cycles: geometric-ish around mean_cycles, capped at 5
        cycles = 0
        if rng.random() > alone:
            cycles = 1
            while cycles < 5 and rng.random() < max(0.0, min(0.9, mean_cycles - 0.6)):
                cycles += 1
        versions = cycles + 1
        first_draft = created + timedelta(seconds=20 + rng.random() * 200)
        decided_at = None
        accepted_version = None
        state = "in_review"
        if final == "decided":
            decided_at = first_draft + timedelta(hours=(cycles + 1) * (1 + rng.random() * 20))
            if rng.random() < 0.85:
                state = "accepted"
                accepted_version = versions
            else:
                state = "rejected"
        elif final in ("cancelled", "expired"):
            decided_at = first_draft + timedelta(days=14 if final == "expired" else rng.random() * 3)
            state = final
        elif rng.random() < 0.3:
            state = "revising"
        decided_at = min(decided_at, end - timedelta(seconds=1)) if decided_at else None
        yield (
            "p",
            {
                "id": pid,
                "platform": "slack",
                "channel": f"C{pid % 7:03d}",
                "thread_id": f"{1700000000 + pid}.000100",
                "request_message_id": f"{1700000000 + pid}.000100",
                "requester_id": f"R{pid % 311:04d}",
                "requester_name": "",
                "brief": "Synthetic request for the digest benchmark",
                "category": category,
                "category_reason": "given",
                "agent": model,
                "model": model,
                "state": state,
                "current_version": versions,
                "feedback_count": cycles,
                "accepted_version": accepted_version,
                "deadline": None,
                "last_error": "",
                "lease_owner": None,
                "lease_until": None,
                "nudge_count": 0,
                "last_nudged_at": None,
                "created_at": created,
                "updated_at": decided_at or first_draft,
                "first_draft_at": first_draft,
                "review_since": None if decided_at else first_draft,
                "decided_at": decided_at,
            },
        )
        at = first_draft
        for number in range(1, versions + 1):
            version_id += 1
            tokens_in = 800 + rng.randrange(4000)
            tokens_out = 300 + rng.randrange(1500)
            yield (
                "v",
                {
                    "id": version_id,
                    "project_id": pid,
                    "number": number,
                    "text": "draft",
                    "agent": model,
                    "model": model,
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "cached_tokens": tokens_in // 3 if number > 1 else 0,
                    "cost_usd": round(tokens_in * 3e-6 + tokens_out * 15e-6, 6),
                    "latency_ms": 2000 + rng.randrange(20000),
                    "finish_reason": "stop",
                    "feedback_upto": feedback_id,
                    "created_at": at,
                },
            )
            if number < versions:
                feedback_id += 1
                gap = rng.randrange(5, 120)
                stated = rng.choice((None, None, 10, 15, 20, 30, 45))
                at = at + timedelta(minutes=gap)
                yield (
                    "f",
                    {
                        "id": feedback_id,
                        "project_id": pid,
                        "author_id": EXPERTS[(cat_index * 3 + rng.randrange(4)) % len(EXPERTS)]
                        if rng.random() < 0.9
                        else f"R{pid % 311:04d}",
                        "author_name": "",
                        "text": "please tighten the intro and add numbers",
                        "on_version": number,
                        "is_aside": False,
                        "is_expert": True,
                        "stated_minutes": stated,
                        "estimated_minutes": None if stated is not None else min(gap, 60),
                        "consumed_by": number + 1,
                        "message_id": None,
                        "created_at": at,
                    },
                )
                at = at + timedelta(minutes=1 + rng.randrange(5))


async def generate(
    engine: AsyncEngine,
    *,
    projects: int,
    rows: int,
    end: datetime,
    seed: int = 7,
    chunk: int = 20_000,
) -> Generated:
    """Insert the synthetic history into an empty, migrated database."""
    counts = {"p": 0, "v": 0, "f": 0}
    buffers: dict[str, list[dict[str, Any]]] = {"p": [], "v": [], "f": []}
    tables = {"p": Project.__table__, "v": Version.__table__, "f": Feedback.__table__}
    pg = engine.dialect.name == "postgresql"

    async def flush(kind: str) -> None:
        batch = buffers[kind]
        if not batch:
            return
        buffers[kind] = []
        async with engine.begin() as conn:
            if pg:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                table = tables[kind]
                columns = list(batch[0].keys())
                records = [tuple(_pg_value(row[c]) for c in columns) for row in batch]
                await driver.copy_records_to_table(table.name, records=records, columns=columns)  # type: ignore[attr-defined]
            else:
                await conn.execute(insert(tables[kind]), batch)  # type: ignore[arg-type]

    for kind, row in _rows(projects, rows, end, seed):
        buffers[kind].append(row)
        counts[kind] += 1
        if len(buffers[kind]) >= chunk:
            # projects first, so foreign keys always find their parent
            if kind != "p":
                await flush("p")
            await flush(kind)
    for kind in ("p", "v", "f"):
        await flush(kind)
    async with engine.begin() as conn:
        if pg:
            for name in ("projects", "versions", "feedback"):
                seq = f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                await conn.execute(text(seq))
        else:
            await conn.execute(text("ANALYZE"))
    if pg:
        # what autovacuum does on a live database: statistics and the visibility map (index-only scans)
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM ANALYZE"))
    return Generated(counts["p"], counts["v"], counts["f"], end - timedelta(days=365), end)


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value
