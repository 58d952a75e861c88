"""The emulator's behaviour, one method per kind of vendor operation (moto's models layer).

Generic over the 77 task operations: what differs between features is data in their
:class:`FeatureSpec`.  No HTTP here: methods take plain values, raise :class:`ApiError` by vendor
code, read time from the injected clock, and keep every piece of state in the store.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from youcam_mock.core import media
from youcam_mock.core.clock import Clock
from youcam_mock.core.config import MockConfig
from youcam_mock.core.errors import CATALOG, ENGINE_ERRORS, ApiError
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.ids import IdFactory
from youcam_mock.core.journal import JournalEntry, matches
from youcam_mock.core.lifecycle import TERMINAL, Event, Progression, transition
from youcam_mock.core.models import (
    ApiKey,
    Asset,
    FileRecord,
    KeyState,
    LedgerEntry,
    Task,
)
from youcam_mock.core.ratelimit import Decision, RateLimiter, RatePolicy
from youcam_mock.core.results import InputFile, ResultBuilder
from youcam_mock.core.scenarios import TASK_STAGE, Rule, fire, rule_from_dict
from youcam_mock.core.scenarios import Event as RuleEvent
from youcam_mock.core.store import Store
from youcam_mock.core.units import price_for, task_cost

#: ``url -> bytes`` for URLs the emulator itself serves (None when it does not know the URL).
UrlResolver = Callable[[str], bytes | None]

TEMPLATES_PER_FEATURE = 45
_TEMPLATE_CATEGORIES = ("classic", "trending", "seasonal")
_SWEEP_EVERY = 60.0  # seconds of clock time between retention sweeps
#: In-band triggers: a file name or request string holding ``trigger_<code>`` produces <code>
#: with no control call (payment providers' test cards); see the README's error table.
TRIGGER = re.compile(r"trigger_([A-Za-z]+(?:_[a-z]+)*)")
#: Keys that exist in a given state with no configuration: in-band 401s.
INBAND_KEY_STATES = {"inactive_": KeyState.INACTIVE, "expired_": KeyState.EXPIRED}
#: Request-level codes a trigger raises at task creation.
CREATE_TRIGGERS = (
    "InvalidParameters",
    "BadRequest",
    "CreditInsufficiency",
    "InvalidStyleGroup",
    "InvalidStyle",
    "TooManyRequests",
)

#: The credit-history ``action`` values the vendor enumerates, for the features that have one.
_HISTORY_ACTIONS = {
    "enhance": "api_photo_enhance",
    "generative-fill": "api_object_removal",
    "sod": "api_background_removal",
    "colorize": "api_colorize",
    "text-to-image": "api_text_to_image",
    "hair-style": "api_hair_style",
    "bg-blur": "blur_background",
    "bg-replace": "change_background",
}


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    category_name: str
    extra: dict[str, Any]


class Backend:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: MockConfig,
        features: dict[str, FeatureSpec],
        *,
        resolve_url: UrlResolver | None = None,
        fetch_url: UrlResolver | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.features = features
        self.ids = IdFactory(config.seed)
        self.resolve_url = resolve_url or (lambda url: None)
        self.fetch_url = fetch_url
        self.rate_limiter = RateLimiter(store, clock)
        self.rate_policy = RatePolicy.parse(config.rate_limit)
        self.on_task_finished: list[Callable[[Task], object]] = []
        self._last_sweep = clock.now()
        self.seed_keys()

    # ------------------------------------------------------------------ state
    def reset(self, config: MockConfig | None = None) -> None:
        """Forget everything; start again from the (possibly new) config and its seed."""
        if config is not None:
            self.config = config
            self.rate_policy = RatePolicy.parse(config.rate_limit)
        with self.store.transaction():
            self.store.reset()
            self.ids.reseed(self.config.seed)
            self.seed_keys()

    def seed_keys(self) -> None:
        states = [
            *((k, KeyState.ACTIVE) for k in self.config.api_keys),
            *((k, KeyState.INACTIVE) for k in self.config.inactive_keys),
            *((k, KeyState.EXPIRED) for k in self.config.expired_keys),
        ]
        for key, state in states:
            self.add_key(key, state=state, units=self.config.units)

    def add_key(
        self, key: str, *, state: KeyState = KeyState.ACTIVE, units: float | None = None
    ) -> ApiKey:
        if not key or any(c.isspace() for c in key):
            raise ApiError("InvalidParameters", "an API key is a non-empty string without spaces")
        now = self.clock.now()
        record = ApiKey(
            credit_id=self.ids.snowflake(now),
            key=key,
            state=state,
            units=float(self.config.units if units is None else units),
            created_at=now,
        )
        with self.store.transaction():
            self.store.put_key(record)
            self._ledger(key, "permanent_credits", key, record.units)
        return record

    def set_key_state(self, key: str, state: KeyState) -> ApiKey:
        with self.store.transaction():
            record = self.store.get_key(key)
            if record is None:
                raise ApiError("InvalidParameters", f"no such key {key}")
            record.state = state
            self.store.put_key(record)
            return record

    def set_units(self, key: str, units: float) -> ApiKey:
        with self.store.transaction():
            record = self.store.get_key(key)
            if record is None:
                raise ApiError("InvalidParameters", f"no such key {key}")
            delta = float(units) - record.units
            record.units = float(units)
            self.store.put_key(record)
            self._ledger(key, "compensation_from_customer_service", key, delta)
            return record

    @property
    def progressions(self) -> MutableMapping[str, Progression]:
        """The per-feature overrides: a live view of the store (reads and writes go there)."""
        return _ProgressionView(self.store)

    def progression_for(self, spec: FeatureSpec, task: Task | None = None) -> Progression:
        if task is not None and task.progression is not None:
            return Progression.from_dict(task.progression)
        data = self.store.get_progression(spec.key) or self.store.get_progression(spec.feature)
        return Progression.from_dict(data) if data else self.config.progression

    def set_progression(self, feature: str | None, progression: Progression) -> None:
        """Per feature ("skin-analysis" or "v2.1/skin-analysis"), or for all when None."""
        if feature is None:
            self.config = self.config.with_changes(progression=progression)
        else:
            self.store.put_progression(feature, progression.to_dict())

    # ------------------------------------------------------------------ rate limits, journal
    def rate_check(self, *, ip: str | None, key: str | None) -> Decision:
        return self.rate_limiter.hit(self.rate_policy, ip=ip, key=key)

    def record(self, entry: JournalEntry) -> JournalEntry:
        return self.store.journal_append(entry)

    def journal(self, **filters: Any) -> list[JournalEntry]:
        limit = filters.pop("limit", None)
        entries = [e for e in self.store.journal() if matches(e, filters)]
        if limit is None:
            return entries
        count = int(limit)
        if count < 0:
            raise ValueError("limit must be >= 0")
        return entries[len(entries) - count :]

    # ------------------------------------------------------------------ scenario rules
    def add_rule(self, data: dict[str, Any]) -> Rule:
        try:
            rule = rule_from_dict(data, f"rule-{self.store.next_counter('rule')}")
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", str(error)) from None
        self.store.put_rule(rule)
        return rule

    def rules(self) -> list[Rule]:
        return self.store.rules()

    def remove_rule(self, rule_id: str) -> None:
        if not self.store.delete_rule(rule_id):
            raise ApiError("InvalidParameters", f"no rule {rule_id}")

    def fire_rules(self, event: RuleEvent) -> list[Rule]:
        """The rules that act on this event, in the order they were added (counters updated)."""
        fired = []
        with self.store.transaction():
            for rule in self.store.rules():
                if fire(rule, event):
                    fired.append(rule)
                self.store.put_rule(rule)
        return fired

    # ------------------------------------------------------------------ auth
    def authenticate(self, key: str | None) -> ApiKey:
        """The caller's key record, or the vendor's 401 code for what is wrong with it."""
        self.maybe_sweep()
        if not key:
            raise ApiError("InvalidApiKey")
        record = self.store.get_key(key)
        if record is None:
            for prefix, state in INBAND_KEY_STATES.items():
                if key.startswith(prefix):
                    record = ApiKey(key=key, state=state)
        if record is None:
            raise ApiError("InvalidApiKey")
        if record.state is KeyState.INACTIVE:
            raise ApiError("InactiveApiKey")
        if record.state is KeyState.EXPIRED:
            raise ApiError("ExpiredApiKey")
        return record

    # ------------------------------------------------------------------ files
    def register_files(
        self, owner: str, files: list[dict[str, Any]], feature: str | None = None
    ) -> list[FileRecord]:
        """The File API: one record per requested file, in request order; no bytes yet."""
        if not files:
            raise ApiError("InvalidParameters", "files must hold at least one file")
        now = self.clock.now()
        records = []
        for index, item in enumerate(files):
            size = item["file_size"]
            content_type = str(item["content_type"])
            if size < 0:
                raise ApiError("InvalidParameters", f"files[{index}].file_size must be >= 0")
            limit = (
                self.config.max_video_bytes
                if content_type.startswith("video/")
                else self.config.max_image_bytes
            )
            if not content_type.startswith(("image/", "video/")):
                raise ApiError(
                    "InvalidParameters",
                    f"files[{index}].content_type must be an image or video type",
                )
            if size > limit:
                raise ApiError(
                    "InvalidParameters", f"files[{index}].file_size exceeds the {limit} byte limit"
                )
            records.append(
                FileRecord(
                    file_id=self.ids.file_id(),
                    owner=owner,
                    content_type=content_type,
                    file_name=str(item["file_name"]),
                    file_size=int(size),
                    created_at=now,
                    expires_at=now + self.config.file_ttl,
                    feature=feature,
                )
            )
        with self.store.transaction():
            for record in records:
                self.store.put_file(record)
        return records

    def upload_deadline(self, record: FileRecord) -> float:
        return record.created_at + self.config.upload_url_ttl

    def accept_upload(self, file_id: str, data: bytes, content_type: str | None) -> FileRecord:
        """The presigned PUT: bytes must match what was registered (size and type)."""
        record = self.store.get_file(file_id)
        now = self.clock.now()
        if record is None or record.expires_at <= now:
            raise ApiError("NotFound", "the file this upload URL was issued for no longer exists")
        if now > self.upload_deadline(record):
            raise ApiError("RequestExpired")
        if (
            content_type is not None
            and content_type.split(";")[0].strip().lower() != record.content_type.lower()
        ):
            raise ApiError(
                "UploadMismatch", f"Content-Type must be {record.content_type}, as registered"
            )
        if len(data) != record.file_size:
            raise ApiError(
                "UploadMismatch", f"Content-Length must be {record.file_size}, as registered"
            )
        info = media.probe(data)
        with self.store.transaction():
            record.uploaded_at = now
            record.media = _media_dict(info)
            self.store.put_blob(f"file:{file_id}", data)
            self.store.put_file(record)
        return record

    def file_bytes(self, file_id: str) -> bytes | None:
        return self.store.get_blob(f"file:{file_id}")

    # ------------------------------------------------------------------ tasks
    def create_task(self, owner: str, spec: FeatureSpec, request: dict[str, Any]) -> Task:
        """Run task: validate references, fix the outcome, charge units, start ``running``."""
        self._check_request_rules(spec, request)
        inputs, planned, file_ids = self._gather_inputs(owner, spec, request)
        triggers = self._triggers(request, file_ids)
        for code in triggers:
            if code in CREATE_TRIGGERS:
                raise ApiError(code, f"{CATALOG[code].message} (in-band trigger_{code})")
        engine_trigger = next((c for c in triggers if c in ENGINE_ERRORS), None)
        seed_codes = self.config.engine_codes == "seed"
        if (
            engine_trigger
            and conform(spec, engine_trigger, seed_codes=seed_codes) != engine_trigger
        ):
            raise ApiError(
                "InvalidParameters",
                f"trigger_{engine_trigger}: {spec.feature} cannot end with {engine_trigger} "
                "(not in its EngineErrorCode; set engine_codes='seed' to allow the seed table)",
            )
        if engine_trigger:
            message = f"{ENGINE_ERRORS[engine_trigger]} (in-band trigger_{engine_trigger})"
            planned = (engine_trigger, message)
        if planned is None:
            planned = self._check_inputs(spec, inputs)
        if planned is not None:
            seed_codes = self.config.engine_codes == "seed"
            planned = (conform(spec, planned[0], seed_codes=seed_codes), planned[1])
        event = RuleEvent(
            TASK_STAGE,
            "task_create",
            "POST",
            spec.create_path,
            owner,
            spec.feature,
            spec.version,
            tuple(file_ids),
            None if seed_codes else spec.engine_error_codes,
        )
        fired = self.fire_rules(event)
        own_progression = None
        for rule in fired:
            action = rule.action
            wanted = action.engine_error
            if wanted and conform(spec, wanted, seed_codes=seed_codes) == wanted:
                planned = (wanted, action.message or ENGINE_ERRORS[wanted])
            if action.progression is not None:
                own_progression = Progression.from_dict(action.progression).to_dict()
        self._check_template(spec, request)
        duration = next(
            (i.info.duration_s for i in inputs if i.info.kind == "video" and i.info.duration_s),
            None,
        )
        cost = task_cost(
            spec,
            request,
            duration_s=duration,
            output_count=int(request.get("output_count", 1) or 1),
        )
        now = self.clock.now()
        task = Task(
            task_id=self.ids.task_id(),
            owner=owner,
            feature=spec.feature,
            version=spec.version,
            created_at=now,
            request=request,
            cost=cost,
            planned_error=planned[0] if planned else None,
            planned_error_message=planned[1] if planned else None,
            expires_at=now + self.config.task_ttl,
            seed=self.ids.integer(0, 2**31 - 1),
            progression=own_progression,
            triggers=[c for c in triggers if c not in ENGINE_ERRORS],
            rules=[rule.rule_id for rule in fired],
        )
        with self.store.transaction():
            key = self.store.get_key(owner)
            if key is None:
                raise ApiError("InvalidApiKey")
            if key.units + 1e-9 < cost:
                raise ApiError(
                    "CreditInsufficiency",
                    f"this task costs {_fmt(cost)} units; {_fmt(key.units)} left",
                )
            key.units -= cost
            self.store.put_key(key)
            for index, item in enumerate(inputs):
                self.store.put_blob(f"input:{task.task_id}:{index}", item.data)
                task.input_files.append(f"{item.field}")
            self.store.put_task(task)
            actions = (
                [str(a) for a in request.get("dst_actions", [])]
                if isinstance(request.get("dst_actions"), list)
                else []
            )
            self._ledger(owner, _HISTORY_ACTIONS.get(spec.feature), task.task_id, -cost, actions)
        return task

    def get_task(self, owner: str, spec: FeatureSpec, task_id: str) -> Task:
        """Poll: count the poll, move the task on if its progression says so."""
        task = self._owned_task(owner, task_id)
        if task.feature != spec.feature or task.version != spec.version:
            raise ApiError("InvalidTaskId")
        for code in ("TaskTimeout", "InvalidTaskId"):
            if code in task.triggers:
                raise ApiError(code, f"{CATALOG[code].message} (in-band trigger_{code})")
        finished = False
        with self.store.transaction():
            task.polls += 1
            progression = self.progression_for(spec, task)
            if task.status not in TERMINAL and progression.due(task, self.clock.now(), task.polls):
                self._finish(task, spec)
                finished = True
            self.store.put_task(task)
        if finished:
            self._notify(task)
        return task

    def _notify(self, task: Task) -> None:
        for listener in self.on_task_finished:
            listener(task)

    def advance_tasks(self) -> list[Task]:
        """Finish every running task whose progression is due by time alone (clock moved)."""
        finished = []
        now = self.clock.now()
        for candidate in self.store.tasks():
            spec = self.features.get(f"{candidate.version}/{candidate.feature}")
            if spec is None:
                continue
            with self.store.transaction():
                # Re-read inside the transaction: a poll may have finished it meanwhile.
                task = self.store.get_task(candidate.task_id)
                if task is None:
                    continue
                finish_at = self.progression_for(spec, task).finish_time(task)
                if task.status in TERMINAL or finish_at is None or finish_at > now:
                    continue
                self._finish(task, spec)
                self.store.put_task(task)
            finished.append(task)
            self._notify(task)
        return finished

    def next_event_time(self) -> float | None:
        """When the next scheduled thing happens (a task finishing by time, an expiry)."""
        times: list[float] = []
        now = self.clock.now()
        for task in self.store.tasks():
            spec = self.features.get(f"{task.version}/{task.feature}")
            if spec and task.status not in TERMINAL:
                finish_at = self.progression_for(spec, task).finish_time(task)
                if finish_at is not None:
                    times.append(finish_at)
            if task.expires_at is not None:
                times.append(task.expires_at)
        times.extend(f.expires_at for f in self.store.files())
        future = [t for t in times if t > now]
        return min(future) if future else None

    def _finish(self, task: Task, spec: FeatureSpec) -> None:
        now = self.clock.now()
        if task.planned_error:
            task.status = transition(task.status, Event.FAIL)
            task.error = task.planned_error
            task.error_message = task.planned_error_message or ENGINE_ERRORS[task.planned_error]
        else:
            inputs = self._task_inputs(task)
            builder = ResultBuilder(
                spec, task.request, inputs, task.seed, self._asset_sink(task, now)
            )
            task.results = builder.build()
            task.status = transition(task.status, Event.SUCCEED)
        task.finished_at = now
        task.expires_at = now + self.config.result_ttl

    def delete_task(self, owner: str, task_id: str) -> None:
        """Delete a finished task with its inputs and outputs (units are not refunded)."""
        task = self._owned_task(owner, task_id)
        if "OperationNotSupport" in task.triggers:
            raise ApiError("OperationNotSupport", "Operation not supported (in-band trigger)")
        if task.status not in TERMINAL or "OperationInvalid" in task.triggers:
            raise ApiError("OperationInvalid", "only a finished task can be deleted")
        self._purge_task(task)

    def _purge_task(self, task: Task) -> None:
        with self.store.transaction():
            for index in range(len(task.input_files)):
                self.store.delete_blob(f"input:{task.task_id}:{index}")
            for file_id in referenced_file_ids(task.request):
                record = self.store.get_file(file_id)
                if record is not None and record.owner == task.owner:
                    self.store.delete_file(file_id)
            for asset in list(self.store.assets()):
                if asset.task_id == task.task_id:
                    self.store.delete_asset(asset.asset_id)
            self.store.delete_task(task.task_id)

    def _owned_task(self, owner: str, task_id: str) -> Task:
        self.maybe_sweep()
        task = self.store.get_task(task_id)
        if task is None or task.owner != owner:
            raise ApiError("InvalidTaskId")
        if task.expires_at is not None and task.expires_at <= self.clock.now():
            self._purge_task(task)
            raise ApiError("InvalidTaskId")
        return task

    # ------------------------------------------------------------------ inputs
    def _check_request_rules(self, spec: FeatureSpec, request: dict[str, Any]) -> None:
        """What the schema cannot say but the vendor enforces (FACTS.md)."""
        actions = request.get("dst_actions")
        if spec.feature.startswith("skin-analysis") and isinstance(actions, list):
            if not actions:
                raise ApiError("InvalidParameters", "dst_actions must name at least one action")
            hd = {str(a).startswith("hd_") for a in actions}
            if len(hd) > 1:
                raise ApiError(
                    "InvalidParameters", "dst_actions must not mix HD (hd_*) and SD actions"
                )
            if len(set(actions)) != len(actions):
                raise ApiError("InvalidParameters", "dst_actions must not repeat an action")

    def _gather_inputs(
        self, owner: str, spec: FeatureSpec, request: dict[str, Any]
    ) -> tuple[list[InputFile], tuple[str, str] | None, list[str]]:
        inputs: list[InputFile] = []
        planned: tuple[str, str] | None = None
        file_ids: list[str] = []
        now = self.clock.now()
        for name in spec.file_fields:
            if name not in request:
                continue
            values = request[name] if isinstance(request[name], list) else [request[name]]
            for position, value in enumerate(values):
                label = f"{name}[{position}]" if isinstance(request[name], list) else name
                value = str(value)
                if name.endswith(("_id", "_ids")):
                    record = self.store.get_file(value)
                    if record is None or record.owner != owner or record.expires_at <= now:
                        raise ApiError(
                            "InvalidParameters",
                            f"{label}: no such file (unknown or expired file_id)",
                        )
                    file_ids.append(value)
                    data = self.file_bytes(value)
                    if data is None:
                        planned = planned or (
                            "unknown_internal_error",
                            f"{label}: the file was registered but its bytes were never uploaded",
                        )
                        continue
                else:
                    data = self.resolve_url(value)
                    if data is None and self.config.allow_outbound_downloads and self.fetch_url:
                        data = self.fetch_url(value)
                    if data is None:
                        planned = planned or (
                            _download_error(spec, name),
                            f"{label}: could not download {value}",
                        )
                        continue
                inputs.append(InputFile(field=name, data=data, info=media.probe(data)))
        return inputs, planned, file_ids

    def _triggers(self, request: dict[str, Any], file_ids: list[str]) -> list[str]:
        """Codes named in-band: ``trigger_<code>`` in a used file's name or a request string."""
        texts = _strings(request)
        for file_id in file_ids:
            record = self.store.get_file(file_id)
            if record is not None:
                texts.append(record.file_name)
        codes: list[str] = []
        known = sorted({*CATALOG, *ENGINE_ERRORS}, key=len, reverse=True)
        for text in texts:
            for named in TRIGGER.findall(text):
                # The longest known code the text starts with, ending at a non-letter:
                # trigger_error_no_face_v2.jpg names error_no_face.
                code = next(
                    (
                        c
                        for c in known
                        if named.startswith(c) and not named[len(c) : len(c) + 1].isalpha()
                    ),
                    None,
                )
                if code and code not in codes:
                    codes.append(code)
        return codes

    def _check_inputs(self, spec: FeatureSpec, inputs: list[InputFile]) -> tuple[str, str] | None:
        """Input limits checked on the real bytes (seed document's table)."""
        for item in inputs:
            is_mask = "msk" in item.field
            want_video = spec.input == "video" and item.field.startswith("src")
            if want_video:
                if item.info.kind != "video":
                    return ("error_decode_video", f"{item.field}: not a decodable mp4/mov video")
                if len(item.data) > self.config.max_video_bytes:
                    return (
                        "exceed_max_filesize",
                        f"{item.field}: video exceeds {self.config.max_video_bytes} bytes",
                    )
                problem = _video_problem(spec, item.info)
                if problem is not None:
                    return problem
                continue
            if (
                item.info.kind != "image"
                or item.info.format not in media.IMAGE_FORMATS
                or not media.is_decodable_image(item.data)
            ):
                code = "error_decode_mask" if is_mask else "error_decode_image"
                return (code, f"{item.field}: not a decodable jpg/jpeg/png image")
            if len(item.data) > self.config.max_image_bytes:
                return (
                    "exceed_max_filesize",
                    f"{item.field}: image exceeds {self.config.max_image_bytes} bytes",
                )
            width, height = item.info.width or 0, item.info.height or 0
            if max(width, height) > 4096:
                return (
                    "error_exceed_max_image_size",
                    f"{item.field}: long side {max(width, height)} > 4096",
                )
            if spec.feature == "lighting" and min(width, height) < 256:
                return (
                    "error_exceed_max_image_size",
                    f"{item.field}: short side {min(width, height)} < 256",
                )
        return None

    def _task_inputs(self, task: Task) -> list[InputFile]:
        inputs = []
        for index, name in enumerate(task.input_files):
            data = self.store.get_blob(f"input:{task.task_id}:{index}")
            if data is not None:
                inputs.append(InputFile(field=name, data=data, info=media.probe(data)))
        return inputs

    # ------------------------------------------------------------------ results and assets
    def _asset_sink(self, task: Task, now: float) -> Callable[[bytes, str, str], str]:
        def sink(data: bytes, content_type: str, filename: str) -> str:
            asset = Asset(
                asset_id=self.ids.token(18),
                owner=task.owner,
                task_id=task.task_id,
                content_type=content_type,
                filename=filename,
                created_at=now,
                expires_at=now + self.config.result_ttl,
            )
            self.store.put_asset(asset)
            self.store.put_blob(f"asset:{asset.asset_id}", data)
            return asset.asset_id

        return sink

    def get_asset(self, asset_id: str) -> tuple[Asset, bytes]:
        asset = self.store.get_asset(asset_id)
        data = self.store.get_blob(f"asset:{asset_id}") if asset else None
        if asset is None or data is None or asset.expires_at <= self.clock.now():
            raise ApiError("NotFound", "this result no longer exists")
        return asset, data

    # ------------------------------------------------------------------ templates
    def templates(self, spec_feature: str, version: str) -> list[Template]:
        """A fixed, seeded catalogue per feature; ids are decimal strings beyond 2**53."""
        items = []
        base = 2**57 + (_stable_hash(f"{version}/{spec_feature}") % 2**40) * 2**10
        for index in range(TEMPLATES_PER_FEATURE):
            extra: dict[str, Any] = {}
            if spec_feature == "hair-style":
                extra["keep_users_color"] = index % 2 == 0
            items.append(
                Template(
                    id=str(base + index * 7919),
                    title=f"{spec_feature.replace('/', ' ')} {index + 1:02d}",
                    category_name=_TEMPLATE_CATEGORIES[index % len(_TEMPLATE_CATEGORIES)],
                    extra=extra,
                )
            )
        return items

    def list_templates(
        self, feature: str, version: str, page_size: int, starting_token: str | None
    ) -> tuple[list[Template], str | None]:
        return paginate(self.templates(feature, version), page_size, starting_token)

    def _check_template(self, spec: FeatureSpec, request: dict[str, Any]) -> None:
        template_id = request.get("template_id")
        if template_id is None:
            return
        catalogue_feature = spec.feature
        ids = {t.id for t in self.templates(catalogue_feature, spec.version)}
        if str(template_id) not in ids:
            raise ApiError(
                "InvalidStyle", f"template_id {template_id} is not a template of {spec.feature}"
            )

    # ------------------------------------------------------------------ units
    def credit(self, owner: str) -> ApiKey:
        record = self.store.get_key(owner)
        if record is None:
            raise ApiError("InvalidApiKey")
        return record

    def credit_history(
        self, owner: str, page_size: int, starting_token: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        entries = list(reversed(self.store.ledger(owner)))
        # The unit-history document allows up to 30 a page (templates and SKUs: 20).
        return paginate(entries, page_size, starting_token, max_size=30)

    def feature_costs(self) -> list[dict[str, Any]]:
        """The price list: one SKU per task operation and priced variant."""
        skus: list[dict[str, Any]] = []
        for spec in self.features.values():
            price = price_for(spec)
            if price is None:
                continue
            amounts = sorted(
                {price.amount, *price.variants.values(), *(a for t in price.tiers for a in t[2:])}
            )
            for amount in amounts:
                skus.append(
                    {
                        "amount": amount,
                        "unit": price.unit,
                        "proc_unit": price.per,
                        "path": spec.create_path,
                    }
                )
        return skus

    def _ledger(
        self,
        owner: str,
        action: str | None,
        target: str,
        amount: float,
        actions: list[str] | None = None,
    ) -> None:
        self.store.append_ledger(
            LedgerEntry(
                entry_id=self.ids.snowflake(self.clock.now()),
                owner=owner,
                timestamp=self.clock.now(),
                action=action or "",
                target_id=target,
                amount=amount,
                dst_actions=actions or [],
            )
        )

    # ------------------------------------------------------------------ retention
    def maybe_sweep(self) -> None:
        now = self.clock.now()
        if now - self._last_sweep >= _SWEEP_EVERY:
            self.sweep()

    def sweep(self) -> dict[str, int]:
        """Reclaim everything past retention: files, tasks with their inputs, result assets."""
        now = self.clock.now()
        self._last_sweep = now
        removed = {"files": 0, "tasks": 0, "assets": 0}
        for record in self.store.files():
            if record.expires_at <= now:
                self.store.delete_file(record.file_id)
                removed["files"] += 1
        for task in self.store.tasks():
            if task.expires_at is not None and task.expires_at <= now:
                self._purge_task(task)
                removed["tasks"] += 1
        for asset in self.store.assets():
            if asset.expires_at <= now:
                self.store.delete_asset(asset.asset_id)
                removed["assets"] += 1
        longest = max((limit.seconds for limit in self.rate_policy.limits), default=0.0)
        removed["rate_windows"] = self.store.prune_rate_windows(now - longest)
        return removed


# ---------------------------------------------------------------------- helpers


class _ProgressionView(MutableMapping[str, Progression]):
    """``Backend.progressions``: the store's per-feature overrides as Progression values."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, feature: str) -> Progression:
        data = self._store.get_progression(feature)
        if data is None:
            raise KeyError(feature)
        return Progression.from_dict(data)

    def __setitem__(self, feature: str, progression: Progression) -> None:
        self._store.put_progression(feature, progression.to_dict())

    def __delitem__(self, feature: str) -> None:
        if not self._store.delete_progression(feature):
            raise KeyError(feature)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.progressions())

    def __len__(self) -> int:
        return len(self._store.progressions())


def _media_dict(info: media.MediaInfo) -> dict[str, Any]:
    return {
        "kind": info.kind,
        "format": info.format,
        "width": info.width,
        "height": info.height,
        "duration_s": info.duration_s,
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
    }


#: Seed document's video table: (long side, duration cap in seconds) per feature.
VIDEO_LIMITS: dict[str, tuple[int, float | None]] = {
    "video-sr": (1920, 60.0),
    "face-swap-vid": (4096, 30.0),
    "video-trans": (4096, 30.0),
}
_VIDEO_CODECS = {"h264", "mpeg4"}
_AUDIO_CODECS = {"aac", "mp3", None}


def _video_problem(spec: FeatureSpec, info: media.MediaInfo) -> tuple[str, str] | None:
    """Container, codecs, resolution and duration against the seed document's table."""
    if info.format not in media.VIDEO_CONTAINERS:
        return "error_decode_video", f"container {info.format} is not mp4 or mov"
    if info.video_codec not in _VIDEO_CODECS:
        return "error_decode_video", f"video codec {info.video_codec} is not H.264 or MPEG-4"
    if info.audio_codec not in _AUDIO_CODECS:
        return "error_decode_video", f"audio codec {info.audio_codec} is not aac or mp3"
    long_side, max_duration = VIDEO_LIMITS.get(spec.feature, (4096, None))
    if max(info.width or 0, info.height or 0) > long_side:
        return (
            "error_decode_video",
            f"long side {max(info.width or 0, info.height or 0)} > {long_side}",
        )
    if max_duration is not None and (info.duration_s or 0) > max_duration:
        return (
            "error_unexpected_video_duration",
            f"duration {info.duration_s:.1f}s exceeds {max_duration:g}s",
        )
    return None


#: Seed-table codes no published EngineErrorCode enum lists, and what a feature sends instead.
_NEAREST = {
    "error_download_video": "error_download_image",
    "error_decode_video": "error_decode_image",
}


def conform(spec: FeatureSpec, code: str, *, seed_codes: bool) -> str:
    """An engine code the feature's document allows (its EngineErrorCode enum).

    The seed document lists codes (error_decode_video, error_unexpected_video_duration, ...)
    that no published enum contains; by default the emulator stays inside the contract and
    sends the nearest allowed code (the message still says what happened).  With the setting
    ``engine_codes="seed"`` it sends the seed document's code as is.
    """
    if seed_codes or code in spec.engine_error_codes or not spec.engine_error_codes:
        return code
    for fallback in (_NEAREST.get(code), "invalid_parameter", "unknown_internal_error"):
        if fallback and fallback in spec.engine_error_codes:
            return fallback
    return spec.engine_error_codes[0]


def _download_error(spec: FeatureSpec, field_name: str) -> str:
    if "msk" in field_name:
        code = "error_download_mask"
    elif spec.input == "video" and field_name.startswith("src"):
        code = "error_download_video"
    else:
        code = "error_download_image"
    return code


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def referenced_file_ids(request: dict[str, Any]) -> list[str]:
    """The file ids a task request names (``*_file_id`` and ``*_file_ids`` fields)."""
    ids: list[str] = []
    for key, value in request.items():
        if key.endswith("_file_id") and isinstance(value, str):
            ids.append(value)
        elif key.endswith("_file_ids") and isinstance(value, list):
            ids.extend(str(v) for v in value)
    return ids


def _stable_hash(text: str) -> int:
    value = 1469598103934665603
    for byte in text.encode():
        value = ((value ^ byte) * 1099511628211) % 2**64
    return value


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            "InvalidParameters", "starting_token is not a token this API issued"
        ) from None
    if offset < 0:
        raise ApiError("InvalidParameters", "starting_token is not a token this API issued")
    return offset


def paginate(
    items: list[Any], page_size: int, starting_token: str | None, *, max_size: int = 20
) -> tuple[list[Any], str | None]:
    if not 1 <= page_size <= max_size:
        raise ApiError("InvalidParameters", f"page_size must be between 1 and {max_size}")
    offset = decode_token(starting_token) if starting_token else 0
    page = items[offset : offset + page_size]
    following = offset + page_size
    return page, encode_token(following) if following < len(items) else None


def _fmt(value: float) -> str:
    return str(int(value)) if math.isclose(value, round(value)) else f"{value:.2f}"
