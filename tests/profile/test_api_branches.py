"""The organisation tree: reading it (list, subtree, one branch with its ancestors and children), the
admin's edits (open, rename, move, close) with their feed events, the rules that keep it a tree, and
customers refused for an unknown or closed branch."""

import pytest

from tests.profile import factories as f


def _events(client, auth):
    return client.get("/v1/events", params={"after": 0}, headers=auth("system")).json()["items"]


def _open(client, auth, code, level="outlet", parent="BR0001", name=None):
    body = {"code": code, "name": name or f"{code} 营业所", "level": level, "parent_code": parent}
    return client.post("/v1/branches", json=body, headers=auth("admin"))


def _patch(client, auth, code, body, **headers):
    return client.patch(f"/v1/branches/{code}", json=body, headers={**auth("admin"), **headers})


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor", "admin"])
def test_list_branches_as_each_role_pages_by_code(client, auth, role):
    first = client.get("/v1/branches", params={"limit": 3}, headers=auth(role))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [b["code"] for b in page["items"]] == ["BJ0001", "BJ0002", "BR0001"]
    rest = client.get("/v1/branches", params={"cursor": page["next_cursor"], "limit": 200}, headers=auth(role)).json()
    codes = [b["code"] for b in page["items"] + rest["items"]]
    assert codes == sorted(codes) and "HQ0001" in codes and rest["next_cursor"] is None


def test_list_within_a_branch_is_its_subtree(client, auth):
    resp = client.get("/v1/branches", params={"within": "TP0002", "limit": 200}, headers=auth("staff"))
    assert [b["code"] for b in resp.json()["items"]] == ["BR0002", "CT0002", "OT0001", "TP0002"]
    outlets = client.get("/v1/branches", params={"parent_code": "CT0002", "level": "outlet"}, headers=auth("staff"))
    assert [b["code"] for b in outlets.json()["items"]] == ["BR0002", "OT0001"]


def test_list_within_an_unknown_branch_is_404(client, auth):
    resp = client.get("/v1/branches", params={"within": "NOPE01"}, headers=auth("staff"))
    assert (resp.status_code, resp.json()["code"]) == (404, "branch_not_found")


@pytest.mark.parametrize("params", [{"within": "bad code"}, {"level": "village"}, {"cursor": "not-ours"}])
def test_list_with_bad_query_is_422(client, auth, params):
    resp = client.get("/v1/branches", params=params, headers=auth("staff"))
    assert resp.status_code == 422 and resp.headers["content-type"] == "application/problem+json"


def test_read_branch_has_ancestors_and_children(client, auth):
    resp = client.get("/v1/branches/BR0001", headers=auth("customer"))
    assert resp.status_code == 200 and resp.headers["etag"] == '"1"'
    b = resp.json()
    assert (b["level"], b["parent_code"], b["status"]) == ("city", "TP0001", "open")
    assert [a["code"] for a in b["ancestors"]] == ["TP0001", "HQ0001"]
    assert "BJ0002" in [c["code"] for c in b["children"]]


@pytest.mark.parametrize(("code", "status"), [("NOPE01", 404), ("bad", 422)])
def test_read_unknown_or_malformed_branch(client, auth, code, status):
    assert client.get(f"/v1/branches/{code}", headers=auth("staff")).status_code == status


def test_reading_branches_needs_a_token(client):
    assert client.get("/v1/branches").status_code == 401
    assert client.get("/v1/branches/BR0001").status_code == 401


def test_admin_opens_a_branch_and_the_feed_carries_it(client, auth):
    resp = _open(client, auth, "NEW001")
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == "/v1/branches/NEW001"
    created = [e for e in _events(client, auth) if e["type"] == "branch.created"]
    assert [(e["subject_id"], e["data"]) for e in created] == [
        (
            "NEW001",
            {
                "code": "NEW001",
                "name": "NEW001 营业所",
                "level": "outlet",
                "parent_code": "BR0001",
                "status": "open",
                "version": 1,
            },
        )
    ]


@pytest.mark.parametrize("role", ["customer", "staff", "supervisor", "system"])
def test_only_admin_edits_the_tree(client, auth, role):
    body = {"code": "NEW002", "name": "x", "level": "outlet", "parent_code": "BR0001"}
    assert client.post("/v1/branches", json=body, headers=auth(role)).status_code == 403
    assert client.patch("/v1/branches/BR0001", json={"name": "x"}, headers=auth(role)).status_code == 403


def test_opening_a_code_twice_is_409(client, auth):
    resp = _open(client, auth, "BJ0001")
    assert (resp.status_code, resp.json()["code"]) == (409, "branch_exists")


@pytest.mark.parametrize(
    ("level", "parent", "field", "kind"),
    [
        ("outlet", None, "parent_code", "missing_for_level"),
        ("outlet", "NOPE01", "parent_code", "unknown_branch"),
        ("city", "BJ0001", "parent_code", "level_order"),  # a city under an outlet
        ("province", "TP0001", "parent_code", "level_order"),  # a province under a province
        ("head_office", None, "level", "one_head_office"),
        ("head_office", "HQ0001", "parent_code", "not_for_level"),
    ],
)
def test_open_a_branch_out_of_place_is_422_naming_the_field(client, auth, level, parent, field, kind):
    resp = _open(client, auth, "NEW003", level=level, parent=parent)
    assert resp.status_code == 422, resp.text
    assert [(e["loc"], e["type"]) for e in resp.json()["errors"]] == [(["body", field], kind)]


def test_open_with_unknown_field_is_422(client, auth):
    body = {"code": "NEW004", "name": "x", "level": "outlet", "parent_code": "BR0001", "colour": "red"}
    assert client.post("/v1/branches", json=body, headers=auth("admin")).status_code == 422


def test_rename_and_move_take_the_subtree_along(client, auth):
    assert _patch(client, auth, "CT0002", {"name": "新市分行"}, **{"If-Match": '"1"'}).json()["version"] == 2
    moved = _patch(client, auth, "CT0002", {"parent_code": "TP0001"})
    assert moved.status_code == 200 and moved.json()["parent_code"] == "TP0001"
    inside = client.get("/v1/branches", params={"within": "TP0001", "limit": 200}, headers=auth("staff")).json()
    assert {"CT0002", "BR0002", "OT0001"} <= {b["code"] for b in inside["items"]}
    changed = [e["data"] for e in _events(client, auth) if e["type"] == "branch.changed"]
    assert [(d["changed"], d["name"], d["parent_code"], d["version"]) for d in changed] == [
        (["name"], "新市分行", "TP0002", 2),
        (["parent_code"], "新市分行", "TP0001", 3),
    ]


@pytest.mark.parametrize("target", ["TP0002", "CT0002", "OT0001"])
def test_moving_a_branch_under_itself_or_its_subtree_is_409_branch_cycle(client, auth, target):
    resp = _patch(client, auth, "TP0002", {"parent_code": target})
    assert (resp.status_code, resp.json()["code"]) == (409, "branch_cycle")
    assert target in resp.json()["detail"]


def test_moving_under_a_lower_level_or_the_head_office_anywhere_is_422(client, auth):
    assert _patch(client, auth, "CT0002", {"parent_code": "BJ0001"}).status_code == 422
    assert _patch(client, auth, "HQ0001", {"parent_code": "TP0001"}).status_code in (409, 422)


def test_close_needs_an_empty_subtree(client, auth):
    busy = _patch(client, auth, "CT0002", {"status": "closed"})
    assert (busy.status_code, busy.json()["code"]) == (409, "branch_in_use")
    f.register(client, auth("admin"), f.individual(branch_code="OT0001"))
    assert _patch(client, auth, "BR0002", {"status": "closed"}).status_code == 200
    in_use = _patch(client, auth, "OT0001", {"status": "closed"})
    assert (in_use.status_code, in_use.json()["code"]) == (409, "branch_in_use")
    again = _patch(client, auth, "BR0002", {"name": "x"})
    assert (again.status_code, again.json()["code"]) == (409, "branch_closed")


def test_patch_errors(client, auth):
    assert _patch(client, auth, "NOPE01", {"name": "x"}).status_code == 404
    assert _patch(client, auth, "BR0001", {"name": "x"}, **{"If-Match": '"7"'}).status_code == 412
    assert _patch(client, auth, "BR0001", {"name": None}).status_code == 422
    assert _patch(client, auth, "BR0001", {"status": "open"}).status_code == 422


def test_patch_without_change_keeps_the_version_and_records_nothing(client, auth):
    resp = _patch(client, auth, "BR0001", {"name": "测试市分行"})
    assert resp.status_code == 200 and resp.json()["version"] == 1
    assert [e for e in _events(client, auth) if e["type"].startswith("branch.")] == []


@pytest.mark.parametrize(("code", "kind"), [("NOPE01", "unknown_branch"), ("BR0002", "branch_closed")])
def test_register_with_an_unknown_or_closed_branch_is_422_naming_branch_code(client, auth, code, kind):
    if kind == "branch_closed":
        assert _patch(client, auth, "BR0002", {"status": "closed"}).status_code == 200
    resp = client.post("/v1/customers", json=f.individual(branch_code=code), headers=auth("staff"))
    assert resp.status_code == 422, resp.text
    assert [(e["loc"], e["type"]) for e in resp.json()["errors"]] == [(["body", "branch_code"], kind)]


def test_moving_a_customer_to_an_unknown_branch_is_422(client, auth):
    c = f.register(client, auth("staff"))
    resp = client.patch(
        f"/v1/customers/{c['id']}", json={"branch_code": "NOPE01"}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "branch_code"]
