"""The Python twin of the ``/_mock`` control API: the same verbs, in-process or over HTTP.

``InProcessControl(app)`` calls the app's :class:`~youcam_mock.api.control.Controller`
directly; ``HttpControl(base_url)`` sends the same verbs to ``/_mock`` (any server, any
process).  Both are built from ``api.control.ROUTES``, so a verb exists in both or in neither.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flask import Flask

from youcam_mock.api.control import ADMIN_HEADER, CONTROL_PREFIX, ROUTES, Controller
from youcam_mock.core.errors import ApiError

_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


class ControlError(RuntimeError):
    """The control API refused a call (status, vendor-style body)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"control API answered {status}: {body}")


class MockControl:
    """Shared conveniences; subclasses implement ``call(verb, **kwargs)``."""

    def call(self, verb: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __getattr__(self, verb: str) -> Any:
        if verb not in ROUTES:
            raise AttributeError(verb)
        return lambda **kwargs: self.call(verb, **kwargs)

    # Conveniences over the verbs (same names in both twins).
    def advance(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self.call("move_clock", advance=seconds)
        return result

    def next_event(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("move_clock", next_event=True)
        return result

    def now(self) -> float:
        return float(self.call("clock")["now"])

    def fail(self, **rule: Any) -> dict[str, Any]:
        """``fail(match={...}, action={...}, times=3)``: add one scenario rule."""
        result: dict[str, Any] = self.call("add_rule", rule=rule)
        return result


class InProcessControl(MockControl):
    def __init__(self, app: Flask) -> None:
        self.controller: Controller = app.extensions["youcam_mock"].controller

    def call(self, verb: str, **kwargs: Any) -> Any:
        if verb not in ROUTES:
            raise AttributeError(verb)
        try:
            result = getattr(self.controller, verb)(**kwargs)
        except ApiError as error:
            raise ControlError(
                error.status,
                {"status": error.status, "error": error.message, "error_code": error.code},
            ) from None
        # Round-trip through JSON so both twins hand back the same plain data.
        return json.loads(json.dumps(result))


class HttpControl(MockControl):
    def __init__(
        self, base_url: str, *, admin_token: str | None = None, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.timeout = timeout

    def call(self, verb: str, **kwargs: Any) -> Any:
        if verb not in ROUTES:
            raise AttributeError(verb)
        method, path, carrier = ROUTES[verb]
        path = _PLACEHOLDER.sub(lambda m: urllib.parse.quote(str(kwargs.pop(m[1])), safe=""), path)
        url = f"{self.base_url}{CONTROL_PREFIX}{path}"
        data = None
        if carrier == "query":
            query = {k: v for k, v in kwargs.items() if v is not None}
            if query:
                url += "?" + urllib.parse.urlencode(query)
        elif carrier == "body":
            data = json.dumps(kwargs).encode()
        elif carrier is not None:
            data = json.dumps(kwargs.get(carrier, {})).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.admin_token:
            request.add_header(ADMIN_HEADER, self.admin_token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode(errors="replace")
            raise ControlError(error.code, parsed) from None
