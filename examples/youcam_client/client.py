"""A small YouCam AI API client over ``requests``.

- uploads through the File API and its presigned PUT;
- creates a task and polls it until it ends, with a growing interval and a maximum wait;
- backs off on 429 (honouring ``Retry-After``), on 5xx and on unreadable bodies;
- downloads the result, re-polling the task for a fresh link when the one it holds is about to
  expire (result links last about 2 h) or was refused.

Time is injectable (``sleep`` and ``clock``), so a test can hand it the emulator's clock and
never wait for real.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_BASE_URL = "https://yce-api-01.makeupar.com"
#: Result links last about 2 h; older than this, the client re-polls before downloading.
LINK_TTL_S = 2 * 3600.0
LINK_SAFETY_S = 300.0


class YouCamError(Exception):
    """The API refused a call, or could not be reached."""

    def __init__(
        self, message: str, *, status: int | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class TaskFailed(YouCamError):
    """The task ended with ``task_status: "error"``; ``error_code`` is the engine code."""


class TaskTimedOut(YouCamError):
    """The task did not end within ``max_wait`` (or the API answered 500 TaskTimeout)."""


class ResultGone(YouCamError):
    """The result is past retention: the task id is no longer known."""


@dataclass
class TaskResult:
    feature: str
    version: str
    task_id: str
    results: dict[str, Any]
    #: The client clock when the poll that issued these links answered.
    polled_at: float

    def urls(self) -> list[str]:
        return _urls(self.results)


class YouCamClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 2.0,
        max_poll_interval: float = 15.0,
        max_wait: float = 900.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        seed: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._random = random.Random(seed)

    # ------------------------------------------------------------------ the whole job
    def run(
        self,
        feature: str,
        data: bytes,
        *,
        content_type: str = "image/jpeg",
        file_name: str = "input.jpg",
        body: dict[str, Any] | None = None,
        version: str = "v2.0",
    ) -> bytes:
        """Upload ``data``, run ``feature`` on it, wait, and download the first result file."""
        file_id = self.upload(data, content_type=content_type, file_name=file_name, feature=feature)
        task_id = self.create_task(feature, {"src_file_id": file_id, **(body or {})}, version)
        return self.download(self.wait(feature, task_id, version))

    # ------------------------------------------------------------------ steps
    def upload(
        self, data: bytes, *, content_type: str, file_name: str, feature: str | None = None
    ) -> str:
        """Register the file, then PUT its bytes to the presigned URL; the ``file_id``."""
        path = f"/s2s/v2.0/file/{feature}" if feature else "/s2s/v2.0/file"
        files = [{"content_type": content_type, "file_name": file_name, "file_size": len(data)}]
        entry = self._json("POST", path, {"files": files})["data"]["files"][0]
        put = entry["requests"][0]
        self._send(put["method"], put["url"], data=data, headers=put["headers"])
        return str(entry["file_id"])

    def create_task(self, feature: str, body: dict[str, Any], version: str = "v2.0") -> str:
        created = self._json("POST", f"/s2s/{version}/task/{feature}", body, replay_safe=False)
        return str(created["data"]["task_id"])

    def poll(self, feature: str, task_id: str, version: str = "v2.0") -> dict[str, Any]:
        """One poll: the response's ``data`` (``task_status``, ``results``, ``error``)."""
        try:
            data: dict[str, Any] = self._json("GET", f"/s2s/{version}/task/{feature}/{task_id}")[
                "data"
            ]
        except YouCamError as error:
            kind = {"TaskTimeout": TaskTimedOut, "InvalidTaskId": ResultGone}.get(
                error.error_code or ""
            )
            if kind is None:
                raise
            raise kind(str(error), status=error.status, error_code=error.error_code) from error
        return data

    def wait(self, feature: str, task_id: str, version: str = "v2.0") -> TaskResult:
        """Poll until the task ends; the interval grows, the wait is bounded by ``max_wait``."""
        started = self.clock()
        interval = self.poll_interval
        while True:
            data = self.poll(feature, task_id, version)
            status = data.get("task_status")
            if status == "success":
                return TaskResult(feature, version, task_id, data["results"], self.clock())
            if status == "error":
                code = data.get("error")
                message = data.get("error_message") or code
                raise TaskFailed(f"task {task_id} failed: {message}", error_code=code)
            if self.clock() - started + interval > self.max_wait:
                raise TaskTimedOut(f"task {task_id} still running after {self.max_wait:.0f} s")
            self.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)

    def download(self, result: TaskResult, index: int = 0) -> bytes:
        """The ``index``-th result file.  A link near its 2 h expiry is refreshed by polling
        the task again first; a link refused anyway (403/404) is refreshed once and retried."""
        if self.clock() - result.polled_at > LINK_TTL_S - LINK_SAFETY_S:
            self._refresh(result)
        response = self._send("GET", result.urls()[index], accept=(200, 403, 404))
        if response.status_code != 200:
            self._refresh(result)
            return self.fetch(result.urls()[index])
        return response.content

    def fetch(self, url: str) -> bytes:
        """GET a result URL as it is (no Authorization, no refresh)."""
        return self._send("GET", url).content

    def _refresh(self, result: TaskResult) -> None:
        data = self.poll(result.feature, result.task_id, result.version)
        result.results = data["results"]
        result.polled_at = self.clock()

    # ------------------------------------------------------------------ HTTP with retries
    def _json(
        self, method: str, path: str, body: Any = None, *, replay_safe: bool = True
    ) -> dict[str, Any]:
        """A vendor call: Authorization, JSON in and out, retries (see ``_send``).  An
        unreadable 200 body is retried when the call is safe to replay (not task creation)."""
        for attempt in range(self.max_retries + 1):
            response = self._send(
                method,
                self.base_url + path,
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}"},
                replay_safe=replay_safe,
            )
            try:
                payload = response.json()
            except ValueError:
                if not replay_safe or attempt == self.max_retries:
                    raise YouCamError(f"{method} {path}: unreadable response body") from None
                self._pause(attempt, None)
                continue
            if isinstance(payload, dict):
                return payload
            raise YouCamError(f"{method} {path}: unexpected body {payload!r}")
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        *,
        accept: tuple[int, ...] = (200,),
        replay_safe: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One request, retried with backoff on 429 (always: the call was not run), and on
        5xx and network errors when it is safe to replay."""
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as error:
                if last or not replay_safe:
                    raise YouCamError(f"{method} {url}: {error}") from error
                self._pause(attempt, None)
                continue
            status = response.status_code
            if status in accept:
                return response
            body = _error_body(response)
            retryable = status == 429 or (
                status >= 500 and replay_safe and body.get("error_code") != "TaskTimeout"
            )
            if retryable and not last:
                self._pause(attempt, _retry_after(response))
                continue
            raise YouCamError(
                f"{method} {url} -> {status}: {body.get('error') or response.reason}",
                status=status,
                error_code=body.get("error_code"),
            )
        raise AssertionError("unreachable")

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        delay = min(self.max_backoff, self.backoff * 2**attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.sleep(delay * self._random.uniform(1.05, 1.3))


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _urls(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [url for value in node.values() for url in _urls(value)]
    if isinstance(node, list):
        return [url for value in node for url in _urls(value)]
    if isinstance(node, str) and node.startswith(("http://", "https://")):
        return [node]
    return []
