"""Authentication over HTTP: the vendor's documented pitfalls and its 401 envelopes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.flow import jpeg
from youcam_mock.app import create_app
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig

KEY_A = "ycm_key_a_0001"
KEY_B = "ycm_key_b_0002"
INACTIVE = "ycm_disabled_0003"
EXPIRED = "ycm_lapsed_0004"

#: One operation of every kind, each with the body it needs (auth comes first).
OPERATIONS: list[tuple[str, str, Any]] = [
    ("POST", "/s2s/v2.0/file", {"files": []}),
    ("POST", "/s2s/v2.0/task/sod", {"src_file_url": "https://example.com/a.jpg"}),
    ("GET", "/s2s/v2.0/task/sod/" + "x" * 64, None),
    ("GET", "/s2s/v2.1/task/skin-analysis/" + "x" * 64, None),
    ("GET", "/s2s/v2.0/task/template/cloth", None),
    ("GET", "/s2s/v2.0/task/template/ai-studio", None),
    ("POST", "/s2s/v2.0/task/delete", {"task_id": "x"}),
    ("GET", "/s2s/v1.0/client/credit", None),
    ("GET", "/s2s/v2.0/credit/feature-cost", None),
]
OPERATION_IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]


@pytest.fixture(scope="module")
def app() -> Flask:
    """One emulator for the module: these tests only read state or make their own."""
    config = MockConfig(api_keys=(KEY_A, KEY_B), inactive_keys=(INACTIVE,), expired_keys=(EXPIRED,))
    return create_app(config, clock=ManualClock())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def call(client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.open(path, method=method, json=body, headers=headers)


def assert_401(response: Any, code: str) -> None:
    assert response.status_code == 401
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"status", "error", "error_code"}
    assert body["status"] == 401
    assert body["error_code"] == code
    assert isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": KEY_A},
        {"Authorization": f"Bearer <{KEY_A}>"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer ycm_not_a_key"},
        {"Authorization": f"Basic {KEY_A}"},
    ],
    ids=["no header", "no Bearer prefix", "angle brackets", "empty key", "unknown key", "Basic"],
)
def test_a_missing_or_malformed_key_is_an_invalid_api_key(
    client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    assert_401(call(client, method, path, body, headers), "InvalidApiKey")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_an_inactive_key_is_told_so(client: FlaskClient, method: str, path: str, body: Any) -> None:
    headers = {"Authorization": f"Bearer {INACTIVE}"}
    assert_401(call(client, method, path, body, headers), "InactiveApiKey")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=OPERATION_IDS)
def test_an_expired_key_is_told_so(client: FlaskClient, method: str, path: str, body: Any) -> None:
    headers = {"Authorization": f"Bearer {EXPIRED}"}
    assert_401(call(client, method, path, body, headers), "ExpiredApiKey")


@pytest.mark.parametrize(
    "authorization",
    [None, KEY_A, f"Bearer <{KEY_A}>", "Bearer nobody", f"Bearer {INACTIVE}", f"Bearer {EXPIRED}"],
)
def test_the_v1_credit_history_401_carries_the_only_code_its_document_lists(
    client: FlaskClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/s2s/v1.0/client/credit/history", headers=headers)
    assert_401(response, "InvalidAccessToken")


def test_a_valid_key_passes_on_every_kind_of_operation(client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {KEY_A}"}
    for path in (
        "/s2s/v1.0/client/credit",
        "/s2s/v1.0/client/credit/history",
        "/s2s/v2.0/credit/feature-cost",
        "/s2s/v2.0/task/template/cloth",
    ):
        assert client.get(path, headers=headers).status_code == 200, path


def test_the_credit_endpoint_answering_200_validates_a_key(client: FlaskClient) -> None:
    response = client.get("/s2s/v1.0/client/credit", headers={"Authorization": f"Bearer {KEY_A}"})
    assert response.status_code == 200
    assert response.get_json()["status"] == 200


def test_the_default_key_works_out_of_the_box() -> None:
    client = create_app(clock=ManualClock()).test_client()
    response = client.get(
        "/s2s/v1.0/client/credit", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    )
    assert response.status_code == 200


def test_several_tenants_each_see_only_their_own_tasks(client: FlaskClient) -> None:
    auth_a = {"Authorization": f"Bearer {KEY_A}"}
    auth_b = {"Authorization": f"Bearer {KEY_B}"}
    data = jpeg(64, 64)
    registered = client.post(
        "/s2s/v2.0/file/sod",
        json={
            "files": [{"content_type": "image/jpeg", "file_name": "a.jpg", "file_size": len(data)}]
        },
        headers=auth_a,
    ).get_json()["data"]["files"][0]
    put = registered["requests"][0]
    assert client.put(put["url"], data=data, headers=put["headers"]).status_code == 200

    created = client.post(
        "/s2s/v2.0/task/sod", json={"src_file_id": registered["file_id"]}, headers=auth_a
    )
    task_id = created.get_json()["data"]["task_id"]

    assert client.get(f"/s2s/v2.0/task/sod/{task_id}", headers=auth_a).status_code == 200
    foreign = client.get(f"/s2s/v2.0/task/sod/{task_id}", headers=auth_b)
    assert foreign.status_code == 400
    assert foreign.get_json()["error_code"] == "InvalidTaskId"
    stolen = client.post(
        "/s2s/v2.0/task/sod", json={"src_file_id": registered["file_id"]}, headers=auth_b
    )
    assert stolen.status_code == 400
    assert stolen.get_json()["error_code"] == "InvalidParameters"


def test_tenants_have_separate_unit_balances(client: FlaskClient) -> None:
    auth_a = {"Authorization": f"Bearer {KEY_A}"}
    auth_b = {"Authorization": f"Bearer {KEY_B}"}

    def balance(auth: dict[str, str]) -> int:
        response = client.get("/s2s/v1.0/client/credit", headers=auth)
        return int(response.get_json()["results"][0]["amount"])

    before_a, before_b = balance(auth_a), balance(auth_b)
    created = client.post(
        "/s2s/v2.0/task/sod", json={"src_file_url": "https://example.com/a.jpg"}, headers=auth_a
    )
    assert created.status_code == 200
    assert balance(auth_a) == before_a - 1
    assert balance(auth_b) == before_b


# ---------------------------------------------------------------------- x-request-id


def _request_id(response: Any) -> int:
    value = response.headers.get("x-request-id")
    assert value is not None and value.isdigit(), value
    return int(value)


@pytest.mark.nonconforming_ok  # includes a 404 for a path the contract does not have
def test_every_response_carries_an_integer_request_id(client: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {KEY_A}"}
    responses = [
        client.get("/s2s/v1.0/client/credit", headers=auth),
        client.get("/s2s/v1.0/client/credit"),
        client.post("/s2s/v2.0/task/sod", json={}, headers=auth),
        client.get("/no/such/path"),
        client.put("/_storage/uploads/not-a-token", data=b"x"),
    ]
    ids = [_request_id(r) for r in responses]
    assert [r.status_code for r in responses] == [200, 401, 400, 404, 403]
    assert all(i > 2**53 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
