"""The File API and the presigned PUT: the two-step upload real clients perform."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.flow import jpeg, mp4
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, HOUR, MockConfig

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
SLUGS = sorted({spec.feature for spec in load_contract().features.values()})


@pytest.fixture(scope="module")
def shared() -> FlaskClient:
    """One emulator for tests that only register files (no clock moves, no counting)."""
    return create_app(MockConfig(), clock=ManualClock()).test_client()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(clock: ManualClock) -> Flask:
    return create_app(MockConfig(), clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def register(client: FlaskClient, files: list[dict[str, Any]], path: str = "/s2s/v2.0/file") -> Any:
    return client.post(path, json={"files": files}, headers=AUTH)


def one_file(data: bytes, content_type: str = "image/jpeg", name: str = "me.jpg") -> dict[str, Any]:
    return {"content_type": content_type, "file_name": name, "file_size": len(data)}


def put_request(client: FlaskClient, data: bytes, content_type: str = "image/jpeg") -> Any:
    response = register(client, [one_file(data, content_type)])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]["files"][0]


def put(client: FlaskClient, request: dict[str, Any], data: bytes, **headers: str) -> Any:
    sent = {**request["headers"], **headers}
    return client.put(request["url"], data=data, headers=sent)


def store_stats(app: Flask) -> dict[str, int]:
    stats: dict[str, int] = app.extensions["youcam_mock"].backend.store.stats()
    return stats


# ---------------------------------------------------------------------- the File API


def test_several_files_are_answered_in_request_order_with_names_and_types_echoed(
    shared: FlaskClient,
) -> None:
    files = [
        {"content_type": "image/jpg", "file_name": "Selfie 01.JPG", "file_size": 1000},
        {"content_type": "image/png", "file_name": "mask.png", "file_size": 2000},
        {"content_type": "image/jpeg", "file_name": "ünïcødé.jpeg", "file_size": 3000},
        {"content_type": "video/mp4", "file_name": "clip.mp4", "file_size": 4000},
    ]
    response = register(shared, files)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == 200
    entries = body["data"]["files"]
    assert [(e["content_type"], e["file_name"]) for e in entries] == [
        (f["content_type"], f["file_name"]) for f in files
    ]
    assert len({e["file_id"] for e in entries}) == len(files)
    for entry, sent in zip(entries, files, strict=True):
        (request,) = entry["requests"]
        assert request["method"] == "PUT"
        parts = urlsplit(request["url"])
        assert parts.scheme in ("http", "https") and parts.netloc
        assert request["headers"] == {
            "Content-Type": sent["content_type"],
            "Content-Length": str(sent["file_size"]),
        }


def test_upload_urls_use_the_configured_public_base_url() -> None:
    client = create_app(
        MockConfig(public_base_url="https://mock.example.test/"), clock=ManualClock()
    ).test_client()
    entry = put_request(client, b"x" * 10)
    assert entry["requests"][0]["url"].startswith("https://mock.example.test/")


def test_an_image_over_10_mb_is_refused_by_the_file_api(shared: FlaskClient) -> None:
    size = 10 * 1024 * 1024 + 1
    response = register(
        shared, [{"content_type": "image/jpeg", "file_name": "huge.jpg", "file_size": size}]
    )
    assert response.status_code == 400
    assert response.get_json()["error_code"] == "InvalidParameters"
    assert "file_size" in response.get_json()["error"]


def test_a_video_under_100_mb_is_accepted_by_the_file_api(shared: FlaskClient) -> None:
    size = 50 * 1024 * 1024
    response = register(
        shared, [{"content_type": "video/mp4", "file_name": "long.mp4", "file_size": size}]
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"files": "me.jpg"},
        {"files": [{"content_type": "image/jpeg", "file_name": "me.jpg"}]},
        {"files": [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": "big"}]},
    ],
    ids=["no files", "files not a list", "no file_size", "file_size not a number"],
)
def test_a_malformed_file_request_is_an_invalid_parameter(
    shared: FlaskClient, body: dict[str, Any]
) -> None:
    response = shared.post("/s2s/v2.0/file", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error_code"] == "InvalidParameters"


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_the_per_feature_file_api_aliases_work_for_every_feature(
    shared: FlaskClient, version: str
) -> None:
    for slug in SLUGS:
        response = register(shared, [one_file(b"x" * 100)], f"/s2s/{version}/file/{slug}")
        assert response.status_code == 200, (slug, response.get_json())
        assert response.get_json()["data"]["files"][0]["file_name"] == "me.jpg"


def test_the_generic_v2_1_file_api_works(shared: FlaskClient) -> None:
    assert register(shared, [one_file(b"x")], "/s2s/v2.1/file").status_code == 200


@pytest.mark.nonconforming_ok  # a 404 the File API's documents do not declare
def test_an_unknown_feature_in_the_file_api_is_a_json_404(shared: FlaskClient) -> None:
    response = register(shared, [one_file(b"x")], "/s2s/v2.0/file/no-such-feature")
    assert response.status_code == 404
    assert response.is_json
    body = response.get_json()
    assert body["status"] == 404 and body["error_code"] == "NotFound"


# ---------------------------------------------------------------------- the presigned PUT


def test_the_put_needs_no_authorization_and_answers_exactly_200_with_no_body(
    client: FlaskClient,
) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    response = put(client, entry["requests"][0], data)
    assert response.status_code == 200
    assert response.get_data() == b""


def test_a_file_registered_as_image_jpg_uploads_with_that_content_type(
    client: FlaskClient,
) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data, "image/jpg")
    assert entry["requests"][0]["headers"]["Content-Type"] == "image/jpg"
    assert put(client, entry["requests"][0], data).status_code == 200


def test_an_uploaded_file_can_be_used_by_a_task(client: FlaskClient) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    assert put(client, entry["requests"][0], data).status_code == 200
    created = client.post(
        "/s2s/v2.0/task/sod", json={"src_file_id": entry["file_id"]}, headers=AUTH
    )
    assert created.status_code == 200


def test_a_video_uploads_like_an_image(client: FlaskClient) -> None:
    data = mp4()
    entry = put_request(client, data, "video/mp4")
    assert put(client, entry["requests"][0], data).status_code == 200


def test_a_body_shorter_than_registered_is_refused(client: FlaskClient, app: Flask) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    response = client.put(
        entry["requests"][0]["url"], data=data[:-10], headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 400
    file_id = entry["file_id"]
    assert app.extensions["youcam_mock"].backend.file_bytes(file_id) is None


def test_a_content_type_other_than_registered_is_refused(client: FlaskClient) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    response = put(client, entry["requests"][0], data, **{"Content-Type": "image/png"})
    assert response.status_code == 400


def test_a_tampered_upload_token_is_forbidden(client: FlaskClient) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    url = entry["requests"][0]["url"]
    last = url[-1]
    tampered = url[:-1] + ("A" if last != "A" else "B")
    response = client.put(tampered, data=data, headers=entry["requests"][0]["headers"])
    assert response.status_code == 403


def test_an_upload_url_from_another_emulator_is_forbidden(client: FlaskClient) -> None:
    other = create_app(MockConfig(), clock=ManualClock()).test_client()
    data = jpeg(64, 48)
    entry = put_request(other, data)
    assert put(client, entry["requests"][0], data).status_code == 403


def test_an_upload_url_expires_after_its_ttl(client: FlaskClient, clock: ManualClock) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    clock.advance(HOUR + 1)
    assert put(client, entry["requests"][0], data).status_code == 403


def test_an_upload_url_works_until_its_ttl(client: FlaskClient, clock: ManualClock) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    clock.advance(HOUR - 1)
    assert put(client, entry["requests"][0], data).status_code == 200


def test_registering_a_file_stores_no_bytes_until_the_put(client: FlaskClient, app: Flask) -> None:
    data = jpeg(64, 48)
    entry = put_request(client, data)
    assert store_stats(app)["blob_bytes"] == 0
    put(client, entry["requests"][0], data)
    assert store_stats(app)["blob_bytes"] == len(data)
