"""Alembic's metadata holds every table the migrations create: `alembic check` (autogenerate's
comparison of the migrated database with `target_metadata`) finds nothing to add or remove. Run in
a fresh interpreter, so the tables are only those storage/migrations/env.py registers itself."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from alembic import command
from storage.migrate import alembic_config
command.check(alembic_config(sys.argv[1]))
"""


def test_alembic_metadata_matches_the_migrated_schema(db_url: str) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, db_url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No new upgrade operations detected" in done.stdout + done.stderr
