"""Every service app carries the kit's own limits (services/common/limits.py): here, the body limit of
each of the four, read from its settings (tests/profile/test_service_limits.py tests them in depth)."""

import pytest
from fastapi.testclient import TestClient

from services.feedback.app import create_app as feedback_app
from services.loyalty.app import create_app as loyalty_app
from services.segmentation.app import create_app as segmentation_app
from tests.feedback.conftest import feedback_settings
from tests.loyalty.conftest import loyalty_settings
from tests.segmentation.conftest import segmentation_settings


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda url: loyalty_app(loyalty_settings(url, max_body_bytes=100)), "/v1/loyalty/rewards"),
        (lambda url: segmentation_app(segmentation_settings(url, max_body_bytes=100)), "/v1/segments"),
        (lambda url: feedback_app(feedback_settings(url, max_body_bytes=100)), "/v1/complaints"),
    ],
)
def test_each_service_refuses_a_body_over_its_own_limit(build, path, tmp_path, auth):
    client = TestClient(build(f"sqlite:///{tmp_path / 'x.db'}"))
    resp = client.post(path, content=b"x" * 101, headers={**auth("supervisor"), "content-type": "application/json"})
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"
