"""What the core asks of a chat platform by its name: its policy.

`ports.ChatPlatform` is how the core talks to a running platform; a `PlatformPolicy` is what the core
needs to know about one even when it is not running (a unit test, a digest job, the config file):

- `table`: the pydantic model of its `[name]` table in the TOML file (None: the platform has none, and
  a `[name]` table is an unknown key like any other);
- who its admins are (`admins`, `admin_roles`, read from that table);
- how people are named there: `people="ids"` (Slack, Discord: a display name is self-chosen, so only the
  platform's ids count, `is_id` says which entries have that shape) or `"names"` (the console);
- whether role *names* match (`role_names`: Discord, where renaming a role takes a permission);
- whether it is one room (`one_room`: every project is "here", so status lists them all);
- the platform's sentences of the help text (`help`);
- the environment variables that hold its secrets (`secret_env`), for the one redaction (bot/redact.py).

A platform package makes one policy and names it as its `draftloop.services` entry point: calling the
policy with `(runtime, role)` is the service factory (`service`, which imports the SDK only then).
The core loads every entry point of that group once, on first use; `register` adds a policy that has
no entry point (a test-only platform, an embedding application) and must come before the config is
read, so that its table parses. An unknown name gets the default policy: ids compared exactly, no
table, no admins of its own, the generic help.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

_log = logging.getLogger(__name__)

ENTRY_POINTS = "draftloop.services"

TableT = TypeVar("TableT", bound=BaseModel)


class PlatformTable(BaseModel):
    """A base for a platform's `[name]` table: unknown keys are an error, so a typo is caught at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class PlatformHelp:
    """The platform's parts of the help text (bot/texts.py holds the rest)."""

    start: str  # how to start a request
    example: str  # a request as typed there
    decide: str  # how to accept or reject
    commands: str  # the commands, as typed there


GENERIC_HELP = PlatformHelp(
    start="mention draftloop with your request",
    example="[writing] a 600-word post on remote onboarding",
    decide="a reply `accept` / `reject` in the project's thread",
    commands="a reply `status`, `retry`, `cancel` or `help` in a thread",
)


class HasTables(Protocol):
    """The config file as the policies read it (bot.config.FileConfig)."""

    def table(self, name: str) -> BaseModel | None: ...


def any_entry(entry: str) -> bool:
    """The default `is_id`: any non-empty entry may be an id (compared exactly)."""
    return bool(entry.strip())


def nobody(table: Any) -> tuple[str, ...]:
    """The default `admins` / `admin_roles`: none of the platform's own."""
    return ()


@dataclass(frozen=True, eq=False, repr=False)
class PlatformPolicy(Generic[TableT]):
    """One chat platform's rules, declared by its package. See the module docstring."""

    name: str
    title: str = ""  # how a sentence names it ("Slack", "the console"); defaults to `name`
    table: type[TableT] | None = None
    people: Literal["ids", "names"] = "ids"
    is_id: Callable[[str], bool] = any_entry  # given a bare entry (`U123`, not `<@U123>`)
    id_kind: str = ""  # what an id is called in a warning ("Slack user or user-group id")
    admins: Callable[[TableT], tuple[str, ...]] = nobody
    admin_roles: Callable[[TableT], tuple[str, ...]] = nobody
    role_names: bool = False
    one_room: bool = False
    help: PlatformHelp = GENERIC_HELP
    secret_env: tuple[str, ...] = ()  # e.g. ("SLACK_BOT_TOKEN", …): masked wherever they could show
    service: Callable[[Any, Any], Any] | None = None  # (runtime, role) -> Service | None

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name)
        if not self.id_kind:
            object.__setattr__(self, "id_kind", f"{self.title} id")

    def __repr__(self) -> str:
        return f"PlatformPolicy({self.name!r})"

    def __call__(self, runtime: Any, role: str) -> Any:
        """The `draftloop.services` factory: the platform's Service for this role, or None."""
        return self.service(runtime, role) if self.service is not None else None

    def config(self, cfg: HasTables) -> TableT:
        """This platform's table of the config file (its defaults when the file has none)."""
        if self.table is None:
            raise TypeError(f"platform {self.name!r} has no config table")
        found = cfg.table(self.name)
        return found if isinstance(found, self.table) else self.table()

    def admins_in(self, cfg: HasTables) -> tuple[str, ...]:
        return self.admins(self.config(cfg)) if self.table is not None else ()

    def admin_roles_in(self, cfg: HasTables) -> tuple[str, ...]:
        return self.admin_roles(self.config(cfg)) if self.table is not None else ()


# ---------------------------------------------------------------------------------- registry

_found: dict[str, PlatformPolicy[Any]] | None = None
_registered: dict[str, PlatformPolicy[Any]] = {}
_known: dict[str, PlatformPolicy[Any]] = {}  # every name asked so far (permission checks ask often)


def _load() -> dict[str, PlatformPolicy[Any]]:
    global _found
    if _found is None:
        _found = {}  # set first: an entry point that reads the config while loading finds no loop
        for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
            try:
                obj = ep.load()
            except ImportError as exc:
                _log.warning("platform %s is not importable: %s", ep.name, exc)
                continue
            if isinstance(obj, PlatformPolicy):
                _found[obj.name] = obj
    return _found


def installed() -> dict[str, PlatformPolicy[Any]]:
    """Every known policy by name: the entry points' (by name), then the registered ones (which win)."""
    return {**_load(), **_registered}


def policy(name: str) -> PlatformPolicy[Any]:
    """The policy of platform `name`; the default policy for a name nobody declared."""
    found = _known.get(name)
    if found is None:
        found = _known[name] = _registered.get(name) or _load().get(name) or PlatformPolicy(name)
    return found


def declared_secret_envs() -> tuple[str, ...]:
    """Every installed platform's secret variables, once each."""
    return tuple(dict.fromkeys(env for p in installed().values() for env in p.secret_env))


def register(new: PlatformPolicy[Any]) -> None:
    """Add (or replace) a policy without an entry point. Do it before the config file is read."""
    _registered[new.name] = new
    _known.pop(new.name, None)


def unregister(name: str) -> None:
    """Remove a policy `register` added (entry points stay)."""
    _registered.pop(name, None)
    _known.pop(name, None)
