"""Every defect FACTS.md lists in the published documents is repaired, and listed as repaired.

``contract["repairs"]`` is the builder's own record (document, kind, JSON pointer, detail).
These tests check that record against the published documents themselves, check the repaired
result, and show that after repair response validation is no longer vacuous: bodies that break
the documented shape are rejected, where as published the same document either fails to load or
lets them through.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from tests.support.oracle import PUBLISHED, published_specs, validate
from youcam_mock.contract import load_contract
from youcam_mock.contract.build import (
    REPAIR_KINDS,
    deref,
    load_published,
    repair_document,
)

pytestmark = pytest.mark.skipif(
    not PUBLISHED.is_dir(),
    reason=f"{PUBLISHED} is absent: the repairs are checked against the published documents "
    "(CI always has them)",
)

HOST = "https://yce-api-01.makeupar.com"
METHODS = ("get", "post", "put", "delete", "patch")


# ------------------------------------------------------------------------------- helpers


@functools.cache
def published() -> dict[str, dict[str, Any]]:
    """The documents as published (shared: never mutate)."""
    return load_published(PUBLISHED)


@functools.cache
def repaired(slug: str) -> dict[str, Any]:
    """One document repaired in memory (shared: never mutate)."""
    document, _ = repair_document(slug, published()[slug])
    return document


def at(document: Any, pointer: str) -> Any:
    """The node at a JSON pointer (``/a/0/b``), through lists too."""
    node = document
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def repairs(kind: str | None = None) -> list[dict[str, str]]:
    items: list[dict[str, str]] = load_contract().repairs
    return [r for r in items if kind is None or r["kind"] == kind]


def with_paths() -> set[str]:
    return {slug for slug, doc in published().items() if doc.get("paths")}


def feature_documents() -> set[str]:
    return {t["document"] for t in load_contract().data["features"]["tasks"]}


def contract() -> dict[str, Any]:
    openapi: dict[str, Any] = load_contract().openapi
    return openapi


def nodes(document: Any, pointer: str = "") -> Any:
    """(pointer, node) for every object and list in a document (pointer tokens escaped)."""
    yield pointer, document
    if isinstance(document, dict):
        for key, value in document.items():
            token = key.replace("~", "~0").replace("/", "~1")
            yield from nodes(value, f"{pointer}/{token}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from nodes(value, f"{pointer}/{index}")


def null_schemas(document: dict[str, Any]) -> list[str]:
    """Pointers of properties/items that are null where a schema belongs."""
    found = []
    for pointer, node in nodes(document):
        if not isinstance(node, dict):
            continue
        tokens = pointer.split("/")
        if {"example", "examples", "default", "enum"} & set(tokens):
            continue
        if tokens[-1] == "properties":
            found += [f"{pointer}/{name}" for name, value in node.items() if value is None]
        if "items" in node and node["items"] is None:
            found.append(f"{pointer}/items")
    return found


def as_published(slug: str, method: str, path: str, body: Any, status: int = 200) -> str:
    """What openapi-core makes of a response against the document exactly as published."""
    try:
        spec = OpenAPI.from_dict(copy.deepcopy(published()[slug]))
    except Exception:
        return "unloadable"
    request = MockRequest(HOST, method, path)
    response = MockResponse(
        json.dumps(body).encode(), status_code=status, content_type="application/json"
    )
    try:
        spec.validate_response(request, response)
    except Exception:
        return "rejected"
    return "accepted"


def verdicts(method: str, path: str, body: Any, status: int = 200) -> set[str]:
    """Sources (contract, published-repaired) that reject the body; empty when it conforms."""
    violations = validate(method, path, status, json.dumps(body).encode(), "application/json")
    return {v.source for v in violations}


# ------------------------------------------------------------------------------- the record


def test_every_repair_is_recorded_with_a_known_kind_and_a_real_location() -> None:
    documents = published()
    assert repairs()
    for item in repairs():
        assert set(item) == {"document", "kind", "pointer", "detail"}
        assert item["kind"] in REPAIR_KINDS
        assert item["document"] in documents
    assert load_contract().data["repair_kinds"] == REPAIR_KINDS
    # The record is exactly what repair_document reports, document by document.
    fresh = [r for slug, doc in documents.items() for r in repair_document(slug, doc)[1]]
    assert fresh == repairs()


def test_every_defect_class_in_facts_is_repaired() -> None:
    kinds = collections.Counter(r["kind"] for r in repairs())
    for kind in (
        "null-beside-ref",
        "nullable-enum-without-null",
        "schema-under-responses",
        "response-ref-to-schema",
        "null-default-or-example",
        "string-in-numeric-keyword",
        "example-violates-schema",
        "headers-map",
        "rate-limit-response",
    ):
        assert kinds[kind], kind


def test_every_repaired_document_loads_and_has_no_null_schema() -> None:
    for slug in published():
        assert null_schemas(repaired(slug)) == [], slug
    assert null_schemas(contract()) == []
    # The oracle loads every repaired document with openapi-core (which validates it as
    # OpenAPI 3.0 first): every published operation has its document loaded.
    specs = published_specs()
    assert set(specs) == set(contract()["paths"])
    assert len({id(spec) for spec in specs.values()}) == len(with_paths()) == 65


# ------------------------------------------------------------------------------- null beside $ref


def test_null_beside_ref_in_40_documents_43_places() -> None:
    documents = published()
    holes = {slug: null_schemas(doc) for slug, doc in documents.items()}
    in_paths = {slug: found for slug, found in holes.items() if found and slug in with_paths()}
    assert sum(len(found) for found in in_paths.values()) == 43
    assert len(in_paths) == 40
    recorded = [r for r in repairs("null-beside-ref") if r["document"] in with_paths()]
    assert len(recorded) == 43
    assert {r["document"] for r in recorded} == set(in_paths)
    # The record names exactly the null places, everywhere (the base document's too).
    assert sorted((r["document"], r["pointer"]) for r in repairs("null-beside-ref")) == sorted(
        (slug, pointer) for slug, found in holes.items() for pointer in found
    )
    for item in repairs("null-beside-ref"):
        original = documents[item["document"]]
        assert at(original, item["pointer"]) is None
        fixed = at(repaired(item["document"]), item["pointer"])
        assert fixed == {"$ref": item["detail"]}
        assert item["pointer"].rsplit("/", 1)[-1] in ("data", "results", "result", "items")


def test_file_api_data_and_poll_results_are_real_schemas_in_the_contract() -> None:
    document = contract()
    file_200 = deref(document["paths"]["/s2s/v2.0/file"]["post"]["responses"]["200"], document)
    assert "files" in json.dumps(file_200)
    for spec in load_contract().features.values():
        assert spec.results_schema, spec.key  # the poll's results schema did not vanish


# ------------------------------------------------------------------------------- EngineErrorCode


def test_engine_error_code_allows_null_in_all_62_feature_documents() -> None:
    documents = published()
    assert len(feature_documents()) == 62
    for slug in feature_documents():
        schema = documents[slug]["components"]["schemas"]["EngineErrorCode"]
        assert schema["nullable"] is True and None not in schema["enum"], slug
        assert None in repaired(slug)["components"]["schemas"]["EngineErrorCode"]["enum"]
        assert None in document_schema(slug, "EngineErrorCode")["enum"]
    recorded = repairs("nullable-enum-without-null")
    assert {r["pointer"] for r in recorded} == {"/components/schemas/EngineErrorCode"}
    assert {r["document"] for r in recorded} == feature_documents() | {"openapi-base"}


def document_schema(slug: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = contract()["components"]["schemas"][f"{slug}__{name}"]
    return schema


# ------------------------------------------------------------------------------- responses


def test_run_error_in_12_documents_and_delete_task_error_become_response_content() -> None:
    documents = published()
    bare = {
        (slug, name)
        for slug, doc in documents.items()
        for name, response in doc.get("components", {}).get("responses", {}).items()
        if "content" not in response and "properties" in response
    }
    run_error = {slug for slug, name in bare if name == "RunError" and slug in with_paths()}
    assert len(run_error) == 12
    assert {name for _, name in bare} == {"RunError", "DeleteTaskError"}
    assert ("task_management", "DeleteTaskError") in bare
    recorded = {
        (r["document"], r["pointer"].rsplit("/", 1)[-1])
        for r in repairs("schema-under-responses")
        if r["pointer"].startswith("/components/responses/")
    }
    assert recorded == bare
    for slug, name in bare:
        response = repaired(slug)["components"]["responses"][name]
        schema = deref(response["content"]["application/json"]["schema"], repaired(slug))
        assert "error_code" in schema["properties"], (slug, name)
    # Delete's 400 now validates the documented codes instead of pointing at a response object.
    delete = contract()["paths"]["/s2s/v2.0/task/delete"]["post"]["responses"]["400"]
    body = deref(delete, contract())["content"]["application/json"]["schema"]
    assert "OperationInvalid" in json.dumps(body)


def test_beard_style_template_list_200_is_a_response_again() -> None:
    path = "/s2s/v2.0/task/template/beard-style"
    as_is = published()["ai_beard_style"]["paths"][path]["get"]["responses"]["200"]
    assert as_is["$ref"].startswith("#/components/schemas/")
    (item,) = repairs("response-ref-to-schema")
    assert item["document"] == "ai_beard_style" and "beard-style" in item["pointer"]
    fixed = contract()["paths"][path]["get"]["responses"]["200"]
    schema = deref(fixed["content"]["application/json"]["schema"], contract())
    assert "templates" in json.dumps(schema)


def test_responses_without_content_get_the_error_envelope() -> None:
    for item in repairs("empty-response"):
        response = repaired(item["document"])["components"]["responses"][
            item["pointer"].rsplit("/", 1)[-1]
        ]
        assert set(response["content"]["application/json"]["schema"]["properties"]) == {
            "status",
            "error",
            "error_code",
        }
    for path, item in contract()["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                content = deref(response, contract()).get("content", {})
                assert "schema" in content.get("application/json", {}), (path, method, code)


def test_rate_limit_response_added_to_the_101_operations_that_lacked_it() -> None:
    declared = []
    lacking = []
    for slug, document in published().items():
        for path, item in document.get("paths", {}).items():
            for method in item:
                has_429 = "429" in item[method].get("responses", {})
                (declared if has_429 else lacking).append((slug, method, path))
    creates = {t["create"] for t in load_contract().data["features"]["tasks"]}
    assert len(declared) == 77
    assert {path for _, method, path in declared if method == "post"} == creates
    assert len(lacking) == 178 - 77 == len(repairs("rate-limit-response"))
    for path, item in contract()["paths"].items():
        for method, operation in item.items():
            assert "429" in operation["responses"], (method, path)


def test_error_bodies_allow_the_error_code_the_live_api_adds() -> None:
    """401s (135 operations) and InvalidTaskId (59 polls) are documented without error_code."""
    no_code_401 = no_code_poll_400 = 0
    for document in published().values():
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation["responses"]
                if "401" in responses and "error_code" not in json.dumps(
                    deref(responses["401"], document)
                ):
                    no_code_401 += 1
                if method == "get" and path.endswith("{task_id}"):
                    no_code_poll_400 += "error_code" not in json.dumps(
                        deref(responses["400"], document)
                    )
    assert (no_code_401, no_code_poll_400) == (135, 59)
    for path, item in contract()["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                text = json.dumps(deref(response, contract()))
                assert '"additionalProperties": false' not in text, (method, path, code)
    body = {"status": 401, "error": "Invalid API key", "error_code": "InvalidApiKey"}
    assert verdicts("GET", "/s2s/v2.0/task/sod/t1", body, 401) == set()
    body = {"status": 400, "error": "Invalid task ID", "error_code": "InvalidTaskId"}
    assert verdicts("GET", "/s2s/v2.0/task/sod/t1", body, 400) == set()


# ------------------------------------------------------------------------------- schemas


def test_hair_density_string_maximum_becomes_a_number() -> None:
    name = "BasicHairDensityRespHairDensity"
    mapping = published()["ai_hair_density_detection"]["components"]["schemas"][name]["properties"][
        "mapping"
    ]
    assert mapping["maximum"] == "3" and mapping["minimum"] == "0"
    assert as_published("ai_hair_density_detection", "get", "/", {}) == "unloadable"
    fixed = document_schema("ai_hair_density_detection", name)["properties"]["mapping"]
    assert fixed["maximum"] == 3 and isinstance(fixed["maximum"], int)
    assert fixed["minimum"] == 0 and isinstance(fixed["minimum"], int)
    details = {
        (r["document"], r["detail"])
        for r in repairs("string-in-numeric-keyword")
        if r["pointer"].endswith("/maximum")
    }
    assert ("ai_hair_density_detection", "3") in details


def test_null_defaults_and_examples_in_the_2d_try_on_documents_are_dropped() -> None:
    recorded = repairs("null-default-or-example")
    try_on = {"ai_bracelet", "ai_earrings", "ai_necklace", "ai_watch", "ring_vto"}
    assert {r["document"] for r in recorded} == try_on
    for slug in try_on:
        assert as_published(slug, "get", "/", {}) == "unloadable", slug
        OpenAPI.from_dict(repaired(slug))
    for item in recorded:
        assert at(published()[item["document"]], item["pointer"]) is None
        parent, keyword = item["pointer"].rsplit("/", 1)
        assert keyword not in at(repaired(item["document"]), parent)


def test_the_three_examples_that_break_their_schema_are_dropped() -> None:
    recorded = repairs("example-violates-schema")
    assert len(recorded) == 3
    assert {r["document"] for r in recorded} == {"ai_skin_analysis", "ai_face_swap", "unit_system"}
    pointers = " ".join(r["pointer"] for r in recorded)
    for fragment in ("format_zip_success", "bbox", "dst_actions"):
        assert fragment in pointers
    for item in recorded:
        original = published()[item["document"]]
        assert at(original, item["pointer"]) is not None
        parent, key = item["pointer"].rsplit("/", 1)
        assert key not in at(repaired(item["document"]), parent)


def test_every_example_left_agrees_with_its_schema() -> None:
    """The schema wins: after repair no example, anywhere, contradicts the schema it sits on."""
    checked = 0
    for slug in published():
        document = repaired(slug)
        for pointer, node in nodes(document):
            if not isinstance(node, dict) or {"example", "examples", "default"} & set(
                pointer.split("/")
            ):
                continue
            if "schema" in node and pointer.split("/")[-2:-1] == ["content"]:
                schema = deref(node["schema"], document)
                values = [node["example"]] if "example" in node else []
                values += [
                    deref(e, document).get("value") for e in node.get("examples", {}).values()
                ]
            elif "example" in node and {"type", "properties", "items"} & node.keys():
                schema = deref({k: v for k, v in node.items() if k != "example"}, document)
                values = [node["example"]]
            else:
                continue
            for value in values:
                checked += 1
                assert OAS30Validator(schema).is_valid(value), (slug, pointer, value)
    assert checked > 500


def test_upload_headers_are_a_string_to_string_map() -> None:
    example = published()["file"]["components"]["schemas"]["BasicFileResponse"]["properties"][
        "files"
    ]["items"]["properties"]["requests"]["items"]["properties"]["headers"]["example"]
    assert isinstance(example["Content-Length"], int)  # the published defect
    recorded = repairs("headers-map")
    assert "file" in {r["document"] for r in recorded}
    for item in recorded:
        headers = at(repaired(item["document"]), item["pointer"])
        assert headers["additionalProperties"] == {"type": "string"}
        assert all(isinstance(v, str) for v in headers.get("example", {}).values())
    entry = {
        "content_type": "image/jpg",
        "file_name": "a.jpg",
        "file_id": "abc",
        "requests": [
            {
                "method": "PUT",
                "url": "https://x/u",
                "headers": {"Content-Type": "image/jpg", "Content-Length": "5"},
            }
        ],
    }
    good = {"status": 200, "data": {"files": [entry]}}
    assert verdicts("POST", "/s2s/v2.0/file", good) == set()
    bad = copy.deepcopy(good)
    bad["data"]["files"][0]["requests"][0]["headers"]["Content-Length"] = 5
    assert verdicts("POST", "/s2s/v2.0/file", bad) == {"contract", "published"}


# ------------------------------------------------------------------------------- not vacuous

POLL_OK = {
    "status": 200,
    "data": {"task_status": "success", "results": {"url": "https://x/r.jpg"}, "error": None},
}


def broken(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(POLL_OK)
    for key, value in changes.items():
        if key == "url":
            body["data"]["results"]["url"] = value
        else:
            body["data"][key] = value
    return body


@pytest.mark.parametrize(
    "body",
    [broken(task_status="bogus"), broken(url=12345), broken(error="not_an_engine_code")],
    ids=["task_status-bogus", "results.url-integer", "error-unknown-code"],
)
def test_poll_validation_is_not_vacuous_after_repair(body: dict[str, Any]) -> None:
    # abs-shape: as published, data and results vanish (null beside $ref): anything goes.
    assert as_published("ai_abs_filter", "get", "/s2s/v2.0/task/abs-shape/t1", body) == "accepted"
    assert verdicts("GET", "/s2s/v2.0/task/abs-shape/t1", body) == {"contract", "published"}
    # sod: as published the document does not even load (RunError under responses).
    assert as_published("ai_background_removal", "get", "/s2s/v2.0/task/sod/t1", body) == (
        "unloadable"
    )
    assert verdicts("GET", "/s2s/v2.0/task/sod/t1", body) == {"contract", "published"}


def test_the_vendors_own_success_body_is_valid_only_after_repair() -> None:
    # The vendor's success poll says "error": null; as published EngineErrorCode forbids it.
    path = "/s2s/v2.0/task/colorize/t1"
    body = {"status": 200, "data": {"task_status": "running", "error": None}}
    assert as_published("ai_photo_colorize", "get", path, body) == "rejected"
    assert verdicts("GET", path, body) == set()
    assert verdicts("GET", "/s2s/v2.0/task/abs-shape/t1", POLL_OK) == set()
    assert verdicts("GET", "/s2s/v2.0/task/sod/t1", POLL_OK) == set()


def test_file_api_validation_works_only_after_repair() -> None:
    # As published the File API's data is null beside a $ref: openapi-core cannot even
    # validate a correct body (it fails inside the validator), let alone a broken one.
    good = {"status": 200, "data": {"files": []}}
    assert as_published("file", "post", "/s2s/v2.0/file", good) == "rejected"
    assert verdicts("POST", "/s2s/v2.0/file", good) == set()
    assert verdicts("POST", "/s2s/v2.0/file", {"status": 200, "data": {"files": 5}}) == {
        "contract",
        "published",
    }
