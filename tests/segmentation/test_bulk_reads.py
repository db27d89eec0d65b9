"""Bulk reads are accounted for (PIPL art. 6): every page of a member list, a contact-target list or a
class's members states its purpose (422 without one) and writes one access-log row with how many
persons it held, with its record in the audit chain."""

from sqlalchemy import select

from services.common.audit_chain import verify
from services.common.personal_data import access_mirror
from services.segmentation.models import audit_chain, personal_data_access
from tests.segmentation.test_api_segments import people  # noqa: F401 - the fixture


def _log(db):
    with db.read() as s:
        return [dict(r._mapping) for r in s.execute(select(personal_data_access).order_by(personal_data_access.c.id))]


def test_each_page_of_a_list_is_logged_with_persons_and_purpose(client, auth, seg_app, people):  # noqa: F811
    rule = {"field": "type", "op": "in", "value": ["individual", "enterprise"]}
    sid = client.post("/v1/segments", json={"name": "all", "rule": rule}, headers=auth("staff")).json()["id"]
    staff = auth("staff", sub="clerk-7")
    first = client.get(f"/v1/segments/{sid}/members", params={"purpose": "analysis", "limit": 2}, headers=staff)
    assert first.status_code == 200 and len(first.json()["items"]) == 2
    params = {"purpose": "analysis", "limit": 2, "cursor": first.json()["next_cursor"]}
    assert len(client.get(f"/v1/segments/{sid}/members", params=params, headers=staff).json()["items"]) == 1
    targets = client.get(f"/v1/segments/{sid}/targets", params={"purpose": "marketing"}, headers=staff)
    assert targets.status_code == 200
    klass = client.get(
        "/v1/segments/classes/customer_type/individual/members",
        params={"purpose": "customer_service"},
        headers=auth("system"),
    )
    assert klass.status_code == 200

    log = _log(seg_app.state.db)
    assert [(r["what"], r["persons"], r["purpose"], r["customer_id"]) for r in log] == [
        (f"segment:{sid}:members", 2, "analysis", None),
        (f"segment:{sid}:members", 1, "analysis", None),
        (f"segment:{sid}:targets", len(targets.json()["items"]), "marketing", None),
        ("class:customer_type:individual:members", len(klass.json()["items"]), "customer_service", None),
    ]
    assert [r["actor_sub"] for r in log[:3]] == ["clerk-7"] * 3 and log[3]["actor_role"] == "system"
    with seg_app.state.db.read() as s:
        assert verify(s, audit_chain, [access_mirror(personal_data_access)]).intact
        actions = [r.action for r in s.execute(select(audit_chain.c.action).order_by(audit_chain.c.seq))]
    assert actions[-4:] == ["personal_data.bulk_read"] * 4


def test_a_list_read_without_a_purpose_is_422_and_not_logged(client, auth, seg_app, people):  # noqa: F811
    rule = {"field": "type", "op": "eq", "value": "individual"}
    sid = client.post("/v1/segments", json={"name": "ind", "rule": rule}, headers=auth("staff")).json()["id"]
    for path in (
        f"/v1/segments/{sid}/members",
        f"/v1/segments/{sid}/targets",
        "/v1/segments/classes/region/urban/members",
    ):
        missing = client.get(path, headers=auth("staff"))
        assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["query", "purpose"], path
        wrong = client.get(path, params={"purpose": "curiosity"}, headers=auth("staff"))
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["query", "purpose"], path
    assert _log(seg_app.state.db) == []
