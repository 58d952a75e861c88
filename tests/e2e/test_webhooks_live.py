"""Task-completion webhooks over real sockets: a receiver thread on 127.0.0.1, endpoints
registered through the control API, ``MockConfig(webhooks=...)`` and the CLI's ``--webhook``;
every delivery verified by the Standard Webhooks library and by recomputing the HMAC by hand.

The library checks ``webhook-timestamp`` against real time, so the emulators here use a clock
near real time (``ManualClock(start=time.time())``, or the CLI's system clock).  Waits are
bounded: a condition with a timeout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from tests.support.flow import jpeg
from youcam_mock.app import create_app
from youcam_mock.control import ControlError, HttpControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.server import ThreadedMockServer

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
IMAGE = jpeg(64, 64)
WAIT_S = 10.0


# ---------------------------------------------------------------------- the receiver


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # real time it arrived


class Receiver:
    """A tiny HTTP server thread that records every POST and answers the scripted statuses."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int] = []  # statuses to answer first; then 200
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Received]:
        with self._cond:
            arrived = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} of {count} deliveries after {timeout}s"
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    yield hooks
    hooks.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=time.time())


@pytest.fixture
def live(clock: ManualClock) -> Iterator[ThreadedMockServer]:
    with ThreadedMockServer(create_app(MockConfig(), clock=clock)) as server:
        yield server


def by_hand(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Standard Webhooks, recomputed: v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret: str, delivery: Received) -> dict[str, Any]:
    """Both checks; the vendor's body shape, exactly; returns the body."""
    payload = Webhook(secret).verify(delivery.body, delivery.headers)
    assert delivery.headers["webhook-signature"] == by_hand(secret, delivery.headers, delivery.body)
    assert delivery.headers["content-type"] == "application/json"
    assert set(payload) == {"created_at", "data"}
    assert isinstance(payload["created_at"], int)
    assert set(payload["data"]) == {"task_id", "task_status"}
    assert json.loads(delivery.body) == payload
    return dict(payload)


def wait_until(probe: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """The first truthy value of ``probe``, polled every 20 ms for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s")


# ---------------------------------------------------------------------- driving tasks


def run_task(base: str, file_name: str = "selfie.jpg", feature: str = "sod") -> tuple[str, str]:
    """The vendor flow with requests; (task_id, final task_status)."""
    with requests.Session() as http:
        http.trust_env = False
        http.headers.update(AUTH)
        files = [{"content_type": "image/jpg", "file_name": file_name, "file_size": len(IMAGE)}]
        reply = http.post(f"{base}/s2s/v2.0/file/{feature}", json={"files": files}, timeout=10)
        entry = reply.json()["data"]["files"][0]
        put = entry["requests"][0]
        stored = requests.put(put["url"], data=IMAGE, headers=put["headers"], timeout=10)
        assert stored.status_code == 200
        created = http.post(
            f"{base}/s2s/v2.0/task/{feature}", json={"src_file_id": entry["file_id"]}, timeout=10
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["data"]["task_id"]
        for _ in range(5):
            polled = http.get(f"{base}/s2s/v2.0/task/{feature}/{task_id}", timeout=10).json()
            if polled["data"]["task_status"] != "running":
                return task_id, polled["data"]["task_status"]
    raise AssertionError("the task did not finish")


# ---------------------------------------------------------------------- tests


def settled(control: HttpControl) -> None:
    """The receiver answers before the dispatcher books the result: wait (bounded) until
    every delivery is booked as delivered (the callers expect exactly that)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        d["status"] != "delivered" for d in control.deliveries()
    ):
        time.sleep(0.02)


def test_a_success_and_an_error_delivered_and_signed(
    live: ThreadedMockServer, receiver: Receiver, clock: ManualClock
) -> None:
    control = HttpControl(live.url)
    endpoint = control.add_webhook(url=receiver.url)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    assert control.webhooks()[0]["secret"] != secret  # listings mask it
    ok_task, ok_status = run_task(live.url)
    bad_task, bad_status = run_task(live.url, file_name="trigger_error_no_face.jpg")
    assert (ok_status, bad_status) == ("success", "error")
    deliveries = receiver.wait_for(2)
    payloads = {}
    for delivery in deliveries:
        payload = verify(secret, delivery)
        assert abs(payload["created_at"] - clock.now()) < 5
        assert abs(int(delivery.headers["webhook-timestamp"]) - clock.now()) < 5
        payloads[payload["data"]["task_id"]] = payload["data"]["task_status"]
    assert payloads == {ok_task: "success", bad_task: "error"}
    assert len({d.headers["webhook-id"] for d in deliveries}) == 2
    # Recorded: deliveries() and the journal (kind "webhook").
    settled(control)
    recorded = {d["task_id"]: d for d in control.deliveries()}
    assert set(recorded) == {ok_task, bad_task}
    for delivery in recorded.values():
        assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
            "delivered",
            1,
            200,
        )
        assert delivery["endpoint_id"] == endpoint["endpoint_id"]
    journal = control.journal(kind="webhook")
    assert {e["task_id"] for e in journal} == {ok_task, bad_task}
    assert all(e["path"] == receiver.url and e["status"] == 200 for e in journal)
    assert {e["detail"]["webhook_id"] for e in journal} == {
        d.headers["webhook-id"] for d in deliveries
    }


def test_a_failed_delivery_is_retried_with_the_same_webhook_id_after_the_backoff(
    live: ThreadedMockServer, receiver: Receiver, clock: ManualClock
) -> None:
    control = HttpControl(live.url)
    secret = control.add_webhook(url=receiver.url)["secret"]
    receiver.script = [500]
    task_id, _ = run_task(live.url)
    (first,) = receiver.wait_for(1)
    verify(secret, first)
    (pending,) = wait_until(lambda: [d for d in control.deliveries() if d["last_status"]])
    assert (pending["status"], pending["attempts"], pending["last_status"]) == ("pending", 1, 500)
    assert pending["next_attempt_at"] > clock.now()
    time.sleep(0.3)  # the ticker runs every 50 ms: nothing is due until the clock moves
    assert len(receiver.received) == 1
    control.advance(seconds=pending["next_attempt_at"] - clock.now() + 1)
    first, second = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == pending["webhook_id"]
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert verify(secret, second) == verify(secret, first)  # same body, fresh signature
    settled(control)
    (done,) = control.deliveries()
    assert (done["status"], done["attempts"], done["last_status"]) == ("delivered", 2, 200)
    journal = control.journal(kind="webhook")
    assert [(e["status"], e["detail"]["attempt"]) for e in journal] == [(500, 1), (200, 2)]
    assert {e["detail"]["webhook_id"] for e in journal} == {pending["webhook_id"]}
    assert {e["task_id"] for e in journal} == {task_id}


def test_at_most_ten_endpoints(live: ThreadedMockServer, receiver: Receiver) -> None:
    control = HttpControl(live.url)
    for index in range(10):
        control.add_webhook(url=f"{receiver.url}/{index}")
    with pytest.raises(ControlError) as refused:
        control.add_webhook(url=f"{receiver.url}/10")
    assert refused.value.status == 400
    assert refused.value.body["error_code"] == "InvalidParameters"
    raw = requests.post(f"{live.url}/_mock/webhooks", json={"url": receiver.url}, timeout=10)
    assert raw.status_code == 400 and raw.json()["error_code"] == "InvalidParameters"
    assert len(control.webhooks()) == 10


def test_endpoints_from_the_config(receiver: Receiver) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmnopqrstuv").decode()
    config = MockConfig(webhooks=({"url": receiver.url, "secret": secret},))
    app = create_app(config, clock=ManualClock(start=time.time()))
    with ThreadedMockServer(app) as server:
        task_id, status = run_task(server.url)
        (delivery,) = receiver.wait_for(1)
    assert verify(secret, delivery)["data"] == {"task_id": task_id, "task_status": status}


def test_config_endpoints_survive_a_reset(receiver: Receiver) -> None:
    secret = "whsec_" + base64.b64encode(b"vutsrqponmlkjihgfedcba9876543210").decode()
    config = MockConfig(webhooks=({"url": receiver.url, "secret": secret},))
    app = create_app(config, clock=ManualClock(start=time.time()))
    with ThreadedMockServer(app) as server:
        HttpControl(server.url).reset()
        assert [e["url"] for e in HttpControl(server.url).webhooks()] == [receiver.url]
        task_id, _ = run_task(server.url)
        (delivery,) = receiver.wait_for(1)
    assert verify(secret, delivery)["data"]["task_id"] == task_id


def test_the_cli_webhook_flag(receiver: Receiver) -> None:
    command = [sys.executable, "-m", "youcam_mock", "serve", "--port", "0"]
    command += ["--rate-limit", "off", "--webhook", receiver.url]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    try:
        base_url, secret = "", ""
        for _ in range(20):
            line = process.stdout.readline()
            if line.startswith("youcam-mock serving on "):
                base_url = line.split()[-1]
            if line.startswith(f"webhook: {receiver.url} secret "):
                secret = line.split()[-1]
            if line.startswith("ready in") or not line:
                break
        assert base_url and secret.startswith("whsec_")
        task_id, status = run_task(base_url)
        (delivery,) = receiver.wait_for(1)
        assert verify(secret, delivery)["data"] == {"task_id": task_id, "task_status": status}
    finally:
        process.terminate()
        process.wait(timeout=10)
