"""Template lists, unit balance, unit history and the price list over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.support.flow import jpeg
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
CONTRACT = load_contract()
TEMPLATE_PATHS = sorted(op.path for op in CONTRACT.operations.values() if op.kind == "templates")
PRICED_PATHS = {
    spec.create_path for spec in CONTRACT.features.values() if spec.pre_process_of is None
}


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return create_app(MockConfig(), clock=ManualClock()).test_client()


def get(client: FlaskClient, path: str, **query: Any) -> Any:
    return client.get(path, query_string=query, headers=AUTH)


def upload(client: FlaskClient, data: bytes) -> str:
    files = [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": len(data)}]
    entry = client.post("/s2s/v2.0/file", json={"files": files}, headers=AUTH).get_json()
    entry = entry["data"]["files"][0]
    request = entry["requests"][0]
    assert client.put(request["url"], data=data, headers=request["headers"]).status_code == 200
    return str(entry["file_id"])


def all_pages(client: FlaskClient, path: str, items: str, page_size: int) -> list[list[Any]]:
    """Follow next_token until it is absent; each page's items."""
    pages: list[list[Any]] = []
    token: str | None = None
    for _ in range(100):
        query: dict[str, Any] = {"page_size": page_size}
        if token is not None:
            query["starting_token"] = token
        reply = get(client, path, **query)
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        container = body.get("data") or body.get("result")
        pages.append(container[items])
        token = container.get("next_token")
        if not token:
            return pages
    raise AssertionError("next_token never ran out")


def assert_invalid_parameters(reply: Any) -> None:
    assert reply.status_code == 400, reply.get_json()
    body = reply.get_json()
    assert body["status"] == 400
    assert body.get("error_code", "InvalidParameters") == "InvalidParameters"


# ---------------------------------------------------------------------- template lists


def test_the_contract_publishes_17_template_lists() -> None:
    assert len(TEMPLATE_PATHS) == 17


@pytest.mark.parametrize("path", TEMPLATE_PATHS)
def test_a_template_list_pages_to_the_end_without_duplicates(
    client: FlaskClient, path: str
) -> None:
    pages = all_pages(client, path, "templates", page_size=7)
    assert len(pages) >= 2
    assert all(len(page) == 7 for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= 7
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids))
    whole = get(client, path).get_json()["data"]
    assert [t["id"] for t in whole["templates"]] == ids[:20]


@pytest.mark.parametrize("path", TEMPLATE_PATHS)
def test_template_ids_are_decimal_strings_beyond_2_to_the_53(
    client: FlaskClient, path: str
) -> None:
    templates = get(client, path, page_size=20).get_json()["data"]["templates"]
    for template in templates:
        assert isinstance(template["id"], str) and template["id"].isdigit()
        assert int(template["id"]) > 2**53
        assert template["title"] and template["category_name"]
        assert urlsplit(template["thumb"]).scheme in ("http", "https")


def test_a_template_thumbnail_is_a_real_picture(client: FlaskClient) -> None:
    template = get(client, "/s2s/v2.0/task/template/cloth").get_json()["data"]["templates"][0]
    reply = client.get(template["thumb"])
    assert reply.status_code == 200
    assert reply.get_data()[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("page_size", ["0", "21", "x", "-3", "2.5"])
@pytest.mark.parametrize(
    "path", ["/s2s/v2.0/task/template/cloth", "/s2s/v2.0/task/template/ai-studio"]
)
def test_a_page_size_outside_1_to_20_is_an_invalid_parameter(
    client: FlaskClient, path: str, page_size: str
) -> None:
    assert_invalid_parameters(get(client, path, page_size=page_size))


@pytest.mark.parametrize("token", ["garbage!", "zzzz", "LTE"])
def test_a_starting_token_this_api_did_not_issue_is_an_invalid_parameter(
    client: FlaskClient, token: str
) -> None:
    reply = get(client, "/s2s/v2.0/task/template/hair-style", starting_token=token)
    assert_invalid_parameters(reply)


@pytest.mark.parametrize(
    ("version", "feature", "body"),
    [
        ("v2.0", "hair-style", {}),
        ("v2.1", "hair-transfer", {}),
        ("v2.0", "ai-avatar", {"output_count": 1}),
    ],
)
def test_a_template_from_the_list_runs_and_an_unknown_one_is_an_invalid_style(
    client: FlaskClient, version: str, feature: str, body: dict[str, Any]
) -> None:
    listing = get(client, f"/s2s/{version}/task/template/{feature}", page_size=20)
    template_id = listing.get_json()["data"]["templates"][-1]["id"]
    request = {**body, "src_file_id": upload(client, jpeg(128, 128)), "template_id": template_id}
    created = client.post(f"/s2s/{version}/task/{feature}", json=request, headers=AUTH)
    assert created.status_code == 200, created.get_json()
    task_id = created.get_json()["data"]["task_id"]
    for _ in range(3):
        polled = client.get(f"/s2s/{version}/task/{feature}/{task_id}", headers=AUTH)
        status = polled.get_json()["data"]["task_status"]
        if status != "running":
            break
    assert status == "success"

    unknown = {**request, "template_id": "1" + template_id}
    reply = client.post(f"/s2s/{version}/task/{feature}", json=unknown, headers=AUTH)
    assert reply.status_code == 400
    assert reply.get_json()["error_code"] == "InvalidStyle"


def test_an_invalid_style_costs_nothing() -> None:
    client = create_app(MockConfig(units=10), clock=ManualClock()).test_client()
    request = {"src_file_id": upload(client, jpeg(64, 64)), "template_id": "7"}
    reply = client.post("/s2s/v2.0/task/hair-style", json=request, headers=AUTH)
    assert reply.status_code == 400
    credit = get(client, "/s2s/v1.0/client/credit").get_json()
    assert credit["results"][0]["amount"] == 10


# ---------------------------------------------------------------------- units


def test_the_credit_balance_names_type_amount_and_amount_dec() -> None:
    client = create_app(MockConfig(units=123), clock=ManualClock()).test_client()
    body = get(client, "/s2s/v1.0/client/credit").get_json()
    assert body["status"] == 200
    (credit,) = body["results"]
    assert credit["type"] in ("ApiSubsToken", "ApiPaygToken")
    assert credit["amount"] == 123
    assert credit["amount_dec"] == 123


def test_the_credit_id_is_the_same_on_every_call(client: FlaskClient) -> None:
    first = get(client, "/s2s/v1.0/client/credit").get_json()["results"][0]["id"]
    second = get(client, "/s2s/v1.0/client/credit").get_json()["results"][0]["id"]
    assert first == second


def test_the_balance_drops_by_the_cost_of_a_task() -> None:
    client = create_app(MockConfig(units=100), clock=ManualClock()).test_client()
    request = {"src_file_id": upload(client, jpeg(64, 64)), "dst_actions": ["acne", "pore"]}
    created = client.post("/s2s/v2.1/task/skin-analysis", json=request, headers=AUTH)
    assert created.status_code == 200
    credit = get(client, "/s2s/v1.0/client/credit").get_json()["results"][0]
    assert (credit["amount"], credit["amount_dec"]) == (91, 91)


def test_the_credit_history_lists_the_charge_of_a_task() -> None:
    client = create_app(MockConfig(units=100), clock=ManualClock()).test_client()
    actions = ["hd_acne", "hd_pore", "hd_wrinkle", "hd_texture", "hd_redness"]
    request = {"src_file_id": upload(client, jpeg(64, 64)), "dst_actions": actions}
    created = client.post("/s2s/v2.0/task/skin-analysis", json=request, headers=AUTH)
    task_id = created.get_json()["data"]["task_id"]

    body = get(client, "/s2s/v1.0/client/credit/history").get_json()
    assert body["status"] == 200
    history = body["result"]["history"]
    charges = [entry for entry in history if entry["target_id"] == task_id]
    assert len(charges) == 1
    (charge,) = charges
    assert charge["info"]["credits"][0]["amount"] == -16
    assert charge["info"]["dst_actions"] == actions
    assert history[0]["target_id"] == task_id  # newest first


def test_the_credit_history_pages_with_its_token() -> None:
    client = create_app(MockConfig(), clock=ManualClock()).test_client()
    for _ in range(4):
        client.post(
            "/s2s/v2.0/task/sod", json={"src_file_url": "https://example.com/a.jpg"}, headers=AUTH
        )
    pages = all_pages(client, "/s2s/v1.0/client/credit/history", "history", page_size=2)
    ids = [entry["id"] for page in pages for entry in page]
    assert len(ids) == 5  # the opening balance and four charges
    assert len(set(ids)) == 5


def test_the_price_list_pages_through_skus_with_absolute_task_urls(client: FlaskClient) -> None:
    pages = all_pages(client, "/s2s/v2.0/credit/feature-cost", "skus", page_size=20)
    skus = [sku for page in pages for sku in page]
    assert len(pages) > 1
    for sku in skus:
        parts = urlsplit(sku["run_task_url"])
        assert parts.scheme in ("http", "https") and parts.netloc
        assert sku["unit"] in ("result_image", "second")
        assert sku["amount"] > 0 and sku["proc_unit"] >= 1
    assert {urlsplit(s["run_task_url"]).path for s in skus} == PRICED_PATHS
    skin = {s["amount"] for s in skus if s["run_task_url"].endswith("/v2.0/task/skin-analysis")}
    assert skin == {9, 12, 14, 16, 20, 22}
    swap = [s for s in skus if s["run_task_url"].endswith("/task/face-swap-vid")]
    assert [(s["amount"], s["unit"], s["proc_unit"]) for s in swap] == [(1, "second", 5)]


@pytest.mark.parametrize("page_size", ["0", "21", "x"])
def test_the_price_list_refuses_a_bad_page_size(client: FlaskClient, page_size: str) -> None:
    assert_invalid_parameters(get(client, "/s2s/v2.0/credit/feature-cost", page_size=page_size))
