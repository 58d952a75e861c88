"""Records the store keeps.  Plain dataclasses of JSON-able values (plus ``bytes`` for blobs),
so a shared backend can serialise them.  Result trees hold ``{"$asset": id}`` placeholders
where the vendor puts a download URL: the HTTP layer signs a fresh URL on every poll.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ASSET_KEY = "$asset"


class KeyState(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    EXPIRED = "expired"


class TaskStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"


@dataclass
class ApiKey:
    key: str
    state: KeyState = KeyState.ACTIVE
    units: float = 0.0
    created_at: float = 0.0
    #: The id the credit API shows for this key's balance (stable across calls).
    credit_id: int = 0


@dataclass
class FileRecord:
    file_id: str
    owner: str
    content_type: str
    file_name: str
    file_size: int
    created_at: float
    expires_at: float
    feature: str | None = None
    uploaded_at: float | None = None
    #: What the bytes really are (``media.probe``), filled when the upload lands.
    media: dict[str, Any] | None = None
    #: Set for files the emulator made itself (task results), which need no upload.
    asset_id: str | None = None

    @property
    def uploaded(self) -> bool:
        return self.uploaded_at is not None


@dataclass
class Task:
    task_id: str
    owner: str
    feature: str
    version: str
    created_at: float
    request: dict[str, Any]
    input_files: list[str] = field(default_factory=list)
    status: TaskStatus = TaskStatus.RUNNING
    polls: int = 0
    cost: float = 0.0
    #: The outcome fixed at creation: ``None`` for success, else the engine code.
    planned_error: str | None = None
    planned_error_message: str | None = None
    finished_at: float | None = None
    results: dict[str, Any] | None = None
    error: str | None = None
    error_message: str | None = None
    expires_at: float | None = None
    seed: int = 0
    #: A progression of its own (a scenario rule's slow or stuck task), else the feature's.
    progression: dict[str, Any] | None = None
    #: Request-level codes named in-band for later calls on this task (TaskTimeout, ...).
    triggers: list[str] = field(default_factory=list)
    #: Scenario rules that acted on this task at creation.
    rules: list[str] = field(default_factory=list)


@dataclass
class Asset:
    asset_id: str
    owner: str
    task_id: str
    content_type: str
    filename: str
    created_at: float
    expires_at: float


@dataclass
class LedgerEntry:
    entry_id: int
    owner: str
    timestamp: float
    action: str
    target_id: str
    amount: float
    dst_actions: list[str] = field(default_factory=list)
