"""The control plane under the reserved ``/_mock`` prefix (moto's ``/moto-api``).

:class:`Controller` holds every verb once, JSON in and JSON out; the blueprint maps routes to it
and :mod:`youcam_mock.control`'s in-process twin calls it directly, so a scenario scripted over
HTTP (curl, any language) and one scripted in Python use the same names and semantics.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from youcam_mock.api.errors import error_response
from youcam_mock.api.vendor import state
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.errors import ApiError
from youcam_mock.core.lifecycle import Progression
from youcam_mock.core.models import KeyState
from youcam_mock.core.ratelimit import RatePolicy

CONTROL_PREFIX = "/_mock"
ADMIN_HEADER = "X-Mock-Admin-Token"


class Controller:
    """Every control verb, JSON-able in and out.  ``mock`` is the app's MockState."""

    def __init__(self, mock: Any) -> None:
        self.mock = mock

    @property
    def backend(self) -> Any:
        return self.mock.backend

    # -- state
    def health(self) -> dict[str, Any]:
        return {"status": "ok", "store": self.backend.store.stats()}

    def reset(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Back to the startup state and settings, plus ``config`` changes (MockConfig names)."""
        base = self.mock.base_config
        try:
            new_config = base.with_changes(**config) if config else base
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", str(error)) from None
        self.mock.config = new_config
        self.backend.reset(new_config)  # resets the store: webhook endpoints and deliveries too
        if self.mock.webhooks is not None:
            self.mock.webhooks.reset()
            for endpoint in new_config.webhooks:
                self.mock.webhooks.register(
                    endpoint["url"], secret=endpoint.get("secret"), keys=endpoint.get("keys", ())
                )
        return {"reset": True, "config": new_config.to_dict()}

    def get_config(self) -> dict[str, Any]:
        return dict(self.mock.config.to_dict())

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            new_config = self.mock.config.with_changes(**changes)
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", str(error)) from None
        self.mock.config = new_config
        self.backend.config = new_config
        if "rate_limit" in changes:
            self.backend.rate_policy = RatePolicy.parse(new_config.rate_limit)
        return dict(new_config.to_dict())

    def sweep(self) -> dict[str, Any]:
        return {"removed": self.backend.sweep()}

    # -- clock
    def clock(self) -> dict[str, Any]:
        clock = self.mock.clock
        return {
            "now": clock.now(),
            "manual": isinstance(clock, ManualClock),
            "speed": clock.speed if isinstance(clock, ManualClock) else 1.0,
            "next_event": self._next_event(),
        }

    def move_clock(
        self,
        advance: float | None = None,
        set: float | None = None,
        next_event: bool = False,
        speed: float | None = None,
    ) -> dict[str, Any]:
        clock = self.mock.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(
                "OperationNotSupport", "the clock is the system clock (serve --manual-clock)"
            )
        try:
            if speed is not None:
                clock.set_speed(float(speed))
            if advance is not None:
                clock.advance(float(advance))
            if set is not None:
                clock.set(float(set))
            if next_event:
                upcoming = self._next_event()
                if upcoming is not None:
                    clock.set(upcoming)
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", str(error)) from None
        self.tick()
        return self.clock()

    def tick(self) -> None:
        """Let time-driven work happen now: finish due tasks, deliver due webhooks."""
        self.backend.advance_tasks()
        if self.mock.webhooks is not None:
            self.mock.webhooks.run_due()

    def _next_event(self) -> float | None:
        times = [self.backend.next_event_time()]
        if self.mock.webhooks is not None:
            times.append(self.mock.webhooks.next_due())
        future = [t for t in times if t is not None]
        return min(future) if future else None

    # -- keys and units
    def keys(self) -> list[dict[str, Any]]:
        return [_key_dict(k) for k in self.backend.store.keys()]  # noqa: SIM118 (API keys)

    def add_key(
        self, key: str, state: str = "active", units: float | None = None
    ) -> dict[str, Any]:
        return _key_dict(self.backend.add_key(key, state=_state(state), units=units))

    def set_key_state(self, key: str, state: str) -> dict[str, Any]:
        return _key_dict(self.backend.set_key_state(key, _state(state)))

    def deactivate_key(self, key: str) -> dict[str, Any]:
        return self.set_key_state(key, "inactive")

    def expire_key(self, key: str) -> dict[str, Any]:
        return self.set_key_state(key, "expired")

    def set_units(self, key: str, units: float) -> dict[str, Any]:
        return _key_dict(self.backend.set_units(key, float(units)))

    def units(self, key: str) -> dict[str, Any]:
        record = self.backend.store.get_key(key)
        if record is None:
            raise ApiError("InvalidParameters", f"no such key {key}")
        return _key_dict(record)

    # -- scenario rules and progression
    def add_rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        created = self.backend.add_rule(rule)
        feature = created.match.feature
        code = created.action.engine_error
        if feature and code and self.mock.config.engine_codes != "seed":
            specs = [
                s for s in self.mock.contract.features.values() if feature in (s.feature, s.key)
            ]
            if not specs:
                self.backend.remove_rule(created.rule_id)
                raise ApiError("InvalidParameters", f"no feature {feature!r}")
            if any(code not in s.engine_error_codes for s in specs):
                self.backend.remove_rule(created.rule_id)
                raise ApiError("InvalidParameters", f"{feature} cannot end with {code}")
        return dict(created.to_dict())

    def rules(self) -> list[dict[str, Any]]:
        return [rule.to_dict() for rule in self.backend.rules()]

    def remove_rule(self, rule_id: str) -> dict[str, Any]:
        self.backend.remove_rule(rule_id)
        return {"removed": rule_id}

    def clear_rules(self) -> dict[str, Any]:
        self.backend.store.clear_rules()
        return {"removed": "all"}

    def set_progression(
        self, progression: dict[str, Any], feature: str | None = None
    ) -> dict[str, Any]:
        try:
            policy = Progression.from_dict(progression)
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", str(error)) from None
        self.backend.set_progression(feature, policy)
        return self.progressions()

    def progressions(self) -> dict[str, Any]:
        return {
            "default": self.backend.config.progression.to_dict(),
            "features": self.backend.store.progressions(),
        }

    # -- journal
    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        try:
            return [entry.to_dict() for entry in self.backend.journal(**filters)]
        except (TypeError, ValueError) as error:
            raise ApiError("InvalidParameters", f"journal filter: {error}") from None

    # -- webhooks
    def add_webhook(
        self, url: str, secret: str | None = None, keys: list[str] | None = None
    ) -> dict[str, Any]:
        endpoint = self._webhooks().register(url, secret=secret, keys=keys or ())
        return dict(endpoint.to_dict(reveal_secret=True))

    def webhooks(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self._webhooks().endpoints()]

    def remove_webhook(self, endpoint_id: str) -> dict[str, Any]:
        self._webhooks().remove(endpoint_id)
        return {"removed": endpoint_id}

    def deliveries(self) -> list[dict[str, Any]]:
        return [
            {
                "webhook_id": d.delivery_id,
                "endpoint_id": d.endpoint_id,
                "task_id": d.task_id,
                "attempts": d.attempts,
                "status": d.status,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "next_attempt_at": d.next_attempt_at,
            }
            for d in self._webhooks().deliveries()
        ]

    def _webhooks(self) -> Any:
        if self.mock.webhooks is None:
            raise ApiError("OperationNotSupport", "webhooks are not enabled")
        return self.mock.webhooks


def _state(text: str) -> KeyState:
    try:
        return KeyState(text)
    except ValueError:
        raise ApiError("InvalidParameters", "state is active, inactive or expired") from None


def _key_dict(record: Any) -> dict[str, Any]:
    return {"key": record.key, "state": record.state.value, "units": record.units}


# ---------------------------------------------------------------------- HTTP routes

control = Blueprint("_mock", __name__, url_prefix=CONTROL_PREFIX)


@control.before_request
def _admin_only() -> Response | None:
    token = state().config.admin_token
    if token is None:
        return None
    presented = request.headers.get(ADMIN_HEADER, "")
    if not hmac.compare_digest(presented.encode(), token.encode()):
        return error_response(ApiError("InvalidApiKey", f"the control API needs {ADMIN_HEADER}"))
    return None


@control.errorhandler(ApiError)
def _render(error: ApiError) -> Response:
    return error_response(error)


def _controller() -> Controller:
    controller: Controller = state().controller
    return controller


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise ApiError("InvalidParameters", "the body is not JSON")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError("InvalidParameters", "the body must be a JSON object")
    return body


#: verb -> (HTTP method, path under /_mock, where the arguments travel).  The blueprint and the
#: HTTP twin (youcam_mock.control.HttpControl) are both built from this one table.
ROUTES: dict[str, tuple[str, str, str | None]] = {
    "health": ("GET", "/health", None),
    "reset": ("POST", "/reset", "body"),
    "get_config": ("GET", "/config", None),
    "configure": ("PATCH", "/config", "changes"),
    "sweep": ("POST", "/sweep", None),
    "clock": ("GET", "/clock", None),
    "move_clock": ("POST", "/clock", "body"),
    "keys": ("GET", "/keys", None),
    "add_key": ("POST", "/keys", "body"),
    "deactivate_key": ("POST", "/keys/<path:key>/deactivate", None),
    "expire_key": ("POST", "/keys/<path:key>/expire", None),
    "set_key_state": ("POST", "/keys/<path:key>/state", "body"),
    "units": ("GET", "/units/<path:key>", None),
    "set_units": ("PUT", "/units/<path:key>", "body"),
    "rules": ("GET", "/rules", None),
    "add_rule": ("POST", "/rules", "rule"),
    "remove_rule": ("DELETE", "/rules/<rule_id>", None),
    "clear_rules": ("DELETE", "/rules", None),
    "progressions": ("GET", "/progression", None),
    "set_progression": ("PUT", "/progression", "body"),
    "journal": ("GET", "/journal", "query"),
    "webhooks": ("GET", "/webhooks", None),
    "add_webhook": ("POST", "/webhooks", "body"),
    "remove_webhook": ("DELETE", "/webhooks/<endpoint_id>", None),
    "deliveries": ("GET", "/webhooks/deliveries", None),
}


def _route(verb: str, carrier: str | None) -> Callable[..., Response]:
    def view(**path_args: Any) -> Response:
        kwargs: dict[str, Any] = dict(path_args)
        if carrier == "body":
            kwargs.update(_body())
        elif carrier is not None and carrier != "query":
            kwargs[carrier] = _body()
        elif carrier == "query":
            kwargs.update(request.args.to_dict())
        method = getattr(_controller(), verb)
        try:
            return jsonify(method(**kwargs))
        except TypeError as error:  # unknown or missing argument names
            raise ApiError("InvalidParameters", str(error)) from None
        except ValueError as error:
            raise ApiError("InvalidParameters", str(error)) from None

    view.__name__ = verb
    return view


for _verb, (_method, _path, _carrier) in ROUTES.items():
    control.add_url_rule(
        _path, endpoint=_verb, view_func=_route(_verb, _carrier), methods=[_method]
    )
