"""The pytest plugin (entry point ``pytest11: youcam``).

Inert until a fixture is used: this module imports only pytest and the standard library; the
emulator, Flask, ``responses`` and ``respx`` are imported inside the fixtures that need them.

Fixtures (pytest-httpserver's pattern: a session-scoped server, a per-test reset, an overridable
config fixture):

- ``youcam_config`` (session): the MockConfig every emulator here starts from; override it.
- ``youcam_server`` (session): a live emulator on a free port (real HTTP, threaded).
- ``youcam`` (function): a handle on the live emulator, reset for this test (``@pytest.mark.youcam``
  settings applied): ``base_url``, ``api_key``, ``clock``, ``control``, ``journal()``.
- ``youcam_requests`` / ``youcam_httpx`` (function): route calls that ``requests`` / ``httpx``
  make to the vendor hosts into an in-process emulator: the code under test changes nothing.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask

    from youcam_mock.control import InProcessControl
    from youcam_mock.core.clock import ManualClock
    from youcam_mock.core.config import MockConfig
    from youcam_mock.server import ThreadedMockServer

VENDOR_HOSTS = ("yce-api-01.makeupar.com", "yce-api-01.perfectcorp.com")
VENDOR_BASE_URL = f"https://{VENDOR_HOSTS[0]}"
_VENDOR_URL = re.compile(r"^https?://(" + "|".join(re.escape(h) for h in VENDOR_HOSTS) + r")(/|$)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "youcam(**settings): settings for this test's emulator: any youcam_mock MockConfig "
        "field (api_keys, units, rate_limit, progression, seed, retention, ...)",
    )


@dataclass
class YouCam:
    """What a test gets from ``youcam`` (live) or ``youcam_requests``/``youcam_httpx``."""

    base_url: str
    api_key: str
    clock: ManualClock
    control: InProcessControl
    app: Flask
    config: MockConfig
    server_errors: list[str] = field(default_factory=list)
    #: This test's settings on top of ``youcam_config`` (its marker), for ``reset``.
    changes: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        """A clean emulator with this test's settings again: for ``@given`` tests, whose
        examples share one test's fixtures (start each example with ``youcam.reset()``)."""
        self.control.reset(config=self.changes or None)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Requests the emulator saw in this test (filters: key, status, path_prefix, ...)."""
        entries: list[dict[str, Any]] = self.control.journal(**filters)
        return entries


# ---------------------------------------------------------------------- configuration


@pytest.fixture(scope="session")
def youcam_config() -> MockConfig:
    """Override in a conftest to change the emulator's settings for a whole suite."""
    from youcam_mock.core.config import MockConfig

    return MockConfig()


@pytest.fixture(scope="session")
def youcam_clock() -> ManualClock:
    """The live emulator's clock: it moves only when a test moves it."""
    from youcam_mock.core.clock import ManualClock

    return ManualClock()


def _marker_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("youcam"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.youcam takes keyword settings only")
        changes.update(marker.kwargs)
    return changes


def _reset(app: Flask, base: MockConfig, changes: dict[str, Any]) -> MockConfig:
    """Back to ``base`` plus this test's changes: nothing leaks from the previous test."""
    state = app.extensions["youcam_mock"]
    state.base_config = base
    try:
        state.controller.reset(config=changes or None)
    except Exception as error:  # an unknown setting name, a bad value
        raise pytest.UsageError(f"@pytest.mark.youcam: {error}") from None
    clock = state.clock
    if hasattr(clock, "set_speed"):
        clock.set_speed(0.0)
    config: MockConfig = state.config
    return config


class _ErrorCollector:
    """Exceptions raised inside the emulator while a test runs: they fail that test."""

    def __init__(self, app: Flask) -> None:
        from flask import got_request_exception

        self.app = app
        self.errors: list[str] = []
        self._signal = got_request_exception

    def __enter__(self) -> list[str]:
        self._signal.connect(self._record, self.app)
        return self.errors

    def __exit__(self, *exc: object) -> None:
        self._signal.disconnect(self._record, self.app)

    def _record(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        if isinstance(exception, ConnectionResetError):
            return  # a scenario's scripted connection reset, not a failure of the emulator
        self.errors.append("".join(traceback.format_exception(exception)))


def _watch(request: pytest.FixtureRequest, errors: list[str]) -> None:
    """Let ``pytest_runtest_call`` fail the test itself when the emulator raised."""
    request.node.stash[_ERRORS] = errors


def _surface(errors: list[str], request: pytest.FixtureRequest) -> None:
    """Errors from requests made after the test body (in teardown) fail at teardown."""
    reported = request.node.stash.get(_REPORTED, 0)
    if len(errors) > reported:
        pytest.fail("the emulator raised while serving this test:\n" + "\n".join(errors[reported:]))


_ERRORS = pytest.StashKey[list[str]]()
_REPORTED = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """An exception inside the emulator fails the test that caused it (not just teardown)."""
    result = yield
    errors = item.stash.get(_ERRORS, [])
    if errors:
        item.stash[_REPORTED] = len(errors)
        pytest.fail("the emulator raised while serving this test:\n" + "\n".join(errors))
    return result


# ---------------------------------------------------------------------- live server


@pytest.fixture(scope="session")
def youcam_server(
    youcam_config: MockConfig, youcam_clock: ManualClock
) -> Iterator[ThreadedMockServer]:
    """A live emulator on a free port for the whole session, stopped at the end."""
    from youcam_mock.app import create_app
    from youcam_mock.server import ThreadedMockServer

    server = ThreadedMockServer(create_app(youcam_config, clock=youcam_clock)).start()
    yield server
    server.stop()


@pytest.fixture
def youcam(
    request: pytest.FixtureRequest,
    youcam_server: ThreadedMockServer,
    youcam_config: MockConfig,
    youcam_clock: ManualClock,
) -> Iterator[YouCam]:
    """The live emulator, reset for this test to ``youcam_config`` + ``@pytest.mark.youcam``."""
    from youcam_mock.control import InProcessControl

    app = youcam_server.app
    changes = _marker_changes(request)
    config = _reset(app, youcam_config, changes)
    with _ErrorCollector(app) as errors:
        _watch(request, errors)
        yield YouCam(
            base_url=youcam_server.url,
            api_key=config.api_keys[0],
            clock=youcam_clock,
            control=InProcessControl(app),
            app=app,
            config=config,
            server_errors=errors,
            changes=changes,
        )
    _surface(errors, request)


# ---------------------------------------------------------------------- in-process modes


@pytest.fixture(scope="session")
def youcam_inprocess_app(youcam_config: MockConfig) -> Flask:
    """The emulator that in-process modes route to; its links name the vendor host."""
    from youcam_mock.app import create_app
    from youcam_mock.core.clock import ManualClock

    config = youcam_config.with_changes(public_base_url=VENDOR_BASE_URL)
    return create_app(config, clock=ManualClock())


def _inprocess_handle(request: pytest.FixtureRequest, app: Flask, base: MockConfig) -> YouCam:
    from youcam_mock.control import InProcessControl

    changes = {"public_base_url": VENDOR_BASE_URL, **_marker_changes(request)}
    config = _reset(app, base, changes)
    return YouCam(
        changes=changes,
        base_url=VENDOR_BASE_URL,
        api_key=config.api_keys[0],
        clock=app.extensions["youcam_mock"].clock,
        control=InProcessControl(app),
        app=app,
        config=config,
    )


def _forward(
    app: Flask, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, dict[str, str], bytes]:
    """One request through the emulator's WSGI app; a scripted reset raises ConnectionResetError."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    skip = {"host", "content-length", "transfer-encoding", "connection"}
    with app.test_client() as client:
        response = client.open(
            path,
            method=method,
            headers={k: v for k, v in headers.items() if k.lower() not in skip},
            data=body or b"",
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        return response.status_code, dict(response.headers), response.get_data()


@pytest.fixture
def youcam_requests(
    request: pytest.FixtureRequest, youcam_inprocess_app: Flask, youcam_config: MockConfig
) -> Iterator[YouCam]:
    """``requests`` calls to the vendor hosts go to an in-process emulator (via ``responses``);
    every other URL passes through untouched."""
    import requests
    import responses

    app = youcam_inprocess_app
    handle = _inprocess_handle(request, app, youcam_config)

    def callback(prepared: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        try:
            return _forward(
                app, str(prepared.method), str(prepared.url), dict(prepared.headers), body
            )
        except ConnectionResetError as error:
            raise requests.ConnectionError(str(error)) from error

    with (
        _ErrorCollector(app) as errors,
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            mock.add_callback(method, _VENDOR_URL, callback=callback)
        mock.add_passthru(
            re.compile(r"^(?!https?://(" + "|".join(map(re.escape, VENDOR_HOSTS)) + r")(/|$))")
        )
        handle.server_errors = errors
        _watch(request, errors)
        yield handle
    _surface(errors, request)


@pytest.fixture
def youcam_httpx(
    request: pytest.FixtureRequest, youcam_inprocess_app: Flask, youcam_config: MockConfig
) -> Iterator[YouCam]:
    """``httpx`` calls to the vendor hosts go to an in-process emulator (via ``respx``);
    every other URL passes through untouched."""
    import httpx
    import respx

    app = youcam_inprocess_app
    handle = _inprocess_handle(request, app, youcam_config)

    def side_effect(incoming: httpx.Request) -> httpx.Response:
        try:
            status, headers, body = _forward(
                app, incoming.method, str(incoming.url), dict(incoming.headers), incoming.content
            )
        except ConnectionResetError as error:
            raise httpx.RemoteProtocolError(str(error), request=incoming) from error
        return httpx.Response(status, headers=headers, content=body)

    with _ErrorCollector(app) as errors, respx.mock(assert_all_called=False) as router:
        for host in VENDOR_HOSTS:
            router.route(host=host).mock(side_effect=side_effect)
        router.route().pass_through()
        handle.server_errors = errors
        _watch(request, errors)
        yield handle
    _surface(errors, request)
