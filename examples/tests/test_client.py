"""The example client against the emulator: the happy path in both modes, every documented way
a job can fail, backoff under the vendor's rate limit, result-link refresh, and Hypothesis
properties (random request shapes, bad images, random fault schedules) judged by the verdicts."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from conftest import fresh, without_resets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from youcam_client import (
    DEFAULT_BASE_URL,
    ResultGone,
    TaskFailed,
    TaskTimedOut,
    YouCamClient,
    YouCamError,
)

from youcam_testkit import strategies as yst
from youcam_testkit import verdicts
from youcam_testkit.plugin import YouCam

ClientFor = Callable[..., YouCamClient]
EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PLAIN_FEATURES = ["v2.0/colorize", "v2.0/makeup-vto", "v2.0/skin-analysis"]
UPLOAD = "<upload>"


def assert_polite(handle: YouCam, **options: Any) -> None:
    """Every verdict holds for the requests this test's client sent."""
    failures = verdicts.check_all(handle.journal(), **options)
    assert not failures, "\n\n".join(map(str, failures))


def upload(client: YouCamClient, image: bytes) -> str:
    png = image.startswith(b"\x89PNG")
    return client.upload(
        image,
        content_type="image/png" if png else "image/jpeg",
        file_name="in.png" if png else "in.jpg",
    )


# ---------------------------------------------------------------------- the happy path


def test_the_whole_job_in_process_with_the_vendor_host_unchanged(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    client = client_for(youcam_requests)
    assert client.base_url == DEFAULT_BASE_URL  # the client's own default: nothing changed
    result = client.run("sod", photo)
    Image.open(io.BytesIO(result)).verify()
    assert_polite(youcam_requests)


def test_the_whole_job_over_a_real_socket(
    youcam: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    result = client_for(youcam).run("bg-blur", photo)
    Image.open(io.BytesIO(result)).verify()
    assert_polite(youcam)


@EXAMPLES
@given(
    request=st.sampled_from(PLAIN_FEATURES).flatmap(
        lambda key: yst.task_requests(feature=key, files=lambda field, index: UPLOAD, by="id")
    ),
    image=yst.images(min_side=16, max_side=64),
)
def test_every_documented_request_shape_runs_to_a_result(
    youcam_requests: YouCam, client_for: ClientFor, request: yst.TaskRequest, image: bytes
) -> None:
    fresh(youcam_requests)
    client = client_for(youcam_requests)
    file_id = upload(client, image)
    body = {name: file_id if value == UPLOAD else value for name, value in request.body.items()}
    spec = request.feature
    result = client.wait(spec.feature, client.create_task(spec.feature, body, spec.version))
    assert result.results
    assert_polite(youcam_requests)


# ---------------------------------------------------------------------- how a job fails


@EXAMPLES
@given(bad=yst.undecodable_images() | yst.oversized_images())
def test_a_bad_image_ends_the_task_with_its_engine_code(
    youcam_requests: YouCam, client_for: ClientFor, bad: yst.LabelledImage
) -> None:
    fresh(youcam_requests)
    with pytest.raises(TaskFailed) as failed:
        client_for(youcam_requests).run(
            "sod", bad.data, content_type=bad.content_type, file_name="bad.img"
        )
    expected = bad.expected_for("v2.0/sod")
    if expected is not None:
        assert failed.value.error_code == expected, bad.reason
    assert_polite(youcam_requests)


@EXAMPLES
@given(code=yst.engine_errors(feature="v2.0/hair-color"))
def test_an_engine_error_surfaces_as_task_failed(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes, code: str
) -> None:
    fresh(youcam_requests)
    youcam_requests.control.fail(match={"feature": "hair-color"}, action={"engine_error": code})
    with pytest.raises(TaskFailed) as failed:
        client_for(youcam_requests).run("hair-color", photo)
    assert failed.value.error_code == code


@EXAMPLES
@given(invalid=yst.invalid_task_requests(feature="v2.0/skin-analysis"))
def test_an_invalid_request_is_refused_once_and_not_retried(
    youcam_requests: YouCam, client_for: ClientFor, invalid: yst.InvalidTaskRequest
) -> None:
    fresh(youcam_requests)
    with pytest.raises(YouCamError) as refused:
        client_for(youcam_requests).create_task("skin-analysis", invalid.body)
    assert (refused.value.status, refused.value.error_code) == (400, "InvalidParameters")
    assert len(youcam_requests.journal()) == 1, "a 400 is final: no retry"


@pytest.mark.youcam(progression={"running_polls": None})  # the task never finishes
def test_a_stuck_task_times_out_after_max_wait_without_hammering(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    client = client_for(youcam_requests, max_wait=120.0)
    started = youcam_requests.control.now()
    with pytest.raises(TaskTimedOut):
        client.run("sod", photo)
    assert youcam_requests.control.now() - started <= 120.0
    polls = youcam_requests.journal(path_prefix="/s2s/v2.0/task/sod/")
    assert 5 <= len(polls) <= 15
    verdicts.assert_polls_not_faster_than(youcam_requests.journal(), interval_s=2.0)


def test_a_result_past_retention_is_gone(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    client = client_for(youcam_requests)
    file_id = upload(client, photo)
    result = client.wait("sod", client.create_task("sod", {"src_file_id": file_id}))
    youcam_requests.control.advance(24 * 3600 + 60)
    with pytest.raises(ResultGone):
        client.download(result)


# ---------------------------------------------------------------------- rate limits and links


@pytest.mark.youcam(rate_limit="vendor", retry_after_header=True)
def test_back_to_back_jobs_back_off_under_the_vendor_rate_limit(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    client = client_for(youcam_requests)
    file_ids = [upload(client, photo) for _ in range(3)]
    task_ids = [client.create_task("sod", {"src_file_id": file_id}) for file_id in file_ids]
    for task_id in task_ids:
        assert client.download(client.wait("sod", task_id))
    assert youcam_requests.journal(status=429), "the 5 requests/s limit was reached"
    assert_polite(youcam_requests)


def test_an_old_result_link_is_refreshed_before_download(
    youcam_requests: YouCam, client_for: ClientFor, photo: bytes
) -> None:
    client = client_for(youcam_requests)
    file_id = upload(client, photo)
    result = client.wait("sod", client.create_task("sod", {"src_file_id": file_id}))
    youcam_requests.control.advance(3 * 3600)  # the user comes back three hours later
    assert client.download(result)
    assert not youcam_requests.journal(status=403), "the expired link was never tried"
    assert_polite(youcam_requests)


def test_a_refused_link_is_refreshed_once(youcam_requests: YouCam, photo: bytes) -> None:
    # This client's clock is not the emulator's, so it cannot tell the link is old.
    control = youcam_requests.control
    client = YouCamClient(youcam_requests.api_key, sleep=control.advance, seed=0)
    file_id = upload(client, photo)
    result = client.wait("sod", client.create_task("sod", {"src_file_id": file_id}))
    control.advance(3 * 3600)
    assert client.download(result)
    statuses = [(e["method"], e["path"].split("/")[2], e["status"]) for e in control.journal()]
    assert statuses[-3:] == [
        ("GET", "results", 403),
        ("GET", "v2.0", 200),
        ("GET", "results", 200),
    ]


# ---------------------------------------------------------------------- any fault schedule


@settings(EXAMPLES, max_examples=25)
@given(schedule=yst.fault_schedules(feature="v2.0/sod", max_faults=3).map(without_resets))
def test_the_client_stays_polite_under_any_fault_schedule(
    youcam: YouCam, client_for: ClientFor, photo: bytes, schedule: list[dict[str, Any]]
) -> None:
    # Over a real socket, so a scripted connection reset is a real one.
    fresh(youcam)
    for rule in schedule:
        youcam.control.fail(**rule)
    try:
        result = client_for(youcam).run("sod", photo)
    except TaskFailed as failed:  # only an injected engine error ends a task on a good photo
        assert failed.error_code in [rule["action"].get("engine_error") for rule in schedule]
    except YouCamError:  # a timeout, a refused create, retries exhausted: documented outcomes
        assert schedule, "a healthy API must not fail the job"
    else:
        Image.open(io.BytesIO(result)).verify()
    assert_polite(youcam)  # whatever happened, the client's traffic was polite
