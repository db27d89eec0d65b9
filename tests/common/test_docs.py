"""Every service's own /docs renders with local assets: no CDN is named, and each asset is served."""

import re

import pytest
from fastapi.testclient import TestClient

from services.loyalty.app import create_app
from services.loyalty.config import LoyaltySettings


@pytest.fixture
def client(tmp_path):
    settings = LoyaltySettings(
        environment="test",
        database_url=f"sqlite:///{tmp_path}/l.db",
        profile_feed_url="",
        segmentation_feed_url="",
        feedback_feed_url="",
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_service_docs_load_swagger_ui_from_the_service_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    assert "/openapi.json" in page.text
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 1000, src


def test_unknown_asset_is_a_404_problem(client):
    resp = client.get("/docs/assets/../../config.py")
    assert resp.status_code == 404
    assert client.get("/docs/assets/nope.js").json()["code"] == "route_not_found"
