"""Storage is the only writer, and it names no state of the core's.

Read from the source: a statement built outside storage/ would need SQLAlchemy or SQLModel there,
and a state spelled inside storage/ would be a string literal equal to one of bot/states.py's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.states import State

ROOT = Path(__file__).resolve().parents[2]
# Everything above storage reaches the database through storage's functions only.
CORE = [ROOT / "bot", ROOT / "adapters"]
DATABASE_LIBRARIES = ("sqlalchemy", "sqlmodel")


def _modules(*paths: Path) -> Iterator[Path]:
    for path in paths:
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("module", list(_modules(*CORE)), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_database_library_and_no_private_storage_module_above_storage(module: Path) -> None:
    names = set(_imports(ast.parse(module.read_text(), str(module))))
    assert not {n for n in names if n.split(".")[0] in DATABASE_LIBRARIES}
    # storage's private helpers (a leading underscore) are storage's own
    assert not {n for n in names if n.startswith("storage.") and any(p.startswith("_") for p in n.split("."))}


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


STORAGE = [p for p in _modules(ROOT / "storage") if "migrations" not in p.parts]
# Words of storage's own vocabularies that happen to be state names too: a digest run's status.
OWN = {"digest_runs.py": {"failed"}}


@pytest.mark.parametrize("module", STORAGE, ids=lambda p: str(p.relative_to(ROOT)))
def test_storage_spells_no_state_of_the_core(module: Path) -> None:
    states = {s.value for s in State} - OWN.get(module.name, set())
    spelled = [(line, text) for line, text in _strings(ast.parse(module.read_text())) if text in states]
    assert not spelled, f"{module.name} names states {spelled}: take them from StateSets"
