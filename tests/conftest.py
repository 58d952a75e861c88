"""Suite-wide: every response any in-process emulator sends during a test is validated against
the contract and the published documents; a test that received a non-conforming response fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, request, request_finished
from hypothesis import HealthCheck, settings

from tests.support.oracle import Violation, validate

pytest_plugins = ["pytester"]

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_violations: list[Violation] = []
_checked = {"count": 0}


def _on_response(sender: Flask, response: Response, **extra: Any) -> None:
    if response.direct_passthrough or sender.name != "youcam_mock":
        return
    _checked["count"] += 1
    _violations.extend(
        validate(
            request.method,
            request.path,
            response.status_code,
            response.get_data(),
            response.content_type or "",
            dict(request.args),
        )
    )


@pytest.fixture(autouse=True)
def _every_response_conforms(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test if any response it caused violates the contract or the published docs."""
    request_finished.connect(_on_response)
    _violations.clear()
    yield
    request_finished.disconnect(_on_response)
    found = list(_violations)
    _violations.clear()
    if found and not request.node.get_closest_marker("nonconforming_ok"):
        pytest.fail("responses violate the contract:\n" + "\n".join(map(str, found[:10])))
