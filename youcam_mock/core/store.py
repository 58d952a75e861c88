"""All emulator state behind one interface.

Files, uploaded bytes, tasks, result assets, API keys, the unit ledger, scenario rules,
per-feature progressions, counters, and webhook endpoints and deliveries live here and nowhere
else, so a shared backend (Redis) can replace :class:`InMemoryStore` and let several processes
serve one emulator.  Methods take and return copies' worth of records: callers write back with
``put_*``; compound changes run inside ``transaction()``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, Protocol

from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.models import ApiKey, Asset, FileRecord, LedgerEntry, Task
from youcam_mock.core.scenarios import Rule
from youcam_mock.core.webhooks import ENDPOINT_REMOVED, FAILED, PENDING, Delivery, WebhookEndpoint

#: (bucket name, window seconds, limit) for one rate check.
RateBucket = tuple[str, float, int]
JOURNAL_LIMIT = 10_000


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[object]: ...
    def reset(self) -> None: ...

    def put_key(self, key: ApiKey) -> None: ...
    def get_key(self, key: str) -> ApiKey | None: ...
    def keys(self) -> list[ApiKey]: ...

    def put_file(self, record: FileRecord) -> None: ...
    def get_file(self, file_id: str) -> FileRecord | None: ...
    def delete_file(self, file_id: str) -> None: ...
    def files(self) -> Iterator[FileRecord]: ...

    def put_blob(self, name: str, data: bytes) -> None: ...
    def get_blob(self, name: str) -> bytes | None: ...
    def delete_blob(self, name: str) -> None: ...

    def put_task(self, task: Task) -> None: ...
    def get_task(self, task_id: str) -> Task | None: ...
    def delete_task(self, task_id: str) -> None: ...
    def tasks(self) -> Iterator[Task]: ...

    def put_asset(self, asset: Asset) -> None: ...
    def get_asset(self, asset_id: str) -> Asset | None: ...
    def delete_asset(self, asset_id: str) -> None: ...
    def assets(self) -> Iterator[Asset]: ...

    def append_ledger(self, entry: LedgerEntry) -> None: ...
    def ledger(self, owner: str) -> list[LedgerEntry]: ...

    def rate_hit(self, buckets: list[RateBucket], now: float) -> tuple[bool, float, str]: ...
    def prune_rate_windows(self, before: float) -> int: ...

    def journal_append(self, entry: JournalEntry) -> JournalEntry: ...
    def journal(self) -> list[JournalEntry]: ...
    def journal_update(self, seq: int, change: Callable[[JournalEntry], None]) -> None: ...

    def put_rule(self, rule: Rule) -> None: ...
    def rules(self) -> list[Rule]: ...
    def delete_rule(self, rule_id: str) -> bool: ...
    def clear_rules(self) -> None: ...

    def put_progression(self, feature: str, progression: dict[str, Any]) -> None: ...
    def get_progression(self, feature: str) -> dict[str, Any] | None: ...
    def progressions(self) -> dict[str, dict[str, Any]]: ...
    def delete_progression(self, feature: str) -> bool: ...
    def clear_progressions(self) -> None: ...

    def next_counter(self, name: str) -> int: ...

    def put_endpoint(self, endpoint: WebhookEndpoint) -> None: ...
    def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...
    def delete_endpoint(self, endpoint_id: str) -> bool: ...
    def endpoints(self) -> list[WebhookEndpoint]: ...

    def put_delivery(self, delivery: Delivery) -> None: ...
    def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    def find_delivery(self, endpoint_id: str, task_id: str) -> Delivery | None: ...
    def deliveries(self) -> list[Delivery]: ...
    def prune_deliveries(self, keep: int) -> int: ...
    def claim_due_deliveries(self, now: float) -> list[tuple[Delivery, WebhookEndpoint]]: ...
    def release_delivery(self, delivery_id: str) -> None: ...
    def webhook_epoch(self) -> int: ...
    def clear_webhooks(self) -> None: ...

    def stats(self) -> dict[str, int]: ...


class InMemoryStore:
    """Dicts behind one re-entrant lock: the default, for one process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._webhook_epoch = 0
        self.reset()

    def transaction(self) -> AbstractContextManager[object]:
        return self._lock

    def reset(self) -> None:
        with self._lock:
            self._keys: dict[str, ApiKey] = {}
            self._files: dict[str, FileRecord] = {}
            self._blobs: dict[str, bytes] = {}
            self._tasks: dict[str, Task] = {}
            self._assets: dict[str, Asset] = {}
            self._ledger: dict[str, list[LedgerEntry]] = {}
            self._windows: dict[str, deque[float]] = {}
            self._journal: deque[JournalEntry] = deque(maxlen=JOURNAL_LIMIT)
            self._journal_seq = 0
            self._rules: dict[str, Rule] = {}
            self._progressions: dict[str, dict[str, Any]] = {}
            self._counters: dict[str, int] = {}
            self.clear_webhooks()

    def put_key(self, key: ApiKey) -> None:
        with self._lock:
            self._keys[key.key] = key

    def get_key(self, key: str) -> ApiKey | None:
        with self._lock:
            return self._keys.get(key)

    def keys(self) -> list[ApiKey]:
        with self._lock:
            return list(self._keys.values())

    def put_file(self, record: FileRecord) -> None:
        with self._lock:
            self._files[record.file_id] = record

    def get_file(self, file_id: str) -> FileRecord | None:
        with self._lock:
            return self._files.get(file_id)

    def delete_file(self, file_id: str) -> None:
        with self._lock:
            self._files.pop(file_id, None)
            self._blobs.pop(f"file:{file_id}", None)

    def files(self) -> Iterator[FileRecord]:
        with self._lock:
            return iter(list(self._files.values()))

    def put_blob(self, name: str, data: bytes) -> None:
        with self._lock:
            self._blobs[name] = data

    def get_blob(self, name: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(name)

    def delete_blob(self, name: str) -> None:
        with self._lock:
            self._blobs.pop(name, None)

    def put_task(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.task_id] = task

    def get_task(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def delete_task(self, task_id: str) -> None:
        with self._lock:
            self._tasks.pop(task_id, None)

    def tasks(self) -> Iterator[Task]:
        with self._lock:
            return iter(list(self._tasks.values()))

    def put_asset(self, asset: Asset) -> None:
        with self._lock:
            self._assets[asset.asset_id] = asset

    def get_asset(self, asset_id: str) -> Asset | None:
        with self._lock:
            return self._assets.get(asset_id)

    def delete_asset(self, asset_id: str) -> None:
        with self._lock:
            self._assets.pop(asset_id, None)
            self._blobs.pop(f"asset:{asset_id}", None)

    def assets(self) -> Iterator[Asset]:
        with self._lock:
            return iter(list(self._assets.values()))

    def append_ledger(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._ledger.setdefault(entry.owner, []).append(entry)

    def ledger(self, owner: str) -> list[LedgerEntry]:
        with self._lock:
            return list(self._ledger.get(owner, []))

    def rate_hit(self, buckets: list[RateBucket], now: float) -> tuple[bool, float, str]:
        """Atomically: if every bucket has room in its moving window, count the hit in all."""
        with self._lock:
            for name, window, limit in buckets:
                times = self._windows.setdefault(name, deque())
                while times and times[0] <= now - window:
                    times.popleft()
                if len(times) >= limit:
                    return False, max(0.0, times[0] + window - now), name
            for name, _, _ in buckets:
                self._windows[name].append(now)
            return True, 0.0, ""

    def prune_rate_windows(self, before: float) -> int:
        """Drop windows whose last hit is older than ``before`` (idle clients)."""
        with self._lock:
            idle = [
                name for name, times in self._windows.items() if not times or times[-1] <= before
            ]
            for name in idle:
                del self._windows[name]
            return len(idle)

    def journal_append(self, entry: JournalEntry) -> JournalEntry:
        with self._lock:
            self._journal_seq += 1
            entry.seq = self._journal_seq
            self._journal.append(entry)
            return entry

    def journal(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._journal)

    def journal_update(self, seq: int, change: Callable[[JournalEntry], None]) -> None:
        with self._lock:
            for entry in reversed(self._journal):
                if entry.seq == seq:
                    change(entry)
                    return

    def put_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules[rule.rule_id] = rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules.values())

    def delete_rule(self, rule_id: str) -> bool:
        with self._lock:
            return self._rules.pop(rule_id, None) is not None

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def put_progression(self, feature: str, progression: dict[str, Any]) -> None:
        """A per-feature Progression override, as ``Progression.to_dict()``."""
        with self._lock:
            self._progressions[feature] = dict(progression)

    def get_progression(self, feature: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._progressions.get(feature)
            return None if found is None else dict(found)

    def progressions(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(data) for name, data in self._progressions.items()}

    def delete_progression(self, feature: str) -> bool:
        with self._lock:
            return self._progressions.pop(feature, None) is not None

    def clear_progressions(self) -> None:
        with self._lock:
            self._progressions.clear()

    def next_counter(self, name: str) -> int:
        """Atomically count up: 1, 2, 3, ... per name (until reset)."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + 1
            return self._counters[name]

    def put_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self._lock:
            self._endpoints[endpoint.endpoint_id] = endpoint

    def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        with self._lock:
            return self._endpoints.get(endpoint_id)

    def delete_endpoint(self, endpoint_id: str) -> bool:
        with self._lock:
            return self._endpoints.pop(endpoint_id, None) is not None

    def endpoints(self) -> list[WebhookEndpoint]:
        """In registration order."""
        with self._lock:
            return list(self._endpoints.values())

    def put_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries[delivery.delivery_id] = delivery
            self._delivery_targets[(delivery.endpoint_id, delivery.task_id)] = delivery.delivery_id

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            return self._deliveries.get(delivery_id)

    def find_delivery(self, endpoint_id: str, task_id: str) -> Delivery | None:
        """The delivery of this task to this endpoint, if one is kept."""
        with self._lock:
            delivery_id = self._delivery_targets.get((endpoint_id, task_id))
            return None if delivery_id is None else self._deliveries.get(delivery_id)

    def deliveries(self) -> list[Delivery]:
        """Oldest first (the order they were first put)."""
        with self._lock:
            return list(self._deliveries.values())

    def prune_deliveries(self, keep: int) -> int:
        """Forget the oldest finished (not pending) deliveries beyond ``keep``."""
        with self._lock:
            finished = [d for d in self._deliveries.values() if d.status != PENDING]
            dropped = finished[: max(0, len(finished) - keep)]
            for delivery in dropped:
                del self._deliveries[delivery.delivery_id]
                self._delivery_targets.pop((delivery.endpoint_id, delivery.task_id), None)
            return len(dropped)

    def claim_due_deliveries(self, now: float) -> list[tuple[Delivery, WebhookEndpoint]]:
        """Atomically claim every pending delivery due by ``now`` and not already in flight.

        Earliest due first, each claimed delivery counts one more attempt and stays in flight
        (never claimed again) until :meth:`release_delivery`; copies are returned with the
        endpoint to send to.  A due delivery whose endpoint is gone is failed, not claimed.
        """
        with self._lock:
            due = sorted(
                (
                    d
                    for d in self._deliveries.values()
                    if d.status == PENDING
                    and d.next_attempt_at <= now
                    and d.delivery_id not in self._in_flight
                ),
                key=lambda d: d.next_attempt_at,
            )
            claimed: list[tuple[Delivery, WebhookEndpoint]] = []
            for delivery in due:
                endpoint = self._endpoints.get(delivery.endpoint_id)
                if endpoint is None:
                    delivery.status = FAILED
                    delivery.last_error = ENDPOINT_REMOVED
                    continue
                delivery.attempts += 1
                self._in_flight.add(delivery.delivery_id)
                claimed.append((replace(delivery), replace(endpoint)))
            return claimed

    def release_delivery(self, delivery_id: str) -> None:
        """End a claim: the delivery may be claimed again when next due."""
        with self._lock:
            self._in_flight.discard(delivery_id)

    def webhook_epoch(self) -> int:
        """Bumped by every reset and clear_webhooks: claims from an older epoch are stale."""
        with self._lock:
            return self._webhook_epoch

    def clear_webhooks(self) -> None:
        """Forget endpoints, deliveries and claims, and start a new epoch."""
        with self._lock:
            self._endpoints: dict[str, WebhookEndpoint] = {}
            self._deliveries: dict[str, Delivery] = {}
            self._delivery_targets: dict[tuple[str, str], str] = {}  # (endpoint, task) -> id
            self._in_flight: set[str] = set()
            self._webhook_epoch += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "keys": len(self._keys),
                "files": len(self._files),
                "tasks": len(self._tasks),
                "assets": len(self._assets),
                "blobs": len(self._blobs),
                "blob_bytes": sum(len(b) for b in self._blobs.values()),
                "rate_windows": len(self._windows),
                "journal": len(self._journal),
                "rules": len(self._rules),
            }
