"""Render :class:`ApiError` as the vendor's flat envelope ``{status, error, error_code}``.

The operation's own documented responses decide the details (FACTS.md): where a document
enumerates ``error_code`` for a status and the code at hand is not in it, the documented code
is sent (the v1.0 credit history documents only ``InvalidAccessToken`` for a 401).
"""

from __future__ import annotations

import math
from typing import Any

from flask import Response, jsonify

from youcam_mock.contract import Operation
from youcam_mock.core.errors import CATALOG, ApiError


def error_body(error: ApiError, operation: Operation | None = None) -> dict[str, Any]:
    code = error.code
    message = error.message
    if operation is not None:
        allowed = operation.error_code_enums.get(error.status)
        if allowed and code not in allowed:
            code = allowed[0]
            message = CATALOG[code].message if code in CATALOG else message
    body: dict[str, Any] = {"status": error.status, "error": message}
    if error.spec.has_code:
        body["error_code"] = code
    return body


def error_response(error: ApiError, operation: Operation | None = None) -> Response:
    response = jsonify(error_body(error, operation))
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return response
