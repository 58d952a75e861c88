"""Task-completion webhooks: payload, Standard Webhooks signing, retries by the injected clock,
the endpoint limit, key filters, the journal, the worker thread and a real HTTP delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from youcam_mock.core.clock import ManualClock
from youcam_mock.core.errors import ApiError
from youcam_mock.core.ids import IdFactory
from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.models import Task, TaskStatus
from youcam_mock.core.store import InMemoryStore
from youcam_mock.core.webhooks import (
    Delivery,
    WebhookDispatcher,
    WebhookEndpoint,
    default_sender,
)

T0 = ManualClock.DEFAULT_START
SECRET = "whsec_" + base64.b64encode(bytes(range(24))).decode()


@dataclass
class Call:
    url: str
    headers: dict[str, str]
    body: bytes
    timeout_s: float
    at: float


@dataclass
class FakeSender:
    """Records every POST; answers from a script (an int status or an exception), then 200."""

    clock: ManualClock
    script: list[int | Exception] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    sent: threading.Event = field(default_factory=threading.Event)

    def __call__(self, url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
        self.calls.append(Call(url, dict(headers), body, timeout_s, self.clock.now()))
        self.sent.set()
        outcome = self.script.pop(0) if self.script else 200
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass
class Rig:
    clock: ManualClock
    sender: FakeSender
    journal: list[JournalEntry]
    hooks: WebhookDispatcher


def make_rig(
    start: float = T0, max_attempts: int = 5, backoff: tuple[float, ...] = (5, 30, 120, 600)
) -> Rig:
    clock = ManualClock(start=start)
    sender = FakeSender(clock)
    journal: list[JournalEntry] = []
    hooks = WebhookDispatcher(
        clock,
        IdFactory(7),
        sender,
        journal.append,
        InMemoryStore(),
        max_attempts=max_attempts,
        backoff=backoff,
    )
    return Rig(clock, sender, journal, hooks)


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = make_rig()
    yield made
    made.hooks.stop()


def finished(
    task_id: str = "t" * 64,
    status: TaskStatus = TaskStatus.SUCCESS,
    owner: str = "key-a",
    finished_at: float = T0 - 12.75,
) -> Task:
    return Task(
        task_id=task_id,
        owner=owner,
        feature="sod",
        version="v2.0",
        created_at=finished_at - 3,
        request={},
        status=status,
        finished_at=finished_at,
    )


def hmac_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The spec by hand: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", key = the secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# -- payload, headers, signature ------------------------------------------------------------


def test_the_body_is_the_vendors_minified_json_with_the_finish_time(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a", secret=SECRET)
    rig.hooks.task_finished(finished(task_id="ok-task"))
    rig.hooks.task_finished(finished(task_id="bad-task", status=TaskStatus.ERROR))
    assert rig.hooks.run_due() == 2
    bodies = [c.body for c in rig.sender.calls]
    created = int(T0 - 12.75)
    assert bodies == [
        b'{"created_at":%d,"data":{"task_id":"ok-task","task_status":"success"}}' % created,
        b'{"created_at":%d,"data":{"task_id":"bad-task","task_status":"error"}}' % created,
    ]
    parsed = json.loads(bodies[0])
    assert isinstance(parsed["created_at"], int)
    assert list(parsed) == ["created_at", "data"]


def test_the_headers_are_the_standard_webhooks_set(rig: Rig) -> None:
    rig.clock.advance(0.9)  # the timestamp is whole seconds of this attempt's clock time
    rig.hooks.register("https://hooks.example/a", secret=SECRET)
    (delivery,) = rig.hooks.task_finished(finished())
    rig.hooks.run_due()
    (call,) = rig.sender.calls
    assert call.url == "https://hooks.example/a"
    assert call.timeout_s == 5.0
    assert set(call.headers) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Content-Type",
    }
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["webhook-id"] == delivery.delivery_id
    assert delivery.delivery_id.startswith("msg_")
    assert call.headers["webhook-timestamp"] == str(int(T0))
    assert call.headers["webhook-signature"].startswith("v1,")


def test_the_signature_matches_the_spec_computed_by_hand(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a", secret=SECRET)
    rig.hooks.task_finished(finished())
    rig.hooks.run_due()
    (call,) = rig.sender.calls
    assert call.headers["webhook-signature"] == hmac_signature(SECRET, call.headers, call.body)
    wrong = "whsec_" + base64.b64encode(bytes(24)).decode()
    assert call.headers["webhook-signature"] != hmac_signature(wrong, call.headers, call.body)


def test_the_signature_verifies_with_the_standard_webhooks_library() -> None:
    made = make_rig(start=time.time())  # verify() checks the timestamp against real time
    endpoint = made.hooks.register("https://hooks.example/a")  # a generated secret
    made.hooks.task_finished(finished(task_id="verified"))
    made.hooks.run_due()
    (call,) = made.sender.calls
    payload = Webhook(endpoint.secret).verify(call.body, call.headers)
    assert payload["data"] == {"task_id": "verified", "task_status": "success"}
    assert call.headers["webhook-signature"] == hmac_signature(
        endpoint.secret, call.headers, call.body
    )
    tampered = call.body.replace(b"success", b"error!!")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, call.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(call.body, call.headers)


def test_the_library_rejects_a_clock_far_from_real_time_which_is_why_the_hmac_is_checked(
    rig: Rig,
) -> None:
    """The manual clock's 2026 epoch is outside verify()'s tolerance: signing used the clock."""
    rig.clock.set(time.time() + 3600)
    rig.hooks.register("https://hooks.example/a", secret=SECRET)
    rig.hooks.task_finished(finished())
    rig.hooks.run_due()
    (call,) = rig.sender.calls
    assert call.headers["webhook-timestamp"] == str(int(rig.clock.now()))
    with pytest.raises(WebhookVerificationError, match="too new"):
        Webhook(SECRET).verify(call.body, call.headers)
    assert call.headers["webhook-signature"] == hmac_signature(SECRET, call.headers, call.body)


# -- queueing and retries -------------------------------------------------------------------


def test_task_finished_queues_without_sending(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.register("https://hooks.example/b")
    queued = rig.hooks.task_finished(finished())
    assert [d.status for d in queued] == ["pending", "pending"]
    assert all(d.attempts == 0 and d.next_attempt_at == T0 for d in queued)
    assert len({d.delivery_id for d in queued}) == 2
    assert rig.sender.calls == []
    assert rig.journal == []
    assert rig.hooks.next_due() == T0


def test_a_task_is_queued_once_per_endpoint_and_only_when_terminal(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    assert rig.hooks.task_finished(finished(status=TaskStatus.RUNNING)) == []
    assert len(rig.hooks.task_finished(finished())) == 1
    assert rig.hooks.task_finished(finished()) == []
    assert len(rig.hooks.deliveries()) == 1


def test_no_endpoints_means_no_deliveries(rig: Rig) -> None:
    assert rig.hooks.task_finished(finished()) == []
    assert rig.hooks.run_due() == 0
    assert rig.hooks.next_due() is None


def test_webhook_id_is_stable_across_retries_while_the_timestamp_follows_the_clock(
    rig: Rig,
) -> None:
    rig.sender.script = [503, 500, 204]
    rig.hooks.register("https://hooks.example/a", secret=SECRET)
    rig.hooks.task_finished(finished())
    for wait in (0, 5, 30):
        rig.clock.advance(wait)
        assert rig.hooks.run_due() == 1
    ids = {c.headers["webhook-id"] for c in rig.sender.calls}
    stamps = [c.headers["webhook-timestamp"] for c in rig.sender.calls]
    assert len(ids) == 1
    assert stamps == [str(int(T0)), str(int(T0 + 5)), str(int(T0 + 35))]
    assert len({c.headers["webhook-signature"] for c in rig.sender.calls}) == 3
    for call in rig.sender.calls:
        assert call.body == rig.sender.calls[0].body
        assert call.headers["webhook-signature"] == hmac_signature(SECRET, call.headers, call.body)
    (delivery,) = rig.hooks.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 204)
    assert delivery.last_error is None


def test_a_retry_waits_until_the_clock_has_advanced_by_the_backoff(rig: Rig) -> None:
    rig.sender.script = [500, 500]
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    assert rig.hooks.run_due() == 1
    assert rig.hooks.run_due() == 0  # failed just now: not due again yet
    assert rig.hooks.next_due() == T0 + 5
    rig.clock.advance(4.9)
    assert rig.hooks.run_due() == 0
    rig.clock.advance(0.1)
    assert rig.hooks.run_due() == 1
    assert rig.hooks.next_due() == T0 + 5 + 30
    rig.clock.advance(29)
    assert rig.hooks.run_due() == 0
    rig.clock.advance(1)
    assert rig.hooks.run_due() == 1
    assert rig.hooks.next_due() is None
    assert [c.at for c in rig.sender.calls] == [T0, T0 + 5, T0 + 35]
    assert rig.hooks.deliveries()[0].status == "delivered"


def test_it_gives_up_after_max_attempts_and_the_last_backoff_repeats() -> None:
    made = make_rig(max_attempts=4, backoff=(5, 30))
    made.sender.script = [500, 502, OSError("connection refused"), 429]
    made.hooks.register("https://hooks.example/a")
    made.hooks.task_finished(finished())
    while (due := made.hooks.next_due()) is not None:
        made.clock.set(due)
        assert made.hooks.run_due() == 1
    assert [c.at - T0 for c in made.sender.calls] == [0, 5, 35, 65]
    (delivery,) = made.hooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert (delivery.last_status, delivery.last_error) == (429, "HTTP 429")
    made.clock.advance(86_400)
    assert made.hooks.run_due() == 0
    assert len(made.sender.calls) == 4


def test_a_connection_failure_is_status_0_and_is_retried(rig: Rig) -> None:
    rig.sender.script = [ConnectionRefusedError("refused")]
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    rig.hooks.run_due()
    (delivery,) = rig.hooks.deliveries()
    assert delivery.status == "pending"
    assert delivery.last_status is None
    assert delivery.last_error == "ConnectionRefusedError: refused"
    assert rig.journal[-1].status == 0
    rig.clock.advance(5)
    assert rig.hooks.run_due() == 1
    assert rig.hooks.deliveries()[0].status == "delivered"


def test_a_non_2xx_answer_is_a_failure_and_any_2xx_a_success(rig: Rig) -> None:
    rig.sender.script = [302, 202]
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    rig.hooks.run_due()
    assert rig.hooks.deliveries()[0].status == "pending"
    rig.clock.advance(5)
    rig.hooks.run_due()
    assert rig.hooks.deliveries()[0].status == "delivered"


def test_every_attempt_is_journalled_as_a_webhook_entry(rig: Rig) -> None:
    rig.sender.script = [500, OSError("reset")]
    endpoint = rig.hooks.register("https://hooks.example/a")
    (delivery,) = rig.hooks.task_finished(finished(task_id="jt"))
    for wait in (0, 5, 30):
        rig.clock.advance(wait)
        rig.hooks.run_due()
    assert [(e.kind, e.method, e.path, e.status, e.task_id) for e in rig.journal] == [
        ("webhook", "POST", "https://hooks.example/a", 500, "jt"),
        ("webhook", "POST", "https://hooks.example/a", 0, "jt"),
        ("webhook", "POST", "https://hooks.example/a", 200, "jt"),
    ]
    assert [e.at for e in rig.journal] == [T0, T0 + 5, T0 + 35]
    assert [e.detail for e in rig.journal] == [
        {
            "webhook_id": delivery.delivery_id,
            "attempt": n,
            "endpoint_id": endpoint.endpoint_id,
            "error": error,
        }
        for n, error in ((1, "HTTP 500"), (2, "OSError: reset"), (3, None))
    ]


def test_each_matching_endpoint_gets_its_own_delivery_and_signature(rig: Rig) -> None:
    a = rig.hooks.register("https://hooks.example/a")
    b = rig.hooks.register("https://hooks.example/b")
    assert a.secret != b.secret
    rig.hooks.task_finished(finished())
    assert rig.hooks.run_due() == 2
    by_url = {c.url: c for c in rig.sender.calls}
    for endpoint in (a, b):
        call = by_url[endpoint.url]
        assert call.headers["webhook-signature"] == hmac_signature(
            endpoint.secret, call.headers, call.body
        )
    assert by_url[a.url].headers["webhook-id"] != by_url[b.url].headers["webhook-id"]


# -- endpoints ------------------------------------------------------------------------------


def test_an_eleventh_endpoint_is_refused(rig: Rig) -> None:
    made = [rig.hooks.register(f"https://hooks.example/{n}") for n in range(10)]
    assert len({e.endpoint_id for e in made}) == 10
    with pytest.raises(ApiError) as caught:
        rig.hooks.register("https://hooks.example/11")
    assert caught.value.code == "InvalidParameters"
    assert caught.value.status == 400
    assert len(rig.hooks.endpoints()) == WebhookDispatcher.MAX_ENDPOINTS == 10
    rig.hooks.remove(made[0].endpoint_id)
    rig.hooks.register("https://hooks.example/11")  # a freed slot can be reused


def test_removing_an_unknown_endpoint_is_invalid_parameters(rig: Rig) -> None:
    with pytest.raises(ApiError) as caught:
        rig.hooks.remove("ep_nope")
    assert caught.value.code == "InvalidParameters"


def test_removing_an_endpoint_cancels_its_pending_deliveries(rig: Rig) -> None:
    endpoint = rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    rig.hooks.remove(endpoint.endpoint_id)
    assert rig.hooks.run_due() == 0
    assert rig.sender.calls == []
    (delivery,) = rig.hooks.deliveries()
    assert (delivery.status, delivery.last_error) == ("failed", "endpoint removed")
    assert rig.hooks.next_due() is None


def test_the_keys_filter_limits_deliveries_to_those_api_keys(rig: Rig) -> None:
    everyone = rig.hooks.register("https://hooks.example/all")
    only_a = rig.hooks.register("https://hooks.example/a", keys=["key-a"])
    a_or_b = rig.hooks.register("https://hooks.example/ab", keys=("key-a", "key-b"))
    single = rig.hooks.register("https://hooks.example/b", keys="key-b")
    assert single.keys == ("key-b",)  # a bare string is one key, not its characters

    def targets(owner: str) -> set[str]:
        return {d.endpoint_id for d in rig.hooks.task_finished(finished(f"t-{owner}", owner=owner))}

    assert targets("key-a") == {everyone.endpoint_id, only_a.endpoint_id, a_or_b.endpoint_id}
    assert targets("key-b") == {everyone.endpoint_id, a_or_b.endpoint_id, single.endpoint_id}
    assert targets("key-c") == {everyone.endpoint_id}


def test_a_generated_secret_is_whsec_base64_of_24_seeded_bytes() -> None:
    first = make_rig().hooks.register("https://hooks.example/a")
    again = make_rig().hooks.register("https://hooks.example/a")
    assert first.secret == again.secret  # seeded: the same run after run
    assert first.endpoint_id == again.endpoint_id
    assert first.secret.startswith("whsec_")
    assert len(base64.b64decode(first.secret[6:], validate=True)) == 24
    assert first.created_at == T0
    assert first.keys == ()


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(bytes(8)).decode(),  # too short a key
        "whsec_" + base64.b64encode(bytes(65)).decode(),  # too long a key
        "whsec_" + base64.urlsafe_b64encode(b"\xfb" * 24).decode(),  # URL-safe alphabet
    ],
)
def test_a_malformed_secret_is_refused(rig: Rig, secret: str) -> None:
    with pytest.raises(ApiError) as caught:
        rig.hooks.register("https://hooks.example/a", secret=secret)
    assert caught.value.code == "InvalidParameters"
    assert rig.hooks.endpoints() == []


def test_a_well_formed_secret_is_kept_even_unpadded(rig: Rig) -> None:
    unpadded = "whsec_" + base64.b64encode(bytes(range(32))).decode().rstrip("=")
    endpoint = rig.hooks.register("https://hooks.example/a", secret=unpadded)
    assert endpoint.secret == unpadded
    assert rig.hooks.register("https://hooks.example/b", secret=SECRET).secret == SECRET


@pytest.mark.parametrize(
    "url", ["", "hooks.example/a", "ftp://hooks.example/a", "file:///etc/passwd", "http://"]
)
def test_an_endpoint_url_must_be_absolute_http(rig: Rig, url: str) -> None:
    with pytest.raises(ApiError):
        rig.hooks.register(url)


def test_to_dict_masks_the_secret_unless_revealed(rig: Rig) -> None:
    endpoint = rig.hooks.register("https://hooks.example/a", secret=SECRET, keys=["k"])
    shown = endpoint.to_dict()
    assert shown["secret"] != SECRET
    assert shown["secret"].startswith("whsec_")
    assert SECRET[6:-4] not in shown["secret"]
    assert {k: v for k, v in shown.items() if k != "secret"} == {
        "endpoint_id": endpoint.endpoint_id,
        "url": "https://hooks.example/a",
        "created_at": T0,
        "keys": ["k"],
    }
    assert endpoint.to_dict(reveal_secret=True)["secret"] == SECRET
    json.dumps(shown)


def test_reset_forgets_endpoints_and_deliveries(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    rig.hooks.reset()
    assert rig.hooks.endpoints() == []
    assert rig.hooks.deliveries() == []
    assert rig.hooks.next_due() is None
    assert rig.hooks.run_due() == 0
    assert rig.sender.calls == []
    rig.hooks.register("https://hooks.example/a")  # and a forgotten task may be queued again
    assert len(rig.hooks.task_finished(finished())) == 1


def test_constructor_rejects_an_unusable_retry_policy() -> None:
    clock, ids, journal = ManualClock(), IdFactory(), list[JournalEntry]()
    sender, store = FakeSender(clock), InMemoryStore()
    with pytest.raises(ValueError):
        WebhookDispatcher(clock, ids, sender, journal.append, store, max_attempts=0)
    with pytest.raises(ValueError):
        WebhookDispatcher(clock, ids, sender, journal.append, store, backoff=())
    with pytest.raises(ValueError):
        WebhookDispatcher(clock, ids, sender, journal.append, store, backoff=(5, -1))
    WebhookDispatcher(clock, ids, sender, journal.append, store, max_attempts=1, backoff=())


def test_delivery_to_dict_is_json_able(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    (delivery,) = rig.hooks.task_finished(finished())
    assert isinstance(delivery, Delivery)
    shown = json.loads(json.dumps(delivery.to_dict()))
    assert json.loads(shown["payload"])["data"]["task_status"] == "success"
    assert shown["status"] == "pending"


# -- the worker thread ----------------------------------------------------------------------


def test_the_worker_thread_delivers_without_run_due_being_called(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.start(interval_s=0.01)
    rig.hooks.start(interval_s=0.01)  # idempotent
    assert rig.hooks.running
    rig.hooks.task_finished(finished())
    assert rig.sender.sent.wait(timeout=5.0)
    rig.hooks.stop()
    rig.hooks.stop()  # idempotent
    assert not rig.hooks.running
    (delivery,) = rig.hooks.deliveries()
    assert delivery.status == "delivered"
    assert len(rig.sender.calls) == 1
    assert len(rig.journal) == 1


def test_the_worker_judges_due_by_the_injected_clock_not_real_time(rig: Rig) -> None:
    rig.sender.script = [500]
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.task_finished(finished())
    rig.hooks.run_due()  # the first attempt fails; the retry is due at T0 + 5 clock-seconds
    rig.sender.sent.clear()
    rig.hooks.start(interval_s=0.01)
    assert not rig.sender.sent.wait(timeout=0.2)  # real time passes; the clock does not
    rig.clock.advance(5)
    assert rig.sender.sent.wait(timeout=5.0)
    rig.hooks.stop()
    assert rig.hooks.deliveries()[0].status == "delivered"


def test_the_worker_can_be_restarted_after_stop(rig: Rig) -> None:
    rig.hooks.register("https://hooks.example/a")
    rig.hooks.start(interval_s=0.01)
    rig.hooks.stop()
    rig.hooks.start(interval_s=0.01)
    rig.hooks.task_finished(finished())
    assert rig.sender.sent.wait(timeout=5.0)
    rig.hooks.stop()


def test_concurrent_run_due_calls_never_send_a_delivery_twice() -> None:
    made = make_rig()
    entered, gate = threading.Event(), threading.Event()
    original = made.sender

    def slow(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
        entered.set()
        gate.wait(timeout=5.0)
        return original(url, headers, body, timeout_s)

    made.hooks.sender = slow
    made.hooks.register("https://hooks.example/a")
    made.hooks.task_finished(finished())
    first = threading.Thread(target=made.hooks.run_due)
    first.start()
    assert entered.wait(timeout=5.0)  # the first call has claimed it and is sending
    assert made.hooks.run_due() == 0  # in flight elsewhere: not sent again
    gate.set()
    first.join(timeout=5.0)
    assert len(made.sender.calls) == 1


# -- a real delivery over HTTP --------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Received], list[int]]]:
    """A tiny HTTP server on 127.0.0.1 (port 0); answers with scripted statuses, then 204."""
    received: list[Received] = []
    statuses: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            headers = {k.lower(): v for k, v in self.headers.items()}  # case-insensitive
            received.append(Received(headers, self.rfile.read(length)))
            status = statuses.pop(0) if statuses else 204
            self.send_response(status)
            if 300 <= status < 400:  # a real redirect, which a webhook sender must not follow
                self.send_header("Location", self.path + "/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, statuses
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)


def test_a_real_delivery_to_a_local_receiver_verifies_there(
    receiver: tuple[str, list[Received], list[int]],
) -> None:
    url, received, statuses = receiver
    statuses.append(500)
    clock = ManualClock(start=time.time())
    journal: list[JournalEntry] = []
    hooks = WebhookDispatcher(clock, IdFactory(3), default_sender, journal.append, InMemoryStore())
    endpoint = hooks.register(url)
    hooks.task_finished(finished(task_id="e2e-task", finished_at=clock.now()))
    assert hooks.run_due() == 1
    clock.advance(5)
    assert hooks.run_due() == 1
    assert [e.status for e in journal] == [500, 204]
    assert len(received) == 2
    for got in received:
        payload = Webhook(endpoint.secret).verify(got.body, got.headers)
        assert payload["data"] == {"task_id": "e2e-task", "task_status": "success"}
        assert got.headers["content-type"] == "application/json"
        assert got.headers["webhook-signature"] == hmac_signature(
            endpoint.secret, got.headers, got.body
        )
    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
    assert hooks.deliveries()[0].status == "delivered"


def test_default_sender_returns_error_statuses_and_raises_oserror_when_unreachable(
    receiver: tuple[str, list[Received], list[int]],
) -> None:
    url, _received, statuses = receiver
    statuses.extend([404, 301])
    assert default_sender(url, {"Content-Type": "application/json"}, b"{}", 5.0) == 404
    assert default_sender(url, {}, b"{}", 5.0) == 301  # redirects are not followed
    assert default_sender(url, {}, b"{}", 5.0) == 204
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(OSError):
        default_sender(f"http://127.0.0.1:{closed}/hook", {}, b"{}", 2.0)


def test_endpoint_and_delivery_types_are_exported() -> None:
    assert WebhookEndpoint.__dataclass_fields__.keys() >= {"endpoint_id", "url", "secret"}
    assert Delivery.__dataclass_fields__.keys() == {
        "delivery_id",
        "endpoint_id",
        "task_id",
        "payload",
        "attempts",
        "next_attempt_at",
        "status",
        "last_status",
        "last_error",
    }


def test_a_refused_registration_does_not_shift_the_seeded_ids() -> None:
    plain, refused = make_rig(), make_rig()
    with pytest.raises(ApiError):
        refused.hooks.register("https://hooks.example/a", secret="whsec_bad")
    for rig in (plain, refused):
        for n in range(10):
            rig.hooks.register(f"https://hooks.example/{n}")
    with pytest.raises(ApiError):
        refused.hooks.register("https://hooks.example/11")
    for rig in (plain, refused):
        rig.hooks.remove(rig.hooks.endpoints()[0].endpoint_id)
        rig.hooks.register("https://hooks.example/x")
        rig.hooks.task_finished(finished())
    assert plain.hooks.endpoints() == refused.hooks.endpoints()
    assert plain.hooks.deliveries() == refused.hooks.deliveries()
