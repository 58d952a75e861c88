"""The committed package contract: fresh, valid OpenAPI 3.0, complete, facts only, indexed.

Numbers are counted from the vendor's published documents where they are at hand
(``../shared/youcam-openapi``) and also pinned to the figures in FACTS.md, so a silent change
on either side shows up.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

from tests.support.oracle import PUBLISHED
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.contract.build import build_contract, dumps, load_published, resolve_pointer
from youcam_mock.core.errors import ENGINE_ERRORS

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILE = ROOT / "youcam_mock" / "contract" / "data" / "contract.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROSE = {"description", "summary", "title", "termsOfService", "contact", "license", "externalDocs"}
#: Maps whose keys are names chosen by the document (a property may well be called "title").
NAME_MAPS = {
    "properties",
    "paths",
    "schemas",
    "responses",
    "parameters",
    "securitySchemes",
    "content",
    "headers",
    "examples",
    "requestBodies",
}
#: Values that are data, not schema: their keys are the vendor's payload fields.
DATA = {"example", "default", "enum", "value"}

needs_published = pytest.mark.skipif(
    not PUBLISHED.is_dir(),
    reason=f"{PUBLISHED} is absent: the published documents are needed for this comparison "
    "(CI always has them)",
)


def contract() -> dict[str, Any]:
    openapi: dict[str, Any] = load_contract().openapi
    return openapi


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in METHODS
    }


def published_operations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for document in load_published(PUBLISHED).values():
        found |= operations(document)
    return found


def version_of(path: str) -> str:
    return path.split("/")[2]


def walk(node: Any, pointer: str = "", in_name_map: bool = False) -> Any:
    """(pointer, key, value, in_name_map) for every key of every object, skipping data values."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield pointer, key, value, in_name_map
            if key in DATA and not in_name_map:
                continue
            token = key.replace("~", "~0").replace("/", "~1")
            yield from walk(value, f"{pointer}/{token}", key in NAME_MAPS and not in_name_map)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{pointer}/{index}")


def refs_in(node: Any) -> set[str]:
    return {
        value
        for _, key, value, _ in walk(node)
        if key == "$ref" and isinstance(value, str) and value.startswith("#/")
    }


# ------------------------------------------------------------------------------- freshness


@needs_published
def test_committed_contract_is_a_fresh_build_of_the_published_documents() -> None:
    fresh = dumps(build_contract(PUBLISHED))
    committed = CONTRACT_FILE.read_text(encoding="utf-8")
    assert committed == fresh, "stale contract: run python scripts/build_contract.py"
    assert load_contract().data == json.loads(fresh)


@needs_published
def test_build_script_check_mode_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_contract_script", ROOT / "scripts" / "build_contract.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check", "--source", str(PUBLISHED)]) == 0
    assert "stale" not in capsys.readouterr().err


def test_contract_is_a_valid_openapi_30_document() -> None:
    document = contract()
    assert document["openapi"].startswith("3.0.")
    validate(document, cls=OpenAPIV30SpecValidator)


# ------------------------------------------------------------------------------- completeness


def test_contract_has_the_178_operations_facts_lists() -> None:
    ops = operations(contract())
    methods = collections.Counter(method for method, _ in ops)
    versions = collections.Counter(version_of(path) for _, path in ops)
    assert len(ops) == 178
    assert methods == {"GET": 97, "POST": 81}
    assert versions == {"v2.0": 171, "v2.1": 5, "v1.0": 2}
    v21 = sorted(path for _, path in ops if version_of(path) == "v2.1")
    assert {p.split("/")[-1] for p in v21} >= {"skin-analysis", "hair-transfer"}
    assert "/s2s/v2.1/task/template/hair-transfer" in v21
    assert sorted(path for _, path in ops if version_of(path) == "v1.0") == [
        "/s2s/v1.0/client/credit",
        "/s2s/v1.0/client/credit/history",
    ]


@needs_published
def test_contract_has_exactly_the_published_operations() -> None:
    published = published_operations()
    assert len(load_published(PUBLISHED)) == 66
    assert operations(contract()) == published
    assert len(published) == 178
    assert collections.Counter(m for m, _ in published) == {"GET": 97, "POST": 81}
    assert collections.Counter(version_of(p) for _, p in published) == {
        "v2.0": 171,
        "v2.1": 5,
        "v1.0": 2,
    }


def test_runtime_loader_and_app_route_every_operation() -> None:
    loaded = load_contract()
    assert set(loaded.operations) == {f"{m} {p}" for m, p in operations(contract())}
    rules = {
        (method, rule.rule.replace("<task_id>", "{task_id}"))
        for rule in create_app().url_map.iter_rules()
        for method in rule.methods or ()
    }
    assert operations(contract()) <= rules


def test_control_and_storage_prefixes_are_outside_every_published_path() -> None:
    paths = list(contract()["paths"])
    assert all(path.startswith("/s2s/") for path in paths)
    for prefix in ("/_mock", "/_storage"):
        assert not [path for path in paths if path.startswith(prefix)]
    storage = [r.rule for r in create_app().url_map.iter_rules() if r.rule.startswith("/_storage")]
    assert storage, "the presigned upload/result URLs live under /_storage"


# ------------------------------------------------------------------------------- facts only


def test_no_prose_survives() -> None:
    """No description/summary/title/tags/x-* at document, operation or schema level.

    Two exceptions, both required by OpenAPI: ``info.title`` and an empty ``description`` on
    every response object.  Keys inside name maps (a property called ``title``) are names.
    """
    response = re.compile(r"/components/responses/[^/]+|/paths/[^/]+/[a-z]+/responses/[^/]+")
    offending = []
    for pointer, key, value, in_name_map in walk(contract()):
        if in_name_map:
            continue
        allowed = (key == "title" and pointer == "/info") or (
            key == "description" and value == "" and response.fullmatch(pointer)
        )
        if (key in PROSE or key == "tags" or key.startswith("x-")) and not allowed:
            offending.append(f"{pointer}/{key}")
    assert offending == []


def test_properties_named_like_prose_keys_stay() -> None:
    """Template schemas have a *property* called title: it is a fact, not prose."""
    document = contract()
    holders = [
        name
        for name, schema in document["components"]["schemas"].items()
        if isinstance(schema.get("properties"), dict) and "title" in schema["properties"]
    ]
    assert len(holders) >= 16
    assert all(name.endswith("__Template") for name in holders)
    for template in load_contract().data["features"]["templates"]:
        response = document["paths"][template["path"]]["get"]["responses"]["200"]
        assert '"title"' in json.dumps(_deref(response, document)), template["path"]


def _deref(node: Any, document: dict[str, Any], depth: int = 0) -> Any:
    assert depth < 50
    if isinstance(node, dict):
        if "$ref" in node:
            return _deref(resolve_pointer(document, node["$ref"]), document, depth + 1)
        return {k: _deref(v, document, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v, document, depth + 1) for v in node]
    return node


# ------------------------------------------------------------------------------- components


def test_every_reference_resolves_and_every_component_is_reachable() -> None:
    document = contract()
    reachable: set[str] = set()
    frontier = refs_in(document["paths"])
    while frontier:
        ref = frontier.pop()
        if ref in reachable:
            continue
        reachable.add(ref)
        frontier |= refs_in(resolve_pointer(document, ref))
    declared = {
        f"#/components/{kind}/{name}"
        for kind, members in document["components"].items()
        if kind != "securitySchemes"
        for name in members
    }
    assert declared == reachable
    assert refs_in(document) <= declared


def test_component_names_are_namespaced_by_their_document() -> None:
    documents = set(load_contract().data["documents"])
    for kind, members in contract()["components"].items():
        if kind == "securitySchemes":
            continue
        for name in members:
            slug, sep, local = name.partition("__")
            assert sep and local and slug in documents, f"{kind}/{name}"


def test_every_security_scheme_is_used_and_every_use_is_declared() -> None:
    document = contract()
    used = {
        scheme
        for item in document["paths"].values()
        for operation in item.values()
        for requirement in operation.get("security", [])
        for scheme in requirement
    }
    assert used == set(document["components"]["securitySchemes"])


# ------------------------------------------------------------------------------- indexes


def test_task_index_has_77_features_each_with_its_poll() -> None:
    data = load_contract().data
    document = contract()
    tasks = data["features"]["tasks"]
    assert len(tasks) == 77
    assert len({(t["version"], t["feature"]) for t in tasks}) == 77
    for task in tasks:
        assert "post" in document["paths"][task["create"]]
        assert task["poll"] == f"{task['create']}/{{task_id}}"
        assert "get" in document["paths"][task["poll"]]
        owned = data["documents"][task["document"]]["paths"]
        assert task["create"] in owned and task["poll"] in owned
    assert len(load_contract().features) == 77
    creates = {
        p for m, p in operations(document) if m == "POST" and "/task/" in p and "/delete" not in p
    }
    assert creates == {t["create"] for t in tasks}


@needs_published
def test_task_index_matches_the_published_task_operations() -> None:
    creates = {
        path
        for method, path in published_operations()
        if method == "POST" and "/task/" in path and path != "/s2s/v2.0/task/delete"
    }
    assert len(creates) == 77
    assert creates == {t["create"] for t in load_contract().data["features"]["tasks"]}


def test_template_and_file_indexes() -> None:
    features = load_contract().data["features"]
    templates = {t["path"] for t in features["templates"]}
    assert len(templates) == 17
    assert templates == {p for m, p in operations(contract()) if "/task/template/" in p}
    assert {f["path"] for f in features["files"]} == {
        "/s2s/v2.0/file",
        "/s2s/v2.0/file/2d-vto/ring",
        "/s2s/v2.0/file/obj-rem-vid",
    }


def test_every_feature_has_its_engine_error_enum() -> None:
    tasks = load_contract().data["features"]["tasks"]
    for task in tasks:
        codes = task["engine_error_codes"]
        assert codes, task["feature"]
        assert len(set(codes)) == len(codes)
        assert set(codes) <= set(ENGINE_ERRORS), task["feature"]
        spec = load_contract().features[f"{task['version']}/{task['feature']}"]
        assert spec.engine_error_codes == tuple(codes)


@needs_published
def test_engine_error_enums_are_the_published_ones() -> None:
    published = load_published(PUBLISHED)
    for task in load_contract().data["features"]["tasks"]:
        schemas = published[task["document"]]["components"]["schemas"]
        expected = [code for code in schemas["EngineErrorCode"]["enum"] if code is not None]
        assert task["engine_error_codes"] == expected, task["feature"]


def feature_documents() -> set[str]:
    return {t["document"] for t in load_contract().data["features"]["tasks"]}


def test_every_feature_document_has_unit_consumption_rows() -> None:
    documents = load_contract().data["documents"]
    assert len(feature_documents()) == 62
    for slug in feature_documents():
        rows = documents[slug]["unit_consumption"]
        assert rows, slug
        for row in rows:
            assert row["item"] and re.search(r"\d", row["units"]), (slug, row)
    for slug in set(documents) - feature_documents():
        assert documents[slug]["unit_consumption"] == [], slug
    for spec in load_contract().features.values():
        rows = documents[spec.document]["unit_consumption"]
        assert spec.unit_rows == tuple((r["item"], r["units"]) for r in rows)


@needs_published
def test_unit_consumption_rows_are_the_published_tables() -> None:
    documents = load_contract().data["documents"]
    for slug, published in load_published(PUBLISHED).items():
        description = published.get("info", {}).get("description", "")
        start = description.find("## Unit Consumption")
        if slug not in feature_documents():
            continue
        assert start >= 0, slug
        section = description[start:].split("\n---")[0]
        table = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
        header, separator, *body = table
        assert "Unit Consumed" in header and set(separator) <= {"|", "-", " ", ":"}
        rows = documents[slug]["unit_consumption"]
        assert len(rows) == len(body), slug
        for row, line in zip(rows, body, strict=True):
            assert line.strip("| ").startswith(row["item"]), (slug, line)


# ------------------------------------------------------------------------------- caching


def test_load_contract_is_cached() -> None:
    assert load_contract() is load_contract()


def test_request_validators_are_compiled_once() -> None:
    loaded = load_contract()
    keys = [key for key in loaded.operations if key.startswith("POST ")]
    first = {key: loaded.validator(key) for key in keys}
    assert all(v is not None for v in first.values())
    create_app()  # compiles all validators: the existing ones must be reused
    create_app()
    assert all(loaded.validator(key) is first[key] for key in keys)
    assert loaded.validator("GET /s2s/v1.0/client/credit") is None
