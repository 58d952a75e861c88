"""Scripted faults (scenario rules), end to end: from the Python twin in-process, over plain
HTTP with curl against the CLI server, and the network-level actions (latency, connection
resets, malformed bodies) over real sockets.  Real waits here are short and bounded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from tests.support.flow import jpeg
from tests.support.oracle import validate
from youcam_mock.app import create_app
from youcam_mock.control import HttpControl, InProcessControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.server import ThreadedMockServer

KEY = DEFAULT_API_KEY
AUTH = {"Authorization": f"Bearer {KEY}"}
IMAGE = jpeg(64, 64)

#: "The next 3 polls of skin-analysis return 429, then the task fails with error_no_face."
SCENARIO = [
    {
        "match": {"feature": "skin-analysis", "operation": "task_poll"},
        "action": {"http_error": "TooManyRequests"},
        "times": 3,
    },
    {
        "match": {"feature": "skin-analysis", "operation": "task_create"},
        "action": {"engine_error": "error_no_face", "progression": {"running_polls": 0}},
        "times": 1,
    },
]
REGISTER = {
    "files": [{"content_type": "image/jpg", "file_name": "me.jpg", "file_size": len(IMAGE)}]
}
EXPECTED = [
    (200, {"status": 200, "data": {"task_id": "<task>"}}),
    (429, {"status": 429, "error": "Too many requests"}),
    (429, {"status": 429, "error": "Too many requests"}),
    (429, {"status": 429, "error": "Too many requests"}),
    (
        200,
        {
            "status": 200,
            "data": {
                "task_status": "error",
                "error": "error_no_face",
                "error_message": "No face was detected in the source image",
            },
        },
    ),
]
#: create, then five polls: the fifth repeats the outcome (a finished task stays finished).
SEQUENCE = [*EXPECTED, EXPECTED[-1]]


def _observed(status: int, body: Any) -> tuple[int, Any]:
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "task_id" in body["data"]:
        body = {**body, "data": {**body["data"], "task_id": "<task>"}}
    return status, body


def _rule_counters(rules: list[dict[str, Any]]) -> list[tuple[int, int, int | None]]:
    return [(r["seen"], r["fired"], r["remaining"]) for r in rules]


# ---------------------------------------------------------------------- the scenario, twice


def test_scenario_from_the_python_twin_in_process() -> None:
    app = create_app(clock=ManualClock())
    client, control = app.test_client(), InProcessControl(app)
    for rule in SCENARIO:
        control.add_rule(rule=rule)
    file_entry = client.post("/s2s/v2.0/file/skin-analysis", json=REGISTER, headers=AUTH).json
    assert file_entry is not None
    entry = file_entry["data"]["files"][0]
    put = entry["requests"][0]
    upload = client.put(
        put["url"].removeprefix("http://localhost"), data=IMAGE, headers=put["headers"]
    )
    assert upload.status_code == 200
    body = {"src_file_id": entry["file_id"], "dst_actions": ["wrinkle", "pore"], "format": "json"}
    created = client.post("/s2s/v2.0/task/skin-analysis", json=body, headers=AUTH)
    sequence = [_observed(created.status_code, created.json)]
    task_id = created.json["data"]["task_id"]  # type: ignore[index]
    for _ in range(5):
        polled = client.get(f"/s2s/v2.0/task/skin-analysis/{task_id}", headers=AUTH)
        sequence.append(_observed(polled.status_code, polled.json))
    assert sequence == SEQUENCE
    assert _rule_counters(control.rules()) == [(3, 3, 0), (1, 1, 0)]


@pytest.fixture(scope="module")
def live() -> Iterator[ThreadedMockServer]:
    app = create_app(MockConfig(), clock=ManualClock())
    with ThreadedMockServer(app) as server:
        yield server


@pytest.fixture
def fresh(live: ThreadedMockServer) -> ThreadedMockServer:
    HttpControl(live.url).reset()
    return live


@pytest.fixture(scope="module")
def cli() -> Iterator[str]:
    """``youcam-mock serve`` in its own process: no in-process hook sees its responses, so a
    deliberately malformed body reaches the client as is (validated client-side otherwise)."""
    command = [sys.executable, "-m", "youcam_mock", "serve", "--port", "0", "--rate-limit", "off"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    base_url = ""
    for _ in range(20):
        line = process.stdout.readline()
        if line.startswith("youcam-mock serving on "):
            base_url = line.split()[-1]
        if line.startswith("ready in") or not line:
            break
    try:
        assert base_url, "the CLI printed no base URL"
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def curl(*args: str) -> tuple[int, Any]:
    """curl -s ... ; the status from ``-w``; the body parsed as JSON when it is JSON.  The
    server is another process, so each answer is checked against the contract here."""
    write_out = "\n%{content_type}\n%{http_code}\n%{url_effective}"
    done = subprocess.run(
        ["curl", "-s", "--noproxy", "*", "--max-time", "10", "-w", write_out, *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    body, content_type, status, url = done.stdout.rsplit("\n", 3)
    method = args[args.index("-X") + 1] if "-X" in args else ("POST" if "-d" in args else "GET")
    path = urlsplit(url).path
    violations = validate(method, path, int(status), body.encode(), content_type)
    assert not violations, "\n".join(map(str, violations))
    try:
        return int(status), json.loads(body) if body else None
    except ValueError:
        return int(status), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_same_scenario_over_plain_http_with_curl(cli: str, tmp_path: Path) -> None:
    """Against the CLI server: rules by curl -X POST /_mock/rules, the vendor flow by curl."""
    base = cli
    curl("-X", "POST", f"{base}/_mock/reset")
    json_header = ("-H", "Content-Type: application/json")
    auth = ("-H", f"Authorization: Bearer {KEY}")
    for rule in SCENARIO:
        status, created = curl(
            "-X", "POST", f"{base}/_mock/rules", *json_header, "-d", json.dumps(rule)
        )
        assert status == 200, created
    status, registered = curl(
        f"{base}/s2s/v2.0/file/skin-analysis", *auth, *json_header, "-d", json.dumps(REGISTER)
    )
    assert status == 200, registered
    entry = registered["data"]["files"][0]
    put = entry["requests"][0]
    selfie = tmp_path / "me.jpg"
    selfie.write_bytes(IMAGE)
    headers = [h for name, value in put["headers"].items() for h in ("-H", f"{name}: {value}")]
    status, _ = curl("-X", "PUT", put["url"], *headers, "--data-binary", f"@{selfie}")
    assert status == 200
    body = {"src_file_id": entry["file_id"], "dst_actions": ["wrinkle", "pore"], "format": "json"}
    status, created = curl(
        f"{base}/s2s/v2.0/task/skin-analysis", *auth, *json_header, "-d", json.dumps(body)
    )
    sequence = [_observed(status, created)]
    task_id = created["data"]["task_id"]
    for _ in range(5):
        sequence.append(_observed(*curl(f"{base}/s2s/v2.0/task/skin-analysis/{task_id}", *auth)))
    assert sequence == SEQUENCE  # the same observable sequence as from the Python twin
    status, rules = curl(f"{base}/_mock/rules")
    assert status == 200 and _rule_counters(rules) == [(3, 3, 0), (1, 1, 0)]


# ---------------------------------------------------------------------- network-level actions


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy between the test and 127.0.0.1
        session.headers.update(AUTH)
        yield session


def test_added_latency_never_blocks_other_requests(
    fresh: ThreadedMockServer, http: requests.Session
) -> None:
    HttpControl(fresh.url).fail(
        match={"path": "/s2s/v1.0/client/credit"}, action={"latency_ms": 800}, times=1
    )
    slow: dict[str, float] = {}

    def call_slow() -> None:
        started = time.perf_counter()
        response = requests.get(f"{fresh.url}/s2s/v1.0/client/credit", headers=AUTH, timeout=10)
        slow["status"] = response.status_code
        slow["elapsed"] = time.perf_counter() - started
        slow["done"] = time.perf_counter()

    worker = threading.Thread(target=call_slow)
    worker.start()
    time.sleep(0.1)  # the slow request is now inside its 800 ms
    started = time.perf_counter()
    fast = http.get(f"{fresh.url}/s2s/v2.0/credit/feature-cost", timeout=10)
    fast_done = time.perf_counter()
    worker.join(timeout=10)
    assert fast.status_code == 200
    assert fast_done - started < 0.4, "a request to another endpoint waited on the latency"
    assert slow["status"] == 200 and slow["elapsed"] >= 0.8
    assert fast_done < slow["done"]


# Flask still finalises the dropped request internally (a 500 that never reaches the
# client, since the socket is already shut): the in-process hook sees it, the client does not.
@pytest.mark.nonconforming_ok
def test_reset_connection_over_a_real_socket(
    fresh: ThreadedMockServer, http: requests.Session
) -> None:
    HttpControl(fresh.url).fail(
        match={"path": "/s2s/v1.0/client/credit"}, action={"reset_connection": True}, times=1
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{fresh.url}/s2s/v1.0/client/credit", timeout=5)


@pytest.mark.nonconforming_ok  # see above
def test_the_server_keeps_serving_after_a_reset(
    fresh: ThreadedMockServer, http: requests.Session
) -> None:
    HttpControl(fresh.url).fail(
        match={"path": "/s2s/v1.0/client/credit"}, action={"reset_connection": True}, times=1
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{fresh.url}/s2s/v1.0/client/credit", timeout=5)
    again = http.get(f"{fresh.url}/s2s/v1.0/client/credit", timeout=5)
    assert again.status_code == 200 and again.json()["status"] == 200
    other = requests.get(f"{fresh.url}/s2s/v2.0/credit/feature-cost", headers=AUTH, timeout=5)
    assert other.status_code == 200


def test_malformed_body_is_a_200_that_does_not_parse(cli: str, http: requests.Session) -> None:
    control = HttpControl(cli)
    control.reset()
    control.fail(match={"operation": "client_credit"}, action={"malformed_body": True}, times=1)
    broken = http.get(f"{cli}/s2s/v1.0/client/credit", timeout=5)
    assert broken.status_code == 200
    assert broken.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(broken.content)
    healthy = http.get(f"{cli}/s2s/v1.0/client/credit", timeout=5)
    assert healthy.status_code == 200 and healthy.json()["status"] == 200


# ---------------------------------------------------------------------- progression, times, after


class Tasks:
    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.control = InProcessControl(app)

    def create(self, feature: str = "sod") -> str:
        body = {"src_file_id": self.upload()}
        reply = self.client.post(f"/s2s/v2.0/task/{feature}", json=body, headers=AUTH)
        assert reply.status_code == 200, reply.json
        return str(reply.json["data"]["task_id"])  # type: ignore[index]

    def upload(self) -> str:
        reply = self.client.post("/s2s/v2.0/file/sod", json=REGISTER, headers=AUTH)
        entry = reply.json["data"]["files"][0]  # type: ignore[index]
        put = entry["requests"][0]
        self.client.put(
            put["url"].removeprefix("http://localhost"), data=IMAGE, headers=put["headers"]
        )
        return str(entry["file_id"])

    def statuses(self, task_id: str, polls: int, feature: str = "sod") -> list[str]:
        out = []
        for _ in range(polls):
            reply = self.client.get(f"/s2s/v2.0/task/{feature}/{task_id}", headers=AUTH)
            assert reply.status_code == 200, reply.json
            out.append(reply.json["data"]["task_status"])  # type: ignore[index]
        return out


@pytest.fixture
def tasks() -> Tasks:
    return Tasks(create_app(clock=ManualClock()))


def test_a_slow_task_by_rule(tasks: Tasks) -> None:
    tasks.control.fail(
        match={"feature": "sod", "operation": "task_create"},
        action={"progression": {"running_polls": 4}},
        times=1,
    )
    slow, normal = tasks.create(), tasks.create()
    assert tasks.statuses(slow, 6) == ["running"] * 4 + ["success"] * 2
    assert tasks.statuses(normal, 2) == ["running", "success"]


def test_a_stuck_task_by_rule_and_one_that_finishes_by_clock_time(tasks: Tasks) -> None:
    tasks.control.fail(
        match={"operation": "task_create"},
        action={"progression": {"running_polls": None}},
        times=1,
    )
    tasks.control.fail(
        match={"operation": "task_create", "after": 1},
        action={"progression": {"running_polls": None, "seconds": 30}},
        times=1,
    )
    stuck, timed = tasks.create(), tasks.create()
    assert tasks.statuses(stuck, 8) == ["running"] * 8
    assert tasks.statuses(timed, 3) == ["running"] * 3
    tasks.control.advance(seconds=30)
    assert tasks.statuses(timed, 1) == ["success"]
    assert tasks.statuses(stuck, 2) == ["running"] * 2
    tasks.control.advance(seconds=12 * 3600)  # still running hours later
    assert tasks.statuses(stuck, 1) == ["running"]


def test_a_rule_message_replaces_the_error_text(tasks: Tasks) -> None:
    tasks.control.fail(
        match={"feature": "sod"},
        action={"engine_error": "error_pose", "message": "scripted: no pose"},
        times=1,
    )
    task_id = tasks.create()
    tasks.statuses(task_id, 1)
    reply = tasks.client.get(f"/s2s/v2.0/task/sod/{task_id}", headers=AUTH)
    assert reply.json["data"] == {  # type: ignore[index]
        "task_status": "error",
        "error": "error_pose",
        "error_message": "scripted: no pose",
    }


def test_times_and_after(tasks: Tasks) -> None:
    rule = tasks.control.fail(
        match={"operation": "client_credit", "after": 2},
        action={"http_error": "TooManyRequests"},
        times=2,
    )
    assert rule["remaining"] == 2
    statuses = [
        tasks.client.get("/s2s/v1.0/client/credit", headers=AUTH).status_code for _ in range(6)
    ]
    assert statuses == [200, 200, 429, 429, 200, 200]
    (state,) = tasks.control.rules()
    assert (state["seen"], state["fired"], state["remaining"]) == (4, 2, 0)
    # Only matching requests count towards ``after`` and ``times``.
    tasks.client.get("/s2s/v2.0/credit/feature-cost", headers=AUTH)
    assert tasks.control.rules()[0]["seen"] == 4


def _draws(seed: int) -> list[int]:
    app = create_app(clock=ManualClock())
    InProcessControl(app).fail(
        match={"operation": "client_credit"},
        action={"http_error": "TooManyRequests"},
        probability=0.5,
        seed=seed,
    )
    client = app.test_client()
    return [client.get("/s2s/v1.0/client/credit", headers=AUTH).status_code for _ in range(24)]


def test_a_seeded_probability_fires_identically_on_two_fresh_emulators() -> None:
    first, second = _draws(42), _draws(42)
    assert first == second
    assert set(first) == {200, 429}  # it really is a coin, not always or never
    assert _draws(43) != first  # and the seed decides it
