"""Contract-valid task requests for any feature, built from the feature's request schema.

Deterministic (the first option of every choice), so tests and examples are stable;
``youcam_testkit.strategies`` draws from the same schemas at random.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from youcam_mock.contract import load_contract
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.schemas import merge_all_of

#: ``(field name, index) -> file id or URL`` for the input files a request names.
FileSupplier = Callable[[str, int], str]


def request_branches(spec: FeatureSpec) -> list[dict[str, Any]]:
    """Each alternative shape of the request, flattened (top-level properties + one branch)."""
    root = merge_all_of(copy.deepcopy(spec.request_schema))
    branches = root.pop("oneOf", None) or root.pop("anyOf", None) or [{}]
    shapes = []
    for branch in branches:
        branch = merge_all_of(branch)
        shapes.append(
            {
                "properties": {**root.get("properties", {}), **branch.get("properties", {})},
                "required": sorted({*root.get("required", []), *branch.get("required", [])}),
            }
        )
    return shapes


def choose_branch(spec: FeatureSpec, *, by: str = "id", template: bool = False) -> dict[str, Any]:
    """The shape that names files by ``id`` (or ``url``), with or without a template_id."""
    shapes = request_branches(spec)

    def score(shape: dict[str, Any]) -> tuple[int, int]:
        required = shape["required"]
        files = [r for r in required if "_file_" in r]
        wrong = sum(1 for r in files if not r.endswith((f"_{by}", f"_{by}s")))
        has_template = "template_id" in required
        return (wrong + (0 if has_template == template else 1), len(required))

    return min(shapes, key=score)


def build_request(
    spec: FeatureSpec,
    files: FileSupplier,
    *,
    by: str = "id",
    template_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    shape = choose_branch(spec, by=by, template=template_id is not None)
    body: dict[str, Any] = {}
    for name in shape["required"]:
        schema = shape["properties"].get(name, {})
        if "_file_" in name:
            if name.endswith("s"):
                count = max(1, int(schema.get("minItems", 1)))
                body[name] = [files(name, i) for i in range(count)]
            else:
                body[name] = files(name, 0)
        elif name == "template_id":
            body[name] = template_id or "0"
        else:
            body[name] = sample_value(schema, name)
    body.update(extra or {})
    validator = load_contract().validator(f"POST {spec.create_path}")
    if validator is not None and validator.error(body):
        # Some schemas need more than their required fields (a ``not`` that forbids all
        # zeros, a ``minProperties``): add the documented examples of optional fields.
        for name, schema in shape["properties"].items():
            if name in body or "_file_" in name or name == "template_id":
                continue
            if isinstance(schema, dict) and "example" in schema:
                body[name] = schema["example"]
    return body


def sample_value(schema: Any, name: str = "") -> Any:
    """A value valid for ``schema``: enum first, then default, example, or a bound."""
    schema = merge_all_of(schema)
    if not isinstance(schema, dict):
        return None
    is_object = schema.get("type") == "object" or "properties" in schema
    for keyword in ("oneOf", "anyOf"):
        if schema.get(keyword) and not is_object:
            return sample_value(schema[keyword][0], name)
    if "enum" in schema:
        choices = [c for c in schema["enum"] if c is not None]
        if schema.get("type") == "array":
            return choices[:1]
        return choices[0]
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind == "array":
        items = merge_all_of(schema.get("items", {}))
        count = max(1, int(schema.get("minItems", 1)))
        return [sample_value(items, name) for _ in range(count)]
    if kind == "object":
        if isinstance(schema.get("example"), dict):
            return copy.deepcopy(schema["example"])
        props = dict(schema.get("properties", {}))
        required = list(schema.get("required", []))
        for keyword in ("oneOf", "anyOf"):
            if schema.get(keyword):
                branch = merge_all_of(schema[keyword][0])
                props.update(branch.get("properties", {}))
                required.extend(branch.get("required", []))
        if not required and schema.get("minProperties"):
            required = list(props)[: int(schema["minProperties"])]
        return {key: sample_value(props.get(key, {}), key) for key in required}
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "example" in schema and schema["example"] is not None:
        return schema["example"]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    if kind == "string":
        if "A-Fa-f0-9" in str(schema.get("pattern", "")):
            return "#A0522D"
        return "a " + (name or "value")
    return "value"


def result_urls(node: Any) -> list[str]:
    """Every download URL in a task's ``results`` (however deeply the feature nests them)."""
    if isinstance(node, dict):
        return [url for value in node.values() for url in result_urls(value)]
    if isinstance(node, list):
        return [url for value in node for url in result_urls(value)]
    if isinstance(node, str) and node.startswith(("http://", "https://")):
        return [node]
    return []
