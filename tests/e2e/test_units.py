"""Units: each task charges its feature's documented cost when it is created; the balance,
the history and the price list agree; too few units refuse the task and charge nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.flow import jpeg, mp4
from youcam_mock.app import create_app
from youcam_mock.control import ControlError, InProcessControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
SKIN = "/s2s/v2.1/task/skin-analysis"
SD_4 = ["wrinkle", "pore", "texture", "acne"]
HD_5 = ["hd_wrinkle", "hd_pore", "hd_texture", "hd_acne", "hd_oiliness"]
PHOTO = jpeg(320, 240)


@dataclass
class Emulator:
    app: Flask
    client: FlaskClient
    control: InProcessControl

    def upload(self, data: bytes, content_type: str, name: str) -> str:
        files = [{"content_type": content_type, "file_name": name, "file_size": len(data)}]
        reply = self.client.post("/s2s/v2.0/file", json={"files": files}, headers=AUTH)
        entry = reply.get_json()["data"]["files"][0]
        request = entry["requests"][0]
        stored = self.client.put(request["url"], data=data, headers=request["headers"])
        assert stored.status_code == 200
        return str(entry["file_id"])

    def photo(self) -> str:
        return self.upload(PHOTO, "image/jpeg", "face.jpg")

    def video(self) -> str:
        return self.upload(mp4(), "video/mp4", "clip.mp4")

    def create(self, path: str, body: dict[str, Any]) -> TestResponse:
        return self.client.post(path, json=body, headers=AUTH)

    def skin_analysis(self, actions: list[str]) -> TestResponse:
        return self.create(SKIN, {"src_file_id": self.photo(), "dst_actions": actions})

    def balance(self) -> float:
        reply = self.client.get("/s2s/v1.0/client/credit", headers=AUTH)
        assert reply.status_code == 200
        results = reply.get_json()["results"]
        assert len(results) == 1
        return float(results[0]["amount_dec"])

    def history(self) -> list[dict[str, Any]]:
        reply = self.client.get("/s2s/v1.0/client/credit/history", headers=AUTH)
        assert reply.status_code == 200
        history: list[dict[str, Any]] = reply.get_json()["result"]["history"]
        return history

    def stored(self, what: str) -> int:
        return int(self.app.extensions["youcam_mock"].backend.store.stats()[what])

    def task_count(self) -> int:
        return self.stored("tasks")


def emulator(**settings: Any) -> Emulator:
    app = create_app(MockConfig(**settings), clock=ManualClock())
    return Emulator(app, app.test_client(), InProcessControl(app))


def charged(mock: Emulator, create: TestResponse, start: float) -> float:
    assert create.status_code == 200, create.get_json()
    return start - mock.balance()


# ---------------------------------------------------------------------- what a task costs


@pytest.mark.parametrize(
    ("actions", "cost"),
    [(SD_4, 9), (HD_5, 16), (SD_4[:1], 9), (HD_5[:4], 12)],
    ids=["4 SD concerns", "5 HD concerns", "1 SD concern", "4 HD concerns"],
)
def test_skin_analysis_costs_what_its_concern_count_and_quality_say(
    actions: list[str], cost: int
) -> None:
    mock = emulator(units=100)
    assert charged(mock, mock.skin_analysis(actions), 100) == cost


def test_a_per_five_seconds_video_feature_is_charged_for_the_input_real_duration() -> None:
    mock = emulator(units=100)
    body = {"src_file_id": mock.video(), "ref_file_id": mock.photo(), "dst_duration": 1}
    # 3 s of video at 1 unit per started 5 s.
    assert charged(mock, mock.create("/s2s/v2.0/task/face-swap-vid", body), 100) == 1


def test_a_per_second_video_feature_is_charged_for_the_input_real_duration() -> None:
    mock = emulator(units=100)
    templates = mock.client.get("/s2s/v2.0/task/template/video-trans", headers=AUTH)
    template_id = templates.get_json()["data"]["templates"][0]["id"]
    body = {"src_file_id": mock.video(), "template_id": template_id, "dst_duration": 1}
    # 3 s of video at 4 units a second, whatever dst_duration says.
    assert charged(mock, mock.create("/s2s/v2.0/task/video-trans", body), 100) == 12


def test_the_charge_happens_at_creation_not_when_the_task_finishes() -> None:
    mock = emulator(units=100)
    created = mock.skin_analysis(SD_4)
    assert charged(mock, created, 100) == 9
    task_id = created.get_json()["data"]["task_id"]
    for _ in range(3):
        mock.client.get(f"{SKIN}/{task_id}", headers=AUTH)
    assert mock.balance() == 91


def test_every_task_is_charged_again_even_with_the_same_input() -> None:
    mock = emulator(units=100)
    file_id = mock.photo()
    for _ in range(3):
        reply = mock.create(SKIN, {"src_file_id": file_id, "dst_actions": SD_4})
        assert reply.status_code == 200
    assert mock.balance() == 100 - 3 * 9


def test_a_refused_request_costs_nothing() -> None:
    mock = emulator(units=100)
    mixed = mock.skin_analysis(["wrinkle", "hd_pore"])
    assert mixed.status_code == 400
    assert mock.balance() == 100


# ---------------------------------------------------------------------- balance and history


def test_the_balance_reflects_each_charge() -> None:
    mock = emulator()
    start = mock.balance()
    assert start == 100_000
    mock.skin_analysis(SD_4)
    mock.skin_analysis(HD_5)
    assert mock.balance() == start - 9 - 16
    credit = mock.client.get("/s2s/v1.0/client/credit", headers=AUTH).get_json()["results"][0]
    assert credit["amount"] == int(credit["amount_dec"])


def test_the_history_lists_each_charge_against_its_task() -> None:
    mock = emulator(units=100)
    task_id = mock.skin_analysis(SD_4).get_json()["data"]["task_id"]
    latest = mock.history()[0]
    assert latest["target_id"] == task_id
    assert latest["info"]["credits"][0]["amount_dec"] == -9
    assert latest["info"]["credits"][0]["amount"] == -9
    assert latest["info"]["dst_actions"] == SD_4


def test_the_history_lists_newest_first_with_the_opening_balance_last() -> None:
    mock = emulator(units=100)
    first = mock.skin_analysis(SD_4).get_json()["data"]["task_id"]
    second = mock.skin_analysis(HD_5).get_json()["data"]["task_id"]
    history = mock.history()
    assert [h["target_id"] for h in history[:2]] == [second, first]
    assert history[-1]["info"]["credits"][0]["amount_dec"] == 100
    assert sum(h["info"]["credits"][0]["amount_dec"] for h in history) == mock.balance()


def test_the_history_accepts_the_documented_page_size_of_30() -> None:
    mock = emulator()
    reply = mock.client.get("/s2s/v1.0/client/credit/history?page_size=30", headers=AUTH)
    assert reply.status_code == 200


# ---------------------------------------------------------------------- too few units


def test_too_few_units_refuse_the_task_with_credit_insufficiency_and_charge_nothing() -> None:
    mock = emulator(units=8)
    history_before = mock.history()
    refused = mock.skin_analysis(SD_4)
    assert refused.status_code == 400
    body = refused.get_json()
    assert body["status"] == 400
    assert body["error_code"] == "CreditInsufficiency"
    assert "data" not in body
    assert mock.balance() == 8
    assert mock.history() == history_before
    assert mock.task_count() == 0
    assert mock.stored("blobs") == 1  # the uploaded photo, no copy kept for a task


def test_exactly_enough_units_run_the_task_and_leave_zero() -> None:
    mock = emulator(units=9)
    assert mock.skin_analysis(SD_4).status_code == 200
    assert mock.balance() == 0
    assert mock.skin_analysis(SD_4).get_json()["error_code"] == "CreditInsufficiency"


def test_a_cheaper_task_still_runs_when_a_dearer_one_is_refused() -> None:
    mock = emulator(units=12)
    assert mock.skin_analysis(HD_5).get_json()["error_code"] == "CreditInsufficiency"
    assert mock.skin_analysis(SD_4).status_code == 200
    assert mock.balance() == 3


# ---------------------------------------------------------------------- the control API


def test_set_units_through_the_control_api_changes_the_balance() -> None:
    mock = emulator()
    answer = mock.control.set_units(key=DEFAULT_API_KEY, units=10)
    assert answer["units"] == 10
    assert mock.balance() == 10
    assert mock.control.units(key=DEFAULT_API_KEY)["units"] == 10


def test_topping_up_lets_a_refused_task_through() -> None:
    mock = emulator(units=0)
    assert mock.skin_analysis(SD_4).get_json()["error_code"] == "CreditInsufficiency"
    mock.control.set_units(key=DEFAULT_API_KEY, units=9)
    assert mock.skin_analysis(SD_4).status_code == 200
    assert mock.control.units(key=DEFAULT_API_KEY)["units"] == 0


def test_a_top_up_shows_in_the_history() -> None:
    mock = emulator(units=5)
    mock.control.set_units(key=DEFAULT_API_KEY, units=50)
    top_up = mock.history()[0]
    assert top_up["info"]["credits"][0]["amount_dec"] == 45
    assert top_up["action"] == "compensation_from_customer_service"


def test_units_are_kept_per_key() -> None:
    mock = emulator(api_keys=(DEFAULT_API_KEY, "tenant-b"), units=50)
    mock.skin_analysis(SD_4)
    assert mock.control.units(key=DEFAULT_API_KEY)["units"] == 41
    assert mock.control.units(key="tenant-b")["units"] == 50


def test_set_units_for_an_unknown_key_is_invalid_parameters() -> None:
    mock = emulator()
    with pytest.raises(ControlError) as refused:
        mock.control.set_units(key="nobody", units=5)
    assert refused.value.status == 400
    assert refused.value.body["error_code"] == "InvalidParameters"


# ---------------------------------------------------------------------- the price list


def all_skus(mock: Emulator) -> list[dict[str, Any]]:
    skus: list[dict[str, Any]] = []
    query = "page_size=20"
    for _ in range(100):
        reply = mock.client.get(f"/s2s/v2.0/credit/feature-cost?{query}", headers=AUTH)
        assert reply.status_code == 200
        result = reply.get_json()["result"]
        skus.extend(result["skus"])
        if not result.get("next_token"):
            return skus
        query = f"page_size=20&starting_token={result['next_token']}"
    raise AssertionError("next_token never ran out")


def test_the_price_list_offers_skin_analysis_at_9_units_with_its_task_url() -> None:
    mock = emulator()
    skin = [s for s in all_skus(mock) if s["run_task_url"].endswith("/task/skin-analysis")]
    nine = [s for s in skin if s["amount"] == 9]
    assert nine, skin
    assert all(s["run_task_url"].startswith("http") for s in skin)
    assert {s["run_task_url"].split("/s2s/")[1] for s in nine} >= {"v2.1/task/skin-analysis"}
    assert nine[0]["unit"] == "result_image"
    assert nine[0]["proc_unit"] == 1


def test_the_price_list_agrees_with_what_video_tasks_are_charged() -> None:
    mock = emulator()
    skus = all_skus(mock)
    swap = [s for s in skus if s["run_task_url"].endswith("/task/face-swap-vid")]
    style = [s for s in skus if s["run_task_url"].endswith("/task/video-trans")]
    assert [(s["amount"], s["unit"], s["proc_unit"]) for s in swap] == [(1, "second", 5)]
    assert [(s["amount"], s["unit"], s["proc_unit"]) for s in style] == [(4, "second", 1)]
