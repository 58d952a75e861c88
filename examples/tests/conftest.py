"""Shared helpers for the example suite (the youcam fixtures come from the installed plugin)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from youcam_client import YouCamClient


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 150, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def photo() -> bytes:
    return jpeg_bytes()


def fresh(handle: Any) -> None:
    """Back to a clean emulator with this test's settings: Hypothesis runs many examples in
    one test, and the fixtures reset only between tests."""
    handle.reset()


@pytest.fixture
def client_for() -> Callable[..., YouCamClient]:
    """A client whose sleep and clock are the emulator's: no real waiting, and the journal's
    clock times show the waits the client chose."""

    def build(handle: Any, *, base_url: str | None = None, **options: Any) -> YouCamClient:
        return YouCamClient(
            handle.api_key,
            base_url or handle.base_url,
            sleep=handle.control.advance,
            clock=handle.control.now,
            seed=0,
            **options,
        )

    return build


def without_resets(schedule: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A fault schedule minus its connection resets.  Today the emulator journals a reset poll
    twice (status 0, then a 500 at the same instant), which reads as two polls 0 s apart; in
    process a reset arrives as a 500.  Drop this filter once the emulator is fixed."""
    return [rule for rule in schedule if not rule["action"].get("reset_connection")]
