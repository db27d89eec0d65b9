"""Every service that follows profile's feed keeps a copy of the organisation tree through its own
profile-feed consumer (the handlers it really runs), and computes a subtree from the copy alone."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from services.common.branches import TreeCache, ancestor_codes, subtree_codes
from services.common.consumer import FeedConsumer
from services.common.db import Database
from services.common.outbox import Event
from tests import dbkit

ROOT = Path(__file__).parents[2]
AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _segmentation(db: Database) -> tuple[FeedConsumer, object]:
    from services.segmentation.config import SegmentationSettings
    from services.segmentation.consumers import FeatureHandlers
    from services.segmentation.models import branch, consumer_cursor

    settings = SegmentationSettings(environment="test", database_url=db.url)
    handlers = FeatureHandlers(settings, lambda: AT).handlers("profile")
    return _consumer(db, consumer_cursor, handlers), branch


def _feedback(db: Database) -> tuple[FeedConsumer, object]:
    from services.feedback.consumers import profile_handlers
    from services.feedback.models import branch, consumer_cursor

    return _consumer(db, consumer_cursor, profile_handlers()), branch


def _loyalty(db: Database) -> tuple[FeedConsumer, object]:
    from services.loyalty.app import create_app
    from services.loyalty.config import LoyaltySettings
    from services.loyalty.consumers import LoyaltyConsumer
    from services.loyalty.models import branch

    feeds = {"profile_feed_url": "", "segmentation_feed_url": "", "feedback_feed_url": ""}
    app = create_app(LoyaltySettings(environment="test", database_url=db.url, **feeds), db=db)
    consumer = LoyaltyConsumer(
        feed="profile", policy=app.state.policy, db=db, client=None, feed_url="", token=lambda: ""
    )
    return consumer, branch


def _consumer(db, cursor_table, handlers) -> FeedConsumer:
    return FeedConsumer(
        name="profile", db=db, cursor_table=cursor_table, handlers=handlers, client=None, feed_url="", token=lambda: ""
    )


def _event(position: int, type: str, code: str, name: str, level: str, parent: str | None, version: int, **extra):
    data = {"code": code, "name": name, "level": level, "parent_code": parent, "status": "open", "version": version}
    return Event(
        position=position,
        event_id=str(uuid.uuid4()),
        type=type,
        occurred_at=AT,
        subject_id=code,
        data=data | extra,
    )


BUILDERS = [("segmentation", _segmentation), ("feedback", _feedback), ("loyalty", _loyalty)]


@pytest.mark.parametrize(("service", "build"), BUILDERS)
def test_each_service_copies_the_tree_from_profiles_feed(tmp_path, service, build):
    url = dbkit.sqlite_url(tmp_path / f"{service}.db")
    # migrated without the tests' organisation (dbkit.migrate seeds it): the feed builds the copy here
    command.upgrade(dbkit.alembic_config(ROOT / "services" / service / "alembic.ini", url), "head")
    db = Database(url)
    try:
        consumer, table = build(db)
        events = [
            _event(1, "branch.created", "HQ0001", "总行", "head_office", None, 1),
            _event(2, "branch.created", "PA01", "甲省分行", "province", "HQ0001", 1),
            _event(3, "branch.created", "PB01", "乙省分行", "province", "HQ0001", 1),
            _event(4, "branch.created", "CA01", "甲市分行", "city", "PA01", 1),
            _event(5, "branch.created", "OA01", "甲营业所", "outlet", "CA01", 1),
            _event(6, "branch.changed", "CA01", "甲市分行", "city", "PB01", 2, changed=["parent_code"]),
            # an older state arriving again (a replay) never moves a branch back
            _event(7, "branch.changed", "CA01", "旧名", "city", "PA01", 1, changed=["name"]),
        ]
        assert consumer.apply(events) == 7
        with db.read() as s:
            rows = {r.code: (r.parent_code, r.version, r.name) for r in s.execute(select(table))}
            assert rows["CA01"] == ("PB01", 2, "甲市分行") and len(rows) == 5
            assert subtree_codes(s, table, "PB01") == {"PB01", "CA01", "OA01"}
            assert subtree_codes(s, table, "PA01") == {"PA01"}
            assert subtree_codes(s, table, "NOPE") == set()
            assert ancestor_codes(s, table, "OA01") == ["CA01", "PB01", "HQ0001"]
            # the in-memory tree that reach checks use answers the same as the queries
            tree = TreeCache(table).get(s)
            for code in ("HQ0001", "PA01", "PB01", "CA01", "OA01", "NOPE"):
                assert tree.subtree(code) == subtree_codes(s, table, code)
            assert tree.within("PB01", "OA01") and tree.within("OA01", "OA01")
            assert not tree.within("PA01", "OA01") and not tree.within("OA01", "CA01")
    finally:
        db.dispose()


def test_a_cached_tree_is_reloaded_after_a_write_in_this_process_or_for_a_code_it_lacks(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "feedback.db")
    command.upgrade(dbkit.alembic_config(ROOT / "services" / "feedback" / "alembic.ini", url), "head")  # no tree
    db = Database(url)
    try:
        consumer, table = _feedback(db)
        consumer.apply([_event(1, "branch.created", "HQ0001", "总行", "head_office", None, 1)])
        cache = TreeCache(table)
        with db.read() as s:
            first = cache.get(s)
        assert cache.cached() is first and first.subtree("HQ0001") == {"HQ0001"}
        # a code the snapshot lacks makes it reload once
        with db.write() as s:
            s.execute(
                table.insert().values(
                    code="PA01",
                    name="甲",
                    level="province",
                    parent_code="HQ0001",
                    status="open",
                    version=1,
                    updated_at=AT,
                )
            )
            s.commit()
        assert cache.cached() is first  # written behind the process's back: still cached (for at most the TTL)
        with db.read() as s:
            assert cache.get(s, "PA01").subtree("HQ0001") == {"HQ0001", "PA01"}
        # a branch event applied in this process marks every cached tree stale at once
        consumer.apply([_event(2, "branch.created", "CA01", "甲市", "city", "PA01", 1)])
        assert cache.cached() is None
        with db.read() as s:
            assert cache.get(s).within("HQ0001", "CA01")
    finally:
        db.dispose()
