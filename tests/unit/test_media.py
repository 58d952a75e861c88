"""Tests for youcam_mock.core.media: probing uploads and rendering real, deterministic results."""

from __future__ import annotations

import ast
import io
import struct
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageDraw

from youcam_mock.core import media
from youcam_mock.core.media import (
    IMAGE_FORMATS,
    VIDEO_CONTAINERS,
    MediaInfo,
    build_zip,
    is_decodable_image,
    probe,
    render_image,
    render_mask,
    render_video,
)

# ------------------------------------------------------------------------------------------
# in-memory inputs


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A non-flat picture, so effects and crops produce visibly different pixels."""
    img = Image.linear_gradient("L").resize(size).convert(mode)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill="red" if mode != "L" else 200)
    return img


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _jpeg(size: tuple[int, int] = (320, 240), **params: object) -> bytes:
    return _encode(_picture(size), "JPEG", quality=85, **params)


def _png(size: tuple[int, int] = (320, 240), mode: str = "RGB") -> bytes:
    return _encode(_picture(size, mode), "PNG")


def _png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG header declaring a huge image (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _mov_with_audio(seconds: float = 1.0, fps: int = 10) -> bytes:
    """A QuickTime file with MPEG-4 Part 2 video and AAC audio, unlike what render_video makes."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mov") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream("aac", rate=8000)
        frames = round(seconds * fps)
        for i in range(frames):
            img = _picture((160, 120)).rotate(i * 10)
            frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = int(8000 * seconds)
        for start in range(0, samples, 1024):
            n = min(1024, samples - start)
            aframe = av.AudioFrame(format="fltp", layout="mono", samples=n)
            aframe.planes[0].update(bytes(4 * n))
            aframe.sample_rate = 8000
            aframe.pts = start
            out.mux(audio.encode(aframe))
        out.mux(audio.encode(None))
    return buf.getvalue()


def _decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _stream_facts(data: bytes) -> tuple[Fraction | None, int, str | None]:
    """(average frame rate, decoded frame count, pixel format) read back with PyAV."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        count = len(list(container.decode(stream)))
        return stream.average_rate, count, stream.codec_context.pix_fmt


# ------------------------------------------------------------------------------------------
# module hygiene


def test_public_constants() -> None:
    assert {"jpeg", "png"} == IMAGE_FORMATS
    assert {"mp4", "mov"} == VIDEO_CONTAINERS


def test_module_imports_no_web_framework_and_never_reads_the_clock() -> None:
    source = Path(media.__file__).read_text(encoding="utf-8")
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert not roots & {"flask", "werkzeug", "time", "datetime"}
    assert "now(" not in source


# ------------------------------------------------------------------------------------------
# probe / is_decodable_image


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (_jpeg((320, 240)), "jpeg"),
        (_png((320, 240)), "png"),
        (_encode(_picture((320, 240)), "WEBP", quality=80), "webp"),
        (_encode(_picture((320, 240)).convert("P"), "GIF"), "gif"),
    ],
)
def test_probe_images(data: bytes, fmt: str) -> None:
    assert probe(data) == MediaInfo("image", fmt, 320, 240, None, None, None)
    assert is_decodable_image(data)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"\x00" * 64, b"RIFF\x00\x00\x00\x00WAVEfmt ", bytes(range(256)) * 4]
)
def test_probe_garbage_is_unknown_and_never_raises(data: bytes) -> None:
    info = probe(data)
    assert info.kind == "unknown"
    assert info.format is None
    assert (info.width, info.height, info.duration_s) == (None, None, None)
    assert not is_decodable_image(data)


def test_probe_sniffs_bytes_not_names() -> None:
    # A JPEG magic prefix on garbage: format from the magic, but not an image.
    info = probe(b"\xff\xd8\xff\xe0" + b"\x00" * 32)
    assert (info.kind, info.format) == ("unknown", "jpeg")
    assert probe(b"\x00\x00\x00\x18ftypqt  \x00\x00\x02\x00qt  ").format == "mov"
    assert probe(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic").format == "heic"


def test_truncated_jpeg_probes_but_does_not_decode() -> None:
    data = _jpeg((640, 480))
    truncated = data[: len(data) // 2]
    info = probe(truncated)
    assert (info.kind, info.format, info.width, info.height) == ("image", "jpeg", 640, 480)
    assert is_decodable_image(data)
    assert not is_decodable_image(truncated)


def test_truncated_png_does_not_decode() -> None:
    data = _png((200, 100))
    assert not is_decodable_image(data[: len(data) - 40])


def test_decompression_bomb_is_unknown_but_keeps_header_dims() -> None:
    info = probe(_png_header_only(30000, 30000))
    assert (info.kind, info.format, info.width, info.height) == ("unknown", "png", 30000, 30000)
    assert not is_decodable_image(_png_header_only(30000, 30000))


def test_probe_mov_with_mpeg4_and_aac() -> None:
    info = probe(_mov_with_audio(seconds=1.0, fps=10))
    assert (info.kind, info.format, info.width, info.height) == ("video", "mov", 160, 120)
    assert (info.video_codec, info.audio_codec) == ("mpeg4", "aac")
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


def test_probe_truncated_mp4_is_unknown() -> None:
    data = render_video(None, seed=1, duration_s=1, fps=4, max_long=64)
    info = probe(data[: len(data) // 2])  # moov (at the end) is cut off
    assert (info.kind, info.format) == ("unknown", "mp4")


# ------------------------------------------------------------------------------------------
# render_image


def test_render_image_keeps_source_size_and_format() -> None:
    out = render_image(_jpeg((320, 240)), seed=1, effect="enhance")
    assert probe(out) == MediaInfo("image", "jpeg", 320, 240, None, None, None)
    out = render_image(_png((320, 240)), seed=1, effect="enhance", fmt="png")
    assert probe(out).format == "png"
    assert is_decodable_image(out)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_long": 1000}, (1000, 750)),
        ({"max_long": 4096, "max_short": 600}, (800, 600)),
        ({"scale": 0.5}, (1000, 750)),
        ({"scale": 2.0, "max_short": 1000}, (1333, 1000)),
        ({"scale": 2.0, "max_long": 2200}, (2200, 1650)),
        ({"size": (300, 300)}, (300, 300)),
        ({"size": (300, 300), "scale": 0.5}, (150, 150)),
        ({"scale": 0.01}, (85, 64)),  # min_size floor, aspect kept
        ({"scale": 0.01, "min_size": (1, 1)}, (20, 15)),
    ],
)
def test_render_image_sizes(kwargs: dict[str, object], expected: tuple[int, int]) -> None:
    out = render_image(_jpeg((2000, 1500)), seed=3, effect="default", **kwargs)  # type: ignore[arg-type]
    assert _decoded(out).size == expected


def test_render_image_upscales() -> None:
    out = render_image(_png((100, 50)), seed=1, effect="x", scale=3.0)
    assert _decoded(out).size == (300, 150)


def test_render_image_caps_win_over_min_size_and_never_below_one_px() -> None:
    out = render_image(_png((4000, 10)), seed=1, effect="x", max_long=400)
    assert _decoded(out).size == (400, 1)


def test_render_image_synthesised_default_and_requested_size() -> None:
    assert _decoded(render_image(None, seed=5, effect="t2i")).size == (512, 512)
    out = render_image(None, seed=5, effect="t2i", size=(1024, 768), max_long=512)
    assert _decoded(out).size == (512, 384)


def test_render_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW for display
    data = _jpeg((300, 200), exif=exif.tobytes())
    assert probe(data).width == 300  # stored size
    out = render_image(data, seed=1, effect="grayscale")
    assert _decoded(out).size == (200, 300)  # displayed size
    assert "exif" not in _decoded(out).info


def test_render_image_big_jpeg_is_downscaled_on_decode() -> None:
    out = render_image(_jpeg((4096, 3072)), seed=1, effect="blur", max_long=512)
    assert _decoded(out).size == (512, 384)


@pytest.mark.parametrize("effect", ["default", "cutout", "enhance"])
def test_render_image_alpha_is_really_transparent(effect: str) -> None:
    out = render_image(_jpeg(), seed=2, effect=effect, fmt="jpeg", alpha=True)
    img = _decoded(out)
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (320, 240))
    low, high = img.getchannel("A").getextrema()
    assert (low, high) == (0, 255)
    assert img.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_cutout_effect_implies_transparent_png() -> None:
    img = _decoded(render_image(_jpeg(), seed=2, effect="cutout"))
    assert (img.format, img.mode) == ("PNG", "RGBA")
    assert img.getchannel("A").getextrema() == (0, 255)


def test_png_source_alpha_is_kept_in_png_and_flattened_in_jpeg() -> None:
    source = _png((100, 80), mode="RGBA")
    rgba = Image.open(io.BytesIO(source)).copy()
    rgba.putalpha(0)
    source = _encode(rgba, "PNG")
    assert _decoded(render_image(source, seed=1, effect="x", fmt="png")).mode == "RGBA"
    assert _decoded(render_image(source, seed=1, effect="x", fmt="jpeg")).mode == "RGB"


def test_render_image_grayscale_has_no_colour() -> None:
    img = _decoded(render_image(_png(), seed=1, effect="grayscale", fmt="png"))
    r, _g, b = img.split()
    # Only the small seeded mark may carry colour.
    coloured = img.width * img.height - ImageChops.difference(r, b).histogram()[0]
    assert coloured < img.width * img.height * 0.01


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize("source", [None, "jpeg"])
def test_render_image_is_deterministic(fmt: str, source: str | None) -> None:
    src = _jpeg() if source else None
    a = render_image(src, seed=7, effect="enhance", fmt=fmt)
    assert a == render_image(src, seed=7, effect="enhance", fmt=fmt)
    assert a != render_image(src, seed=8, effect="enhance", fmt=fmt)
    assert a != render_image(src, seed=7, effect="colorize", fmt=fmt)


def test_all_named_effects_differ() -> None:
    src = _jpeg()
    outs = {
        effect: render_image(src, seed=1, effect=effect, fmt="png")
        for effect in ["enhance", "colorize", "blur", "grayscale", "cutout", "a", "b"]
    }
    assert len(set(outs.values())) == len(outs)


def test_undecodable_source_falls_back_to_synthesis_at_header_size() -> None:
    data = _jpeg((640, 480))
    out = render_image(data[: len(data) // 3], seed=1, effect="x")
    assert _decoded(out).size == (640, 480)
    assert _decoded(render_image(b"junk", seed=1, effect="x")).size == (512, 512)


def test_render_image_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fmt"):
        render_image(None, seed=1, effect="x", fmt="gif")
    with pytest.raises(ValueError):
        render_image(None, seed=1, effect="x", scale=0)
    with pytest.raises(ValueError):
        render_image(None, seed=1, effect="x", size=(0, 10))


# ------------------------------------------------------------------------------------------
# render_mask


def test_render_mask() -> None:
    data = render_mask(300, 200, seed=4)
    img = _decoded(data)
    assert (img.format, img.mode, img.size) == ("PNG", "L", (300, 200))
    assert img.getextrema() == (0, 255)
    assert data == render_mask(300, 200, seed=4)
    assert data != render_mask(300, 200, seed=5)


# ------------------------------------------------------------------------------------------
# render_video


def test_render_video_synthesised() -> None:
    data = render_video(None, seed=1, duration_s=2.0, fps=8, max_long=160)
    info = probe(data)
    assert (info.kind, info.format, info.video_codec, info.audio_codec) == (
        "video",
        "mp4",
        "h264",
        None,
    )
    assert (info.width, info.height) == (160, 160)
    assert info.duration_s == pytest.approx(2.0, abs=1 / 8)
    assert _stream_facts(data) == (Fraction(8), 16, "yuv420p")


def test_render_video_is_deterministic_and_seeded() -> None:
    a = render_video(None, seed=3, duration_s=1.0, fps=6, max_long=96)
    assert a == render_video(None, seed=3, duration_s=1.0, fps=6, max_long=96)
    assert a != render_video(None, seed=4, duration_s=1.0, fps=6, max_long=96)
    assert a != render_video(None, seed=3, duration_s=1.0, fps=6, max_long=96, effect="blur")


def test_render_video_even_dimensions_and_cap() -> None:
    info = probe(render_video(None, seed=1, duration_s=0.5, fps=4, size=(301, 199), max_long=640))
    assert (info.width, info.height) == (300, 198)
    info = probe(render_video(None, seed=1, duration_s=0.5, fps=4, size=(1920, 1080), max_long=99))
    assert (info.width, info.height) == (98, 54)


def test_render_video_from_image_keeps_aspect() -> None:
    data = render_video(_jpeg((400, 300)), seed=1, duration_s=1.0, fps=8, max_long=200)
    info = probe(data)
    assert (info.width, info.height, info.video_codec) == (200, 150, "h264")
    assert info.duration_s == pytest.approx(1.0, abs=1 / 8)
    assert data == render_video(_jpeg((400, 300)), seed=1, duration_s=1.0, fps=8, max_long=200)


@pytest.mark.parametrize("seconds", [0.5, 2.5])  # shorter than the source, and looping it
def test_render_video_from_video(seconds: float) -> None:
    source = _mov_with_audio(seconds=1.0, fps=10)
    data = render_video(source, seed=1, duration_s=seconds, fps=8, effect="grayscale")
    info = probe(data)
    assert (info.format, info.width, info.height) == ("mp4", 160, 120)
    assert (info.video_codec, info.audio_codec) == ("h264", None)
    assert info.duration_s == pytest.approx(seconds, abs=1 / 8)
    assert _stream_facts(data) == (Fraction(8), round(seconds * 8), "yuv420p")


def test_render_video_from_own_output_and_cutout_effect() -> None:
    source = render_video(None, seed=1, duration_s=1.0, fps=8, max_long=128)
    data = render_video(source, seed=2, duration_s=1.0, fps=8, effect="cutout")
    assert probe(data).video_codec == "h264"
    assert data == render_video(source, seed=2, duration_s=1.0, fps=8, effect="cutout")


def test_render_video_undecodable_source_falls_back_to_synthesis() -> None:
    broken = render_video(None, seed=1, duration_s=1.0, fps=4, max_long=64)[:200]
    for source in (broken, b"not a video"):
        info = probe(render_video(source, seed=1, duration_s=1.0, fps=4, max_long=64))
        assert (info.kind, info.video_codec) == ("video", "h264")
        assert info.duration_s == pytest.approx(1.0, abs=1 / 4)


def test_render_video_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        render_video(None, seed=1, duration_s=0)
    with pytest.raises(ValueError):
        render_video(None, seed=1, duration_s=1, fps=0)


# ------------------------------------------------------------------------------------------
# build_zip


def test_build_zip_round_trips_and_is_deterministic() -> None:
    members = {
        "result.jpg": render_image(None, seed=1, effect="x", max_long=64),
        "masks/skin.png": render_mask(32, 32, seed=1),
        "notes.txt": b"hello " * 100,
        "empty.bin": b"",
    }
    data = build_zip(members)
    assert data == build_zip(dict(members))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == list(members)
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert zf.read(info) == members[info.filename]
