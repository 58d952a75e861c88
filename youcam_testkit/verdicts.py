"""Verdicts on a client's behaviour, read from the emulator's request journal.

A client can get every response right and still misbehave towards the real API: poll in a
tight loop, retry a 429 at once, give up on tasks that are still running, reuse upload or
result links after they expired.  Each ``assert_*`` helper reads the journal (the emulator's
``JournalEntry`` objects or their ``to_dict()`` form) and raises :class:`ClientVerdict` (an
``AssertionError``, so pytest shows it as a plain test failure) whose message says what the
client did and quotes the offending requests with their clock times.

Times are the emulator's clock (``entry.at``): with a stopped ``ManualClock`` every request
happens at the same instant, so run timing verdicts with a clock that moves (a speed, or a
client whose sleeps advance it).
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from youcam_mock.core.journal import JournalEntry

__all__ = [
    "ClientVerdict",
    "JournalLike",
    "assert_backs_off_after_429",
    "assert_no_expired_url_reuse",
    "assert_no_leaked_tasks",
    "assert_no_retry_storm",
    "assert_polls_not_faster_than",
    "assert_polls_until_terminal",
    "check_all",
    "quote",
]

JournalLike = Iterable[JournalEntry | Mapping[str, Any]]

#: At most this many requests are quoted per finding; the rest are counted.
MAX_QUOTED = 8
_EPSILON = 1e-9
_FIELDS = {f.name for f in dataclasses.fields(JournalEntry)}
_VERSIONED = re.compile(r"^/s2s/v\d+(?:\.\d+)?/(?P<rest>.*)$")


class ClientVerdict(AssertionError):
    """A client behaviour the real API would punish, with the requests that show it."""

    def __init__(self, check: str, message: str, entries: Sequence[JournalEntry] = ()) -> None:
        self.check = check
        self.entries = tuple(entries)
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0])


# --------------------------------------------------------------------------------------------
# reading the journal


def _entry(item: JournalEntry | Mapping[str, Any]) -> JournalEntry:
    if isinstance(item, JournalEntry):
        return item
    data = {key: value for key, value in item.items() if key in _FIELDS}
    missing = {"seq", "at", "method", "path", "status"} - set(data)
    if missing:
        raise ValueError(f"journal entry lacks {sorted(missing)}: {dict(item)!r}")
    data["detail"] = dict(data.get("detail") or {})
    return JournalEntry(**data)


def _requests(journal: JournalLike) -> list[JournalEntry]:
    """The client's requests (not the emulator's webhook deliveries), in arrival order."""
    entries = [_entry(item) for item in journal]
    return sorted((e for e in entries if e.kind == "request"), key=lambda e: (e.at, e.seq))


def _kind(entry: JournalEntry) -> str:
    """``task_create`` | ``task_poll`` | ``task_delete`` | ``templates`` | ``file`` |
    ``upload`` | ``download`` | ``other``: from the recorded operation, else from the path."""
    operation = entry.operation or ""
    if operation and " " not in operation:
        return operation  # already a kind
    method, _, template = operation.partition(" ")
    method = (method or entry.method).upper()
    path = template or entry.path
    if path.startswith("/_storage/uploads/"):
        return "upload"
    if path.startswith("/_storage/results/"):
        return "download"
    match = _VERSIONED.match(path)
    if not match:
        return "other"
    rest = match["rest"]
    if rest == "file" or rest.startswith("file/"):
        return "file"
    if rest == "task/delete":
        return "task_delete"
    if rest.startswith("task/template/"):
        return "templates"
    if rest.startswith("task/"):
        return "task_poll" if method == "GET" else "task_create"
    return "other"


def _task_id(entry: JournalEntry) -> str | None:
    """The task a poll asked about: recorded, else the last path segment."""
    if entry.task_id:
        return entry.task_id
    if _kind(entry) == "task_poll":
        return entry.path.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _who(entry: JournalEntry) -> tuple[str, str | None]:
    """The caller a rate limit counts: the API key, else the IP address."""
    return ("key", entry.key) if entry.key else ("ip", entry.ip)


def _describe_caller(who: tuple[str, str | None]) -> str:
    kind, value = who
    if value is None:
        return "an anonymous caller"
    if kind == "key":
        shown = value if len(value) <= 12 else f"{value[:4]}…{value[-4:]}"
        return f"key {shown}"
    return f"IP {value}"


def _clock(at: float) -> str:
    millis = round(at * 1000)  # rounded, so 0.7 s is never shown as 0.699
    stamp = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def quote(entry: JournalEntry) -> str:
    """One request as the messages show it: ``#12 GET /path -> 429 at 2026-...Z``."""
    code = f" {entry.error_code}" if entry.error_code else ""
    return f"#{entry.seq} {entry.method} {entry.path} -> {entry.status}{code} at {_clock(entry.at)}"


def _quote_all(entries: Sequence[JournalEntry], indent: str = "    ") -> str:
    lines = [indent + quote(e) for e in entries[:MAX_QUOTED]]
    if len(entries) > MAX_QUOTED:
        lines.append(f"{indent}... and {len(entries) - MAX_QUOTED} more")
    return "\n".join(lines)


def _verdict(
    check: str,
    summary: str,
    findings: Sequence[tuple[str, Sequence[JournalEntry]]],
) -> ClientVerdict:
    shown = findings[:MAX_QUOTED]
    parts = [summary]
    for headline, entries in shown:
        parts.append(f"  {headline}\n{_quote_all(entries)}")
    if len(findings) > MAX_QUOTED:
        parts.append(f"  ... and {len(findings) - MAX_QUOTED} more like these")
    offending = [e for _, entries in findings for e in entries]
    return ClientVerdict(check, "\n".join(parts), offending)


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


# --------------------------------------------------------------------------------------------
# polling


def _polls_by_task(entries: Sequence[JournalEntry]) -> dict[str, list[JournalEntry]]:
    polls: dict[str, list[JournalEntry]] = defaultdict(list)
    for entry in entries:
        task_id = _task_id(entry) if _kind(entry) == "task_poll" else None
        if task_id:
            polls[task_id].append(entry)
    return polls


def assert_polls_not_faster_than(journal: JournalLike, *, interval_s: float) -> None:
    """Consecutive polls of one task must be at least ``interval_s`` apart: a tight polling
    loop spends the 5 requests/s and 250 requests/300 s budget the whole account shares."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    findings = []
    for task_id, polls in _polls_by_task(_requests(journal)).items():
        for previous, current in pairwise(polls):
            gap = current.at - previous.at
            if gap < interval_s - _EPSILON:
                findings.append(
                    (f"task {task_id}: polled again after {_seconds(gap)}", [previous, current])
                )
    if findings:
        raise _verdict(
            "polls_not_faster_than",
            f"the client polled a task faster than once every {_seconds(interval_s)} "
            f"({len(findings)} time(s)):",
            findings,
        )


def _created_tasks(entries: Sequence[JournalEntry]) -> dict[str, JournalEntry]:
    return {
        entry.task_id: entry
        for entry in entries
        if _kind(entry) == "task_create" and entry.status == 200 and entry.task_id
    }


def assert_polls_until_terminal(journal: JournalLike) -> None:
    """Every polled task is polled until it ends: a client whose last poll of a task was
    answered ``running`` (or 429) gave up early and never saw the result or the error."""
    entries = _requests(journal)
    findings = []
    created = _created_tasks(entries)
    for task_id, polls in _polls_by_task(entries).items():
        last = polls[-1]
        status = last.detail.get("task_status")
        if last.status == 200 and status == "running":
            why = "its last poll answered running"
        elif last.status == 429:
            why = "its last poll was refused with 429 and never retried"
        else:
            continue
        shown = [created[task_id], *polls] if task_id in created else polls
        findings.append((f"task {task_id}: {why} ({len(polls)} poll(s))", shown))
    if findings:
        raise _verdict(
            "polls_until_terminal",
            f"the client stopped polling {len(findings)} task(s) before they ended "
            "(gave up too early: the result, or the engine error, was never read):",
            findings,
        )


def assert_no_leaked_tasks(journal: JournalLike) -> None:
    """Every task the client created is polled at least once: results are only reachable
    through a poll (webhooks carry the status, not the result), and each task costs units."""
    entries = _requests(journal)
    polled = set(_polls_by_task(entries))
    leaked = [entry for task_id, entry in _created_tasks(entries).items() if task_id not in polled]
    if leaked:
        findings = [(f"task {e.task_id}: created, never polled", [e]) for e in leaked]
        raise _verdict(
            "no_leaked_tasks",
            f"the client created {len(leaked)} task(s) it never polled (leaked tasks):",
            findings,
        )


# --------------------------------------------------------------------------------------------
# rate limiting


def _retry_after(entry: JournalEntry) -> float | None:
    value = entry.detail.get("retry_after")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _answered_at(entry: JournalEntry) -> float:
    """When the client received the response, on the emulator's clock.

    The emulator's journal orders arrivals and answers exactly (``arrival_tick`` and
    ``answer_tick`` in ``detail``), so with those the answer time is the clock time ``at``
    alone: under a stopped ManualClock an immediate retry then has a gap of 0, as it should.
    Hand-made journals without ticks fall back to ``at`` plus the request's duration.
    """
    if "answer_tick" in entry.detail:
        return entry.at
    return entry.at + entry.duration_ms / 1000.0


def _reacts_to(other: JournalEntry, refused: JournalEntry) -> bool:
    """Was ``other`` sent after ``refused`` was answered (so it may be a retry)?"""
    arrival = other.detail.get("arrival_tick")
    answer = refused.detail.get("answer_tick")
    if isinstance(arrival, int) and isinstance(answer, int):
        return arrival > answer
    return other.seq != refused.seq and other.at >= _answered_at(refused) - _EPSILON


def _after_429(entries: Sequence[JournalEntry]) -> list[tuple[JournalEntry, list[JournalEntry]]]:
    """Each 429 with the same caller's later requests (sent after the 429 was answered)."""
    by_caller: dict[tuple[str, str | None], list[JournalEntry]] = defaultdict(list)
    for entry in entries:
        by_caller[_who(entry)].append(entry)
    out = []
    for entry in entries:
        if entry.status != 429:
            continue
        later = [other for other in by_caller[_who(entry)] if _reacts_to(other, entry)]
        out.append((entry, later))
    return out


def assert_backs_off_after_429(journal: JournalLike, *, min_delay_s: float = 1.0) -> None:
    """After a 429 the same caller waits ``min_delay_s`` (or the ``Retry-After`` it was sent,
    if longer) before its next request: retrying at once only extends the throttling."""
    findings = []
    quoted: set[int] = set()  # a 429 already quoted as a too-early retry is not a new finding
    for refused, later in _after_429(_requests(journal)):
        retry_after = _retry_after(refused)
        wait = max(min_delay_s, retry_after or 0.0)
        answered = _answered_at(refused)
        early = [e for e in later if e.at - answered < wait - _EPSILON]
        if not early or refused.seq in quoted:
            continue
        quoted.update(e.seq for e in early)
        gap = early[0].at - answered
        asked = f", Retry-After {_seconds(retry_after)}" if retry_after is not None else ""
        findings.append(
            (
                f"{_describe_caller(_who(refused))} sent its next request {_seconds(gap)} after "
                f"a 429 (wanted >= {_seconds(wait)}{asked}); {len(early)} request(s) too soon:",
                [refused, *early],
            )
        )
    if findings:
        raise _verdict(
            "backs_off_after_429",
            f"the client retried without backing off after {len(findings)} 429 response(s):",
            findings,
        )


def assert_no_retry_storm(
    journal: JournalLike, *, window_s: float = 1.0, max_requests: int = 5
) -> None:
    """After a 429 the same caller sends at most ``max_requests`` requests in the next
    ``window_s``: more is a retry storm, which keeps the account throttled."""
    findings = []
    quoted: set[int] = set()  # one finding per storm, not one per 429 inside it
    for refused, later in _after_429(_requests(journal)):
        answered = _answered_at(refused)
        burst = [e for e in later if e.at - answered <= window_s + _EPSILON]
        if len(burst) > max_requests and refused.seq not in quoted:
            quoted.update(e.seq for e in burst)
            findings.append(
                (
                    f"{_describe_caller(_who(refused))} sent {len(burst)} requests within "
                    f"{_seconds(window_s)} of a 429 (at most {max_requests} allowed):",
                    [refused, *burst],
                )
            )
    if findings:
        raise _verdict(
            "no_retry_storm",
            f"the client answered {len(findings)} 429 response(s) with a retry storm:",
            findings,
        )


# --------------------------------------------------------------------------------------------
# presigned URLs


def assert_no_expired_url_reuse(journal: JournalLike) -> None:
    """No upload or result link is used after it expired (403): upload URLs last about an
    hour (register the file again), result links about 2 h (poll the task for a fresh one)."""
    findings = []
    for entry in _requests(journal):
        kind = _kind(entry)
        if kind not in ("upload", "download") or entry.status != 403:
            continue
        what = "upload URL" if kind == "upload" else "result URL"
        fix = (
            "register the file again for a fresh upload URL"
            if kind == "upload"
            else "poll the task again for a fresh result URL"
        )
        reason = entry.error_code or "expired or invalid signature"
        findings.append((f"an expired {what} was reused ({reason}); {fix}:", [entry]))
    if findings:
        raise _verdict(
            "no_expired_url_reuse",
            f"the client reused {len(findings)} expired or invalid storage URL(s):",
            findings,
        )


# --------------------------------------------------------------------------------------------
# everything at once


def check_all(
    journal: JournalLike,
    *,
    interval_s: float | None = 1.0,
    min_delay_s: float = 1.0,
    window_s: float = 1.0,
    max_requests: int = 5,
) -> list[ClientVerdict]:
    """Every verdict's failure, collected (an empty list: the client behaved).
    ``interval_s=None`` skips the polling-interval check."""
    entries = _requests(journal)
    checks: list[Callable[[], None]] = [
        lambda: assert_backs_off_after_429(entries, min_delay_s=min_delay_s),
        lambda: assert_no_retry_storm(entries, window_s=window_s, max_requests=max_requests),
        lambda: assert_polls_until_terminal(entries),
        lambda: assert_no_leaked_tasks(entries),
        lambda: assert_no_expired_url_reuse(entries),
    ]
    if interval_s is not None:
        checks.insert(0, lambda: assert_polls_not_faster_than(entries, interval_s=interval_s))
    failures = []
    for check in checks:
        try:
            check()
        except ClientVerdict as verdict:
            failures.append(verdict)
    return failures
