"""What request validation costs on the serving path.

Compares, in one run: a bare Flask request through the test client (baseline), the compiled
jsonschema-rs validator the emulator uses, and openapi-core's request validation of the same
body (what the issue measured at ~3 ms).  Usage: python bench/validation_cost.py [runs]
"""

from __future__ import annotations

import json
import sys

from _timing import median_seconds
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from youcam_mock.contract import load_contract

BODY = {"src_file_id": "x" * 64, "dst_actions": ["hd_wrinkle", "hd_pore"], "format": "json"}
OPERATION = "POST /s2s/v2.0/task/skin-analysis"


def main(runs: int = 2000) -> None:
    contract = load_contract()
    validator = contract.validator(OPERATION)
    assert validator is not None and validator.error(BODY) is None

    bare = Flask("bare")
    bare.add_url_rule("/", "index", lambda: "ok", methods=["POST"])
    client = bare.test_client()
    baseline = median_seconds(lambda: client.post("/", json=BODY), runs=runs)

    compiled = median_seconds(lambda: validator.error(BODY), runs=runs * 10)

    spec = OpenAPI.from_dict(contract.openapi)
    raw = json.dumps(BODY).encode()
    request = MockRequest(
        "https://yce-api-01.makeupar.com",
        "post",
        "/s2s/v2.0/task/skin-analysis",
        headers={"Authorization": "Bearer k"},
        data=raw,
    )
    core = median_seconds(lambda: spec.validate_request(request), runs=max(runs // 10, 50))

    print(f"bare Flask request (baseline): {baseline * 1e3:.3f} ms")
    print(
        f"compiled validator (served):   {compiled * 1e3:.4f} ms  = {compiled / baseline:.3f}x baseline"
    )
    print(f"openapi-core validate_request: {core * 1e3:.3f} ms  = {core / baseline:.1f}x baseline")
    print(f"openapi-core / compiled:       {core / compiled:.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
