"""A CPU quota for a process tree, through the kernel's cgroup cpu controller (v1 or v2).

`bench_workers --cores-per-process C` runs `draftloop serve --workers N` under a quota of N × C cores,
so one process and two can be compared as on a machine with cores to spare: the fakes, the load
generator and PostgreSQL keep the rest of this one. The quota is the CFS bandwidth limit (a period of
100 ms and a share of it): the processes in the group are throttled, not slowed, once they have used it.

Writing a cgroup needs root (or a delegated subtree); `available()` says why not where it cannot.
"""

from __future__ import annotations

import os
from pathlib import Path

PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


def _root() -> tuple[Path, int] | None:
    if (_V1 / "cpu.cfs_quota_us").exists():
        return _V1, 1
    controllers = _V2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return _V2, 2
    return None


def available() -> str | None:
    """None where a quota can be set here, else the reason it cannot."""
    found = _root()
    if found is None:
        return "no cgroup cpu controller is mounted (/sys/fs/cgroup/cpu or cgroup2 with cpu)"
    if not os.access(found[0], os.W_OK):
        return f"{found[0]} is not writable by this user (run as root)"
    return None


class CpuQuota:
    """One cgroup with a quota of `cores` CPUs; `command(argv)` runs argv inside it."""

    def __init__(self, name: str, cores: float) -> None:
        found = _root()
        if found is None:
            raise RuntimeError(available() or "no cgroup cpu controller")
        root, self.version = found
        self.path = root / f"{name}-{os.getpid()}"
        self.path.mkdir(exist_ok=True)
        quota = max(1000, int(cores * PERIOD_US))
        if self.version == 1:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")

    def command(self, argv: list[str]) -> list[str]:
        """argv, started by a shell that first moves itself into the group: what it forks stays there."""
        procs = self.path / "cgroup.procs"
        return ["/bin/sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *argv]

    def throttled_s(self) -> float:
        """Seconds the group was held back by its quota so far."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line.strip())
        if self.version == 1:
            return int(stat.get("throttled_time", "0")) / 1e9
        return int(stat.get("throttled_usec", "0")) / 1e6

    def remove(self) -> None:
        """Remove the group (its processes have exited; a group with processes in it cannot be removed)."""
        try:
            self.path.rmdir()
        except OSError:
            pass
