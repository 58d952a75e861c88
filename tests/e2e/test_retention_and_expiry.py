"""Retention and expiry on the emulator's clock (FACTS.md, "Retention"): uploads live 24 h,
upload URLs 1 h, results 24 h after completion, result links 2 h (re-poll for a fresh one);
``retention="vendor"`` keeps files and tasks 30 days.  Expired data is reclaimed, so a long run
does not grow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.flow import jpeg
from youcam_mock.app import create_app
from youcam_mock.control import InProcessControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DAY, DEFAULT_API_KEY, HOUR, MockConfig

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
CREATE = "/s2s/v2.0/task/sod"
POLL = "/s2s/v2.0/task/sod/{task_id}"
PHOTO = jpeg(160, 120)
RECLAIMED = ("files", "tasks", "assets", "blobs", "blob_bytes")


@dataclass
class Emulator:
    app: Flask
    client: FlaskClient
    clock: ManualClock

    @property
    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.app.extensions["youcam_mock"].backend.store.stats()
        return stats

    def register(self, data: bytes = PHOTO) -> dict[str, Any]:
        """The File API entry for one photo (no bytes sent yet)."""
        files = [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": len(data)}]
        reply = self.client.post("/s2s/v2.0/file", json={"files": files}, headers=AUTH)
        assert reply.status_code == 200, reply.get_json()
        entry: dict[str, Any] = reply.get_json()["data"]["files"][0]
        return entry

    def put(self, entry: dict[str, Any], data: bytes = PHOTO) -> TestResponse:
        request = entry["requests"][0]
        return self.client.put(request["url"], data=data, headers=request["headers"])

    def upload(self, data: bytes = PHOTO) -> str:
        entry = self.register(data)
        assert self.put(entry, data).status_code == 200
        return str(entry["file_id"])

    def create(self, file_id: str) -> TestResponse:
        return self.client.post(CREATE, json={"src_file_id": file_id}, headers=AUTH)

    def start(self, file_id: str | None = None) -> str:
        created = self.create(file_id or self.upload())
        assert created.status_code == 200, created.get_json()
        return str(created.get_json()["data"]["task_id"])

    def poll(self, task_id: str) -> TestResponse:
        return self.client.get(POLL.format(task_id=task_id), headers=AUTH)

    def finish(self, task_id: str) -> str:
        """Poll until success; the result link."""
        for _ in range(5):
            data = self.poll(task_id).get_json()["data"]
            if data["task_status"] == "success":
                return str(data["results"]["url"])
        raise AssertionError("the task never finished")

    def download(self, url: str) -> TestResponse:
        parts = urlsplit(url)
        return self.client.get(parts.path)


def emulator(**settings: Any) -> Emulator:
    clock = ManualClock()
    app = create_app(MockConfig(**settings), clock=clock)
    return Emulator(app, app.test_client(), clock)


def assert_refused(reply: TestResponse, status: int, code: str) -> None:
    assert reply.status_code == status, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["status"] == status
    assert body["error_code"] == code


# ---------------------------------------------------------------------- uploaded files


def test_an_uploaded_file_can_be_used_until_just_before_24_hours() -> None:
    mock = emulator()
    file_id = mock.upload()
    mock.clock.advance(DAY - 1)
    assert mock.create(file_id).status_code == 200


def test_a_task_naming_a_file_uploaded_24_hours_ago_is_refused_with_invalid_parameters() -> None:
    mock = emulator()
    file_id = mock.upload()
    mock.clock.advance(DAY)
    assert_refused(mock.create(file_id), 400, "InvalidParameters")


def test_an_expired_file_is_refused_even_before_any_sweep_has_run() -> None:
    mock = emulator()
    file_id = mock.upload()
    mock.clock.advance(DAY + 1)
    assert mock.stats["files"] == 1  # nothing reclaimed yet
    assert_refused(mock.create(file_id), 400, "InvalidParameters")


def test_an_unknown_file_id_is_refused_with_invalid_parameters() -> None:
    mock = emulator()
    unknown = "bm90IGEgZmlsZSB0aGlzIGVtdWxhdG9yIGlzc3VlZA=="
    assert_refused(mock.create(unknown), 400, "InvalidParameters")


# ---------------------------------------------------------------------- upload URLs


def test_an_upload_url_works_for_an_hour() -> None:
    mock = emulator()
    entry = mock.register()
    mock.clock.advance(HOUR - 1)
    assert mock.put(entry).status_code == 200


def test_an_upload_url_older_than_an_hour_is_refused_with_403() -> None:
    mock = emulator()
    entry = mock.register()
    mock.clock.advance(HOUR + 1)
    refused = mock.put(entry)
    assert refused.status_code == 403
    assert refused.get_json()["error_code"] == "RequestExpired"
    # Nothing arrived: a task naming the file does not get its bytes.
    assert mock.app.extensions["youcam_mock"].backend.file_bytes(entry["file_id"]) is None


def test_the_upload_url_lifetime_is_a_setting() -> None:
    mock = emulator(upload_url_ttl=60)
    entry = mock.register()
    mock.clock.advance(61)
    assert mock.put(entry).status_code == 403


# ---------------------------------------------------------------------- tasks and results


def test_a_finished_task_can_be_polled_for_24_hours_after_completion() -> None:
    mock = emulator()
    task_id = mock.start()
    mock.clock.advance(5 * HOUR)  # completion, not creation, starts the 24 hours
    mock.finish(task_id)
    mock.clock.advance(DAY - 1)
    polled = mock.poll(task_id)
    assert polled.status_code == 200
    assert polled.get_json()["data"]["task_status"] == "success"


def test_a_task_polled_24_hours_after_completion_is_an_invalid_task_id() -> None:
    mock = emulator()
    task_id = mock.start()
    mock.finish(task_id)
    mock.clock.advance(DAY + 1)
    assert_refused(mock.poll(task_id), 400, "InvalidTaskId")
    assert_refused(mock.poll(task_id), 400, "InvalidTaskId")  # and it stays gone


def test_an_unknown_task_id_is_an_invalid_task_id() -> None:
    mock = emulator()
    assert_refused(mock.poll("A" * 64), 400, "InvalidTaskId")


def test_another_keys_task_id_is_an_invalid_task_id() -> None:
    mock = emulator(api_keys=(DEFAULT_API_KEY, "other-tenant"))
    task_id = mock.start()
    other = {"Authorization": "Bearer other-tenant"}
    reply = mock.client.get(POLL.format(task_id=task_id), headers=other)
    assert_refused(reply, 400, "InvalidTaskId")


def test_a_result_link_works_for_two_hours() -> None:
    mock = emulator()
    url = mock.finish(mock.start())
    mock.clock.advance(2 * HOUR - 1)
    fetched = mock.download(url)
    assert fetched.status_code == 200
    assert fetched.data.startswith(b"\x89PNG")


def test_a_result_link_older_than_two_hours_is_refused_and_a_fresh_poll_gives_a_working_one() -> (
    None
):
    mock = emulator()
    task_id = mock.start()
    url = mock.finish(task_id)
    original = mock.download(url).data
    mock.clock.advance(2 * HOUR + 1)

    stale = mock.download(url)
    assert stale.status_code == 403
    assert stale.get_json()["error_code"] == "RequestExpired"

    fresh = mock.poll(task_id).get_json()["data"]["results"]["url"]
    assert fresh != url
    again = mock.download(fresh)
    assert again.status_code == 200
    assert again.data == original


def test_re_polling_late_in_the_day_still_gives_a_working_link() -> None:
    mock = emulator()
    task_id = mock.start()
    mock.finish(task_id)
    mock.clock.advance(DAY - HOUR)
    fresh = mock.poll(task_id).get_json()["data"]["results"]["url"]
    assert mock.download(fresh).status_code == 200


def test_a_result_link_of_an_expired_task_no_longer_downloads() -> None:
    mock = emulator()
    task_id = mock.start()
    mock.finish(task_id)
    mock.clock.advance(DAY - 60)
    url = mock.poll(task_id).get_json()["data"]["results"]["url"]  # signed 1 min before expiry
    mock.clock.advance(120)
    assert mock.download(url).status_code in (403, 404)


# ---------------------------------------------------------------------- vendor retention


def test_vendor_retention_keeps_an_upload_usable_for_29_days() -> None:
    mock = emulator(retention="vendor")
    file_id = mock.upload()
    mock.clock.advance(29 * DAY)
    assert mock.create(file_id).status_code == 200


def test_vendor_retention_forgets_an_upload_after_30_days() -> None:
    mock = emulator(retention="vendor")
    file_id = mock.upload()
    mock.clock.advance(31 * DAY)
    assert_refused(mock.create(file_id), 400, "InvalidParameters")


def test_vendor_retention_keeps_a_task_and_its_result_for_29_days() -> None:
    mock = emulator(retention="vendor")
    task_id = mock.start()
    mock.finish(task_id)
    mock.clock.advance(29 * DAY)
    polled = mock.poll(task_id)
    assert polled.status_code == 200
    assert mock.download(polled.get_json()["data"]["results"]["url"]).status_code == 200


def test_vendor_retention_forgets_a_task_after_30_days() -> None:
    mock = emulator(retention="vendor")
    task_id = mock.start()
    mock.finish(task_id)
    mock.clock.advance(31 * DAY)
    assert_refused(mock.poll(task_id), 400, "InvalidTaskId")


def test_vendor_retention_does_not_lengthen_the_link_lifetimes() -> None:
    mock = emulator(retention="vendor")
    entry = mock.register()
    mock.clock.advance(HOUR + 1)
    assert mock.put(entry).status_code == 403


# ---------------------------------------------------------------------- reclaiming memory


def run_a_busy_day(mock: Emulator) -> None:
    """What a day of client traffic leaves behind: finished tasks, a task nobody polls, an
    upload nobody used and a registration whose bytes never came."""
    for _ in range(4):
        task_id = mock.start()
        assert mock.download(mock.finish(task_id)).status_code == 200
    mock.start()
    mock.upload()
    mock.register()


def reclaimable(mock: Emulator) -> dict[str, int]:
    return {name: mock.stats[name] for name in RECLAIMED}


def test_everything_a_flow_stores_is_reclaimed_once_retention_has_passed() -> None:
    mock = emulator()
    control = InProcessControl(mock.app)
    empty = reclaimable(mock)
    assert empty == dict.fromkeys(RECLAIMED, 0)

    run_a_busy_day(mock)
    assert all(reclaimable(mock)[name] > 0 for name in RECLAIMED)
    mock.clock.advance(DAY + 1)
    removed = control.sweep()["removed"]
    assert (removed["files"], removed["tasks"]) == (7, 5)  # results go with their task
    assert reclaimable(mock) == empty


def test_nothing_is_reclaimed_while_still_inside_retention() -> None:
    mock = emulator()
    run_a_busy_day(mock)
    before = reclaimable(mock)
    mock.clock.advance(DAY - 60)
    assert InProcessControl(mock.app).sweep()["removed"] == {
        "files": 0,
        "tasks": 0,
        "assets": 0,
        "rate_windows": 0,
    }
    assert reclaimable(mock) == before


@pytest.mark.parametrize("sweeper", ["control sweep", "automatic sweep"])
def test_memory_stays_flat_over_many_simulated_days(sweeper: str) -> None:
    mock = emulator()
    control = InProcessControl(mock.app)
    empty = reclaimable(mock)
    peaks = []
    for _ in range(5):
        run_a_busy_day(mock)
        peaks.append(reclaimable(mock))
        mock.clock.advance(DAY + HOUR)
        if sweeper == "control sweep":
            control.sweep()
        else:
            # Any authenticated request runs the sweep once a minute of clock time has passed.
            assert mock.client.get("/s2s/v1.0/client/credit", headers=AUTH).status_code == 200
        assert reclaimable(mock) == empty
    counts = [{k: v for k, v in peak.items() if k != "blob_bytes"} for peak in peaks]
    assert all(count == counts[0] for count in counts), counts
    sizes = [peak["blob_bytes"] for peak in peaks]
    assert max(sizes) < 1.5 * min(sizes), sizes  # result images differ a little by seed


def test_rate_limit_windows_of_clients_gone_quiet_are_reclaimed() -> None:
    mock = emulator(rate_limit="vendor")
    for n in range(20):
        reply = mock.client.get(
            "/s2s/v1.0/client/credit", headers=AUTH, environ_base={"REMOTE_ADDR": f"10.9.0.{n}"}
        )
        assert reply.status_code == 200
        mock.clock.advance(1)
    assert mock.stats["rate_windows"] > 0
    mock.clock.advance(DAY)
    InProcessControl(mock.app).sweep()
    assert mock.stats["rate_windows"] == 0
