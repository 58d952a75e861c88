"""fixtures/ is what scripts/make_fixtures.py writes, and every example request is usable."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.flow import Flow, flask_sender, input_for
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core import media
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", ROOT / "scripts" / "make_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_feature_has_an_example_request_and_they_are_current() -> None:
    expected = _script().example_requests()
    assert len(expected) == len(load_contract().features)
    for name, text in expected.items():
        assert (FIXTURES / "requests" / name).read_text(encoding="utf-8") == text, (
            f"fixtures/requests/{name} is stale: run python scripts/make_fixtures.py"
        )


@pytest.mark.parametrize("name", sorted(_script().example_requests()))
def test_an_example_request_runs_once_its_files_are_uploaded(name: str) -> None:
    example = json.loads((FIXTURES / "requests" / name).read_text(encoding="utf-8"))
    spec = next(s for s in load_contract().features.values() if s.create_path == example["path"])
    flow = Flow(
        flask_sender(create_app(clock=ManualClock()).test_client()),
        "http://localhost",
        DEFAULT_API_KEY,
    )

    def fill(value: Any, field: str) -> Any:
        if isinstance(value, list):
            return [fill(item, field) for item in value]
        if isinstance(value, str) and value.startswith("<file_id of "):
            return flow.upload(*input_for(spec, field))
        return value

    body = {key: fill(value, key) for key, value in example["body"].items()}
    created = flow.call("POST", example["path"], body)
    assert created.status == 200, created.body
    task_id = created.json()["data"]["task_id"]
    flow.call("GET", example["poll"].replace("{task_id}", task_id))
    final = flow.call("GET", example["poll"].replace("{task_id}", task_id)).json()["data"]
    assert final["task_status"] == "success"


def test_the_sample_media_are_what_the_readme_says() -> None:
    selfie = media.probe((FIXTURES / "images" / "selfie.jpg").read_bytes())
    assert (selfie.format, selfie.width, selfie.height) == ("jpeg", 768, 1024)
    clip = media.probe((FIXTURES / "videos" / "clip.mp4").read_bytes())
    assert clip.video_codec == "h264" and clip.duration_s == pytest.approx(4, abs=0.2)
