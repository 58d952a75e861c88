"""A Hypothesis state machine over the task lifecycle, driven through your own client.

upload -> create task -> poll -> move the clock (a little, past the 2 h result-link expiry, past
the 24 h retention) -> poll again -> download, in any order Hypothesis picks, checking after
every step what a client may rely on:

- a task never leaves a terminal state (``success``/``error``), and the first poll answers
  ``running``;
- a success result's URLs download for 2 h after the poll that issued them, and not after;
  a later poll issues fresh ones;
- a task id answers until 24 h after the task finished (or, never finished, was created),
  then gives 400 ``InvalidTaskId`` for good;
- a file past retention can no longer be named in a task; units never go negative, and a
  refused task (``CreditInsufficiency``) charges nothing.

The machine reaches the API only through a :class:`ClientAdapter`, which you write around your
own client (:class:`RequestsAdapter` is the reference one), and the emulator's control plane
(clock, units, reset) through a handle: the ``youcam`` fixture, or :class:`RemoteEmulator` for
``youcam-mock serve --manual-clock`` in another process::

    from youcam_testkit.stateful import run_lifecycle

    def test_my_client_lifecycle(youcam):
        run_lifecycle(youcam, lambda handle: MyAdapter(handle.base_url, handle.api_key))

or, for unittest runners, ``TestLifecycle = lifecycle_test_case(handle_factory, adapter_factory)``.
"""

from __future__ import annotations

import functools
import io
import unittest
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import requests
from hypothesis import HealthCheck
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PIL import Image

from youcam_mock.contract import load_contract
from youcam_mock.core.config import DEFAULT_API_KEY, RETENTION_POLICIES
from youcam_testkit import strategies as yst
from youcam_testkit.requests import build_request, result_urls

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_SETTINGS",
    "ClientAdapter",
    "Control",
    "EmulatorHandle",
    "RemoteEmulator",
    "RequestsAdapter",
    "YouCamApiError",
    "YouCamLifecycle",
    "lifecycle_test_case",
    "run_lifecycle",
]

#: Image features with one plain request shape and each kind of result: ``{url}``,
#: ``{output: [{url}]}``, JSON only, and one that also takes a reference file.
DEFAULT_FEATURES = (
    "v2.0/sod",
    "v2.0/bg-blur",
    "v2.0/colorize",
    "v2.0/skin-tone-analysis",
    "v2.0/ai-nail",
)

#: Bounded, for a suite: about 10 runs of up to 15 steps each.
DEFAULT_SETTINGS = Settings(
    max_examples=10,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: How far the ``wait`` rule moves the clock.
WAITS = ("1 s", "10 min", "1 h", "past link expiry", "past retention")
_DURATIONS = {"1 s": 1.0, "10 min": 600.0, "1 h": 3600.0}

#: Per run: a few files and tasks, so most steps go to polling, waiting and downloading.
MAX_FILES = 3
MAX_TASKS = 4

#: What ``set_units`` leaves at most: below one task's cost for most features.
LOW_UNITS = 25

#: Clock slack (seconds) around every expiry: no verdict is given this close to one.
MARGIN = 2.0
#: How far past a deadline "past link expiry" / "past retention" move the clock.
PAST = 60.0
TERMINAL = frozenset({"success", "error"})


class YouCamApiError(Exception):
    """What an adapter raises when the API (or a storage URL) refuses a call."""

    def __init__(self, status: int, error_code: str | None = None, message: str = "") -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        super().__init__(f"{status} {error_code or ''} {message}".strip())


class ClientAdapter(Protocol):
    """Your client, one step at a time.  Raise :class:`YouCamApiError` for a refusal (an HTTP
    status >= 400, with the body's ``error_code``); retrying 429s inside is fine (a 429 that
    escapes makes the machine skip that step)."""

    def upload(self, data: bytes, content_type: str, name: str) -> str:
        """Register a file and PUT its bytes; the ``file_id``."""
        ...

    def create_task(self, feature_key: str, body: dict[str, Any]) -> str:
        """``POST /s2s/{version}/task/{feature}`` (``feature_key`` is ``"v2.0/sod"``); the
        ``task_id``."""
        ...

    def poll(self, feature_key: str, task_id: str) -> dict[str, Any]:
        """One ``GET`` of the task; the response's ``data`` (``task_status``, ``results``,
        ``error``)."""
        ...

    def download(self, url: str) -> bytes:
        """Fetch a result URL as given (no Authorization)."""
        ...


class Control(Protocol):
    """The emulator's control plane: ``youcam_mock.control.InProcessControl``/``HttpControl``."""

    def call(self, verb: str, **kwargs: Any) -> Any: ...

    def advance(self, seconds: float) -> dict[str, Any]: ...

    def now(self) -> float: ...


class EmulatorHandle(Protocol):
    """What the machine needs of an emulator: the ``youcam`` fixture's handle has all three."""

    @property
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str: ...

    @property
    def control(self) -> Control: ...


@dataclass
class RemoteEmulator:
    """A handle on an emulator in another process (``youcam-mock serve --manual-clock``)."""

    base_url: str
    api_key: str = DEFAULT_API_KEY
    admin_token: str | None = None
    control: Control = field(init=False)

    def __post_init__(self) -> None:
        from youcam_mock.control import HttpControl

        self.control = HttpControl(self.base_url, admin_token=self.admin_token)


def _split(feature_key: str) -> tuple[str, str]:
    version, _, feature = feature_key.partition("/")
    if not version.startswith("v") or not feature:
        raise ValueError(f"a feature key is 'v2.0/<feature>', got {feature_key!r}")
    return version, feature


class RequestsAdapter:
    """The reference adapter: the vendor flow over plain ``requests``, no retries."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.session = session or requests.Session()
        self.timeout = timeout

    @classmethod
    def for_handle(cls, handle: EmulatorHandle) -> RequestsAdapter:
        return cls(handle.base_url, handle.api_key)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            raise YouCamApiError(
                response.status_code, body.get("error_code"), str(body.get("error", ""))
            )
        return response

    def _api(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        response = self._send(method, self.base_url + path, json=body, headers=headers)
        payload: dict[str, Any] = response.json()
        return payload

    def upload(self, data: bytes, content_type: str, name: str) -> str:
        registered = self._api(
            "POST",
            "/s2s/v2.0/file",
            {"files": [{"content_type": content_type, "file_name": name, "file_size": len(data)}]},
        )
        entry = registered["data"]["files"][0]
        put = entry["requests"][0]
        self._send(put["method"], put["url"], data=data, headers=put["headers"])
        return str(entry["file_id"])

    def create_task(self, feature_key: str, body: dict[str, Any]) -> str:
        version, feature = _split(feature_key)
        created = self._api("POST", f"/s2s/{version}/task/{feature}", body)
        return str(created["data"]["task_id"])

    def poll(self, feature_key: str, task_id: str) -> dict[str, Any]:
        version, feature = _split(feature_key)
        data: dict[str, Any] = self._api("GET", f"/s2s/{version}/task/{feature}/{task_id}")["data"]
        return data

    def download(self, url: str) -> bytes:
        content: bytes = self._send("GET", url).content
        return content


# ---------------------------------------------------------------------- the model


@dataclass
class _File:
    file_id: str
    uploaded_at: float
    decodable: bool

    def __repr__(self) -> str:
        return f"<file {self.file_id[:8]}… {'image' if self.decodable else 'undecodable'}>"


@dataclass
class _Task:
    task_id: str
    feature: str
    created_at: float
    decodable: bool
    status: str | None = None  # as last polled
    finished_at: float | None = None  # clock time of the first terminal poll
    polls: int = 0
    gone: bool = False  # answered InvalidTaskId

    def __repr__(self) -> str:
        return f"<task {self.feature} {self.task_id[:8]}… {self.status or 'unpolled'}>"


@functools.cache
def _small_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 150, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


def _machine_choice(options: Callable[[Any], Iterable[str]]) -> st.SearchStrategy[str]:
    """One of ``options(machine)``, drawn when the rule runs (so subclasses can narrow it)."""
    return st.runner().flatmap(lambda machine: st.sampled_from(sorted(options(machine))))


def _uploads() -> st.SearchStrategy[bytes | yst.LabelledImage]:
    valid: st.SearchStrategy[bytes | yst.LabelledImage] = yst.images(max_side=48)
    return valid | yst.undecodable_images()


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


class YouCamLifecycle(RuleBasedStateMachine):
    """The lifecycle machine.  Give it a handle and an adapter (``run_lifecycle``), or
    subclass it and override :meth:`make_handle` / :meth:`make_adapter`, then use
    ``MySubclass.TestCase``."""

    #: Features the machine creates tasks for (image input, no template or mask needed).
    feature_keys: ClassVar[Sequence[str]] = DEFAULT_FEATURES
    #: Set at the start of each run so tasks finish on their second poll (None: leave it).
    progression: ClassVar[dict[str, Any] | None] = {"running_polls": 1, "seconds": None}
    #: Units the key gets at the start of each run.
    start_units: ClassVar[float] = 10_000.0

    files = Bundle("files")
    tasks = Bundle("tasks")

    def __init__(
        self, handle: EmulatorHandle | None = None, adapter: ClientAdapter | None = None
    ) -> None:
        super().__init__()
        contract = load_contract()
        unknown = [key for key in self.feature_keys if key not in contract.features]
        if unknown:
            raise ValueError(f"unknown features {unknown}: use keys like 'v2.0/sod'")
        self.specs = {key: contract.features[key] for key in self.feature_keys}
        self.handle = handle if handle is not None else self.make_handle()
        self.control = self.handle.control
        self.adapter = adapter if adapter is not None else self.make_adapter(self.handle)
        config = dict(self.control.call("get_config"))
        # A fresh emulator with the same settings: no files, tasks or rules from earlier runs.
        self.control.call("reset", config=config)
        if self.progression is not None:
            self.control.call("set_progression", progression=dict(self.progression))
        self.control.call("set_units", key=self.handle.api_key, units=self.start_units)
        policy = RETENTION_POLICIES[str(config["retention"])]
        self.file_ttl = float(policy["file_ttl"])
        self.task_ttl = float(policy["task_ttl"])
        self.result_ttl = float(policy["result_ttl"])
        self.link_ttl = float(config["result_link_ttl"])
        self.first_poll_running = (self.progression or config["progression"]).get(
            "running_polls"
        ) not in (None, 0)
        self.uploads = self.created = 0
        #: result URL -> (clock time of the poll that issued it, its task)
        self.links: dict[str, tuple[float, _Task]] = {}

    # -- hooks for subclasses
    def make_handle(self) -> EmulatorHandle:
        raise NotImplementedError("pass a handle, or override make_handle()")

    def make_adapter(self, handle: EmulatorHandle) -> ClientAdapter:
        return RequestsAdapter.for_handle(handle)

    # -- helpers
    def now(self) -> float:
        return float(self.control.now())

    def units(self) -> float:
        return float(self.control.call("units", key=self.handle.api_key)["units"])

    def _task_expires_at(self, task: _Task) -> float:
        if task.finished_at is not None:
            return task.finished_at + self.result_ttl
        return task.created_at + self.task_ttl

    # -- rules: files
    @initialize(target=files)
    def first_upload(self) -> _File | MultipleResults[_File]:
        result: _File | MultipleResults[_File] = self._upload(_small_jpeg(), "image/jpeg", True)
        return result

    def _upload(self, data: bytes, content_type: str, decodable: bool) -> Any:
        extension = "png" if content_type == "image/png" else "jpg"
        now = self.now()
        try:
            file_id = self.adapter.upload(data, content_type, f"lifecycle.{extension}")
        except YouCamApiError as error:
            if error.status == 429:
                return multiple()
            raise
        assert isinstance(file_id, str) and file_id, f"upload answered file id {file_id!r}"
        self.uploads += 1
        return _File(file_id, now, decodable)

    @precondition(lambda self: self.uploads < MAX_FILES)
    @rule(target=files, image=_uploads())
    def upload(self, image: bytes | yst.LabelledImage) -> _File | MultipleResults[_File]:
        """An image, or bytes no decoder reads (its tasks must end in ``error``)."""
        if isinstance(image, bytes):
            content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
            result: _File | MultipleResults[_File] = self._upload(image, content_type, True)
        else:
            result = self._upload(image.data, image.content_type, False)
        return result

    # -- rules: tasks
    @precondition(lambda self: self.created < MAX_TASKS)
    @rule(target=tasks, file=files, feature=_machine_choice(lambda m: m.specs))
    def create_task(self, file: _File, feature: str) -> _Task | MultipleResults[_Task]:
        body = build_request(self.specs[feature], lambda name, index: file.file_id)
        now, before = self.now(), self.units()
        file_expires = file.uploaded_at + self.file_ttl
        try:
            task_id = self.adapter.create_task(feature, body)
        except YouCamApiError as error:
            after = self.units()
            assert after == before, f"a refused task charged units: {before} -> {after}"
            if error.status == 429:
                return multiple()
            if error.error_code == "CreditInsufficiency":
                return multiple()
            if error.error_code == "InvalidParameters" and now >= file_expires - MARGIN:
                return multiple()  # the file is past retention
            raise AssertionError(
                f"creating a {feature} task from {file!r} failed: {error} "
                f"(the file is {_hours(now - file.uploaded_at)} old)"
            ) from error
        assert now < file_expires + MARGIN, (
            f"a task was created from {file!r} {_hours(now - file.uploaded_at)} after its "
            f"upload: files are kept {_hours(self.file_ttl)}"
        )
        after = self.units()
        assert after <= before, f"creating a task added units: {before} -> {after}"
        assert isinstance(task_id, str) and task_id, f"task create answered {task_id!r}"
        self.created += 1
        return _Task(task_id, feature, now, file.decodable)

    @rule(task=tasks)
    def poll(self, task: _Task) -> None:
        now = self.now()
        expires = self._task_expires_at(task)
        try:
            data = self.adapter.poll(task.feature, task.task_id)
        except YouCamApiError as error:
            if error.status == 429:
                return
            if error.status == 400 and error.error_code == "InvalidTaskId":
                assert now >= expires - MARGIN, (
                    f"{task!r} answered InvalidTaskId {_hours(now - task.created_at)} after "
                    f"its creation; it should answer until {_hours(expires - task.created_at)}"
                )
                task.gone = True
                return
            raise
        assert not task.gone, f"{task!r} answered again after InvalidTaskId"
        assert now < expires + MARGIN, (
            f"{task!r} still answers {_hours(now - expires)} past its retention "
            f"(expected 400 InvalidTaskId)"
        )
        status = data.get("task_status")
        assert status in ("running", "success", "error"), f"task_status {status!r}"
        if task.status in TERMINAL:
            assert status == task.status, (
                f"{task!r} went from {task.status} back to {status}: terminal states are final"
            )
        if task.polls == 0 and self.first_poll_running:
            assert status == "running", f"the first poll of {task!r} answered {status}"
        if status == "success":
            assert task.decodable, f"{task!r} succeeded on undecodable input"
            results = data.get("results")
            assert isinstance(results, dict), f"a success without results: {data!r}"
            for url in result_urls(results):
                self.links[url] = (now, task)
                self._download(url)  # a link is good the moment a poll hands it out
        elif status == "error":
            assert not task.decodable, f"{task!r} failed on a valid image: {data!r}"
            assert isinstance(data.get("error"), str) and data["error"], (
                f"an error without an engine code: {data!r}"
            )
        if status in TERMINAL and task.finished_at is None:
            task.finished_at = now
        task.status = status
        task.polls += 1

    @precondition(lambda self: bool(self.links))
    @rule(url=_machine_choice(lambda m: m.links))
    def download(self, url: str) -> None:
        """Fetch a result URL some earlier poll handed out (fresh, or by now expired)."""
        self._download(url)

    def _download(self, url: str) -> None:
        issued, task = self.links[url]
        now = self.now()
        age = now - issued
        results_expire = self._task_expires_at(task)
        fresh = age < self.link_ttl - MARGIN and now < results_expire - MARGIN
        stale = age > self.link_ttl + MARGIN or now > results_expire + MARGIN
        try:
            body = self.adapter.download(url)
        except YouCamApiError as error:
            if error.status == 429:
                return
            assert not fresh, (
                f"a result URL of {task!r} failed {_hours(age)} after the poll that issued it "
                f"(links last {_hours(self.link_ttl)}): {error}"
            )
            assert error.status in (403, 404), f"an expired result URL answered {error}"
            return
        assert not stale, (
            f"a result URL of {task!r} still downloads {_hours(age)} after the poll that "
            f"issued it (links last {_hours(self.link_ttl)})"
        )
        assert body, f"a result URL of {task!r} downloaded empty"

    # -- rules: time and units
    @rule(step=st.sampled_from(WAITS))
    def wait(self, step: str) -> None:
        """Move the emulator's clock: a little, or past a deadline the API documents."""
        seconds = {
            "past link expiry": self.link_ttl + PAST,
            "past retention": max(self.task_ttl, self.result_ttl, self.file_ttl) + PAST,
        }.get(step)
        self.control.advance(seconds if seconds is not None else _DURATIONS[step])

    @precondition(lambda self: self.units() >= LOW_UNITS)
    @rule(units=st.integers(0, LOW_UNITS))
    def set_units(self, units: int) -> None:
        """Leave the key a few units (once a run): tasks must be refused, not overdrawn."""
        self.control.call("set_units", key=self.handle.api_key, units=units)

    @invariant()
    def units_never_negative(self) -> None:
        units = self.units()
        assert units >= 0, f"the key's units went negative: {units}"


# ---------------------------------------------------------------------- running it

#: Hypothesis leaves this one untyped.
_run_machine: Callable[..., None] = run_state_machine_as_test


def run_lifecycle(
    handle: EmulatorHandle,
    adapter_factory: Callable[[EmulatorHandle], ClientAdapter] = RequestsAdapter.for_handle,
    *,
    machine: type[YouCamLifecycle] = YouCamLifecycle,
    settings: Settings | None = None,
) -> None:
    """Run the machine against ``handle`` (e.g. the ``youcam`` fixture) through the adapter
    ``adapter_factory(handle)`` builds; a broken invariant raises after shrinking."""
    _run_machine(
        lambda: machine(handle, adapter_factory(handle)), settings=settings or DEFAULT_SETTINGS
    )


def lifecycle_test_case(
    handle_factory: Callable[[], EmulatorHandle],
    adapter_factory: Callable[[EmulatorHandle], ClientAdapter] = RequestsAdapter.for_handle,
    *,
    settings: Settings | None = None,
) -> type[unittest.TestCase]:
    """A ``unittest.TestCase`` running the machine (collected by pytest and unittest alike)::

    TestLifecycle = lifecycle_test_case(lambda: RemoteEmulator("http://127.0.0.1:8080"))
    """

    class Lifecycle(YouCamLifecycle):
        def make_handle(self) -> EmulatorHandle:
            return handle_factory()

        def make_adapter(self, handle: EmulatorHandle) -> ClientAdapter:
            return adapter_factory(handle)

    Lifecycle.TestCase.settings = settings or DEFAULT_SETTINGS
    case: type[unittest.TestCase] = Lifecycle.TestCase
    return case
