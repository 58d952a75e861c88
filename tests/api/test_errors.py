"""Request-level errors: always the vendor's flat JSON envelope, never an HTML page."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from youcam_mock.app import create_app
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
LIMIT = 4096


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(MockConfig(max_json_body=LIMIT, units=50), clock=ManualClock())


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stats(app: Flask) -> dict[str, int]:
    """What the store holds (files, tasks, results and their bytes)."""
    result: dict[str, int] = app.extensions["youcam_mock"].backend.store.stats()
    return {k: result[k] for k in ("files", "tasks", "assets", "blobs", "blob_bytes")}


def units(client: FlaskClient) -> int:
    body = client.get("/s2s/v1.0/client/credit", headers=AUTH).get_json()
    return int(body["results"][0]["amount"])


def assert_envelope(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status
    assert reply.mimetype == "application/json"
    body: dict[str, Any] = json.loads(reply.get_data())
    assert set(body) == {"status", "error", "error_code"}
    assert body["status"] == status
    assert body["error_code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.mark.parametrize(
    "path",
    ["/nope", "/s2s/v2.0/task/no-such-feature", "/s2s/v9.9/task/sod", "/s2s/v2.0/task/sod/a/b"],
)
def test_an_unknown_path_is_a_json_404(client: FlaskClient, path: str) -> None:
    assert_envelope(client.get(path, headers=AUTH), 404, "NotFound")
    assert_envelope(client.post(path, json={}, headers=AUTH), 404, "NotFound")


@pytest.mark.nonconforming_ok  # the documents declare no 405 for published paths
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/s2s/v2.0/file"),
        ("DELETE", "/s2s/v2.0/task/sod"),
        ("PUT", "/s2s/v2.0/task/delete"),
        ("POST", "/s2s/v1.0/client/credit"),
    ],
)
def test_a_wrong_method_is_a_json_405(client: FlaskClient, method: str, path: str) -> None:
    assert_envelope(client.open(path, method=method, headers=AUTH), 405, "MethodNotAllowed")


def test_an_oversized_file_request_is_an_invalid_parameter_and_registers_nothing(
    app: Flask, client: FlaskClient
) -> None:
    before = stats(app)
    files = [
        {"content_type": "image/jpeg", "file_name": f"photo_{i:04d}.jpg", "file_size": 1000}
        for i in range(100)
    ]
    raw = json.dumps({"files": files}).encode()
    assert len(raw) > LIMIT
    reply = client.post(
        "/s2s/v2.0/file", data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_envelope(reply, 400, "InvalidParameters")
    assert stats(app) == before


def test_an_oversized_task_request_is_an_invalid_parameter_and_charges_nothing(
    app: Flask, client: FlaskClient
) -> None:
    before, balance = stats(app), units(client)
    body = {"src_file_url": "https://example.com/" + "a" * LIMIT + ".jpg"}
    reply = client.post("/s2s/v2.0/task/sod", json=body, headers=AUTH)
    assert "exceeds" in assert_envelope(reply, 400, "InvalidParameters")["error"]
    assert stats(app) == before
    assert units(client) == balance


def test_an_oversized_body_without_a_content_length_is_refused_too(
    app: Flask, client: FlaskClient
) -> None:
    before = stats(app)
    body = json.dumps({"src_file_url": "https://example.com/" + "b" * LIMIT}).encode()

    reply = client.post(
        "/s2s/v2.0/task/sod",
        input_stream=io.BytesIO(body),
        headers={**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert reply.request.content_length is None
    message = assert_envelope(reply, 400, "InvalidParameters")["error"]
    assert "exceeds" in message
    assert stats(app) == before


def test_a_body_just_under_the_limit_is_accepted(client: FlaskClient) -> None:
    prefix = '{"src_file_url": "https://example.com/'
    suffix = '.jpg"}'
    raw = (prefix + "c" * (LIMIT - len(prefix) - len(suffix)) + suffix).encode()
    assert len(raw) == LIMIT
    reply = client.post(
        "/s2s/v2.0/task/sod", data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert reply.status_code == 200


def test_a_form_encoded_body_is_an_invalid_parameter(client: FlaskClient) -> None:
    reply = client.post("/s2s/v2.0/task/sod", data={"src_file_url": "x"}, headers=AUTH)
    assert_envelope(reply, 400, "InvalidParameters")


def test_authentication_is_checked_before_the_body(client: FlaskClient) -> None:
    reply = client.post(
        "/s2s/v2.0/task/sod", data=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert_envelope(reply, 401, "InvalidApiKey")


def test_error_bodies_never_carry_data(client: FlaskClient) -> None:
    replies = [
        client.post("/s2s/v2.0/task/sod", json={}, headers=AUTH),
        client.get("/s2s/v2.0/task/sod/" + "q" * 64, headers=AUTH),
        client.post("/s2s/v2.0/task/delete", json={"task_id": "nope"}, headers=AUTH),
        client.get("/s2s/v2.0/task/template/cloth?page_size=0", headers=AUTH),
    ]
    for reply in replies:
        assert reply.status_code == 400
        assert "data" not in reply.get_json()


def test_a_small_body_without_a_content_length_is_read_normally(client: FlaskClient) -> None:
    body = json.dumps({"src_file_url": "https://example.com/d.jpg"}).encode()
    reply = client.post(
        "/s2s/v2.0/task/sod",
        input_stream=io.BytesIO(body),
        headers={**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert reply.status_code == 200, reply.get_json()
