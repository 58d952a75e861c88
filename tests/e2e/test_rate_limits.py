"""The vendor's rate limits, on the emulator's clock: 5 per second and 250 per 300 s, per IP
address AND per key.  Time moves with ``ManualClock.advance``; nothing here sleeps, except the
CLI test, which talks to a real server process on the system clock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from youcam_mock.app import create_app
from youcam_mock.control import ControlError, InProcessControl
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig
from youcam_mock.server import build_parser, config_from_args

CREDIT = "/s2s/v1.0/client/credit"
KEY_A, KEY_B = "key-a", "key-b"
IP_1, IP_2, IP_3 = "10.0.0.1", "10.0.0.2", "10.0.0.3"


@dataclass
class Mock:
    app: Flask
    client: FlaskClient
    clock: ManualClock

    def get(self, key: str | None = DEFAULT_API_KEY, ip: str = IP_1) -> TestResponse:
        """One cheap vendor request (the credit balance) as ``key`` from ``ip``."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(CREDIT, headers=headers, environ_base={"REMOTE_ADDR": ip})

    def statuses(self, count: int, key: str | None = DEFAULT_API_KEY, ip: str = IP_1) -> list[int]:
        return [self.get(key, ip).status_code for _ in range(count)]


def emulator(**settings: Any) -> Mock:
    clock = ManualClock()
    app = create_app(MockConfig(**settings), clock=clock)
    return Mock(app, app.test_client(), clock)


# ---------------------------------------------------------------------- the vendor's limits


def test_the_sixth_request_inside_one_second_is_refused_while_the_fifth_passes() -> None:
    mock = emulator(rate_limit="vendor")
    assert mock.statuses(5) == [200] * 5
    assert mock.get().status_code == 429


def test_requests_spread_over_one_second_count_against_the_same_second() -> None:
    mock = emulator(rate_limit="vendor")
    for _ in range(5):
        assert mock.get().status_code == 200
        mock.clock.advance(0.125)
    assert mock.get().status_code == 429  # 0.625 s after the first: still the same second
    mock.clock.advance(0.375)  # t = 1 s: the first request has left the window
    assert mock.get().status_code == 200


def test_a_client_that_waits_one_second_gets_through_again() -> None:
    mock = emulator(rate_limit="vendor")
    assert mock.statuses(6) == [200] * 5 + [429]
    mock.clock.advance(1)
    assert mock.statuses(6) == [200] * 5 + [429]


def test_the_251st_request_in_300_seconds_is_refused_and_the_window_reopens_as_time_passes() -> (
    None
):
    mock = emulator(rate_limit="vendor", retry_after_header=True)
    for _ in range(250):  # one request a second: the per-second limit never bites
        assert mock.get().status_code == 200
        mock.clock.advance(1)
    # t = 250 s: 250 requests in the last 300 s; the first leaves the window at t = 300 s.
    refused = mock.get()
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "50"
    mock.clock.advance(49)  # t = 299 s: the first request is still inside the window
    assert mock.get().status_code == 429
    mock.clock.advance(1)  # t = 300 s: as Retry-After said, the first request has left
    assert mock.get().status_code == 200
    assert mock.get().status_code == 429  # the one made at t = 1 s has not
    mock.clock.advance(300)
    assert mock.statuses(5) == [200] * 5


def test_a_refused_request_is_not_counted_so_backing_off_works() -> None:
    mock = emulator(rate_limit="2/10")
    assert mock.statuses(2) == [200, 200]
    for _ in range(20):  # hammering while refused does not push the window out
        assert mock.get().status_code == 429
        mock.clock.advance(0.25)
    # 5 s later: still refused; at 10 s both slots free up together.
    mock.clock.advance(5)
    assert mock.statuses(3) == [200, 200, 429]


# ---------------------------------------------------------------------- per IP and per key


def test_the_per_ip_and_per_key_limits_act_independently() -> None:
    mock = emulator(rate_limit="vendor", api_keys=(KEY_A, KEY_B))
    assert mock.statuses(5, KEY_A, IP_1) == [200] * 5

    # Key A's budget is spent, whatever address it comes from.
    assert mock.get(KEY_A, IP_2).status_code == 429
    # Address 1's budget is spent, whatever key it presents.
    assert mock.get(KEY_B, IP_1).status_code == 429
    # Another key from another address has budgets of its own.
    assert mock.statuses(5, KEY_B, IP_2) == [200] * 5
    assert mock.get(KEY_B, IP_2).status_code == 429


def test_one_key_used_from_several_addresses_shares_one_budget() -> None:
    mock = emulator(rate_limit="vendor", api_keys=(KEY_A,))
    spread = [mock.get(KEY_A, f"10.0.1.{n}").status_code for n in range(6)]
    assert spread == [200] * 5 + [429]


def test_several_keys_behind_one_address_share_that_address_budget() -> None:
    mock = emulator(rate_limit="vendor", api_keys=tuple(f"key-{n}" for n in range(6)))
    spread = [mock.get(f"key-{n}", IP_1).status_code for n in range(6)]
    assert spread == [200] * 5 + [429]


def test_requests_without_a_valid_key_still_count_against_their_address() -> None:
    mock = emulator(rate_limit="vendor")
    assert mock.statuses(5, key=None, ip=IP_3) == [401] * 5
    assert mock.get(key=None, ip=IP_3).status_code == 429
    assert mock.get(ip=IP_1).status_code == 200  # other addresses are untouched


def test_the_rate_limit_comes_before_authentication() -> None:
    """A throttled client learns it is throttled, not whether its key is good."""
    mock = emulator(rate_limit="1/60")
    assert mock.get(key="not-a-key").status_code == 401
    refused = mock.get(key="not-a-key")
    assert refused.status_code == 429


# ---------------------------------------------------------------------- the 429 itself


def test_a_refusal_is_the_vendor_429_body_with_no_rate_limit_headers_by_default() -> None:
    mock = emulator(rate_limit="vendor")
    mock.statuses(5)
    refused = mock.get()
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["status"] == 429
    assert isinstance(body["error"], str) and body["error"]
    assert set(body) <= {"status", "error", "error_code"}
    assert "data" not in body
    rate_headers = [
        name for name, _ in refused.headers if "ratelimit" in name.lower().replace("-", "")
    ]
    assert rate_headers == []
    assert "Retry-After" not in refused.headers


def test_retry_after_is_sent_only_when_asked_for() -> None:
    mock = emulator(rate_limit="vendor", retry_after_header=True)
    mock.statuses(5)
    refused = mock.get()
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert mock.get().get_json()["status"] == 429  # same body as without the header


def test_retry_after_is_the_wait_until_the_window_has_room_rounded_up() -> None:
    mock = emulator(rate_limit="2/60", retry_after_header=True)
    assert mock.get().status_code == 200  # t = 0
    mock.clock.advance(10)
    assert mock.get().status_code == 200  # t = 10
    mock.clock.advance(10.5)  # t = 20.5: the first slot frees at t = 60, 39.5 s away
    refused = mock.get()
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"
    mock.clock.advance(39)  # t = 59.5: half a second to go, still a whole second to wait
    assert mock.get().headers["Retry-After"] == "1"
    mock.clock.advance(0.5)  # t = 60
    assert mock.get().status_code == 200


def test_a_refusal_is_journalled_with_the_time_to_wait() -> None:
    mock = emulator(rate_limit="2/60")
    mock.statuses(2)
    mock.clock.advance(15)
    mock.get()
    refused = InProcessControl(mock.app).journal(status=429)
    assert len(refused) == 1
    assert refused[0]["path"] == CREDIT
    assert refused[0]["detail"]["window_reopens_in"] == pytest.approx(45)
    # The client was not sent a Retry-After (retry_after_header is off): none is journalled.
    assert "retry_after" not in refused[0]["detail"]


# ---------------------------------------------------------------------- other policies


def test_a_custom_policy_of_two_per_second() -> None:
    mock = emulator(rate_limit="2/1")
    assert mock.statuses(3) == [200, 200, 429]
    mock.clock.advance(1)
    assert mock.statuses(3) == [200, 200, 429]


def test_a_custom_policy_can_combine_several_windows() -> None:
    mock = emulator(rate_limit="2/1, 3/10")
    assert mock.statuses(3) == [200, 200, 429]  # the per-second window
    mock.clock.advance(1)
    assert mock.statuses(2) == [200, 429]  # the 10-second window: 3 used
    mock.clock.advance(8.5)
    assert mock.get().status_code == 429
    mock.clock.advance(0.5)  # t = 10: the first two leave the 10-second window
    assert mock.statuses(3) == [200, 200, 429]


def test_off_lifts_every_limit() -> None:
    mock = emulator(rate_limit="off")
    assert set(mock.statuses(30)) == {200}  # the vendor policy would refuse the 6th


def test_the_library_default_is_off() -> None:
    assert MockConfig().rate_limit == "off"
    mock = emulator()
    assert set(mock.statuses(20)) == {200}


def test_an_unparseable_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        create_app(MockConfig(rate_limit="fast please"), clock=ManualClock())


# ---------------------------------------------------------------------- at run time


def test_configure_changes_the_policy_at_run_time() -> None:
    mock = emulator()
    control = InProcessControl(mock.app)
    assert set(mock.statuses(10)) == {200}

    control.configure(changes={"rate_limit": "2/1"})
    assert mock.statuses(3) == [200, 200, 429]
    assert control.get_config()["rate_limit"] == "2/1"

    control.configure(changes={"rate_limit": "off"})
    assert set(mock.statuses(10)) == {200}

    control.configure(changes={"rate_limit": "vendor"})
    mock.clock.advance(1)
    assert mock.statuses(6) == [200] * 5 + [429]


def test_configure_over_http_changes_the_policy_too() -> None:
    mock = emulator()
    answer = mock.client.patch("/_mock/config", json={"rate_limit": "1/60"})
    assert answer.status_code == 200
    assert answer.get_json()["rate_limit"] == "1/60"
    assert mock.statuses(2) == [200, 429]


def test_reset_with_a_new_policy_applies_it() -> None:
    mock = emulator(rate_limit="1/60")
    assert mock.statuses(2) == [200, 429]
    InProcessControl(mock.app).reset(config={"rate_limit": "off"})
    assert set(mock.statuses(10)) == {200}


def test_reset_clears_the_windows() -> None:
    mock = emulator(rate_limit="1/60")
    assert mock.statuses(2) == [200, 429]
    InProcessControl(mock.app).reset()
    assert mock.statuses(2) == [200, 429]


def test_configure_refuses_a_bad_policy_with_invalid_parameters() -> None:
    mock = emulator(rate_limit="2/1")
    with pytest.raises(ControlError) as refused:
        InProcessControl(mock.app).configure(changes={"rate_limit": "lots"})
    assert refused.value.status == 400
    assert refused.value.body["error_code"] == "InvalidParameters"
    assert mock.statuses(3) == [200, 200, 429]  # the policy in force did not change


def test_a_refused_policy_leaves_the_reported_config_unchanged() -> None:
    mock = emulator(rate_limit="2/1")
    control = InProcessControl(mock.app)
    with pytest.raises(ControlError):
        control.configure(changes={"rate_limit": "lots"})
    assert control.get_config()["rate_limit"] == "2/1"


def test_the_control_api_itself_is_never_rate_limited() -> None:
    mock = emulator(rate_limit="1/60")
    assert mock.get().status_code == 200
    answers = [
        mock.client.get("/_mock/clock", environ_base={"REMOTE_ADDR": IP_1}).status_code
        for _ in range(10)
    ]
    assert set(answers) == {200}


# ---------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    ("flag", "expected"),
    [([], "vendor"), (["--rate-limit", "off"], "off"), (["--rate-limit", "3/2"], "3/2")],
)
def test_the_cli_passes_the_rate_limit_into_the_config(flag: list[str], expected: str) -> None:
    config = config_from_args(build_parser().parse_args(["serve", *flag]))
    assert config.rate_limit == expected


def test_the_cli_refuses_a_bad_rate_limit_before_serving() -> None:
    with pytest.raises(ValueError, match="rate limit"):
        config_from_args(build_parser().parse_args(["serve", "--rate-limit", "often"]))


def test_a_rate_limit_from_the_config_file_holds_when_the_flag_is_absent(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "mock.json"
    settings.write_text(json.dumps({"rate_limit": "off"}), encoding="utf-8")
    config = config_from_args(build_parser().parse_args(["serve", "--config", str(settings)]))
    assert config.rate_limit == "off"


@pytest.fixture
def served_with_two_per_minute() -> Iterator[str]:
    command = [sys.executable, "-m", "youcam_mock", "serve", "--port", "0"]
    command += ["--rate-limit", "2/60"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("youcam-mock serving on "), first
        yield first.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_cli_rate_limit_flag_is_honoured_by_a_real_server(
    served_with_two_per_minute: str,
) -> None:
    url = served_with_two_per_minute + CREDIT
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    with requests.Session() as http:
        answers = [http.get(url, headers=headers, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["status"] == 429
    assert "Retry-After" not in answers[2].headers
