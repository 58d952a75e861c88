"""What a task costs, read from the vendor's 'Unit Consumption' tables.

The contract keeps each document's table rows as the vendor wrote them.  This module turns a
row into a :class:`Price` (fixed; per N images; per N seconds; tiers by how many concerns or
features; single vs stacked wear; preset vs custom mode) and picks the row that applies to an
operation.  It is hand-written because the tables are prose; every row shape is covered by a
test, and an unknown shape raises at startup rather than charging a guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from youcam_mock.core.features import FeatureSpec


@dataclass(frozen=True)
class Price:
    """One priced row.  ``unit`` is what the vendor's feature-cost API calls it."""

    amount: float  # units per ``per`` of ``unit``
    unit: str = "result_image"  # "result_image" | "second"
    per: int = 1  # proc_unit: images or seconds covered by ``amount``
    #: Alternatives selected by the request, e.g. {"hd": 12} or {"stacked": 2} or {"720": 2}.
    variants: dict[str, float] = field(default_factory=dict)
    #: Tiers: (low, high, sd_amount, hd_amount) by count of concerns/features.
    tiers: tuple[tuple[int, int, float, float], ...] = ()


_FIXED = re.compile(r"^(\d+(?:\.\d+)?)$")
_PER_IMAGES = re.compile(r"^(\d+) units? for (\d+) images? \*?$", re.I)
_PER_SECONDS = re.compile(r"^(\d+) \((\d+) seconds?\) \*?$", re.I)
_RES_SECONDS = re.compile(r"(\d+) units? \((\d+)p / (\d+) second\(s\)\)", re.I)
_SD_HD = re.compile(r"^(\d+) units? for SD; (\d+) units? for HD$", re.I)
_TIER_LABEL = re.compile(r"^(\d+)~(\d+) ", re.I)
_NAMED = re.compile(r"(\d+) units? for ([A-Za-z\- ]+?)(?:;|$)", re.I)


def parse_row(item: str, units: str) -> Price:
    """One table row -> Price.  Raises ValueError on a shape this emulator does not know."""
    text = units.strip()
    tier = _TIER_LABEL.match(item)
    if tier and (match := _SD_HD.match(text)):
        low, high = int(tier[1]), int(tier[2])
        return Price(float(match[1]), tiers=((low, high, float(match[1]), float(match[2])),))
    if tier and (match := _FIXED.match(text)):
        low, high = int(tier[1]), int(tier[2])
        return Price(float(match[1]), tiers=((low, high, float(match[1]), float(match[1])),))
    if match := _FIXED.match(text):
        return Price(float(match[1]))
    if match := _PER_IMAGES.match(text):
        return Price(float(match[1]), per=int(match[2]))
    if match := _PER_SECONDS.match(text):
        return Price(float(match[1]), unit="second", per=int(match[2]))
    if found := _RES_SECONDS.findall(text):
        variants = {res: float(amount) for amount, res, _ in found}
        return Price(min(variants.values()), unit="second", per=int(found[0][2]), variants=variants)
    if found := _NAMED.findall(text):
        variants = {name.strip().lower(): float(amount) for amount, name in found}
        return Price(next(iter(variants.values())), variants=variants)
    raise ValueError(f"unknown unit row shape: {item!r}: {units!r}")


def _merge_tiers(prices: list[Price]) -> Price:
    tiers = tuple(t for p in prices for t in p.tiers)
    return Price(prices[0].amount, tiers=tiers)


#: Which row of a multi-row table prices which operation: (document, feature) -> item substring.
_ROW_FOR = {
    ("ai_clothes", "cloth"): "V2.0",
    ("ai_clothes", "cloth-v3"): "V3.0",
    ("ai_clothes", "cloth-v4"): "V3.0",
    ("ai_image_generator", "text-to-image"): "V1.0",
    ("ai_image_generator", "text-to-image/youcam"): "V2.0",
    ("ai_image_generator", "image-to-image/youcam"): "V2.0",
    ("ai_video_generator", "image-to-video"): "(Standard)",
    ("ai_video_generator", "image-to-video/youcam"): "(Image to Video)",
    ("ai_video_generator", "text-to-video/youcam"): "(Text to Video)",
    ("ai_hairstyle", "v2.0/hair-style"): "V2.0",
    ("ai_hairstyle", "v2.0/hair-transfer"): "V2.0",
    ("ai_hairstyle", "v2.1/hair-transfer"): "V2.1",
}


#: Tables whose rows differ by the request's ``mode``: mode value -> item substring.
_MODE_ROWS = {
    ("ai_video_generator", "image-to-video"): {"std": "(Standard)", "pro": "(Professional)"},
}


def price_for(spec: FeatureSpec) -> Price | None:
    """The Price of one task operation; None for pre-process steps (not priced)."""
    if spec.pre_process_of is not None or not spec.unit_rows:
        return None
    rows = list(spec.unit_rows)
    prices = [parse_row(item, units) for item, units in rows]
    if all(p.tiers for p in prices):
        return _merge_tiers(prices)
    if len(rows) == 1:
        return prices[0]
    wanted = _ROW_FOR.get((spec.document, spec.feature)) or _ROW_FOR.get((spec.document, spec.key))
    modes = _MODE_ROWS.get((spec.document, spec.feature), {})
    for (item, _), price in zip(rows, prices, strict=True):
        if wanted and wanted in item:
            if modes:
                # The request's ``mode`` picks a row of its own (std vs pro).
                by_mode = {
                    mode: p.amount
                    for mode, label in modes.items()
                    for (other, _), p in zip(rows, prices, strict=True)
                    if label in other
                }
                return Price(price.amount, price.unit, price.per, variants=by_mode)
            return price
    raise ValueError(f"no unit row chosen for {spec.key} in {spec.document}")


def _count_concerns(request: dict[str, Any], spec: FeatureSpec) -> tuple[int, bool]:
    """How many concerns/features a request asks for, and whether any is HD."""
    if isinstance(request.get("dst_actions"), list):
        actions = [str(a) for a in request["dst_actions"]]
        return len(actions), any(a.startswith("hd_") for a in actions)
    if isinstance(request.get("features"), list):
        return len(request["features"]), False
    # Numeric concern strengths (skin simulation): 0 switches a concern off.
    numeric = [
        k
        for k, v in request.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v and k != "index"
    ]
    return max(1, len(numeric)), False


def task_cost(
    spec: FeatureSpec,
    request: dict[str, Any],
    *,
    duration_s: float | None = None,
    output_count: int = 1,
) -> float:
    """Units one task costs, from its Price and what the request asks for."""
    price = price_for(spec)
    if price is None:
        return 0.0
    if price.tiers:
        count, hd = _count_concerns(request, spec)
        for low, high, sd_amount, hd_amount in price.tiers:
            if low <= count <= high:
                return hd_amount if hd else sd_amount
        last = price.tiers[-1]
        return last[3] if hd else last[2]
    amount = price.amount
    if price.variants:
        amount = _variant_amount(price, request)
    if price.unit == "second":
        seconds = duration_s if duration_s is not None else float(request.get("dst_duration", 5))
        return amount * math.ceil(max(seconds, 1e-9) / price.per)
    if price.per > 1:
        return amount * math.ceil(max(output_count, 1) / price.per)
    return amount


def _variant_amount(price: Price, request: dict[str, Any]) -> float:
    variants = price.variants
    mode = request.get("mode")
    if isinstance(mode, str) and mode in variants:
        return variants[mode]
    resolution = str(request.get("resolution", "")).lower().removesuffix("p")
    if resolution and resolution in variants:
        return variants[resolution]
    if "stacked wear" in variants and len(request.get("object_infos") or []) > 1:
        return variants["stacked wear"]
    if "custom mode" in variants and "template_id" not in request:
        return variants["custom mode"]
    if "professional" in variants:
        return variants["professional"]
    return price.amount
