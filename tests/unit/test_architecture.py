"""The dependency rule: youcam_mock.core is plain Python that reads time only from its clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import youcam_mock.core

CORE = Path(youcam_mock.core.__file__).resolve().parent
CORE_FILES = sorted(CORE.rglob("*.py"))
FORBIDDEN_IMPORTS = ("flask", "werkzeug", "itsdangerous", "openapi_core")
#: Calls that read the wall clock; only clock.py's SystemClock may make them.
WALL_CLOCK_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def _wall_clock_calls(tree: ast.Module) -> list[tuple[int, str, str | None]]:
    """(line, call, enclosing class) for every wall-clock read, including ``from time import``."""
    aliases: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                aliases[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in ("time", "datetime"):
                    aliases[alias.asname] = (alias.name,)
    found: list[tuple[int, str, str | None]] = []

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            child_owner = child.name if isinstance(child, ast.ClassDef) else owner
            if isinstance(child, ast.Call):
                path = _dotted(child.func)
                if path and path[0] in aliases:
                    path = aliases[path[0]] + path[1:]
                if len(path) >= 2 and (path[-2], path[-1]) in WALL_CLOCK_CALLS:
                    found.append((child.lineno, ".".join(path), owner))
            visit(child, child_owner)

    visit(tree, None)
    return found


def test_the_core_package_has_modules_to_check() -> None:
    names = {p.name for p in CORE_FILES}
    assert {"backend.py", "clock.py", "store.py", "lifecycle.py"} <= names


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_modules_import_no_web_or_schema_library(path: Path) -> None:
    imported = _imported_modules(_tree(path))
    offending = sorted(name for name in imported if name.split(".")[0] in FORBIDDEN_IMPORTS)
    assert offending == [], f"{path.name} imports {offending}"


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_modules_read_time_only_through_the_clock(path: Path) -> None:
    calls = _wall_clock_calls(_tree(path))
    if path.name == "clock.py":
        assert [owner for _, _, owner in calls] == ["SystemClock"]
    else:
        assert calls == [], f"{path.name} reads the wall clock: {calls}"


def test_the_checker_would_catch_a_wall_clock_read() -> None:
    source = (
        "import time\nimport time as t\nfrom datetime import datetime as dt\n"
        "from time import time as now\n"
        "def f():\n    return time.time(), dt.now(), t.time_ns(), now()\n"
    )
    calls = _wall_clock_calls(ast.parse(source))
    assert [call for _, call, _ in calls] == [
        "time.time",
        "datetime.datetime.now",
        "time.time_ns",
        "time.time",
    ]


def test_the_checker_would_catch_a_forbidden_import() -> None:
    source = "import flask\nfrom werkzeug.exceptions import NotFound\nfrom . import media\n"
    assert _imported_modules(ast.parse(source)) == {"flask", "werkzeug.exceptions"}
