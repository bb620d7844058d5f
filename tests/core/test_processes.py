"""The long-running processes: SIGTERM ends them cleanly and quickly, as Procfile platforms expect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).parent / "draftloop")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path), "DRAFTLOOP_LOG_LEVEL": "INFO"}
    for name in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        env.pop(name, None)
    return env


def test_worker_stops_on_sigterm_within_ten_seconds(tmp_path: Path) -> None:
    proc = subprocess.Popen([EXE, "worker"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Past start-up (its signal handlers installed) once it says the scheduler started; the
        # database file alone appears long before that on a loaded machine.
        assert proc.stderr is not None
        seen = []
        for raw in proc.stderr:
            seen.append(raw.decode())
            if "scheduler started" in seen[-1]:
                break
        assert proc.poll() is None, "".join(seen)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert code == 0
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_without_slack_settings_says_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run([EXE, "serve"], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SLACK_SIGNING_SECRET" in done.stderr
