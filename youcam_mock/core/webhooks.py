"""Task-completion webhooks, signed per Standard Webhooks, as the vendor sends them.

The vendor POSTs ``{"created_at": <finish time>, "data": {"task_id", "task_status"}}`` to each
registered endpoint (at most 10) when a task reaches a terminal state, with ``webhook-id``
(stable across retries), ``webhook-timestamp`` and ``webhook-signature`` headers.

Enqueueing (:meth:`WebhookDispatcher.task_finished`) is separate from sending
(:meth:`WebhookDispatcher.run_due`) so that no request thread ever waits on a subscriber.
Whether a delivery is due is judged only by the injected clock, so tests drive retries by
advancing a ``ManualClock``; the optional worker thread merely polls in real time.  Endpoints and
deliveries live in the :class:`~youcam_mock.core.store.Store`, like all other state: the
dispatcher holds only its collaborators and its worker thread.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from math import floor
from typing import TYPE_CHECKING, Any

from standardwebhooks import Webhook

from youcam_mock.core.clock import Clock
from youcam_mock.core.errors import ApiError
from youcam_mock.core.ids import IdFactory
from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.lifecycle import TERMINAL
from youcam_mock.core.models import Task

if TYPE_CHECKING:  # the store keeps this module's records: import it for types only
    from youcam_mock.core.store import Store

#: ``(url, headers, body, timeout_s) -> HTTP status``; raises ``OSError`` when it cannot connect.
Sender = Callable[[str, dict[str, str], bytes, float], int]
#: Receives one journal entry per delivery attempt (the store renumbers ``seq``).
JournalSink = Callable[[JournalEntry], None]

SECRET_PREFIX = "whsec_"
#: Standard Webhooks: a symmetric secret is random and between 24 and 64 bytes.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
#: ``last_error`` of a delivery cancelled because its endpoint was removed.
ENDPOINT_REMOVED = "endpoint removed"


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameters", message)


def _check_url(url: str) -> str:
    """Only absolute http(s) URLs: the sender must never be pointed at ``file:`` and the like."""
    if not isinstance(url, str):
        raise _invalid("webhook url must be a string")
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _invalid("webhook url must be an absolute http(s) URL")
    return url.strip()


def _check_secret(secret: str) -> str:
    """``whsec_`` + standard base64 of 24-64 bytes: what every Standard Webhooks library accepts."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise _invalid("webhook secret must start with 'whsec_'")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("webhook secret must be 'whsec_' followed by base64") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise _invalid(f"webhook secret must encode {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes")
    return secret


def _check_keys(keys: Sequence[str]) -> tuple[str, ...]:
    """A bare string means one key (not its characters); order kept, duplicates dropped."""
    items = (keys,) if isinstance(keys, str) else tuple(keys)
    if not all(isinstance(k, str) and k for k in items):
        raise _invalid("webhook keys must be non-empty strings")
    return tuple(dict.fromkeys(items))


def payload_for(task: Task, finished_at: float) -> bytes:
    """The vendor's body, minified: the bytes signed are exactly the bytes sent."""
    body = {
        "created_at": floor(finished_at),
        "data": {"task_id": task.task_id, "task_status": str(task.status.value)},
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC>`` by the reference library, fed the injected clock's timestamp."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return str(Webhook(secret).sign(webhook_id, when, body.decode("utf-8")))


@dataclass
class WebhookEndpoint:
    """A subscriber: where to POST, with which secret, for which API keys (empty = all)."""

    endpoint_id: str
    url: str
    secret: str
    created_at: float
    keys: tuple[str, ...] = ()

    def wants(self, key: str) -> bool:
        return not self.keys or key in self.keys

    def to_dict(self, *, reveal_secret: bool = False) -> dict[str, Any]:
        """JSON-able; the secret is masked unless asked for (listings should not leak it)."""
        secret = self.secret if reveal_secret else SECRET_PREFIX + "********" + self.secret[-4:]
        return {
            "endpoint_id": self.endpoint_id,
            "url": self.url,
            "secret": secret,
            "created_at": self.created_at,
            "keys": list(self.keys),
        }


@dataclass
class Delivery:
    """One message to one endpoint, across all of its attempts (``delivery_id`` = webhook-id)."""

    delivery_id: str
    endpoint_id: str
    task_id: str
    payload: bytes
    attempts: int = 0
    next_attempt_at: float = 0.0
    status: str = PENDING
    last_status: int | None = None
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view for the control API (the payload is UTF-8 JSON text)."""
        return {
            "delivery_id": self.delivery_id,
            "endpoint_id": self.endpoint_id,
            "task_id": self.task_id,
            "payload": self.payload.decode("utf-8"),
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "status": self.status,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }


@dataclass
class _Attempt:
    """What one attempt needs, copied when claimed so sending happens outside any lock."""

    delivery_id: str
    endpoint_id: str
    task_id: str
    url: str
    secret: str
    payload: bytes
    attempt: int
    generation: int


class WebhookDispatcher:
    """Endpoints, a queue of deliveries (both in the store), and the retry policy.

    The sender does the I/O.  Compound changes run inside ``store.transaction()``; a delivery
    being sent is claimed in the store (in flight), never under a lock, so concurrent
    ``run_due`` calls, worker threads or processes sharing the store never send it twice.
    """

    MAX_ENDPOINTS = 10
    #: Finished (delivered/failed) deliveries kept for inspection; older ones are dropped.
    MAX_HISTORY = 1000

    def __init__(
        self,
        clock: Clock,
        ids: IdFactory,
        sender: Sender,
        journal: JournalSink,
        store: Store,
        *,
        max_attempts: int = 5,
        backoff: tuple[float, ...] = (5, 30, 120, 600),
        timeout_s: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if max_attempts > 1 and not backoff:
            raise ValueError("retries need at least one backoff value")
        if any(b < 0 for b in backoff):
            raise ValueError("backoff values must be >= 0")
        self.clock = clock
        self.ids = ids
        self.sender = sender
        self.journal = journal
        self.store = store
        self.max_attempts = max_attempts
        self.backoff = tuple(float(b) for b in backoff)
        self.timeout_s = timeout_s
        self._worker: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._worker_lock = threading.Lock()

    # -- endpoints -------------------------------------------------------------------------

    def register(
        self, url: str, *, secret: str | None = None, keys: Sequence[str] = ()
    ) -> WebhookEndpoint:
        """Add an endpoint; a secret is generated (seeded) unless a valid one is given."""
        url = _check_url(url)
        given = _check_secret(secret) if secret is not None else None
        key_filter = _check_keys(keys)
        with self.store.transaction():
            if len(self.store.endpoints()) >= self.MAX_ENDPOINTS:
                raise _invalid(f"at most {self.MAX_ENDPOINTS} webhook endpoints")
            # Seeded ids are drawn only once the endpoint is accepted, so a refusal does not
            # shift every later id of the run.
            endpoint = WebhookEndpoint(
                endpoint_id="ep_" + self.ids.token(),
                url=url,
                secret=given or self._new_secret(),
                created_at=self.clock.now(),
                keys=key_filter,
            )
            self.store.put_endpoint(endpoint)
        return endpoint

    def _new_secret(self) -> str:
        """24 seeded random bytes (IdFactory's token is URL-safe base64, re-encoded standard)."""
        token = self.ids.token(24)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")

    def remove(self, endpoint_id: str) -> None:
        """Drop an endpoint; its pending deliveries are cancelled (marked failed, not sent)."""
        with self.store.transaction():
            if not self.store.delete_endpoint(endpoint_id):
                raise _invalid(f"unknown webhook endpoint {endpoint_id!r}")
            for delivery in self.store.deliveries():
                if delivery.endpoint_id == endpoint_id and delivery.status == PENDING:
                    delivery.status = FAILED
                    delivery.last_error = ENDPOINT_REMOVED
                    self.store.put_delivery(delivery)

    def endpoints(self) -> list[WebhookEndpoint]:
        return self.store.endpoints()

    # -- deliveries ------------------------------------------------------------------------

    def task_finished(self, task: Task) -> list[Delivery]:
        """Queue one delivery per matching endpoint, due now; sending is left to run_due.

        A task that is not terminal yields nothing, and a task already queued for an endpoint
        is not queued twice, so callers may report a finish more than once.  Returns snapshots
        (copies) of what was queued.
        """
        if task.status not in TERMINAL:
            return []
        now = self.clock.now()
        body = payload_for(task, task.finished_at if task.finished_at is not None else now)
        queued: list[Delivery] = []
        with self.store.transaction():
            for endpoint in self.store.endpoints():
                if not endpoint.wants(task.owner) or (
                    self.store.find_delivery(endpoint.endpoint_id, task.task_id) is not None
                ):
                    continue
                delivery = Delivery(
                    delivery_id="msg_" + self.ids.token(),
                    endpoint_id=endpoint.endpoint_id,
                    task_id=task.task_id,
                    payload=body,
                    next_attempt_at=now,
                )
                self.store.put_delivery(delivery)
                queued.append(replace(delivery))
            self.store.prune_deliveries(self.MAX_HISTORY)
        return queued

    def run_due(self) -> int:
        """Attempt every pending delivery due by the clock; returns how many were attempted."""
        attempts = self._claim_due()
        for attempt in attempts:
            self._attempt(attempt)
        return len(attempts)

    def _claim_due(self) -> list[_Attempt]:
        """Claim due deliveries in the store (in flight), so no two callers send one twice."""
        now = self.clock.now()
        with self.store.transaction():
            # The epoch is read with the claim: a reset() meanwhile makes the results stale.
            generation = self.store.webhook_epoch()
            claimed = self.store.claim_due_deliveries(now)
        return [
            _Attempt(
                delivery_id=delivery.delivery_id,
                endpoint_id=endpoint.endpoint_id,
                task_id=delivery.task_id,
                url=endpoint.url,
                secret=endpoint.secret,
                payload=delivery.payload,
                attempt=delivery.attempts,
                generation=generation,
            )
            for delivery, endpoint in claimed
        ]

    def _attempt(self, attempt: _Attempt) -> None:
        """Sign with this attempt's clock time, send (lock not held), record the outcome."""
        at = self.clock.now()
        timestamp = floor(at)
        headers = {
            "webhook-id": attempt.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                attempt.secret, attempt.delivery_id, timestamp, attempt.payload
            ),
            "Content-Type": "application/json",
        }
        status = 0
        error: str | None = None
        try:
            status = int(self.sender(attempt.url, headers, attempt.payload, self.timeout_s))
        except Exception as exc:  # a sender bug must not kill the worker thread either
            error = f"{type(exc).__name__}: {exc}"
        ok = 200 <= status < 300
        if not ok and error is None:
            error = f"HTTP {status}"
        with self.store.transaction():
            if attempt.generation != self.store.webhook_epoch():
                return  # reset() ran meanwhile: this attempt belongs to forgotten state
            self.store.release_delivery(attempt.delivery_id)
            delivery = self.store.get_delivery(attempt.delivery_id)
            if delivery is not None:
                delivery.last_status = status or None
                delivery.last_error = error
                if ok:
                    delivery.status = DELIVERED
                elif delivery.status != PENDING:  # cancelled (endpoint removed) while in flight
                    delivery.last_error = f"{error}; {ENDPOINT_REMOVED}"
                elif attempt.attempt >= self.max_attempts:
                    delivery.status = FAILED
                else:
                    wait = self.backoff[min(attempt.attempt, len(self.backoff)) - 1]
                    delivery.next_attempt_at = at + wait
                self.store.put_delivery(delivery)
                self.store.prune_deliveries(self.MAX_HISTORY)
        self.journal(
            JournalEntry(
                seq=0,
                at=at,
                method="POST",
                path=attempt.url,
                status=status,
                task_id=attempt.task_id,
                kind="webhook",
                detail={
                    "webhook_id": attempt.delivery_id,
                    "attempt": attempt.attempt,
                    "endpoint_id": attempt.endpoint_id,
                    "error": error,
                },
            )
        )

    def next_due(self) -> float | None:
        """Earliest pending attempt time, so a control API can 'advance to the next event'."""
        times = [d.next_attempt_at for d in self.store.deliveries() if d.status == PENDING]
        return min(times) if times else None

    def deliveries(self) -> list[Delivery]:
        """Snapshots (copies), oldest first: the worker keeps updating the stored records."""
        with self.store.transaction():
            return [replace(d) for d in self.store.deliveries()]

    def reset(self) -> None:
        """Forget endpoints and deliveries (the worker, if running, keeps running)."""
        self.store.clear_webhooks()

    # -- worker ----------------------------------------------------------------------------

    def start(self, interval_s: float = 0.05) -> None:
        """Run run_due() every interval of real time on a daemon thread (no-op if running)."""
        with self._worker_lock:
            if self._worker is not None and self._worker.is_alive():
                return
            stop = threading.Event()
            worker = threading.Thread(
                target=self._loop, args=(stop, interval_s), name="youcam-webhooks", daemon=True
            )
            self._stop, self._worker = stop, worker
            worker.start()

    def stop(self) -> None:
        """Stop the worker and wait for its current pass (no-op if not running)."""
        with self._worker_lock:
            stop, worker = self._stop, self._worker
            self._stop = self._worker = None
        if stop is not None:
            stop.set()
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=self.timeout_s + 5.0)

    @property
    def running(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive()

    def _loop(self, stop: threading.Event, interval_s: float) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # e.g. a failing journal sink: keep going
                self.run_due()
            stop.wait(interval_s)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Webhook senders do not follow redirects: a 3xx is a failed attempt."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def default_sender(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
    """POST with urllib: the HTTP status (also for 4xx/5xx), OSError when no response came.

    Proxies from the environment are ignored: the emulator is offline, and a proxy would
    swallow deliveries to a receiver on localhost.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(Exception):
            exc.close()
        return int(exc.code)
    except http.client.HTTPException as exc:  # e.g. a malformed status line: not an OSError
        raise OSError(f"bad HTTP response: {exc!r}") from exc
