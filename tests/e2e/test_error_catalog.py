"""The README's error table, row by row: every request-level code and every engine code, in-band
(no control call: ``trigger_<code>`` in a file name or request string, special keys) and by
scenario rule, against every feature or operation that can return it.

One in-process emulator for the module, reset through the control twin before each case; the
suite hook validates every response against the contract and the published documents.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support.flow import jpeg, mp4, png_mask
from youcam_mock.app import create_app
from youcam_mock.contract import Operation, load_contract
from youcam_mock.control import ControlError, InProcessControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY
from youcam_mock.core.errors import CATALOG, ENGINE_ERRORS
from youcam_mock.core.features import FeatureSpec
from youcam_testkit.requests import build_request

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS = ROOT / "fixtures" / "triggers"
CONTRACT = load_contract()
FEATURES: dict[str, FeatureSpec] = CONTRACT.features
KEYS = sorted(FEATURES)
OPERATIONS = sorted(CONTRACT.operations)

#: The request-level rows of the README table (status per the vendor's catalog).
CREATE_CODES = (
    "InvalidParameters",
    "BadRequest",
    "CreditInsufficiency",
    "InvalidStyleGroup",
    "InvalidStyle",
    "TooManyRequests",
)
POLL_CODES = ("TaskTimeout", "InvalidTaskId")
DELETE_CODES = ("OperationNotSupport", "OperationInvalid")
KEY_CODES = {"inactive_": "InactiveApiKey", "expired_": "ExpiredApiKey"}
AUTH_CODES = ("InvalidApiKey", "InactiveApiKey", "ExpiredApiKey")
REQUEST_LEVEL = (
    *CREATE_CODES,
    *POLL_CODES,
    *DELETE_CODES,
    *AUTH_CODES,
    "InvalidAccessToken",
)
CREDIT_HISTORY = "GET /s2s/v1.0/client/credit/history"
#: Engine codes some feature's EngineErrorCode lists; the rest of the seed table needs
#: ``engine_codes="seed"``.
CONTRACT_ENGINE = sorted({c for s in FEATURES.values() for c in s.engine_error_codes})
SEED_ONLY = sorted(set(ENGINE_ERRORS) - set(CONTRACT_ENGINE))
#: One image, one video, one text-only and one v2.1 feature: where a row does not depend on
#: the feature (the operation is shared, or any feature may return the code).
SAMPLES = ("v2.0/sod", "v2.0/video-sr", "v2.0/text-to-image/youcam", "v2.1/skin-analysis")
#: Features whose first input file is an image (bg-replace-vid: its ref_file), for the fixtures.
FIXTURE_FEATURES = ("v2.0/sod", "v2.1/skin-analysis", "v2.0/bg-replace-vid")

ENGINE_CASES = [
    pytest.param(key, code, id=f"{key}:{code}")
    for key in KEYS
    for code in FEATURES[key].engine_error_codes
]
FEATURE_CODE_CASES = [
    pytest.param(key, code, id=f"{key}:{code}") for key in KEYS for code in CREATE_CODES
]
POLL_CASES = [pytest.param(key, code, id=f"{key}:{code}") for key in KEYS for code in POLL_CODES]


# ---------------------------------------------------------------------- the harness


class Api:
    """The vendor API through Flask's test client, plus the control twin."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.control = InProcessControl(app)
        self._templates: dict[str, str | None] = {}

    def reset(self, **config: Any) -> None:
        self.control.reset(config=config or None)

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = DEFAULT_API_KEY
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        response = self.client.open(path, method=method, headers=headers, json=body)
        return response.status_code, response.get_json(silent=True)

    def template(self, spec: FeatureSpec) -> str | None:
        """A real template id where the request takes one (template lists are fixed per seed)."""
        if spec.key not in self._templates:
            wanted = spec.templates_path and "template_id" in json.dumps(spec.request_schema)
            template = None
            if wanted:
                assert spec.templates_path is not None
                status, body = self.call("GET", spec.templates_path)
                assert status == 200, body
                template = str(body["data"]["templates"][0]["id"])
            self._templates[spec.key] = template
        return self._templates[spec.key]

    def body(self, spec: FeatureSpec, *, trigger: str | None = None) -> dict[str, Any]:
        return self.bodies(spec, [trigger])[0]

    def bodies(self, spec: FeatureSpec, triggers: list[str | None]) -> list[dict[str, Any]]:
        """One valid task request per entry, their files registered in one File API call and
        uploaded.  A trigger names the request's first file ``trigger_<code>`` (the fixture's
        bytes, for an image); a feature without input files gets it in its ``prompt``."""
        names: list[str] = []

        def placeholder(name: str, index: int) -> str:
            names.append(name)
            return f"@{len(names) - 1}"

        template = self.template(spec)
        bodies = [build_request(spec, placeholder, template_id=template) for _ in triggers]
        if not names:
            for body, trigger in zip(bodies, triggers, strict=True):
                if trigger:
                    body["prompt"] = f"{body['prompt']} trigger_{trigger}"
            return bodies
        per_body = len(names) // len(triggers)
        files = [
            _input(spec, name, triggers[i // per_body] if i % per_body == 0 else None)
            for i, name in enumerate(names)
        ]
        status, reply = self.call(
            "POST",
            f"/s2s/{spec.version}/file/{spec.feature}",
            {
                "files": [
                    {"content_type": ctype, "file_name": fname, "file_size": len(data)}
                    for data, ctype, fname in files
                ]
            },
        )
        assert status == 200, reply
        ids = []
        for entry, (data, _, fname) in zip(reply["data"]["files"], files, strict=True):
            assert entry["file_name"] == fname
            put = entry["requests"][0]
            stored = self.client.put(
                put["url"].removeprefix("http://localhost"), data=data, headers=put["headers"]
            )
            assert stored.status_code == 200
            ids.append(entry["file_id"])
        return [_substitute(body, ids) for body in bodies]

    def url_body(self, spec: FeatureSpec, marker: str) -> dict[str, Any]:
        """A valid request naming its inputs by URL (no upload); ``marker`` goes in every URL
        (or the prompt, for a feature without inputs)."""
        body = build_request(
            spec,
            lambda name, index: f"https://example.com/{name}{index}_{marker}.jpg",
            by="url",
            template_id=self.template(spec),
        )
        if not any("_file_" in name for name in body):
            body["prompt"] = f"{body['prompt']} {marker}"
        return body

    def create(self, spec: FeatureSpec, body: dict[str, Any]) -> str:
        status, reply = self.call("POST", spec.create_path, body)
        assert status == 200, reply
        assert set(reply) == {"status", "data"} and reply["status"] == 200
        assert set(reply["data"]) == {"task_id"}
        return str(reply["data"]["task_id"])

    def poll(self, spec: FeatureSpec, task_id: str) -> tuple[int, Any]:
        return self.call("GET", spec.poll_path.replace("{task_id}", task_id))

    def finish(self, spec: FeatureSpec, task_id: str) -> list[dict[str, Any]]:
        """Poll to the terminal state (bounded); every poll's ``data``."""
        seen = []
        for _ in range(5):
            status, reply = self.poll(spec, task_id)
            assert status == 200 and reply["status"] == 200, reply
            seen.append(reply["data"])
            if reply["data"]["task_status"] != "running":
                return seen
        raise AssertionError(f"task still running after 5 polls: {seen}")


def _input(spec: FeatureSpec, name: str, trigger: str | None) -> tuple[bytes, str, str]:
    """(bytes, content type, file name) for one input field."""
    if spec.input == "video" and name.startswith("src"):
        return mp4(), "video/mp4", f"trigger_{trigger}.mp4" if trigger else "clip.mp4"
    if trigger:
        return (
            (TRIGGERS / f"trigger_{trigger}.jpg").read_bytes(),
            "image/jpeg",
            (f"trigger_{trigger}.jpg"),
        )
    if "msk" in name:
        return _MASK, "image/png", "mask.png"
    return _IMAGE, "image/jpg", "selfie.jpg"


_IMAGE = jpeg(256, 256)
_MASK = png_mask(256, 256)


def _substitute(body: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    def swap(value: Any) -> Any:
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, str) and value.startswith("@") and value[1:].isdigit():
            return ids[int(value[1:])]
        return value

    return {name: swap(value) for name, value in body.items()}


def assert_error(status: int, body: Any, code: str, *, message: str | None = None) -> None:
    """The vendor's flat envelope, exactly: ``{status, error, error_code}`` (429: no code)."""
    spec = CATALOG[code]
    assert status == spec.status, (status, body)
    expected_keys = {"status", "error", "error_code"} if spec.has_code else {"status", "error"}
    assert set(body) == expected_keys, body
    assert body["status"] == spec.status
    if spec.has_code:
        assert body["error_code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    if message is not None:
        assert body["error"] == message, body


def assert_engine_error(polls: list[dict[str, Any]], code: str, message: str) -> None:
    """The poll that ends the task: a 200 whose data carries this engine code, exactly."""
    assert polls[-1] == {"task_status": "error", "error": code, "error_message": message}, polls
    assert all(p["task_status"] == "running" for p in polls[:-1]), polls


def in_band(code: str) -> str:
    return f"{ENGINE_ERRORS[code]} (in-band trigger_{code})"


def path_of(operation: Operation) -> str:
    return operation.path.replace("{task_id}", "no-such-task")


def body_of(operation: Operation) -> Any:
    if operation.kind == "file":
        return {"files": [{"content_type": "image/jpg", "file_name": "a.jpg", "file_size": 9}]}
    if operation.kind == "task_delete":
        return {"task_id": "no-such-task"}
    if operation.kind == "task_create":
        spec = FEATURES[f"{operation.version}/{operation.feature}"]
        return build_request(spec, lambda name, index: "https://example.com/a.jpg", by="url")
    return None


@pytest.fixture(scope="module")
def api() -> Api:
    """One emulator for the module; every case starts with a reset through the control twin."""
    return Api(create_app(clock=ManualClock()))


#: Tasks finish on their first poll here (the ``running`` phase is test_scenarios' business).
QUICK = {"progression": {"running_polls": 0}}


# ---------------------------------------------------------------------- engine codes


@pytest.mark.parametrize(("key", "code"), ENGINE_CASES)
def test_engine_code_in_band_and_by_rule(api: Api, key: str, code: str) -> None:
    """In-band: the first input file registered as ``trigger_<code>.jpg`` (``.mp4`` for a video
    source; text-only features: ``trigger_<code>`` in the prompt).  By rule: an engine_error
    rule for the feature's next task.  Both end with a 200 poll: ``task_status`` "error",
    ``error`` the code."""
    spec = FEATURES[key]
    api.reset(**QUICK)
    triggered, plain = api.bodies(spec, [code, None])
    first = api.create(spec, triggered)
    api.control.fail(
        match={"feature": key, "operation": "task_create"}, action={"engine_error": code}, times=1
    )
    second = api.create(spec, plain)
    assert_engine_error(api.finish(spec, first), code, in_band(code))
    assert_engine_error(api.finish(spec, second), code, ENGINE_ERRORS[code])


@pytest.mark.parametrize("key", KEYS)
def test_engine_codes_outside_the_features_enum_are_refused(api: Api, key: str) -> None:
    """In-band: 400 InvalidParameters at task creation; by a rule naming the feature: the
    control API answers 400 InvalidParameters.  (Codes some other feature lists, and one of
    the seed-only codes.)"""
    spec = FEATURES[key]
    api.reset()
    refused = [c for c in CONTRACT_ENGINE if c not in spec.engine_error_codes]
    for code in [*refused, SEED_ONLY[len(key) % len(SEED_ONLY)]]:
        status, body = api.call("POST", spec.create_path, api.url_body(spec, f"trigger_{code}"))
        assert_error(status, body, "InvalidParameters")
        assert f"trigger_{code}" in body["error"]
        with pytest.raises(ControlError) as failed:
            api.control.fail(match={"feature": key}, action={"engine_error": code})
        assert failed.value.status == 400
        assert failed.value.body["error_code"] == "InvalidParameters"
    assert api.control.rules() == []


@pytest.mark.nonconforming_ok  # engine_codes="seed" sends codes outside the documents' enums
@pytest.mark.parametrize("key", SAMPLES)
@pytest.mark.parametrize("code", SEED_ONLY)
def test_seed_only_engine_codes_need_the_seed_setting(api: Api, key: str, code: str) -> None:
    """With engine_codes="seed": in-band, and by a rule that names no feature."""
    spec = FEATURES[key]
    api.reset(engine_codes="seed", **QUICK)
    triggered, plain = api.bodies(spec, [code, None])
    first = api.create(spec, triggered)
    api.control.fail(match={"operation": "task_create"}, action={"engine_error": code}, times=1)
    second = api.create(spec, plain)
    assert_engine_error(api.finish(spec, first), code, in_band(code))
    assert_engine_error(api.finish(spec, second), code, ENGINE_ERRORS[code])


@pytest.mark.nonconforming_ok
def test_seed_only_engine_code_rule_naming_the_feature_is_accepted_under_seed(api: Api) -> None:
    spec = FEATURES["v2.0/sod"]
    api.reset(engine_codes="seed", **QUICK)
    api.control.fail(match={"feature": "sod"}, action={"engine_error": "error_multiple_people"})
    task_id = api.create(spec, api.body(spec))
    polls = api.finish(spec, task_id)
    assert_engine_error(polls, "error_multiple_people", ENGINE_ERRORS["error_multiple_people"])


def test_an_inapplicable_engine_rule_is_not_used_up(api: Api) -> None:
    api.reset(**QUICK)
    api.control.fail(
        match={"operation": "task_create"}, action={"engine_error": "error_no_face"}, times=1
    )
    hair = FEATURES["v2.0/hair-color"]
    assert "error_no_face" not in hair.engine_error_codes
    assert api.finish(hair, api.create(hair, api.body(hair)))[-1]["task_status"] == "success"
    sod = FEATURES["v2.0/sod"]
    polls = api.finish(sod, api.create(sod, api.body(sod)))
    assert_engine_error(polls, "error_no_face", ENGINE_ERRORS["error_no_face"])


def test_a_trigger_followed_by_more_words_still_fires(api: Api) -> None:
    spec = FEATURES["v2.0/sod"]
    api.reset(**QUICK)
    body = api.url_body(spec, "trigger_error_no_face_v2")
    polls = api.finish(spec, api.create(spec, body))
    assert_engine_error(polls, "error_no_face", in_band("error_no_face"))


# ---------------------------------------------------------------------- request-level codes


@pytest.mark.parametrize(("key", "code"), FEATURE_CODE_CASES)
def test_create_code_in_band_and_by_rule(api: Api, key: str, code: str) -> None:
    """Raised at task creation: ``trigger_<code>`` in any request string (here the input URL,
    or the prompt); by rule: an http_error on the feature's task_create."""
    spec = FEATURES[key]
    api.reset()
    status, body = api.call("POST", spec.create_path, api.url_body(spec, f"trigger_{code}"))
    assert_error(status, body, code, message=f"{CATALOG[code].message} (in-band trigger_{code})")
    api.control.fail(
        match={"feature": key, "operation": "task_create"},
        action={"http_error": code, "message": f"scripted {code}"},
    )
    status, body = api.call("POST", spec.create_path, api.url_body(spec, "plain"))
    assert_error(status, body, code, message=f"scripted {code}")


@pytest.mark.parametrize(("key", "code"), POLL_CASES)
def test_poll_code_in_band_and_by_rule(api: Api, key: str, code: str) -> None:
    """In-band: polls of a task created with ``trigger_<code>``; by rule: an http_error on the
    feature's task_poll (here once: the next poll answers 200 again)."""
    spec = FEATURES[key]
    api.reset(**QUICK)
    triggered = api.create(spec, api.url_body(spec, f"trigger_{code}"))
    plain = api.create(spec, api.url_body(spec, "plain"))
    status, body = api.poll(spec, triggered)
    assert_error(status, body, code)
    api.control.fail(
        match={"feature": key, "operation": "task_poll"}, action={"http_error": code}, times=1
    )
    status, body = api.poll(spec, plain)
    assert_error(status, body, code)
    status, body = api.poll(spec, "no-such-task")  # unknown ids: InvalidTaskId, no trigger
    assert_error(status, body, "InvalidTaskId")


@pytest.mark.parametrize("code", CREATE_CODES + POLL_CODES + DELETE_CODES)
@pytest.mark.parametrize("key", FIXTURE_FEATURES)
def test_trigger_fixture_files_fire_when_uploaded(api: Api, key: str, code: str) -> None:
    """fixtures/triggers/trigger_<code>.jpg, registered under its own name, is the trigger."""
    spec = FEATURES[key]
    api.reset(**QUICK)
    body = api.body(spec, trigger=code)
    if code in CREATE_CODES:
        status, reply = api.call("POST", spec.create_path, body)
        assert_error(status, reply, code)
        return
    task_id = api.create(spec, body)
    if code in POLL_CODES:
        for _ in range(2):  # every later poll of that task
            status, reply = api.poll(spec, task_id)
            assert_error(status, reply, code)
        return
    api.finish(spec, task_id)
    status, reply = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": task_id})
    assert_error(status, reply, code)


@pytest.mark.parametrize("code", DELETE_CODES)
@pytest.mark.parametrize("key", SAMPLES)
def test_delete_code_in_band_and_by_rule(api: Api, key: str, code: str) -> None:
    """Task delete is one operation for every feature: tasks of four kinds of feature."""
    spec = FEATURES[key]
    api.reset(**QUICK)
    triggered = api.create(spec, api.url_body(spec, f"trigger_{code}"))
    plain = api.create(spec, api.url_body(spec, "plain"))
    api.finish(spec, triggered)
    api.finish(spec, plain)
    status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": triggered})
    assert_error(status, body, code)
    api.control.fail(match={"operation": "task_delete"}, action={"http_error": code}, times=1)
    status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": plain})
    assert_error(status, body, code)
    status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": plain})
    assert (status, body) == (200, {"status": 200})


def test_natural_causes(api: Api) -> None:
    """The in-band column's causes that need no trigger."""
    sod, hair = FEATURES["v2.0/sod"], FEATURES["v2.0/hair-style"]
    api.reset()
    status, body = api.call("POST", sod.create_path, {})  # src_file_id/url missing
    assert_error(status, body, "InvalidParameters")
    request = api.url_body(hair, "plain")
    status, body = api.call("POST", hair.create_path, {**request, "template_id": "1"})
    assert_error(status, body, "InvalidStyle")
    task_id = api.create(sod, api.url_body(sod, "plain"))
    api.control.advance(seconds=25 * 3600)  # past the 24 h retention
    status, body = api.poll(sod, task_id)
    assert_error(status, body, "InvalidTaskId")
    status, body = api.call("GET", f"{hair.templates_path}?page_size=99")
    assert_error(status, body, "InvalidParameters")
    api.reset(units=0)
    status, body = api.call("POST", sod.create_path, api.url_body(sod, "plain"))
    assert_error(status, body, "CreditInsufficiency")
    api.reset()
    before = api.call("GET", "/s2s/v1.0/client/credit")[1]["results"][0]["amount_dec"]
    request = api.url_body(sod, "trigger_CreditInsufficiency")
    assert api.call("POST", sod.create_path, request)[0] == 400
    after = api.call("GET", "/s2s/v1.0/client/credit")[1]["results"][0]["amount_dec"]
    assert before == after  # nothing charged


def test_a_rule_code_the_operation_does_not_list_is_sent_as_its_first_listed_code(
    api: Api,
) -> None:
    """The v2.0 sod poll documents only InvalidTaskId for 400."""
    api.reset()
    api.control.fail(match={"operation": "task_poll"}, action={"http_error": "InvalidStyle"})
    status, body = api.poll(FEATURES["v2.0/sod"], "no-such-task")
    assert_error(status, body, "InvalidTaskId")


@pytest.mark.nonconforming_ok  # seed codes are outside the documents' enums on purpose
def test_seed_setting_also_reports_input_checks_with_the_seed_codes(api: Api) -> None:
    """A JPEG as a video feature's source: error_decode_video with engine_codes="seed", the
    nearest listed code (error_decode_image) without."""
    spec = FEATURES["v2.0/video-sr"]
    for setting, code in (("seed", "error_decode_video"), ("contract", "error_decode_image")):
        api.reset(engine_codes=setting, **QUICK)
        _, reply = api.call(
            "POST",
            "/s2s/v2.0/file/video-sr",
            {
                "files": [
                    {"content_type": "image/jpg", "file_name": "a.jpg", "file_size": len(_IMAGE)}
                ]
            },
        )
        entry = reply["data"]["files"][0]
        put = entry["requests"][0]
        api.client.put(
            put["url"].removeprefix("http://localhost"), data=_IMAGE, headers=put["headers"]
        )
        file_id = str(entry["file_id"])
        body = build_request(spec, lambda name, index, file_id=file_id: file_id)
        polls = api.finish(spec, api.create(spec, body))
        assert polls[-1]["error"] == code, polls
    api.reset()


def test_natural_delete_errors(api: Api) -> None:
    """Without triggers: a running task is OperationInvalid, an unknown one InvalidTaskId."""
    spec = FEATURES["v2.0/sod"]
    api.reset()
    task_id = api.create(spec, api.url_body(spec, "plain"))
    status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": task_id})
    assert_error(status, body, "OperationInvalid")
    status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": "no-such-task"})
    assert_error(status, body, "InvalidTaskId")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_key_codes_in_band_on_every_operation(api: Api, operation: str) -> None:
    """An unknown key: InvalidApiKey; ``inactive_*`` / ``expired_*`` keys: Inactive/Expired,
    with no configuration; the v1.0 credit history answers InvalidAccessToken for any of them
    (its document's only 401 code)."""
    op = CONTRACT.operations[operation]
    path, body = path_of(op), body_of(op)
    api.reset()
    for key, code in [
        ("wrong-key", "InvalidApiKey"),
        *((p + "k", c) for p, c in KEY_CODES.items()),
    ]:
        status, reply = api.call(op.method, path, body, key=key)
        assert_error(status, reply, "InvalidAccessToken" if operation == CREDIT_HISTORY else code)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": DEFAULT_API_KEY}, {"Authorization": f"Bearer <{DEFAULT_API_KEY}>"}],
    ids=["no-header", "no-bearer-prefix", "angle-brackets"],
)
def test_the_vendors_auth_pitfalls_are_invalid_api_key(api: Api, headers: dict[str, str]) -> None:
    api.reset()
    for path in ("/s2s/v1.0/client/credit", "/s2s/v2.0/task/template/hair-style"):
        response = api.client.get(path, headers=headers)
        assert_error(response.status_code, response.get_json(), "InvalidApiKey")


@pytest.mark.parametrize("code", AUTH_CODES)
@pytest.mark.parametrize(
    "operation",
    [
        "POST /s2s/v2.0/file",
        "POST /s2s/v2.0/task/sod",
        "GET /s2s/v2.0/task/sod/{task_id}",
        "GET /s2s/v2.0/task/template/hair-style",
        "POST /s2s/v2.0/task/delete",
        "GET /s2s/v1.0/client/credit",
        "GET /s2s/v2.0/credit/feature-cost",
        CREDIT_HISTORY,
    ],
)
def test_key_codes_by_rule(api: Api, operation: str, code: str) -> None:
    """A valid key, refused anyway: rules act before authentication."""
    op = CONTRACT.operations[operation]
    api.reset()
    api.control.fail(match={"operation": op.kind}, action={"http_error": code})
    status, body = api.call(op.method, path_of(op), body_of(op))
    assert_error(status, body, "InvalidAccessToken" if operation == CREDIT_HISTORY else code)


def test_rules_act_before_authentication(api: Api) -> None:
    api.reset()
    api.control.fail(action={"http_error": "TooManyRequests"}, times=1)
    status, body = api.call("GET", "/s2s/v1.0/client/credit", key="wrong-key")
    assert_error(status, body, "TooManyRequests")
    status, body = api.call("GET", "/s2s/v1.0/client/credit", key="wrong-key")
    assert_error(status, body, "InvalidApiKey")


def test_every_trigger_fixture_is_there() -> None:
    """fixtures/triggers holds one decodable JPEG per in-band-triggerable code."""
    wanted = {f"trigger_{c}.jpg" for c in (*CREATE_CODES, *POLL_CODES, *DELETE_CODES)}
    wanted |= {f"trigger_{c}.jpg" for c in ENGINE_ERRORS}
    assert {p.name for p in TRIGGERS.glob("*.jpg")} == wanted
    assert all((TRIGGERS / name).read_bytes()[:2] == b"\xff\xd8" for name in wanted)


def test_invalid_access_token_by_rule(api: Api) -> None:
    api.reset()
    api.control.fail(
        match={"path": "/s2s/v1.0/client/credit/history"},
        action={"http_error": "InvalidAccessToken"},
    )
    status, body = api.call("GET", "/s2s/v1.0/client/credit/history")
    assert_error(status, body, "InvalidAccessToken")
    status, body = api.call("GET", "/s2s/v1.0/client/credit")  # other paths unaffected
    assert status == 200, body


@pytest.mark.parametrize("operation", OPERATIONS)
def test_too_many_requests_by_rule_on_any_operation(api: Api, operation: str) -> None:
    op = CONTRACT.operations[operation]
    api.reset()
    api.control.fail(
        match={"method": op.method, "path": op.path.replace("{task_id}", "*")},
        action={"http_error": "TooManyRequests", "retry_after": 2},
    )
    response = api.client.open(
        path_of(op),
        method=op.method,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        json=body_of(op),
    )
    assert_error(response.status_code, response.get_json(), "TooManyRequests")
    assert response.headers["Retry-After"] == "2"


def test_too_many_requests_in_band_by_the_rate_limit(api: Api) -> None:
    """No trigger needed: the configured rate limit answers 429 (no Retry-After by default)."""
    api.reset(rate_limit="2/1")
    statuses = [api.call("GET", "/s2s/v1.0/client/credit")[0] for _ in range(2)]
    response = api.client.get(
        "/s2s/v1.0/client/credit", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    )
    assert statuses == [200, 200]
    assert_error(response.status_code, response.get_json(), "TooManyRequests")
    assert "Retry-After" not in response.headers
    api.reset(rate_limit="off")


# ---------------------------------------------------------------------- the README table


def _readme_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- error-table:start -->") : text.index("<!-- error-table:end -->")]
    rows = {}
    for line in table.splitlines():
        found = re.match(r"\|\s*`(\w+)`\s*\|", line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_the_readme_table_has_a_row_for_every_code() -> None:
    rows = _readme_rows()
    wanted = {*REQUEST_LEVEL, *ENGINE_ERRORS}
    assert set(rows) == wanted, set(rows) ^ wanted
    for code in SEED_ONLY:
        assert 'engine_codes="seed"' in rows[code], rows[code]
    stated: set[str] = set()
    for code in (c for c in rows if c in CONTRACT_ENGINE):  # in the table's order
        missing = {
            k.split("/", 1)[1] for k, s in FEATURES.items() if code not in s.engine_error_codes
        }
        assert f"{len(FEATURES) - len(missing)} features" in rows[code], (code, rows[code])
        listed = re.search(r"\(not ([^)]*)\)", rows[code])
        if listed:
            stated = {name.strip() for name in listed.group(1).split(",")}
        elif "(as above)" not in rows[code]:
            stated = set()
        assert stated == missing, (code, stated ^ missing)
    for code in REQUEST_LEVEL:
        assert f"{CATALOG[code].status}" in rows[code], rows[code]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(code, marks=[pytest.mark.nonconforming_ok] if code in SEED_ONLY else [])
        for code in (*REQUEST_LEVEL, *ENGINE_ERRORS)
    ],
)
def test_the_readme_rule_of_each_row_does_what_the_row_says(api: Api, code: str) -> None:
    """Each row's rule (the JSON in backticks in the last cell) is accepted by the control
    API and, on the row's operation, produces the row's code."""
    line = _readme_rows()[code]
    last_cell = line.rstrip().removesuffix("|").rsplit("|", 1)[1]
    rules = re.findall(r"`(\{.*?\})`", last_cell)
    assert len(rules) == 1, line
    rule = json.loads(rules[0])
    api.reset(engine_codes="seed" if code in SEED_ONLY else "contract", **QUICK)
    api.control.add_rule(rule=rule)
    skin = FEATURES["v2.0/skin-analysis"]
    if code in ENGINE_ERRORS:
        assert rule["action"] == {"engine_error": code}
        polls = api.finish(skin, api.create(skin, api.body(skin)))
        assert_engine_error(polls, code, ENGINE_ERRORS[code])
        return
    assert rule["action"]["http_error"] == code
    operation = rule.get("match", {}).get("operation")
    if operation == "task_create":
        status, body = api.call("POST", skin.create_path, api.url_body(skin, "plain"))
    elif operation == "task_poll":
        status, body = api.poll(skin, api.create(skin, api.url_body(skin, "plain")))
    elif operation == "task_delete":
        status, body = api.call("POST", "/s2s/v2.0/task/delete", {"task_id": "x"})
    else:
        path = rule.get("match", {}).get("path", "/s2s/v1.0/client/credit")
        status, body = api.call("GET", path)
    assert_error(status, body, code)
