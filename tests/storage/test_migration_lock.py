"""Processes that start together on a new SQLite file all start: one migrates under the file lock
beside the database, the others wait and find the schema current (issue 13, item 4). Before the
lock, both read "no revision", both migrated, and one exited 1 with `table digest_runs already exists`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from storage.engine import Database
from storage.migrate import current_revision, head_revision, migration_lock

# Each process imports everything, says it is ready, waits for the go file, then migrates: the
# migrations start within milliseconds of each other, as two processes started by one command do.
_STARTS = """
import asyncio, sys, time
from pathlib import Path
from storage.engine import Database
from storage.migrate import ensure_schema, upgrade

async def main(path: str, how: str) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    print("ready", flush=True)
    go = Path(path + ".go")
    while not go.exists():
        time.sleep(0.005)
    if how == "upgrade":
        print(await upgrade(url), flush=True)
        return
    db = Database(url)
    try:
        print(await ensure_schema(db.engine, url), flush=True)
    finally:
        await db.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _revision(path: Path) -> str | None:
    async def read() -> str | None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            return await current_revision(db.engine)
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_processes_starting_together_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    # Real processes, since the race is between them: two pairs, each on its own new file (a start-up
    # beside a start-up, and `draftloop db upgrade` beside a start-up), about 3 s in all.
    files = [tmp_path / f"fresh{i}.db" for i in range(2)]
    hows = [("ensure", "ensure"), ("upgrade", "ensure")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTS, str(path), how],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path, pair in zip(files, hows, strict=True)
        for how in pair
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for path in files:
            Path(f"{path}.go").touch()
        results = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    migrated = [out.split() for out, _ in results]
    head = head_revision()
    for i, path in enumerate(files):
        assert _revision(path) == head
        first, second = migrated[2 * i][-1], migrated[2 * i + 1][-1]
        if hows[i][0] == "ensure":
            assert sorted((first, second)) == ["False", "True"], "exactly one of the two migrated"
        assert Path(f"{path}.migrate.lock").exists()


async def test_the_lock_is_held_by_one_at_a_time_and_waited_for_without_blocking_the_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    order: list[str] = []

    async def hold(name: str, seconds: float) -> None:
        async with migration_lock(url):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    first = asyncio.create_task(hold("a", 0.2))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while len(order) < 4:
            ticks += 1
            await asyncio.sleep(0.01)

    await asyncio.gather(first, hold("b", 0), tick())
    assert order == ["a in", "a out", "b in", "b out"]
    assert ticks >= 5 and time.monotonic() - started >= 0.1  # the loop ran while b waited for the lock


async def test_no_lock_file_for_postgresql() -> None:
    async with migration_lock("postgresql+asyncpg://u@127.0.0.1/x"):
        pass  # nothing to create, nothing to wait for: PostgreSQL's migration takes an advisory lock
