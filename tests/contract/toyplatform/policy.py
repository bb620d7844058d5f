"""The toy platform's policy (bot/platforms.py): its `[toyplatform]` table, its admins, its ids and its help.

This is what a platform package declares so that the core needs no edit for it: the config table parses
(an unknown key in it is an error at start-up), the table's admins may decide on any project, people
are matched by `t-…` id, and help speaks the platform's words. A real package names TOY as its
`draftloop.services` entry point; the tests `register` it (tests/contract/conftest.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms import PlatformHelp, PlatformPolicy, PlatformTable
from tests.contract.toyplatform.platform import NAME
from tests.contract.toyplatform.server import ToyServer

if TYPE_CHECKING:
    from bot.app.runtime import Role, Runtime, Service

# The servers a toy service can connect to, by the name its table gives (a URL, on a real platform).
SERVERS: dict[str, ToyServer] = {}


class ToyConfig(PlatformTable):
    server: str = "local"  # which toy server to connect to
    admins: tuple[str, ...] = ()  # toy user ids (t-…) who may decide on any project


def is_toy_id(entry: str) -> bool:
    return entry.startswith("t-") and len(entry) > 2


def _service(runtime: Runtime, role: Role) -> Service | None:
    table = TOY.config(runtime.settings.file)
    if role != "worker" or table.server not in SERVERS:
        return None
    from tests.contract.toyplatform.service import ToyService

    return ToyService(runtime, SERVERS[table.server])


TOY: PlatformPolicy[ToyConfig] = PlatformPolicy(
    name=NAME,
    title="Toy",
    table=ToyConfig,
    people="ids",
    is_id=is_toy_id,
    id_kind="toy user id (t-…)",
    admins=lambda table: table.admins,
    help=PlatformHelp(
        start="say `@draftloop` and your request",
        example="@draftloop [writing] a haiku about tea",
        decide="the accept / reject buttons under a draft",
        commands="`/draftloop help`, `/draftloop status`",
    ),
    service=_service,
)
