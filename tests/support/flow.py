"""The integrator's whole flow, over any HTTP client: register -> PUT -> create -> poll ->
download.  Used in-process (Flask test client) and over a real socket (requests)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from youcam_mock.core import media
from youcam_mock.core.features import FeatureSpec
from youcam_testkit.requests import build_request, result_urls


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


#: (method, url, headers, body bytes) -> Reply
Send = Callable[[str, str, dict[str, str], bytes | None], Reply]


def jpeg(
    width: int = 640, height: int = 480, colour: tuple[int, int, int] = (200, 150, 120)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def png_mask(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, "PNG")
    return buffer.getvalue()


_VIDEO: dict[str, bytes] = {}


def mp4() -> bytes:
    if "clip" not in _VIDEO:
        _VIDEO["clip"] = media.render_video(None, seed=7, duration_s=3, fps=8, max_long=320)
    return _VIDEO["clip"]


def input_for(spec: FeatureSpec, field_name: str) -> tuple[bytes, str, str]:
    if spec.input == "video" and field_name.startswith("src"):
        return mp4(), "video/mp4", "clip.mp4"
    if "msk" in field_name:
        return png_mask(), "image/png", "mask.png"
    return jpeg(), "image/jpg", "selfie.jpg"


@dataclass
class FlowResult:
    task_id: str
    polls: list[dict[str, Any]] = field(default_factory=list)
    downloads: dict[str, bytes] = field(default_factory=dict)


class Flow:
    def __init__(self, send: Send, base_url: str, api_key: str) -> None:
        self.send = send
        self.base = base_url.rstrip("/")
        self.auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        return self.send(method, self.base + path, dict(self.auth), data)

    def upload(self, data: bytes, content_type: str, name: str) -> str:
        reply = self.call(
            "POST",
            "/s2s/v2.0/file",
            {"files": [{"content_type": content_type, "file_name": name, "file_size": len(data)}]},
        )
        assert reply.status == 200, reply.body
        entry = reply.json()["data"]["files"][0]
        assert entry["content_type"] == content_type and entry["file_name"] == name
        put = entry["requests"][0]
        assert put["method"] == "PUT"
        stored = self.send("PUT", put["url"], dict(put["headers"]), data)
        assert stored.status == 200, stored.body
        return str(entry["file_id"])

    def run(self, spec: FeatureSpec, *, template_id: str | None = None) -> FlowResult:
        body = build_request(
            spec, lambda name, index: self.upload(*input_for(spec, name)), template_id=template_id
        )
        created = self.call("POST", spec.create_path, body)
        assert created.status == 200, (spec.key, created.body)
        task_id = created.json()["data"]["task_id"]
        result = FlowResult(task_id)
        for _ in range(10):
            polled = self.call("GET", spec.poll_path.replace("{task_id}", task_id))
            assert polled.status == 200, polled.body
            data = polled.json()["data"]
            result.polls.append(data)
            if data["task_status"] != "running":
                break
        for url in urls_in(result.polls[-1].get("results", {})):
            got = self.send("GET", url, {}, None)
            assert got.status == 200, (url, got.status)
            result.downloads[url] = got.body
        return result

    def first_template(self, spec: FeatureSpec) -> str | None:
        if spec.templates_path is None or "template_id" not in json.dumps(spec.request_schema):
            return None
        reply = self.call("GET", spec.templates_path)
        return str(reply.json()["data"]["templates"][0]["id"])


urls_in = result_urls


def flask_sender(client: Any) -> Send:
    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.open(path, method=method, headers=headers, data=body)
        return Reply(response.status_code, dict(response.headers), response.get_data())

    return send
