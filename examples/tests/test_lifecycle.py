"""The example client through the lifecycle state machine: an adapter maps its methods onto
the four steps the machine drives, and its errors onto YouCamApiError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import settings
from youcam_client import YouCamClient, YouCamError

from youcam_testkit.plugin import YouCam
from youcam_testkit.stateful import (
    DEFAULT_SETTINGS,
    EmulatorHandle,
    YouCamApiError,
    YouCamLifecycle,
    run_lifecycle,
)


@contextmanager
def api_errors() -> Iterator[None]:
    try:
        yield
    except YouCamError as error:
        raise YouCamApiError(error.status or 0, error.error_code, str(error)) from error


class ClientAdapter:
    """The four steps of the machine, done by the example client."""

    def __init__(self, handle: EmulatorHandle) -> None:
        control = handle.control
        self.client = YouCamClient(
            handle.api_key, handle.base_url, sleep=control.advance, clock=control.now, seed=0
        )

    def upload(self, data: bytes, content_type: str, name: str) -> str:
        with api_errors():
            return self.client.upload(data, content_type=content_type, file_name=name)

    def create_task(self, feature_key: str, body: dict[str, Any]) -> str:
        version, feature = feature_key.split("/", 1)
        with api_errors():
            return self.client.create_task(feature, body, version)

    def poll(self, feature_key: str, task_id: str) -> dict[str, Any]:
        version, feature = feature_key.split("/", 1)
        with api_errors():
            return self.client.poll(feature, task_id, version)

    def download(self, url: str) -> bytes:
        with api_errors():
            return self.client.fetch(url)


def test_the_example_client_keeps_the_lifecycle_invariants(youcam: YouCam) -> None:
    run_lifecycle(youcam, ClientAdapter, settings=settings(DEFAULT_SETTINGS, max_examples=20))


class OnlySkinTone(YouCamLifecycle):
    """Subclass to narrow the features (or to change start units, progression, ...)."""

    feature_keys = ("v2.0/skin-tone-analysis",)


def test_a_narrowed_machine(youcam_requests: YouCam) -> None:
    run_lifecycle(youcam_requests, ClientAdapter, machine=OnlySkinTone)
