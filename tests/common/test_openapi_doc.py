"""Every service's own OpenAPI document: operation ids are the route functions' names (short, stable,
unique across the suite's client paths), and every error is documented as a Problem in application/problem+json only."""

import re
from collections import Counter

import pytest
from fastapi import FastAPI

from gateway.app import create_app as gateway_app
from gateway.config import GatewaySettings
from services.common.openapi_doc import METHODS, problems_only
from services.feedback.app import create_app as feedback_app
from services.loyalty.app import create_app as loyalty_app
from services.profile.app import create_app as profile_app
from services.segmentation.app import create_app as segmentation_app
from tests.feedback.conftest import feedback_settings
from tests.loyalty.conftest import loyalty_settings
from tests.profile.conftest import profile_settings
from tests.segmentation.conftest import segmentation_settings

VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> dict[str, FastAPI]:
    folder = tmp_path_factory.mktemp("docs")
    return {
        "profile": profile_app(profile_settings(f"sqlite:///{folder / 'p.db'}")),
        "segmentation": segmentation_app(segmentation_settings(f"sqlite:///{folder / 's.db'}")),
        "feedback": feedback_app(feedback_settings(f"sqlite:///{folder / 'f.db'}")),
        "loyalty": loyalty_app(loyalty_settings(f"sqlite:///{folder / 'l.db'}")),
        "gateway": gateway_app(GatewaySettings(environment="test")),
    }


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


@pytest.mark.parametrize("service", ["profile", "segmentation", "feedback", "loyalty", "gateway"])
def test_errors_are_problems_only_and_ids_are_function_names(apps, service):
    doc = apps[service].openapi()
    for path, method, op in _operations(doc):
        assert re.fullmatch(r"[a-z][a-z0-9_]{1,40}", op["operationId"]) and "_v1_" not in op["operationId"], path
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and not path.startswith("/health"):  # health answers its document
                assert response["content"] == PROBLEM, (service, path, method, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_operation_ids_are_unique_across_the_suite(apps):
    """Across every client path (each process's own health and event feed are not client paths)."""
    ids = Counter(
        op["operationId"]
        for app in apps.values()
        for path, _, op in _operations(app.openapi())
        if not path.startswith(("/health/", "/v1/events"))
    )
    assert [i for i, n in ids.items() if n > 1] == []


def test_problems_only_replaces_fastapis_validation_error_and_drops_what_is_unused():
    doc = {
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "404": {"content": {**PROBLEM, "application/json": {"schema": {}}}},
                        "422": {"content": {"application/json": {"schema": {"$ref": VALIDATION_ERROR}}}},
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Problem": {},
                "HTTPValidationError": {"properties": {"detail": {"$ref": "#/components/schemas/ValidationError"}}},
                "ValidationError": {},
            }
        },
    }
    out = problems_only(doc)
    assert out["paths"]["/a"]["get"]["responses"] == {"404": {"content": PROBLEM}, "422": {"content": PROBLEM}}
    assert out["components"]["schemas"] == {"Problem": {}}
