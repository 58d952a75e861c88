"""The pytest plugin (entry point ``pytest11: youcam``).

Inert until a fixture is used: this module imports only pytest; the emulator, Flask and
Hypothesis are imported inside the fixtures that need them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from youcam_mock.core.clock import ManualClock
    from youcam_mock.core.config import MockConfig
    from youcam_mock.server import ThreadedMockServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "youcam(**settings): settings for this test's emulator (api_keys, units, progression, "
        "seed, retention, ...; any youcam_mock MockConfig field)",
    )


@dataclass
class YouCamHandle:
    """What a test gets from the ``youcam`` fixture."""

    base_url: str
    api_key: str
    clock: ManualClock
    server: ThreadedMockServer

    @property
    def backend(self) -> Any:
        return self.server.app.extensions["youcam_mock"].backend

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="session")
def youcam_config() -> MockConfig:
    """Override in a conftest to change the emulator's settings for a whole suite."""
    from youcam_mock.core.config import MockConfig

    return MockConfig()


@pytest.fixture(scope="session")
def youcam_clock() -> ManualClock:
    from youcam_mock.core.clock import ManualClock

    return ManualClock()


@pytest.fixture(scope="session")
def youcam_server(
    youcam_config: MockConfig, youcam_clock: ManualClock
) -> Iterator[ThreadedMockServer]:
    """A live emulator on a free port for the whole session (real HTTP, threaded)."""
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
) -> YouCamHandle:
    """The live emulator, reset to ``youcam_config`` plus this test's ``youcam`` marker."""
    config = youcam_config
    marker = request.node.get_closest_marker("youcam")
    if marker is not None:
        config = config.with_changes(**marker.kwargs)
    backend = youcam_server.app.extensions["youcam_mock"].backend
    backend.reset(config)
    youcam_server.app.extensions["youcam_mock"].config = config
    return YouCamHandle(youcam_server.url, config.api_keys[0], youcam_clock, youcam_server)
