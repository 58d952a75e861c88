"""The emulator's own storage URLs: presigned uploads, signed result downloads, thumbnails.

These stand in for the vendor's S3/CDN hosts, so they need no Authorization: the signature in
the URL is the credential, and it expires on the emulator's clock.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from youcam_mock.api.errors import error_response
from youcam_mock.api.vendor import apply_http_rules, state
from youcam_mock.core import media
from youcam_mock.core.errors import ApiError

storage = Blueprint("storage", __name__, url_prefix="/_storage")
_CHUNK = 64 * 1024


@storage.errorhandler(ApiError)
def _render(error: ApiError) -> Response:
    return error_response(error)


@storage.put("/uploads/<token>")
def upload(token: str) -> Response:
    """The presigned PUT: signature, expiry, declared length and type are all checked, and a
    body longer than registered is refused before it is read whole."""
    mock = state()
    scripted = apply_http_rules("upload", None, None, {})
    if scripted is not None:
        return scripted
    file_id = mock.signer.verify("upload", token, mock.config.upload_url_ttl)
    record = mock.backend.store.get_file(file_id)
    if record is None:
        raise ApiError("NotFound", "the file this upload URL was issued for no longer exists")
    declared = request.content_length
    if declared is None:
        raise ApiError("UploadMismatch", "Content-Length is required")
    if declared != record.file_size:
        raise ApiError(
            "UploadMismatch", f"Content-Length must be {record.file_size}, as registered"
        )
    chunks = []
    remaining = declared
    while remaining > 0:
        chunk = request.stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    mock.backend.accept_upload(file_id, b"".join(chunks), request.headers.get("Content-Type"))
    return Response(status=200)


@storage.get("/results/<token>/<path:filename>")
def download(token: str, filename: str) -> Response:
    mock = state()
    scripted = apply_http_rules("download", None, None, {})
    if scripted is not None:
        return scripted
    asset_id = mock.signer.verify("result", token, mock.config.result_link_ttl)
    asset, data = mock.backend.get_asset(str(asset_id))
    return Response(
        data,
        status=200,
        mimetype=asset.content_type,
        headers={"Content-Disposition": f'inline; filename="{asset.filename}"'},
    )


@storage.get("/templates/<version>/<path:feature>/<template_id>.jpg")
def thumbnail(version: str, feature: str, template_id: str) -> Response:
    templates = {t.id for t in state().backend.templates(feature, version)}
    if template_id not in templates:
        raise ApiError("NotFound", "no such template")
    return Response(_thumbnail_bytes(feature, template_id), status=200, mimetype="image/jpeg")


def _thumbnail_bytes(feature: str, template_id: str) -> bytes:
    return media.render_image(None, seed=int(template_id) % 2**31, effect=feature, size=(160, 160))


def resolve_own_url(url: str) -> bytes | None:
    """Bytes behind a URL this emulator serves (a live result link, a template thumbnail),
    else None."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    thumb = re.match(r"^/_storage/templates/(v\d\.\d)/(.+)/(\d+)\.jpg$", parts.path)
    if thumb:
        version, feature, template_id = thumb.groups()
        if template_id in {t.id for t in state().backend.templates(feature, version)}:
            return _thumbnail_bytes(feature, template_id)
        return None
    if parts.path.startswith("/_storage/results/") and len(segments) >= 4:
        mock = state()
        try:
            asset_id = mock.signer.verify("result", segments[3], mock.config.result_link_ttl)
            data: bytes = mock.backend.get_asset(str(asset_id))[1]
            return data
        except ApiError:
            return None
    return None
