"""youcam_testkit.stateful: the lifecycle machine passes the reference adapter against the live
and in-process emulators, runs as a unittest TestCase against a remote emulator, and catches
clients that break the lifecycle (stale cached results, swallowed InvalidTaskId)."""

from __future__ import annotations

import unittest
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from youcam_testkit.plugin import YouCam
from youcam_testkit.stateful import (
    DEFAULT_SETTINGS,
    RemoteEmulator,
    RequestsAdapter,
    YouCamApiError,
    YouCamLifecycle,
    lifecycle_test_case,
    run_lifecycle,
)

#: A failing run is shrunk: keep the search for a counterexample short.
HUNT = settings(
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_reference_adapter_keeps_every_invariant_on_the_live_emulator(youcam: YouCam) -> None:
    run_lifecycle(youcam, RequestsAdapter.for_handle)
    assert youcam.journal(status=200), "the machine drove the live emulator"


def test_the_machine_runs_in_process_against_the_vendor_host(youcam_requests: YouCam) -> None:
    assert youcam_requests.base_url == "https://yce-api-01.makeupar.com"
    run_lifecycle(
        youcam_requests,
        settings=settings(DEFAULT_SETTINGS, max_examples=4),
    )


def test_lifecycle_test_case_runs_under_unittest_over_the_http_control_plane(
    youcam: YouCam,
) -> None:
    case = lifecycle_test_case(
        lambda: RemoteEmulator(youcam.base_url, youcam.api_key),
        settings=settings(DEFAULT_SETTINGS, max_examples=3),
    )
    assert issubclass(case, unittest.TestCase)
    outcome = unittest.TextTestRunner(stream=_Null(), verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(case)
    )
    assert outcome.wasSuccessful(), outcome.failures + outcome.errors
    assert outcome.testsRun == 1


def test_a_subclass_narrows_the_features() -> None:
    class OnlySod(YouCamLifecycle):
        feature_keys = ("v2.0/sod",)

    assert OnlySod.feature_keys == ("v2.0/sod",)

    class Unknown(YouCamLifecycle):
        feature_keys = ("sod",)

    with pytest.raises(ValueError, match=r"v2\.0/sod"):
        Unknown(_NoHandle(), RequestsAdapter("http://unused", "k"))


def test_a_handle_is_required_without_a_subclass_hook() -> None:
    with pytest.raises(NotImplementedError, match="make_handle"):
        YouCamLifecycle()


def test_the_reference_adapter_raises_api_errors_with_their_code(youcam: YouCam) -> None:
    adapter = RequestsAdapter(youcam.base_url, youcam.api_key)
    with pytest.raises(YouCamApiError) as caught:
        adapter.poll("v2.0/sod", "no-such-task")
    assert (caught.value.status, caught.value.error_code) == (400, "InvalidTaskId")
    with pytest.raises(YouCamApiError) as refused:
        RequestsAdapter(youcam.base_url, "wrong-key").create_task("v2.0/sod", {})
    assert refused.value.status == 401
    with pytest.raises(ValueError, match=r"v2\.0/<feature>"):
        adapter.poll("sod", "x")


# ---------------------------------------------------------------------- broken clients


class CachingAdapter(RequestsAdapter):
    """Remembers a finished task's answer and never asks again: its result links go stale."""

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        self.finished: dict[str, dict[str, Any]] = {}

    def poll(self, feature_key: str, task_id: str) -> dict[str, Any]:
        if task_id in self.finished:
            return self.finished[task_id]
        data = super().poll(feature_key, task_id)
        if data["task_status"] != "running":
            self.finished[task_id] = data
        return data


class ForgivingAdapter(RequestsAdapter):
    """Turns InvalidTaskId into 'still running' (a client that hides expiry)."""

    def poll(self, feature_key: str, task_id: str) -> dict[str, Any]:
        try:
            return super().poll(feature_key, task_id)
        except YouCamApiError as error:
            if error.error_code == "InvalidTaskId":
                return {"task_status": "running", "error": None}
            raise


def test_the_machine_catches_a_client_serving_cached_result_links(youcam: YouCam) -> None:
    machine = YouCamLifecycle(youcam, CachingAdapter(youcam.base_url, youcam.api_key))
    task = machine.create_task(file=machine.first_upload(), feature="v2.0/sod")
    machine.poll(task=task)
    machine.poll(task=task)  # success: its links download
    machine.wait(step="past link expiry")
    with pytest.raises(AssertionError, match=r"failed 0\.00 h after the poll that issued it"):
        machine.poll(task=task)  # the cached answer hands out expired links


def test_the_machine_catches_a_client_hiding_an_expired_task(youcam: YouCam) -> None:
    machine = YouCamLifecycle(youcam, ForgivingAdapter(youcam.base_url, youcam.api_key))
    task = machine.create_task(file=machine.first_upload(), feature="v2.0/bg-blur")
    machine.poll(task=task)
    machine.wait(step="past retention")
    with pytest.raises(AssertionError, match="past its retention"):
        machine.poll(task=task)


def test_the_machine_checks_retention_refusals_and_units(youcam: YouCam) -> None:
    machine = YouCamLifecycle(youcam, RequestsAdapter(youcam.base_url, youcam.api_key))
    image = machine.first_upload()
    done = machine.create_task(file=image, feature="v2.0/colorize")
    machine.poll(task=done)
    machine.poll(task=done)
    assert machine.links, "a success poll handed out links"
    machine.set_units(units=0)
    assert machine.create_task(file=image, feature="v2.0/sod").values == ()  # refused
    machine.units_never_negative()
    machine.wait(step="past retention")
    machine.poll(task=done)  # InvalidTaskId, as documented
    machine.download(url=next(iter(machine.links)))  # refused: expired
    assert machine.create_task(file=image, feature="v2.0/sod").values == ()  # file expired
    codes = {entry["error_code"] for entry in youcam.journal(status=400)}
    assert codes >= {"CreditInsufficiency", "InvalidTaskId", "InvalidParameters"}


# ---------------------------------------------------------------------- helpers


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class _NoHandle:
    base_url = "http://unused"
    api_key = "k"

    @property
    def control(self) -> Any:
        raise AssertionError("not reached")
