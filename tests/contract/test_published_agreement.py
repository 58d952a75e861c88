"""Real responses agree with the vendor's published documents, checked explicitly.

The suite-wide hook (``tests/conftest.py``) already validates every response; here a
representative set of operations (the File API and its aliases, one poll per result shape,
every template list, credit, credit history, feature cost, delete, documented errors) is run
through ``create_app()`` with the Flask test client and each vendor response is passed to
:func:`tests.support.oracle.validate` by hand, so a silent hook could not hide a violation.
The oracle is then shown to flag deliberately broken bodies, and the hook to fail a test that
received one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.flow import Flow, Reply, input_for
from tests.support.oracle import PUBLISHED, published_specs, spec_path_for, validate
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY
from youcam_mock.core.features import FeatureSpec
from youcam_testkit.requests import build_request

JSON = dict[str, Any]


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """A :class:`Flow` sender over the Flask test client that keeps every exchange."""

    client: Any
    exchanges: list[Exchange] = field(default_factory=list)

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.open(target, method=method, headers=headers, data=body)
        self.exchanges.append(
            Exchange(
                method,
                parts.path,
                dict(parse_qsl(parts.query)),
                response.status_code,
                response.get_data(),
                response.content_type or "",
            )
        )
        return Reply(response.status_code, dict(response.headers), response.get_data())

    def take(self) -> list[Exchange]:
        taken, self.exchanges = self.exchanges, []
        return taken


@dataclass
class Emulator:
    recorder: Recorder
    flow: Flow
    clock: ManualClock

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Exchange:
        headers = dict(self.flow.auth)
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = None if body is None else json.dumps(body).encode()
        self.recorder.send(method, f"http://localhost{path}", headers, data)
        return self.recorder.exchanges[-1]


@pytest.fixture
def emulator() -> Emulator:
    app = create_app(clock=ManualClock())
    recorder = Recorder(app.test_client())
    return Emulator(
        recorder,
        Flow(recorder.send, "http://localhost", DEFAULT_API_KEY),
        app.extensions["youcam_mock"].clock,
    )


def agree(exchanges: list[Exchange]) -> list[Exchange]:
    """Validate every vendor exchange explicitly; return them (storage URLs are not vendor's)."""
    checked = [e for e in exchanges if spec_path_for(e.path) is not None]
    assert checked, "no vendor response to check"
    for exchange in checked:
        violations = validate(
            exchange.method,
            exchange.path,
            exchange.status,
            exchange.body,
            exchange.content_type,
            exchange.query,
        )
        assert violations == [], "\n".join(map(str, violations))
        if PUBLISHED.is_dir():  # the published document was consulted, not just the contract
            assert published_specs().get(spec_path_for(exchange.path) or "") is not None
    return checked


def run_task(emulator: Emulator, spec: FeatureSpec, extra: JSON | None = None) -> list[JSON]:
    """Register + upload inputs, create the task, poll to the end; the poll bodies."""
    flow = emulator.flow
    body = build_request(
        spec,
        lambda name, index: flow.upload(*input_for(spec, name)),
        template_id=flow.first_template(spec),
        extra=extra,
    )
    created = emulator.call("POST", spec.create_path, body)
    assert created.status == 200, created.body
    task_id = created.json()["data"]["task_id"]
    polls = []
    for _ in range(10):
        polled = emulator.call("GET", spec.poll_path.replace("{task_id}", task_id))
        assert polled.status == 200, polled.body
        polls.append(polled.json()["data"])
        if polls[-1]["task_status"] != "running":
            break
    return polls


def _shape(schema: Any) -> Any:
    """A results schema without the values that differ between features of one shape."""
    if isinstance(schema, dict):
        return {
            k: _shape(v)
            for k, v in sorted(schema.items())
            if k not in ("example", "default", "enum", "minimum", "maximum", "format")
        }
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def one_feature_per_result_shape() -> list[str]:
    chosen: dict[str, str] = {}
    for key, spec in sorted(load_contract().features.items()):
        chosen.setdefault(json.dumps(_shape(spec.results_schema)), key)
    return sorted(chosen.values())


SHAPES = one_feature_per_result_shape()


# ------------------------------------------------------------------------------- File API


@pytest.mark.parametrize(
    "path",
    [
        "/s2s/v2.0/file",
        "/s2s/v2.0/file/2d-vto/ring",
        "/s2s/v2.0/file/obj-rem-vid",
        "/s2s/v2.0/file/skin-analysis",  # per-feature alias the seed document and clients use
        "/s2s/v2.1/file/hair-transfer",
    ],
)
def test_file_api_agrees_with_the_file_document(emulator: Emulator, path: str) -> None:
    files = [
        {"content_type": "image/jpg", "file_name": "selfie.jpg", "file_size": 1234},
        {"content_type": "video/mp4", "file_name": "clip.mp4", "file_size": 99999},
    ]
    reply = emulator.call("POST", path, {"files": files})
    assert reply.status == 200, reply.body
    (checked,) = agree(emulator.recorder.take())
    entries = checked.json()["data"]["files"]
    assert [(e["content_type"], e["file_name"]) for e in entries] == [
        (f["content_type"], f["file_name"]) for f in files
    ]
    for entry, sent in zip(entries, files, strict=True):
        (upload,) = entry["requests"]
        assert upload["method"] == "PUT" and upload["url"].startswith("http://localhost/")
        assert upload["headers"] == {
            "Content-Type": sent["content_type"],
            "Content-Length": str(sent["file_size"]),
        }


# ------------------------------------------------------------------------------- polls


def test_every_result_shape_is_represented() -> None:
    assert len(SHAPES) >= 15
    for key in ("v2.0/aging", "v2.0/body-reshape", "v2.0/face-swap/pre-process"):
        assert key in SHAPES


@pytest.mark.parametrize("key", SHAPES)
def test_poll_of_each_result_shape_agrees(emulator: Emulator, key: str) -> None:
    spec = load_contract().features[key]
    polls = run_task(emulator, spec)
    assert [p["task_status"] for p in polls] == ["running", "success"]
    assert polls[-1]["results"]
    checked = agree(emulator.recorder.take())
    assert sum(1 for e in checked if e.method == "GET" and e.path.startswith(spec.create_path)) == 2


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_skin_analysis_json_scores_agree(emulator: Emulator, version: str) -> None:
    spec = load_contract().features[f"{version}/skin-analysis"]
    polls = run_task(emulator, spec, {"format": "json"})
    output = polls[-1]["results"]["output"]
    assert output and {"type", "ui_score", "raw_score", "mask_urls"} <= set(output[0])
    agree(emulator.recorder.take())


# ------------------------------------------------------------------------------- lists


@pytest.mark.parametrize(
    "path", sorted(t["path"] for t in load_contract().data["features"]["templates"])
)
def test_template_list_pages_agree(emulator: Emulator, path: str) -> None:
    first = emulator.call("GET", f"{path}?page_size=5")
    data = first.json()["data"]
    assert len(data["templates"]) == 5 and data["next_token"]
    ids = [t["id"] for t in data["templates"]]
    assert all(isinstance(i, str) and int(i) > 2**53 for i in ids)
    second = emulator.call("GET", f"{path}?page_size=5&starting_token={data['next_token']}")
    assert not set(ids) & {t["id"] for t in second.json()["data"]["templates"]}
    emulator.call("GET", path)  # the default page
    agree(emulator.recorder.take())


def test_credit_history_and_feature_cost_agree(emulator: Emulator) -> None:
    run_task(emulator, load_contract().features["v2.0/sod"])
    run_task(emulator, load_contract().features["v2.0/skin-analysis"])
    credit = emulator.call("GET", "/s2s/v1.0/client/credit")
    (balance,) = credit.json()["results"]
    assert balance["type"] in ("ApiSubsToken", "ApiPaygToken")
    history = emulator.call("GET", "/s2s/v1.0/client/credit/history?page_size=2")
    result = history.json()["result"]
    assert len(result["history"]) == 2 and result["next_token"]
    emulator.call(
        "GET", f"/s2s/v1.0/client/credit/history?page_size=2&starting_token={result['next_token']}"
    )
    cost = emulator.call("GET", "/s2s/v2.0/credit/feature-cost")
    page = cost.json()["result"]
    assert len(page["skus"]) == 20 and page["next_token"]
    assert {sku["unit"] for sku in page["skus"]} <= {"result_image", "second"}
    emulator.call("GET", f"/s2s/v2.0/credit/feature-cost?starting_token={page['next_token']}")
    agree(emulator.recorder.take())


# ------------------------------------------------------------------------------- delete, errors


def test_task_delete_agrees(emulator: Emulator) -> None:
    spec = load_contract().features["v2.0/sod"]
    run_task(emulator, spec)
    finished = emulator.recorder.exchanges[-1].path.rsplit("/", 1)[-1]
    file_id = emulator.flow.upload(*input_for(spec, "src_file_id"))
    running = emulator.call("POST", spec.create_path, {"src_file_id": file_id}).json()["data"]
    statuses = [
        emulator.call("POST", "/s2s/v2.0/task/delete", {"task_id": finished}).status,
        emulator.call("POST", "/s2s/v2.0/task/delete", {"task_id": finished}).status,
        emulator.call("POST", "/s2s/v2.0/task/delete", {"task_id": running["task_id"]}).status,
        emulator.call("POST", "/s2s/v2.0/task/delete", {}).status,
    ]
    assert statuses == [200, 400, 400, 400]
    codes = [e.json().get("error_code") for e in emulator.recorder.exchanges[-3:]]
    assert codes == ["InvalidTaskId", "OperationInvalid", "InvalidParameters"]
    agree(emulator.recorder.take())


def test_documented_errors_agree(emulator: Emulator) -> None:
    for path in ("/s2s/v1.0/client/credit", "/s2s/v1.0/client/credit/history"):
        assert emulator.call("GET", path, key="wrong-key").status == 401
    assert emulator.call("POST", "/s2s/v2.0/task/sod", {}, key="wrong-key").status == 401
    assert emulator.call("POST", "/s2s/v2.0/file", {"files": []}).status == 400
    assert emulator.call("POST", "/s2s/v2.0/task/sod", {}).status == 400
    assert emulator.call("POST", "/s2s/v2.0/task/sod", {"src_file_id": "nope"}).status == 400
    assert emulator.call("GET", "/s2s/v2.0/task/sod/no-such-task").status == 400
    assert emulator.call("GET", "/s2s/v2.1/task/skin-analysis/no-such-task").status == 400
    assert emulator.call("GET", "/s2s/v2.0/task/template/hair-style?page_size=0").status == 400
    assert (
        emulator.call(
            "POST", "/s2s/v2.0/task/hair-style", {"src_file_id": "x", "template_id": "1"}
        ).status
        == 400
    )
    agree(emulator.recorder.take())


@pytest.mark.nonconforming_ok  # the undocumented 500 is the bug itself
def test_a_size_with_a_zero_side_does_not_break_the_poll(emulator: Emulator) -> None:
    spec = load_contract().features["v2.0/image-to-image/youcam"]
    flow = emulator.flow
    body = build_request(spec, lambda name, index: flow.upload(*input_for(spec, name)))
    created = emulator.call("POST", spec.create_path, {**body, "size": "0*5"})
    if created.status == 200:  # else refused up front: also fine, if documented
        task_id = created.json()["data"]["task_id"]
        for _ in range(3):
            polled = emulator.call("GET", spec.poll_path.replace("{task_id}", task_id))
            assert polled.status == 200, polled.body
    agree(emulator.recorder.take())


# ------------------------------------------------------------------------------- the oracle bites


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
    def apply(body: Any) -> None:
        node = body
        for token in path[:-1]:
            node = node[token]
        node[path[-1]] = value

    return apply


BREAKAGES: list[tuple[str, str, Any, Callable[[Any], None]]] = [
    # (name, method, path or feature key, mutation)
    ("file-id-integer", "POST", "/s2s/v2.0/file", _set(("data", "files", 0, "file_id"), 7)),
    (
        "upload-header-integer",
        "POST",
        "/s2s/v2.0/file",
        _set(("data", "files", 0, "requests", 0, "headers", "Content-Length"), 1234),
    ),
    ("task-status-bogus", "POLL", "v2.0/sod", _set(("data", "task_status"), "bogus")),
    ("result-url-integer", "POLL", "v2.0/sod", _set(("data", "results", "url"), 5)),
    ("output-not-a-list", "POLL", "v2.0/ai-avatar", _set(("data", "results", "output"), "x")),
    ("error-unknown-code", "POLL", "v2.0/sod", _set(("data", "error"), "error_bogus")),
    (
        "template-id-integer",
        "GET",
        "/s2s/v2.0/task/template/hair-style",
        _set(("data", "templates", 0, "id"), 12),
    ),
    ("credit-type-unknown", "GET", "/s2s/v1.0/client/credit", _set(("results", 0, "type"), "Gift")),
    (
        "history-not-a-list",
        "GET",
        "/s2s/v1.0/client/credit/history",
        _set(("result", "history"), {}),
    ),
    ("skus-not-a-list", "GET", "/s2s/v2.0/credit/feature-cost", _set(("result", "skus"), 3)),
    ("status-a-string", "GET", "/s2s/v1.0/client/credit", _set(("status",), "200")),
]


def _real_response(emulator: Emulator, method: str, target: str) -> Exchange:
    if method == "POLL":
        run_task(emulator, load_contract().features[target])
        return next(e for e in reversed(emulator.recorder.exchanges) if e.method == "GET")
    if target == "/s2s/v2.0/file":
        files = [{"content_type": "image/png", "file_name": "a.png", "file_size": 10}]
        return emulator.call(method, target, {"files": files})
    return emulator.call(method, target)


@pytest.mark.parametrize(
    ("method", "target", "mutate"),
    [(m, t, f) for _, m, t, f in BREAKAGES],
    ids=[name for name, *_ in BREAKAGES],
)
def test_oracle_flags_a_deliberately_broken_body(
    emulator: Emulator, method: str, target: str, mutate: Callable[[Any], None]
) -> None:
    real = _real_response(emulator, method, target)
    assert real.status == 200
    assert agree([real])
    body = copy.deepcopy(real.json())
    mutate(body)
    violations = validate(
        real.method,
        real.path,
        real.status,
        json.dumps(body).encode(),
        real.content_type,
        real.query,
    )
    sources = {v.source for v in violations}
    assert "contract" in sources, violations
    if PUBLISHED.is_dir():
        assert "published" in sources, violations


_INNER_TEST = """
import pytest
from youcam_mock.app import create_app
from youcam_mock.core.config import DEFAULT_API_KEY

AUTH = {"Authorization": "Bearer " + DEFAULT_API_KEY}


def credit(corrupt):
    app = create_app()
    if corrupt:
        @app.after_request
        def _corrupt(response):
            response.set_data(b'{"status": 200, "results": "not a list"}')
            return response
    return app.test_client().get("/s2s/v1.0/client/credit", headers=AUTH).status_code


def test_conforming():
    assert credit(corrupt=False) == 200


def test_nonconforming():
    assert credit(corrupt=True) == 200


@pytest.mark.nonconforming_ok
def test_nonconforming_on_purpose():
    assert credit(corrupt=True) == 200
"""


@pytest.mark.nonconforming_ok  # the inner session's broken responses pass the outer hook too
def test_suite_hook_fails_a_test_that_received_a_nonconforming_response(
    pytester: pytest.Pytester,
) -> None:
    conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    pytester.makeconftest(conftest.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    nonconforming_ok: provokes bad responses\n")
    pytester.makepyfile(test_inner=_INNER_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    # The hook fails the test in its teardown: pytest reports that as an error of the test.
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_nonconforming *",
            "*Failed: responses violate the contract:*",
            "*contract: GET /s2s/v1.0/client/credit -> 200*",
            "*published: GET /s2s/v1.0/client/credit -> 200*",
        ]
        if PUBLISHED.is_dir()
        else [
            "*ERROR at teardown of test_nonconforming *",
            "*Failed: responses violate the contract:*",
        ]
    )
