"""All emulator state behind one interface.

Files, uploaded bytes, tasks, result assets, API keys and the unit ledger live here and nowhere
else, so a shared backend (Redis) can replace :class:`InMemoryStore` and let several processes
serve one emulator.  Methods take and return copies' worth of records: callers write back with
``put_*``; compound changes run inside ``transaction()``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.models import ApiKey, Asset, FileRecord, LedgerEntry, Task
from youcam_mock.core.scenarios import Rule

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

    def stats(self) -> dict[str, int]: ...


class InMemoryStore:
    """Dicts behind one re-entrant lock: the default, for one process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
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
