"""Regenerate the sample inputs in fixtures/ (deterministic; see fixtures/README.md).

Usage: python scripts/make_fixtures.py
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from youcam_mock.core import media
from youcam_mock.core.backend import CREATE_TRIGGERS
from youcam_mock.core.errors import ENGINE_ERRORS

ROOT = Path(__file__).resolve().parent.parent / "fixtures"


def portrait(width: int, height: int) -> bytes:
    """A drawn stand-in for a selfie: background, shoulders, a face-coloured oval."""
    image = Image.new("RGB", (width, height), (96, 128, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.2, height * 0.7, width * 0.8, height * 1.3), fill=(60, 60, 90))
    draw.ellipse((width * 0.33, height * 0.2, width * 0.67, height * 0.68), fill=(224, 172, 140))
    draw.ellipse((width * 0.41, height * 0.36, width * 0.46, height * 0.41), fill=(40, 30, 30))
    draw.ellipse((width * 0.54, height * 0.36, width * 0.59, height * 0.41), fill=(40, 30, 30))
    draw.arc(
        (width * 0.42, height * 0.45, width * 0.58, height * 0.58),
        20,
        160,
        fill=(150, 60, 60),
        width=3,
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def mask(width: int, height: int) -> bytes:
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=255
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


#: Request-level codes a ``trigger_<code>`` file name produces after task creation: on polls of
#: that task (TaskTimeout, InvalidTaskId) or on deleting it (OperationNotSupport, OperationInvalid).
LATER_TRIGGERS = ("TaskTimeout", "InvalidTaskId", "OperationNotSupport", "OperationInvalid")


def trigger_codes() -> list[str]:
    """Every code an uploaded file's name can trigger in-band (see the README's error table)."""
    return [*CREATE_TRIGGERS, *LATER_TRIGGERS, *ENGINE_ERRORS]


def main() -> None:
    (ROOT / "images").mkdir(parents=True, exist_ok=True)
    (ROOT / "videos").mkdir(parents=True, exist_ok=True)
    (ROOT / "images" / "selfie.jpg").write_bytes(portrait(768, 1024))
    (ROOT / "images" / "mask.png").write_bytes(mask(768, 1024))
    (ROOT / "videos" / "clip.mp4").write_bytes(
        media.render_video(portrait(320, 240), seed=1, duration_s=4, fps=8, max_long=320)
    )
    triggers = ROOT / "triggers"
    triggers.mkdir(parents=True, exist_ok=True)
    sample = portrait(64, 64)  # tiny: the name, not the picture, carries the trigger
    for code in trigger_codes():
        (triggers / f"trigger_{code}.jpg").write_bytes(sample)
    for name, text in example_requests().items():
        target = ROOT / "requests" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote fixtures under {ROOT}")


def example_requests() -> dict[str, str]:
    """One contract-valid task request per feature: ``requests/<version>/<feature>.json``.

    File fields hold ``<file_id of FIELD[i]>`` placeholders: register and upload a file (the
    samples above will do) and put its ``file_id`` there.
    """
    from youcam_mock.app import create_app
    from youcam_mock.contract import load_contract
    from youcam_testkit.requests import build_request

    backend = create_app().extensions["youcam_mock"].backend
    out = {}
    for spec in load_contract().features.values():
        template = None
        if spec.templates_path and "template_id" in json.dumps(spec.request_schema):
            template = backend.templates(spec.feature, spec.version)[0].id
        body = build_request(
            spec, lambda field, index: f"<file_id of {field}[{index}]>", template_id=template
        )
        document = {
            "method": "POST",
            "path": spec.create_path,
            "poll": spec.poll_path,
            "body": body,
        }
        name = f"{spec.version}/{spec.feature.replace('/', '__')}.json"
        out[name] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return out


if __name__ == "__main__":
    main()
