"""Probe uploaded media and render real, deterministic result files.

The emulator must hand back files a client can actually open (images, H.264 videos, zips), and
tests replaying a scenario must get byte-identical results, so everything here is a pure function
of its inputs and a ``seed``: no clock, no randomness beyond ``random.Random(seed)``, explicit
encoder settings and no varying metadata. Plain Python (Pillow, PyAV, zipfile), no web framework.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import av
import av.codec.context
import av.stream
import av.video.frame
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

__all__ = [
    "IMAGE_FORMATS",
    "VIDEO_CONTAINERS",
    "MediaInfo",
    "build_zip",
    "is_decodable_image",
    "probe",
    "render_image",
    "render_mask",
    "render_video",
]

IMAGE_FORMATS: Final = frozenset({"jpeg", "png"})
"""Image formats the vendor accepts as input (sniffed names, see :func:`probe`)."""

VIDEO_CONTAINERS: Final = frozenset({"mp4", "mov"})
"""Video containers the vendor accepts as input."""

# Sniffed format -> Pillow plugin name; only these are handed to Pillow, because some plugins
# (e.g. TGA) have no magic bytes and would happily "identify" random garbage.
_PIL_FORMATS: Final = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "avif": "AVIF",
    "heic": "HEIF",
}
# Sniffed formats worth asking FFmpeg about (it too would guess at garbage otherwise).
_AV_FORMATS: Final = frozenset({"mp4", "mov", "3gp", "m4a", "webm", "mkv", "avi"})

_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm"})
_AUDIO_BRANDS: Final = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A "})
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

_SYNTH_SIZE: Final = (512, 512)
_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)
_JPEG_SAVE: Final = {"quality": 90, "subsampling": 2, "optimize": False, "progressive": False}
_PNG_COMPRESS_LEVEL: Final = 1  # fast, still deterministic for a given zlib
_X264_OPTIONS: Final = {"preset": "ultrafast", "crf": "28", "threads": "1"}


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learnt about some bytes; fields it could not read are ``None``."""

    kind: str  # "image" | "video" | "unknown"
    format: str | None  # sniffed from the bytes, never from the declared content type
    width: int | None
    height: int | None
    duration_s: float | None  # videos only
    video_codec: str | None  # e.g. "h264", "mpeg4" (videos only)
    audio_codec: str | None  # e.g. "aac", "mp3"; None when there is no audio track


# --------------------------------------------------------------------------------------------
# probing


def _sniff(data: bytes) -> str | None:
    """The format named by the magic bytes, so a lying Content-Type cannot fool validation."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    if data[:2] == b"BM" and len(data) >= 26 and data[6:10] == b"\0\0\0\0":
        return "bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"\x1aE\xdf\xa3":
        return "webm" if b"webm" in data[:64] else "mkv"
    if data[4:8] == b"ftyp" and len(data) >= 12:
        return _sniff_ftyp(data)
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"  # pre-ftyp QuickTime files start straight with an atom
    return None


def _sniff_ftyp(data: bytes) -> str:
    """Tell ISO-BMFF flavours apart by major (and, for HEIF, compatible) brand."""
    major = data[8:12]
    box_len = int.from_bytes(data[0:4], "big")
    compatible = data[16 : max(16, min(box_len, 256))]
    if major == b"qt  ":
        return "mov"
    if major in (b"avif", b"avis") or (major in (b"mif1", b"msf1") and b"avif" in compatible):
        return "avif"
    if major in _HEIC_BRANDS or major in (b"mif1", b"msf1"):
        return "heic"
    if major in _AUDIO_BRANDS:
        return "m4a"
    if major.startswith(b"3g"):
        return "3gp"
    return "mp4"


def _header_dims(data: bytes, fmt: str | None) -> tuple[int, int] | None:
    """Dimensions straight from the header, for images Pillow refuses (decompression bombs)."""
    try:
        if fmt == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if fmt == "gif" and len(data) >= 10:
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if fmt == "jpeg":
            return _jpeg_dims(data)
    except (IndexError, ValueError):
        return None
    return None


def _jpeg_dims(data: bytes) -> tuple[int, int] | None:
    """Walk JPEG marker segments up to the first SOFn and read its size fields."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in _JPEG_SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _unknown(fmt: str | None, dims: tuple[int, int] | None = None) -> MediaInfo:
    return MediaInfo(
        kind="unknown",
        format=fmt,
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
        duration_s=None,
        video_codec=None,
        audio_codec=None,
    )


def _open_pil(data: bytes, fmt: str) -> Image.Image:
    """Open lazily (header only) with just the plugin the magic bytes name."""
    return Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])


def probe(data: bytes) -> MediaInfo:
    """Sniff format from magic bytes and read dimensions/duration/codecs without full decoding.

    Never raises: anything unreadable is ``kind='unknown'`` with the sniffed format (if any).
    Image width/height are the stored pixel size (before any EXIF rotation). For images Pillow
    refuses as decompression bombs, the header dimensions are still reported (kind 'unknown'),
    so callers can answer "too large" rather than "not an image".
    """
    fmt = _sniff(data)
    if fmt in _PIL_FORMATS:
        try:
            with _open_pil(data, fmt) as im:
                width, height = im.size
        except Exception:
            return _unknown(fmt, _header_dims(data, fmt))
        return MediaInfo("image", fmt, width, height, None, None, None)
    if fmt in _AV_FORMATS:
        return _probe_av(data, fmt)
    return _unknown(fmt)


def _probe_av(data: bytes, fmt: str) -> MediaInfo:
    """Read container/stream headers with FFmpeg; no frames are decoded."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                return _unknown(fmt)
            video = container.streams.video[0]
            duration: float | None = None
            if video.duration is not None and video.time_base is not None:
                duration = float(video.duration * video.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            audio = container.streams.audio[0] if container.streams.audio else None
            return MediaInfo(
                kind="video",
                format=fmt,
                width=video.codec_context.width or None,
                height=video.codec_context.height or None,
                duration_s=duration,
                video_codec=_codec_name(video),
                audio_codec=_codec_name(audio) if audio is not None else None,
            )
    except Exception:
        return _unknown(fmt)


def _codec_name(stream: av.stream.Stream) -> str | None:
    """Canonical codec id name ("h264", "mp3"), not the decoder's ("mp3float"); None if unknown."""
    try:
        return stream.codec_context.codec.canonical_name
    except Exception:  # no decoder in this FFmpeg build
        return None


def is_decodable_image(data: bytes) -> bool:
    """True when Pillow can decode every pixel; catches truncated/corrupt uploads that open fine."""
    fmt = _sniff(data)
    if fmt not in _PIL_FORMATS:
        return False
    try:
        with _open_pil(data, fmt) as im:
            im.load()
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# sizing and seeded helpers


def _key(seed: int, label: str) -> bytes:
    """Stable per-(seed, label) bytes; ``hash()`` is salted per process, so sha256 instead."""
    return hashlib.sha256(f"{seed}:{label}".encode()).digest()


def _rng(seed: int, label: str) -> random.Random:
    return random.Random(int.from_bytes(_key(seed, label)[:8], "big"))


def _colour(rng: random.Random, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def _fit_size(
    base: tuple[int, int],
    *,
    scale: float,
    max_long: int,
    max_short: int | None,
    min_size: tuple[int, int],
) -> tuple[int, int]:
    """``base * scale``, grown to ``min_size`` then shrunk to the caps, keeping aspect ratio.

    The caps win over ``min_size``; the result is never below 1 px.
    """
    w, h = max(1.0, base[0] * scale), max(1.0, base[1] * scale)
    grow = max(min_size[0] / w, min_size[1] / h, 1.0)
    w, h = w * grow, h * grow
    shrink = min(1.0, max_long / max(w, h))
    if max_short is not None:
        shrink = min(shrink, max_short / min(w, h))
    out_w, out_h = max(1, round(w * shrink)), max(1, round(h * shrink))
    # Float rounding must not push a side past its cap.
    long_cap = max_long
    short_cap = max_short if max_short is not None else max_long
    if out_w >= out_h:
        out_w, out_h = min(out_w, long_cap), min(out_h, short_cap)
    else:
        out_w, out_h = min(out_w, short_cap), min(out_h, long_cap)
    return out_w, out_h


def _even_fit(base: tuple[int, int], max_long: int) -> tuple[int, int]:
    """Shrink to ``max_long`` and round down to even sides, which yuv420p/x264 require."""
    f = min(1.0, max_long / max(base))
    return max(2, int(base[0] * f) // 2 * 2), max(2, int(base[1] * f) // 2 * 2)


def _check_size(size: tuple[int, int] | None) -> None:
    if size is not None and (size[0] < 1 or size[1] < 1):
        raise ValueError(f"size must be positive, got {size!r}")


# --------------------------------------------------------------------------------------------
# source images and synthesis


def _open_source(data: bytes) -> tuple[Image.Image, tuple[int, int]] | None:
    """Open (header only) and return the image plus its size after EXIF orientation."""
    fmt = _sniff(data)
    if fmt not in _PIL_FORMATS:
        return None
    try:
        im = _open_pil(data, fmt)
        orientation = im.getexif().get(0x0112, 1)
    except Exception:
        return None
    w, h = im.size
    return im, ((h, w) if orientation in (5, 6, 7, 8) else (w, h))


def _load_scaled(im: Image.Image, need: tuple[int, int], oriented: tuple[int, int]) -> Image.Image:
    """Decode cheaply at >= ``need`` (JPEG DCT scaling), orient, and convert to RGB/RGBA.

    Raises on corrupt/truncated data; callers fall back to synthesis.
    """
    if im.format == "JPEG" and (need[0] < oriented[0] or need[1] < oriented[1]):
        swapped = oriented != im.size
        im.draft(None, (need[1], need[0]) if swapped else need)
    im.load()
    if im.getexif().get(0x0112, 1) != 1:  # exif_transpose copies even when there is nothing to do
        im = ImageOps.exif_transpose(im)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    mode = "RGBA" if has_alpha else "RGB"
    return im if im.mode == mode else im.convert(mode)


def _resize_cover(im: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Centre-crop to the target's aspect ratio and resize (fast for big downscales)."""
    w, h = im.size
    tw, th = target
    if w * th > h * tw:  # too wide: crop sides
        cw, ch = h * tw / th, float(h)
    else:
        cw, ch = float(w), w * th / tw
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    if im.size == target and box == (0.0, 0.0, float(w), float(h)):
        return im
    return im.resize(target, Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)


def _cover_need(oriented: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """Smallest decode size whose cover-crop still yields ``target`` without upscaling."""
    f = max(target[0] / oriented[0], target[1] / oriented[1])
    return max(1, math.ceil(oriented[0] * f)), max(1, math.ceil(oriented[1] * f))


def _synthesise(size: tuple[int, int], seed: int) -> Image.Image:
    """A seeded gradient with a few shapes: cheap, recognisably different per seed."""
    rng = _rng(seed, "synth")
    c1, c2 = _colour(rng), _colour(rng)
    angle = rng.uniform(0.0, 360.0)
    grad = Image.linear_gradient("L").resize((364, 364), Image.Resampling.BILINEAR)
    grad = grad.rotate(angle, Image.Resampling.BILINEAR).crop((54, 54, 310, 310))
    grad = grad.resize(size, Image.Resampling.BILINEAR)
    img = Image.composite(Image.new("RGB", size, c1), Image.new("RGB", size, c2), grad)
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(rng.randint(3, 6)):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.5) * h
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_colour(rng, 30, 230))
    return img


def _blob(size: tuple[int, int], seed: int, label: str) -> Image.Image:
    """A soft 'L' blob of a few overlapping ellipses, drawn small and upscaled for speed."""
    w, h = size
    f = min(1.0, 256 / max(w, h))
    sw, sh = max(1, round(w * f)), max(1, round(h * f))
    rng = _rng(seed, label)
    mask = Image.new("L", (sw, sh), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = sw * rng.uniform(0.45, 0.55), sh * rng.uniform(0.45, 0.55)
    for _ in range(3):
        rx, ry = sw * rng.uniform(0.18, 0.3), sh * rng.uniform(0.18, 0.3)
        ox, oy = sw * rng.uniform(-0.08, 0.08), sh * rng.uniform(-0.08, 0.08)
        draw.ellipse((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(0.5, min(sw, sh) / 50)))
    return mask.resize(size, Image.Resampling.BILINEAR) if (sw, sh) != size else mask


# --------------------------------------------------------------------------------------------
# effects and encoding


def _background_blur(rgb: Image.Image, seed: int) -> Image.Image:
    """Blur everything outside a central subject blob (a cheap 'portrait mode')."""
    w, h = rgb.size
    small = rgb.resize((max(1, w // 8), max(1, h // 8)), Image.Resampling.BILINEAR, reducing_gap=2)
    blurred = small.filter(ImageFilter.GaussianBlur(2)).resize(rgb.size, Image.Resampling.BILINEAR)
    return Image.composite(rgb, blurred, _blob(rgb.size, seed, "subject"))


def _draw_mark(rgb: Image.Image, seed: int, effect: str) -> None:
    """A small seeded square, so every result (whatever the effect) shows its seed and effect."""
    rng = _rng(seed, "mark:" + effect)
    w, h = rgb.size
    side = max(2, min(w, h) // 24)
    x = round(rng.uniform(0.1, 0.9) * max(0, w - side))
    y = round(rng.uniform(0.1, 0.9) * max(0, h - side))
    fill = _colour(rng)
    outline = tuple(255 - c for c in fill)
    ImageDraw.Draw(rgb).rectangle((x, y, x + side - 1, y + side - 1), fill=fill, outline=outline)


def _apply_effect(im: Image.Image, effect: str, seed: int) -> Image.Image:
    """The visible transform for a feature; unknown names get a tint keyed by the name."""
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    rgb = im.convert("RGB")
    if effect == "enhance":
        # Unsharp masking by extrapolating away from a box blur: ~6x faster than UnsharpMask.
        sharp = Image.blend(rgb.filter(ImageFilter.BoxBlur(1)), rgb, 1.8)
        rgb = ImageOps.autocontrast(sharp, cutoff=1)
    elif effect == "colorize":
        mid = _colour(_rng(seed, "colorize"), 90, 200)
        rgb = ImageOps.colorize(ImageOps.grayscale(rgb), (32, 20, 8), (255, 244, 224), mid=mid)
    elif effect == "blur":
        rgb = _background_blur(rgb, seed)
    elif effect == "grayscale":
        rgb = ImageOps.grayscale(rgb).convert("RGB")
    elif effect != "cutout":  # cutout only touches alpha, see _cut_out
        tint = _colour(_rng(seed, "tint:" + effect))
        rgb = Image.blend(rgb, Image.new("RGB", rgb.size, tint), 0.25)
    _draw_mark(rgb, seed, effect)
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


def _cut_out(im: Image.Image, seed: int) -> Image.Image:
    """RGBA with a soft subject blob kept and a fully transparent background and 1 px border."""
    mask = _blob(im.size, seed, "subject")
    ImageDraw.Draw(mask).rectangle((0, 0, im.width - 1, im.height - 1), outline=0)
    out = im.convert("RGBA")
    if im.mode == "RGBA":
        mask = ImageChops.multiply(mask, im.getchannel("A"))
    out.putalpha(mask)
    return out


def _encode(im: Image.Image, fmt: str) -> bytes:
    """Encode with fixed settings and no carried-over metadata (EXIF/ICC/text)."""
    im.info = {}
    buf = io.BytesIO()
    if fmt == "png":
        im.save(buf, format="PNG", compress_level=_PNG_COMPRESS_LEVEL, optimize=False)
    else:
        if im.mode != "RGB":
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A") if im.mode == "RGBA" else None)
            im = flat
        im.save(buf, format="JPEG", **_JPEG_SAVE)
    return buf.getvalue()


def _norm_fmt(fmt: str) -> str:
    f = fmt.lower()
    f = "jpeg" if f == "jpg" else f
    if f not in ("jpeg", "png"):
        raise ValueError(f"fmt must be 'jpeg' or 'png', got {fmt!r}")
    return f


# --------------------------------------------------------------------------------------------
# images


def render_image(
    source: bytes | None,
    *,
    seed: int,
    effect: str,
    fmt: str = "jpeg",
    alpha: bool = False,
    scale: float = 1.0,
    max_long: int = 4096,
    max_short: int | None = None,
    min_size: tuple[int, int] = (64, 64),
    size: tuple[int, int] | None = None,
) -> bytes:
    """A real result image: ``source`` (jpeg/png bytes) transformed by ``effect``, or synthesised.

    Size is the (EXIF-oriented) source size, or ``size`` (the source is centre-cropped to its
    aspect), or 512x512 when synthesised; times ``scale``; grown to ``min_size``; then shrunk
    to ``max_long`` / ``max_short`` (the caps win). A source that cannot be decoded falls back
    to synthesis, so a worker never crashes on an upload that slipped past validation.
    ``alpha=True`` or ``effect='cutout'`` yields an RGBA PNG with a transparent background.
    """
    out_fmt = _norm_fmt(fmt)
    if not scale > 0 or max_long < 1 or (max_short is not None and max_short < 1):
        raise ValueError("scale, max_long and max_short must be positive")
    if min_size[0] < 1 or min_size[1] < 1:
        raise ValueError(f"min_size must be positive, got {min_size!r}")
    _check_size(size)

    def fit(base: tuple[int, int]) -> tuple[int, int]:
        return _fit_size(
            base, scale=scale, max_long=max_long, max_short=max_short, min_size=min_size
        )

    img: Image.Image | None = None
    target = fit(size or _SYNTH_SIZE)
    opened = _open_source(source) if source is not None else None
    if opened is not None:
        src, oriented = opened
        target = fit(size or oriented)  # kept for the fallback: the header was readable
        try:
            img = _resize_cover(_load_scaled(src, _cover_need(oriented, target), oriented), target)
        except Exception:
            img = None
    if img is None:
        img = _synthesise(target, seed)
    img = _apply_effect(img, effect, seed)
    if alpha or effect == "cutout":
        return _encode(_cut_out(img, seed), "png")
    return _encode(img, out_fmt)


def render_mask(width: int, height: int, *, seed: int) -> bytes:
    """A PNG 'L' mask (0 background, 255 blob, soft edge), e.g. for skin-analysis mask_urls."""
    if width < 1 or height < 1:
        raise ValueError(f"mask size must be positive, got {width}x{height}")
    return _encode(_blob((width, height), seed, "mask"), "png")


# --------------------------------------------------------------------------------------------
# videos


def _frame_to_image(frame: av.VideoFrame, size: tuple[int, int]) -> Image.Image:
    """Scale with swscale and copy out, honouring the plane's row padding."""
    rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="BILINEAR")
    plane = rgb.planes[0]
    return Image.frombuffer("RGB", size, bytes(plane), "raw", "RGB", plane.line_size, 1)


def _decode_sampled(data: bytes, size: tuple[int, int], fps: int) -> Iterator[Image.Image]:
    """Source frames resampled to ``fps`` (each output instant shows the latest source frame).

    Stops quietly at the first decode error; what was decoded so far still counts.
    """
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            step = 1.0 / float(rate)
            start: float | None = None
            prev: av.VideoFrame | None = None
            prev_t = 0.0
            emitted = 0
            for index, frame in enumerate(container.decode(stream)):
                t = frame.time if frame.time is not None else index * step
                if start is None:
                    start = t
                t -= start
                while prev is not None and emitted / fps < t - 1e-6:
                    yield _frame_to_image(prev, size)
                    emitted += 1
                prev, prev_t = frame, t
            if prev is not None:
                yield _frame_to_image(prev, size)
                emitted += 1
                while emitted / fps < prev_t + step - 1e-6:
                    yield _frame_to_image(prev, size)
                    emitted += 1
    except Exception:
        return


def _video_source_frames(
    data: bytes, size: tuple[int, int], fps: int, count: int
) -> Iterator[Image.Image]:
    """Exactly ``count`` frames from the source, looping it when it is shorter than needed."""
    emitted = 0
    while emitted < count:
        got = 0
        for img in _decode_sampled(data, size, fps):
            yield img
            got += 1
            emitted += 1
            if emitted >= count:
                return
        if got == 0:
            return  # undecodable: the caller's peek sees nothing and synthesises instead


def _image_frames(
    im: Image.Image, size: tuple[int, int], count: int, seed: int
) -> Iterator[Image.Image]:
    """Ken Burns: a slow zoom towards a seeded point of a still image."""
    zoom = 1.2
    base = _resize_cover(im.convert("RGB"), (round(size[0] * zoom), round(size[1] * zoom)))
    bw, bh = base.size
    rng = _rng(seed, "pan")
    fx, fy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    for k in range(count):
        p = k / (count - 1) if count > 1 else 0.0
        cw, ch = bw / (1 + (zoom - 1) * p), bh / (1 + (zoom - 1) * p)
        x0 = (bw - cw) * (0.5 + (fx - 0.5) * p)
        y0 = (bh - ch) * (0.5 + (fy - 0.5) * p)
        yield base.resize(size, Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))


def _synth_frames(size: tuple[int, int], count: int, seed: int) -> Iterator[Image.Image]:
    """A seeded background with a ball bouncing across it and a progress bar."""
    background = _synthesise(size, seed)
    rng = _rng(seed, "ball")
    colour = _colour(rng)
    vx, vy = rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)
    w, h = size
    r = max(1, min(w, h) // 8)
    for k in range(count):
        p = k / count
        img = background.copy()
        draw = ImageDraw.Draw(img)
        x = abs(((p * vx * 2 + 0.25) % 2) - 1) * (w - 2 * r) + r
        y = abs(((p * vy * 2 + 0.5) % 2) - 1) * (h - 2 * r) + r
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(255, 255, 255))
        draw.rectangle((0, h - max(2, h // 40), round(w * (k + 1) / count), h), fill=colour)
        yield img


def _encode_h264(frames: Iterator[Image.Image], size: tuple[int, int], fps: int) -> bytes:
    """Encode RGB frames to an H.264/yuv420p MP4 with bit-exact, timestamp-free settings."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=fps, options=dict(_X264_OPTIONS))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        for index, img in enumerate(frames):
            if img.size != size:
                img = img.resize(size, Image.Resampling.BILINEAR)
            # from_bytes only takes packed RGBA; swscale then converts to yuv420p.
            frame = av.video.frame.VideoFrame.from_bytes(
                img.convert("RGBA").tobytes(), size[0], size[1], format="rgba"
            )
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def render_video(
    source: bytes | None,
    *,
    seed: int,
    duration_s: float,
    fps: int = 8,
    max_long: int = 640,
    size: tuple[int, int] | None = None,
    effect: str = "default",
) -> bytes:
    """A real H.264 (libx264, yuv420p) MP4 of ``round(duration_s * fps)`` frames (at least 1).

    Frames come from a ``source`` video (resampled to ``fps``, looped if short), a ``source``
    image (slow zoom), or the seed; an undecodable source falls back to synthesis. The frame
    size is ``size``, else the source's, else 512x512, shrunk to ``max_long`` with even sides.
    ``effect`` is applied per frame as in :func:`render_image` (``cutout`` keys the subject
    onto a seeded backdrop, since H.264 has no alpha). Audio is never carried over.
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    if fps < 1 or max_long < 2:
        raise ValueError("fps must be >= 1 and max_long >= 2")
    _check_size(size)
    count = max(1, round(duration_s * fps))

    frames: Iterator[Image.Image] | None = None
    info = probe(source) if source is not None else None
    if source is not None and info is not None and info.kind == "video" and info.width:
        dims = _even_fit(size or (info.width, info.height or info.width), max_long)
        decoded = _video_source_frames(source, dims, fps, count)
        first = next(decoded, None)
        if first is not None:
            frames = _chain(first, decoded)
    elif source is not None and (opened := _open_source(source)) is not None:
        src, oriented = opened
        dims = _even_fit(size or oriented, max_long)
        try:
            need = _cover_need(oriented, (round(dims[0] * 1.2), round(dims[1] * 1.2)))
            frames = _image_frames(_load_scaled(src, need, oriented), dims, count, seed)
        except Exception:
            frames = None
    if frames is None:
        dims = _even_fit(size or _SYNTH_SIZE, max_long)
        frames = _synth_frames(dims, count, seed)
    return _encode_h264(_effect_frames(frames, effect, seed, dims), dims, fps)


def _chain(first: Image.Image, rest: Iterator[Image.Image]) -> Iterator[Image.Image]:
    yield first
    yield from rest


def _effect_frames(
    frames: Iterator[Image.Image], effect: str, seed: int, size: tuple[int, int]
) -> Iterator[Image.Image]:
    """Apply the image effect per frame; for cutout, key the subject onto a solid backdrop."""
    backdrop: Image.Image | None = None
    mask: Image.Image | None = None
    if effect == "cutout":
        backdrop = Image.new("RGB", size, _colour(_rng(seed, "backdrop")))
        mask = _blob(size, seed, "subject")
    for img in frames:
        out = _apply_effect(img, effect, seed)
        if backdrop is not None and mask is not None:
            out = Image.composite(out, backdrop, mask)
        yield out


# --------------------------------------------------------------------------------------------
# archives


def build_zip(members: dict[str, bytes]) -> bytes:
    """A deflated ZIP whose bytes depend only on ``members`` (fixed dates, modes and order)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, payload in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the host OS
            info.external_attr = 0o644 << 16
            zf.writestr(info, payload, compresslevel=6)
    return buf.getvalue()
