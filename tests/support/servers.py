"""A live emulator for the length of a ``with`` block, yielding its base URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from youcam_mock.server import ThreadedMockServer


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    with ThreadedMockServer(app) as server:
        yield server.url
