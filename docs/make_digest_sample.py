"""Regenerate the README's sample digest (text) and docs/digest-sample.png from a known dataset.

.venv/bin/python docs/make_digest_sample.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.report.chart import chart_png  # noqa: E402
from bot.report.digest import Period, build_report  # noqa: E402
from bot.report.render import render_text  # noqa: E402
from storage.engine import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.digest.dataset import NOISE, OFFLINE, SONNET, STUDY, Spec, at, insert_specs  # noqa: E402


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/sample.db"
        await upgrade(url)
        db = Database(url)
        await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10), accept_after=timedelta(hours=26))
        await insert_specs(db, NOISE, decided_at=at(2026, 11, 20, 15), created_at=at(2026, 11, 20, 9))
        previous = (
            Spec(30, "data-science", SONNET, "accepted", 1, 0),
            Spec(15, "data-science", SONNET, "accepted", 2, 1),
            Spec(15, "writing", OFFLINE, "rejected", 2, 1),
        )
        await insert_specs(db, previous, decided_at=at(2026, 11, 11, 12))
        period = Period(date(2026, 11, 16), date(2026, 11, 23), ZoneInfo("Europe/Berlin"))
        report = await build_report(db, period, now=at(2026, 11, 23, 8))
        await db.dispose()
    data = report.to_json()
    sys.stdout.write(render_text(data))
    out = Path(__file__).resolve().parent / "digest-sample.png"
    out.write_bytes(chart_png(data))
    sys.stderr.write(f"chart written to {out}\n")


if __name__ == "__main__":
    asyncio.run(main())
