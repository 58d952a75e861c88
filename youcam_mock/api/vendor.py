"""Every published path and method, routed from the contract (stripe-mock style).

One view per kind of operation (file, task create, poll, templates, delete, credit...): each
parses the request, calls one backend method and serialises the vendor's envelope.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, g, jsonify, request

from youcam_mock.api.errors import error_response
from youcam_mock.contract import Contract, Operation
from youcam_mock.core.backend import referenced_file_ids
from youcam_mock.core.errors import ApiError
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.models import ASSET_KEY, FileRecord, Task, TaskStatus
from youcam_mock.core.scenarios import HTTP_STAGE
from youcam_mock.core.scenarios import Event as RuleEvent

View = Callable[..., Response]


def state() -> Any:
    return current_app.extensions["youcam_mock"]


def base_url() -> str:
    configured = state().config.public_base_url
    return (configured or request.host_url).rstrip("/")


def register(app: Flask, contract: Contract) -> None:
    """Add a URL rule for every published operation, plus the file-API aliases clients use."""
    for operation in contract.operations.values():
        rule = operation.path.replace("{task_id}", "<task_id>")
        app.add_url_rule(
            rule,
            endpoint=operation.key,
            view_func=_view_for(operation),
            methods=[operation.method],
        )
    generic = contract.operations["POST /s2s/v2.0/file"]
    for version in ("v2.0", "v2.1"):
        alias = Operation(
            "POST", f"/s2s/{version}/file", "file", None, version, generic.error_code_enums
        )
        if f"POST /s2s/{version}/file" not in contract.operations:
            app.add_url_rule(
                alias.path,
                endpoint=f"alias {alias.path}",
                view_func=_view_for(alias),
                methods=["POST"],
            )
        app.add_url_rule(
            f"/s2s/{version}/file/<path:feature>",
            endpoint=f"alias /s2s/{version}/file/<feature>",
            view_func=_view_for(alias),
            methods=["POST"],
        )


def _view_for(operation: Operation) -> View:
    handler = _HANDLERS[operation.kind]

    def view(**kwargs: Any) -> Response:
        g.operation = operation
        try:
            presented = bearer_key()
            g.api_key = presented
            _rate_limit(presented)
            scripted = apply_http_rules(operation.kind, presented, operation, kwargs)
            if scripted is not None:
                return scripted
            key = _authenticate(operation)
            return handler(operation, key, **kwargs)
        except ApiError as error:
            return error_response(error, operation)

    view.__name__ = f"vendor_{operation.kind}"
    return view


# ---------------------------------------------------------------------- request parsing


def bearer_key() -> str | None:
    """The key as presented (``Bearer <key>``), before checking it; None when malformed."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme != "Bearer" or not key or key.startswith("<") or key.endswith(">"):
        return None
    return key


def _authenticate(operation: Operation) -> str:
    key = bearer_key()
    if key is None:
        raise ApiError("InvalidApiKey")
    return str(state().backend.authenticate(key).key)


def _rate_limit(key: str | None) -> None:
    """Both limits must hold (per IP and per key), else 429 in the vendor's body."""
    mock = state()
    decision = mock.backend.rate_check(ip=request.remote_addr, key=key)
    if not decision.allowed:
        retry_after = decision.retry_after if mock.config.retry_after_header else None
        g.retry_after = retry_after  # journalled only when the client is told
        g.window_reopens_in = decision.retry_after
        raise ApiError("TooManyRequests", retry_after=retry_after)


def apply_http_rules(
    kind: str, key: str | None, operation: Operation | None, view_args: dict[str, Any]
) -> Response | None:
    """Scenario rules acting on this exchange: latency, a vendor error, a reset, a bad body."""
    mock = state()
    if not mock.backend.store.rules():
        return None
    feature = operation.feature if operation else None
    version = operation.version if operation else None
    if operation is not None and operation.kind == "file" and "feature" in view_args:
        feature = view_args["feature"]
    event = RuleEvent(
        HTTP_STAGE, kind, request.method, request.path, key, feature, version, _file_ids_in_body()
    )
    fired = mock.backend.fire_rules(event)
    if not fired:
        return None
    g.rules = [rule.rule_id for rule in fired]
    for rule in fired:
        action = rule.action
        if action.latency_ms:
            time.sleep(action.latency_ms / 1000.0)  # real time: the client's timeouts are real
        if action.reset_connection:
            reset_connection()
        if action.malformed_body:
            return Response('{"status": 200, "data": {"task_st', 200, mimetype="application/json")
        if action.http_error:
            if action.retry_after is not None:
                g.retry_after = action.retry_after
            raise ApiError(action.http_error, action.message, retry_after=action.retry_after)
    return None


def reset_connection() -> None:
    """Drop the connection with no response, as a flaky network would.

    On a real socket: shut it down now (the client sees the connection end without an answer)
    and set SO_LINGER 0 so the final close sends a RST.  In-process there is no socket: the
    ConnectionResetError reaches the caller (the testkit turns it into the HTTP client's own
    connection error).  The journal records the exchange with status 0.
    """
    from youcam_mock.app import journal_dropped

    journal_dropped()
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("youcam-mock scenario: connection reset")


def _bounded_body(limit: int) -> bytes | None:
    """The request body, read once and cached, or None when it is longer than ``limit``."""
    if "youcam.body" not in g:
        raw = request.stream.read(limit + 1)
        g.setdefault("youcam.body", raw if len(raw) <= limit else None)
    cached: bytes | None = g.get("youcam.body")
    return cached


def _file_ids_in_body() -> tuple[str, ...]:
    if request.method != "POST":
        return ()
    raw = _bounded_body(state().config.max_json_body)
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return ()
    if not isinstance(body, dict):
        return ()
    return tuple(referenced_file_ids(body))


def _json_body(operation: Operation) -> dict[str, Any]:
    limit = state().config.max_json_body
    if request.content_length is not None and request.content_length > limit:
        raise ApiError("InvalidParameters", f"request body exceeds {limit} bytes")
    raw = _bounded_body(limit)
    if raw is None:
        raise ApiError("InvalidParameters", f"request body exceeds {limit} bytes")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError("InvalidParameters", "request body is not valid JSON") from None
    validator = state().contract.validator(operation.key)
    if validator is not None:
        problem = validator.error(body)
        if problem:
            raise ApiError("InvalidParameters", problem)
    if not isinstance(body, dict):
        raise ApiError("InvalidParameters", "request body must be a JSON object")
    return body


def _query(operation: Operation) -> dict[str, Any]:
    """Query parameters typed and checked against the operation's documented parameters."""
    values: dict[str, Any] = {}
    for parameter in state().contract.parameters(operation.key):
        if parameter.get("in") != "query":
            continue
        name = parameter["name"]
        schema = parameter.get("schema", {})
        raw = request.args.get(name)
        if raw is None:
            if "default" in schema:
                values[name] = schema["default"]
            continue
        if schema.get("type") == "integer":
            try:
                value: Any = int(raw)
            except ValueError:
                raise ApiError("InvalidParameters", f"{name} must be an integer") from None
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ApiError("InvalidParameters", f"{name} must be between {low} and {high}")
        else:
            value = raw
        values[name] = value
    return values


def _spec(operation: Operation) -> FeatureSpec:
    spec: FeatureSpec = state().contract.features[f"{operation.version}/{operation.feature}"]
    return spec


def ok(payload: dict[str, Any]) -> Response:
    return jsonify({"status": 200, **payload})


# ---------------------------------------------------------------------- handlers


def handle_file(operation: Operation, key: str, feature: str | None = None) -> Response:
    if feature is not None and feature not in state().known_features:
        raise ApiError("NotFound", f"no AI feature named {feature!r}")
    validation_key = (
        "POST /s2s/v2.0/file" if operation.key not in state().contract.operations else operation.key
    )
    body = _json_body(
        Operation("POST", validation_key.split(" ", 1)[1], "file", None, operation.version, {})
    )
    records = state().backend.register_files(key, body["files"], feature or operation.feature)
    return ok({"data": {"files": [_file_entry(record) for record in records]}})


def _file_entry(record: FileRecord) -> dict[str, Any]:
    token = state().signer.sign("upload", record.file_id)
    return {
        "content_type": record.content_type,
        "file_name": record.file_name,
        "file_id": record.file_id,
        "requests": [
            {
                "method": "PUT",
                "url": f"{base_url()}/_storage/uploads/{token}",
                "headers": {
                    "Content-Type": record.content_type,
                    "Content-Length": str(record.file_size),
                },
            }
        ],
    }


def handle_task_create(operation: Operation, key: str) -> Response:
    spec = _spec(operation)
    body = _documented_fields(spec, _json_body(operation))
    task = state().backend.create_task(key, spec, body)
    if task.rules:
        g.rules = [*g.get("rules", []), *task.rules]
    return ok({"data": {"task_id": task.task_id}})


def _documented_fields(spec: FeatureSpec, body: dict[str, Any]) -> dict[str, Any]:
    """The request fields the feature's document declares; the others are ignored.

    The documents allow extra properties, so ``{"output_count": [[]]}`` is schema-valid for a
    feature that declares no ``output_count``: the core, which reads such fields by name, must
    only see values whose type the document fixed (schemathesis found the 500 this caused).
    """
    declared: frozenset[str] = state().contract.request_fields[spec.key]
    return {k: v for k, v in body.items() if k in declared} if declared else body


def handle_task_poll(operation: Operation, key: str, task_id: str) -> Response:
    task = state().backend.get_task(key, _spec(operation), task_id)
    return ok({"data": task_data(task)})


def task_data(task: Task) -> dict[str, Any]:
    data: dict[str, Any] = {"task_status": task.status.value}
    if task.status is TaskStatus.SUCCESS:
        data["results"] = sign_assets(task.results or {})
        data["error"] = None
    elif task.status is TaskStatus.ERROR:
        data["error"] = task.error
        data["error_message"] = task.error_message or ""
    else:
        data["error"] = None
    interval = state().config.polling_interval
    if interval is not None:
        data["polling_interval"] = interval
    return data


def sign_assets(node: Any) -> Any:
    """Replace every ``{"$asset": id}`` with a freshly signed download URL."""
    if isinstance(node, dict):
        if set(node) == {ASSET_KEY}:
            asset_id = node[ASSET_KEY]
            asset = state().backend.store.get_asset(asset_id)
            filename = quote(asset.filename if asset else "result")
            token = state().signer.sign("result", asset_id)
            return f"{base_url()}/_storage/results/{token}/{filename}"
        return {k: sign_assets(v) for k, v in node.items()}
    if isinstance(node, list):
        return [sign_assets(v) for v in node]
    return node


def handle_templates(operation: Operation, key: str) -> Response:
    query = _query(operation)
    assert operation.feature is not None
    templates, following = state().backend.list_templates(
        operation.feature,
        operation.version,
        int(query.get("page_size", 20)),
        query.get("starting_token"),
    )
    items = []
    for template in templates:
        folder = f"{operation.version}/{operation.feature}"
        thumb = f"{base_url()}/_storage/templates/{folder}/{template.id}.jpg"
        items.append(
            {
                "id": template.id,
                "thumb": thumb,
                "title": template.title,
                "category_name": template.category_name,
                **template.extra,
            }
        )
    data: dict[str, Any] = {"templates": items}
    if following:
        data["next_token"] = following
    return ok({"data": data})


def handle_task_delete(operation: Operation, key: str) -> Response:
    body = _json_body(operation)
    state().backend.delete_task(key, str(body["task_id"]))
    return ok({})


def handle_credit(operation: Operation, key: str) -> Response:
    record = state().backend.credit(key)
    now_ms = int(state().clock.now() * 1000)
    return ok(
        {
            "results": [
                {
                    "id": record.credit_id,
                    "type": "ApiPaygToken",
                    "amount": int(record.units),
                    "amount_dec": round(record.units, 2),
                    "expiry": now_ms + 365 * 24 * 3600 * 1000,
                }
            ]
        }
    )


def handle_credit_history(operation: Operation, key: str) -> Response:
    query = _query(operation)
    entries, following = state().backend.credit_history(
        key, int(query.get("page_size", 20)), query.get("starting_token")
    )
    history = []
    for entry in entries:
        item: dict[str, Any] = {
            "id": entry.entry_id,
            "timestamp": int(entry.timestamp * 1000),
            "target_id": entry.target_id,
            "info": {
                "credits": [
                    {
                        "id": entry.entry_id,
                        "amount": int(entry.amount),
                        "amount_dec": round(entry.amount, 2),
                    }
                ],
                "dst_actions": entry.dst_actions,
            },
        }
        if entry.action:
            item["action"] = entry.action
        history.append(item)
    result: dict[str, Any] = {"history": history}
    if following:
        result["next_token"] = following
    return ok({"result": result})


def handle_feature_cost(operation: Operation, key: str) -> Response:
    from youcam_mock.core.backend import paginate

    query = _query(operation)
    skus = [
        {
            "amount": sku["amount"],
            "unit": sku["unit"],
            "proc_unit": sku["proc_unit"],
            "run_task_url": base_url() + sku["path"],
        }
        for sku in state().backend.feature_costs()
    ]
    page, following = paginate(skus, int(query.get("page_size", 20)), query.get("starting_token"))
    result: dict[str, Any] = {"skus": page}
    if following:
        result["next_token"] = following
    return ok({"result": result})


_HANDLERS: dict[str, Callable[..., Response]] = {
    "file": handle_file,
    "task_create": handle_task_create,
    "task_poll": handle_task_poll,
    "templates": handle_templates,
    "task_delete": handle_task_delete,
    "client_credit": handle_credit,
    "client_credit_history": handle_credit_history,
    "credit_feature_cost": handle_feature_cost,
}
