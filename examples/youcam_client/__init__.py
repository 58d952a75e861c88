"""An example YouCam AI API client (see ``client.py``), tested offline with youcam_testkit."""

from youcam_client.client import (
    DEFAULT_BASE_URL,
    ResultGone,
    TaskFailed,
    TaskResult,
    TaskTimedOut,
    YouCamClient,
    YouCamError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ResultGone",
    "TaskFailed",
    "TaskResult",
    "TaskTimedOut",
    "YouCamClient",
    "YouCamError",
]
