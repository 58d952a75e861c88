"""Seeded identifiers shaped like the vendor's (FACTS.md: opaque file/task ids, snowflake ids).

Deterministic: the same seed yields the same sequence, so a test's ids are stable run to run.
"""

from __future__ import annotations

import base64
import random
import threading

_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class IdFactory:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._seed = seed
            self._random = random.Random(seed)
            self._sequence = 0
            self._last_ms = -1

    @property
    def seed(self) -> int:
        return self._seed

    def _bytes(self, n: int) -> bytes:
        with self._lock:
            return self._random.randbytes(n)

    def file_id(self) -> str:
        """64 characters of standard base64 (may hold ``+`` ``/``), like the vendor's."""
        return base64.b64encode(self._bytes(48)).decode("ascii")

    def task_id(self) -> str:
        """64 URL-safe characters: safe in a path even when the client does not encode it."""
        raw = self._bytes(64)
        return "".join(_URLSAFE[b & 63] for b in raw)

    def token(self, n: int = 16) -> str:
        """A URL-safe opaque token (asset ids, webhook ids)."""
        return base64.urlsafe_b64encode(self._bytes(n)).decode("ascii").rstrip("=")

    def snowflake(self, timestamp: float) -> int:
        """A snowflake-style integer (ms timestamp, then a sequence): beyond 2**53 on purpose.

        Strictly increasing, like a real snowflake generator: a timestamp behind the last one
        is treated as the last one, and when the 12-bit sequence wraps within one millisecond
        (a stopped ManualClock) the next millisecond is borrowed.
        """
        with self._lock:
            ms = int(timestamp * 1000)
            self._sequence = (self._sequence + 1) & 0xFFF
            sequence = self._sequence
            if ms <= self._last_ms:
                ms = self._last_ms + (1 if sequence == 0 else 0)
            self._last_ms = ms
        worker = self._seed & 0x3FF
        return (ms << 22) | (worker << 12) | sequence

    def integer(self, low: int, high: int) -> int:
        with self._lock:
            return self._random.randint(low, high)
