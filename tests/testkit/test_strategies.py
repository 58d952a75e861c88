"""youcam_testkit.strategies: every drawn value is what it claims to be, checked against the
contract's validators, Pillow, the scenario rule parser and the in-process emulator."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import find as hypothesis_find
from hypothesis import strategies as st
from PIL import Image

from tests.support.flow import Flow, flask_sender, input_for
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core import media
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY
from youcam_mock.core.errors import ENGINE_ERRORS
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.scenarios import rule_from_dict
from youcam_testkit import strategies as yst

CONTRACT = load_contract()
FEATURES = sorted(CONTRACT.features)
SKIN = "v2.0/skin-analysis"


def find(specifier: Any, condition: Callable[[Any], object], **kwargs: Any) -> Any:
    """hypothesis.find with a fixed seed and no example database: the same minimal example
    every run, however busy the machine (no flaky searches)."""
    kwargs.setdefault("settings", settings(database=None, max_examples=1000))
    return hypothesis_find(specifier, condition, random=random.Random(0), **kwargs)


def schema_error(spec: FeatureSpec, body: Any) -> str | None:
    validator = CONTRACT.validator(f"POST {spec.create_path}")
    assert validator is not None
    return validator.error(body)


def skin_rules_hold(spec: FeatureSpec, body: dict[str, Any]) -> bool:
    """The emulator's documented rules beyond the schema (FACTS.md)."""
    if spec.feature != "skin-analysis":
        return True
    actions = body["dst_actions"]
    tiers = {a.startswith("hd_") for a in actions}
    return bool(actions) and len(tiers) == 1 and len(set(actions)) == len(actions)


@pytest.fixture(scope="module")
def flow() -> Flow:
    app = create_app(clock=ManualClock())
    return Flow(flask_sender(app.test_client()), "http://localhost", DEFAULT_API_KEY)


# ------------------------------------------------------------------------------ features


@pytest.mark.parametrize("kind", ["image", "video", "none"])
@settings(max_examples=15)
@given(data=st.data())
def test_features_filters_by_input_kind(kind: str, data: st.DataObject) -> None:
    spec = data.draw(yst.features(input=kind))
    assert spec.input == kind
    assert CONTRACT.features[spec.key] is spec


def test_features_rejects_unknown_input_kind() -> None:
    with pytest.raises(ValueError, match="input"):
        yst.features(input="audio")


def test_feature_names_resolve_by_key_or_unambiguous_slug() -> None:
    assert find(yst.engine_errors(feature="sod"), lambda _: True) in ENGINE_ERRORS
    with pytest.raises(ValueError, match="ambiguous"):
        yst.task_requests(feature="skin-analysis")
    with pytest.raises(ValueError, match="unknown feature"):
        yst.engine_errors(feature="no-such-feature")


# ------------------------------------------------------------------------------ task requests


@pytest.mark.parametrize("key", FEATURES)
@settings(max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_feature_draws_bodies_its_schema_accepts(key: str, data: st.DataObject) -> None:
    spec, body = data.draw(yst.task_requests(feature=key))
    assert spec.key == key
    assert schema_error(spec, body) is None, body
    assert skin_rules_hold(spec, body)
    assert len(json.dumps(body)) < 4000  # small, realistic bodies


@settings(max_examples=150)
@given(yst.task_requests())
def test_any_feature_body_is_valid(request: yst.TaskRequest) -> None:
    assert schema_error(request.feature, request.body) is None, request.body
    assert skin_rules_hold(request.feature, request.body)


def supplier(name: str, index: int) -> str:
    return f"file-{name}-{index}"


@settings(max_examples=60)
@given(data=st.data())
def test_file_fields_come_from_the_supplier(data: st.DataObject) -> None:
    spec, body = data.draw(
        yst.task_requests(feature=data.draw(yst.features(input="image")), files=supplier)
    )
    named = {name: value for name, value in body.items() if name in spec.file_fields}
    assert named, body
    for name, value in named.items():
        values = value if isinstance(value, list) else [value]
        assert values == [f"file-{name}-{i}" for i in range(len(values))]


@pytest.mark.parametrize("by", ["id", "url"])
@settings(max_examples=40)
@given(data=st.data())
def test_by_keeps_one_way_of_naming_files(by: str, data: st.DataObject) -> None:
    spec, body = data.draw(yst.task_requests(by=by))
    other = "_url" if by == "id" else "_id"
    assert not [n for n in body if n in spec.file_fields and n.rstrip("s").endswith(other)]
    assert schema_error(spec, body) is None


def test_templates_supplier_names_the_template() -> None:
    request = find(
        yst.task_requests(feature="v2.0/hair-style", templates=lambda spec: ["42", "43"]),
        lambda _: True,
        settings=settings(database=None),
    )
    assert request.body["template_id"] == "42"


def test_requests_shrink_to_the_required_fields_only() -> None:
    minimal = find(
        yst.task_requests(feature=SKIN), lambda _: True, settings=settings(database=None)
    )
    assert set(minimal.body) == {"dst_actions", "src_file_url"}
    assert len(minimal.body["dst_actions"]) == 1


def test_the_emulator_accepts_drawn_requests(flow: Flow) -> None:
    """Bodies naming really uploaded files and real template ids create tasks (200)."""
    uploaded: dict[tuple[str, bool, bool], str] = {}
    templates: dict[str, list[str]] = {}

    def files_for(spec: FeatureSpec) -> Callable[[str, int], str]:
        def supply(name: str, index: int) -> str:
            key = (spec.input, "msk" in name, name.startswith("src"))
            if key not in uploaded:
                uploaded[key] = flow.upload(*input_for(spec, name))
            return uploaded[key]

        return supply

    def template_ids(spec: FeatureSpec) -> list[str]:
        if spec.key not in templates:
            ids: list[str] = []
            if spec.templates_path:
                reply = flow.call("GET", spec.templates_path)
                ids = [str(t["id"]) for t in reply.json()["data"]["templates"]]
            templates[spec.key] = ids
        return templates[spec.key]

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        spec = data.draw(yst.features())
        _, body = data.draw(
            yst.task_requests(feature=spec, files=files_for(spec), templates=template_ids, by="id")
        )
        reply = flow.call("POST", spec.create_path, body)
        assert reply.status == 200, (spec.key, reply.body, body)
        assert reply.json()["data"]["task_id"]

    check()


# ------------------------------------------------------------------------------ invalid requests


@settings(max_examples=200)
@given(yst.invalid_task_requests())
def test_invalid_requests_are_really_invalid(invalid: yst.InvalidTaskRequest) -> None:
    spec, body, expected = invalid
    assert (expected.status, expected.error_code) == (400, "InvalidParameters")
    assert expected.mutation in yst.MUTATIONS
    if expected.source == "schema":
        assert schema_error(spec, body) is not None, (expected, body)
    else:
        assert expected.mutation in yst.EMULATOR_MUTATIONS
        assert schema_error(spec, body) is None
        assert not skin_rules_hold(spec, body)
    if expected.mutation == "not_an_object":
        assert not isinstance(body, dict) and expected.field is None
    else:
        assert expected.field


@pytest.mark.parametrize("mutation", yst.MUTATIONS)
def test_each_mutation_kind_can_be_drawn(mutation: str) -> None:
    feature = {
        "pattern": "v2.0/hair-color",
        "array_length": "v2.0/hair-frizziness-detection",
        "not_in_enum": SKIN,
        "out_of_range": "v2.0/face-reshape",
    }.get(mutation)

    @settings(max_examples=5)
    @given(yst.invalid_task_requests(feature=feature, mutations=[mutation]))
    def check(invalid: yst.InvalidTaskRequest) -> None:
        assert invalid.expected.mutation == mutation

    check()


def test_mixed_hd_sd_is_labelled_as_an_emulator_rule() -> None:
    invalid = find(
        yst.invalid_task_requests(mutations=["mixed_hd_sd"]),
        lambda _: True,
        settings=settings(database=None),
    )
    assert invalid.feature.feature == "skin-analysis"
    assert invalid.expected == yst.ExpectedError(
        field="dst_actions", mutation="mixed_hd_sd", source="emulator"
    )
    tiers = {a.startswith("hd_") for a in invalid.body["dst_actions"]}
    assert tiers == {True, False}


def test_invalid_requests_shrink_to_a_missing_required_field() -> None:
    invalid = find(
        yst.invalid_task_requests(feature="v2.0/sod"),
        lambda _: True,
        settings=settings(database=None),
    )
    assert invalid.expected.mutation == "missing_required"
    assert invalid.body == {}


def test_unknown_mutation_is_refused() -> None:
    with pytest.raises(ValueError, match="mutations"):
        yst.invalid_task_requests(mutations=["typo"])


@settings(max_examples=80)
@given(yst.invalid_task_requests())
def test_the_emulator_answers_invalid_requests_with_400(
    flow: Flow, invalid: yst.InvalidTaskRequest
) -> None:
    reply = flow.call("POST", invalid.feature.create_path, invalid.body)
    assert reply.status == invalid.expected.status, (invalid, reply.body)
    assert reply.json()["error_code"] == invalid.expected.error_code


# ------------------------------------------------------------------------------ file registrations


@pytest.mark.parametrize("kind", [None, "image", "video"])
@settings(max_examples=30)
@given(data=st.data())
def test_file_registrations_are_valid(kind: Any, data: st.DataObject) -> None:
    body = data.draw(yst.file_registrations(kind=kind))
    validator = CONTRACT.validator("POST /s2s/v2.0/file")
    assert validator is not None and validator.error(body) is None
    assert 1 <= len(body["files"]) <= 3
    for item in body["files"]:
        family = item["content_type"].split("/")[0]
        assert item["content_type"] in yst.CONTENT_TYPES[family]
        assert kind in (None, family)
        limit = yst.MAX_VIDEO_BYTES if family == "video" else yst.MAX_IMAGE_BYTES
        assert 0 < item["file_size"] < limit
        assert item["file_name"].rsplit(".", 1)[1] in ("jpg", "jpeg", "png", "mp4", "mov")


@settings(max_examples=20)
@given(yst.file_registrations())
def test_the_emulator_registers_drawn_files(flow: Flow, body: dict[str, Any]) -> None:
    reply = flow.call("POST", "/s2s/v2.0/file", body)
    assert reply.status == 200, reply.body
    answered = reply.json()["data"]["files"]
    assert [(f["content_type"], f["file_name"]) for f in answered] == [
        (f["content_type"], f["file_name"]) for f in body["files"]
    ]


# ------------------------------------------------------------------------------ images


@settings(max_examples=30)
@given(yst.images(max_side=96))
def test_images_are_real_decodable_jpeg_or_png(data: bytes) -> None:
    info = media.probe(data)
    assert info.kind == "image" and info.format in ("jpeg", "png")
    assert media.is_decodable_image(data)
    assert info.width is not None and info.height is not None
    assert 1 <= info.width <= 96 and 1 <= info.height <= 96


@settings(max_examples=10)
@given(yst.images(format="png", width=300, height=200))
def test_images_honour_format_and_fixed_size(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (300, 200)


@settings(max_examples=10)
@given(yst.images(format="jpg", min_side=256, max_side=300))
def test_images_honour_side_bounds(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and 256 <= min(image.size) <= max(image.size) <= 300


def test_images_shrink_to_a_tiny_plain_picture() -> None:
    data = find(yst.images(format="png"), lambda _: True, settings=settings(database=None))
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1, 1) and image.convert("RGB").getpixel((0, 0)) == (0, 0, 0)


def test_image_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        yst.images(min_side=10, max_side=5)
    with pytest.raises(ValueError):
        yst.images(format="gif")


@settings(max_examples=10)
@given(yst.oversized_images())
def test_oversized_images_decode_but_break_the_long_side_limit(image: yst.LabelledImage) -> None:
    info = media.probe(image.data)
    assert info.kind == "image" and media.is_decodable_image(image.data)
    assert max(info.width or 0, info.height or 0) > 4096
    assert len(image.data) < yst.MAX_IMAGE_BYTES
    assert image.engine_error == "error_exceed_max_image_size"
    assert image.content_type == f"image/{info.format}"


@settings(max_examples=40)
@given(yst.undecodable_images())
def test_undecodable_images_do_not_decode(image: yst.LabelledImage) -> None:
    assert not media.is_decodable_image(image.data)
    assert image.engine_error == "error_decode_image"
    assert image.content_type in ("image/jpeg", "image/png")


def test_expected_for_follows_each_document() -> None:
    image = find(yst.oversized_images(), lambda _: True, settings=settings(database=None))
    assert image.expected_for(SKIN) == "error_exceed_max_image_size"
    assert image.expected_for("v2.0/sod") is None  # not in sod's EngineErrorCode


@pytest.mark.parametrize(
    "strategy", [yst.oversized_images(), yst.undecodable_images()], ids=["oversized", "undecodable"]
)
def test_the_emulator_ends_labelled_uploads_with_the_labelled_code(
    flow: Flow, strategy: st.SearchStrategy[yst.LabelledImage]
) -> None:
    spec = CONTRACT.features[SKIN]

    @settings(max_examples=3)
    @given(strategy)
    def check(image: yst.LabelledImage) -> None:
        file_id = flow.upload(image.data, image.content_type, "input.jpg")
        created = flow.call(
            "POST", spec.create_path, {"src_file_id": file_id, "dst_actions": ["wrinkle"]}
        )
        assert created.status == 200, created.body
        task_id = created.json()["data"]["task_id"]
        for _ in range(10):
            data = flow.call("GET", spec.poll_path.replace("{task_id}", task_id)).json()["data"]
            if data["task_status"] != "running":
                break
        assert data["task_status"] == "error"
        assert data["error"] == image.expected_for(spec) == image.engine_error

    check()


# ------------------------------------------------------------------------------ engine errors


@pytest.mark.parametrize("key", FEATURES)
def test_engine_codes_are_the_features_own(key: str) -> None:
    spec = CONTRACT.features[key]
    assert set(spec.engine_error_codes) <= set(ENGINE_ERRORS)

    @settings(max_examples=10)
    @given(yst.engine_errors(feature=spec))
    def check(code: str) -> None:
        assert code in spec.engine_error_codes

    check()


# ------------------------------------------------------------------------------ fault rules


@pytest.mark.parametrize("feature", [None, SKIN])
@settings(max_examples=80)
@given(data=st.data())
def test_fault_rules_are_accepted_by_the_rule_parser(
    feature: str | None, data: st.DataObject
) -> None:
    rule_dict = data.draw(yst.fault_rules(feature=feature))
    rule = rule_from_dict(json.loads(json.dumps(rule_dict)), "r1")
    assert rule.action.stages
    assert rule.times is not None and 1 <= rule.times <= 3
    if rule.action.engine_error:
        spec = CONTRACT.features[rule.match.feature or ""]
        assert rule.action.engine_error in spec.engine_error_codes
        assert feature in (None, spec.key)
    if rule.action.http_error == "TaskTimeout":
        assert rule.match.operation == "task_poll"
    assert 0 <= rule.action.latency_ms <= 500


@settings(max_examples=40)
@given(yst.fault_schedules(feature=SKIN, max_faults=3))
def test_fault_schedules_are_lists_of_valid_rules(schedule: list[dict[str, Any]]) -> None:
    assert len(schedule) <= 3
    for index, rule in enumerate(schedule):
        rule_from_dict(rule, f"r{index}")


def test_fault_schedules_shrink_to_fewer_and_simpler_faults() -> None:
    assert find(yst.fault_schedules(), lambda _: True, settings=settings(database=None)) == []
    one = find(yst.fault_schedules(), bool, settings=settings(database=None))
    simplest = {
        "name": "+1 ms on task_poll",
        "match": {"operation": "task_poll"},
        "action": {"latency_ms": 1.0},
        "times": 1,
    }
    assert one == [simplest]
    reset = find(
        yst.fault_rules(),
        lambda rule: rule["action"].get("reset_connection", False),
        settings=settings(database=None),
    )
    assert reset == {
        "name": "connection reset on task_poll",
        "match": {"operation": "task_poll"},
        "action": {"reset_connection": True},
        "times": 1,
    }


def test_fault_schedules_check_their_size() -> None:
    with pytest.raises(ValueError):
        yst.fault_schedules(max_faults=-1)
