"""Derive the package contract from the vendor's published OpenAPI documents.

The published documents are the authority, but as published they are partly broken (see
``REPAIR_KINDS``): taken literally some response schemas vanish and a validator rejects others
outright.  This module repairs each known defect, records every repair it makes, strips the prose
(descriptions, summaries, titles, licences) and merges the documents into one OpenAPI 3.0 document
whose component names are prefixed by their source document.

It runs in two places: ``scripts/build_contract.py`` writes ``contract/data/contract.json`` from it,
and the test suite calls :func:`repair_document` to validate responses against the published
documents themselves.  It is the only code that reads ``../shared/youcam-openapi``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

JSON = dict[str, Any]

DOCUMENT_PREFIX = "perfect-corp-"
SHARED_COMPONENT_PREFIX = "youcam"

REPAIR_KINDS = {
    "null-beside-ref": "a null property sits beside a $ref; the $ref is what the property holds",
    "dangling-sibling-ref": "a $ref beside a complete schema; the schema is kept, the $ref dropped",
    "nullable-enum-without-null": "nullable enum lacks null, so the vendor's own null is invalid",
    "schema-under-responses": "a bare schema placed where a response object belongs",
    "response-ref-to-schema": "a response $ref that points at a schema",
    "empty-response": "a response with no content; given the documented error envelope",
    "null-default-or-example": "a null default/example on a schema that does not allow null",
    "string-in-numeric-keyword": "a numeric keyword written as a string",
    "example-violates-schema": "an example that breaks its own schema; the schema wins",
    "headers-map": "upload headers are a string-to-string map; the example used an integer",
    "rate-limit-response": "429 added: the vendor's rate limit applies to every request",
}

_NUMERIC_KEYWORDS = (
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
)
_PROSE_KEYS = {
    "description",
    "summary",
    "title",
    "termsOfService",
    "contact",
    "license",
    "externalDocs",
    "tags",
}
_NAME_MAPS = {
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
_VERBATIM = {"example", "default", "enum", "value"}
_SCHEMA_KEYWORDS = {"type", "properties", "items", "allOf", "oneOf", "anyOf", "enum"}
_HTTP_METHODS = ("get", "post", "put", "delete", "patch")
_ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "error_code": {"type": "string"},
    },
}


class Repairs:
    """The list of repairs made to one document, in the order they were made."""

    def __init__(self, document: str) -> None:
        self.document = document
        self.items: list[dict[str, str]] = []

    def add(self, kind: str, pointer: str, detail: str = "") -> None:
        assert kind in REPAIR_KINDS, kind
        self.items.append(
            {"document": self.document, "kind": kind, "pointer": pointer, "detail": detail}
        )


def document_slug(path: Path) -> str:
    """``perfect-corp-ai_abs_filter.json`` -> ``ai_abs_filter``."""
    return path.stem.removeprefix(DOCUMENT_PREFIX)


def load_published(directory: Path) -> dict[str, JSON]:
    """Every published document keyed by slug, in a stable order."""
    documents = {}
    for path in sorted(directory.glob(f"{DOCUMENT_PREFIX}*.json")):
        documents[document_slug(path)] = json.loads(path.read_text(encoding="utf-8"))
    if not documents:
        raise FileNotFoundError(f"no published documents in {directory}")
    return documents


def sources_digest(directory: Path) -> str:
    """A digest of the published documents' facts, insensitive to prose-only edits."""
    h = hashlib.sha256()
    for slug, doc in load_published(directory).items():
        h.update(slug.encode())
        h.update(json.dumps(strip_prose(doc), sort_keys=True).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- traversal helpers


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{_escape(key)}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve_pointer(document: JSON, ref: str) -> Any:
    """Follow a local ``#/a/b`` reference."""
    node: Any = document
    for token in ref.removeprefix("#/").split("/"):
        node = node[_unescape(token)]
    return node


def deref(node: Any, document: JSON, _seen: tuple[str, ...] = ()) -> Any:
    """Inline every local $ref (the documents have no recursive schemas; a cycle raises)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in _seen:
                raise ValueError(f"recursive $ref {ref}")
            return deref(resolve_pointer(document, ref), document, (*_seen, ref))
        return {key: deref(value, document, _seen) for key, value in node.items()}
    if isinstance(node, list):
        return [deref(value, document, _seen) for value in node]
    return node


def _schemas_in(doc: JSON) -> Iterator[tuple[str, JSON]]:
    """Every schema object in a document, with its pointer (components and inline)."""
    for pointer, node in _walk(doc):
        if not isinstance(node, dict):
            continue
        parts = pointer.split("/")
        if "example" in parts or "examples" in parts or "default" in parts:
            continue
        if (
            (len(parts) >= 2 and parts[-2] in ("properties",) and parts[-3:-2] != ["properties"])
            or parts[-1] in ("schema", "items", "additionalProperties", "not")
            or (len(parts) >= 2 and parts[-2] in ("allOf", "oneOf", "anyOf"))
            or (len(parts) == 4 and parts[1:3] == ["components", "schemas"])
        ):
            yield pointer, node


# --------------------------------------------------------------------------- repairs


def repair_document(slug: str, published: JSON) -> tuple[JSON, list[dict[str, str]]]:
    """Return a repaired deep copy of one published document and the repairs made to it."""
    doc = copy.deepcopy(published)
    repairs = Repairs(slug)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    responses = components.setdefault("responses", {})

    # Responses that are really schemas (RunError, DeleteTaskError) become schemas, and the
    # response of the same name wraps them.  References to them from inside schemas follow.
    moved: dict[str, str] = {}
    for name, response in list(responses.items()):
        if "content" not in response and ("properties" in response or "type" in response):
            target = name if name not in schemas else f"{name}Body"
            schemas[target] = response
            responses[name] = {
                "description": name,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{target}"}}
                },
            }
            moved[f"#/components/responses/{name}"] = f"#/components/schemas/{target}"
            repairs.add("schema-under-responses", f"/components/responses/{name}")
    for pointer, node in list(_walk(doc)):
        if isinstance(node, dict) and node.get("$ref") in moved and "/schema" in pointer:
            node["$ref"] = moved[node["$ref"]]
            repairs.add("schema-under-responses", pointer, "reference now points at the schema")

    for name, response in list(responses.items()):
        if "content" not in response and "$ref" not in response:
            status = 429 if "TooMany" in name else 401
            response["content"] = {"application/json": {"schema": copy.deepcopy(_ERROR_ENVELOPE)}}
            response.setdefault("description", name)
            repairs.add("empty-response", f"/components/responses/{name}", f"status {status}")

    for path, item in doc.get("paths", {}).items():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if not operation:
                continue
            for code, response in operation.get("responses", {}).items():
                ref = response.get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    operation["responses"][code] = {
                        "description": code,
                        "content": {"application/json": {"schema": {"$ref": ref}}},
                    }
                    repairs.add(
                        "response-ref-to-schema",
                        f"/paths/{_escape(path)}/{method}/responses/{code}",
                    )

    # null property (or null array ``items``) beside a $ref: the $ref is what it holds.
    for pointer, node in list(_walk(doc)):
        if not (isinstance(node, dict) and "$ref" in node and len(node) > 1):
            continue
        holes = [(p, parent, key) for p, parent, key in _null_properties(node, pointer)]
        if "items" in node and node["items"] is None:
            holes.append((f"{pointer}/items", node, "items"))
        if not holes and not _SCHEMA_KEYWORDS & node.keys():
            continue  # only prose beside the $ref: nothing is lost by following it
        if len(holes) == 1:
            hole_pointer, parent, key = holes[0]
            parent[key] = {"$ref": node.pop("$ref")}
            repairs.add("null-beside-ref", hole_pointer, parent[key]["$ref"])
        elif not holes:
            dropped = node.pop("$ref")
            repairs.add("dangling-sibling-ref", pointer, dropped)
        else:
            raise ValueError(f"{slug}{pointer}: several null properties beside one $ref")

    for pointer, node in list(_walk(doc)):
        if not isinstance(node, dict):
            continue
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
            repairs.add("nullable-enum-without-null", pointer)
        for keyword in ("default", "example"):
            is_schema = "type" in node or "enum" in node or "$ref" in node
            if keyword in node and node[keyword] is None and not node.get("nullable") and is_schema:
                del node[keyword]
                repairs.add("null-default-or-example", f"{pointer}/{keyword}")
        for keyword in _NUMERIC_KEYWORDS:
            value = node.get(keyword)
            if (
                isinstance(value, str)
                and re.fullmatch(r"-?\d+(\.\d+)?", value)
                and ("type" in node)
            ):
                node[keyword] = float(value) if "." in value else int(value)
                repairs.add("string-in-numeric-keyword", f"{pointer}/{keyword}", value)

    _repair_upload_headers(doc, repairs)
    _add_rate_limit_responses(doc, repairs)
    _drop_invalid_examples(doc, repairs)
    for pointer, node in _walk(doc.get("paths", {})):
        if isinstance(node, dict) and node is not None:
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for name, schema in value.items():
                        if schema is None:
                            raise ValueError(f"{slug}: unrepaired null property {pointer}/{name}")
    return doc, repairs.items


def _null_properties(schema: JSON, pointer: str) -> Iterator[tuple[str, JSON, str]]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for key, value in properties.items():
        here = f"{pointer}/properties/{_escape(key)}"
        if value is None:
            yield here, properties, key
        elif isinstance(value, dict) and "$ref" not in value:
            yield from _null_properties(value, here)


def _repair_upload_headers(doc: JSON, repairs: Repairs) -> None:
    for pointer, node in list(_walk(doc)):
        if not (isinstance(node, dict) and isinstance(node.get("properties"), dict)):
            continue
        props = node["properties"]
        if {"headers", "url", "method"} <= props.keys() and isinstance(props["headers"], dict):
            headers = props["headers"]
            example = headers.get("example")
            if isinstance(example, dict):
                headers["example"] = {k: str(v) for k, v in example.items()}
            headers["additionalProperties"] = {"type": "string"}
            repairs.add("headers-map", f"{pointer}/properties/headers")


def _add_rate_limit_responses(doc: JSON, repairs: Repairs) -> None:
    responses = doc["components"]["responses"]
    name = "TooManyRequests"
    if name not in responses:
        responses[name] = {
            "description": name,
            "content": {"application/json": {"schema": copy.deepcopy(_ERROR_ENVELOPE)}},
        }
    for path, item in doc.get("paths", {}).items():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if operation and "429" not in operation.get("responses", {}):
                operation["responses"]["429"] = {"$ref": f"#/components/responses/{name}"}
                repairs.add("rate-limit-response", f"/paths/{_escape(path)}/{method}/responses/429")


def _drop_invalid_examples(doc: JSON, repairs: Repairs) -> None:
    """Examples are facts only where they agree with their schema; the schema wins."""
    for pointer, node in list(_walk(doc)):
        if not isinstance(node, dict):
            continue
        parts = pointer.split("/")
        if "example" in parts or "examples" in parts:
            continue
        is_media = "schema" in node and pointer.split("/")[-2:-1] == ["content"]
        if is_media:
            schema = deref(node["schema"], doc)
            if "example" in node and not _valid(schema, node["example"]):
                del node["example"]
                repairs.add("example-violates-schema", f"{pointer}/example")
            for name, example in list(node.get("examples", {}).items()):
                value = deref(example, doc).get("value") if isinstance(example, dict) else None
                if not _valid(schema, value):
                    del node["examples"][name]
                    repairs.add("example-violates-schema", f"{pointer}/examples/{name}")
        elif "example" in node and ("type" in node or "properties" in node or "items" in node):
            schema = deref({k: v for k, v in node.items() if k != "example"}, doc)
            if not _valid(schema, node["example"]):
                del node["example"]
                repairs.add("example-violates-schema", f"{pointer}/example")


def _valid(schema: Any, instance: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    return bool(OAS30Validator(schema).is_valid(instance))


# --------------------------------------------------------------------------- prose and merge


def strip_prose(node: Any, in_name_map: bool = False) -> Any:
    """Drop descriptions, summaries, titles and vendor extensions; keep names and data."""
    if isinstance(node, dict):
        out: JSON = {}
        for key, value in node.items():
            if in_name_map:
                out[key] = strip_prose(value)
            elif key in _VERBATIM:
                out[key] = copy.deepcopy(value)
            elif key in _PROSE_KEYS or key.startswith("x-"):
                continue
            else:
                out[key] = strip_prose(value, in_name_map=key in _NAME_MAPS)
        return out
    if isinstance(node, list):
        return [strip_prose(value) for value in node]
    return node


def _namespace_refs(node: Any, slug: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                out[key] = f"#/components/{kind}/{slug}__{name}"
            elif key in _VERBATIM:
                out[key] = value
            else:
                out[key] = _namespace_refs(value, slug)
        return out
    if isinstance(node, list):
        return [_namespace_refs(value, slug) for value in node]
    return node


def _unit_consumption(info_description: str) -> list[dict[str, str]]:
    """The rows of the document's 'Unit Consumption' table: (item, units) as written."""
    start = info_description.find("Unit Consumption")
    if start < 0:
        return []
    section = info_description[start:].split("\n---")[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.strip().startswith("|"):
            continue
        if cells[0] in ("AI Feature", "---") or set(cells[0]) <= {"-"}:
            continue
        rows.append({"item": cells[0], "units": re.sub(r"\s*<br>\s*", "; ", cells[1])})
    return rows


def _input_kind(feature: str) -> str:
    """Which input a feature takes; the schemas do not say, the path names do (FACTS.md)."""
    head = feature.split("/")[0]
    if head.startswith(("text-to-image", "text-to-video")):
        return "none"
    if head.endswith("-vid") or head.startswith("video-"):
        return "video"
    return "image"


_TASK_PATH = re.compile(r"^/s2s/(?P<version>v\d\.\d)/task/(?P<feature>.+)$")
_TEMPLATE_PATH = re.compile(r"^/s2s/(?P<version>v\d\.\d)/task/template/(?P<feature>.+)$")
_FILE_PATH = re.compile(r"^/s2s/(?P<version>v\d\.\d)/file(?:/(?P<feature>.+))?$")


def build_contract(directory: Path) -> JSON:
    """The whole package contract: one merged OpenAPI document plus indexes derived from it."""
    published = load_published(directory)
    merged: JSON = {
        "openapi": "3.0.3",
        "info": {"title": "youcam-mock contract", "version": sources_digest(directory)[:16]},
        "paths": {},
        "components": {"schemas": {}, "responses": {}, "parameters": {}, "securitySchemes": {}},
    }
    all_repairs: list[dict[str, str]] = []
    documents: JSON = {}
    for slug, original in published.items():
        repaired, repairs = repair_document(slug, original)
        all_repairs.extend(repairs)
        clean = _namespace_refs(strip_prose(repaired), slug)
        doc_paths = clean.get("paths", {})
        documents[slug] = {
            "paths": sorted(doc_paths),
            "unit_consumption": _unit_consumption(original.get("info", {}).get("description", "")),
        }
        for path, item in doc_paths.items():
            if path in merged["paths"]:
                raise ValueError(f"path {path} is published twice")
            for operation in item.values():
                if isinstance(operation, dict):
                    for response in operation.get("responses", {}).values():
                        if "$ref" not in response:
                            response.setdefault("description", "")
            merged["paths"][path] = item
        for kind, members in clean.get("components", {}).items():
            bucket = merged["components"].setdefault(kind, {})
            for name, value in members.items():
                if kind == "responses" and "$ref" not in value:
                    value.setdefault("description", "")
                if kind == "securitySchemes":
                    bucket[name] = value
                else:
                    bucket[f"{slug}__{name}"] = value
    _prune_unreferenced(merged)
    return {
        "contract": merged,
        "documents": documents,
        "features": _feature_index(merged, documents),
        "repairs": all_repairs,
        "repair_kinds": REPAIR_KINDS,
    }


def _prune_unreferenced(merged: JSON) -> None:
    """Keep only components reachable from the paths (the base document has no paths)."""
    reachable: set[str] = set()
    frontier = [merged["paths"]]
    while frontier:
        node = frontier.pop()
        for _, value in _walk(node):
            if isinstance(value, dict) and isinstance(value.get("$ref"), str):
                ref = value["$ref"]
                if ref not in reachable:
                    reachable.add(ref)
                    frontier.append(resolve_pointer(merged, ref))
    for kind, members in merged["components"].items():
        if kind == "securitySchemes":
            continue
        for name in list(members):
            if f"#/components/{kind}/{name}" not in reachable:
                del members[name]


def _feature_index(merged: JSON, documents: JSON) -> JSON:
    owner = {path: slug for slug, info in documents.items() for path in info["paths"]}
    tasks: list[JSON] = []
    templates: list[JSON] = []
    files: list[JSON] = []
    for path, item in sorted(merged["paths"].items()):
        if match := _TEMPLATE_PATH.match(path):
            templates.append({"path": path, "document": owner[path], **match.groupdict()})
        elif (match := _FILE_PATH.match(path)) and "post" in item:
            files.append({"path": path, "document": owner[path], **match.groupdict()})
        elif (match := _TASK_PATH.match(path)) and "post" in item:
            feature = match["feature"]
            if feature == "delete":
                continue
            poll = f"{path}/{{task_id}}"
            if poll not in merged["paths"]:
                raise ValueError(f"{path} has no poll operation")
            poll_schema = deref(merged["paths"][poll]["get"]["responses"]["200"], merged)[
                "content"
            ]["application/json"]["schema"]
            error_schema = _find_property(poll_schema, "error")
            tasks.append(
                {
                    "feature": feature,
                    "version": match["version"],
                    "create": path,
                    "poll": poll,
                    "document": owner[path],
                    "input": _input_kind(feature),
                    "pre_process_of": feature.removesuffix("/pre-process")
                    if feature.endswith("/pre-process")
                    else None,
                    "engine_error_codes": [c for c in error_schema.get("enum", []) if c],
                }
            )
    return {"tasks": tasks, "templates": templates, "files": files}


def _find_property(schema: Any, name: str) -> JSON:
    """The first schema of property ``name`` in a dereferenced schema, through allOf/oneOf."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties", {})
    if isinstance(properties.get(name), dict) and "enum" in properties[name]:
        return dict(properties[name])
    children = [*properties.values()]
    for keyword in ("allOf", "oneOf", "anyOf"):
        children.extend(schema.get(keyword, []))
    for child in children:
        if found := _find_property(child, name):
            return found
    return {}


def dumps(contract: JSON) -> str:
    """The canonical text of the contract file (stable across runs)."""
    return json.dumps(contract, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
