"""The application factory: one emulator = one backend, one clock, one store, one Flask app."""

from __future__ import annotations

import secrets
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from youcam_mock.api import storage as storage_api
from youcam_mock.api import vendor
from youcam_mock.api.errors import error_response
from youcam_mock.api.signing import UrlSigner
from youcam_mock.contract import Contract, load_contract
from youcam_mock.core.backend import Backend
from youcam_mock.core.clock import Clock, SystemClock
from youcam_mock.core.config import MockConfig
from youcam_mock.core.errors import ApiError
from youcam_mock.core.store import InMemoryStore, Store

_STATUS_CODES = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


@dataclass
class MockState:
    """What the views reach through ``current_app.extensions["youcam_mock"]``."""

    config: MockConfig
    clock: Clock
    contract: Contract
    backend: Backend
    signer: UrlSigner
    known_features: set[str] = field(default_factory=set)


def create_app(
    config: MockConfig | None = None,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
) -> Flask:
    config = config or MockConfig()
    clock = clock or SystemClock()
    contract = load_contract()
    contract.compile_all()
    app = Flask("youcam_mock")
    app.config["MAX_CONTENT_LENGTH"] = config.max_video_bytes + 1024
    backend = Backend(
        store or InMemoryStore(),
        clock,
        config,
        contract.features,
        resolve_url=storage_api.resolve_own_url,
        fetch_url=lambda url: _fetch(url, config),
    )
    app.extensions["youcam_mock"] = MockState(
        config=config,
        clock=clock,
        contract=contract,
        backend=backend,
        signer=UrlSigner(config.secret_key or secrets.token_hex(32), clock),
        known_features={spec.feature for spec in contract.features.values()},
    )
    vendor.register(app, contract)
    app.register_blueprint(storage_api.storage)

    @app.after_request
    def _request_id(response: Response) -> Response:
        response.headers["x-request-id"] = str(backend.ids.snowflake(clock.now()))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = _STATUS_CODES.get(error.code or 500, "InternalError")
        return error_response(ApiError(code, error.description or None), g.get("operation"))

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error, g.get("operation"))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(ApiError("InternalError", f"{type(error).__name__}: {error}"))

    @app.get("/")
    def _index() -> Response:
        return jsonify({"name": "youcam-mock", "operations": len(contract.operations)})

    return app


def _fetch(url: str, config: MockConfig) -> bytes | None:
    """Outbound download for ``src_file_url`` (only when allow_outbound_downloads is set)."""
    if not url.startswith(("http://", "https://")):
        return None
    limit = config.max_video_bytes
    try:
        with urllib.request.urlopen(url, timeout=config.outbound_timeout) as response:
            data: bytes = response.read(limit + 1)
    except (OSError, ValueError):
        return None
    return data if len(data) <= limit else None


def mock_state(app: Flask) -> Any:
    return app.extensions["youcam_mock"]
