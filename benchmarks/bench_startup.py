"""Start-up: `draftloop --help` and `draftloop digest` for a week, end to end, in fresh processes.

Hyperfine-style: one warm-up run, then N timed runs of the command as a user types it (the
`draftloop` script next to this Python, else `python -m bot`), reported as min / median / mean ± sd
beside `python -c pass` (the interpreter alone) and `python -c "import sqlalchemy"` (SQLAlchemy Core
alone: what a digest read through the engine could not go below). The digest reads a SQLite file
holding a year of synthetic history (benchmarks/digest_data.py), text and `-f json`; it reads the file
through the standard library's sqlite3 (storage/metrics_read.py), and the run says whether SQLAlchemy
was imported all the same. With `--imports`, the modules each command spends most of its import time
on (`python -X importtime`, cumulative) are listed too.

    .venv/bin/python -m benchmarks.bench_startup            # 15 runs each, 20,000 projects
    .venv/bin/python -m benchmarks.bench_startup --tiny     # a seconds-long smoke run
    .venv/bin/python -m benchmarks.bench_startup --imports  # and where the import time goes

Targets (issue 15): `draftloop --help` under 0.3 s, `draftloop digest` (a week) under 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HELP_TARGET_S = 0.3
DIGEST_TARGET_S = 0.5
END = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = ["--since", "2026-11-16", "--until", "2026-11-23"]


def _command() -> list[str]:
    script = Path(sys.executable).parent / "draftloop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def _env(db_path: Path) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_path}", DRAFTLOOP_LOG_LEVEL="WARNING")
    env.pop("DRAFTLOOP_CONFIG", None)
    return env


def _time(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(args, env=env, check=True, capture_output=True)  # warm-up: the page cache, .pyc files
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def _imports(args: list[str], env: dict[str, str], top: int = 8) -> list[tuple[float, str]]:
    """The modules with the largest cumulative import time (top-level ones only, so nothing is counted twice)."""
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-c",
        f"import sys; from bot.app.cli import main; sys.argv={args!r}; main()",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # top-level: one space of indent
            try:
                rows.append((int(cumulative) / 1e6, name.strip()))
            except ValueError:
                continue  # the header line
    return sorted(rows, reverse=True)[:top]


def _heavy_modules(args: list[str], env: dict[str, str]) -> list[str]:
    """The SQLAlchemy, SQLModel and Alembic modules a command leaves loaded (none for a one-shot digest)."""
    code = (
        "import sys\n"
        "from bot.app.cli import app\n"
        f"app({args!r}, standalone_mode=False)\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic')),"
        " file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return proc.stderr.strip().splitlines()[-1].split() if proc.stderr.strip() else []


def _line(label: str, times: list[float], target: float | None, reference: list[float] | None = None) -> str:
    med = statistics.median(times)
    sd = statistics.stdev(times) if len(times) > 1 else 0.0
    ratio = f"  {med / statistics.median(reference):.1f}× the interpreter" if reference else ""
    verdict = "" if target is None else f"  target < {target:.1f} s: {'PASS' if med < target else 'MISS'}"
    return (
        f"{label:<36}min {min(times):.3f}  median {med:.3f}  mean {statistics.fmean(times):.3f} ± {sd:.3f} s"
        f"{ratio}{verdict}"
    )


async def _seed(path: Path, projects: int) -> None:
    from benchmarks.digest_data import generate
    from storage.engine import Database, async_url
    from storage.migrate import upgrade

    url = async_url(f"sqlite:///{path}", data_dir=path.parent)
    await upgrade(url)
    db = Database(url)
    try:
        await generate(db.engine, projects=projects, rows=projects * 3, end=END)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="3 runs, 500 projects: a smoke run")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--projects", type=int, default=20_000, help="projects in the digest's database")
    parser.add_argument("--imports", action="store_true", help="list where each command's import time goes")
    args = parser.parse_args()
    if args.tiny:
        args.runs, args.projects = 3, 500

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "startup.db"
        asyncio.run(_seed(db_path, args.projects))
        env = _env(db_path)
        cmd = _command()
        shown = " ".join([Path(cmd[0]).name, *cmd[1:]])
        print(f"start-up: {shown}, {args.runs} runs each")
        print(f"({args.projects:,} projects in the digest's SQLite file; {os.cpu_count()} cores)")
        print(f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} before the runs)")
        baseline = _time([sys.executable, "-c", "pass"], env, args.runs)
        core = _time([sys.executable, "-c", "import sqlalchemy"], env, args.runs)
        helps = _time([*cmd, "--help"], env, args.runs)
        digests = _time([*cmd, "digest", *WEEK], env, args.runs)
        jsons = _time([*cmd, "digest", *WEEK, "-f", "json"], env, args.runs)
        print(_line("python -c pass (the interpreter)", baseline, None))
        print(_line("python -c 'import sqlalchemy'", core, None, baseline))
        print(_line("draftloop --help", helps, HELP_TARGET_S, baseline))
        print(_line("draftloop digest (a week)", digests, DIGEST_TARGET_S, baseline))
        print(_line("draftloop digest -f json (a week)", jsons, DIGEST_TARGET_S, baseline))
        heavy = _heavy_modules(["digest", *WEEK], env)
        said = f"yes, {len(heavy)} modules (from {heavy[0]})" if heavy else "no"
        print(f"draftloop digest imports SQLAlchemy, SQLModel or Alembic: {said}")
        print(f"(load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} after the runs)")
        if args.imports:
            for label, argv in (("--help", ["draftloop", "--help"]), ("digest", ["draftloop", "digest", *WEEK])):
                print(f"\nimport time of `draftloop {label}` (cumulative, top-level modules):")
                for seconds, name in _imports(argv, env):
                    print(f"  {seconds:.3f} s  {name}")


if __name__ == "__main__":
    main()
