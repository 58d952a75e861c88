"""A bounded journal of requests and webhook deliveries, for assertions and verdicts.

Entries live in the store (state has one home); this module defines their shape and filters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class JournalEntry:
    seq: int
    at: float  # clock time the request arrived
    method: str
    path: str
    status: int
    key: str | None = None
    ip: str | None = None
    duration_ms: float = 0.0
    operation: str | None = None  # "POST /s2s/v2.0/task/{feature}"-style key, when a vendor op
    feature: str | None = None
    task_id: str | None = None
    error_code: str | None = None
    rule: str | None = None  # the scenario rule that fired, if any
    kind: str = "request"  # "request" | "webhook"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FILTERS = {
    "path_prefix",
    "since",
    "until",
    "status",
    "method",
    "path",
    "key",
    "ip",
    "operation",
    "feature",
    "task_id",
    "error_code",
    "rule",
    "kind",
}


def matches(entry: JournalEntry, filters: dict[str, Any]) -> bool:
    """Every given filter holds: equality on fields, ``path_prefix``, ``since``/``until``.

    An unknown filter name raises ValueError: a misspelt filter must not match nothing.
    """
    unknown = set(filters) - FILTERS
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)}; use {sorted(FILTERS)}")
    for name, wanted in filters.items():
        if wanted is None:
            continue
        if name == "path_prefix":
            if not entry.path.startswith(str(wanted)):
                return False
        elif name == "since":
            if entry.at < float(wanted):
                return False
        elif name == "until":
            if entry.at > float(wanted):
                return False
        elif name == "status":
            if entry.status != int(wanted):
                return False
        elif str(getattr(entry, name, None)) != str(wanted):
            return False
    return True
