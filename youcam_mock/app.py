"""The application factory: one emulator = one backend, one clock, one store, one Flask app."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, got_request_exception, jsonify, request
from werkzeug.exceptions import HTTPException

from youcam_mock.api import storage as storage_api
from youcam_mock.api import vendor
from youcam_mock.api.control import CONTROL_PREFIX, Controller, control
from youcam_mock.api.errors import error_response
from youcam_mock.api.signing import UrlSigner
from youcam_mock.contract import Contract, load_contract
from youcam_mock.core.backend import Backend
from youcam_mock.core.clock import Clock, SystemClock
from youcam_mock.core.config import MockConfig
from youcam_mock.core.errors import ApiError
from youcam_mock.core.journal import JournalEntry
from youcam_mock.core.store import InMemoryStore, Store
from youcam_mock.core.webhooks import WebhookDispatcher, default_sender

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
    webhooks: WebhookDispatcher | None = None
    controller: Controller = field(init=False)
    #: The settings the app started with: ``reset`` returns to them (plus any changes).
    base_config: MockConfig = field(init=False)

    def __post_init__(self) -> None:
        self.controller = Controller(self)
        self.base_config = self.config


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
    # Only a scripted connection reset escapes the handlers below; it must reach the caller
    # (in-process: the testkit's transport) as an exception, not become a 500 response.
    app.config["PROPAGATE_EXCEPTIONS"] = True
    app.config["MAX_CONTENT_LENGTH"] = config.max_video_bytes + 1024
    store = store or InMemoryStore()
    backend = Backend(
        store,
        clock,
        config,
        contract.features,
        resolve_url=storage_api.resolve_own_url,
        fetch_url=lambda url: _fetch(url, config),
    )

    def journal_sink(entry: JournalEntry) -> None:
        backend.record(entry)

    webhooks = WebhookDispatcher(clock, backend.ids, default_sender, journal_sink, store)
    for endpoint in config.webhooks:
        webhooks.register(
            endpoint["url"], secret=endpoint.get("secret"), keys=endpoint.get("keys", ())
        )
    backend.on_task_finished.append(webhooks.task_finished)
    mock = MockState(
        config=config,
        clock=clock,
        contract=contract,
        backend=backend,
        signer=UrlSigner(config.secret_key or secrets.token_hex(32), clock),
        known_features={spec.feature for spec in contract.features.values()},
        webhooks=webhooks,
    )
    app.extensions["youcam_mock"] = mock
    vendor.register(app, contract)
    app.register_blueprint(storage_api.storage)
    app.register_blueprint(control)

    @app.before_request
    def _arrived() -> None:
        g.arrived = clock.now()
        g.started = time.perf_counter()
        # One counter orders arrivals and answers exactly, whatever the clock does.
        g.arrival_tick = backend.store.next_counter("journal-tick")

    @app.after_request
    def _request_id(response: Response) -> Response:
        response.headers["x-request-id"] = str(backend.ids.snowflake(clock.now()))
        if not request.path.startswith(CONTROL_PREFIX):
            _journal(mock, response)
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
        if isinstance(error, ConnectionResetError):
            raise error  # a scripted reset: no response at all (propagates, see below)
        # The error becomes a vendor-style 500, but listeners (the testkit) still hear of it.
        got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=error)
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(ApiError("InternalError", f"{type(error).__name__}: {error}"))

    @app.get("/")
    def _index() -> Response:
        return jsonify({"name": "youcam-mock", "operations": len(contract.operations)})

    return app


def journal_dropped() -> None:
    """Journal a request whose connection a scenario dropped (no response: status 0)."""
    from flask import current_app

    mock = current_app.extensions["youcam_mock"]
    _journal(mock, Response(status=200), status=0)


def _journal(mock: MockState, response: Response, *, status: int | None = None) -> None:
    """One journal entry per request: what the client did and what it was told."""
    operation = g.get("operation")
    detail: dict[str, Any] = {}
    error_code = None
    task_id = (request.view_args or {}).get("task_id")
    if response.mimetype == "application/json" and not response.direct_passthrough:
        try:
            body = json.loads(response.get_data())
        except ValueError:
            body = None
        if isinstance(body, dict):
            error_code = body.get("error_code")
            data = body.get("data")
            if isinstance(data, dict):
                task_id = task_id or data.get("task_id")
                if "task_status" in data:
                    detail["task_status"] = data["task_status"]
                    detail["engine_error"] = data.get("error")
    if g.get("retry_after") is not None:
        detail["retry_after"] = g.retry_after
    if g.get("window_reopens_in") is not None:
        detail["window_reopens_in"] = g.window_reopens_in
    if "arrival_tick" in g:
        detail["arrival_tick"] = g.arrival_tick
        detail["answer_tick"] = mock.backend.store.next_counter("journal-tick")
    rules = g.get("rules")
    mock.backend.record(
        JournalEntry(
            seq=0,
            at=g.get("arrived", mock.clock.now()),
            method=request.method,
            path=request.path,
            status=response.status_code if status is None else status,
            key=g.get("api_key"),
            ip=request.remote_addr,
            duration_ms=round(
                (time.perf_counter() - g.get("started", time.perf_counter())) * 1e3, 3
            ),
            operation=operation.key if operation else None,
            feature=operation.feature if operation else None,
            task_id=task_id,
            error_code=error_code,
            rule=",".join(rules) if rules else None,
            detail=detail,
        )
    )


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
