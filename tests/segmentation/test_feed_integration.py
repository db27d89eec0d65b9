"""The segmentation consumers against the real profile feed: events written by profile's API are polled
over HTTP, applied exactly once and classified."""

from fastapi.testclient import TestClient

from services.common.db import Database
from services.profile.app import create_app as create_profile
from services.profile.config import ProfileSettings
from services.segmentation.app import build_consumers
from tests import dbkit
from tests.profile import factories as pf
from tests.segmentation.conftest import ALEMBIC_INI, segmentation_settings
from tests.segmentation.factories import Clock

PROFILE_INI = ALEMBIC_INI.parents[1] / "profile" / "alembic.ini"


def test_consumer_classifies_customers_registered_through_profile(tmp_path, auth):
    from tests.segmentation.conftest import NOW

    purl = dbkit.sqlite_url(tmp_path / "profile.db")
    dbkit.migrate(PROFILE_INI, purl)
    surl = dbkit.sqlite_url(tmp_path / "segmentation.db")
    dbkit.migrate(ALEMBIC_INI, surl)
    profile = create_profile(ProfileSettings(environment="test", database_url=purl, log_level="WARNING"))
    db = Database(surl)
    with TestClient(profile) as pc:
        ids = []
        for region in ("rural", "urban"):
            r = pc.post("/v1/customers", json=pf.individual(region_type=region), headers=auth("staff"))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        settings = segmentation_settings(surl, profile_feed_url="/v1/events", feed_batch_size=1)
        consumer = build_consumers(settings, db, Clock(NOW), client=pc)["profile"]
        applied = 0
        while (n := consumer.poll_once()) > 0:
            applied += n
        assert applied >= 2 and consumer.lag() == 0
        assert consumer.poll_once() == 0  # nothing is applied twice
    from services.segmentation.service.memberships import require_features

    rural = require_features(db, customer_id=ids[0])
    classes = (rural.class_customer_type, rural.class_region, rural.class_behaviour)
    assert classes == ("individual", "rural", "potential")
    assert require_features(db, customer_id=ids[1]).class_region == "urban"
    db.dispose()
