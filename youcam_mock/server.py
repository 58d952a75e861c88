"""``youcam-mock serve``: the emulator on a real socket, and the same server for tests.

:class:`ThreadedMockServer` runs werkzeug's threaded WSGI server in a background thread
(pytest-httpserver's pattern); ``main`` is the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from youcam_mock.app import create_app
from youcam_mock.core.clock import Clock, ManualClock, SystemClock
from youcam_mock.core.config import MockConfig
from youcam_mock.core.ratelimit import RatePolicy


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Request lines go to the journal, not stderr."""


class ThreadedMockServer:
    """A live emulator on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedMockServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="youcam-mock", daemon=True
        )
        self._thread.start()
        self.start_ticker()
        return self

    def start_ticker(self, interval_s: float = 0.05) -> None:
        """Time-driven work off the request threads: tasks finishing by clock time, webhook
        deliveries and retries, retention sweeps.  Due-ness is judged by the emulator's clock."""
        controller = self.app.extensions["youcam_mock"].controller

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    controller.tick()
                    controller.backend.maybe_sweep()
                except Exception:  # keep ticking; the error is logged, not fatal
                    self.app.logger.exception("youcam-mock ticker")

        self._ticker = threading.Thread(target=loop, name="youcam-mock-ticker", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._ticker is not None:
            self._ticker.join(timeout=5)

    def __enter__(self) -> ThreadedMockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="youcam-mock", description="Offline YouCam AI API emulator"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument(
        "--api-key", action="append", default=None, help="repeatable: one per tenant"
    )
    serve.add_argument("--config", help="JSON file of settings (see README)")
    serve.add_argument("--seed", type=int, default=None)
    serve.add_argument("--retention", choices=["seed", "vendor"], default=None)
    serve.add_argument(
        "--manual-clock", action="store_true", help="time moves only via the control API"
    )
    serve.add_argument(
        "--public-url", default=None, help="base URL written into upload/result links"
    )
    serve.add_argument(
        "--rate-limit",
        default=None,
        help="off | vendor (5/s and 250/300s per IP and per key) | N/SECONDS[,N/SECONDS...]; "
        "default: the config file's or YOUCAM_MOCK_RATE_LIMIT's value, else vendor",
    )
    serve.add_argument("--retry-after", action="store_true", help="add Retry-After to 429s")
    serve.add_argument("--admin-token", default=None, help="require X-Mock-Admin-Token on /_mock")
    serve.add_argument(
        "--webhook", action="append", default=None, help="URL to POST task completions to"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> MockConfig:
    config = MockConfig.from_file(args.config) if args.config else MockConfig.from_env()
    changes: dict[str, object] = {}
    if args.api_key:
        changes["api_keys"] = tuple(args.api_key)
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.retention:
        changes["retention"] = args.retention
    if args.public_url:
        changes["public_base_url"] = args.public_url
    if args.rate_limit:
        RatePolicy.parse(args.rate_limit)  # fail fast on a bad value
        changes["rate_limit"] = args.rate_limit
    elif not _sets_rate_limit(args.config):
        changes["rate_limit"] = "vendor"  # serving for integrators: the vendor's limits
    if args.retry_after:
        changes["retry_after_header"] = True
    if args.admin_token:
        changes["admin_token"] = args.admin_token
    if args.webhook:
        changes["webhooks"] = tuple({"url": url} for url in args.webhook)
    return config.with_changes(**changes) if changes else config


def _sets_rate_limit(config_path: str | None) -> bool:
    if config_path:
        return "rate_limit" in json.loads(Path(config_path).read_text(encoding="utf-8"))
    return "YOUCAM_MOCK_RATE_LIMIT" in os.environ


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    clock: Clock = ManualClock() if args.manual_clock else SystemClock()
    app = create_app(config, clock=clock)
    server = ThreadedMockServer(app, args.host, args.port)
    print(f"youcam-mock serving on {server.url}", flush=True)
    for key in config.api_keys:
        print(f"api key: {key}", flush=True)
    print(f"rate limit: {config.rate_limit}; control API: {server.url}/_mock", flush=True)
    for endpoint in app.extensions["youcam_mock"].webhooks.endpoints():
        print(f"webhook: {endpoint.url} secret {endpoint.secret}", flush=True)
    print(f"ready in {time.perf_counter() - started:.2f}s", flush=True)
    server.start_ticker()
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._stop.set()
        server._server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
