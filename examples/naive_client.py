"""A deliberately naive YouCam client, the kind that works on a good day.

- No backoff and no retry: any error status aborts the job, so one 429 while polling abandons
  a task that has already been paid for.
- No expiry handling: it hands back the result URL and downloads it whenever asked, even
  after the link has expired (result links last about 2 h; a fresh one needs a new poll).

``tests/test_naive_client.py`` shows Hypothesis, ``fault_schedules`` and the verdicts finding
both, with the smallest fault schedule that breaks it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

BASE_URL = "https://yce-api-01.makeupar.com"


def start(
    api_key: str,
    image: bytes,
    feature: str = "sod",
    sleep: Callable[[float], object] = time.sleep,
) -> str:
    """Upload, create, poll once a second until done; the result URL."""
    auth = {"Authorization": f"Bearer {api_key}"}
    files = [{"content_type": "image/jpeg", "file_name": "photo.jpg", "file_size": len(image)}]
    registered = requests.post(
        f"{BASE_URL}/s2s/v2.0/file/{feature}", json={"files": files}, headers=auth, timeout=30
    )
    registered.raise_for_status()
    entry = registered.json()["data"]["files"][0]
    upload = entry["requests"][0]
    requests.put(upload["url"], data=image, headers=upload["headers"], timeout=30)
    created = requests.post(
        f"{BASE_URL}/s2s/v2.0/task/{feature}",
        json={"src_file_id": entry["file_id"]},
        headers=auth,
        timeout=30,
    )
    created.raise_for_status()
    task_id = created.json()["data"]["task_id"]
    while True:
        sleep(1)
        polled = requests.get(f"{BASE_URL}/s2s/v2.0/task/{feature}/{task_id}", headers=auth)
        polled.raise_for_status()
        data = polled.json()["data"]
        if data["task_status"] == "success":
            return str(data["results"]["url"])
        if data["task_status"] == "error":
            raise RuntimeError(data["error"])


def download(url: str) -> bytes:
    reply = requests.get(url, timeout=30)
    reply.raise_for_status()
    return reply.content
