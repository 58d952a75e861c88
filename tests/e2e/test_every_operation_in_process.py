"""Every published task operation, end to end through the Flask app (suite hook validates)."""

from __future__ import annotations

import pytest

from tests.support.flow import Flow, flask_sender
from youcam_mock.app import create_app
from youcam_mock.contract import load_contract
from youcam_mock.core import media
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY

FEATURES = sorted(load_contract().features)


@pytest.fixture(scope="module")
def flow() -> Flow:
    app = create_app(clock=ManualClock())
    return Flow(flask_sender(app.test_client()), "http://localhost", DEFAULT_API_KEY)


@pytest.mark.parametrize("key", FEATURES)
def test_full_flow_ends_in_success_with_real_downloads(flow: Flow, key: str) -> None:
    spec = load_contract().features[key]
    result = flow.run(spec, template_id=flow.first_template(spec))
    assert [p["task_status"] for p in result.polls] == ["running", "success"]
    for url, data in result.downloads.items():
        info = media.probe(data)
        if url.rsplit(".", 1)[-1] in ("jpg", "png"):
            assert info.kind == "image", url
        elif url.endswith(".mp4"):
            assert info.kind == "video" and info.video_codec == "h264", url
        else:
            assert data[:2] == b"PK", url  # skin analysis zip
