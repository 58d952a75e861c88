"""Signed, expiring URLs for uploads and result downloads, on the emulator's clock.

itsdangerous (shipped with Flask) does the signing; its ``TimestampSigner`` reads the system
clock, so the signer here overrides ``get_timestamp`` to read the injected clock instead,
which lets tests expire a link by moving the clock rather than by sleeping.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from youcam_mock.core.clock import Clock
from youcam_mock.core.errors import ApiError


class UrlSigner:
    def __init__(self, secret: str, clock: Clock) -> None:
        self.clock = clock

        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock.now())

        self._serializers = {
            purpose: URLSafeTimedSerializer(
                secret, salt=f"youcam-mock/{purpose}", signer=ClockSigner
            )
            for purpose in ("upload", "result")
        }

    def sign(self, purpose: str, value: Any) -> str:
        return str(self._serializers[purpose].dumps(value))

    def verify(self, purpose: str, token: str, max_age: float) -> Any:
        """The signed value, or ApiError SignatureDoesNotMatch / RequestExpired."""
        try:
            return self._serializers[purpose].loads(token, max_age=int(max_age))
        except SignatureExpired:
            raise ApiError("RequestExpired") from None
        except BadSignature:
            raise ApiError("SignatureDoesNotMatch") from None
