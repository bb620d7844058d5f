"""The CPU quota `bench_workers --cores-per-process` runs draftloop under: the kernel holds the
process tree to it (throttles), and the group goes away afterwards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks._cpu_cap import CpuQuota, available

pytestmark = pytest.mark.skipif(available() is not None, reason=f"no CPU quota here: {available()}")

# A child that a forked grandchild keeps busy: what runs under the quota is a process tree, as serve --workers is.
BUSY = """
import os, time
pid = os.fork()
end = time.process_time() + 0.1
while time.process_time() < end:
    pass
if pid:
    os.waitpid(pid, 0)
"""


def test_a_process_tree_under_a_quota_is_throttled_and_the_group_removed() -> None:
    quota = CpuQuota("draftloop-test", 0.1)
    try:
        proc = subprocess.run(quota.command([sys.executable, "-c", BUSY]), check=True, timeout=60)
        assert proc.returncode == 0
        # 0.2 s of CPU between the two processes against 0.1 core: most of the run is spent held back.
        assert quota.throttled_s() > 0.5
    finally:
        quota.remove()
    assert not quota.path.exists()


def test_a_tiny_quota_is_raised_to_the_kernels_floor() -> None:
    quota = CpuQuota("draftloop-test-min", 0.000001)
    try:
        written = (quota.path / ("cpu.cfs_quota_us" if quota.version == 1 else "cpu.max")).read_text().split()[0]
        assert int(written) == 1000  # the kernel's floor, not a quota of 0 (which v1 refuses)
    finally:
        quota.remove()
