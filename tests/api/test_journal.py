"""The request journal: one entry per request (method, path, status, key, timing, the rule that
fired), read and filtered through both control twins, and bounded in size."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.flow import jpeg
from tests.support.servers import serving
from youcam_mock.app import create_app
from youcam_mock.control import ControlError, HttpControl, InProcessControl, MockControl
from youcam_mock.core import store as store_module
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.store import JOURNAL_LIMIT, InMemoryStore

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
OTHER = "tenant-b"
CREDIT = "/s2s/v1.0/client/credit"
PHOTO = jpeg(160, 120)


@dataclass
class Rig:
    app: Flask
    clock: ManualClock
    client: FlaskClient
    control: MockControl
    twin: str

    def get(self, path: str, key: str | None = DEFAULT_API_KEY) -> TestResponse:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(path, headers=headers)

    def post(self, path: str, body: Any, key: str = DEFAULT_API_KEY) -> TestResponse:
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})

    def flow(self, key: str = DEFAULT_API_KEY) -> str:
        """Register, upload, create, poll to success, download: the task id."""
        files = [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": len(PHOTO)}]
        entry = self.post("/s2s/v2.0/file", {"files": files}, key).get_json()["data"]["files"][0]
        put = entry["requests"][0]
        assert self.client.put(put["url"], data=PHOTO, headers=put["headers"]).status_code == 200
        created = self.post("/s2s/v2.0/task/sod", {"src_file_id": entry["file_id"]}, key)
        task_id = str(created.get_json()["data"]["task_id"])
        for _ in range(2):
            data = self.get(f"/s2s/v2.0/task/sod/{task_id}", key).get_json()["data"]
        assert self.client.get(urlsplit(data["results"]["url"]).path).status_code == 200
        return task_id


@pytest.fixture(scope="module", params=["in-process", "http"])
def twin(request: pytest.FixtureRequest) -> Iterator[tuple[str, Flask, ManualClock, str | None]]:
    clock = ManualClock()
    app = create_app(MockConfig(), clock=clock)
    if request.param == "in-process":
        yield request.param, app, clock, None
    else:
        with serving(app) as url:
            yield request.param, app, clock, url


@pytest.fixture
def rig(twin: tuple[str, Flask, ManualClock, str | None]) -> Rig:
    """Fresh state, two tenants; the journal read through the twin under test."""
    name, app, clock, url = twin
    InProcessControl(app).reset(config={"api_keys": [DEFAULT_API_KEY, OTHER]})
    control = HttpControl(url) if url else InProcessControl(app)
    return Rig(app, clock, app.test_client(), control, name)


def paths(entries: list[dict[str, Any]]) -> list[str]:
    return [e["path"] for e in entries]


# ---------------------------------------------------------------------- what an entry says


def test_each_request_of_a_flow_gets_one_entry_in_order(rig: Rig) -> None:
    task_id = rig.flow()
    entries = rig.control.journal()
    assert [(e["method"], e["status"]) for e in entries] == [
        ("POST", 200),  # File API
        ("PUT", 200),  # the upload
        ("POST", 200),  # create
        ("GET", 200),  # poll: running
        ("GET", 200),  # poll: success
        ("GET", 200),  # the download
    ]
    assert paths(entries)[0] == "/s2s/v2.0/file"
    assert paths(entries)[1].startswith("/_storage/uploads/")
    assert paths(entries)[2:5] == ["/s2s/v2.0/task/sod"] + [f"/s2s/v2.0/task/sod/{task_id}"] * 2
    assert paths(entries)[5].startswith("/_storage/results/")
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_an_entry_names_the_key_the_operation_the_feature_and_the_task(rig: Rig) -> None:
    task_id = rig.flow()
    create, running, success = rig.control.journal()[2:5]
    assert create["key"] == DEFAULT_API_KEY
    assert create["operation"] == "POST /s2s/v2.0/task/sod"
    assert create["feature"] == "sod"
    assert create["task_id"] == task_id
    assert create["kind"] == "request"
    assert running["task_id"] == success["task_id"] == task_id
    assert running["detail"]["task_status"] == "running"
    assert success["detail"]["task_status"] == "success"


def test_storage_requests_carry_no_key(rig: Rig) -> None:
    rig.flow()
    upload = rig.control.journal(path_prefix="/_storage/uploads/")[0]
    assert upload["key"] is None


def test_an_entry_keeps_the_presented_key_and_the_error_code_of_a_refusal(rig: Rig) -> None:
    rig.get(CREDIT, key="not-a-key")
    rig.get(CREDIT, key=None)
    wrong, missing = rig.control.journal()
    assert (wrong["status"], wrong["key"], wrong["error_code"]) == (
        401,
        "not-a-key",
        "InvalidApiKey",
    )
    assert (missing["status"], missing["key"]) == (401, None)


def test_an_entry_is_stamped_with_the_emulator_clock(rig: Rig) -> None:
    before = rig.clock.now()
    rig.get(CREDIT)
    rig.clock.advance(90)
    rig.get(CREDIT)
    first, second = rig.control.journal()
    assert first["at"] == before
    assert second["at"] == before + 90


def test_an_entry_records_how_long_the_request_took(rig: Rig) -> None:
    rig.control.fail(match={"operation": "client_credit"}, action={"latency_ms": 30}, times=1)
    rig.get(CREDIT)  # real latency: a client's timeout is real time
    rig.get(CREDIT)
    slow, quick = rig.control.journal()
    assert slow["duration_ms"] >= 30
    assert quick["duration_ms"] >= 0


def test_an_entry_names_the_rule_that_fired(rig: Rig) -> None:
    rule = rig.control.fail(
        match={"operation": "client_credit"}, action={"http_error": "TooManyRequests"}, times=1
    )
    rig.get(CREDIT)
    rig.get(CREDIT)
    fired, untouched = rig.control.journal()
    assert (fired["status"], fired["rule"]) == (429, rule["rule_id"])
    assert (untouched["status"], untouched["rule"]) == (200, None)


def test_the_create_entry_names_a_task_rule_that_fired(rig: Rig) -> None:
    rule = rig.control.fail(match={"feature": "sod"}, action={"engine_error": "error_no_face"})
    files = [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": len(PHOTO)}]
    entry = rig.post("/s2s/v2.0/file", {"files": files}).get_json()["data"]["files"][0]
    put = entry["requests"][0]
    rig.client.put(put["url"], data=PHOTO, headers=put["headers"])
    rig.post("/s2s/v2.0/task/sod", {"src_file_id": entry["file_id"]})
    create = rig.control.journal(path_prefix="/s2s/v2.0/task/sod")[0]
    assert create["rule"] == rule["rule_id"]


def test_control_requests_are_not_journalled(rig: Rig) -> None:
    rig.get(CREDIT)
    rig.control.keys()
    rig.control.clock()
    rig.control.rules()
    assert paths(rig.control.journal()) == [CREDIT]


def test_reset_empties_the_journal(rig: Rig) -> None:
    rig.get(CREDIT)
    rig.control.reset(config={"api_keys": [DEFAULT_API_KEY, OTHER]})
    assert rig.control.journal() == []


# ---------------------------------------------------------------------- filters


@pytest.fixture
def busy(rig: Rig) -> Rig:
    """Two tenants' traffic over two minutes: flows, a refusal, a credit check."""
    rig.flow()  # t = 0: 6 entries
    rig.get(CREDIT, key="not-a-key")  # 401
    rig.clock.advance(60)
    rig.flow(OTHER)  # t = 60: 6 entries
    rig.clock.advance(60)
    rig.get(CREDIT, key=OTHER)  # t = 120
    return rig


def test_filter_by_key(busy: Rig) -> None:
    mine = busy.control.journal(key=DEFAULT_API_KEY)
    theirs = busy.control.journal(key=OTHER)
    assert len(mine) == 4  # storage requests carry no key
    assert len(theirs) == 5
    assert {e["key"] for e in mine} == {DEFAULT_API_KEY}


def test_filter_by_status(busy: Rig) -> None:
    refused = busy.control.journal(status=401)
    assert [(e["key"], e["path"]) for e in refused] == [("not-a-key", CREDIT)]
    assert len(busy.control.journal(status=200)) == 13


def test_filter_by_path_prefix(busy: Rig) -> None:
    polls = busy.control.journal(path_prefix="/s2s/v2.0/task/sod/")
    assert len(polls) == 4
    assert all(e["method"] == "GET" for e in polls)
    assert len(busy.control.journal(path_prefix="/_storage/")) == 4


def test_filter_by_feature(busy: Rig) -> None:
    sod = busy.control.journal(feature="sod")
    assert len(sod) == 6  # create + 2 polls, twice
    assert {e["feature"] for e in sod} == {"sod"}
    assert busy.control.journal(feature="skin-analysis") == []


def test_filter_by_time(busy: Rig) -> None:
    t0 = busy.control.journal()[0]["at"]
    assert len(busy.control.journal(since=t0 + 60)) == 7
    assert len(busy.control.journal(since=t0 + 61)) == 1
    assert len(busy.control.journal(until=t0)) == 7
    assert len(busy.control.journal(since=t0 + 60, until=t0 + 60)) == 6


def test_limit_keeps_the_latest_entries(busy: Rig) -> None:
    everything = busy.control.journal()
    assert busy.control.journal(limit=3) == everything[-3:]
    assert busy.control.journal(limit=500) == everything


def test_filters_combine(busy: Rig) -> None:
    t0 = busy.control.journal()[0]["at"]
    hits = busy.control.journal(key=OTHER, path_prefix="/s2s/v2.0/task/", since=t0 + 60, limit=2)
    assert [e["detail"].get("task_status") for e in hits] == ["running", "success"]


def test_filter_by_any_entry_field(busy: Rig) -> None:
    created = busy.control.journal(operation="POST /s2s/v2.0/task/sod")
    assert len(created) == 2
    task_id = created[1]["task_id"]
    assert len(busy.control.journal(task_id=task_id)) == 3
    assert len(busy.control.journal(error_code="InvalidApiKey")) == 1


def test_an_unknown_filter_is_refused(busy: Rig) -> None:
    with pytest.raises(ControlError) as refused:
        busy.control.journal(status_code=401)
    assert refused.value.status == 400


def test_a_malformed_filter_value_is_refused_with_invalid_parameters(busy: Rig) -> None:
    with pytest.raises(ControlError) as refused:
        busy.control.journal(status="teapot")
    assert refused.value.status == 400
    assert refused.value.body["error_code"] == "InvalidParameters"


# ---------------------------------------------------------------------- bounded


def entry(n: int) -> JournalEntry:
    return JournalEntry(seq=0, at=float(n), method="GET", path=f"/r/{n}", status=200)


def test_the_store_keeps_at_most_ten_thousand_entries_dropping_the_oldest() -> None:
    assert JOURNAL_LIMIT == 10_000
    store = InMemoryStore()
    for n in range(JOURNAL_LIMIT + 5):
        store.journal_append(entry(n))
    kept = store.journal()
    assert len(kept) == JOURNAL_LIMIT == store.stats()["journal"]
    assert (kept[0].seq, kept[0].path) == (6, "/r/5")
    assert (kept[-1].seq, kept[-1].path) == (JOURNAL_LIMIT + 5, f"/r/{JOURNAL_LIMIT + 4}")


def test_a_busy_emulator_keeps_only_the_latest_entries(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "JOURNAL_LIMIT", 5)
    rig.control.reset(config={"api_keys": [DEFAULT_API_KEY, OTHER]})  # a journal of 5
    for _ in range(3):
        rig.flow()  # 18 requests
    kept = rig.control.journal()
    assert len(kept) == 5
    assert [e["seq"] for e in kept] == list(range(14, 19))
    assert kept[-1]["path"].startswith("/_storage/results/")
    assert len(rig.control.journal(limit=10)) == 5
