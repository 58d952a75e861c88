"""The conformance oracle: openapi-core validates responses against the package contract and,
when ``../shared/youcam-openapi`` is present, against the published document that owns the
path (with the documented repairs applied in memory, since as published some schemas vanish).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from youcam_mock.contract import load_contract
from youcam_mock.contract.build import load_published, repair_document

PUBLISHED = Path(__file__).resolve().parents[2].parent / "shared" / "youcam-openapi"
_FILE_ALIAS = re.compile(r"^/s2s/v2\.[01]/file(/.*)?$")


@dataclass
class Violation:
    source: str
    method: str
    path: str
    status: int
    error: str

    def __str__(self) -> str:
        return f"{self.source}: {self.method} {self.path} -> {self.status}: {self.error}"


@functools.cache
def contract_spec() -> OpenAPI:
    return OpenAPI.from_dict(load_contract().openapi)


@functools.cache
def published_specs() -> dict[str, OpenAPI]:
    """Published path -> OpenAPI of its own (repaired) document; empty without ../shared."""
    if not PUBLISHED.is_dir():
        return {}
    specs: dict[str, OpenAPI] = {}
    for slug, document in load_published(PUBLISHED).items():
        if not document.get("paths"):
            continue
        repaired, _ = repair_document(slug, document)
        spec = OpenAPI.from_dict(repaired)
        for path in repaired["paths"]:
            specs[path] = spec
    return specs


_lock = threading.Lock()


def spec_path_for(path: str) -> str | None:
    """The published path template a concrete path belongs to (None: not a vendor path)."""
    contract = load_contract()
    if path in contract.openapi["paths"]:
        return path
    if _FILE_ALIAS.match(path):
        return "/s2s/v2.0/file"
    for template in contract.openapi["paths"]:
        if "{task_id}" in template:
            prefix = template.removesuffix("{task_id}")
            rest = path.removeprefix(prefix)
            if path.startswith(prefix) and rest and "/" not in rest:
                return template
    return None


def validate(
    method: str,
    path: str,
    status: int,
    body: bytes,
    content_type: str,
    query: dict[str, Any] | None = None,
) -> list[Violation]:
    """Every violation of this response, against the contract and the published document."""
    template = spec_path_for(path)
    if template is None:
        return []
    concrete = path if not _FILE_ALIAS.match(path) else "/s2s/v2.0/file"
    if template != concrete and "{task_id}" not in template:
        concrete = template
    request = MockRequest(
        "https://yce-api-01.makeupar.com", method.lower(), concrete, args=query or {}
    )
    response = MockResponse(
        body, status_code=status, content_type=content_type or "application/json"
    )
    violations = []
    targets = [("contract", contract_spec())]
    published = published_specs().get(template)
    if published is not None:
        targets.append(("published", published))
    for source, spec in targets:
        with _lock:
            try:
                spec.validate_response(request, response)
            except Exception as error:  # openapi-core raises a family of errors; all count
                detail = "; ".join(str(e) for e in getattr(error, "schema_errors", []) or [])
                violations.append(
                    Violation(
                        source,
                        method,
                        path,
                        status,
                        f"{type(error).__name__}: {error} {detail}"[:2000],
                    )
                )
    if status == 200 and content_type.startswith("application/json"):
        try:
            payload = json.loads(body)
        except ValueError:
            return [*violations, Violation("facts", method, path, status, "body is not JSON")]
        if not isinstance(payload, dict) or payload.get("status") != 200:
            violations.append(
                Violation("facts", method, path, status, "success body lacks status 200")
            )
    return violations
