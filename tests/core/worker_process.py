"""`draftloop worker` as a process: started, read until it says something, stopped with SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).parent / "draftloop")


def worker_until(env: dict[str, str], marker: str, *, timeout: float = 30) -> tuple[str, int]:
    """Everything the worker wrote on stderr, from start until it stopped after saying `marker` (or
    after `timeout` seconds without), and its exit code."""
    proc = subprocess.Popen([EXE, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline, said = time.monotonic() + timeout, ""
        while time.monotonic() < deadline and marker not in said:
            said += proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        said += proc.communicate(timeout=10)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    return said, proc.returncode
