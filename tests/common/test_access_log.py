"""One access-log line per request: INFO for what people and systems did, DEBUG for a successful
poll of an event feed (consumers poll every second; an idle suite must not fill its log with them)."""

import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.common.metrics import HttpMetrics
from services.common.middleware import RequestContextMiddleware


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/events")
    def events(fail: bool = False) -> dict[str, int]:
        if fail:
            raise RuntimeError("feed unavailable")
        return {"head_position": 0}

    @app.get("/v1/customers")
    def customers() -> dict[str, list[str]]:
        return {"items": []}

    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(CollectorRegistry()))
    return app


def _levels(caplog, path: str) -> list[int]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="access"):
        TestClient(_app(), raise_server_exceptions=False).get(path)
    return [r.levelno for r in caplog.records if r.name == "access"]


def test_feed_poll_logs_at_debug_other_requests_at_info(caplog):
    assert _levels(caplog, "/v1/events") == [logging.DEBUG]
    assert _levels(caplog, "/v1/customers") == [logging.INFO]


def test_failed_feed_poll_still_logs_at_info(caplog):
    assert _levels(caplog, "/v1/events?fail=true") == [logging.INFO]
