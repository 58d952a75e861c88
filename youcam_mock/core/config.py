"""Settings of one emulator instance (plain data; the CLI, env and config files fill it)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from youcam_mock.core.lifecycle import Progression
from youcam_mock.core.ratelimit import RatePolicy

DEFAULT_API_KEY = "ycm_dev_0123456789abcdef"
HOUR = 3600.0
DAY = 24 * HOUR

#: Retention policies: the seed document's (24 h) and the later vendor pages' (30 days).
RETENTION_POLICIES = {
    "seed": {"file_ttl": DAY, "result_ttl": DAY, "task_ttl": DAY},
    "vendor": {"file_ttl": 30 * DAY, "result_ttl": 30 * DAY, "task_ttl": 30 * DAY},
}


@dataclass(frozen=True)
class MockConfig:
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    inactive_keys: tuple[str, ...] = ()
    expired_keys: tuple[str, ...] = ()
    seed: int = 0
    #: Units each key starts with (ample by default, so units never get in the way).
    units: float = 100_000.0
    progression: Progression = field(default_factory=Progression)
    retention: str = "seed"
    upload_url_ttl: float = HOUR
    result_link_ttl: float = 2 * HOUR
    #: Fetch ``src_file_url`` values that are not the emulator's own (off: offline by default).
    allow_outbound_downloads: bool = False
    outbound_timeout: float = 10.0
    max_json_body: int = 1024 * 1024
    max_image_bytes: int = 10 * 1024 * 1024
    max_video_bytes: int = 100 * 1024 * 1024
    #: Base URL written into presigned and result links; None: the request's own host.
    public_base_url: str | None = None
    #: Signing secret for presigned URLs; None: a random one per process.
    secret_key: str | None = None
    admin_token: str | None = None
    #: Polling interval (seconds) sent where the documents allow it; None: not sent.
    polling_interval: int | None = None
    #: ``off`` | ``vendor`` (5/s and 250/300 s, per IP and per key) | ``N/S[,N/S...]``.
    rate_limit: str = "off"
    #: Add ``Retry-After`` to 429s (the vendor sends no rate-limit headers).
    retry_after_header: bool = False
    #: ``contract``: engine codes stay inside each feature's EngineErrorCode enum;
    #: ``seed``: also the seed document's codes that no published enum lists.
    engine_codes: str = "contract"
    #: Webhook endpoints registered at start: ``[{"url", "secret": "whsec_...", "keys"}]``.
    webhooks: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.retention not in RETENTION_POLICIES:
            raise ValueError(f"retention is one of {sorted(RETENTION_POLICIES)}")
        if self.engine_codes not in ("contract", "seed"):
            raise ValueError("engine_codes is 'contract' or 'seed'")
        RatePolicy.parse(self.rate_limit)  # raises on a value the limiter cannot use

    @property
    def file_ttl(self) -> float:
        return RETENTION_POLICIES[self.retention]["file_ttl"]

    @property
    def result_ttl(self) -> float:
        return RETENTION_POLICIES[self.retention]["result_ttl"]

    @property
    def task_ttl(self) -> float:
        return RETENTION_POLICIES[self.retention]["task_ttl"]

    def with_changes(self, **changes: Any) -> MockConfig:
        return replace(self, **_coerce(changes))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> MockConfig:
        return cls().with_changes(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> MockConfig:
        return cls.from_mapping(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, prefix: str = "YOUCAM_MOCK_"
    ) -> MockConfig:
        """``YOUCAM_MOCK_API_KEYS=k1,k2``, ``YOUCAM_MOCK_SEED=3``, ... (JSON values allowed)."""
        env = os.environ if environ is None else environ
        names = {f.name for f in fields(cls)}
        data: dict[str, Any] = {}
        for key, raw in env.items():
            if key.startswith(prefix) and key[len(prefix) :].lower() in names:
                name = key[len(prefix) :].lower()
                try:
                    data[name] = json.loads(raw)
                except json.JSONDecodeError:
                    data[name] = raw.split(",") if name.endswith("_keys") else raw
        return cls.from_mapping(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Progression):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out.pop("secret_key", None)
        out.pop("admin_token", None)
        return out


def _coerce(changes: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in fields(MockConfig)}
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in known:
            raise ValueError(f"unknown setting {name!r}")
        if name == "progression" and isinstance(value, dict):
            value = Progression.from_dict(value)
        elif name.endswith("_keys") and isinstance(value, list | tuple | str):
            value = tuple([value] if isinstance(value, str) else value)
        elif name == "webhooks" and isinstance(value, list | tuple):
            value = tuple(dict(item) for item in value)
        out[name] = value
    return out
