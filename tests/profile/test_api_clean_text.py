"""Profile refuses control characters in every field, names with format characters, and stores names
NFKC-normalised so that a search typed either way finds them (services/common/text.py)."""

from tests.profile import factories as f


def _locs(resp) -> list:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return [e["loc"] for e in resp.json()["errors"]]


def test_nul_in_free_text_is_422_naming_the_field_and_nothing_is_written(client, auth):
    staff = auth("staff")
    cid = f.register(client, staff)["id"]
    body = {"channel": "phone", "direction": "outbound", "topic": "到期", "summary": "客户\u0000电话13800138000"}
    assert _locs(client.post(f"/v1/customers/{cid}/interactions", json=body, headers=staff)) == [["body", "summary"]]
    assert client.get(f"/v1/customers/{cid}/interactions", headers=staff).json()["items"] == []


def test_names_with_format_characters_are_refused(client, auth):
    for bad in ("\u200b\u200b", "\u202egnp.exe王"):
        resp = client.post("/v1/customers", json=f.individual(name=bad), headers=auth("staff"))
        assert _locs(resp) == [["body", "name"]]


def test_full_width_names_are_stored_normalised_and_found_either_way(client, auth):
    staff = auth("staff")
    created = f.register(client, staff, f.enterprise(name="ＡＢＣ科技有限公司"))
    assert created["name"] == "ABC科技有限公司"
    for typed in ("ABC科技", "ＡＢＣ科技"):
        found = client.get("/v1/customers", params={"name_prefix": typed}, headers=staff).json()["items"]
        assert [c["id"] for c in found] == [created["id"]]


def test_control_characters_in_query_and_path_are_422(client, auth):
    staff = auth("staff")
    assert _locs(client.get("/v1/customers", params={"name_prefix": "王\u0000"}, headers=staff)) == [
        ["query", "name_prefix"]
    ]
    assert _locs(client.get("/v1/customers/%00", headers=staff)) == [["path", "customer_id"]]
