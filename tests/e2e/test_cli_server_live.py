"""The README's promise: start ``youcam-mock serve`` and run every task operation's whole flow
over real HTTP with an ordinary client.  The server is a separate process, so each response
is validated here, client-side, against the contract and the published documents."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.flow import Flow, Reply
from tests.support.oracle import Violation, validate
from youcam_mock.contract import load_contract
from youcam_mock.core import media

FEATURES = sorted(load_contract().features)
TENANT_KEYS = ("tenant-a-key", "tenant-b-key")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    command = [sys.executable, "-m", "youcam_mock", "serve", "--port", "0", "--seed", "7"]
    command += ["--rate-limit", "off"]
    for key in TENANT_KEYS:
        command += ["--api-key", key]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = ""
    banner = []
    for _ in range(20):
        line = process.stdout.readline()
        banner.append(line)
        if line.startswith("youcam-mock serving on "):
            base_url = line.split()[-1]
        if line.startswith("ready in"):
            break
    assert base_url, f"no base URL printed: {banner}"
    assert any(line.strip() == f"api key: {TENANT_KEYS[0]}" for line in banner)
    yield base_url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def violations() -> list[Violation]:
    return []


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _sender(http: requests.Session, found: list[Violation]):  # type: ignore[no-untyped-def]
    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        response = http.request(method, url, headers=headers, data=body, timeout=30)
        parts = urlsplit(url)
        assert "x-request-id" in response.headers or parts.path.startswith("/_storage")
        found.extend(
            validate(
                method,
                parts.path,
                response.status_code,
                response.content,
                response.headers.get("Content-Type", ""),
            )
        )
        return Reply(response.status_code, dict(response.headers), response.content)

    return send


@pytest.mark.parametrize("key", FEATURES)
def test_every_task_operation_runs_end_to_end_over_http(
    server: str, session: requests.Session, violations: list[Violation], key: str
) -> None:
    found: list[Violation] = []
    flow = Flow(_sender(session, found), server, TENANT_KEYS[0])
    spec = load_contract().features[key]
    result = flow.run(spec, template_id=flow.first_template(spec))
    assert [p["task_status"] for p in result.polls] == ["running", "success"]
    assert result.downloads or not any("url" in str(p) for p in result.polls)
    for data in result.downloads.values():
        assert media.probe(data).kind in ("image", "video") or data[:2] == b"PK"
    assert not found, "\n".join(map(str, found))


def test_a_second_tenant_cannot_see_the_first_tenants_task(
    server: str, session: requests.Session
) -> None:
    found: list[Violation] = []
    owner = Flow(_sender(session, found), server, TENANT_KEYS[0])
    other = Flow(_sender(session, found), server, TENANT_KEYS[1])
    spec = load_contract().features["v2.0/sod"]
    task_id = owner.run(spec).task_id
    reply = other.call("GET", spec.poll_path.replace("{task_id}", task_id))
    assert reply.status == 400
    assert reply.json()["error_code"] == "InvalidTaskId"
    assert not found, "\n".join(map(str, found))
