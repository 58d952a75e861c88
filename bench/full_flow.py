"""One in-process full flow, and the startup time of ``youcam-mock serve``.

Flow: register a file, PUT its bytes, create a background-removal task, poll until success,
download the result.  Reported as a median of many and as a ratio to a bare Flask request
measured in the same run.  Usage: python bench/full_flow.py [runs]
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
import urllib.request

from _timing import median_seconds
from flask import Flask
from PIL import Image

from youcam_mock.app import create_app
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DEFAULT_API_KEY

HEADERS = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (180, 120, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def flow_once(client, image: bytes) -> None:  # type: ignore[no-untyped-def]
    files = [{"content_type": "image/jpeg", "file_name": "a.jpg", "file_size": len(image)}]
    entry = client.post("/s2s/v2.0/file", json={"files": files}, headers=HEADERS).json["data"][
        "files"
    ][0]
    put = entry["requests"][0]
    assert client.put(put["url"], data=image, headers=put["headers"]).status_code == 200
    task = client.post(
        "/s2s/v2.0/task/sod", json={"src_file_id": entry["file_id"]}, headers=HEADERS
    )
    task_id = task.json["data"]["task_id"]
    while True:
        data = client.get(f"/s2s/v2.0/task/sod/{task_id}", headers=HEADERS).json["data"]
        if data["task_status"] != "running":
            break
    assert client.get(data["results"]["url"]).status_code == 200


def startup_seconds(samples: int = 5) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "youcam_mock", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        while True:
            try:
                with urllib.request.urlopen(url + "/s2s/v1.0/client/credit") as response:
                    response.read()
            except urllib.error.HTTPError:  # 401 without a key: the server answered
                break
            except OSError:
                time.sleep(0.01)
                continue
            break
        times.append(time.perf_counter() - started)
        process.terminate()
        process.wait()
    return statistics.median(times)


def main(runs: int = 200) -> None:
    bare = Flask("bare")
    bare.add_url_rule("/", "index", lambda: "ok")
    bare_client = bare.test_client()
    baseline = median_seconds(lambda: bare_client.get("/"), runs=runs * 5)

    app = create_app(clock=ManualClock())
    client = app.test_client()
    image = _jpeg()
    flow = median_seconds(lambda: flow_once(client, image), runs=runs, warmup=5)

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.perf_counter() - started
    serve = startup_seconds()

    print(f"bare Flask request (baseline):     {baseline * 1e3:.3f} ms")
    print(
        f"in-process full flow (median):     {flow * 1e3:.2f} ms = {flow / baseline:.0f}x baseline"
    )
    print(f"bare interpreter start:            {interpreter * 1e3:.0f} ms")
    print(
        f"serve start to first answer:       {serve * 1e3:.0f} ms = {serve / interpreter:.1f}x interpreter start"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
