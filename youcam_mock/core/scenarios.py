"""Scenario rules: scripted faults, matched against requests and tasks, kept in the store.

A rule is a match (feature, key, file, operation kind, method, path glob, request count), an
action (an engine error for the task, a vendor HTTP error, added latency, a connection reset, a
malformed body, a progression override for slow or stuck tasks), a use count and an optional
seeded probability.  ``fire`` is deterministic: the same rules, seed and request sequence fire
the same way every run.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from youcam_mock.core.errors import CATALOG, ENGINE_ERRORS

#: Where a rule can act: on the HTTP exchange, or on the task's outcome.
HTTP_STAGE = "request"
TASK_STAGE = "task"


@dataclass(frozen=True)
class RuleMatch:
    feature: str | None = None  # "skin-analysis" or "v2.1/skin-analysis"
    key: str | None = None
    file_id: str | None = None
    operation: str | None = (
        None  # file | task_create | task_poll | templates | task_delete | upload | download | ...
    )
    method: str | None = None
    path: str | None = None  # fnmatch glob on the request path
    #: Let this many matching requests through before the rule starts to act.
    after: int = 0


@dataclass(frozen=True)
class RuleAction:
    engine_error: str | None = None
    http_error: str | None = (
        None  # a vendor code from the catalog: "TooManyRequests", "TaskTimeout", ...
    )
    message: str | None = None
    latency_ms: float = 0.0
    reset_connection: bool = False
    malformed_body: bool = False
    #: Progression override for matched tasks: {"running_polls": None} is stuck ``running``.
    progression: dict[str, Any] | None = None
    retry_after: float | None = None

    @property
    def stages(self) -> set[str]:
        stages = set()
        if self.engine_error or self.progression is not None:
            stages.add(TASK_STAGE)
        if self.http_error or self.latency_ms or self.reset_connection or self.malformed_body:
            stages.add(HTTP_STAGE)
        return stages


@dataclass
class Rule:
    rule_id: str
    match: RuleMatch
    action: RuleAction
    times: int | None = None  # None: every match; else how many times it may act
    probability: float = 1.0
    seed: int = 0
    seen: int = 0  # matching events so far
    fired: int = 0  # times it acted
    name: str | None = None

    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["remaining"] = None if self.times is None else max(0, self.times - self.fired)
        return out


@dataclass(frozen=True)
class Event:
    """What a rule is matched against."""

    stage: str
    operation: str | None
    method: str
    path: str
    key: str | None = None
    feature: str | None = None
    version: str | None = None
    file_ids: tuple[str, ...] = field(default_factory=tuple)
    #: Engine codes the feature can end with (None: any); a rule asking for another code
    #: does not match, so it is not used up on a task it cannot affect.
    engine_codes: tuple[str, ...] | None = None


def rule_from_dict(data: dict[str, Any], rule_id: str) -> Rule:
    """Build and check a rule from JSON (the control API and the Python twin share this)."""
    allowed = {"match", "action", "times", "probability", "seed", "name"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown rule fields: {sorted(unknown)}")
    match = _build(RuleMatch, data.get("match") or {}, "match")
    action = _build(RuleAction, data.get("action") or {}, "action")
    if not action.stages:
        raise ValueError(
            "the action does nothing: give engine_error, http_error, latency_ms, "
            "reset_connection, malformed_body or progression"
        )
    if action.engine_error and action.engine_error not in ENGINE_ERRORS:
        raise ValueError(f"unknown engine error {action.engine_error!r}")
    if action.http_error and action.http_error not in CATALOG:
        raise ValueError(f"unknown error code {action.http_error!r}")
    times = data.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError("times is a positive integer (or absent for every match)")
    probability = float(data.get("probability", 1.0))
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability is between 0 and 1")
    return Rule(
        rule_id=rule_id,
        match=match,
        action=action,
        times=times,
        probability=probability,
        seed=int(data.get("seed", 0)),
        name=data.get("name"),
    )


def _build(cls: type, data: dict[str, Any], label: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {label} fields: {sorted(unknown)}")
    return cls(**data)


def matches(rule: Rule, event: Event) -> bool:
    m = rule.match
    if event.stage not in rule.action.stages:
        return False
    code = rule.action.engine_error
    if code and event.engine_codes is not None and code not in event.engine_codes:
        return False
    if m.operation and m.operation != event.operation:
        return False
    if m.feature and m.feature not in (event.feature, f"{event.version}/{event.feature}"):
        return False
    if m.key and m.key != event.key:
        return False
    if m.file_id and m.file_id not in event.file_ids:
        return False
    if m.method and m.method.upper() != event.method.upper():
        return False
    return not (m.path and not fnmatch.fnmatchcase(event.path, m.path))


def fire(rule: Rule, event: Event) -> bool:
    """Count a matching event; True when the rule acts on it (updates the counters)."""
    if rule.exhausted() or not matches(rule, event):
        return False
    rule.seen += 1
    if rule.seen <= rule.match.after:
        return False
    if rule.probability < 1.0:
        draw = random.Random(f"{rule.seed}:{rule.rule_id}:{rule.seen}").random()
        if draw >= rule.probability:
            return False
    rule.fired += 1
    return True
