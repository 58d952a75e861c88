"""The pytest plugin as an integrator meets it: each fixture, the marker, the reset between tests,
in-process routing of code that hard-codes the vendor host, errors inside the emulator, the
plugin staying inert until used, and a misbehaving client getting a readable verdict.

Each scenario runs in a fresh pytest session (``pytester``), as in the integrator's project.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from PIL import Image

from youcam_testkit.plugin import YouCam

# In-process pytester runs restore sys.modules afterwards: Pillow's format plugins, imported
# lazily inside a run, would be dropped while Pillow's registry still points at them.
Image.init()

#: The code under test in several scenarios: a client that hard-codes the vendor host.
VENDOR_CLIENT = '''
import httpx
import requests

BASE = "https://yce-api-01.makeupar.com"
TWIN = "https://yce-api-01.perfectcorp.com"


def credit(key, base=BASE):
    reply = requests.get(f"{base}/s2s/v1.0/client/credit",
                         headers={"Authorization": f"Bearer {key}"}, timeout=5)
    return reply.status_code, reply.json()


def credit_httpx(key, base=BASE):
    with httpx.Client(base_url=base, timeout=5) as client:
        reply = client.get("/s2s/v1.0/client/credit", headers={"Authorization": f"Bearer {key}"})
    return reply.status_code, reply.json()


def run_sod(key, image):
    """The whole vendor flow: register, presigned PUT, create, poll, download."""
    auth = {"Authorization": f"Bearer {key}"}
    files = [{"content_type": "image/jpeg", "file_name": "me.jpg", "file_size": len(image)}]
    entry = requests.post(f"{BASE}/s2s/v2.0/file/sod", json={"files": files},
                          headers=auth, timeout=5).json()["data"]["files"][0]
    put = entry["requests"][0]
    assert requests.put(put["url"], data=image, headers=put["headers"], timeout=5).ok
    task = requests.post(f"{BASE}/s2s/v2.0/task/sod", json={"src_file_id": entry["file_id"]},
                         headers=auth, timeout=5).json()["data"]["task_id"]
    while True:
        data = requests.get(f"{BASE}/s2s/v2.0/task/sod/{task}", headers=auth,
                            timeout=5).json()["data"]
        if data["task_status"] != "running":
            break
    assert data["task_status"] == "success", data
    return requests.get(data["results"]["url"], timeout=5).content
'''

#: A real HTTP server on another host:port, to show other URLs pass through untouched.
LOCAL_SERVER = """
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "13")
        self.end_headers()
        self.wfile.write(b"not the mock!")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_url():
    server = HTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
"""


# ---------------------------------------------------------------------- youcam_server, youcam


def test_youcam_server_serves_the_whole_session_and_stops_at_its_end(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pathlib
        import requests

        SEEN = []

        def test_one(youcam_server):
            SEEN.append(youcam_server.url)
            assert requests.get(youcam_server.url + "/", timeout=5).status_code == 200

        def test_two(youcam_server, youcam):
            assert youcam_server.url == SEEN[0] == youcam.base_url
            pathlib.Path("url.txt").write_text(youcam_server.url)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    url = (pytester.path / "url.txt").read_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)


def test_the_youcam_handle_carries_the_live_emulator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests
        from flask import Flask
        from youcam_mock.control import InProcessControl
        from youcam_mock.core.clock import ManualClock
        from youcam_mock.core.config import DEFAULT_API_KEY, MockConfig

        def test_handle(youcam):
            assert youcam.base_url.startswith("http://127.0.0.1:")
            assert youcam.api_key == DEFAULT_API_KEY
            assert isinstance(youcam.clock, ManualClock)
            assert isinstance(youcam.control, InProcessControl)
            assert isinstance(youcam.app, Flask) and isinstance(youcam.config, MockConfig)
            assert youcam.headers() == {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
            assert youcam.journal() == []
            start = youcam.clock.now()
            youcam.control.advance(90)
            assert youcam.clock.now() == start + 90 == youcam.control.now()
            reply = requests.get(youcam.base_url + "/s2s/v1.0/client/credit",
                                 headers=youcam.headers(), timeout=5)
            assert reply.status_code == 200
            [entry] = youcam.journal()
            assert (entry["path"], entry["status"], entry["at"]) == (
                "/s2s/v1.0/client/credit", 200, start + 90)
            assert youcam.journal(status=401) == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_youcam_config_is_overridden_in_a_conftest_for_every_mode(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest
        from youcam_mock.core.config import MockConfig

        @pytest.fixture(scope="session")
        def youcam_config():
            return MockConfig(api_keys=("suite_key_1",), units=7)
        """
    )
    pytester.makepyfile(vendor_client=VENDOR_CLIENT)
    pytester.makepyfile(
        """
        import requests
        import vendor_client

        def test_live(youcam):
            assert youcam.api_key == "suite_key_1" and youcam.config.units == 7
            status, body = vendor_client.credit("suite_key_1", base=youcam.base_url)
            assert status == 200 and body["results"][0]["amount"] == 7

        def test_requests(youcam_requests):
            assert vendor_client.credit("suite_key_1")[1]["results"][0]["amount"] == 7
            assert vendor_client.credit("ycm_dev_0123456789abcdef")[0] == 401

        def test_httpx(youcam_httpx):
            assert youcam_httpx.api_key == "suite_key_1"
            assert vendor_client.credit_httpx("suite_key_1")[1]["results"][0]["amount"] == 7
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


# ---------------------------------------------------------------------- in-process modes


def test_youcam_requests_routes_code_that_hard_codes_the_vendor_host(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(vendor_client=VENDOR_CLIENT)
    pytester.makeconftest(LOCAL_SERVER)
    pytester.makepyfile(
        """
        import io

        import requests
        from PIL import Image

        import vendor_client

        def jpeg():
            buffer = io.BytesIO()
            Image.new("RGB", (40, 30), (10, 20, 30)).save(buffer, "JPEG")
            return buffer.getvalue()

        def test_both_hosts(youcam_requests):
            assert youcam_requests.base_url == vendor_client.BASE
            status, body = vendor_client.credit(youcam_requests.api_key)
            assert status == 200 and body["status"] == 200
            assert vendor_client.credit(youcam_requests.api_key, base=vendor_client.TWIN)[0] == 200
            assert len(youcam_requests.journal(path_prefix="/s2s/v1.0/client/credit")) == 2

        def test_the_whole_flow_with_presigned_and_result_links(youcam_requests):
            result = vendor_client.run_sod(youcam_requests.api_key, jpeg())
            Image.open(io.BytesIO(result)).verify()
            paths = [entry["path"] for entry in youcam_requests.journal()]
            assert any(p.startswith("/_storage/uploads/") for p in paths)
            assert any(p.startswith("/_storage/results/") for p in paths)

        def test_other_hosts_pass_through(youcam_requests, local_url):
            assert requests.get(local_url, timeout=5).text == "not the mock!"
            assert youcam_requests.journal() == []
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_youcam_httpx_routes_code_that_hard_codes_the_vendor_host(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(vendor_client=VENDOR_CLIENT)
    pytester.makeconftest(LOCAL_SERVER)
    pytester.makepyfile(
        """
        import httpx
        import vendor_client

        def test_both_hosts(youcam_httpx):
            assert vendor_client.credit_httpx(youcam_httpx.api_key)[0] == 200
            twin = vendor_client.credit_httpx(youcam_httpx.api_key, base=vendor_client.TWIN)
            assert twin[0] == 200 and twin[1]["results"][0]["amount"] == 100000
            assert vendor_client.credit_httpx("wrong")[1]["error_code"] == "InvalidApiKey"
            assert [e["status"] for e in youcam_httpx.journal()] == [200, 200, 401]

        def test_other_hosts_pass_through(youcam_httpx, local_url):
            assert httpx.get(local_url).text == "not the mock!"
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


# ---------------------------------------------------------------------- the marker and resets


def test_the_marker_applies_settings_per_test_and_rejects_unknown_ones(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(vendor_client=VENDOR_CLIENT)
    pytester.makepyfile(
        """
        import pytest
        import vendor_client

        def units(handle):
            return vendor_client.credit(handle.api_key, base=handle.base_url)[1][
                "results"][0]["amount"]

        @pytest.mark.youcam(units=3, api_keys=["marked_key"])
        def test_marked(youcam):
            assert youcam.api_key == "marked_key" and youcam.config.units == 3
            assert units(youcam) == 3

        @pytest.mark.youcam(rate_limit="2/60")
        def test_marked_in_process(youcam_requests):
            statuses = [vendor_client.credit(youcam_requests.api_key)[0] for _ in range(3)]
            assert statuses == [200, 200, 429]

        def test_unmarked_after_marked(youcam, youcam_requests):
            assert youcam.api_key == youcam_requests.api_key == "ycm_dev_0123456789abcdef"
            assert units(youcam) == 100000 and youcam.config.rate_limit == "off"
            assert [vendor_client.credit(youcam.api_key)[0] for _ in range(3)] == [200] * 3

        @pytest.mark.youcam(units=5)
        class TestClassMarker:
            def test_class_setting(self, youcam):
                assert units(youcam) == 5

            @pytest.mark.youcam(units=6)
            def test_closest_marker_wins(self, youcam):
                assert units(youcam) == 6

        @pytest.mark.youcam(no_such_setting=1)
        def test_unknown_setting(youcam):
            pass

        @pytest.mark.youcam("positional")
        def test_positional_argument(youcam):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.youcam*unknown setting 'no_such_setting'*",
            "*@pytest.mark.youcam takes keyword settings only*",
        ]
    )


def test_state_from_one_test_is_gone_in_the_next(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        CARRY = {}

        def call(handle, method, path, **kwargs):
            return requests.request(method, handle.base_url + path, headers=handle.headers(),
                                    timeout=5, **kwargs)

        def test_first_leaves_state_behind(youcam):
            files = [{"content_type": "image/jpeg", "file_name": "a.jpg", "file_size": 10}]
            file_id = call(youcam, "POST", "/s2s/v2.0/file", json={"files": files}).json()[
                "data"]["files"][0]["file_id"]
            task = call(youcam, "POST", "/s2s/v2.0/task/sod", json={"src_file_id": file_id})
            CARRY["task"] = task.json()["data"]["task_id"]
            youcam.control.fail(match={"operation": "client_credit"},
                                action={"http_error": "TooManyRequests"})
            youcam.control.set_units(key=youcam.api_key, units=1)
            youcam.control.add_key(key="extra_key")
            CARRY["now"] = youcam.control.now()
            youcam.control.advance(3600)

        def test_second_starts_clean(youcam):
            assert youcam.journal() == [] and youcam.control.rules() == []
            assert youcam.control.units(key=youcam.api_key)["units"] == 100000
            poll = call(youcam, "GET", "/s2s/v2.0/task/sod/" + CARRY["task"])
            assert (poll.status_code, poll.json()["error_code"]) == (400, "InvalidTaskId")
            assert call(youcam, "GET", "/s2s/v1.0/client/credit").status_code == 200
            other = requests.get(youcam.base_url + "/s2s/v1.0/client/credit", timeout=5,
                                 headers={"Authorization": "Bearer extra_key"})
            assert other.status_code == 401
            # The clock is the session's: it never goes back, so time only moves forward.
            assert youcam.control.now() == CARRY["now"] + 3600

        def test_in_process_first(youcam_requests):
            youcam_requests.control.set_units(key=youcam_requests.api_key, units=2)

        def test_in_process_second(youcam_requests):
            assert youcam_requests.control.units(key=youcam_requests.api_key)["units"] == 100000
            assert youcam_requests.journal() == []
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


# ---------------------------------------------------------------------- errors in the emulator


@pytest.mark.nonconforming_ok  # the inner test provokes a 500 InternalError on purpose
@pytest.mark.parametrize("fixture", ["youcam", "youcam_requests"])
def test_an_exception_inside_the_emulator_fails_the_test_that_caused_it(
    pytester: pytest.Pytester, fixture: str
) -> None:
    pytester.makepyfile(
        f"""
        import requests

        def test_breaks_the_emulator({fixture}, monkeypatch):
            handle = {fixture}

            def broken(owner):
                raise RuntimeError("kaboom inside the emulator")

            backend = handle.app.extensions["youcam_mock"].backend
            monkeypatch.setattr(backend, "credit", broken)
            requests.get(handle.base_url + "/s2s/v1.0/client/credit",
                         headers=handle.headers(), timeout=5)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the emulator raised while serving this test*", "*RuntimeError: kaboom*"]
    )


# ---------------------------------------------------------------------- inert until used


def test_the_plugin_is_inert_until_a_fixture_is_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json
        import sys

        def test_plain():
            with open("modules.json", "w") as out:
                json.dump(sorted(sys.modules), out)
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    loaded = set(json.loads((pytester.path / "modules.json").read_text()))
    assert "youcam_testkit.plugin" in loaded, "the entry point loaded the plugin"
    heavy = {"youcam_mock", "flask", "werkzeug", "responses", "PIL"}
    assert not {name for name in loaded if name.split(".")[0] in heavy}


def test_importing_the_plugin_is_cheap() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import youcam_testkit.plugin"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    line = next(x for x in out.splitlines() if x.rstrip().endswith("| youcam_testkit.plugin"))
    cumulative_us = int(line.split("|")[1])
    assert cumulative_us < 150_000, line
    imported = {x.split("|")[-1].strip() for x in out.splitlines() if "|" in x}
    assert not {m for m in imported if m.split(".")[0] in ("youcam_mock", "flask", "werkzeug")}


# ---------------------------------------------------------------------- verdicts


_NAIVE_CLIENT = """
import pytest
import requests
from youcam_testkit import verdicts

BASE = "https://yce-api-01.makeupar.com"


def call(method, path, key, **kwargs):
    return requests.request(method, BASE + path, headers={"Authorization": f"Bearer {key}"},
                            timeout=5, **kwargs)


def start_task(key):
    files = [{"content_type": "image/jpeg", "file_name": "a.jpg", "file_size": 10}]
    file_id = call("POST", "/s2s/v2.0/file", key, json={"files": files}).json()[
        "data"]["files"][0]["file_id"]
    return call("POST", "/s2s/v2.0/task/sod", key, json={"src_file_id": file_id}).json()[
        "data"]["task_id"]
"""


def test_a_client_that_gives_up_on_a_429_gets_a_verdict_quoting_its_requests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _NAIVE_CLIENT
        + """

def naive_wait(key, task_id):
    while True:
        reply = call("GET", f"/s2s/v2.0/task/sod/{task_id}", key)
        reply.raise_for_status()  # one 429 and the task is abandoned
        if reply.json()["data"]["task_status"] != "running":
            return reply.json()["data"]


def test_naive_client(youcam_requests):
    task_id = start_task(youcam_requests.api_key)
    youcam_requests.control.fail(match={"operation": "task_poll"},
                                 action={"http_error": "TooManyRequests"}, times=1)
    with pytest.raises(requests.HTTPError):
        naive_wait(youcam_requests.api_key, task_id)
    failures = verdicts.check_all(youcam_requests.journal())
    assert [verdict.check for verdict in failures] == ["polls_until_terminal"]
    raise failures[0]
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *ClientVerdict: the client stopped polling 1 task(s) before they ended *",
            "E *task *: its last poll was refused with 429 and never retried (1 poll(s))",
            "E *#2 POST /s2s/v2.0/task/sod -> 200 at 2026-01-01T00:00:00.000Z",
            "E *#3 GET /s2s/v2.0/task/sod/* -> 429 at 2026-01-01T00:00:00.000Z",
        ]
    )


def test_a_client_that_retries_a_429_at_once_gets_a_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _NAIVE_CLIENT
        + """

def test_naive_client(youcam_requests):
    task_id = start_task(youcam_requests.api_key)
    youcam_requests.control.fail(match={"operation": "task_poll"},
                                 action={"http_error": "TooManyRequests"}, times=6)
    while call("GET", f"/s2s/v2.0/task/sod/{task_id}", youcam_requests.api_key).status_code != 200:
        pass  # retried at once, no backoff
    checks = [verdict.check for verdict in verdicts.check_all(youcam_requests.journal())]
    assert "backs_off_after_429" in checks and "no_retry_storm" in checks
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.youcam(units=7)
def test_the_handle_reset_keeps_the_tests_own_settings(youcam: YouCam) -> None:
    youcam.control.add_key(key="extra-key")
    youcam.control.fail(match={"operation": "task_poll"}, action={"latency_ms": 1})
    youcam.reset()
    keys = youcam.control.call("keys")
    assert [k["key"] for k in keys] == [youcam.api_key]
    assert youcam.control.rules() == []
    assert youcam.control.units(key=youcam.api_key)["units"] == 7
