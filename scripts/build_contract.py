"""Regenerate youcam_mock/contract/data/contract.json from ../shared/youcam-openapi.

Usage: python scripts/build_contract.py [--source DIR] [--check]
--check exits 1 when the committed contract is stale (what CI's test does, without writing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from youcam_mock.contract.build import build_contract, dumps

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "youcam-openapi"
TARGET = ROOT / "youcam_mock" / "contract" / "data" / "contract.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = dumps(build_contract(args.source))
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python scripts/build_contract.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
