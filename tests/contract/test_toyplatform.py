"""A platform is one package: the toy platform (tests/contract/toyplatform/) brings its own `[toyplatform]`
table, admins, ids and help through its policy, with no edit in bot/.

The contract suite (test_contract.py) runs the loop on it; these show its policy is the core's rule there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot import platforms
from bot.errors import ConfigError
from bot.events import Outcome
from bot.identity import config_warnings
from bot.settings import Settings
from storage.engine import Database
from storage.models import Project
from tests.contract.drivers.toy import PEOPLE, ToyDriver
from tests.contract.toyplatform.policy import TOY
from tests.contract.toyplatform.server import ToyUser

sqlite = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

REPO = Path(__file__).resolve().parents[2]
ROOT = ToyUser("t-root", "root")  # neither requester nor expert

Toy = Callable[..., Awaitable[ToyDriver]]


@pytest.fixture
async def toy(db: Database, settings_factory: Callable[..., Settings]) -> AsyncIterator[Toy]:
    made: list[ToyDriver] = []

    async def make(table: str = "") -> ToyDriver:
        made.append(await ToyDriver.start(settings_factory, db, table=table))
        return made[-1]

    yield make
    for driver in made:
        await driver.stop()


async def _state(d: ToyDriver) -> str:
    async with d.runtime.db.session() as s:
        project = await s.get(Project, 1)
    assert project is not None
    return project.state


@sqlite
@pytest.mark.parametrize(
    ("table", "state"),
    [('admins = ["t-root"]', "accepted"), ("", "in_review")],
    ids=["an admin in its table", "no admins"],
)
async def test_its_own_table_names_who_may_decide_everywhere(toy: Toy, table: str, state: str) -> None:
    d = await toy(table)
    thread = await d.request("[writing] a haiku about tea")
    await d.click(ROOT, thread, Outcome.ACCEPT)
    assert await _state(d) == state
    refused = any("not allowed" in text.lower() for text in d.private(ROOT))
    assert refused == (state == "in_review")


@sqlite
async def test_help_speaks_its_words(toy: Toy) -> None:
    d = await toy()
    await d.say(PEOPLE["requester"], "/draftloop help")
    (answer,) = d.said()
    assert TOY.help.start in answer and TOY.help.decide in answer
    assert "Slack" not in answer and "/draft " not in answer


async def test_its_table_is_checked_like_the_core_s_own(settings_factory: Callable[..., Settings]) -> None:
    typo = settings_factory('[toyplatform]\nadmin = ["t-root"]\n')
    with pytest.raises(ConfigError, match=r"toyplatform\.admin"):
        _ = typo.file
    platforms.unregister(TOY.name)  # a platform nobody installed has no table
    try:
        with pytest.raises(ConfigError, match="toyplatform"):
            _ = settings_factory('[toyplatform]\nadmins = ["t-root"]\n').file
    finally:
        platforms.register(TOY)


def test_an_entry_that_is_no_toy_id_is_warned_about_in_its_words(settings_factory: Callable[..., Settings]) -> None:
    cfg = settings_factory('[toyplatform]\nadmins = ["root", "t-root"]\n').file
    warnings = config_warnings(cfg, TOY.name)
    assert any("root" in line and TOY.id_kind in line for line in warnings)
    assert not any("t-root" in line for line in warnings)


def test_one_entry_point_makes_it_known(tmp_path: Path) -> None:
    """Installed as a package would be (a `draftloop.services` entry point), in a fresh process: the core
    finds the policy, parses its table and reads its admins; nothing registers it by hand."""
    dist = tmp_path / "site" / "toyplatform-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplatform\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[draftloop.services]\ntoyplatform = tests.contract.toyplatform.policy:TOY\n"
    )
    config = tmp_path / "draftloop.toml"
    config.write_text('[toyplatform]\nserver = "lab"\nadmins = ["t-root"]\n')
    script = (
        "import json; from bot import platforms; from bot.settings import Settings;"
        f"s = Settings(draftloop_config={str(config)!r}, draftloop_data_dir={str(tmp_path)!r});"
        "p = platforms.policy('toyplatform'); t = p.config(s.file);"
        "print(json.dumps([p.title, t.server, list(p.admins_in(s.file)), sorted(platforms.installed())]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    title, server, admins, installed = json.loads(done.stdout)
    assert (title, server, admins) == ("Toy", "lab", ["t-root"])
    assert "toyplatform" in installed
