"""Every extension under ``cogs/`` imports, and has an async ``setup()`` alone in its entry point.

An extension is a package or module directly in ``cogs/`` whose name does not
start with ``_`` (the bot loads it as ``cogs.<name>``); its private modules
(``_cog.py``, ...) are imported through it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import cogs

COGS_DIR = Path(cogs.__file__).parent


def extensions() -> list[str]:
    """``cogs.<name>`` for every public package or module in cogs/."""
    found = [
        f"cogs.{module.name}"
        for module in pkgutil.iter_modules([str(COGS_DIR)])
        if not module.name.startswith("_")
    ]
    return sorted(found)


def entry_point(name: str) -> Path:
    """The file discord.py reads ``setup`` from: the package's __init__.py, or the module."""
    short = name.removeprefix("cogs.")
    package = COGS_DIR / short / "__init__.py"
    return package if package.exists() else COGS_DIR / f"{short}.py"


def test_the_operator_extensions_are_found() -> None:
    assert {"cogs.admin", "cogs.announcer", "cogs.errors", "cogs.relay"} <= set(extensions())


@pytest.mark.parametrize("name", extensions())
def test_extension_imports_and_has_an_async_setup(name: str) -> None:
    module = importlib.import_module(name)
    setup = getattr(module, "setup", None)
    assert setup is not None, f"{name} has no setup(); discord.py could not load it"
    assert inspect.iscoroutinefunction(setup), f"{name}.setup must be `async def setup(bot)`"
    assert list(inspect.signature(setup).parameters) == ["bot"], f"{name}.setup(bot) only"


@pytest.mark.parametrize("name", extensions())
def test_entry_point_defines_nothing_but_setup(name: str) -> None:
    """House style (python-discord): the feature lives in private modules, setup() alone here."""
    tree = ast.parse(entry_point(name).read_text(encoding="utf-8"))
    defined = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    assert defined == ["setup"], f"{entry_point(name)} defines {defined}; move them to _*.py"
