"""The one error catalog: every vendor code defined once (werkzeug's exceptions, stripe-mock's
const block).  The core raises :class:`ApiError`; the HTTP layer renders the vendor envelope
``{"status", "error", "error_code"}`` from it.  Engine codes are not HTTP errors: they end a task
with ``task_status: "error"`` inside a 200, so they live in their own table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    message: str
    #: False where the vendor's documented body carries no ``error_code`` (the 429).
    has_code: bool = True


_SPECS = [
    ErrorSpec("InvalidParameters", 400, "Invalid parameter value"),
    ErrorSpec("BadRequest", 400, "Unexpected request parameter"),
    ErrorSpec("CreditInsufficiency", 400, "Insufficient units to run the task"),
    ErrorSpec("InvalidStyleGroup", 400, "Invalid style group id"),
    ErrorSpec("InvalidStyle", 400, "Invalid style id"),
    ErrorSpec("InvalidTaskId", 400, "Invalid task ID"),
    ErrorSpec("OperationNotSupport", 400, "Operation not supported"),
    ErrorSpec("OperationInvalid", 400, "Operation invalid for the current state of the task"),
    ErrorSpec("InvalidApiKey", 401, "This API key is not recognized."),
    ErrorSpec("InactiveApiKey", 401, "This API key is not active."),
    ErrorSpec("ExpiredApiKey", 401, "This API key has expired."),
    ErrorSpec("InvalidAccessToken", 401, "Invalid access token"),
    ErrorSpec("NotFound", 404, "Not found"),
    ErrorSpec("MethodNotAllowed", 405, "Method not allowed"),
    ErrorSpec("PayloadTooLarge", 413, "Request body too large"),
    ErrorSpec("TooManyRequests", 429, "Too many requests", has_code=False),
    ErrorSpec("TaskTimeout", 500, "Task execution timed out"),
    ErrorSpec("InternalError", 500, "Internal server error"),
    # The presigned storage URLs (not vendor JSON endpoints) answer S3-style statuses.
    ErrorSpec("SignatureDoesNotMatch", 403, "The request signature does not match"),
    ErrorSpec("RequestExpired", 403, "The presigned URL has expired"),
    ErrorSpec("UploadMismatch", 400, "The upload does not match the registered file"),
]

CATALOG: dict[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}

#: Engine codes (seed document's table plus the documents' ``EngineErrorCode`` enum).
ENGINE_ERRORS: dict[str, str] = {
    "exceed_max_filesize": "The input file size exceeds the maximum limit",
    "error_exceed_max_image_size": "Input image size exceeds the maximum limit",
    "invalid_parameter": "The parameter value is invalid",
    "error_download_image": "There was an error downloading the source image",
    "error_download_mask": "There was an error downloading the mask image",
    "error_download_video": "There was an error downloading the source video",
    "error_decode_image": "There was an error decoding the source image",
    "error_decode_mask": "There was an error decoding the mask image",
    "error_decode_video": "There was an error decoding the source video",
    "error_nsfw_content_detected": "NSFW content was detected in the source image",
    "exceed_nsfw_retry_limits": "Retry limits exceeded to avoid generating NSFW image",
    "error_no_face": "No face was detected in the source image",
    "error_multiple_people": "Multiple people were detected in the source image",
    "error_pose": "Failed to detect pose in the source image",
    "error_face_parsing": "Failed to perform face parsing on the source image",
    "error_large_face_angle": "The face angle in the uploaded image is too large",
    "error_no_shoulder": "Shoulders are not visible in the source image",
    "error_hair_too_short": "The input hair is too short",
    "error_bald_image": "The input hairstyle is bald",
    "error_unsupport_ratio": "The aspect ratio of the input image is unsupported",
    "error_unexpected_video_duration": "The video duration does not match the expected duration",
    "error_inference": "An error occurred in the inference pipeline",
    "error_upload": "There was an error uploading the result image",
    "unknown_internal_error": "Other internal errors",
}


class ApiError(Exception):
    """A request-level failure, by vendor code; ``message`` overrides the catalog's text."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.spec = CATALOG[code]
        self.code = code
        self.message = message or self.spec.message
        self.retry_after = retry_after
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return self.spec.status


class EngineError(Exception):
    """Ends a task with ``task_status: "error"`` and this engine code (HTTP 200 on poll)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in ENGINE_ERRORS:
            raise ValueError(f"unknown engine error code {code!r}")
        self.code = code
        self.message = message or ENGINE_ERRORS[code]
        super().__init__(f"{code}: {self.message}")
