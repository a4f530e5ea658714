"""The application's import graph: no cycle between modules, nor between top-level packages.

`make lint` checks the layers with import-linter; this test adds what its contracts cannot
say: a cycle through a package's ``__init__`` (a blueprint importing its own package), and
one between top-level packages, with the single-module files (app.py, config.py,
extensions.py) that the import graph cannot take as roots read here with ``ast``.
"""

import ast
import graphlib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("commands", "jobs", "api", "reports", "notify", "accounts", "errors", "headers",
            "rate_limits", "workflow", "verification", "sealing")
MODULES = ("app", "config", "extensions")
APPLICATION = (*PACKAGES, *MODULES)


@pytest.fixture(scope="module")
def graph():
    """The import graph of the application's packages, external imports as leaves."""
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _top(name: str) -> str:
    return name.split(".")[0]


def _module_imports(module: str) -> set[str]:
    """The application names a single-module file imports (absolute imports, any depth)."""
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if _top(name) in APPLICATION}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as err:
        return err.args[1]
    return None


def test_no_cycle_between_modules(graph):
    edges = {module: {imported for imported in graph.find_modules_directly_imported_by(module)
                      if _top(imported) in PACKAGES}
             for module in graph.modules if _top(module) in PACKAGES}
    assert _cycle(edges) is None


def test_no_cycle_between_top_level_packages(graph):
    edges: dict[str, set[str]] = {name: set() for name in APPLICATION}
    for module in graph.modules:
        if _top(module) not in PACKAGES:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if _top(imported) in APPLICATION and _top(imported) != _top(module):
                edges[_top(module)].add(_top(imported))
    for module in MODULES:
        edges[module] |= {_top(name) for name in _module_imports(module)} - {module}
    assert _cycle(edges) is None


def test_a_cycle_is_found():
    """The check itself: a made-up cycle is reported with its members."""
    assert set(_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})) == {"a", "b", "c"}


def test_nothing_imports_the_factory(graph):
    importers = {module for module in graph.modules if _top(module) in PACKAGES
                 and "app" in graph.find_modules_directly_imported_by(module)}
    importers |= {module for module in MODULES if "app" in _module_imports(module)}
    assert importers == set()
