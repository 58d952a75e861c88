"""Task results built from the feature's own result schema, with real files behind every URL.

One generic walk covers all 77 task operations: each property of ``data.results`` is filled
according to its schema (enums, ranges, arrays), and every ``url``/``*_urls`` field becomes an
asset rendered by :mod:`media` from the task's input (scaled, tinted, cut out, animated...).
What a handful of features need beyond the schema is named here: skin analysis's ZIP and JSON
scores, colours read from the input image, face boxes inside the image, output bounds.
Everything is seeded by the task, so the same input and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from youcam_mock.core import media
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.models import ASSET_KEY
from youcam_mock.core.schemas import merge_all_of

#: ``(data, content_type, filename) -> asset id``: how results store their files.
AssetSink = Callable[[bytes, str, str], str]


@dataclass(frozen=True)
class InputFile:
    field: str
    data: bytes
    info: media.MediaInfo


@dataclass(frozen=True)
class OutputBounds:
    max_long: int = 4096
    max_short: int | None = None


#: Output size limits from the seed document's table (per feature path).
OUTPUT_BOUNDS: dict[str, OutputBounds] = {
    "out-paint": OutputBounds(2048, 1024),
    "obj-replace": OutputBounds(2048, 1024),
    "text-to-image": OutputBounds(1024),
    "ai-avatar": OutputBounds(1024),
    "video-trans": OutputBounds(1280),
    "face-swap-vid": OutputBounds(1280, 720),
}

#: The visible transform media.render_image applies, by feature.
EFFECTS: dict[str, str] = {
    "enhance": "enhance",
    "colorize": "colorize",
    "colorize/color-correct": "enhance",
    "bg-blur": "blur",
    "sod": "cutout",
    "lighting": "enhance",
}

_SKIN_TYPES_NEEDING_REGION = {"hd_skin_type", "skin_type"}


class ResultBuilder:
    """Builds one task's ``results`` tree; assets go through ``sink``."""

    def __init__(
        self,
        spec: FeatureSpec,
        request: dict[str, Any],
        inputs: list[InputFile],
        seed: int,
        sink: AssetSink,
    ) -> None:
        self.spec = spec
        self.request = request
        self.inputs = inputs
        self.seed = seed
        self.sink = sink
        digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode())
        for item in inputs:
            digest.update(hashlib.sha256(item.data).digest())
        self.rng = random.Random(f"{seed}:{spec.key}:{digest.hexdigest()}")
        self._asset_count = 0

    # ------------------------------------------------------------------ the walk
    def build(self) -> dict[str, Any]:
        schema = self.spec.results_schema
        if self.spec.feature.startswith("skin-analysis"):
            return self._skin_analysis()
        value = self._value(schema, "results", ())
        return value if isinstance(value, dict) else {}

    def _value(self, schema: Any, name: str, path: tuple[str, ...]) -> Any:
        schema = merge_all_of(schema)
        if not isinstance(schema, dict) or not schema:
            return None
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                return self._value(self._choose_branch(schema[keyword]), name, path)
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object":
            return {
                key: self._value(sub, key, (*path, key))
                for key, sub in schema.get("properties", {}).items()
            }
        if kind == "array":
            return self._array(schema, name, path)
        if "enum" in schema:
            choices = [c for c in schema["enum"] if c is not None]
            return self._pick(choices, name)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return int(self._number(schema, name, integer=True))
        if kind == "number":
            return self._number(schema, name, integer=False)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _choose_branch(self, branches: list[Any]) -> Any:
        wants_json = self.request.get("format") == "json"
        for branch in branches:
            required = set(merge_all_of(branch).get("required", []))
            if wants_json and "output" in required:
                return branch
            if not wants_json and "url" in required:
                return branch
        return branches[0]

    def _array(self, schema: dict[str, Any], name: str, path: tuple[str, ...]) -> list[Any]:
        items = merge_all_of(schema.get("items", {}))
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 1)))
        if name == "output":
            count = int(self.request.get("output_count", 1) or 1)
            if "res_age" in items.get("properties", {}):
                count = 3
            count = max(low, min(count, high if "maxItems" in schema else count))
        elif name in ("result", "faces"):
            count = 1
        elif name == "mask_urls":
            return [self._mask_asset()]
        else:
            count = max(low, min(high, 1))
        if name.endswith("urls") or (items.get("type") == "string" and "url" in name):
            return [self._primary_asset() for _ in range(count)]
        if (
            name == "result"
            and {"left", "top", "width", "height"} <= items.get("properties", {}).keys()
        ):
            return [self._face_box()]
        if name == "bbox":
            box = self._face_box()
            return [int(box["left"]), int(box["top"]), int(box["width"]), int(box["height"])]
        return [self._value(items, name, path) for _ in range(count)]

    def _string(self, schema: dict[str, Any], name: str) -> str:
        if name == "url" or name.endswith("_url"):
            return self._primary_asset()  # type: ignore[return-value]
        if name.endswith("_color") and not name.endswith("_name"):
            return self._colour(name)
        example = schema.get("example")
        if isinstance(example, str) and not example.startswith("http"):
            return example
        return f"{name}-{self.rng.randrange(1000):03d}"

    def _number(self, schema: dict[str, Any], name: str, *, integer: bool) -> float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        if name in ("timed", "timed_apply"):
            low, high = 120, 1800
        elif name == "age" or name.startswith("age_") or name == "res_age":
            low, high = 18, 80
        elif name in ("ui_score", "score", "raw_score"):
            low, high = 1, 100
        low = 0 if low is None else low
        high = (low + 100) if high is None else high
        if integer:
            return float(self.rng.randint(int(low), int(high)))
        return round(self.rng.uniform(float(low), float(high)), 3)

    def _pick(self, choices: list[Any], name: str) -> Any:
        return choices[self.rng.randrange(len(choices))] if choices else None

    # ------------------------------------------------------------------ feature specifics
    def _skin_analysis(self) -> dict[str, Any]:
        actions = [str(a) for a in self.request.get("dst_actions", [])]
        entries = []
        for action in actions:
            raw = round(self.rng.uniform(20, 98), 3)
            entry: dict[str, Any] = {
                "type": action,
                "ui_score": round(raw),
                "raw_score": raw,
                "score": round(raw * 0.98, 3),
            }
            if action not in _SKIN_TYPES_NEEDING_REGION:
                entry["mask_urls"] = [self._mask_asset()]
            else:
                entry["region"] = "whole"
            entries.append(entry)
        if self.request.get("format") == "json":
            return {"output": entries}
        members: dict[str, bytes] = {}
        score_info: dict[str, Any] = {"all": {"score": round(self.rng.uniform(60, 95), 3)}}
        width, height = self._input_size()
        for entry in entries:
            score_info[entry["type"]] = {
                "raw_score": entry["raw_score"],
                "ui_score": entry["ui_score"],
                "output_mask_name": f"{entry['type']}_output.png",
            }
            members[f"skinanalysisResult/{entry['type']}_output.png"] = media.render_mask(
                min(width, 512), min(height, 512), seed=self.rng.randrange(2**31)
            )
        members["skinanalysisResult/score_info.json"] = json.dumps(
            score_info, indent=2, sort_keys=True
        ).encode()
        archive = media.build_zip(dict(sorted(members.items())))
        return {"url": self._store(archive, "application/zip", "skinanalysisResult.zip")}

    def _colour(self, name: str) -> str:
        source = self._first_image()
        if source is None:
            r, g, b = (self.rng.randrange(256) for _ in range(3))
            return f"#{r:02x}{g:02x}{b:02x}"
        with Image.open(io.BytesIO(source)) as image:
            image.draft("RGB", (64, 64))
            small = image.convert("RGB").resize((8, 8))
            data = small.tobytes()
        offset = (sum(ord(c) for c in name) % 64) * 3
        r, g, b = data[offset], data[offset + 1], data[offset + 2]
        return f"#{r:02x}{g:02x}{b:02x}"

    def _face_box(self) -> dict[str, float]:
        width, height = self._input_size()
        box_w = max(1, width // 3)
        box_h = max(1, height // 3)
        return {
            "left": float(width // 3),
            "top": float(height // 4),
            "width": float(box_w),
            "height": float(box_h),
        }

    # ------------------------------------------------------------------ assets
    def _input_size(self) -> tuple[int, int]:
        for item in self.inputs:
            if item.info.width and item.info.height:
                return item.info.width, item.info.height
        return 512, 512

    def _first_image(self) -> bytes | None:
        for item in self.inputs:
            if item.info.kind == "image":
                return item.data
        return None

    def _source(self) -> bytes | None:
        for item in self.inputs:
            if item.field.startswith("src") and item.info.kind in ("image", "video"):
                return item.data
        return self.inputs[0].data if self.inputs else None

    def _store(self, data: bytes, content_type: str, filename: str) -> dict[str, str]:
        return {ASSET_KEY: self.sink(data, content_type, filename)}

    def _mask_asset(self) -> dict[str, str]:
        width, height = self._input_size()
        mask = media.render_mask(min(width, 512), min(height, 512), seed=self.rng.randrange(2**31))
        return self._store(mask, "image/png", "mask.png")

    def _primary_asset(self) -> dict[str, str]:
        self._asset_count += 1
        seed = self.rng.randrange(2**31)
        feature = self.spec.feature
        bounds = OUTPUT_BOUNDS.get(feature.split("/")[0], OutputBounds())
        if self.spec.output == "video":
            duration = self._video_duration()
            data = media.render_video(
                self._source(),
                seed=seed,
                duration_s=duration,
                max_long=min(bounds.max_long, 640),
                effect=EFFECTS.get(feature, feature),
            )
            return self._store(data, "video/mp4", f"result_{self._asset_count}.mp4")
        alpha = feature == "sod"
        size = _requested_size(self.request)
        data = media.render_image(
            self._source() if self.spec.input != "none" else None,
            seed=seed,
            effect=EFFECTS.get(feature, feature),
            fmt="png" if alpha else "jpeg",
            alpha=alpha,
            scale=float(self.request.get("scale", 1) or 1),
            max_long=bounds.max_long,
            max_short=bounds.max_short,
            size=size,
        )
        if alpha:
            return self._store(data, "image/png", f"result_{self._asset_count}.png")
        return self._store(data, "image/jpeg", f"result_{self._asset_count}.jpg")

    def _video_duration(self) -> float:
        requested = self.request.get("dst_duration")
        source = next((i for i in self.inputs if i.info.kind == "video"), None)
        if source is not None and source.info.duration_s:
            duration = source.info.duration_s
            if isinstance(requested, int | float) and requested > 0:
                duration = min(duration, float(requested))
            return max(1.0, min(duration, 60.0))
        if isinstance(requested, int | float) and requested > 0:
            return float(requested)
        return 5.0


def _requested_size(request: dict[str, Any]) -> tuple[int, int] | None:
    size = request.get("size")
    if isinstance(size, str) and "*" in size:
        text_width, _, text_height = size.partition("*")
        if text_width.isdigit() and text_height.isdigit() and int(text_width) and int(text_height):
            return int(text_width), int(text_height)
    width, height = request.get("output_width"), request.get("output_height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    return None
