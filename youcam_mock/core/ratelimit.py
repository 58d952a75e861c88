"""The vendor's rate limits: per IP address AND per key, each N requests per window.

Written by hand rather than with the ``limits`` library: its storage reads ``time.time()``
directly (and expires entries from a timer thread), so its windows cannot follow the
emulator's injected clock, and tests would have to sleep.  This is an exact moving window
(a log of accepted request times per bucket), kept in the store like all other state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from youcam_mock.core.clock import Clock
from youcam_mock.core.store import Store


@dataclass(frozen=True)
class RateLimit:
    requests: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


#: The seed document: 5 queries per second and 250 requests per 300 s, per IP and per key.
VENDOR_LIMITS = (RateLimit(5, 1.0), RateLimit(250, 300.0))
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(s)?\s*$")


@dataclass(frozen=True)
class RatePolicy:
    """Which limits apply; ``off`` lifts them, ``vendor`` is the documented pair."""

    limits: tuple[RateLimit, ...] = VENDOR_LIMITS
    per_ip: bool = True
    per_key: bool = True

    @classmethod
    def parse(cls, text: str) -> RatePolicy:
        """``off`` | ``vendor`` | ``N/S[,N/S...]`` (e.g. ``2/1,20/60``)."""
        text = text.strip().lower()
        if text == "off":
            return cls(limits=())
        if text == "vendor":
            return cls()
        limits = []
        for part in text.split(","):
            match = _LIMIT.match(part)
            if not match:
                raise ValueError(f"rate limit {part!r} is not 'off', 'vendor' or N/SECONDS")
            limits.append(RateLimit(int(match[1]), float(match[2])))
        return cls(limits=tuple(limits))

    def describe(self) -> str:
        return ",".join(map(str, self.limits)) if self.limits else "off"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0
    bucket: str = ""


class RateLimiter:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def hit(self, policy: RatePolicy, *, ip: str | None, key: str | None) -> Decision:
        """Count one request against every bucket it falls in; all must have room.

        A refused request is not counted, so a client that backs off gets through again
        as soon as the window moves.
        """
        if not policy.limits:
            return Decision(True)
        buckets = []
        for limit in policy.limits:
            if policy.per_ip and ip:
                buckets.append((f"ip:{ip}:{limit}", limit.seconds, limit.requests))
            if policy.per_key and key:
                buckets.append((f"key:{key}:{limit}", limit.seconds, limit.requests))
        allowed, retry_after, bucket = self.store.rate_hit(buckets, self.clock.now())
        return Decision(allowed, retry_after, bucket)
