"""Segmentation refuses control characters in rule values, names and path values (422 naming where)."""


def _locs(resp) -> list:
    assert resp.status_code == 422, resp.text
    return [e["loc"] for e in resp.json()["errors"]]


def test_a_rule_value_with_nul_is_422_naming_the_node(client, auth):
    rule = {"all": [{"field": "province", "op": "eq", "value": "北京\u0000"}]}
    resp = client.post("/v1/segments", json={"name": "京", "rule": rule}, headers=auth("supervisor"))
    assert _locs(resp) == [["body", "rule", "all", 0, "value"]]


def test_a_segment_name_made_only_of_format_characters_is_refused(client, auth):
    rule = {"field": "province", "op": "eq", "value": "北京"}
    resp = client.post("/v1/segments", json={"name": "\u200b\u200b", "rule": rule}, headers=auth("supervisor"))
    assert _locs(resp) == [["body", "name"]]


def test_a_path_value_with_a_control_character_is_422(client, auth):
    resp = client.get("/v1/segments/classes/region/urban%00/members?purpose=analysis", headers=auth("staff"))
    assert _locs(resp) == [["path", "class_"]]
