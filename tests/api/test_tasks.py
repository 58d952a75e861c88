"""Task create, poll, results and delete over HTTP (Flask test client, ManualClock)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.support.flow import jpeg, png_mask, urls_in
from youcam_mock.app import create_app
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DAY, DEFAULT_API_KEY, HOUR, MockConfig
from youcam_mock.core.lifecycle import Progression

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
NOWHERE = "https://images.example.com/not-served.jpg"


class Api:
    """A thin client for one emulator: upload, create, poll, download."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.clock = ManualClock()
        self.app: Flask = create_app(config or MockConfig(), clock=self.clock)
        self.client: FlaskClient = self.app.test_client()

    def upload(self, data: bytes, content_type: str = "image/jpeg", name: str = "in.jpg") -> str:
        files = [{"content_type": content_type, "file_name": name, "file_size": len(data)}]
        reply = self.client.post("/s2s/v2.0/file", json={"files": files}, headers=AUTH)
        assert reply.status_code == 200, reply.get_json()
        entry = reply.get_json()["data"]["files"][0]
        request = entry["requests"][0]
        stored = self.client.put(request["url"], data=data, headers=request["headers"])
        assert stored.status_code == 200
        return str(entry["file_id"])

    def create(self, feature: str, body: Any, version: str = "v2.0") -> Any:
        return self.client.post(f"/s2s/{version}/task/{feature}", json=body, headers=AUTH)

    def start(self, feature: str, body: dict[str, Any], version: str = "v2.0") -> str:
        reply = self.create(feature, body, version)
        assert reply.status_code == 200, reply.get_json()
        return str(reply.get_json()["data"]["task_id"])

    def poll(self, feature: str, task_id: str, version: str = "v2.0") -> Any:
        return self.client.get(f"/s2s/{version}/task/{feature}/{task_id}", headers=AUTH)

    def status(self, feature: str, task_id: str, version: str = "v2.0") -> dict[str, Any]:
        reply = self.poll(feature, task_id, version)
        assert reply.status_code == 200, reply.get_json()
        data: dict[str, Any] = reply.get_json()["data"]
        return data

    def finish(self, feature: str, task_id: str, version: str = "v2.0") -> dict[str, Any]:
        for _ in range(10):
            data = self.status(feature, task_id, version)
            if data["task_status"] != "running":
                return data
        raise AssertionError("the task never finished")

    def run(self, feature: str, body: dict[str, Any], version: str = "v2.0") -> dict[str, Any]:
        return self.finish(feature, self.start(feature, body, version), version)

    def download(self, url: str, **headers: str) -> Any:
        return self.client.get(url, headers=headers)


@pytest.fixture(scope="module")
def shared() -> Api:
    """One emulator for tests that neither move the clock nor count state."""
    return Api()


@pytest.fixture
def api() -> Api:
    return Api()


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ---------------------------------------------------------------------- lifecycle


def test_a_task_answers_running_once_then_success_with_results(shared: Api) -> None:
    reply = shared.create("sod", {"src_file_id": shared.upload(jpeg(64, 48))})
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["status"] == 200
    task_id = body["data"]["task_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", task_id)

    first = shared.status("sod", task_id)
    assert first["task_status"] == "running"
    assert first["error"] is None
    second = shared.status("sod", task_id)
    assert second["task_status"] == "success"
    assert second["error"] is None
    assert second["results"]["url"].startswith("http")
    again = shared.status("sod", task_id)
    assert again["task_status"] == "success"
    assert shared.download(again["results"]["url"]).get_data() == (
        shared.download(second["results"]["url"]).get_data()
    )


def test_three_running_polls_come_before_success_when_configured() -> None:
    api = Api(MockConfig(progression=Progression(running_polls=3)))
    task_id = api.start("sod", {"src_file_id": api.upload(jpeg(64, 48))})
    statuses = [api.status("sod", task_id)["task_status"] for _ in range(4)]
    assert statuses == ["running", "running", "running", "success"]


def test_a_time_driven_task_finishes_when_the_clock_has_moved() -> None:
    api = Api(MockConfig(progression=Progression(running_polls=None, seconds=30)))
    task_id = api.start("sod", {"src_file_id": api.upload(jpeg(64, 48))})
    for _ in range(3):
        assert api.status("sod", task_id)["task_status"] == "running"
    api.clock.advance(29)
    assert api.status("sod", task_id)["task_status"] == "running"
    api.clock.advance(1)
    assert api.status("sod", task_id)["task_status"] == "success"


def test_polling_interval_is_not_sent_by_default(shared: Api) -> None:
    task_id = shared.start("sod", {"src_file_id": shared.upload(jpeg(64, 48))})
    assert "polling_interval" not in shared.status("sod", task_id)


# ---------------------------------------------------------------------- request validation


def _error(reply: Any, status: int, code: str) -> str:
    assert reply.status_code == status, reply.get_json()
    body = reply.get_json()
    assert body["status"] == status
    assert body["error_code"] == code
    message: str = body["error"]
    return message


def test_missing_dst_actions_is_an_invalid_parameter_naming_the_field(shared: Api) -> None:
    reply = shared.create("skin-analysis", {"src_file_url": NOWHERE})
    assert "dst_actions" in _error(reply, 400, "InvalidParameters")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"src_file_url": NOWHERE}, "scale"),
        ({"src_file_url": NOWHERE, "scale": 3}, "scale"),
        ({"src_file_url": NOWHERE, "scale": "2"}, "scale"),
        ({"scale": 2}, "src_file"),
        ({"src_file_url": 5, "scale": 2}, "src_file_url"),
    ],
    ids=["missing scale", "scale not in enum", "scale a string", "no source", "url not a string"],
)
def test_an_invalid_enhance_request_names_the_offending_field(
    shared: Api, body: dict[str, Any], field: str
) -> None:
    assert field in _error(shared.create("enhance", body), 400, "InvalidParameters")


@pytest.mark.parametrize(
    "actions",
    [["hd_wrinkle", "pore"], ["sparkle"], []],
    ids=["mixed HD and SD", "unknown action", "empty"],
)
def test_bad_skin_analysis_actions_are_invalid_parameters(shared: Api, actions: list[str]) -> None:
    for version in ("v2.0", "v2.1"):
        reply = shared.create(
            "skin-analysis", {"src_file_url": NOWHERE, "dst_actions": actions}, version
        )
        assert "dst_actions" in _error(reply, 400, "InvalidParameters")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b'"a string"', b"", b"\xff\xfe"],
    ids=["broken", "array", "string", "empty", "not utf-8"],
)
def test_a_body_that_is_not_a_json_object_is_an_invalid_parameter(shared: Api, raw: bytes) -> None:
    reply = shared.client.post(
        "/s2s/v2.0/task/sod",
        data=raw,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    _error(reply, 400, "InvalidParameters")


def test_a_bad_request_charges_nothing() -> None:
    api = Api(MockConfig(units=5))
    api.create("enhance", {"src_file_url": NOWHERE})
    credit = api.client.get("/s2s/v1.0/client/credit", headers=AUTH).get_json()
    assert credit["results"][0]["amount"] == 5


def test_too_few_units_is_a_credit_insufficiency() -> None:
    api = Api(MockConfig(units=1))
    reply = api.create("enhance", {"src_file_url": NOWHERE, "scale": 1})
    _error(reply, 400, "CreditInsufficiency")


# ---------------------------------------------------------------------- polling errors


def test_polling_an_unknown_task_id_is_an_invalid_task_id(shared: Api) -> None:
    _error(shared.poll("sod", "A" * 64), 400, "InvalidTaskId")


def test_polling_a_task_through_another_features_path_is_an_invalid_task_id(
    shared: Api,
) -> None:
    task_id = shared.start("sod", {"src_file_url": NOWHERE})
    _error(shared.poll("bg-blur", task_id), 400, "InvalidTaskId")
    _error(shared.poll("skin-analysis", task_id, "v2.1"), 400, "InvalidTaskId")
    assert shared.status("sod", task_id)["task_status"] == "running"


def test_an_engine_failure_is_a_200_with_task_status_error(shared: Api) -> None:
    data = shared.run("sod", {"src_file_url": NOWHERE})
    assert data["task_status"] == "error"
    assert data["error"] == "error_download_image"
    assert isinstance(data["error_message"], str) and data["error_message"]
    assert "results" not in data or not data["results"]


def test_a_file_registered_but_never_uploaded_ends_in_unknown_internal_error(
    shared: Api,
) -> None:
    files = [{"content_type": "image/jpeg", "file_name": "ghost.jpg", "file_size": 1234}]
    reply = shared.client.post("/s2s/v2.0/file", json={"files": files}, headers=AUTH)
    file_id = reply.get_json()["data"]["files"][0]["file_id"]
    data = shared.run("sod", {"src_file_id": file_id})
    assert (data["task_status"], data["error"]) == ("error", "unknown_internal_error")


def test_a_task_can_no_longer_be_polled_a_day_after_it_finished(api: Api) -> None:
    task_id = api.start("sod", {"src_file_id": api.upload(jpeg(64, 48))})
    api.finish("sod", task_id)
    api.clock.advance(DAY - 1)
    assert api.status("sod", task_id)["task_status"] == "success"
    api.clock.advance(1)
    _error(api.poll("sod", task_id), 400, "InvalidTaskId")


# ---------------------------------------------------------------------- result links


def test_results_download_without_authorization(shared: Api) -> None:
    data = shared.run("bg-blur", {"src_file_id": shared.upload(jpeg(64, 48))})
    reply = shared.download(data["results"]["url"])
    assert reply.status_code == 200
    assert image_of(reply.get_data()).format == "JPEG"


def test_a_result_link_expires_after_two_hours_and_a_new_poll_gives_a_fresh_one(
    api: Api,
) -> None:
    task_id = api.start("sod", {"src_file_id": api.upload(jpeg(64, 48))})
    old = api.finish("sod", task_id)["results"]["url"]
    content = api.download(old).get_data()

    api.clock.advance(2 * HOUR - 1)
    assert api.download(old).status_code == 200
    api.clock.advance(2)
    assert api.download(old).status_code == 403

    fresh = api.status("sod", task_id)["results"]["url"]
    assert fresh != old
    reply = api.download(fresh)
    assert reply.status_code == 200
    assert reply.get_data() == content


def test_a_tampered_result_link_is_forbidden(shared: Api) -> None:
    url = shared.run("sod", {"src_file_id": shared.upload(jpeg(64, 48))})["results"]["url"]
    prefix, token, name = url.rsplit("/", 2)
    tampered = f"{prefix}/{token[:-2]}xx/{name}"
    assert shared.download(tampered).status_code == 403


def test_a_live_result_link_works_as_an_input_url_without_going_online(shared: Api) -> None:
    first = shared.run("sod", {"src_file_id": shared.upload(jpeg(160, 120))})
    second = shared.run("enhance", {"src_file_url": first["results"]["url"], "scale": 2})
    assert second["task_status"] == "success"
    assert image_of(shared.download(second["results"]["url"]).get_data()).size == (320, 240)


def test_a_template_thumbnail_works_as_an_input_url_offline(shared: Api) -> None:
    listing = shared.client.get("/s2s/v2.0/task/template/hair-style", headers=AUTH).get_json()
    thumb = listing["data"]["templates"][0]["thumb"]
    result = shared.run("enhance", {"src_file_url": thumb, "scale": 2})
    assert result["task_status"] == "success"
    assert image_of(shared.download(result["results"]["url"]).get_data()).size == (320, 320)


def test_an_expired_result_link_as_an_input_url_fails_to_download(api: Api) -> None:
    first = api.run("sod", {"src_file_id": api.upload(jpeg(64, 48))})
    api.clock.advance(2 * HOUR + 1)
    second = api.run("enhance", {"src_file_url": first["results"]["url"], "scale": 2})
    assert (second["task_status"], second["error"]) == ("error", "error_download_image")


# ---------------------------------------------------------------------- result content


def test_skin_analysis_json_format_gives_scores_and_masks_per_action(shared: Api) -> None:
    actions = ["wrinkle", "pore", "acne"]
    data = shared.run(
        "skin-analysis",
        {"src_file_id": shared.upload(jpeg()), "dst_actions": actions, "format": "json"},
        "v2.1",
    )
    assert data["task_status"] == "success"
    output = data["results"]["output"]
    assert [entry["type"] for entry in output] == actions
    for entry in output:
        assert isinstance(entry["ui_score"], int | float)
        assert isinstance(entry["raw_score"], int | float)
        assert entry["mask_urls"]
        for url in entry["mask_urls"]:
            mask = shared.download(url)
            assert mask.status_code == 200
            assert image_of(mask.get_data()).format == "PNG"


def test_skin_analysis_default_format_gives_a_real_zip_with_score_info(shared: Api) -> None:
    actions = ["hd_wrinkle", "hd_pore"]
    data = shared.run(
        "skin-analysis", {"src_file_id": shared.upload(jpeg()), "dst_actions": actions}
    )
    reply = shared.download(data["results"]["url"])
    assert reply.status_code == 200
    with zipfile.ZipFile(io.BytesIO(reply.get_data())) as archive:
        assert archive.testzip() is None
        scores = json.loads(archive.read("skinanalysisResult/score_info.json"))
    for action in actions:
        assert set(scores[action]) >= {"raw_score", "ui_score"}


def test_background_removal_gives_a_png_with_real_transparency(shared: Api) -> None:
    data = shared.run("sod", {"src_file_id": shared.upload(jpeg(200, 150))})
    image = image_of(shared.download(data["results"]["url"]).get_data())
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    low, high = image.getchannel("A").getextrema()
    assert low == 0 and high == 255
    assert image.size == (200, 150)


@pytest.mark.parametrize(("scale", "size"), [(1, (160, 120)), (2, (320, 240)), (4, (640, 480))])
def test_enhance_scales_the_picture_by_the_requested_factor(
    shared: Api, scale: int, size: tuple[int, int]
) -> None:
    data = shared.run("enhance", {"src_file_id": shared.upload(jpeg(160, 120)), "scale": scale})
    assert image_of(shared.download(data["results"]["url"]).get_data()).size == size


def test_out_paint_output_stays_within_1024_by_2048(shared: Api) -> None:
    body = {
        "src_file_id": shared.upload(jpeg(480, 640)),
        "output_width": 3000,
        "output_height": 4000,
        "input_x": 0,
        "input_y": 0,
        "input_width": 480,
        "input_height": 640,
        "crop_input_x": 0,
        "crop_input_y": 0,
        "crop_input_width": 480,
        "crop_input_height": 640,
    }
    data = shared.run("out-paint", body)
    width, height = image_of(shared.download(data["results"]["url"]).get_data()).size
    assert min(width, height) <= 1024
    assert max(width, height) <= 2048


def test_an_avatar_task_gives_as_many_pictures_as_output_count_asks() -> None:
    api = Api(MockConfig(units=10))
    listing = api.client.get("/s2s/v2.0/task/template/ai-avatar", headers=AUTH).get_json()
    body = {
        "src_file_id": api.upload(jpeg(128, 128)),
        "template_id": listing["data"]["templates"][0]["id"],
        "output_count": 5,
    }
    data = api.run("ai-avatar", body)
    urls = [entry["url"] for entry in data["results"]["output"]]
    assert len(urls) == len(set(urls)) == 5
    assert all(api.download(url).status_code == 200 for url in urls)
    credit = api.client.get("/s2s/v1.0/client/credit", headers=AUTH).get_json()
    assert credit["results"][0]["amount"] == 8  # 1 unit per started 4 pictures


def test_a_mask_input_is_accepted_for_object_removal(shared: Api) -> None:
    data = shared.run(
        "generative-fill",
        {
            "src_file_id": shared.upload(jpeg(64, 48)),
            "msk_file_id": shared.upload(png_mask(64, 48), "image/png", "mask.png"),
        },
    )
    assert data["task_status"] == "success"


def test_the_same_seed_and_input_give_the_same_result_bytes_in_two_fresh_apps() -> None:
    def run() -> list[bytes]:
        api = Api(MockConfig(seed=42))
        data = api.run("bg-blur", {"src_file_id": api.upload(jpeg(96, 64, (10, 120, 200)))})
        return [api.download(url).get_data() for url in urls_in(data["results"])]

    first = run()
    assert first
    assert run() == first


# ---------------------------------------------------------------------- delete


def test_deleting_a_running_task_is_an_invalid_operation(shared: Api) -> None:
    task_id = shared.start("sod", {"src_file_url": NOWHERE})
    reply = shared.client.post("/s2s/v2.0/task/delete", json={"task_id": task_id}, headers=AUTH)
    _error(reply, 400, "OperationInvalid")
    assert shared.status("sod", task_id)["task_status"] == "running"


def test_deleting_a_finished_task_removes_it_and_its_results(shared: Api) -> None:
    task_id = shared.start("sod", {"src_file_id": shared.upload(jpeg(64, 48))})
    url = shared.finish("sod", task_id)["results"]["url"]
    reply = shared.client.post("/s2s/v2.0/task/delete", json={"task_id": task_id}, headers=AUTH)
    assert reply.status_code == 200
    assert reply.get_json()["status"] == 200
    _error(shared.poll("sod", task_id), 400, "InvalidTaskId")
    assert shared.download(url).status_code == 404


def test_deleting_an_unknown_task_is_an_invalid_task_id(shared: Api) -> None:
    reply = shared.client.post("/s2s/v2.0/task/delete", json={"task_id": "Z" * 64}, headers=AUTH)
    _error(reply, 400, "InvalidTaskId")


def test_deleting_without_a_task_id_is_an_invalid_parameter(shared: Api) -> None:
    reply = shared.client.post("/s2s/v2.0/task/delete", json={}, headers=AUTH)
    _error(reply, 400, "InvalidParameters")
