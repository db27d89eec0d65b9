"""Segmentation's audit chain: each version of a catalogue product (what may be sold to whom) is
recorded with who made it."""

from sqlalchemy import select

from services.common.audit_chain import verify
from services.segmentation.models import audit_chain
from tests.segmentation.test_api_products import DEPOSIT, create, patch, retire


def test_each_product_version_is_recorded(client, auth, seg_app):
    p = create(client, auth)
    assert patch(client, auth, p["id"], {"name": "Time deposit 2"}).status_code == 200
    assert retire(client, auth, p["id"], role="admin").status_code == 200
    db = seg_app.state.db
    with db.read() as s:
        records = s.execute(select(audit_chain).order_by(audit_chain.c.seq)).mappings().all()
        assert verify(s, audit_chain).intact
    products = [r for r in records if r["action"].startswith("product.")]
    assert [(r["action"], r["actor_role"], r["detail"]["version"]) for r in products] == [
        ("product.created", "admin", 1),
        ("product.changed", "supervisor", 2),
        ("product.retired", "admin", 3),  # in the maker's name; the checker is on approval.approved
    ]
    steps = [(r["action"], r["actor_sub"]) for r in records if r["action"].startswith("approval.")]
    assert steps == [("approval.requested", "maker-1"), ("approval.approved", "checker-1")]
    assert set(DEPOSIT) <= set(records[0]["detail"]["fields"]) and records[1]["detail"]["fields"] == ["name"]
    assert {r["subject"] for r in records} == {p["id"]}
