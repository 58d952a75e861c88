"""Hypothesis, the fault_schedules strategy and the verdicts catch the naive client: `find`
searches random fault schedules for one that makes it misbehave and shrinks it to the smallest
(printed; run with ``-s`` to see it).  The example client passes the same search."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import naive_client
import pytest
import requests
from conftest import fresh, jpeg_bytes, without_resets
from hypothesis import find, settings
from hypothesis.errors import NoSuchExample
from youcam_client import YouCamClient, YouCamError

from youcam_testkit import verdicts
from youcam_testkit.plugin import YouCam
from youcam_testkit.strategies import fault_schedules

Schedule = list[dict[str, Any]]
SEARCH = settings(max_examples=100, database=None, deadline=None, derandomize=True)


def misbehaviour(handle: YouCam, schedule: Schedule, job: Any) -> list[verdicts.ClientVerdict]:
    """Run ``job`` on a clean emulator with ``schedule`` installed; the verdicts it earns.
    A client may fail under faults; what it sent while failing is what is judged."""
    fresh(handle)
    for rule in schedule:
        handle.control.fail(**rule)
    with contextlib.suppress(requests.RequestException, ValueError, RuntimeError, YouCamError):
        job()
    return verdicts.check_all(handle.journal())


def naive_job(handle: YouCam) -> Any:
    return lambda: naive_client.start(handle.api_key, jpeg_bytes(), sleep=handle.control.advance)


def test_the_naive_client_looks_fine_on_a_healthy_api(youcam_requests: YouCam) -> None:
    assert misbehaviour(youcam_requests, [], naive_job(youcam_requests)) == []


def test_hypothesis_shrinks_the_fault_schedule_that_breaks_the_naive_client(
    youcam_requests: YouCam,
) -> None:
    smallest = find(
        fault_schedules(feature="v2.0/sod", max_faults=3),
        lambda schedule: bool(misbehaviour(youcam_requests, schedule, naive_job(youcam_requests))),
        settings=SEARCH,
    )
    [verdict] = misbehaviour(youcam_requests, smallest, naive_job(youcam_requests))
    print("\nsmallest fault schedule that breaks the naive client:")  # noqa: T201
    print(json.dumps(smallest, indent=2))  # noqa: T201
    print(verdict)  # noqa: T201
    assert smallest == [
        {
            "name": "429 on task_poll",
            "match": {"operation": "task_poll"},
            "action": {"http_error": "TooManyRequests"},
            "times": 1,
        }
    ]
    assert verdict.check == "polls_until_terminal"
    assert "its last poll was refused with 429 and never retried" in str(verdict)


def test_the_same_search_finds_nothing_against_the_example_client(youcam: YouCam) -> None:
    def job() -> None:
        client = YouCamClient(youcam.api_key, youcam.base_url, sleep=youcam.control.advance, seed=0)
        client.run("sod", jpeg_bytes())

    with pytest.raises(NoSuchExample):
        find(
            fault_schedules(feature="v2.0/sod", max_faults=3).map(without_resets),
            lambda schedule: bool(misbehaviour(youcam, schedule, job)),
            settings=settings(SEARCH, max_examples=40),
        )


def test_the_naive_client_reuses_an_expired_result_link(youcam_requests: YouCam) -> None:
    url = naive_client.start(
        youcam_requests.api_key, jpeg_bytes(), sleep=youcam_requests.control.advance
    )
    assert naive_client.download(url)  # fine right away
    youcam_requests.control.advance(2 * 3600 + 60)  # the user comes back two hours later
    with pytest.raises(requests.HTTPError):
        naive_client.download(url)
    with pytest.raises(verdicts.ClientVerdict, match="expired result URL was reused"):
        verdicts.assert_no_expired_url_reuse(youcam_requests.journal())
