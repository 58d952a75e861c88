"""Schemathesis against the live emulator, driven by the vendor's published OpenAPI documents.

Every operation of every published document that has paths (65 documents, 178 operations) is
exercised over a real socket (:class:`ThreadedMockServer`, :class:`ManualClock`, default
:class:`MockConfig`) with schema-valid ("positive") data: each document's own examples first,
then a few generated cases.  The responses must pass schemathesis's ``not_a_server_error``,
``response_schema_conformance``, ``status_code_conformance`` and ``content_type_conformance``
checks against the document that publishes the operation.  On top of that, the suite-wide hook
in ``tests/conftest.py`` validates every response the in-process server sends against the package
contract and the published document with openapi-core, so both validators see the same traffic.

So that generated requests get past "no such file" and reach the interesting code, task
creation gets real inputs: generated file ids are replaced by uploaded files of the right kind
and a generated ``template_id`` by one of the feature's templates (the other generated values
stay); every task created is then polled to its end, each poll checked the same way.  Polls of
each feature are also fuzzed with a real task id, created up front.

The documents are repaired in memory with :func:`youcam_mock.contract.build.repair_document`
before schemathesis sees them: as published, 18 of them do not even load (``RunError`` and
``DeleteTaskError`` are bare schemas under ``responses``, hair density's ``maximum: "3"``, null
defaults in the 2D try-on documents), and in 40 others the poll/File API response schemas vanish
(a ``null`` property beside a ``$ref``), which would make the conformance check vacuous.  Without
``../shared/youcam-openapi`` the package contract (the same repairs, merged) is used instead.

Checks deliberately left off:

* ``positive_data_acceptance`` expects a 2xx for every schema-valid request.  Generated
  ``task_id``s (polls, delete), ``starting_token``s and ``file_id``s outside task creation are
  schema-valid strings that name nothing the emulator issued, and page sizes outside the 1-20
  the documents state only in prose are refused, so the emulator answers the documented 400
  (``InvalidTaskId``/``InvalidParameters``), as the vendor does.
* ``negative_data_rejection`` and the other negative/stateful checks need negative generation or
  extra requests per case; this tier sends positive data only and keeps the volume bounded.

Volume: ``MAX_EXAMPLES`` generated cases per operation plus the document's examples, Hypothesis's
``explicit`` and ``generate`` phases only (no shrinking, no example database, no coverage or
stateful phase, no schemathesis engine), one request per case plus the polls of the tasks it
creates.  The default config sets no rate limit; the manual clock still moves 2 s before every
fuzzed request, which would also keep it under the vendor's (5 per second, 250 per 300 s).
"""

from __future__ import annotations

import collections
import copy
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, find, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.flow import Flow, Reply, input_for, jpeg, mp4, png_mask
from tests.support.oracle import PUBLISHED
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.contract.build import load_published, repair_document
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.core.features import FeatureSpec
from youcam_mock.server import ThreadedMockServer
from youcam_testkit.requests import build_request

pytestmark = pytest.mark.slow

#: Generated cases per operation; YOUCAM_SCHEMATHESIS_EXAMPLES=200 for a deeper local hunt.
MAX_EXAMPLES = int(os.environ.get("YOUCAM_SCHEMATHESIS_EXAMPLES", "10"))
SECONDS_BETWEEN_REQUESTS = 2.0
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
_HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


def _raw_documents() -> dict[str, dict[str, Any]]:
    """Source name -> OpenAPI document as published (or the package contract, if absent)."""
    if PUBLISHED.is_dir():
        return {slug: doc for slug, doc in load_published(PUBLISHED).items() if doc.get("paths")}
    return {"contract": load_contract().openapi}


def _operations() -> list[tuple[str, str, str]]:
    found = []
    for source, document in _raw_documents().items():
        for path, item in document["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "delete", "patch"):
                    found.append((source, method.upper(), path))
    return sorted(found)


OPERATIONS = _operations()
#: (method, path) -> Counter of response statuses, filled as the sweep runs.
SEEN: dict[tuple[str, str], collections.Counter[int]] = collections.defaultdict(collections.Counter)


@functools.cache
def _schema(source: str) -> Any:
    """The schemathesis schema of one (repaired) published document."""
    if source == "contract":
        document = copy.deepcopy(load_contract().openapi)
    else:
        document, _ = repair_document(source, load_published(PUBLISHED)[source])
    # from_dict normalises the dict in place: hand it a private copy.
    return schemathesis.openapi.from_dict(document, config=schemathesis.Config())


@dataclass
class Live:
    server: ThreadedMockServer
    clock: ManualClock
    session: requests.Session

    @property
    def url(self) -> str:
        return self.server.url

    def flow(self) -> Flow:
        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
            reply = self.session.request(method, url, headers=headers, data=body, timeout=60)
            return Reply(reply.status_code, dict(reply.headers), reply.content)

        return Flow(send, self.url, DEFAULT_API_KEY)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    clock = ManualClock()
    server = ThreadedMockServer(create_app(MockConfig(), clock=clock)).start()
    session = requests.Session()
    try:
        yield Live(server, clock, session)
    finally:
        session.close()
        server.stop()


@pytest.fixture(scope="module")
def running_tasks(live: Live) -> dict[str, str]:
    """Poll path -> id of a real task, created (inputs uploaded) before any fuzzing spends units.

    Generated task ids name nothing (400 InvalidTaskId); polling a real one makes the sweep
    check the ``running`` and ``success`` bodies of every feature against its document too.
    """
    flow = live.flow()
    tasks = {}
    for spec in load_contract().features.values():
        body = build_request(
            spec,
            lambda name, index, spec=spec: flow.upload(*input_for(spec, name)),
            template_id=flow.first_template(spec),
        )
        created = flow.call("POST", spec.create_path, body)
        assert created.status == 200, (spec.key, created.body)
        tasks[spec.poll_path] = created.json()["data"]["task_id"]
    return tasks


@pytest.fixture(scope="module")
def uploads(live: Live) -> dict[str, str]:
    """Input kind -> id of an uploaded file (image, mask, video); feature -> a template id."""
    flow = live.flow()
    found = {
        "image": flow.upload(jpeg(), "image/jpg", "selfie.jpg"),
        "mask": flow.upload(png_mask(), "image/png", "mask.png"),
        "video": flow.upload(mp4(), "video/mp4", "clip.mp4"),
    }
    for spec in load_contract().features.values():
        if (template := flow.first_template(spec)) is not None:
            found[spec.key] = template
    return found


def _with_real_inputs(body: Any, spec: FeatureSpec, uploads: dict[str, str]) -> Any:
    """The generated body with every file id replaced by an uploaded file of the right kind,
    and any template id by one of the feature's templates.

    Generated ids name nothing (400 InvalidParameters/InvalidStyle before anything else is
    looked at); real ones let the generated parameters reach task creation, pricing and the
    results builder, whose polls are then checked too.
    """
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if "template_id" in body and spec.key in uploads:
        body["template_id"] = uploads[spec.key]
    for name in spec.file_fields:
        if name in body and name.endswith(("_id", "_ids")):
            kind = "mask" if "msk" in name else "image"
            if spec.input == "video" and name.startswith("src"):
                kind = "video"
            value = body[name]
            body[name] = [uploads[kind]] * len(value) if isinstance(value, list) else uploads[kind]
    return body


def _first_case(strategy: Any) -> Any:
    """One case drawn from an example strategy (no shrinking: examples are fixed values)."""
    return find(strategy, lambda _: True, settings=settings(_HYPOTHESIS, phases=(Phase.generate,)))


@pytest.mark.parametrize(
    ("source", "method", "path"), OPERATIONS, ids=[f"{m} {p}" for _, m, p in OPERATIONS]
)
def test_operation_conforms_to_its_published_document(
    live: Live,
    running_tasks: dict[str, str],
    uploads: dict[str, str],
    source: str,
    method: str,
    path: str,
) -> None:
    schema = _schema(source)
    operation = schema[path][method.lower()]
    creates = {spec.create_path: spec for spec in load_contract().features.values()}
    spec = creates.get(path) if method == "POST" else None
    fixed: dict[str, Any] = {}
    if "{task_id}" in path and path in running_tasks:
        fixed["path_parameters"] = {"task_id": running_tasks[path]}

    def send(case: Any) -> Any:
        live.clock.advance(SECONDS_BETWEEN_REQUESTS)
        response = case.call_and_validate(
            base_url=live.url, session=live.session, headers=AUTH, checks=CHECKS
        )
        SEEN[(case.method.upper(), case.path)][response.status_code] += 1
        return response

    @_HYPOTHESIS
    @given(case=operation.as_strategy(**fixed))
    def sweep(case: Any) -> None:
        if spec is not None:
            case.body = _with_real_inputs(case.body, spec, uploads)
        response = send(case)
        if spec is not None and response.status_code == 200:
            # Follow the task: its polls (running, then success or error) must conform too.
            poll = schema[spec.poll_path]["get"]
            task_id = response.json()["data"]["task_id"]
            for _ in range(4):
                data = send(poll.Case(path_parameters={"task_id": task_id})).json()["data"]
                if data["task_status"] != "running":
                    break
            else:
                pytest.fail(f"{spec.key}: task {task_id} never finished")

    # The document's own examples run first (Hypothesis's explicit phase).
    for strategy in operation.get_strategies_from_examples(**fixed):
        sweep = example(case=_first_case(strategy))(sweep)
    sweep()
    assert SEEN[(method, path)], "no request was sent"


def test_sweep_reached_past_validation() -> None:
    """The sweep is not a wall of 4xx: every GET and nearly every task creation answered 200
    at least once (so success bodies were checked), and nothing answered 5xx or 429."""
    if len(SEEN) < len(OPERATIONS):
        pytest.skip("needs the whole sweep in this session (run the module, not one case)")
    statuses: collections.Counter[int] = sum(SEEN.values(), collections.Counter())
    assert not [s for s in statuses if s >= 500 or s == 429], statuses
    ok = {key for key, counts in SEEN.items() if counts[200]}
    polls = {(m, p) for _, m, p in OPERATIONS if p.endswith("{task_id}")}
    assert polls <= ok, sorted(polls - ok)
    gets = {(m, p) for _, m, p in OPERATIONS if m == "GET"}
    assert gets <= ok, sorted(gets - ok)  # polls, template lists, credit, history, feature-cost
    assert ("POST", "/s2s/v2.0/file") in ok  # the File API example registers a file
    creates = {(m, p) for _, m, p in OPERATIONS if m == "POST" and "/task/" in p}
    creates.discard(("POST", "/s2s/v2.0/task/delete"))  # generated task ids name nothing
    assert len(creates - ok) <= len(creates) // 10, sorted(creates - ok)
    assert sum(statuses.values()) >= len(OPERATIONS) * min(MAX_EXAMPLES, 3)


def test_harness_flags_a_nonconforming_response(live: Live) -> None:
    """The checks are live: a document that promises a field the emulator never sends fails."""
    document = copy.deepcopy(load_contract().openapi)
    credit = document["paths"]["/s2s/v1.0/client/credit"]["get"]["responses"]["200"]
    credit["content"] = {
        "application/json": {
            "schema": {"type": "object", "required": ["never_sent"], "properties": {}}
        }
    }
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    case = schema["/s2s/v1.0/client/credit"]["get"].Case()
    with pytest.raises(FailureGroup) as raised:
        case.call_and_validate(base_url=live.url, session=live.session, headers=AUTH, checks=CHECKS)
    assert any("never_sent" in str(failure) for failure in raised.value.exceptions)
