"""Regenerate the sample inputs in fixtures/ (deterministic; see fixtures/README.md).

Usage: python scripts/make_fixtures.py
"""

from __future__ import annotations

import io
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
    print(f"wrote fixtures under {ROOT}")


if __name__ == "__main__":
    main()
