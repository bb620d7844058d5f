"""Which agent providers exist and how to build each: the built-ins, registered in code, and third-party
ones found by the `draftloop.agents` entry point.

A provider is a name (an agent's `provider` in the config, the part before `:` in DRAFTLOOP_AGENT), a
factory `(spec: AgentSpec, settings: Settings) -> AgentBackend`, the environment variable its key is
read from by default, and the one that moves its endpoint, with whether an endpoint must be given (a
provider with no endpoint of its own, such as any OpenAI-compatible server, is refused at start-up
without one instead of quietly calling someone else's). The core knows no provider by name: it masks
every declared key variable (bot/redact.py) and asks a built backend where it calls (`draftloop agents`).

The built-ins are declared in `adapters/agents/__init__.py` (BUILTIN_TABLE). bot/ never imports adapters,
so that table is named here by its import path and read on first need; its entries name each backend
by import path too, so declaring them costs no SDK import (openai and anthropic take ~1.5 s together).

Precedence, first match wins: `register_backend` (tests, embedding, replacing a built-in on purpose),
then the built-ins, then entry points.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from bot.errors import ConfigError

ENTRY_POINT_GROUP = "draftloop.agents"
BUILTIN_TABLE = "adapters.agents:BUILTINS"


@dataclass(frozen=True)
class Provider:
    """A provider as declared: `factory` is the callable or where to import it from ("module:attr")."""

    name: str
    factory: Callable[..., object] | str
    key_env: str = ""  # the variable holding the key unless an agent names its own `key_env`; "" none
    base_url_env: str = ""  # the variable holding the endpoint unless an agent names its own `base_url`
    base_url_required: bool = False  # no default endpoint: `base_url` or `base_url_env` must be set


_registered: dict[str, Provider] = {}
_loaded: dict[str, Callable[..., object]] = {}


def register_backend(
    name: str,
    factory: Callable[..., object] | str,
    *,
    key_env: str | None = None,
    base_url_env: str | None = None,
    base_url_required: bool | None = None,
) -> None:
    """Make `name` a provider built by `factory(spec, settings)`; it replaces any provider of that name.

    Each declaration defaults to the factory's own attribute of that name (a backend class declares them).
    """

    def declared(attr: str, given: object) -> object:
        return given if given is not None else getattr(factory, attr, None)

    _registered[name] = Provider(
        name,
        factory,
        str(declared("key_env", key_env) or ""),
        str(declared("base_url_env", base_url_env) or ""),
        declared("base_url_required", base_url_required) is True,
    )
    _loaded.pop(name, None)


def unregister_backend(name: str) -> None:
    """Undo `register_backend(name, …)`: a built-in or entry point of that name is used again."""
    _registered.pop(name, None)
    _loaded.pop(name, None)


def providers() -> dict[str, Provider]:
    """Every provider by name, after precedence."""
    return {**_entry_points(), **_builtins(), **_registered}


def provider_names() -> frozenset[str]:
    return frozenset(providers())


def factory(name: str) -> Callable[..., object]:
    """The provider's factory, imported on first use."""
    known = _loaded.get(name)
    if known is not None:
        return known
    provider = providers().get(name)
    if provider is None:
        raise ConfigError(f"no agent backend installed for provider {name!r}")
    made = _resolve(provider)
    _loaded[name] = made
    return made


def declared_key_envs() -> tuple[str, ...]:
    """The key variable of every provider. The built-ins declare theirs in their table; any other named by
    import path (an entry point) is imported to read it, so an entry point naming a `Provider` declaration
    keeps its SDK unimported. One that fails to import declares nothing (drafting with it says why)."""
    builtins = _builtins()
    found = [
        provider.key_env or ("" if builtins.get(name) is provider else _key_env_of(provider.factory))
        for name, provider in providers().items()
    ]
    return tuple(dict.fromkeys(env for env in found if env))


def _resolve(provider: Provider) -> Callable[..., object]:
    if not isinstance(provider.factory, str):
        return provider.factory
    try:
        made = _import(provider.factory)
    except Exception as exc:  # whatever a plug-in raises while importing: the operator sees one line
        raise ConfigError(f"agent backend {provider.name!r} cannot be loaded ({provider.factory}): {exc}") from exc
    if isinstance(made, Provider):  # an entry point may name a light declaration instead of the class
        return _resolve(made)
    if not callable(made):
        raise ConfigError(f"agent backend {provider.name!r}: {provider.factory} is not callable")
    return made


@functools.cache
def _key_env_of(factory: Callable[..., object] | str) -> str:
    try:
        target = _import(factory) if isinstance(factory, str) else factory
    except Exception:  # a plug-in broken at import must not stop the masking of every other key
        return ""
    return str(getattr(target, "key_env", "") or "")


def _import(path: str) -> object:
    module_name, _, attr = path.partition(":")
    found: object = importlib.import_module(module_name.strip())
    for part in attr.split(".") if attr else ():
        found = getattr(found, part.strip())
    return found


@functools.cache
def _builtins() -> dict[str, Provider]:
    try:
        table = _import(BUILTIN_TABLE)
    except ImportError:
        return {}  # bot/ installed without adapters: only registered and entry-point providers
    if not isinstance(table, tuple) or not all(isinstance(item, Provider) for item in table):
        raise ConfigError(f"{BUILTIN_TABLE} must be a tuple of bot.agent_registry.Provider")
    return {item.name: item for item in table}


@functools.cache
def _entry_points() -> dict[str, Provider]:
    """Installed entry points, read once per process (scanning the metadata costs milliseconds)."""
    found: dict[str, Provider] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = Provider(ep.name, ep.value)
    return found
