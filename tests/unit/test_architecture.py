"""The dependency rule: youcam_mock.core is plain Python that reads time only from its clock."""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path
from typing import Any

import pytest

import youcam_mock.core
from youcam_mock.contract import load_contract
from youcam_mock.core.backend import Backend
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.core.ids import IdFactory
from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.lifecycle import Progression
from youcam_mock.core.models import Task, TaskStatus
from youcam_mock.core.store import InMemoryStore, Store
from youcam_mock.core.webhooks import WebhookDispatcher

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
#: State lives in the store: an attribute holding one of these outside it would be state.
CONTAINERS = (dict, list, set, frozenset, deque)
#: Containers an object may hold because they are collaborators, not state.
ALLOWED_CONTAINERS: dict[type, set[str]] = {
    Backend: {
        "features",  # the contract-derived FeatureSpec map, read-only
        "on_task_finished",  # listeners (the webhook dispatcher's task_finished)
    },
    WebhookDispatcher: set(),
}
RULE: dict[str, Any] = {"match": {"feature": "sod"}, "action": {"http_error": "BadRequest"}}


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


# ---------------------------------------------------------------------- state behind the store


def _own_containers(obj: object) -> list[str]:
    """Attributes of ``obj`` holding a container, except its allowed collaborators."""
    allowed = ALLOWED_CONTAINERS.get(type(obj), set())
    return sorted(
        name
        for name, value in vars(obj).items()
        if isinstance(value, CONTAINERS) and name not in allowed
    )


def _finished(task_id: str) -> Task:
    return Task(
        task_id=task_id,
        owner=DEFAULT_API_KEY,
        feature="sod",
        version="v2.0",
        created_at=0.0,
        request={},
        status=TaskStatus.SUCCESS,
        finished_at=1.0,
    )


def _emulator(store: Store, clock: ManualClock) -> tuple[Backend, WebhookDispatcher]:
    """A backend and a webhook dispatcher on ``store``, wired as the app factory does."""
    backend = Backend(store, clock, MockConfig(), load_contract().features)
    journal: list[JournalEntry] = []
    return backend, WebhookDispatcher(clock, IdFactory(1), _accept, journal.append, store)


def _accept(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
    return 204


def _exercise(backend: Backend, dispatcher: WebhookDispatcher, task_id: str) -> None:
    """Touch every kind of state the two objects used to keep themselves."""
    backend.add_rule(RULE)
    backend.set_progression("v2.0/sod", Progression(running_polls=3))
    endpoint = dispatcher.register("https://hooks.example/a")
    dispatcher.task_finished(_finished(task_id))
    dispatcher.run_due()
    dispatcher.register("https://hooks.example/b")
    dispatcher.remove(endpoint.endpoint_id)


def test_backend_and_webhook_dispatcher_hold_no_state_of_their_own() -> None:
    """Rules, progressions, counters, endpoints and deliveries live behind the Store too."""
    backend, dispatcher = _emulator(InMemoryStore(), ManualClock())
    assert _own_containers(backend) == []
    assert _own_containers(dispatcher) == []
    _exercise(backend, dispatcher, "t1")
    assert _own_containers(backend) == []
    assert _own_containers(dispatcher) == []


def test_the_state_checker_would_catch_a_container_of_its_own() -> None:
    backend, dispatcher = _emulator(InMemoryStore(), ManualClock())
    vars(backend)["progressions_cache"] = {}
    vars(dispatcher)["_in_flight"] = set()
    vars(dispatcher)["_queue"] = deque()
    assert _own_containers(backend) == ["progressions_cache"]
    assert _own_containers(dispatcher) == ["_in_flight", "_queue"]


def test_two_emulators_on_one_store_share_all_of_their_state() -> None:
    """What a shared store (Redis) relies on: another process sees this one's state."""
    store, clock = InMemoryStore(), ManualClock()
    first_backend, first_hooks = _emulator(store, clock)
    second_backend, second_hooks = _emulator(store, clock)
    _exercise(first_backend, first_hooks, "t1")
    assert second_backend.add_rule(RULE).rule_id == "rule-2"
    assert dict(second_backend.progressions) == {"v2.0/sod": Progression(running_polls=3)}
    assert [e.url for e in second_hooks.endpoints()] == ["https://hooks.example/b"]
    assert [d.status for d in second_hooks.deliveries()] == ["delivered"]
    assert second_hooks.deliveries() == first_hooks.deliveries()
    second_hooks.task_finished(_finished("t2"))
    assert first_hooks.run_due() == 1  # queued by one, sent by the other
    assert second_hooks.run_due() == 0  # and never sent twice
    second_backend.reset()
    assert first_hooks.endpoints() == []
    assert first_hooks.deliveries() == []
    assert dict(first_backend.progressions) == {}
    assert first_backend.add_rule(RULE).rule_id == "rule-1"
