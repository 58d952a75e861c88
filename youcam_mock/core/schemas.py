"""Small helpers over dereferenced OpenAPI schemas (plain dicts), shared by result building
and the testkit's request builder."""

from __future__ import annotations

from typing import Any


def merge_all_of(schema: Any) -> Any:
    """Fold ``allOf`` into one schema: properties and required merged, a property defined in
    two parts kept as ``allOf`` of both, ``oneOf``/``anyOf`` of the parts collected."""
    if not isinstance(schema, dict) or "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties", {}))
    required = list(merged.get("required", []))
    branches: list[Any] = []
    for part in schema["allOf"]:
        part = merge_all_of(part)
        if not isinstance(part, dict):
            continue
        for key, value in part.get("properties", {}).items():
            # The same property in two allOf parts must satisfy both: keep both.
            properties[key] = {"allOf": [properties[key], value]} if key in properties else value
        required.extend(part.get("required", []))
        for keyword in ("oneOf", "anyOf"):
            branches.extend(part.get(keyword, []))
        for key, value in part.items():
            if key in ("properties", "required", "oneOf", "anyOf"):
                continue
            if key == "items" and "items" in merged:
                merged["items"] = {"allOf": [merged["items"], value]}
            else:
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
        merged.setdefault("type", "object")
    if required:
        merged["required"] = required
    if branches:
        merged["oneOf"] = [*merged.get("oneOf", []), *branches]
    return merged
