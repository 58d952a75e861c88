"""Hypothesis strategies for YouCam API integrations, drawn from the package contract.

``youcam_testkit.requests`` builds one deterministic request per feature; these strategies draw
many, at random, from the same dereferenced request schemas, so an integrator's client code is
exercised with every shape the documents allow (and with the invalid ones the API refuses).
Every body is small and realistic: strings and arrays are bounded, optional fields shrink away
first, and the first branch of every choice is the simplest one, so a failing example shrinks
to something a person can read.

Each public function takes keyword-only arguments and returns a ``SearchStrategy``.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import random
import string
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import jsonschema_rs
from hypothesis import assume, reject
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from youcam_mock.contract import load_contract, to_json_schema
from youcam_mock.core.errors import ENGINE_ERRORS
from youcam_mock.core.features import FeatureSpec
from youcam_testkit.requests import FileSupplier

__all__ = [
    "CONTENT_TYPES",
    "EMULATOR_MUTATIONS",
    "MUTATIONS",
    "SCHEMA_MUTATIONS",
    "ExpectedError",
    "InvalidTaskRequest",
    "LabelledImage",
    "TaskRequest",
    "engine_errors",
    "fault_rules",
    "fault_schedules",
    "features",
    "file_registrations",
    "images",
    "invalid_task_requests",
    "oversized_images",
    "task_requests",
    "undecodable_images",
]

FeatureLike = FeatureSpec | str
TemplateSupplier = Callable[[FeatureSpec], Sequence[str]]

#: Content types the File API accepts, by input kind (FACTS.md: jpg/jpeg/png, mp4/mov).
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "image": ("image/jpg", "image/jpeg", "image/png"),
    "video": ("video/mp4", "video/quicktime"),
}
_EXTENSIONS = {
    "image/jpg": "jpg",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
#: Documented input limits: images < 10 MB, videos < 100 MB; long side <= 4096 px.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 100 * 1024 * 1024
MAX_IMAGE_SIDE = 4096

_TEXT_ALPHABET = string.ascii_letters + string.digits + " -_"
_MAX_TEXT = 24
_MAX_EXTRA_ITEMS = 3
_DEFAULT_SPAN = 100
#: Unbounded integers with a small realistic range: ``index`` picks one of the detected faces.
_INTEGER_SPAN = {"index": 2}
_SKIN_ANALYSIS = "skin-analysis"


# --------------------------------------------------------------------------------------------
# features


def _contract_features() -> list[FeatureSpec]:
    return [spec for _, spec in sorted(load_contract().features.items())]


def _resolve_feature(feature: FeatureLike) -> FeatureSpec:
    """A FeatureSpec from itself, its key ("v2.0/sod") or an unambiguous slug ("sod")."""
    if isinstance(feature, FeatureSpec):
        return feature
    known = load_contract().features
    if feature in known:
        return known[feature]
    found = [spec for spec in _contract_features() if spec.feature == feature]
    if len(found) == 1:
        return found[0]
    if found:
        keys = ", ".join(spec.key for spec in found)
        raise ValueError(f"feature {feature!r} is ambiguous: name one of {keys}")
    raise ValueError(f"unknown feature {feature!r}")


def features(*, input: str | None = None) -> st.SearchStrategy[FeatureSpec]:
    """A published task feature, optionally only those taking an ``image``/``video``/``none``
    input, so a test can cover every feature without listing them."""
    if input not in (None, "image", "video", "none"):
        raise ValueError("input is 'image', 'video', 'none' or None")
    specs = [spec for spec in _contract_features() if input is None or spec.input == input]
    return st.sampled_from(specs)


def _feature_strategy(feature: FeatureLike | None) -> st.SearchStrategy[FeatureSpec]:
    if feature is None:
        return features()
    return st.just(_resolve_feature(feature))


# --------------------------------------------------------------------------------------------
# schema flattening: allOf merged, anyOf/oneOf kept as choices to draw


@dataclass
class _Flat:
    """The constraints of one value, with ``allOf`` merged; choices still to be drawn."""

    types: list[str] | None = None
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None
    items: list[Any] = field(default_factory=list)
    min_items: int = 0
    max_items: int | None = None
    unique_items: bool = False
    properties: dict[str, list[Any]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    groups: list[list[Any]] = field(default_factory=list)
    nots: list[Any] = field(default_factory=list)
    min_properties: int = 0
    hints: list[Any] = field(default_factory=list)  # defaults and examples

    def kind(self) -> str | None:
        """The JSON type to generate (never ``null`` when another type is allowed)."""
        if self.types:
            concrete = [t for t in self.types if t != "null"]
            return concrete[0] if concrete else "null"
        if self.properties or self.required or self.min_properties:
            return "object"
        if self.items or self.min_items or self.max_items is not None:
            return "array"
        if self.minimum is not None or self.maximum is not None:
            return "number"
        if self.pattern is not None or self.max_length is not None:
            return "string"
        return None


def _merge_into(flat: _Flat, schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for part in schema.get("allOf", []):
        _merge_into(flat, part)
    kinds = schema.get("type")
    if kinds is not None:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        if schema.get("nullable"):
            wanted.append("null")
        if flat.types is None:
            flat.types = wanted
        else:
            kept = [t for t in flat.types if t in wanted]
            if "integer" in flat.types and "number" in wanted and "integer" not in kept:
                kept.append("integer")
            if "number" in flat.types and "integer" in wanted and "integer" not in kept:
                kept.append("integer")
            flat.types = kept
    if "enum" in schema:
        values = list(schema["enum"])
        flat.enum = values if flat.enum is None else [v for v in flat.enum if v in values]
    if "minimum" in schema:
        low, exclusive = float(schema["minimum"]), bool(schema.get("exclusiveMinimum"))
        if flat.minimum is None or low > flat.minimum:
            flat.minimum, flat.exclusive_min = low, exclusive
        elif low == flat.minimum:
            flat.exclusive_min = flat.exclusive_min or exclusive
    if "maximum" in schema:
        high, exclusive = float(schema["maximum"]), bool(schema.get("exclusiveMaximum"))
        if flat.maximum is None or high < flat.maximum:
            flat.maximum, flat.exclusive_max = high, exclusive
        elif high == flat.maximum:
            flat.exclusive_max = flat.exclusive_max or exclusive
    flat.min_length = max(flat.min_length, int(schema.get("minLength", 0)))
    if "maxLength" in schema:
        flat.max_length = min(flat.max_length or 10**9, int(schema["maxLength"]))
    if "pattern" in schema:
        flat.pattern = str(schema["pattern"])
    if "items" in schema:
        flat.items.append(schema["items"])
    flat.min_items = max(flat.min_items, int(schema.get("minItems", 0)))
    if "maxItems" in schema:
        flat.max_items = min(flat.max_items or 10**9, int(schema["maxItems"]))
    flat.unique_items = flat.unique_items or bool(schema.get("uniqueItems"))
    for name, sub in schema.get("properties", {}).items():
        flat.properties.setdefault(name, []).append(sub)
    for name in schema.get("required", []):
        if name not in flat.required:
            flat.required.append(name)
    for keyword in ("anyOf", "oneOf"):
        if schema.get(keyword):
            flat.groups.append(list(schema[keyword]))
    if "not" in schema:
        flat.nots.append(schema["not"])
    flat.min_properties = max(flat.min_properties, int(schema.get("minProperties", 0)))
    for keyword in ("default", "example"):
        if schema.get(keyword) is not None:
            flat.hints.append(schema[keyword])


def _flatten(schemas: Sequence[Any]) -> _Flat:
    flat = _Flat()
    for schema in schemas:
        _merge_into(flat, schema)
    return flat


_NOT_VALIDATORS: dict[str, Any] = {}


def _matches(schema: Any, instance: Any) -> bool:
    """Whether ``instance`` satisfies an OpenAPI sub-schema (compiled once per schema)."""
    text = json.dumps(schema, sort_keys=True)
    if text not in _NOT_VALIDATORS:
        _NOT_VALIDATORS[text] = jsonschema_rs.Draft4Validator(to_json_schema(schema))
    return bool(_NOT_VALIDATORS[text].is_valid(instance))


Path = tuple[str | int, ...]


def _field_name(path: Path) -> str:
    """``("effects", 0, "category")`` -> ``effects[0].category``, as the validator names it."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@dataclass
class _Site:
    """A generated value and the constraints it was drawn from (mutation targets)."""

    path: Path
    flat: _Flat
    required: bool


class _Builder:
    """Draws one request body for a feature, recording where each value came from."""

    def __init__(
        self,
        draw: st.DrawFn,
        spec: FeatureSpec,
        files: FileSupplier | None,
        templates: TemplateSupplier | None,
        by: str | None,
    ) -> None:
        self.draw = draw
        self.spec = spec
        self.files = files
        self.templates = templates
        self.by = by
        self.sites: list[_Site] = []

    # -- choices
    def _other_kind_required(self, branch: Any) -> bool:
        if self.by is None:
            return False
        other = "url" if self.by == "id" else "id"
        required = _flatten([branch]).required
        return any(_is_file_field(n) and _file_kind(n) == other for n in required)

    def resolve(self, flat: _Flat) -> None:
        """Draw one branch of every anyOf/oneOf (the first branch is the simplest)."""
        while flat.groups:
            branches = flat.groups.pop(0)
            preferred = [b for b in branches if not self._other_kind_required(b)] or branches
            _merge_into(flat, self.draw(st.sampled_from(preferred)))

    # -- values
    def value(self, schemas: Sequence[Any], path: Path, required: bool) -> Any:
        flat = _flatten(schemas)
        self.resolve(flat)
        name = path[-1] if path and isinstance(path[-1], str) else ""
        self.sites.append(_Site(path, flat, required))
        if len(path) == 1 and _is_file_field(name):
            return self.file_value(name, flat)
        if len(path) == 1 and name == "template_id":
            return self.template_id()
        if len(path) == 1 and name == "dst_actions" and _is_skin_analysis(self.spec):
            return self.skin_actions(flat)
        enum = [v for v in (flat.enum or []) if v is not None]
        if flat.enum is not None and enum:
            return self.draw(st.sampled_from(enum))
        kind = flat.kind()
        if kind == "object":
            return self.object(flat, path)
        if kind == "array":
            return self.array(flat, path)
        if kind == "integer":
            return self.draw(_integers(flat, _INTEGER_SPAN.get(str(name), _DEFAULT_SPAN)))
        if kind == "number":
            return self.draw(_numbers(flat))
        if kind == "boolean":
            return self.draw(st.booleans())
        if kind == "null":
            return None
        return self.draw(_strings(flat, str(name)))

    def object(self, flat: _Flat, path: Path) -> dict[str, Any]:
        """Required properties, then a drawn subset of the optional ones (shrinks to none)."""
        self.resolve(flat)
        names = list(flat.properties)
        optional = [n for n in names if n not in flat.required and self._wanted(n)]
        for _attempt in range(4):
            mark = len(self.sites)
            chosen = [n for n in optional if self.draw(st.booleans())]
            missing = flat.min_properties - len(flat.required) - len(chosen)
            for name in optional:
                if missing <= 0:
                    break
                if name not in chosen:
                    chosen.append(name)
                    missing -= 1
            out: dict[str, Any] = {}
            for name in [*flat.required, *[n for n in names if n in chosen]]:
                out[name] = self.value(
                    flat.properties.get(name, [{}]), (*path, name), name in flat.required
                )
            if not any(_matches(forbidden, out) for forbidden in flat.nots):
                return out
            del self.sites[mark:]
        reject()

    def _wanted(self, name: str) -> bool:
        """Optional file fields of the kind not asked for (``by``) are left out."""
        if self.by is None or not _is_file_field(name):
            return True
        return _file_kind(name) == self.by

    def array(self, flat: _Flat, path: Path) -> list[Any]:
        low = flat.min_items
        high = flat.max_items if flat.max_items is not None else low + _MAX_EXTRA_ITEMS
        high = max(low, min(high, low + _MAX_EXTRA_ITEMS))
        count = self.draw(st.integers(low, high))
        items = flat.items or [{}]
        out = [self.value(items, (*path, index), True) for index in range(count)]
        if flat.unique_items:
            assume(len({json.dumps(v, sort_keys=True) for v in out}) == len(out))
        return out

    # -- the fields the schema types only as strings
    def file_value(self, name: str, flat: _Flat) -> Any:
        if name.endswith("s"):
            low = max(1, flat.min_items)
            high = flat.max_items if flat.max_items is not None else low + 1
            count = self.draw(st.integers(low, max(low, min(high, low + 2))))
            return [self.one_file(name, index) for index in range(count)]
        return self.one_file(name, 0)

    def one_file(self, name: str, index: int) -> str:
        if self.files is not None:
            return self.files(name, index)
        if _file_kind(name) == "id":
            return self.draw(_fake_file_ids())
        return self.draw(_fake_file_urls(_url_extension(self.spec, name)))

    def template_id(self) -> str:
        ids = list(self.templates(self.spec)) if self.templates is not None else []
        if ids:
            return str(self.draw(st.sampled_from(ids)))
        # The documents type ids as strings; real ones exceed 2**53 (FACTS.md).
        return str(self.draw(st.integers(2**53 + 1, 2**63 - 1)))

    def skin_actions(self, flat: _Flat) -> list[str]:
        """One tier (HD or SD), no repeats: the emulator's rule beyond the schema."""
        items = _flatten(flat.items)
        actions = [str(v) for v in (items.enum or []) if v is not None]
        hd = self.draw(st.booleans())
        tier = [a for a in actions if a.startswith("hd_") == hd] or actions
        return self.draw(st.lists(st.sampled_from(tier), min_size=1, max_size=4, unique=True))


def _is_file_field(name: str) -> bool:
    prefix, _, rest = name.partition("_file_")
    return bool(rest) and prefix in ("src", "ref", "msk", "srcmsk", "refmsk")


def _file_kind(name: str) -> str:
    return "url" if name.rstrip("s").endswith("_url") else "id"


def _is_skin_analysis(spec: FeatureSpec) -> bool:
    return spec.feature == _SKIN_ANALYSIS


def _url_extension(spec: FeatureSpec, name: str) -> str:
    if "msk" in name:
        return "png"
    if spec.input == "video" and name.startswith("src"):
        return "mp4"
    return "jpg"


def _fake_file_ids() -> st.SearchStrategy[str]:
    """64 characters of standard base64, the shape of the vendor's file ids."""
    return st.binary(min_size=48, max_size=48).map(lambda raw: base64.b64encode(raw).decode())


def _fake_file_urls(extension: str) -> st.SearchStrategy[str]:
    stems = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
    return stems.map(lambda stem: f"https://example.com/inputs/{stem}.{extension}")


def _integers(flat: _Flat, span: int) -> st.SearchStrategy[int]:
    low = None if flat.minimum is None else int(flat.minimum) + (1 if flat.exclusive_min else 0)
    high = None if flat.maximum is None else int(flat.maximum) - (1 if flat.exclusive_max else 0)
    if low is None:
        low = 0 if high is None or high >= 0 else high - span
    if high is None:
        high = low + span
    return st.integers(low, high)


def _numbers(flat: _Flat) -> st.SearchStrategy[float]:
    """Hundredths within the bounds, as people write them (not 2.2e-308)."""
    high = flat.maximum
    if flat.minimum is not None:
        low = flat.minimum
    else:
        low = 0.0 if high is None or high >= 0 else high - _DEFAULT_SPAN
    if high is None:
        high = low + _DEFAULT_SPAN
    first = math.ceil(low * 100)
    last = math.floor(high * 100)
    if flat.exclusive_min and first == low * 100:
        first += 1
    if flat.exclusive_max and last == high * 100:
        last -= 1
    if first <= last:
        return st.integers(first, last).map(lambda n: n / 100)
    return st.floats(
        low,
        high,
        exclude_min=flat.exclusive_min,
        exclude_max=flat.exclusive_max,
        allow_nan=False,
        allow_infinity=False,
    )


#: String properties the documents leave free but the API reads as one of their documented
#: values (their default or example), and colour strings the documents give no pattern for.
_DOCUMENTED_ONLY = frozenset({"version", "model"})
_HEX_COLOUR = r"#[0-9A-F]{6}"


def _strings(flat: _Flat, name: str) -> st.SearchStrategy[str]:
    """Documented defaults/examples first, then short plain text (or the pattern's language)."""
    if flat.pattern is not None:
        return st.from_regex(flat.pattern, fullmatch=True)
    low = max(1, flat.min_length)
    high = max(low, min(flat.max_length or _MAX_TEXT, _MAX_TEXT))
    hints = [h for h in flat.hints if isinstance(h, str) and low <= len(h) <= high]
    if hints and name in _DOCUMENTED_ONLY:
        return st.sampled_from(hints)
    if "color" in name.lower() and low <= 7 <= high:
        text = st.from_regex(_HEX_COLOUR, fullmatch=True)
    else:
        text = st.text(alphabet=_TEXT_ALPHABET, min_size=low, max_size=high)
    return st.sampled_from(hints) | text if hints else text


# --------------------------------------------------------------------------------------------
# task requests


class TaskRequest(NamedTuple):
    """A feature and a request body its task-create operation accepts."""

    feature: FeatureSpec
    body: dict[str, Any]


def _validator_error(spec: FeatureSpec, body: Any) -> str | None:
    validator = load_contract().validator(f"POST {spec.create_path}")
    return None if validator is None else validator.error(body)


@st.composite
def _valid_body(
    draw: st.DrawFn,
    spec: FeatureSpec,
    files: FileSupplier | None,
    templates: TemplateSupplier | None,
    by: str | None,
) -> tuple[dict[str, Any], list[_Site]]:
    builder = _Builder(draw, spec, files, templates, by)
    body = builder.object(_flatten([spec.request_schema]), ())
    assume(_validator_error(spec, body) is None)
    return body, builder.sites


def task_requests(
    *,
    feature: FeatureLike | None = None,
    files: FileSupplier | None = None,
    templates: TemplateSupplier | None = None,
    by: Literal["id", "url"] | None = None,
) -> st.SearchStrategy[TaskRequest]:
    """A task-create body valid for the feature's published schema and the emulator's rules.

    ``files(field, index)`` supplies the file ids/URLs the body names (e.g. files the test
    registered); otherwise they are plausible fakes.  ``templates(spec)`` lists template ids
    to pick ``template_id`` from; ``by`` keeps only the ``*_file_id`` or ``*_file_url`` shapes.
    """
    if by not in (None, "id", "url"):
        raise ValueError("by is 'id', 'url' or None")
    source = _feature_strategy(feature)

    @st.composite
    def build(draw: st.DrawFn) -> TaskRequest:
        spec = draw(source)
        body, _sites = draw(_valid_body(spec, files, templates, by))
        return TaskRequest(spec, body)

    return build()


# --------------------------------------------------------------------------------------------
# invalid task requests


@dataclass(frozen=True)
class ExpectedError:
    """What the API answers an invalid request with, and why it is invalid."""

    status: int = 400
    error_code: str = "InvalidParameters"
    #: The offending field (``effects[0].category``), None when the whole body is wrong.
    field: str | None = None
    #: Which mutation made the body invalid (one of :data:`MUTATIONS`).
    mutation: str = ""
    #: ``schema``: the published schema rejects it; ``emulator``: a documented rule the schema
    #: cannot express (FACTS.md: mixed HD/SD skin-analysis actions and the like).
    source: Literal["schema", "emulator"] = "schema"


class InvalidTaskRequest(NamedTuple):
    feature: FeatureSpec
    body: Any
    expected: ExpectedError


#: Mutations, simplest first (Hypothesis shrinks towards the front).
SCHEMA_MUTATIONS = (
    "missing_required",
    "wrong_type",
    "not_in_enum",
    "out_of_range",
    "array_length",
    "pattern",
    "not_an_object",
)
EMULATOR_MUTATIONS = ("mixed_hd_sd", "empty_dst_actions", "repeated_action")
MUTATIONS = SCHEMA_MUTATIONS + EMULATOR_MUTATIONS

_WRONG_TYPE: dict[str, Any] = {
    "string": 12345,
    "integer": "12",
    "number": "0.5",
    "boolean": "true",
    "array": "not-an-array",
    "object": ["not", "an", "object"],
}


def _replaced(body: Any, path: Path, value: Any) -> Any:
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _removed(body: Any, path: Path) -> Any:
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


def _present(body: Any, path: Path) -> bool:
    node = body
    for step in path:
        in_dict = isinstance(node, dict) and isinstance(step, str) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and step < len(node)
        if not (in_dict or in_list):
            return False
        node = node[step]
    return True


def _schema_mutations(body: dict[str, Any], sites: list[_Site]) -> list[tuple[str, Path, Any]]:
    """Every single-value change that breaks a constraint the schema states."""
    found: list[tuple[str, Path, Any]] = []
    for site in sites:
        if not site.path or not _present(body, site.path):
            continue
        path, flat = site.path, site.flat
        if site.required and isinstance(path[-1], str):
            found.append(("missing_required", path, _removed(body, path)))
        if flat.types and len(flat.types) == 1 and flat.types[0] in _WRONG_TYPE:
            found.append(("wrong_type", path, _replaced(body, path, _WRONG_TYPE[flat.types[0]])))
        enum = [v for v in (flat.enum or []) if v is not None]
        if enum and all(isinstance(v, str) for v in enum):
            found.append(("not_in_enum", path, _replaced(body, path, f"not_a_{path[-1]}")))
        elif enum and all(isinstance(v, int | float) and not isinstance(v, bool) for v in enum):
            found.append(("not_in_enum", path, _replaced(body, path, max(enum) + 1)))
        kind = flat.kind()
        if kind in ("integer", "number") and not enum:
            step: float = 1 if kind == "integer" else 0.5
            if flat.maximum is not None:
                bad = flat.maximum if flat.exclusive_max else flat.maximum + step
                found.append(("out_of_range", path, _replaced(body, path, _numeric(bad, kind))))
            if flat.minimum is not None:
                bad = flat.minimum if flat.exclusive_min else flat.minimum - step
                found.append(("out_of_range", path, _replaced(body, path, _numeric(bad, kind))))
        current = _get(body, path)
        if isinstance(current, list):
            if flat.min_items > 0:
                shorter = current[: flat.min_items - 1]
                found.append(("array_length", path, _replaced(body, path, shorter)))
            if flat.max_items is not None and current:
                longer = current + [current[-1]] * (flat.max_items + 1 - len(current))
                found.append(("array_length", path, _replaced(body, path, longer)))
        if flat.pattern is not None and isinstance(current, str):
            found.append(("pattern", path, _replaced(body, path, "?not-matching?")))
    for value in ([body], json.dumps(body), 0, None):
        found.append(("not_an_object", (), value))
    return found


def _numeric(value: float, kind: str) -> float | int:
    return int(value) if kind == "integer" and float(value).is_integer() else value


def _get(body: Any, path: Path) -> Any:
    node = body
    for step in path:
        node = node[step]
    return node


def _emulator_mutations(spec: FeatureSpec, body: dict[str, Any]) -> list[tuple[str, Path, Any]]:
    """Skin-analysis ``dst_actions`` the schema allows but the API refuses (FACTS.md)."""
    if not _is_skin_analysis(spec) or "dst_actions" not in body:
        return []
    schemas = [
        s for found in _all_property_schemas(spec.request_schema, "dst_actions") for s in found
    ]
    items = _flatten([s.get("items", {}) for s in schemas if isinstance(s, dict)])
    actions = [str(v) for v in (items.enum or []) if v is not None]
    hd = next(a for a in actions if a.startswith("hd_"))
    sd = next(a for a in actions if not a.startswith("hd_"))
    first = str(body["dst_actions"][0])
    path: Path = ("dst_actions",)
    return [
        ("mixed_hd_sd", path, _replaced(body, path, [hd, sd])),
        ("empty_dst_actions", path, _replaced(body, path, [])),
        ("repeated_action", path, _replaced(body, path, [first, first])),
    ]


def _all_property_schemas(schema: Any, name: str) -> list[list[Any]]:
    """Every schema the document gives property ``name`` (through allOf/anyOf/oneOf)."""
    found: list[list[Any]] = []
    if isinstance(schema, dict):
        if name in schema.get("properties", {}):
            found.append([schema["properties"][name]])
        for keyword in ("allOf", "anyOf", "oneOf"):
            for part in schema.get(keyword, []):
                found.extend(_all_property_schemas(part, name))
    return found


def invalid_task_requests(
    *,
    feature: FeatureLike | None = None,
    mutations: Collection[str] | None = None,
) -> st.SearchStrategy[InvalidTaskRequest]:
    """A valid body with one mutation the API answers with 400 ``InvalidParameters``.

    Schema mutations are kept only when the contract's validator really rejects the result;
    emulator mutations (skin-analysis ``dst_actions``) are documented rules the schema cannot
    express.  ``mutations`` restricts the kinds (see :data:`MUTATIONS`).
    """
    allowed = tuple(m for m in MUTATIONS if mutations is None or m in mutations)
    unknown = set(mutations or ()) - set(MUTATIONS)
    if unknown or not allowed:
        raise ValueError(f"mutations are drawn from {MUTATIONS}, got {sorted(unknown)}")
    if feature is None and set(allowed) <= set(EMULATOR_MUTATIONS):
        source = st.sampled_from([s for s in _contract_features() if _is_skin_analysis(s)])
    else:
        source = _feature_strategy(feature)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidTaskRequest:
        spec = draw(source)
        body, sites = draw(_valid_body(spec, None, None, None))
        candidates: list[tuple[str, Path, Any, Literal["schema", "emulator"]]] = [
            (name, path, bad, "schema")
            for name, path, bad in _schema_mutations(body, sites)
            if name in allowed and _validator_error(spec, bad) is not None
        ]
        candidates += [
            (name, path, bad, "emulator")
            for name, path, bad in _emulator_mutations(spec, body)
            if name in allowed
        ]
        # Kind first, then the site: every kind is drawn as often, whatever its site count.
        kinds = sorted({c[0] for c in candidates}, key=MUTATIONS.index)
        assume(kinds)
        kind = draw(st.sampled_from(kinds))
        name, path, bad, origin = draw(st.sampled_from([c for c in candidates if c[0] == kind]))
        expected = ExpectedError(field=_field_name(path) or None, mutation=name, source=origin)
        return InvalidTaskRequest(spec, bad, expected)

    return build()


# --------------------------------------------------------------------------------------------
# file registrations


def file_registrations(
    *, kind: Literal["image", "video"] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """A File API body (``POST /s2s/v2.0/file``) of 1..3 files within the documented limits."""
    if kind not in (None, "image", "video"):
        raise ValueError("kind is 'image', 'video' or None")
    types = [t for k, ts in CONTENT_TYPES.items() if kind in (None, k) for t in ts]

    @st.composite
    def one(draw: st.DrawFn) -> dict[str, Any]:
        content_type = draw(st.sampled_from(types))
        limit = MAX_VIDEO_BYTES if content_type.startswith("video/") else MAX_IMAGE_BYTES
        stem = draw(
            st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=16)
        )
        return {
            "content_type": content_type,
            "file_name": f"{stem}.{_EXTENSIONS[content_type]}",
            "file_size": draw(st.integers(1, limit - 1)),
        }

    return st.lists(one(), min_size=1, max_size=3).map(lambda files: {"files": files})


# --------------------------------------------------------------------------------------------
# images


_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG"}
_CONTENT_TYPE = {"JPEG": "image/jpeg", "PNG": "image/png"}


def _encode(image: Image.Image, pil_format: str) -> bytes:
    buffer = io.BytesIO()
    if pil_format == "JPEG":
        image.save(buffer, "JPEG", quality=85)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _pil_format(format: str | None) -> st.SearchStrategy[str]:
    if format is None:
        return st.sampled_from(["JPEG", "PNG"])
    if format.lower() not in _FORMATS:
        raise ValueError("format is 'jpeg', 'png' or None")
    return st.just(_FORMATS[format.lower()])


_COLOURS = st.tuples(*[st.integers(0, 255)] * 3)


def images(
    *,
    format: str | None = None,
    min_side: int = 1,
    max_side: int = 512,
    width: int | None = None,
    height: int | None = None,
) -> st.SearchStrategy[bytes]:
    """A real encoded JPEG/PNG: a background and a few rectangles and ellipses, every pixel
    drawn from integers, so a failing image shrinks to a small black one."""
    if not 1 <= min_side <= max_side:
        raise ValueError("need 1 <= min_side <= max_side")
    for label, fixed in (("width", width), ("height", height)):
        if fixed is not None and fixed < 1:
            raise ValueError(f"{label} must be positive")
    sides = st.integers(min_side, max_side)
    formats = _pil_format(format)

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        pil_format = draw(formats)
        w = width if width is not None else draw(sides)
        h = height if height is not None else draw(sides)
        image = Image.new("RGB", (w, h), draw(_COLOURS))
        canvas = ImageDraw.Draw(image)
        shapes = st.tuples(
            st.booleans(),
            st.integers(0, w - 1),
            st.integers(0, h - 1),
            st.integers(0, w - 1),
            st.integers(0, h - 1),
            _COLOURS,
        )
        for ellipse, x0, y0, x1, y1, colour in draw(st.lists(shapes, max_size=4)):
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            if ellipse:
                canvas.ellipse(box, fill=colour)
            else:
                canvas.rectangle(box, fill=colour)
        return _encode(image, pil_format)

    return build()


class LabelledImage(NamedTuple):
    """Bytes a client may upload, with the engine code the task ends with."""

    data: bytes
    engine_error: str
    content_type: str
    reason: str

    def expected_for(self, feature: FeatureLike) -> str | None:
        """The code a task of ``feature`` ends with, when its document lists this one.

        Some documents omit codes the seed document's limits imply (18 image features lack
        ``error_exceed_max_image_size``); for those the code is the emulator's fallback, not
        a documented fact, so this answers None.
        """
        spec = _resolve_feature(feature)
        return self.engine_error if self.engine_error in spec.engine_error_codes else None


def oversized_images(*, format: str | None = None) -> st.SearchStrategy[LabelledImage]:
    """A decodable image whose long side exceeds 4096 px (a thin solid strip: cheap to encode),
    which the engine answers with ``error_exceed_max_image_size``."""
    formats = _pil_format(format)

    @st.composite
    def build(draw: st.DrawFn) -> LabelledImage:
        pil_format = draw(formats)
        long_side = draw(st.integers(MAX_IMAGE_SIDE + 1, MAX_IMAGE_SIDE + 256))
        short_side = draw(st.integers(1, 16))
        size = (long_side, short_side) if draw(st.booleans()) else (short_side, long_side)
        data = _encode(Image.new("RGB", size, draw(_COLOURS)), pil_format)
        reason = f"{size[0]}x{size[1]}: long side {long_side} > {MAX_IMAGE_SIDE}"
        return LabelledImage(data, "error_exceed_max_image_size", _CONTENT_TYPE[pil_format], reason)

    return build()


def _truncated(pil_format: str) -> st.SearchStrategy[LabelledImage]:
    """A real image cut short in the first half of its pixel data: the header parses, the
    pixels do not.  Noise pixels, so the compressed data is long enough to cut into."""

    @st.composite
    def build(draw: st.DrawFn) -> LabelledImage:
        w, h = draw(st.integers(8, 48)), draw(st.integers(8, 48))
        noise = random.Random(draw(st.integers(0, 2**32 - 1))).randbytes(w * h * 3)
        whole = _encode(Image.frombytes("RGB", (w, h), noise), pil_format)
        if pil_format == "PNG":
            start = whole.index(b"IDAT") + 4
            end = start + int.from_bytes(whole[start - 8 : start - 4], "big")
        else:
            start, end = whole.index(b"\xff\xda"), len(whole)
        cut = draw(st.integers(start, start + (end - start) // 2))
        name = pil_format.lower()
        return LabelledImage(
            whole[:cut],
            "error_decode_image",
            _CONTENT_TYPE[pil_format],
            f"{name} truncated at byte {cut} of {len(whole)}",
        )

    return build()


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG")


def undecodable_images() -> st.SearchStrategy[LabelledImage]:
    """Bytes no decoder makes an image of (a truncated JPEG/PNG, or noise claiming to be one),
    which the engine answers with ``error_decode_image``."""
    noise = st.builds(
        lambda data, content_type: LabelledImage(
            data, "error_decode_image", content_type, f"{len(data)} random bytes"
        ),
        st.binary(min_size=1, max_size=256).filter(lambda b: not b.startswith(_MAGIC)),
        st.sampled_from(["image/jpeg", "image/png"]),
    )
    return st.one_of(_truncated("JPEG"), _truncated("PNG"), noise)


# --------------------------------------------------------------------------------------------
# engine errors and fault rules


def engine_errors(*, feature: FeatureLike) -> st.SearchStrategy[str]:
    """An engine code the feature's document lists (its ``EngineErrorCode`` enum)."""
    spec = _resolve_feature(feature)
    codes = [code for code in spec.engine_error_codes if code in ENGINE_ERRORS]
    if not codes:
        raise ValueError(f"{spec.key} documents no engine error codes")
    return st.sampled_from(codes)


_HTTP_OPERATIONS = ("task_poll", "task_create", "file", "upload", "download")


def _times() -> st.SearchStrategy[int]:
    return st.integers(1, 3)


def _rule(
    name: str,
    match: dict[str, Any],
    action: dict[str, Any],
    times: int,
    after: int,
) -> dict[str, Any]:
    if after:
        match = {**match, "after": after}
    return {"name": name, "match": match, "action": action, "times": times}


def fault_rules(*, feature: FeatureLike | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A scenario rule (the dict ``rule_from_dict`` takes): simplest faults first, so a failing
    schedule shrinks to small latencies before 429s, engine errors, timeouts, broken bodies
    and connection resets."""
    spec = None if feature is None else _resolve_feature(feature)
    scope = {} if spec is None else {"feature": spec.key}
    task_scope = {**scope, "operation": "task_poll"}
    afters = st.integers(0, 3)

    latency = st.builds(
        lambda ms, op, times, after: _rule(
            f"+{ms} ms on {op}", {"operation": op}, {"latency_ms": float(ms)}, times, after
        ),
        st.integers(1, 500),
        st.sampled_from(_HTTP_OPERATIONS),
        _times(),
        afters,
    )
    too_many = st.builds(
        lambda op, retry_after, times, after: _rule(
            f"429 on {op}",
            {"operation": op},
            {"http_error": "TooManyRequests"}
            | ({} if retry_after is None else {"retry_after": float(retry_after)}),
            times,
            after,
        ),
        st.sampled_from(("task_poll", "task_create", "file")),
        st.none() | st.integers(1, 5),
        _times(),
        afters,
    )
    engine = _engine_rules(spec)
    timeout = st.builds(
        lambda times, after: _rule(
            "TaskTimeout on task_poll",
            dict(task_scope),
            {"http_error": "TaskTimeout"},
            times,
            after,
        ),
        _times(),
        afters,
    )
    malformed = st.builds(
        lambda op, times, after: _rule(
            f"malformed body on {op}", {"operation": op}, {"malformed_body": True}, times, after
        ),
        st.sampled_from(("task_poll", "task_create", "file")),
        _times(),
        afters,
    )
    reset = st.builds(
        lambda op, times, after: _rule(
            f"connection reset on {op}",
            {"operation": op},
            {"reset_connection": True},
            times,
            after,
        ),
        st.sampled_from(_HTTP_OPERATIONS),
        _times(),
        afters,
    )
    return st.one_of(latency, too_many, engine, timeout, malformed, reset)


def _engine_rules(spec: FeatureSpec | None) -> st.SearchStrategy[dict[str, Any]]:
    specs = (
        st.just(spec)
        if spec is not None
        else features(input=None).filter(lambda s: bool(s.engine_error_codes))
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(specs)
        code = draw(engine_errors(feature=chosen))
        return {
            "name": f"{code} on {chosen.key}",
            "match": {"feature": chosen.key},
            "action": {"engine_error": code},
            "times": draw(_times()),
        }

    return build()


def fault_schedules(
    *, feature: FeatureLike | None = None, max_faults: int = 5
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A sequence of fault rules to install together; shrinks to fewer and simpler faults
    (down to none: the client must also pass on a healthy API)."""
    if max_faults < 0:
        raise ValueError("max_faults must be >= 0")
    return st.lists(fault_rules(feature=feature), min_size=0, max_size=max_faults)
