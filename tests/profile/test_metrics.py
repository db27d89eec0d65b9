"""Profile's domain metric: the newest position on its event feed, read at each scrape."""

import re

from tests.profile import factories as f


def _head(client) -> float:
    text = client.get("/metrics").text
    found = re.search(r"^profile_feed_head_position (\S+)$", text, re.M)
    assert found, "profile_feed_head_position is not exported"
    return float(found.group(1))


def test_feed_head_metric_follows_the_feed(client, auth):
    before = _head(client)
    f.register(client, auth("staff"))
    feed = client.get("/v1/events", params={"after": 0, "limit": 1}, headers=auth("system")).json()
    assert _head(client) == feed["head_position"] > before
