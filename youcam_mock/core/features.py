"""What the emulator knows about each AI feature, as plain data handed to the backend.

Built by :mod:`youcam_mock.contract` from the package contract, so the core never parses
OpenAPI itself and stays free of any HTTP or schema library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FeatureSpec:
    feature: str  # path slug, may contain "/": "skin-analysis", "2d-vto/ring"
    version: str  # "v2.0"
    document: str  # source document slug
    input: str  # "image" | "video" | "none"
    create_path: str
    poll_path: str
    engine_error_codes: tuple[str, ...]
    #: Dereferenced schema of ``data.results`` on a successful poll.
    results_schema: dict[str, Any] = field(hash=False, compare=False)
    #: Dereferenced request body schema.
    request_schema: dict[str, Any] = field(hash=False, compare=False)
    #: Names of request properties that reference input files (``src_file_id``, ...).
    file_fields: tuple[str, ...] = ()
    pre_process_of: str | None = None
    templates_path: str | None = None
    #: Rows of the document's unit table: (item, units) as the vendor wrote them.
    unit_rows: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.version}/{self.feature}"

    @property
    def output(self) -> str:
        """What the result asset is: video for video features and *-to-video generators."""
        if self.input == "video" or "to-video" in self.feature:
            return "video"
        return "image"
