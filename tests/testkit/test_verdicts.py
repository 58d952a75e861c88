"""youcam_testkit.verdicts over hand-built journals: each verdict passes a well-behaved client,
fails a misbehaving one, and quotes the offending requests with their clock times."""

from __future__ import annotations

from typing import Any

import pytest

from youcam_mock.core.journal import JournalEntry
from youcam_testkit import verdicts as v

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the ManualClock's start
KEY = "ycm_dev_0123456789abcdef"
CREATE = "/s2s/v2.0/task/sod"
POLL_OP = "GET /s2s/v2.0/task/sod/{task_id}"


class Journal:
    """Builds entries in order, as the emulator records them."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def add(
        self, at: float, method: str, path: str, status: int = 200, **extra: Any
    ) -> JournalEntry:
        extra.setdefault("key", KEY)
        entry = JournalEntry(
            seq=len(self.entries) + 1, at=T0 + at, method=method, path=path, status=status, **extra
        )
        self.entries.append(entry)
        return entry

    def create(self, at: float, task_id: str, status: int = 200) -> JournalEntry:
        return self.add(
            at,
            "POST",
            CREATE,
            status,
            operation=f"POST {CREATE}",
            feature="sod",
            task_id=task_id if status == 200 else None,
        )

    def poll(
        self, at: float, task_id: str, task_status: str | None = "running", status: int = 200
    ) -> JournalEntry:
        detail = {"task_status": task_status} if status == 200 and task_status else {}
        return self.add(
            at,
            "GET",
            f"{CREATE}/{task_id}",
            status,
            operation=POLL_OP,
            task_id=task_id,
            detail=detail,
            error_code="TooManyRequests" if status == 429 else None,
        )


def well_behaved() -> Journal:
    journal = Journal()
    journal.add(0.0, "POST", "/s2s/v2.0/file", operation="POST /s2s/v2.0/file")
    journal.add(0.2, "PUT", "/_storage/uploads/tok1", key=None, ip="127.0.0.1")
    journal.create(0.5, "T1")
    journal.poll(1.5, "T1")
    journal.poll(2.5, "T1", status=429, task_status=None)
    journal.poll(4.0, "T1")
    journal.poll(5.0, "T1", "success")
    journal.add(5.2, "GET", "/_storage/results/tok2/result.jpg", key=None, ip="127.0.0.1")
    return journal


def test_a_well_behaved_client_passes_every_verdict() -> None:
    entries = well_behaved().entries
    v.assert_polls_not_faster_than(entries, interval_s=1.0)
    v.assert_backs_off_after_429(entries)
    v.assert_no_retry_storm(entries)
    v.assert_polls_until_terminal(entries)
    v.assert_no_leaked_tasks(entries)
    v.assert_no_expired_url_reuse(entries)
    assert v.check_all(entries) == []


def test_dict_entries_are_accepted_like_entry_objects() -> None:
    journal = well_behaved()
    journal.poll(5.1, "T1", "success")
    dicts = [entry.to_dict() for entry in journal.entries]
    with pytest.raises(v.ClientVerdict) as from_dicts:
        v.assert_polls_not_faster_than(dicts, interval_s=1.0)
    with pytest.raises(v.ClientVerdict) as from_entries:
        v.assert_polls_not_faster_than(journal.entries, interval_s=1.0)
    assert str(from_dicts.value) == str(from_entries.value)


def test_a_dict_entry_missing_its_basics_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks"):
        v.check_all([{"seq": 1, "method": "GET"}])


# ------------------------------------------------------------------------------ polling


def test_fast_polling_is_reported_with_both_polls_quoted() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(1.0, "T1")
    journal.poll(1.25, "T1", "success")
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_polls_not_faster_than(journal.entries, interval_s=1.0)
    message = str(caught.value)
    assert "faster than once every 1 s" in message
    assert "task T1: polled again after 0.25 s" in message
    assert "#2 GET /s2s/v2.0/task/sod/T1 -> 200 at 2026-01-01T00:00:01.000Z" in message
    assert "#3 GET /s2s/v2.0/task/sod/T1 -> 200 at 2026-01-01T00:00:01.250Z" in message
    assert [e.seq for e in caught.value.entries] == [2, 3]
    assert caught.value.check == "polls_not_faster_than"
    assert isinstance(caught.value, AssertionError)


def test_polls_of_different_tasks_may_be_close_together() -> None:
    journal = Journal()
    for index, task_id in enumerate(["T1", "T2", "T3"]):
        journal.poll(index * 0.1, task_id)
        journal.poll(1.0 + index * 0.1, task_id, "success")
    v.assert_polls_not_faster_than(journal.entries, interval_s=1.0)


def test_polls_are_recognised_without_a_recorded_operation_or_task_id() -> None:
    journal = Journal()
    journal.add(0.0, "GET", "/s2s/v2.1/task/skin-analysis/abc")
    journal.add(0.1, "GET", "/s2s/v2.1/task/skin-analysis/abc")
    journal.add(0.2, "GET", "/s2s/v2.1/task/template/skin-analysis")  # not a poll
    journal.add(0.3, "GET", "/s2s/v2.1/task/template/skin-analysis")
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_polls_not_faster_than(journal.entries, interval_s=0.5)
    assert [e.seq for e in caught.value.entries] == [1, 2]


def test_operation_kinds_are_understood_too() -> None:
    journal = Journal()
    journal.add(0.0, "GET", "/anything/T9", operation="task_poll", task_id="T9")
    journal.add(0.1, "GET", "/anything/T9", operation="task_poll", task_id="T9")
    with pytest.raises(v.ClientVerdict):
        v.assert_polls_not_faster_than(journal.entries, interval_s=0.5)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        v.assert_polls_not_faster_than([], interval_s=0)


def test_giving_up_on_a_running_task_is_reported() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(1.0, "T1")
    journal.poll(2.0, "T1")
    journal.create(3.0, "T2")
    journal.poll(4.0, "T2")
    journal.poll(5.0, "T2", "error")
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_polls_until_terminal(journal.entries)
    message = str(caught.value)
    assert "gave up too early" in message
    assert "task T1: its last poll answered running (2 poll(s))" in message
    assert "#1 POST /s2s/v2.0/task/sod -> 200 at 2026-01-01T00:00:00.000Z" in message
    assert "#3 GET /s2s/v2.0/task/sod/T1 -> 200 at 2026-01-01T00:00:02.000Z" in message
    assert "T2" not in message


def test_giving_up_after_a_429_poll_is_reported() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(1.0, "T1")
    journal.poll(2.0, "T1", status=429)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_polls_until_terminal(journal.entries)
    assert "refused with 429 and never retried" in str(caught.value)
    assert "-> 429 TooManyRequests at 2026-01-01T00:00:02.000Z" in str(caught.value)


def test_polls_without_a_recorded_status_are_not_judged() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(1.0, "T1", task_status=None)
    v.assert_polls_until_terminal(journal.entries)


def test_tasks_created_and_never_polled_are_leaked() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(1.0, "T1", "success")
    journal.create(2.0, "T2")
    journal.create(3.0, "ignored", status=400)  # refused: no task to leak
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_no_leaked_tasks(journal.entries)
    message = str(caught.value)
    assert "created 1 task(s) it never polled" in message
    assert "task T2: created, never polled" in message
    assert "#3 POST /s2s/v2.0/task/sod -> 200 at 2026-01-01T00:00:02.000Z" in message
    assert "T1" not in message


# ------------------------------------------------------------------------------ 429 handling


def test_retrying_at_once_after_a_429_is_reported() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429, error_code="TooManyRequests")
    journal.add(0.3, "POST", CREATE, 200)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_backs_off_after_429(journal.entries, min_delay_s=1.0)
    message = str(caught.value)
    assert "retried without backing off" in message
    assert "sent its next request 0.3 s after a 429 (wanted >= 1 s)" in message
    assert "#1 POST /s2s/v2.0/task/sod -> 429 TooManyRequests at 2026-01-01T00:00:00.000Z" in (
        message
    )
    assert "#2 POST /s2s/v2.0/task/sod -> 200 at 2026-01-01T00:00:00.300Z" in message
    assert "ycm_" in message and KEY not in message  # the key is abbreviated


def test_waiting_long_enough_after_a_429_passes() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429)
    journal.add(1.0, "POST", CREATE, 200)
    v.assert_backs_off_after_429(journal.entries, min_delay_s=1.0)


def test_retry_after_is_honoured_when_it_was_sent() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429, detail={"retry_after": "3"})
    journal.add(1.5, "POST", CREATE, 200)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_backs_off_after_429(journal.entries, min_delay_s=1.0)
    assert "wanted >= 3 s, Retry-After 3 s" in str(caught.value)
    journal.entries[1].at = T0 + 3.0
    v.assert_backs_off_after_429(journal.entries, min_delay_s=1.0)


def test_requests_in_flight_and_other_callers_are_not_retries() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429, duration_ms=200)
    journal.add(0.1, "GET", f"{CREATE}/T1")  # sent before the 429 was answered
    journal.add(0.5, "GET", f"{CREATE}/T1", key="another-key")
    journal.add(0.6, "PUT", "/_storage/uploads/tok", key=None, ip="10.0.0.1")
    v.assert_backs_off_after_429(journal.entries, min_delay_s=1.0)


def test_a_chain_of_429s_is_one_finding() -> None:
    journal = Journal()
    for index in range(4):
        journal.add(index * 0.1, "POST", CREATE, 429)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_backs_off_after_429(journal.entries)
    assert "after 1 429 response(s)" in str(caught.value)


def test_a_retry_storm_is_reported() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429)
    for index in range(7):
        journal.add(0.1 + index * 0.1, "POST", CREATE, 429)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_no_retry_storm(journal.entries, window_s=1.0, max_requests=5)
    message = str(caught.value)
    assert "sent 7 requests within 1 s of a 429 (at most 5 allowed)" in message
    assert "#8 POST /s2s/v2.0/task/sod -> 429 at 2026-01-01T00:00:00.700Z" in message
    assert "1 429 response(s) with a retry storm" in message


def test_a_few_retries_are_not_a_storm() -> None:
    journal = Journal()
    journal.add(0.0, "POST", CREATE, 429)
    for index in range(5):
        journal.add(0.1 + index * 0.1, "POST", CREATE, 200)
    journal.add(1.5, "POST", CREATE, 200)  # outside the window
    v.assert_no_retry_storm(journal.entries, window_s=1.0, max_requests=5)


# ------------------------------------------------------------------------------ storage URLs


def test_reusing_expired_upload_and_result_urls_is_reported() -> None:
    journal = Journal()
    journal.add(0.0, "PUT", "/_storage/uploads/tok1", 403, key=None, error_code="RequestExpired")
    journal.add(1.0, "GET", "/_storage/results/tok2/out.jpg", 403, key=None)
    journal.add(2.0, "GET", "/_storage/results/tok3/out.jpg", 200, key=None)
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_no_expired_url_reuse(journal.entries)
    message = str(caught.value)
    assert "reused 2 expired or invalid storage URL(s)" in message
    assert "an expired upload URL was reused (RequestExpired); register the file again" in message
    assert "an expired result URL was reused (expired or invalid signature); poll the task" in (
        message
    )
    assert "#1 PUT /_storage/uploads/tok1 -> 403 RequestExpired at 2026-01-01T00:00:00.000Z" in (
        message
    )
    assert "#2 GET /_storage/results/tok2/out.jpg -> 403 at 2026-01-01T00:00:01.000Z" in message
    assert "tok3" not in message


# ------------------------------------------------------------------------------ check_all


def test_check_all_collects_every_failure() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.poll(0.1, "T1")
    journal.poll(0.2, "T1", status=429)
    journal.poll(0.25, "T1", status=429)
    journal.create(0.3, "T2")
    journal.add(0.4, "GET", "/_storage/results/tok/out.jpg", 403, key=None)
    failures = v.check_all(journal.entries)
    assert [f.check for f in failures] == [
        "polls_not_faster_than",
        "backs_off_after_429",
        "polls_until_terminal",
        "no_leaked_tasks",
        "no_expired_url_reuse",
    ]
    assert all(isinstance(f, AssertionError) for f in failures)
    skipped = v.check_all(journal.entries, interval_s=None)
    assert "polls_not_faster_than" not in [f.check for f in skipped]


def test_webhook_deliveries_are_not_client_requests() -> None:
    journal = Journal()
    journal.create(0.0, "T1")
    journal.add(0.1, "POST", "https://hooks.example/x", kind="webhook", task_id="T1")
    journal.poll(1.0, "T1", "success")
    journal.add(1.1, "POST", "https://hooks.example/x", kind="webhook", task_id="T1")
    assert v.check_all(journal.entries) == []


def test_long_findings_are_capped() -> None:
    journal = Journal()
    for index in range(20):
        journal.create(float(index), f"T{index}")
    with pytest.raises(v.ClientVerdict) as caught:
        v.assert_no_leaked_tasks(journal.entries)
    message = str(caught.value)
    assert "created 20 task(s)" in message
    assert f"... and {20 - v.MAX_QUOTED} more like these" in message
    assert len(caught.value.entries) == 20
